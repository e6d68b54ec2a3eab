"""Reads of the communications app: channels, conversations and messages, always scoped.

Conversations are scoped by their own dealer center (copied from the channel when the
conversation starts). A conversation of a channel tied to no dealer center (a group-wide
Telegram bot, the central phone line) has none until somebody routes it: only group-level
roles see those (operators, management, administrators: see ``accounts.roles``), because
routing such requests is the contact center's job; a dealer center's staff sees only the
rows of his dealer centers.
"""

from __future__ import annotations

import re
import time
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import F, OuterRef, Q, QuerySet, Subquery

from autocrm.accounts.roles import RoleCode
from autocrm.accounts.scoping import scope_queryset, visible_dealer_center_ids
from autocrm.communications.channels import get_adapter
from autocrm.communications.models import (
    EMAIL_BY_DEFAULT,
    Channel,
    ChannelKind,
    Conversation,
    ConversationStatus,
    Message,
    Notification,
    NotificationKind,
    NotificationPreference,
)

# --- channels -------------------------------------------------------------------------

# Setting names that hold credentials, for adapters that do not list theirs.
_SECRET_NAME = re.compile(r"(token|secret|password|passwd|(^|_)key$|confirmation_code)")
MASK = "********"


def channel_list() -> QuerySet[Channel]:
    """Every channel; only administrators reach this (channel settings hold secrets)."""
    return Channel.objects.select_related("dealer_center", "site")


def secret_setting_names(kind: str, settings: dict[str, Any]) -> set[str]:
    """Names of the settings of this kind that are credentials."""
    try:
        declared = getattr(get_adapter(kind), "secret_settings", None)
    except ImportError:
        declared = None
    names = {key for key in settings if _SECRET_NAME.search(key)}
    if declared:
        names |= set(declared)
    return names


def mask_secret(value: Any) -> Any:
    """A credential as shown to people: enough of its end to tell two apart."""
    if not isinstance(value, str) or not value:
        return value
    return MASK + value[-4:] if len(value) >= 16 else MASK


def channel_settings_masked(channel: Channel) -> dict[str, Any]:
    settings = dict(channel.settings or {})
    for key in secret_setting_names(channel.kind, settings):
        if key in settings:
            settings[key] = mask_secret(settings[key])
    return settings


def settings_with_kept_secrets(channel: Channel, incoming: dict[str, Any]) -> dict[str, Any]:
    """Incoming settings where a masked credential sent back unchanged (an edit form, a
    client that round-trips GET into PATCH) keeps the stored value instead of the mask."""
    current = channel.settings or {}
    result = dict(incoming)
    for key in secret_setting_names(channel.kind, {**current, **incoming}):
        if key in result and key in current and result[key] == mask_secret(current[key]):
            result[key] = current[key]
    return result


# --- conversations ----------------------------------------------------------------------


def _last_message(field: str) -> Subquery:
    return Subquery(
        Message.objects.filter(conversation=OuterRef("pk")).order_by("-at", "-pk").values(field)[:1]
    )


def conversation_list(
    *,
    user: Any,
    status: str | None = None,
    dealer_center_id: int | None = None,
    assigned_to_id: int | None = None,
    unassigned: bool = False,
    active_dealer_center_id: int | None = None,
) -> QuerySet[Conversation]:
    """Conversations the user sees; waiting ones come oldest waiting first (the queue)."""
    queryset = scope_queryset(
        Conversation.objects.select_related("client", "channel", "assigned_to", "dealer_center"),
        user,
        active_dealer_center_id=active_dealer_center_id,
    )
    if status:
        queryset = queryset.filter(status=status)
    if dealer_center_id is not None:
        queryset = queryset.filter(dealer_center_id=dealer_center_id)
    if assigned_to_id is not None:
        queryset = queryset.filter(assigned_to_id=assigned_to_id)
    if unassigned:
        queryset = queryset.filter(assigned_to__isnull=True)
    queryset = queryset.annotate(
        last_message_text=_last_message("text"),
        last_message_direction=_last_message("direction"),
    )
    if status == ConversationStatus.WAITING:
        return queryset.order_by(F("waiting_since").asc(nulls_last=True), "pk")
    return queryset.order_by(F("last_message_at").desc(nulls_last=True), "-pk")


