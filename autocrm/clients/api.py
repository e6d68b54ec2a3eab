"""HTTP API of the clients app (docs/api.md): search, card data, manual entry, merge.

Bodies are validated after the permission and scope checks (``core.api.json_body``), so a caller
who may not use an endpoint, or asks for a client he cannot see, gets 403/404 whatever he
sends.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from autocrm.accounts.scoping import can_see_dealer_center
from autocrm.clients import selectors, services
from autocrm.clients.models import Client, ClientKind, ConsentPurpose
from autocrm.core.api import (
    DETAIL_ERROR_RESPONSES,
    ERROR_RESPONSES,
    MAX_ID,
    ErrorOut,
    ListParams,
    Page,
    body_schema,
    json_body,
    object_id,
    paginate,
    require_perm,
)
from autocrm.core.errors import Conflict, NotFound, ValidationFailed

router = Router(tags=["clients"])

MAX_CONTACTS = 10


# --- schemas ---------------------------------------------------------------------------


class IdentityOut(Schema):
    kind: str = Field(description="telegram, whatsapp or vk.")
    external_id: str
    username: str = Field(description="Lower-case, without the @; may be empty.")


class ClientItemOut(Schema):
    id: int
    name: str
    kind: str
    phones: list[str] = Field(description="E.164, the primary one first.")
    emails: list[str] = Field(description="Lower-case, the primary one first.")
    identities: list[IdentityOut]
    dealer_center_id: int | None
    responsible_id: int | None
    created_at: datetime


class ConsentOut(Schema):
    purpose: str = Field(description="personal_data or marketing.")
    granted: bool
    at: datetime
    source: str


class ClientDetailOut(ClientItemOut):
    last_name: str
    first_name: str
    middle_name: str
    company_name: str
    inn: str
    note: str
    merged_into_id: int | None = Field(description="Set when folded into another client.")
    consents: list[ConsentOut] = Field(description="The statement that holds per purpose.")
    updated_at: datetime


class ClientSearchParams(ListParams):
    q: str = Field(
        "",
        max_length=selectors.MAX_QUERY_LENGTH,
        description="A phone in any notation, an e-mail, a messenger username (with or "
        "without @) or parts of the name.",
    )


class DuplicateParams(Schema):
    limit: int = Field(selectors.DEFAULT_DUPLICATES_LIMIT, ge=1, le=selectors.MAX_DUPLICATES_LIMIT)


class DuplicatePairOut(Schema):
    first: ClientItemOut = Field(description="The older client: the default survivor.")
    second: ClientItemOut
    reasons: list[str] = Field(description="phone, email, name, similar_name.")
    shared: list[str] = Field(description="Phones and e-mails both clients have.")
    score: float = Field(description="1.0 for a shared contact or name, else similarity.")


class DuplicatesOut(Schema):
    count: int = Field(description="Pairs in this answer (the search is bounded).")
    items: list[DuplicatePairOut]


class ClientIn(Schema):
    kind: str = Field(ClientKind.PERSON, description="person or company.")
    last_name: str = Field("", max_length=150)
    first_name: str = Field("", max_length=150)
    middle_name: str = Field("", max_length=150)
    company_name: str = Field("", max_length=300)
    inn: str = Field("", max_length=12)
    phones: list[str] = Field(default_factory=list, max_length=MAX_CONTACTS)
    emails: list[str] = Field(default_factory=list, max_length=MAX_CONTACTS)
    dealer_center_id: int | None = Field(None, ge=1, le=MAX_ID)
    responsible_id: int | None = Field(None, ge=1, le=MAX_ID)
    note: str = Field("", max_length=5000)
    consents: dict[str, bool] = Field(
        default_factory=dict, description='{"personal_data": true, "marketing": false}'
    )
    allow_duplicate: bool = Field(
        False,
        description="Create even if a phone or e-mail belongs to a client you can see "
        "(otherwise 409 naming the field and that client).",
    )


class ClientPatch(Schema):
    kind: str | None = None
    last_name: str | None = Field(None, max_length=150)
    first_name: str | None = Field(None, max_length=150)
    middle_name: str | None = Field(None, max_length=150)
    company_name: str | None = Field(None, max_length=300)
    inn: str | None = Field(None, max_length=12)
    dealer_center_id: int | None = Field(None, ge=1, le=MAX_ID)
    responsible_id: int | None = Field(None, ge=1, le=MAX_ID)
    note: str | None = Field(None, max_length=5000)


class PhoneIn(Schema):
    phone: str = Field("", max_length=40, description="Required; any usual notation.")
    allow_duplicate: bool = False


class EmailIn(Schema):
    email: str = Field("", max_length=254, description="Required.")
    allow_duplicate: bool = False


class ConsentIn(Schema):
    purpose: str = Field("", description="Required: personal_data or marketing.")
    granted: bool | None = Field(None, description="Required: given (true) or withdrawn.")
    source: str = Field("api", max_length=100, description="Where it was given.")


class MergeIn(Schema):
    other_id: int | None = Field(
        None, ge=1, le=MAX_ID, description="Required: the client to fold into this one."
    )


# --- helpers ---------------------------------------------------------------------------


def _item(client: Client) -> dict[str, Any]:
    return {
        "id": client.pk,
        "name": client.display_name,
        "kind": client.kind,
        "phones": [phone.number for phone in client.phones.all()],
        "emails": [email.address for email in client.emails.all()],
        "identities": [
            {"kind": i.kind, "external_id": i.external_id, "username": i.username}
            for i in client.identities.all()
        ],
        "dealer_center_id": client.dealer_center_id,
        "responsible_id": client.responsible_id,
        "created_at": client.created_at,
    }


def _detail(client: Client) -> dict[str, Any]:
    consents = selectors.latest_consents(client)
    return _item(client) | {
        "last_name": client.last_name,
        "first_name": client.first_name,
        "middle_name": client.middle_name,
        "company_name": client.company_name,
        "inn": client.inn,
        "note": client.note,
        "merged_into_id": client.merged_into_id,
        "consents": [
            {
                "purpose": consent.purpose,
                "granted": consent.granted,
                "at": consent.at,
                "source": consent.source,
            }
            for _purpose, consent in sorted(consents.items())
        ],
        "updated_at": client.updated_at,
    }


def _visible_client(request: HttpRequest, client_id: int) -> Client:
    client = selectors.client_detail(user=request.user, client_id=client_id)
    if client is None:
        raise NotFound("Not found.")
    return client


def _fresh_detail(request: HttpRequest, client_id: int) -> dict[str, Any]:
    return _detail(_visible_client(request, client_id))


def _refuse_merged(client: Client) -> None:
    if client.merged_into_id is not None:
        raise Conflict(
            _("This client was merged into client #%(id)s.") % {"id": client.merged_into_id}
        )


def _check_dealer_center(request: HttpRequest, dealer_center_id: int | None) -> None:
    if dealer_center_id is not None and not can_see_dealer_center(request.user, dealer_center_id):
        # Missing and out-of-scope dealer centers answer alike.
        raise ValidationFailed(_("No such dealer center."), field="dealer_center_id")


def _check_responsible(responsible_id: int | None) -> None:
    if responsible_id is None:
        return
    if not get_user_model().objects.filter(pk=responsible_id, is_active=True).exists():
        raise ValidationFailed(_("No such employee."), field="responsible_id")


def _refuse_duplicate_phone(
    request: HttpRequest, number: str, field_name: str, own_id: int | None = None
) -> None:
    owner = selectors.client_by_phone(user=request.user, phone=number)
    if owner is not None and owner.pk != own_id:
        raise services.DuplicateContact(
            _("The phone %(phone)s belongs to client #%(id)s (%(name)s).")
            % {"phone": number, "id": owner.pk, "name": owner.display_name},
            field=field_name,
            client_id=owner.pk,
        )


def _refuse_duplicate_email(
    request: HttpRequest, address: str, field_name: str, own_id: int | None = None
) -> None:
    owner = selectors.client_by_email(user=request.user, email=address)
    if owner is not None and owner.pk != own_id:
        raise services.DuplicateContact(
            _("The e-mail %(email)s belongs to client #%(id)s (%(name)s).")
            % {"email": address, "id": owner.pk, "name": owner.display_name},
            field=field_name,
            client_id=owner.pk,
        )


# --- endpoints -------------------------------------------------------------------------


@router.get(
    "/clients",
    response={200: Page[ClientItemOut], **ERROR_RESPONSES},
    summary="Find clients",
)
def client_search(request: HttpRequest, params: Query[ClientSearchParams]) -> dict[str, Any]:
    """Clients the caller sees (his dealer centers' and unrouted ones), merged ones left
    out. ``q``: "8 (912) 345-67-89", "+7 912 345 67 89" and "79123456789" all find
    +79123456789; e-mails match case-insensitively; "@ivan" and "ivan" find the Telegram
    username; other text matches parts of the name."""
    require_perm(request, "clients.view_client")
    page = paginate(selectors.client_search(user=request.user, q=params.q), params)
    return {"count": page["count"], "items": [_item(client) for client in page["items"]]}


@router.get(
    "/clients/duplicates",
    response={200: DuplicatesOut, **ERROR_RESPONSES},
    summary="Likely duplicate clients",
)
def client_duplicates(request: HttpRequest, params: Query[DuplicateParams]) -> dict[str, Any]:
    """Pairs of visible clients sharing a phone or e-mail, with the same name (in one
    dealer center, or one of them without a phone) or with similar names in one dealer
    center; strongest evidence first. For those who may merge clients."""
    require_perm(request, "clients.merge_clients")
    pairs = selectors.duplicate_pairs(user=request.user, limit=params.limit)
    items = [
        {
            "first": _item(pair.first),
            "second": _item(pair.second),
            "reasons": pair.reasons,
            "shared": pair.shared,
            "score": pair.score,
        }
        for pair in pairs
    ]
    return {"count": len(items), "items": items}


@router.get(
    "/clients/{client_id}",
    response={200: ClientDetailOut, **DETAIL_ERROR_RESPONSES},
    summary="A client",
)
def client_detail(request: HttpRequest, client_id: int = object_id()) -> dict[str, Any]:
    """The client with contacts, messenger identities and the consents that hold now. A
    merged client is still found, with ``merged_into_id`` naming the survivor."""
    require_perm(request, "clients.view_client")
    return _fresh_detail(request, client_id)


@router.post(
    "/clients",
    response={201: ClientDetailOut, 409: ErrorOut, **ERROR_RESPONSES},
    summary="Create a client",
    openapi_extra=body_schema(ClientIn),
)
def client_create(request: HttpRequest) -> Status[dict[str, Any]]:
    """Create a client by hand: 201 with the card data. Find before create: when a phone
    or e-mail already belongs to a client the caller sees, 409 naming the field
    (``phones[0]``, ``emails[1]``...) with that client's id in ``errors[0].client_id``,
    unless ``allow_duplicate`` is true."""
    require_perm(request, "clients.add_client")
    payload: ClientIn = json_body(request, ClientIn)
    phones = [
        services.normalize_phone(phone, field_name=f"phones[{i}]")
        for i, phone in enumerate(payload.phones)
    ]
    emails = [
        services.normalize_email(email, field_name=f"emails[{i}]")
        for i, email in enumerate(payload.emails)
    ]
    named = any(
        value.strip()
        for value in (
            payload.last_name,
            payload.first_name,
            payload.middle_name,
            payload.company_name,
        )
    )
    if not named and not phones and not emails:
        raise ValidationFailed(_("Enter a name, a phone or an e-mail."), field="last_name")
    for key in payload.consents:
        if key not in ConsentPurpose.values:
            raise ValidationFailed(_("Unknown consent purpose."), field=f"consents.{key}")
    _check_dealer_center(request, payload.dealer_center_id)
    _check_responsible(payload.responsible_id)
    if not payload.allow_duplicate:
        for i, number in enumerate(phones):
            _refuse_duplicate_phone(request, number, f"phones[{i}]")
        for i, address in enumerate(emails):
            _refuse_duplicate_email(request, address, f"emails[{i}]")
    client = services.client_create(
        actor=request.user,
        kind=payload.kind,
        last_name=payload.last_name,
        first_name=payload.first_name,
        middle_name=payload.middle_name,
        company_name=payload.company_name,
        inn=payload.inn,
        phones=phones,
        emails=emails,
        dealer_center_id=payload.dealer_center_id,
        responsible_id=payload.responsible_id,
        note=payload.note,
        consents=payload.consents,
        consent_source="api",
    )
    return Status(201, _fresh_detail(request, client.pk))


@router.patch(
    "/clients/{client_id}",
    response={200: ClientDetailOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Change a client",
    openapi_extra=body_schema(ClientPatch),
)
def client_update(request: HttpRequest, client_id: int = object_id()) -> dict[str, Any]:
    """Change names, kind, dealer center, responsible manager or note; fields left out
    stay as they are. Contacts and consents have their own endpoints."""
    require_perm(request, "clients.change_client")
    client = _visible_client(request, client_id)
    payload: ClientPatch = json_body(request, ClientPatch)
    changes = payload.model_dump(exclude_unset=True)
    for name in ("kind", "last_name", "first_name", "middle_name", "company_name", "inn", "note"):
        if name in changes and changes[name] is None:
            changes[name] = ""
    if "dealer_center_id" in changes:
        _check_dealer_center(request, changes["dealer_center_id"])
    if "responsible_id" in changes:
        _check_responsible(changes["responsible_id"])
    if changes:
        _refuse_merged(client)
        services.client_update(actor=request.user, client=client, **changes)
    return _fresh_detail(request, client_id)


@router.post(
    "/clients/{client_id}/phones",
    response={201: ClientDetailOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Add a phone",
    openapi_extra=body_schema(PhoneIn),
)
def client_phone_add(request: HttpRequest, client_id: int = object_id()) -> Status[dict[str, Any]]:
    """Add a phone (kept once, normalised to E.164): 201 with the card data; 409 with the
    owner's id when another client the caller sees has it, unless ``allow_duplicate``."""
    require_perm(request, "clients.change_client")
    client = _visible_client(request, client_id)
    payload: PhoneIn = json_body(request, PhoneIn)
    number = services.normalize_phone(payload.phone, field_name="phone")
    _refuse_merged(client)
    if not payload.allow_duplicate:
        _refuse_duplicate_phone(request, number, "phone", own_id=client.pk)
    services.client_add_phone(actor=request.user, client=client, phone=number)
    return Status(201, _fresh_detail(request, client_id))


@router.post(
    "/clients/{client_id}/emails",
    response={201: ClientDetailOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Add an e-mail",
    openapi_extra=body_schema(EmailIn),
)
def client_email_add(request: HttpRequest, client_id: int = object_id()) -> Status[dict[str, Any]]:
    """Add an e-mail address (kept once, lower-case): 201 with the card data; 409 like
    for phones."""
    require_perm(request, "clients.change_client")
    client = _visible_client(request, client_id)
    payload: EmailIn = json_body(request, EmailIn)
    address = services.normalize_email(payload.email, field_name="email")
    _refuse_merged(client)
    if not payload.allow_duplicate:
        _refuse_duplicate_email(request, address, "email", own_id=client.pk)
    services.client_add_email(actor=request.user, client=client, email=address)
    return Status(201, _fresh_detail(request, client_id))


@router.post(
    "/clients/{client_id}/consents",
    response={201: ClientDetailOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Record a consent or its withdrawal",
    openapi_extra=body_schema(ConsentIn),
)
def client_consent_record(
    request: HttpRequest, client_id: int = object_id()
) -> Status[dict[str, Any]]:
    """Record that the client gave (``granted: true``) or withdrew consent for a purpose
    (152-FZ); the latest statement per purpose holds. 201 with the card data."""
    require_perm(request, "clients.change_client")
    client = _visible_client(request, client_id)
    payload: ConsentIn = json_body(request, ConsentIn)
    if payload.purpose not in ConsentPurpose.values:
        raise ValidationFailed(_("Choose personal_data or marketing."), field="purpose")
    if payload.granted is None:
        raise ValidationFailed(_("Say whether consent is given or withdrawn."), field="granted")
    _refuse_merged(client)
    services.consent_record(
        actor=request.user,
        client=client,
        purpose=payload.purpose,
        granted=payload.granted,
        source=payload.source.strip() or "api",
    )
    return Status(201, _fresh_detail(request, client_id))


@router.post(
    "/clients/{client_id}/merge",
    response={200: ClientDetailOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Merge another client into this one",
    openapi_extra=body_schema(MergeIn),
)
def client_merge(request: HttpRequest, client_id: int = object_id()) -> dict[str, Any]:
    """Fold ``other_id`` into this client: every message, call, visit, request,
    conversation, identity, contact and reservation moves here, and the merge is
    recorded. 200 with the surviving client. 404 when either client is out of the
    caller's scope, 400 naming ``other_id`` for the client itself, 409 when one of them
    is already merged."""
    require_perm(request, "clients.merge_clients")
    survivor = _visible_client(request, client_id)
    payload: MergeIn = json_body(request, MergeIn)
    if payload.other_id is None:
        raise ValidationFailed(_("Choose the client to merge."), field="other_id")
    if payload.other_id == survivor.pk:
        raise ValidationFailed(_("A client cannot be merged with himself."), field="other_id")
    other = selectors.client_list(user=request.user).filter(pk=payload.other_id).first()
    if other is None:
        raise NotFound("Not found.", field="other_id")
    services.client_merge(actor=request.user, survivor=survivor, other=other)
    return _fresh_detail(request, client_id)
