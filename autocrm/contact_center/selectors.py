"""Reads of the operator's workplace: the queue of waiting conversations and the call
ringing on his extension."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from autocrm.communications.models import Call, CallStatus, Conversation, ConversationStatus
from autocrm.communications.selectors import assignable_users, conversation_list

# A "ringing" event whose "answered"/"finished" never came must not pop up forever.
RINGING_WINDOW = timedelta(minutes=2)

INBOX_FILTERS = ("all", "mine", "unassigned")


def inbox_queue(
    *, user: Any, show: str = "all", active_dealer_center_id: int | None = None
) -> QuerySet[Conversation]:
    """Conversations waiting for an answer that the user sees, oldest waiting first."""
    return conversation_list(
        user=user,
        status=ConversationStatus.WAITING,
        assigned_to_id=user.pk if show == "mine" else None,
        unassigned=show == "unassigned",
        active_dealer_center_id=active_dealer_center_id,
    )


def assignees_by_dealer_center(
    dealer_center_ids: Iterable[int | None],
) -> dict[int | None, list[Any]]:
    """Who each listed dealer center's conversations may be handed to (one query each)."""
    return {
        dealer_center_id: list(assignable_users(dealer_center_id=dealer_center_id))
        for dealer_center_id in set(dealer_center_ids)
    }


def ringing_call_for(*, user: Any, seen_ids: Iterable[int] = ()) -> Call | None:
    """The newest call ringing on the user's extension right now, unless he dismissed it."""
    extension = (getattr(user, "phone_extension", "") or "").strip()
    if not extension:
        return None
    return (
        Call.objects.filter(
            status=CallStatus.RINGING,
            operator_extension=extension,
            started_at__gte=timezone.now() - RINGING_WINDOW,
        )
        .exclude(pk__in=list(seen_ids))
        .select_related("client")
        .order_by("-started_at", "-pk")
        .first()
    )


def ringing_call_get(*, user: Any, call_id: int) -> Call | None:
    """A call that rang on the user's extension (what the pop-up's buttons act on)."""
    extension = (getattr(user, "phone_extension", "") or "").strip()
    if not extension:
        return None
    return (
        Call.objects.filter(pk=call_id, operator_extension=extension)
        .select_related("client")
        .first()
    )
