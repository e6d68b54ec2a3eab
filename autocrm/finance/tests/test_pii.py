"""The applicant's personal data: encrypted in the database (read back through the raw
column), key rotation over stored rows, and who sees the questionnaire in full (logged,
one PiiAccess row per reading) and who sees it masked (not logged)."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from autocrm.accounts.tests.factories import UserFactory
from autocrm.core.crypto import reencrypt
from autocrm.finance.credit_services import credit_application_create, credit_questionnaire_save
from autocrm.finance.models import (
    BrokerConnection,
    CreditApplicant,
    CreditApplication,
    PiiAccess,
)
from autocrm.finance.pii import SENSITIVE_FIELDS, questionnaire_view
from autocrm.finance.tests.credit_factories import (
    API_KEY,
    CALLBACK_SECRET,
    QUESTIONNAIRE,
    CreditWorld,
    credit_world,
)

pytestmark = pytest.mark.django_db

ENCRYPTED_COLUMNS = (
    "birth_place",
    "passport_number",
    "passport_issued_by",
    "passport_division_code",
    "registration_address",
    "residence_address",
)


def new_key() -> str:
    return Fernet.generate_key().decode()


def application_with_questionnaire(cw: CreditWorld, **overrides: Any) -> CreditApplication:
    application = credit_application_create(
        actor=cw.world.manager,
        order=cw.world.order(),
        rate=Decimal("14.30"),
        down_payment=Decimal("279900"),
        term_months=36,
    )
    return credit_questionnaire_save(
        actor=cw.world.manager, application=application, data={**QUESTIONNAIRE, **overrides}
    )


def raw_columns(application: CreditApplication) -> dict[str, str]:
    columns = ", ".join((*ENCRYPTED_COLUMNS, "passport_last_digits"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM finance_creditapplicant WHERE application_id = %s",  # noqa: S608
            [application.pk],
        )
        row = cursor.fetchone()
    return dict(zip((*ENCRYPTED_COLUMNS, "passport_last_digits"), row, strict=True))


def test_the_questionnaires_secrets_are_encrypted_in_the_database(settings: Any) -> None:
    settings.PII_ENCRYPTION_KEYS = [new_key()]
    cw = credit_world()
    application = application_with_questionnaire(cw)

    raw = raw_columns(application)
    for name in ENCRYPTED_COLUMNS:
        assert raw[name].startswith("fernet:"), name
        assert QUESTIONNAIRE[name] not in raw[name], name
    assert "123456" not in raw["passport_number"]
    assert "4510" not in raw["passport_number"]
    assert "Ленина" not in raw["registration_address"]
    assert raw["passport_last_digits"] == "3456"  # plain, for look-ups and masking

    applicant = CreditApplicant.objects.get(application=application)
    for name in ENCRYPTED_COLUMNS:
        assert getattr(applicant, name) == QUESTIONNAIRE[name], name


def test_the_brokers_secrets_are_encrypted_in_the_database(settings: Any) -> None:
    settings.PII_ENCRYPTION_KEYS = [new_key()]
    broker = credit_world().connection()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT api_key, callback_secret FROM finance_brokerconnection WHERE id = %s",
            [broker.pk],
        )
        api_key, secret = cursor.fetchone()
    assert api_key.startswith("fernet:")
    assert API_KEY not in api_key
    assert secret.startswith("fernet:")
    assert CALLBACK_SECRET not in secret
    fresh = BrokerConnection.objects.get(pk=broker.pk)
    assert (fresh.api_key, fresh.callback_secret) == (API_KEY, CALLBACK_SECRET)


def test_rotating_keys_over_stored_rows(settings: Any) -> None:
    old, new = new_key(), new_key()
    settings.PII_ENCRYPTION_KEYS = [old]
    cw = credit_world()
    application = application_with_questionnaire(cw)
    before = raw_columns(application)

    settings.PII_ENCRYPTION_KEYS = [new, old]
    assert CreditApplicant.objects.get(application=application).passport_number == "4510 123456"
    # Re-encrypt every stored value under the new key (what a rotation command does).
    with connection.cursor() as cursor:
        for name in ENCRYPTED_COLUMNS:
            cursor.execute(
                f"UPDATE finance_creditapplicant SET {name} = %s WHERE application_id = %s",  # noqa: S608
                [reencrypt(before[name]), application.pk],
            )
    after = raw_columns(application)
    assert all(after[name] != before[name] for name in ENCRYPTED_COLUMNS)

    settings.PII_ENCRYPTION_KEYS = [new]
    applicant = CreditApplicant.objects.get(application=application)
    assert applicant.passport_number == "4510 123456"
    assert applicant.registration_address == QUESTIONNAIRE["registration_address"]


def test_the_reencrypt_pii_command_rotates_applicants_and_broker_secrets(settings: Any) -> None:
    old, new = new_key(), new_key()
    settings.PII_ENCRYPTION_KEYS = [old]
    cw = credit_world()
    broker = cw.connection()
    application = application_with_questionnaire(cw)
    before = raw_columns(application)

    settings.PII_ENCRYPTION_KEYS = [new, old]
    out = io.StringIO()
    call_command("reencrypt_pii", stdout=out)
    assert "finance.CreditApplicant: 1 rows re-encrypted" in out.getvalue()
    assert "finance.BrokerConnection: 1 rows re-encrypted" in out.getvalue()
    after = raw_columns(application)
    for name in ENCRYPTED_COLUMNS:
        assert after[name].startswith("fernet:")
        assert after[name] != before[name]

    settings.PII_ENCRYPTION_KEYS = [new]  # the old key dropped
    applicant = CreditApplicant.objects.get(application=application)
    assert {name: getattr(applicant, name) for name in ENCRYPTED_COLUMNS} == {
        name: QUESTIONNAIRE[name] for name in ENCRYPTED_COLUMNS
    }
    fresh = BrokerConnection.objects.get(pk=broker.pk)
    assert (fresh.api_key, fresh.callback_secret) == (API_KEY, CALLBACK_SECRET)


def test_a_wrong_key_refuses_to_read(settings: Any) -> None:
    settings.PII_ENCRYPTION_KEYS = [new_key()]
    cw = credit_world()
    application = application_with_questionnaire(cw)
    settings.PII_ENCRYPTION_KEYS = [new_key()]
    with pytest.raises(ImproperlyConfigured):
        CreditApplicant.objects.get(application=application)
    # The plain columns are still readable without decrypting anything.
    assert CreditApplicant.objects.filter(application=application).values_list(
        "passport_last_digits", "last_name"
    ).get() == ("3456", "Иванов")


MASKED = {
    "passport_number": "•••• ••3456",
    "passport_division_code": "•••-•01",
    "passport_issued_by": "•••",
    "birth_place": "•••",
    "registration_address": "•••",
    "residence_address": "",  # empty stays empty
}


@pytest.mark.parametrize("role", ["head", "management", "administrator", "logistician"])
def test_the_questionnaire_is_masked_and_not_logged_for(role: str) -> None:
    cw = credit_world()
    application = application_with_questionnaire(cw, residence_address="")
    user = UserFactory.create(roles=[role], dealer_centers=[cw.world.dealer_center])

    data, masked = questionnaire_view(user, application, channel="web")

    assert masked is True
    assert data is not None
    assert {name: data[name] for name in SENSITIVE_FIELDS} == MASKED
    # The plain fields are there for everybody who works the order.
    assert (data["last_name"], data["first_name"], data["birth_date"]) == (
        "Иванов",
        "Иван",
        "1985-04-12",
    )
    assert data["passport_issued_on"] == "2015-05-20"
    assert data["monthly_income"] == "150000.00"
    assert data["consent_personal_data"] is True
    assert not PiiAccess.objects.exists()


@pytest.mark.parametrize(("role", "channel"), [("sales_manager", "web"), ("lawyer", "api")])
def test_the_questionnaire_is_full_and_logged_for(role: str, channel: str) -> None:
    cw = credit_world()
    application = application_with_questionnaire(cw)
    user = UserFactory.create(roles=[role], dealer_centers=[cw.world.dealer_center])

    data, masked = questionnaire_view(user, application, channel=channel)

    assert masked is False
    assert data is not None
    assert {name: data[name] for name in SENSITIVE_FIELDS} == {
        name: QUESTIONNAIRE[name] for name in SENSITIVE_FIELDS
    }
    assert data["monthly_income"] == "150000.00"
    access = PiiAccess.objects.get()
    assert (access.user, access.application, access.channel) == (user, application, channel)
    assert access.fields == list(SENSITIVE_FIELDS)
    assert access.accessed_at is not None

    questionnaire_view(user, application, channel=channel)
    assert PiiAccess.objects.filter(user=user, application=application).count() == 2


def test_no_questionnaire_yet_reads_nothing_and_logs_nothing() -> None:
    cw = credit_world()
    application = credit_application_create(
        actor=cw.world.manager,
        order=cw.world.order(),
        rate=Decimal("14.30"),
        down_payment=Decimal("279900"),
        term_months=36,
    )
    assert questionnaire_view(cw.world.manager, application, channel="web") == (None, False)
    assert questionnaire_view(cw.world.head, application, channel="web") == (None, True)
    assert not PiiAccess.objects.exists()
