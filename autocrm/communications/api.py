"""HTTP API of the communications app (docs/api.md): channels, conversations, messages.

Channels are configured by administrators only: their settings hold the providers'
credentials, which the API never returns in full (see ``selectors.mask_secret``).
Conversations and messages are read and answered by the inbox roles
(``communications.use_inbox``) within their dealer centers (``selectors`` module doc).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from autocrm.accounts.models import DealerCenter, Site
from autocrm.communications import selectors, services
from autocrm.communications.channels import get_adapter
from autocrm.communications.models import Channel, Conversation, Message
from autocrm.core.api import (
    DETAIL_ERROR_RESPONSES,
    ERROR_RESPONSES,
    MAX_ID,
    ErrorOut,
    ListParams,
    Page,
    body_schema,
    get_or_404,
    json_body,
    object_id,
    paginate,
    require_perm,
)
from autocrm.core.errors import NotFound, ValidationFailed

router = Router(tags=["communications"])

ChannelKindName = Literal["telegram", "whatsapp", "vk", "email", "webform", "telephony"]


# --- channels ---------------------------------------------------------------------------


class ChannelIn(Schema):
    kind: ChannelKindName
    name: str = Field(..., min_length=1, max_length=200)
    dealer_center_id: int | None = Field(None, ge=1, le=MAX_ID)
    site_id: int | None = Field(None, ge=1, le=MAX_ID, description="Website forms: the site.")
    settings: dict[str, Any] = Field(
        default_factory=dict, description="Kind-specific settings (docs/api.md, Channels)."
    )


class ChannelPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=200)
    is_active: bool | None = None
    settings: dict[str, Any] | None = Field(
        None,
        description="Keys to change; the others stay. A masked secret sent back unchanged "
        "keeps its stored value.",
    )


class ChannelOut(Schema):
    id: int
    kind: str
    name: str
    dealer_center_id: int | None
    site_id: int | None
    is_active: bool
    webhook_url: str = Field(description="Path on this server where the provider posts.")
    settings: dict[str, Any] = Field(description="Settings with credentials masked.")
    created_at: datetime


def _channel(channel: Channel) -> dict[str, Any]:
    return {
        "id": channel.pk,
        "kind": channel.kind,
        "name": channel.name,
        "dealer_center_id": channel.dealer_center_id,
        "site_id": channel.site_id,
        "is_active": channel.is_active,
        "webhook_url": channel.webhook_path,
        "settings": selectors.channel_settings_masked(channel),
        "created_at": channel.created_at,
    }


@router.get(
    "/channels",
    response={200: Page[ChannelOut], **ERROR_RESPONSES},
    summary="List channels",
)
def channel_list(request: HttpRequest, params: Query[ListParams]) -> dict[str, Any]:
    """Every channel with its webhook path; administrators only."""
    require_perm(request, "communications.manage_channels")
    page = paginate(selectors.channel_list(), params)
    return {"count": page["count"], "items": [_channel(c) for c in page["items"]]}


@router.post(
    "/channels",
    response={201: ChannelOut, **ERROR_RESPONSES},
    summary="Create a channel",
    openapi_extra=body_schema(ChannelIn),
)
def channel_create(request: HttpRequest) -> Status[dict[str, Any]]:
    """Create a channel (administrators only): 201 with ``id`` and ``webhook_url``, the path
    to give the provider. Settings are checked by the kind's adapter; an error names
    ``settings.<key>``."""
    require_perm(request, "communications.manage_channels")
    payload = json_body(request, ChannelIn)
    try:
        get_adapter(payload.kind)
    except ImportError:
        raise ValidationFailed(
            _("This kind of channel is not available yet."), field="kind"
        ) from None
    if (
        payload.dealer_center_id is not None
        and not DealerCenter.objects.filter(pk=payload.dealer_center_id).exists()
    ):
        raise ValidationFailed(_("No such dealer center."), field="dealer_center_id")
    if payload.site_id is not None and not Site.objects.filter(pk=payload.site_id).exists():
        raise ValidationFailed(_("No such site."), field="site_id")
    channel = services.channel_create(
        actor=request.user,
        kind=payload.kind,
        name=payload.name,
        dealer_center_id=payload.dealer_center_id,
        site_id=payload.site_id,
        settings=payload.settings,
    )
    return Status(201, _channel(channel))


@router.get(
    "/channels/{channel_id}",
    response={200: ChannelOut, **DETAIL_ERROR_RESPONSES},
    summary="A channel",
)
def channel_detail(request: HttpRequest, channel_id: int = object_id()) -> dict[str, Any]:
    require_perm(request, "communications.manage_channels")
    return _channel(get_or_404(selectors.channel_list(), pk=channel_id))


@router.patch(
    "/channels/{channel_id}",
    response={200: ChannelOut, **DETAIL_ERROR_RESPONSES},
    summary="Change a channel",
    openapi_extra=body_schema(ChannelPatch),
)
def channel_update(request: HttpRequest, channel_id: int = object_id()) -> dict[str, Any]:
    """Rename, switch on or off, or change some settings (checked again as a whole)."""
    require_perm(request, "communications.manage_channels")
    channel = get_or_404(selectors.channel_list(), pk=channel_id)
    payload = json_body(request, ChannelPatch)
    settings = (
        selectors.settings_with_kept_secrets(channel, payload.settings)
        if payload.settings is not None
        else None
    )
    channel = services.channel_update(
        actor=request.user,
        channel=channel,
        name=payload.name,
        settings=settings,
        is_active=payload.is_active,
    )
    return _channel(channel)


# --- conversations and messages ---------------------------------------------------------


class ConversationFilters(ListParams):
    status: Literal["waiting", "answered", "closed"] | None = Field(
        None, description="waiting: the queue, oldest waiting first."
    )
    dealer_center_id: int | None = Field(None, ge=1, le=MAX_ID)
    assigned_to_id: int | None = Field(None, ge=1, le=MAX_ID)
    unassigned: bool = Field(False, description="Only conversations nobody has taken.")


class ConversationOut(Schema):
    id: int
    client_id: int
    client_name: str
    channel_id: int
    channel_kind: str
    dealer_center_id: int | None
    status: str
    subject: str
    waiting_since: datetime | None
    last_message_at: datetime | None
    assigned_to_id: int | None
    first_response_seconds: int | None


def _conversation(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.pk,
        "client_id": conversation.client_id,
        "client_name": conversation.client.display_name,
        "channel_id": conversation.channel_id,
        "channel_kind": conversation.channel.kind,
        "dealer_center_id": conversation.dealer_center_id,
        "status": conversation.status,
        "subject": conversation.subject,
        "waiting_since": conversation.waiting_since,
        "last_message_at": conversation.last_message_at,
        "assigned_to_id": conversation.assigned_to_id,
        "first_response_seconds": conversation.first_response_seconds,
    }


class MessageIn(Schema):
    text: str = Field(..., max_length=100_000)
    subject: str = Field("", max_length=500, description="E-mail only.")


class AssignIn(Schema):
    user_id: int | None = Field(..., ge=1, le=MAX_ID, description="null: nobody.")


class MessageOut(Schema):
    id: int
    conversation_id: int
    client_id: int
    channel_id: int
    direction: str = Field(description="in or out.")
    status: str = Field(description="received, queued, sent, delivered, read or failed.")
    status_reason: str = Field(description="Why the last attempt failed, if it did.")
    attempts: int
    text: str
    at: datetime
    author_id: int | None


def _message(message: Message) -> dict[str, Any]:
    return {
        "id": message.pk,
        "conversation_id": message.conversation_id,
        "client_id": message.client_id,
        "channel_id": message.channel_id,
        "direction": message.direction,
        "status": message.status,
        "status_reason": message.status_reason,
        "attempts": message.attempts,
        "text": message.text,
        "at": message.at,
        "author_id": message.author_id,
    }


def _visible_conversation(request: HttpRequest, conversation_id: int) -> Conversation:
    require_perm(request, "communications.use_inbox")
    conversation = selectors.conversation_get(user=request.user, conversation_id=conversation_id)
    if conversation is None:
        raise NotFound("Not found.")
    return conversation


@router.get(
    "/conversations",
    response={200: Page[ConversationOut], **ERROR_RESPONSES},
    summary="List conversations",
)
def conversation_list(request: HttpRequest, filters: Query[ConversationFilters]) -> dict[str, Any]:
    """Conversations of the caller's dealer centers. ``status=waiting`` is the operator
    queue, oldest waiting first; other lists are newest activity first."""
    require_perm(request, "communications.use_inbox")
    queryset = selectors.conversation_list(
        user=request.user,
        status=filters.status,
        dealer_center_id=filters.dealer_center_id,
        assigned_to_id=filters.assigned_to_id,
        unassigned=filters.unassigned,
    )
    page = paginate(queryset, filters)
    return {"count": page["count"], "items": [_conversation(c) for c in page["items"]]}


@router.get(
    "/conversations/{conversation_id}",
    response={200: ConversationOut, **DETAIL_ERROR_RESPONSES},
    summary="A conversation",
)
def conversation_detail(request: HttpRequest, conversation_id: int = object_id()) -> dict[str, Any]:
    return _conversation(_visible_conversation(request, conversation_id))


@router.post(
    "/conversations/{conversation_id}/messages",
    response={201: MessageOut, **DETAIL_ERROR_RESPONSES},
    summary="Answer in a conversation",
)
def conversation_message_send(
    request: HttpRequest, payload: MessageIn, conversation_id: int = object_id()
) -> Status[dict[str, Any]]:
    """Queue an answer (201, status ``queued``); it goes out through the channel after the
    commit. Follow it with ``GET /messages/{id}``: ``sent``, or ``failed`` with the reason."""
    conversation = _visible_conversation(request, conversation_id)
    message = services.message_send(
        actor=request.user, conversation=conversation, text=payload.text, subject=payload.subject
    )
    return Status(201, _message(message))


@router.post(
    "/conversations/{conversation_id}/take",
    response={200: ConversationOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Take a conversation",
)
def conversation_take(request: HttpRequest, conversation_id: int = object_id()) -> dict[str, Any]:
    """The caller becomes the conversation's operator; 409 if somebody else has it."""
    conversation = _visible_conversation(request, conversation_id)
    services.conversation_take(actor=request.user, conversation=conversation)
    return _conversation(_visible_conversation(request, conversation_id))