def conversation_get(*, user: Any, conversation_id: int) -> Conversation | None:
    return (
        scope_queryset(
            Conversation.objects.select_related("client", "channel", "assigned_to"), user
        )
        .filter(pk=conversation_id)
        .first()
    )


def message_list(*, user: Any) -> QuerySet[Message]:
    """Messages of the conversations the user sees."""
    return scope_queryset(
        Message.objects.select_related("conversation", "channel"),
        user,
        field="conversation__dealer_center",
    )


def assignable_users(*, dealer_center_id: int | None) -> QuerySet[Any]:
    """Who may be handed a conversation of this dealer center: the contact center's
    operators (they serve every dealer center) and that dealer center's sales managers
    and head. A conversation routed nowhere yet goes to an operator."""
    condition = Q(roles__code=RoleCode.OPERATOR)
    if dealer_center_id is not None:
        condition |= Q(
            roles__code__in=[RoleCode.SALES_MANAGER, RoleCode.HEAD],
            dealer_centers=dealer_center_id,
        )
    users = get_user_model().objects.filter(condition, is_active=True)
    return (
        get_user_model()
        .objects.filter(pk__in=users.values("pk"))
        .order_by("last_name", "first_name", "username")
    )


def telephony_channel_for(*, user: Any, channel_id: int | None = None) -> Channel | None:
    """The PBX an employee's click-to-call goes through: the one asked for (if he may see
    it), else an active telephony channel with a PBX address of his dealer centers, else a
    group-wide one."""
    visible = visible_dealer_center_ids(user)
    channels = [
        c
        for c in Channel.objects.filter(kind=ChannelKind.TELEPHONY, is_active=True).order_by("pk")
        if c.settings.get("api_base_url")
        and (visible is None or c.dealer_center_id is None or c.dealer_center_id in visible)
    ]
    if channel_id is not None:
        return next((c for c in channels if c.pk == channel_id), None)
    own = [c for c in channels if c.dealer_center_id is not None]
    return (own or channels)[0] if channels else None


# Channels by (kind, webhook key), re-read after a few seconds: every webhook needs its
# channel, and under load that lookup was a query per request. Another process's change
# (a deactivated channel, a rotated secret) takes effect within this time; this process's
# own changes through the services at once.
CHANNEL_CACHE_SECONDS = 5.0
_webhook_channels: dict[tuple[str, str], tuple[float, Channel | None]] = {}


def channel_for_webhook(*, kind: str, key: str) -> Channel | None:
    """The active channel a webhook URL names, or None."""
    now = time.monotonic()
    cached = _webhook_channels.get((kind, key))
    if cached is not None and now - cached[0] < CHANNEL_CACHE_SECONDS:
        return cached[1]
    channel = Channel.objects.filter(kind=kind, webhook_key=key, is_active=True).first()
    if len(_webhook_channels) > 1000:  # keys are unguessable: probes must not grow it
        _webhook_channels.clear()
    _webhook_channels[(kind, key)] = (now, channel)
    return channel


def forget_webhook_channels() -> None:
    _webhook_channels.clear()


def notifications_for(*, user: Any) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user).order_by("-created_at", "-pk")


def notification_preferences_for(*, user: Any) -> dict[str, tuple[bool, bool]]:
    """(in the app, by e-mail) per notification kind, the defaults filled in: in the app
    always, by e-mail for ``EMAIL_BY_DEFAULT``."""
    saved = {
        kind: (in_app, email)
        for kind, in_app, email in NotificationPreference.objects.filter(user=user).values_list(
            "kind", "in_app", "email"
        )
    }
    return {
        kind: saved.get(kind, (True, kind in EMAIL_BY_DEFAULT)) for kind in NotificationKind.values
    }
