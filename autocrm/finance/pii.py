"""The applicant's questionnaire as a user may see it.

Identity-document data and addresses are shown in full only to users with
``finance.view_credit_pii`` (the sales managers who fill questionnaires in, and lawyers);
everybody else sees them masked. Every reading in full writes a PiiAccess row (who, when,
which application, which fields, from the web or the API), committed at once (requests
are not wrapped in a transaction), so the log survives a request that fails afterwards.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from autocrm.core.crypto import mask
from autocrm.finance.models import CreditApplicant, CreditApplication, PiiAccess

PII_PERMISSION = "finance.view_credit_pii"

# Encrypted at rest, masked for users without the permission, logged when read.
SENSITIVE_FIELDS: tuple[str, ...] = (
    "birth_place",
    "passport_number",
    "passport_issued_by",
    "passport_division_code",
    "registration_address",
    "residence_address",
)
# Personal but not secret enough to hide from colleagues who work the order.
PLAIN_FIELDS: tuple[str, ...] = (
    "last_name",
    "first_name",
    "patronymic",
    "birth_date",
    "passport_issued_on",
    "phone",
    "email",
    "employer",
    "position",
    "employment_months",
    "monthly_income",
    "marital_status",
    "dependants",
    "consent_personal_data",
    "consent_credit_history",
    "consented_at",
)
QUESTIONNAIRE_FIELDS = PLAIN_FIELDS + SENSITIVE_FIELDS


def may_read_pii(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.has_perm(PII_PERMISSION))


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def _masked(applicant: CreditApplicant, name: str) -> str:
    if name == "passport_number" and applicant.passport_last_digits:
        # The plain last digits keep the shape "•••• ••3456" without decrypting anything.
        return "•••• ••" + applicant.passport_last_digits
    value = getattr(applicant, name)
    if not value:
        return ""
    if name in {"registration_address", "residence_address", "birth_place", "passport_issued_by"}:
        return "•••"
    return mask(value, visible=2)


def questionnaire_view(
    user: Any, application: CreditApplication, *, channel: str
) -> tuple[dict[str, Any] | None, bool]:
    """The questionnaire as ``user`` may see it and whether it is masked. ``None`` when the
    application has no questionnaire yet. A reading in full is logged."""
    applicant = CreditApplicant.objects.filter(application=application).first()
    if applicant is None:
        return None, not may_read_pii(user)
    data = {name: _plain(getattr(applicant, name)) for name in PLAIN_FIELDS}
    if may_read_pii(user):
        data |= {name: getattr(applicant, name) for name in SENSITIVE_FIELDS}
        pii_access_log(user=user, application=application, channel=channel)
        return data, False
    data |= {name: _masked(applicant, name) for name in SENSITIVE_FIELDS}
    return data, True


def pii_access_log(
    *, user: Any, application: CreditApplication, channel: str, fields: tuple[str, ...] = ()
) -> PiiAccess:
    return PiiAccess.objects.create(
        application=application,
        user=user,
        channel=channel,
        fields=list(fields or SENSITIVE_FIELDS),
    )