@router.post(
    "/conversations/{conversation_id}/assign",
    response={200: ConversationOut, **DETAIL_ERROR_RESPONSES},
    summary="Hand a conversation to an employee",
)
def conversation_assign(
    request: HttpRequest, payload: AssignIn, conversation_id: int = object_id()
) -> dict[str, Any]:
    """Operators and heads route a conversation to an operator or to one of its dealer
    center's sales managers (``user_id``), or back to nobody (null)."""
    conversation = _visible_conversation(request, conversation_id)
    require_perm(request, "communications.assign_conversation")
    user = None
    if payload.user_id is not None:
        user = (
            selectors.assignable_users(dealer_center_id=conversation.dealer_center_id)
            .filter(pk=payload.user_id)
            .first()
        )
        if user is None:
            raise ValidationFailed(
                _("This employee cannot take conversations of this dealer center."),
                field="user_id",
            )
    services.conversation_assign(actor=request.user, conversation=conversation, user=user)
    return _conversation(_visible_conversation(request, conversation_id))


@router.get(
    "/messages/{message_id}",
    response={200: MessageOut, **DETAIL_ERROR_RESPONSES},
    summary="A message and its delivery status",
)
def message_detail(request: HttpRequest, message_id: int = object_id()) -> dict[str, Any]:
    require_perm(request, "communications.use_inbox")
    return _message(get_or_404(selectors.message_list(user=request.user), pk=message_id))


