"""Every write to clients: creation, contacts, consents, lookup-or-create and merging."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from autocrm.clients.models import (
    Client,
    ClientEmail,
    ClientIdentity,
    ClientKind,
    ClientMerge,
    ClientPhone,
    Consent,
    ConsentPurpose,
    IdentityKind,
)
from autocrm.core.audit import acting_user, user_or_none
from autocrm.core.errors import Conflict, ValidationFailed

# Numbers without a country code are Russian: "8 (912) 345-67-89" is +79123456789.
DEFAULT_PHONE_REGION = "RU"


def normalize_phone(raw: str, *, field_name: str = "phone") -> str:
    """The E.164 form of a phone number written any usual way, or ValidationFailed."""
    text = (raw or "").strip()
    if not text:
        raise ValidationFailed(_("Enter a phone number."), field=field_name)
    digits = re.sub(r"\D", "", text)
    if not text.startswith("+") and len(digits) == 11 and digits[0] in "78":
        # 79123456789 and 89123456789: the Russian trunk and country prefixes.
        text = "+7" + digits[1:]
    elif not text.startswith("+") and len(digits) > 11:
        text = "+" + digits
    try:
        parsed = phonenumbers.parse(text, DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException:
        raise ValidationFailed(
            _("“%(value)s” is not a phone number.") % {"value": raw[:40]}, field=field_name
        ) from None
    if not phonenumbers.is_possible_number(parsed):
        raise ValidationFailed(
            _("“%(value)s” is not a phone number.") % {"value": raw[:40]}, field=field_name
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def try_normalize_phone(raw: str | None) -> str | None:
    if not raw:
        return None
    try:
        return normalize_phone(raw)
    except ValidationFailed:
        return None


def normalize_email(raw: str, *, field_name: str = "email") -> str:
    address = (raw or "").strip().lower()
    try:
        validate_email(address)
    except ValidationError:
        raise ValidationFailed(
            _("“%(value)s” is not an e-mail address.") % {"value": raw[:80]}, field=field_name
        ) from None
    return address


def search_text(*parts: str) -> str:
    """Case-folded text for search columns (Cyrillic included)."""
    return " ".join(p.strip() for p in parts if p and p.strip()).casefold()[:700]


def _refresh_search_name(client: Client) -> None:
    client.search_name = search_text(
        client.last_name, client.first_name, client.middle_name, client.company_name, client.inn
    )


def split_full_name(name: str) -> dict[str, str]:
    """Name parts from one free-text name: "Иванов Пётр Сергеевич" or "Пётр Иванов"."""
    words = (name or "").split()
    if len(words) >= 3:
        return {
            "last_name": words[0],
            "first_name": words[1],
            "middle_name": " ".join(words[2:]),
        }
    if len(words) == 2:
        return {"first_name": words[0], "last_name": words[1]}
    if len(words) == 1:
        return {"first_name": words[0]}
    return {}


@dataclass
class IdentityRef:
    kind: str
    external_id: str
    username: str = ""
    display_name: str = ""


@dataclass
class ContactInfo:
    """What an inbound event or a form tells about its sender."""

    name: str = ""
    first_name: str = ""
    last_name: str = ""
    phone: str | None = None
    email: str | None = None
    identity: IdentityRef | None = None
    # Consents given with this contact, e.g. a form's checkbox: {purpose: granted}.
    consents: dict[str, bool] = field(default_factory=dict)


_NAME_FIELDS = ("last_name", "first_name", "middle_name", "company_name", "inn")


class DuplicateContact(Conflict):
    """A phone or e-mail entered by hand already belongs to a client the user can see.

    Carries that client's id, so the API answer and the form can point to the card
    instead of creating a duplicate.
    """

    code = "duplicate_contact"

    def __init__(self, message: str, *, field: str, client_id: int) -> None:
        super().__init__(message, field=field)
        self.client_id = client_id

    def as_dict(self) -> dict[str, object]:
        return super().as_dict() | {"client_id": self.client_id}


def client_create(
    *,
    actor: Any = None,
    kind: str = ClientKind.PERSON,
    last_name: str = "",
    first_name: str = "",
    middle_name: str = "",
    company_name: str = "",
    inn: str = "",
    phones: list[str] | None = None,
    emails: list[str] | None = None,
    dealer_center_id: int | None = None,
    responsible_id: int | None = None,
    note: str = "",
    consents: dict[str, bool] | None = None,
    consent_source: str = "manual",
) -> Client:
    if kind not in ClientKind.values:
        raise ValidationFailed(_("Unknown client kind."), field="kind")
    if kind == ClientKind.COMPANY and not company_name.strip():
        raise ValidationFailed(_("Enter the company name."), field="company_name")
    normalized_phones = [
        normalize_phone(p, field_name=f"phones[{i}]") for i, p in enumerate(phones or [])
    ]
    normalized_emails = [
        normalize_email(e, field_name=f"emails[{i}]") for i, e in enumerate(emails or [])
    ]
    with transaction.atomic(), acting_user(actor):
        client = Client(
            kind=kind,
            last_name=last_name.strip(),
            first_name=first_name.strip(),
            middle_name=middle_name.strip(),
            company_name=company_name.strip(),
            inn=inn.strip(),
            dealer_center_id=dealer_center_id,
            responsible_id=responsible_id,
            note=note,
        )
        _refresh_search_name(client)
        client.save()
        for i, number in enumerate(dict.fromkeys(normalized_phones)):
            ClientPhone.objects.create(client=client, number=number, is_primary=i == 0)
        for i, address in enumerate(dict.fromkeys(normalized_emails)):
            ClientEmail.objects.create(client=client, address=address, is_primary=i == 0)
        for purpose, granted in (consents or {}).items():
            _consent_insert(client, purpose, granted, consent_source, actor)
    return client


def client_update(*, actor: Any = None, client: Client, **changes: Any) -> Client:
    allowed = {*_NAME_FIELDS, "kind", "dealer_center_id", "responsible_id", "note"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationFailed(_("Unknown field."), field=sorted(unknown)[0])
    if "kind" in changes and changes["kind"] not in ClientKind.values:
        raise ValidationFailed(_("Unknown client kind."), field="kind")
    with transaction.atomic(), acting_user(actor):
        for name, value in changes.items():
            setattr(client, name, value.strip() if isinstance(value, str) else value)
        _refresh_search_name(client)
        client.save()
    return client


def client_add_phone(*, actor: Any = None, client: Client, phone: str) -> ClientPhone:
    number = normalize_phone(phone)
    with transaction.atomic():
        existing = client.phones.filter(number=number).first()
        if existing:
            return existing
        return ClientPhone.objects.create(
            client=client, number=number, is_primary=not client.phones.exists()
        )


def client_add_email(*, actor: Any = None, client: Client, email: str) -> ClientEmail:
    address = normalize_email(email)
    with transaction.atomic():
        existing = client.emails.filter(address=address).first()
        if existing:
            return existing
        return ClientEmail.objects.create(
            client=client, address=address, is_primary=not client.emails.exists()
        )


def client_link_identity(
    *, actor: Any = None, client: Client, identity: IdentityRef
) -> ClientIdentity:
    """Attach a messenger account; one that already belongs to another client is refused."""
    if identity.kind not in IdentityKind.values:
        raise ValidationFailed(_("Unknown messenger."), field="kind")
    with transaction.atomic():
        existing = ClientIdentity.objects.filter(
            kind=identity.kind, external_id=identity.external_id
        ).first()
        if existing:
            if existing.client_id != client.pk:
                raise Conflict(
                    _("This messenger account belongs to another client."), field="external_id"
                )
            return existing
        return ClientIdentity.objects.create(
            client=client,
            kind=identity.kind,
            external_id=identity.external_id,
            username=identity.username.lstrip("@").lower(),
            display_name=identity.display_name[:300],
        )


def _consent_insert(
    client: Client, purpose: str, granted: bool, source: str, actor: Any, at: datetime | None = None
) -> Consent:
    if purpose not in ConsentPurpose.values:
        raise ValidationFailed(_("Unknown consent purpose."), field="purpose")
    return Consent.objects.create(
        client=client,
        purpose=purpose,
        granted=granted,
        source=source[:100],
        at=at or timezone.now(),
        recorded_by=user_or_none(actor),
    )


def consent_record(
    *,
    actor: Any = None,
    client: Client,
    purpose: str,
    granted: bool,
    source: str,
    at: datetime | None = None,
) -> Consent:
    with transaction.atomic():
        return _consent_insert(client, purpose, granted, source, actor, at)


# Merges re-point earlier merges at the survivor, so chains stay one hop; the bound only
# guards against a hand-edited loop.
MAX_MERGE_HOPS = 20


def client_survivor(client: Client) -> Client:
    """Follow merges to the client that holds the history now (``client`` itself if it
    was never merged)."""
    seen = 0
    while client.merged_into_id is not None and seen < MAX_MERGE_HOPS:
        client = Client.objects.get(pk=client.merged_into_id)
        seen += 1
    return client


def _identity_owner(identity: IdentityRef | None) -> Client | None:
    """The (surviving) client this messenger account is on file for, if any."""
    if identity is None:
        return None
    found = (
        ClientIdentity.objects.filter(kind=identity.kind, external_id=identity.external_id)
        .select_related("client")
        .first()
    )
    return client_survivor(found.client) if found else None


def client_find(
    *, identity: IdentityRef | None = None, phone: str | None = None, email: str | None = None
) -> Client | None:
    """The client known by this messenger account, phone or e-mail, in that order."""
    owner = _identity_owner(identity)
    if owner is not None:
        return owner
    number = try_normalize_phone(phone)
    if number:
        row = (
            ClientPhone.objects.filter(number=number, client__merged_into__isnull=True)
            .select_related("client")
            .order_by("client_id")
            .first()
        )
        if row:
            return row.client
    if email:
        address = email.strip().lower()
        email_row = (
            ClientEmail.objects.filter(address=address, client__merged_into__isnull=True)
            .select_related("client")
            .order_by("client_id")
            .first()
        )
        if email_row:
            return email_row.client
    return None


def _learn_contacts(
    client: Client, number: str | None, address: str | None, identity: IdentityRef | None
) -> None:
    """Add the contacts an event brought to the client it was matched to."""
    if number and not client.phones.filter(number=number).exists():
        ClientPhone.objects.create(
            client=client, number=number, is_primary=not client.phones.exists()
        )
    if address and not client.emails.filter(address=address).exists():
        ClientEmail.objects.create(
            client=client, address=address, is_primary=not client.emails.exists()
        )
    if identity is not None:
        try:
            with transaction.atomic():
                client_link_identity(client=client, identity=identity)
        except (IntegrityError, Conflict):
            # The account is on another card already: pairing them up is the duplicates
            # screen's job, not a reason to lose this event.
            pass


def client_find_or_create(
    *,
    actor: Any = None,
    contact: ContactInfo,
    dealer_center_id: int | None = None,
    source: str = "manual",
) -> tuple[Client, bool]:
    """Find the sender by identity, phone or e-mail, else create him; learn new contacts.

    Contacts the event brings (a phone from a form, a Telegram username) are added to the
    found client, so the next event from any of them lands on the same card.
    """
    number = try_normalize_phone(contact.phone)
    address: str | None = None
    if contact.email:
        try:
            address = normalize_email(contact.email)
        except ValidationFailed:
            address = None
    with transaction.atomic():
        # Found by his messenger account, the client holds it already: linking it again
        # would only look it up once more (the hot path of every chat message).
        client = _identity_owner(contact.identity)
        identity_on_file = client is not None
        if client is None:
            client = client_find(phone=number, email=address)
        created = client is None
        if client is None:
            names = {"first_name": contact.first_name, "last_name": contact.last_name}
            if not any(names.values()):
                names = split_full_name(contact.name)
            names = {k: v[:150] for k, v in names.items() if v}
            try:
                with transaction.atomic():
                    client = client_create(
                        actor=actor,
                        phones=[number] if number else [],
                        emails=[address] if address else [],
                        dealer_center_id=dealer_center_id,
                        last_name=names.get("last_name", ""),
                        first_name=names.get("first_name", ""),
                        middle_name=names.get("middle_name", ""),
                    )
                    if contact.identity is not None:
                        client_link_identity(client=client, identity=contact.identity)
            except (IntegrityError, Conflict):
                # A concurrent event from the same messenger account created him first:
                # continue with that client (and teach it this event's contacts).
                found = client_find(identity=contact.identity)
                if found is None:
                    raise
                client, created = found, False
        if not created:
            _learn_contacts(client, number, address, None if identity_on_file else contact.identity)
        for purpose, granted in contact.consents.items():
            if purpose in ConsentPurpose.values:
                _consent_insert(client, purpose, granted, source, actor)
    return client, created


def _snapshot(client: Client) -> dict[str, Any]:
    return {
        "id": client.pk,
        "kind": client.kind,
        **{name: getattr(client, name) for name in _NAME_FIELDS},
        "dealer_center_id": client.dealer_center_id,
        "responsible_id": client.responsible_id,
        "phones": list(client.phones.values_list("number", flat=True)),
        "emails": list(client.emails.values_list("address", flat=True)),
        "identities": [
            f"{kind}:{external_id}"
            for kind, external_id in client.identities.values_list("kind", "external_id")
        ],
        "created_at": client.created_at.isoformat(),
    }


def _move_related_rows(survivor: Client, other: Client) -> dict[str, int]:
    """Point every row of every app that refers to ``other`` at ``survivor``.

    Found through the model registry, so apps above this one (messages, calls, requests,
    reservations ...) are covered without this app importing them.
    """
    moved: dict[str, int] = {}
    # Contacts first: the survivor may already hold the same number or address.
    ClientPhone.objects.filter(client=other, number__in=survivor.phones.values("number")).delete()
    ClientEmail.objects.filter(client=other, address__in=survivor.emails.values("address")).delete()
    # The survivor keeps its own primary phone and e-mail.
    if survivor.phones.exists():
        ClientPhone.objects.filter(client=other).update(is_primary=False)
    if survivor.emails.exists():
        ClientEmail.objects.filter(client=other).update(is_primary=False)
    # Clients folded into ``other`` earlier now point straight at the survivor.
    Client.objects.filter(merged_into=other).update(merged_into=survivor)
    for relation in Client._meta.related_objects:
        model = relation.related_model
        if not isinstance(model, type) or model is ClientMerge:
            continue
        field_name = relation.field.name
        if relation.field.model is Client:  # merged_into
            continue
        if not (relation.one_to_many or relation.one_to_one):
            continue
        count = model._default_manager.filter(**{field_name: other}).update(
            **{field_name: survivor}
        )
        if count:
            moved[model._meta.label_lower] = moved.get(model._meta.label_lower, 0) + count
    return moved


def client_merge(
    *, actor: Any = None, survivor: Client, other: Client, reason: str = "manual"
) -> ClientMerge:
    """Fold ``other`` into ``survivor``: all history and contacts move, the merge is recorded."""
    if survivor.pk == other.pk:
        raise ValidationFailed(_("A client cannot be merged with himself."), field="other_id")
    with transaction.atomic(), acting_user(actor):
        # Both rows locked in id order, so two opposite merges cannot deadlock.
        locked = {
            c.pk: c
            for c in Client.objects.select_for_update()
            .filter(pk__in=[survivor.pk, other.pk])
            .order_by("pk")
        }
        survivor, other = locked[survivor.pk], locked[other.pk]
        if survivor.merged_into_id or other.merged_into_id:
            raise Conflict(_("One of these clients has already been merged."), field="other_id")
        snapshot = _snapshot(other)
        moved = _move_related_rows(survivor, other)
        # The survivor keeps its own data and takes what it lacked.
        changed = False
        for name in (*_NAME_FIELDS, "dealer_center_id", "responsible_id"):
            if not getattr(survivor, name) and getattr(other, name):
                setattr(survivor, name, getattr(other, name))
                changed = True
        if other.note:
            survivor.note = "\n".join(n for n in (survivor.note, other.note) if n)
            changed = True
        if changed:
            _refresh_search_name(survivor)
            survivor.save()
        other.merged_into = survivor
        other.save(update_fields=["merged_into", "updated_at"])
        merge = ClientMerge.objects.create(
            survivor=survivor,
            merged=other,
            merged_snapshot=snapshot,
            moved=moved,
            merged_by=user_or_none(actor),
            reason=reason,
        )
    return merge


__all__ = [
    "ContactInfo",
    "DuplicateContact",
    "IdentityRef",
    "client_add_email",
    "client_add_phone",
    "client_create",
    "client_find",
    "client_find_or_create",
    "client_link_identity",
    "client_merge",
    "client_update",
    "consent_record",
    "normalize_email",
    "normalize_phone",
    "split_full_name",
]
