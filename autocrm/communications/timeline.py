"""Timeline sources of the communications app: messages, calls, form submissions, visits.

Registered from ``CommunicationsConfig.ready``; see ``autocrm.clients.timeline``. Each
source reads through its ``(client, -at, -id)`` index (``message_timeline``,
``call_timeline``, ``form_timeline``, ``visit_timeline``) and fetches what one page shows
in a fixed number of queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import Prefetch
from django.urls import reverse
from django.utils.translation import gettext as _

from autocrm.clients.timeline import (
    Cursor,
    TimelineItem,
    choice_labels,
    keyset_page,
    register_card_panel,
    register_timeline_source,
)
from autocrm.communications.models import (
    Attachment,
    Call,
    CallStatus,
    ChannelKind,
    Direction,
    FormSubmission,
    Message,
    MessageStatus,
    Visit,
    VisitPurpose,
)

# Enough of a user to show his name (``User.display_name``).
USER_NAME_FIELDS = ("username", "first_name", "last_name", "middle_name")
MESSAGE_FIELDS = (
    "client_id",
    "conversation_id",
    "channel_id",
    "author_id",
    "direction",
    "text",
    "status",
    "status_reason",
    "subject",
    "at",
)


def _web_url(url: str) -> str | None:
    """The URL if it is a web address; a PBX could send ``javascript:`` or worse, and the
    card turns this into a link."""
    return url if url.lower().startswith(("https://", "http://")) else None


def _user_name(user: Any) -> str | None:
    return None if user is None else str(user.display_name)


def message_items(
    *,
    client_ids: Sequence[int],
    limit: int,
    before: Cursor | None = None,
    after: Cursor | None = None,
) -> list[TimelineItem]:
    # Only what the item shows: a channel row carries its settings (JSON), a user row
    # a dozen columns, and a page reads up to a hundred of them.
    queryset = (
        Message.objects.select_related("channel", "author")
        .only(
            *MESSAGE_FIELDS,
            "channel__kind",
            "channel__name",
            *(f"author__{name}" for name in USER_NAME_FIELDS),
        )
        .prefetch_related(
            Prefetch(
                "attachments",
                queryset=Attachment.objects.only(
                    "message_id", "file", "name", "content_type", "size"
                ).order_by("pk"),
            )
        )
    )
    rows = keyset_page(
        queryset, kind="message", client_ids=client_ids, limit=limit, before=before, after=after
    )
    kinds, statuses = choice_labels(ChannelKind), choice_labels(MessageStatus)
    items = []
    for message in rows:
        attachments = [
            {
                "id": attachment.pk,
                "name": attachment.name,
                "content_type": attachment.content_type,
                "size": attachment.size,
                "downloaded": bool(attachment.file),
                "url": reverse("communications:attachment", args=[attachment.pk])
                if attachment.file
                else None,
            }
            for attachment in message.attachments.all()
        ]
        outbound = message.direction == Direction.OUTBOUND
        items.append(
            TimelineItem(
                kind="message",
                id=message.pk,
                at=message.at,
                channel=message.channel.kind,
                direction=message.direction,
                text=message.text,
                data={
                    "channel_label": kinds.get(message.channel.kind, message.channel.kind),
                    "channel_id": message.channel_id,
                    "channel_name": message.channel.name,
                    "conversation_id": message.conversation_id,
                    "subject": message.subject,
                    "status": message.status,
                    "status_label": statuses.get(message.status, message.status),
                    "status_reason": message.status_reason,
                    "author": _user_name(message.author),
                    "author_id": message.author_id,
                    "attachments": attachments,
                },
                links={
                    "status": reverse("communications:message_status", args=[message.pk])
                    if outbound
                    else None,
                    "polling": outbound and message.status == MessageStatus.QUEUED,
                },
            )
        )
    return items


def call_items(
    *,
    client_ids: Sequence[int],
    limit: int,
    before: Cursor | None = None,
    after: Cursor | None = None,
) -> list[TimelineItem]:
    rows = keyset_page(
        Call.objects.select_related("operator").only(
            "client_id",
            "channel_id",
            "direction",
            "client_number",
            "line",
            "operator_extension",
            "status",
            "started_at",
            "answered_at",
            "ended_at",
            "duration_seconds",
            "recording_url",
            *(f"operator__{name}" for name in USER_NAME_FIELDS),
        ),
        kind="call",
        client_ids=client_ids,
        limit=limit,
        before=before,
        after=after,
        at_field="started_at",
    )
    statuses = choice_labels(CallStatus)
    channel_label = str(ChannelKind.TELEPHONY.label)
    return [
        TimelineItem(
            kind="call",
            id=call.pk,
            at=call.started_at,
            channel=ChannelKind.TELEPHONY.value,
            direction=call.direction,
            text="",
            data={
                "channel_label": channel_label,
                "channel_id": call.channel_id,
                "status": call.status,
                "status_label": statuses.get(call.status, call.status),
                "client_number": call.client_number,
                "line": call.line,
                "operator": _user_name(call.operator),
                "operator_extension": call.operator_extension,
                "answered_at": call.answered_at,
                "ended_at": call.ended_at,
                "duration_seconds": call.duration_seconds,
                "recording_url": _web_url(call.recording_url),
            },
        )
        for call in rows
    ]


def form_items(
    *,
    client_ids: Sequence[int],
    limit: int,
    before: Cursor | None = None,
    after: Cursor | None = None,
) -> list[TimelineItem]:
    rows = keyset_page(
        FormSubmission.objects.select_related("channel").defer("channel__settings"),
        kind="form",
        client_ids=client_ids,
        limit=limit,
        before=before,
        after=after,
    )
    channel_label = str(ChannelKind.WEBFORM.label)
    return [
        TimelineItem(
            kind="form",
            id=submission.pk,
            at=submission.at,
            channel=ChannelKind.WEBFORM.value,
            direction=Direction.INBOUND.value,
            text=submission.message,
            data={
                "channel_label": channel_label,
                "channel_id": submission.channel_id,
                "channel_name": submission.channel.name,
                "topic": submission.topic,
                "name": submission.name,
                "phone": submission.phone,
                "email": submission.email,
                "vehicle_id": submission.vehicle_id,
                "vehicle": submission.vehicle_text,
                "utm": dict(submission.utm or {}),
                "page_url": submission.page_url,
            },
        )
        for submission in rows
    ]


def visit_items(
    *,
    client_ids: Sequence[int],
    limit: int,
    before: Cursor | None = None,
    after: Cursor | None = None,
) -> list[TimelineItem]:
    rows = keyset_page(
        Visit.objects.select_related("dealer_center", "manager").only(
            "client_id",
            "dealer_center_id",
            "manager_id",
            "purpose",
            "note",
            "at",
            "dealer_center__name",
            *(f"manager__{name}" for name in USER_NAME_FIELDS),
        ),
        kind="visit",
        client_ids=client_ids,
        limit=limit,
        before=before,
        after=after,
    )
    purposes = choice_labels(VisitPurpose)
    channel_label = str(_("Showroom visit"))
    return [
        TimelineItem(
            kind="visit",
            id=visit.pk,
            at=visit.at,
            channel="visit",
            direction=Direction.INBOUND.value,
            text=visit.note,
            data={
                "channel_label": channel_label,
                "purpose": visit.purpose,
                "purpose_label": purposes.get(visit.purpose, visit.purpose),
                "dealer_center_id": visit.dealer_center_id,
                "dealer_center": visit.dealer_center.name,
                "manager": _user_name(visit.manager),
                "manager_id": visit.manager_id,
            },
        )
        for visit in rows
    ]


def register() -> None:
    register_timeline_source("message", message_items)
    register_timeline_source("call", call_items)
    register_timeline_source("form", form_items)
    register_timeline_source("visit", visit_items)
    # The reply box on the client card.
    register_card_panel("reply", lambda client: reverse("communications:reply", args=[client.pk]))
    register_card_panel(
        "call", lambda client: reverse("communications:call_panel", args=[client.pk])
    )