# --- click-to-call ----------------------------------------------------------------------


class OriginateIn(Schema):
    channel_id: int | None = Field(
        None, ge=1, le=MAX_ID, description="Telephony channel; default: the caller's PBX."
    )
    client_id: int | None = Field(None, ge=1, le=MAX_ID, description="Dial his primary phone.")
    number: str | None = Field(None, max_length=40, description="Or dial this number.")
    line: str = Field("", max_length=50, description="Outgoing line, when the PBX has several.")


class OriginateOut(Schema):
    request_id: str
    extension: str
    number: str
    line: str
    pbx: dict[str, Any]


@router.post(
    "/calls/originate",
    response={202: OriginateOut, 502: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Click-to-call",
)
def call_originate(request: HttpRequest, payload: OriginateIn) -> Status[dict[str, Any]]:
    """Ask the PBX to ring the caller's extension and then dial the client (202). The
    call itself arrives later as the PBX's call events, like any other call."""
    from autocrm.communications.telephony import call_originate as originate

    require_perm(request, "communications.use_inbox")
    channel = selectors.telephony_channel_for(user=request.user, channel_id=payload.channel_id)
    if channel is None:
        raise ValidationFailed(_("No telephony channel with click-to-call."), field="channel_id")
    result = originate(
        actor=request.user,
        channel=channel,
        client_id=payload.client_id,
        number=payload.number,
        line=payload.line,
    )
    return Status(202, result)
