"""Every write of the communications app: channels, the inbox, conversations, messages,
calls, form submissions, visits and notifications."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Field
from django.utils import timezone
from django.utils.translation import gettext as _

from autocrm.clients.models import Client
from autocrm.communications.channels import get_adapter
from autocrm.communications.channels.base import (
    CallEvent,
    FormData,
    InboundMessage,
    RawEvent,
    SendError,
)
from autocrm.communications.models import (
    MESSAGING_KINDS,
    Attachment,
    Call,
    CallStatus,
    Channel,
    ChannelKind,
    Conversation,
    ConversationStatus,
    Direction,
    FormSubmission,
    InboundEvent,
    InboundStatus,
    Message,
    MessageStatus,
    MessageStatusChange,
    Notification,
    NotificationKind,
    NotificationPreference,
    Visit,
    VisitPurpose,
)
from autocrm.communications.selectors import (
    forget_webhook_channels,
    notification_preferences_for,
)
from autocrm.core.audit import user_or_none
from autocrm.core.bulk import update_rows
from autocrm.core.errors import Conflict, NotFound, ValidationFailed

logger = logging.getLogger(__name__)

# Inbound processing and outbound delivery are retried with growing pauses, then given up
# (and shown to the administrator as failed).
INBOX_MAX_ATTEMPTS = 8
OUTBOX_MAX_ATTEMPTS = 6


def retry_delay(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s ... capped at an hour."""
    return timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), 3600))


# --- channels ---------------------------------------------------------------------------


def channel_create(
    *,
    actor: Any = None,
    kind: str,
    name: str,
    dealer_center_id: int | None = None,
    site_id: int | None = None,
    settings: dict[str, Any] | None = None,
) -> Channel:
    if kind not in ChannelKind.values:
        raise ValidationFailed(_("Unknown channel kind."), field="kind")
    if not name.strip():
        raise ValidationFailed(_("Enter a name."), field="name")
    cleaned = get_adapter(kind).clean_settings(dict(settings or {}))
    forget_webhook_channels()
    with transaction.atomic():
        return Channel.objects.create(
            kind=kind,
            name=name.strip()[:200],
            dealer_center_id=dealer_center_id,
            site_id=site_id,
            settings=cleaned,
        )


def channel_update(
    *,
    actor: Any = None,
    channel: Channel,
    name: str | None = None,
    settings: dict[str, Any] | None = None,
    is_active: bool | None = None,
) -> Channel:
    with transaction.atomic():
        if name is not None:
            if not name.strip():
                raise ValidationFailed(_("Enter a name."), field="name")
            channel.name = name.strip()[:200]
        if settings is not None:
            channel.settings = get_adapter(channel.kind).clean_settings(
                {**channel.settings, **settings}
            )
        if is_active is not None:
            channel.is_active = is_active
        channel.save()
    forget_webhook_channels()
    return channel


# --- inbox ------------------------------------------------------------------------------


def inbox_store(*, channel: Channel, events: list[RawEvent]) -> int:
    """Store raw events once each (a repeat of an ``external_id`` is ignored); returns
    how many were new. The inbox worker (``sales``' ``process_inbox``) picks them up.

    One ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` statement: atomic on its own, it
    needs no surrounding transaction, and a concurrent delivery of the same event cannot
    slip between a check and the insert. This is the hottest write of the system (every
    webhook), so it skips the ORM's per-row model instances.
    """
    if not events:
        return 0
    now = timezone.now()
    meta = InboundEvent._meta
    names = (
        "channel_id",
        "external_id",
        "received_at",
        "headers",
        "body",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
    )
    fields = [cast("Field[Any, Any]", meta.get_field(name)) for name in names]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    params: list[Any] = []
    for event in events:
        row_values = (
            channel.pk,
            event.external_id,
            now,
            event.headers,
            event.body,
            InboundStatus.PENDING.value,
            0,
            now,
            "",
        )
        params.extend(
            field.get_db_prep_save(value, connection)
            for field, value in zip(fields, row_values, strict=True)
        )
    # Names come from the model's metadata, values are parameters.
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES "  # noqa: S608
        + ", ".join([row] * len(events))
        + f" ON CONFLICT DO NOTHING RETURNING {quote(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return len(cursor.fetchall())


def inbox_lock(event_id: int) -> InboundEvent | None:
    """Lock one pending event for processing inside the caller's transaction, or None if
    another worker holds it or it is no longer pending."""
    # ``of=("self",)``: lock the event only. A FOR UPDATE on the joined channel row would
    # block every webhook storing an event of that channel (its foreign-key check takes
    # FOR KEY SHARE on the channel) until this event's transaction ends, and make a second
    # worker skip all of the channel's events.
    qs = InboundEvent.objects.select_for_update(skip_locked=True, of=("self",)).select_related(
        "channel"
    )
    event = qs.filter(pk=event_id, status=InboundStatus.PENDING).first()
    return event


def inbox_lock_due(*, limit: int = 50, now: datetime | None = None) -> list[InboundEvent]:
    """Lock up to ``limit`` due pending events (oldest first) inside the caller's
    transaction; events other workers hold are skipped."""
    now = now or timezone.now()
    return list(
        InboundEvent.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("channel")
        .filter(status=InboundStatus.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "pk")[:limit]
    )


def inbox_mark_done_many(*, events: list[InboundEvent], ignored: list[InboundEvent]) -> None:
    """``inbox_mark_done`` for many locked events at once (one UPDATE per outcome)."""
    now = timezone.now()
    for group, status in ((events, InboundStatus.DONE), (ignored, InboundStatus.IGNORED)):
        if group:
            InboundEvent.objects.filter(pk__in=[event.pk for event in group]).update(
                status=status, processed_at=now, attempts=F("attempts") + 1, last_error=""
            )


def inbox_mark_done(*, event: InboundEvent, ignored: bool = False) -> None:
    event.status = InboundStatus.IGNORED if ignored else InboundStatus.DONE
    event.processed_at = timezone.now()
    event.attempts += 1
    event.last_error = ""
    event.save(update_fields=["status", "processed_at", "attempts", "last_error"])


def inbox_mark_failed(*, event_id: int, error: str) -> InboundEvent:
    """Record a failed attempt; retried later with a growing pause, then given up."""
    with transaction.atomic():
        event = InboundEvent.objects.select_for_update().get(pk=event_id)
        event.attempts += 1
        event.last_error = error[:4000]
        if event.attempts >= INBOX_MAX_ATTEMPTS:
            event.status = InboundStatus.FAILED
        else:
            event.next_attempt_at = timezone.now() + retry_delay(event.attempts)
        event.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])
    return event


def inbox_retry(*, actor: Any = None, event_ids: list[int]) -> int:
    """Administrator's "try again" for failed events."""
    with transaction.atomic():
        count = InboundEvent.objects.filter(pk__in=event_ids, status=InboundStatus.FAILED).update(
            status=InboundStatus.PENDING, next_attempt_at=timezone.now(), attempts=0
        )
    return count


# --- conversations and messages ----------------------------------------------------------


def _conversation_for_inbound(
    channel: Channel, client: Client, item: InboundMessage
) -> Conversation:
    conversation: Conversation | None = None
    if channel.kind == ChannelKind.EMAIL:
        # E-mail threads by the ids the answer refers to, newest reference first.
        refs = [r for r in (item.in_reply_to, *reversed(item.references.split())) if r]
        if refs:
            parent = (
                Message.objects.filter(channel=channel, message_id_header__in=refs)
                .select_related("conversation")
                .order_by("-at")
                .first()
            )
            if parent is not None:
                conversation = parent.conversation
    if conversation is None:
        conversation = (
            Conversation.objects.filter(channel=channel, client=client, external_thread=item.thread)
            .exclude(status=ConversationStatus.CLOSED)
            .order_by("-pk")
            .first()
        )
        # A new e-mail that answers nothing and has another subject starts its own thread.
        if (
            conversation is not None
            and channel.kind == ChannelKind.EMAIL
            and item.subject
            and not item.in_reply_to
            and conversation.subject != item.subject
        ):
            conversation = None
    if conversation is None:
        conversation = Conversation.objects.create(
            channel=channel,
            client=client,
            external_thread=item.thread[:300],
            subject=item.subject[:500],
            dealer_center_id=channel.dealer_center_id,
            status=ConversationStatus.WAITING,
            waiting_since=item.at,
            last_message_at=item.at,
        )
    return conversation


def message_record_inbound(
    *, channel: Channel, client: Client, item: InboundMessage
) -> tuple[Message, bool]:
    """Store a client's message once; a repeat of its provider id returns the first one."""
    existing = Message.objects.filter(
        channel=channel, direction=Direction.INBOUND, external_id=item.external_id
    ).first()
    if existing is not None:
        return existing, False
    with transaction.atomic():
        conversation = _conversation_for_inbound(channel, client, item)
        try:
            with transaction.atomic():
                message = Message.objects.create(
                    conversation=conversation,
                    # The conversation's client (an e-mail reply may continue a thread of
                    # another card); the one in hand when it is him, saving a query.
                    client=client if conversation.client_id == client.pk else conversation.client,
                    channel=channel,
                    direction=Direction.INBOUND,
                    text=item.text,
                    external_id=item.external_id,
                    status=MessageStatus.RECEIVED,
                    at=item.at,
                    subject=item.subject[:500],
                    message_id_header=item.message_id_header[:500],
                    in_reply_to=item.in_reply_to[:500],
                    references=item.references,
                )
        except IntegrityError:
            return (
                Message.objects.get(
                    channel=channel, direction=Direction.INBOUND, external_id=item.external_id
                ),
                False,
            )
        for ref in item.attachments:
            attachment = Attachment(
                message=message,
                name=ref.name[:255] or "file",
                content_type=ref.content_type[:100],
                size=ref.size or (len(ref.content) if ref.content else 0),
                external_ref=ref.external_ref[:500],
            )
            if ref.content is not None:
                attachment.file.save(attachment.name, ContentFile(ref.content), save=False)
            attachment.save()
            if not attachment.file and attachment.external_ref:
                _fetch_later(channel, attachment.pk)
        updates: dict[str, Any] = {"last_message_at": item.at}
        if conversation.status != ConversationStatus.WAITING or conversation.waiting_since is None:
            updates.update(status=ConversationStatus.WAITING, waiting_since=item.at)
        Conversation.objects.filter(pk=conversation.pk).update(**updates, updated_at=timezone.now())
    return message, True


def _fetch_later(channel: Channel, attachment_id: int) -> None:
    """After commit, download a provider-held file (when the adapter can)."""
    if hasattr(get_adapter(channel.kind), "fetch_attachment"):
        transaction.on_commit(lambda: _enqueue_fetch(attachment_id))


def _enqueue_fetch(attachment_id: int) -> None:
    from autocrm.communications.tasks import fetch_attachment

    try:
        fetch_attachment.enqueue(attachment_id)
    except Exception:
        logger.exception("could not enqueue the download of attachment %s", attachment_id)


def attachment_fetch(*, attachment_id: int) -> Attachment:
    """Download a file the provider keeps (``external_ref``) and store it.

    Nothing to do when the file is stored already, has no provider reference, or its
    channel cannot download. Raises the adapter's SendError: ``retryable`` ones (network,
    5xx) are worth another try later; others (e.g. a file over 20 MB) are final.
    """
    attachment = (
        Attachment.objects.select_related("message__channel").filter(pk=attachment_id).first()
    )
    if attachment is None:
        raise NotFound(_("No such attachment."))
    if attachment.file or not attachment.external_ref:
        return attachment
    channel = attachment.message.channel
    fetch = getattr(get_adapter(channel.kind), "fetch_attachment", None)
    if fetch is None:
        return attachment
    # The provider call runs outside any transaction: a slow download holds no lock.
    content, content_type = fetch(channel, attachment)
    with transaction.atomic():
        locked = Attachment.objects.select_for_update().get(pk=attachment_id)
        if locked.file:  # another worker was quicker
            return locked
        locked.file.save(locked.name, ContentFile(content), save=False)
        locked.size = len(content)
        locked.content_type = (content_type or locked.content_type)[:100]
        locked.save(update_fields=["file", "size", "content_type"])
    return locked


@dataclass
class KnownSenderMessage:
    """An inbound message whose sender is already a client (for the bulk path)."""

    channel: Channel
    client_id: int
    item: InboundMessage


def messages_record_inbound_bulk(*, entries: list[KnownSenderMessage]) -> list[Message | None]:
    """``message_record_inbound`` for many messages at once, in a few statements.

    Takes the common case only: a chat message (no e-mail threading, no attachments) not
    stored before, in a conversation that is open. For each entry returns the created
    message, or None for one this path leaves alone (a repeat, a first message that opens
    a conversation, an e-mail ...): the caller records those with
    ``message_record_inbound``, which gives the same result one by one.
    Runs inside the caller's transaction.
    """
    results: list[Message | None] = [None] * len(entries)
    candidates = [
        index
        for index, entry in enumerate(entries)
        if entry.channel.kind in MESSAGING_KINDS
        and entry.channel.kind != ChannelKind.EMAIL
        and not entry.item.attachments
        and entry.item.external_id
    ]
    if not candidates:
        return results
    channel_ids = {entries[i].channel.pk for i in candidates}
    stored = set(
        Message.objects.filter(
            channel_id__in=channel_ids,
            direction=Direction.INBOUND,
            external_id__in=[entries[i].item.external_id for i in candidates],
        ).values_list("channel_id", "external_id")
    )
    conversations: dict[tuple[int, int, str], Conversation] = {}
    for conversation in (
        Conversation.objects.select_for_update()
        .filter(
            channel_id__in=channel_ids,
            client_id__in={entries[i].client_id for i in candidates},
            external_thread__in={entries[i].item.thread[:300] for i in candidates},
        )
        .exclude(status=ConversationStatus.CLOSED)
        .order_by("pk")
    ):
        # The newest open one wins, as in ``_conversation_for_inbound``.
        key = (conversation.channel_id, conversation.client_id, conversation.external_thread)
        conversations[key] = conversation
    new_messages: list[tuple[int, Message]] = []
    touched: dict[int, Conversation] = {}
    for index in sorted(candidates, key=lambda i: (entries[i].item.at, i)):
        entry = entries[index]
        item = entry.item
        found = conversations.get((entry.channel.pk, entry.client_id, item.thread[:300]))
        if found is None or (entry.channel.pk, item.external_id) in stored:
            continue
        conversation = found
        stored.add((entry.channel.pk, item.external_id))
        new_messages.append(
            (
                index,
                Message(
                    conversation=conversation,
                    client_id=conversation.client_id,
                    channel=entry.channel,
                    direction=Direction.INBOUND,
                    text=item.text,
                    external_id=item.external_id,
                    status=MessageStatus.RECEIVED,
                    at=item.at,
                    subject=item.subject[:500],
                ),
            )
        )
        if conversation.status != ConversationStatus.WAITING or conversation.waiting_since is None:
            conversation.status = ConversationStatus.WAITING
            conversation.waiting_since = item.at
        conversation.last_message_at = item.at
        touched[conversation.pk] = conversation
    if not new_messages:
        return results
    Message.objects.bulk_create([message for _, message in new_messages])
    now = timezone.now()
    for conversation in touched.values():
        conversation.updated_at = now
    update_rows(
        Conversation, touched.values(), ["status", "waiting_since", "last_message_at", "updated_at"]
    )
    for index, message in new_messages:
        results[index] = message
    return results


def _set_message_status(message: Message, status: str, reason: str = "") -> None:
    MessageStatusChange.objects.create(
        message=message, from_status=message.status, to_status=status, reason=reason[:2000]
    )
    message.status = status
    message.status_reason = reason[:2000]


def message_send(
    *,
    actor: Any,
    conversation: Conversation,
    text: str,
    subject: str = "",
) -> Message:
    """Queue an answer in the conversation's channel; it is sent after commit."""
    text = (text or "").strip()
    if not text:
        raise ValidationFailed(_("Write the message."), field="text")
    if len(text) > 4096 and conversation.channel.kind != ChannelKind.EMAIL:
        raise ValidationFailed(_("The message is longer than 4096 characters."), field="text")
    if conversation.channel.kind not in MESSAGING_KINDS:
        raise ValidationFailed(_("This channel does not carry messages."), field="channel")
    now = timezone.now()
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if conversation.channel.kind == ChannelKind.EMAIL:
            last_in = (
                conversation.messages.filter(direction=Direction.INBOUND)
                .order_by("-at", "-pk")
                .first()
            )
            subject = subject or (conversation.subject or "")
            if last_in is not None and subject and not subject.lower().startswith("re:"):
                subject = f"Re: {subject}"
        message = Message.objects.create(
            conversation=conversation,
            client_id=conversation.client_id,
            channel=conversation.channel,
            direction=Direction.OUTBOUND,
            text=text,
            status=MessageStatus.QUEUED,
            author=user_or_none(actor),
            at=now,
            subject=subject[:500],
            next_attempt_at=now,
        )
        MessageStatusChange.objects.create(message=message, to_status=MessageStatus.QUEUED)
        updates: dict[str, Any] = {
            "status": ConversationStatus.ANSWERED,
            "waiting_since": None,
            "last_message_at": now,
        }
        if conversation.first_response_at is None and conversation.waiting_since is not None:
            updates["first_response_at"] = now
            updates["first_response_seconds"] = max(
                int((now - conversation.waiting_since).total_seconds()), 0
            )
        if conversation.assigned_to_id is None and getattr(actor, "is_authenticated", False):
            updates["assigned_to"] = actor
        for key, value in updates.items():
            setattr(conversation, key, value)
        conversation.save()
        transaction.on_commit(lambda: _enqueue_delivery(message.pk))
    return message


def _enqueue_delivery(message_id: int) -> None:
    from autocrm.communications.tasks import deliver_message

    try:
        deliver_message.enqueue(message_id)
    except Exception:
        logger.exception("could not enqueue delivery of message %s", message_id)


def message_deliver(*, message_id: int) -> Message:
    """One delivery attempt of a queued outbound message (the task calls this)."""
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(skip_locked=True)
            .select_related("channel", "conversation")
            .filter(pk=message_id, status=MessageStatus.QUEUED)
            .first()
        )
        if message is None:
            return Message.objects.get(pk=message_id)
        # The provider call is made with the row locked, so two workers never send it twice.
        adapter = get_adapter(message.channel.kind)
        message.attempts += 1
        try:
            result = adapter.send(message.channel, message)
        except SendError as error:
            if error.retryable and message.attempts < OUTBOX_MAX_ATTEMPTS:
                message.status_reason = error.reason[:2000]
                message.next_attempt_at = timezone.now() + retry_delay(message.attempts)
            else:
                _set_message_status(message, MessageStatus.FAILED, error.reason)
                message.next_attempt_at = None
        except Exception as error:  # an adapter bug must not lose the message
            logger.exception("sending message %s failed", message_id)
            if message.attempts < OUTBOX_MAX_ATTEMPTS:
                message.status_reason = str(error)[:2000]
                message.next_attempt_at = timezone.now() + retry_delay(message.attempts)
            else:
                _set_message_status(message, MessageStatus.FAILED, str(error))
        else:
            message.external_id = result.external_id[:300] or None
            if result.message_id_header:
                message.message_id_header = result.message_id_header[:500]
            _set_message_status(message, MessageStatus.SENT)
            message.next_attempt_at = None
        try:
            with transaction.atomic():
                message.save()
        except IntegrityError:
            # The provider reused an id we already hold: the message did go out, so it must
            # not stay queued (and be sent again); keep it without the provider's id.
            logger.warning("provider id %s of message %s is taken", message.external_id, message.pk)
            message.status_reason = f"duplicate provider id {message.external_id}"
            message.external_id = None
            message.save()
    return message


def outbox_due(*, limit: int = 100) -> list[int]:
    return list(
        Message.objects.filter(
            status=MessageStatus.QUEUED, next_attempt_at__lte=timezone.now()
        ).values_list("pk", flat=True)[:limit]
    )


# Provider statuses only move forward; "failed" may come at any point.
_STATUS_RANK: dict[str, int] = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENT: 1,
    MessageStatus.DELIVERED: 2,
    MessageStatus.READ: 3,
}


def message_status_apply(
    *, channel: Channel, external_id: str, status: str, reason: str = ""
) -> Message | None:
    """Apply a provider's delivery report; unknown message ids are ignored."""
    if status not in MessageStatus.values:
        raise ValidationFailed(_("Unknown message status."), field="status")
    with transaction.atomic():
        message = (
            Message.objects.select_for_update()
            .filter(channel=channel, direction=Direction.OUTBOUND, external_id=external_id)
            .first()
        )
        if message is None or message.status == status:
            return message
        if status != MessageStatus.FAILED and _STATUS_RANK.get(status, 0) <= _STATUS_RANK.get(
            message.status, -1
        ):
            return message
        if message.status == MessageStatus.FAILED:
            return message
        _set_message_status(message, status, reason)
        message.save(update_fields=["status", "status_reason"])
    return message


def conversation_take(*, actor: Any, conversation: Conversation) -> Conversation:
    """The operator takes the conversation; someone else's is refused."""
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if conversation.assigned_to_id not in (None, actor.pk):
            raise Conflict(_("Another operator has taken this conversation."), field="assigned_to")
        conversation.assigned_to = actor
        conversation.save(update_fields=["assigned_to", "updated_at"])
    return conversation


def conversation_assign(*, actor: Any, conversation: Conversation, user: Any) -> Conversation:
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        conversation.assigned_to = user
        conversation.save(update_fields=["assigned_to", "updated_at"])
    return conversation


def conversation_close(*, actor: Any, conversation: Conversation) -> Conversation:
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        conversation.status = ConversationStatus.CLOSED
        conversation.waiting_since = None
        conversation.save(update_fields=["status", "waiting_since", "updated_at"])
    return conversation


# --- calls, forms, visits -----------------------------------------------------------------


def call_event_apply(
    *, channel: Channel, client: Client | None, item: CallEvent, operator: Any = None
) -> tuple[Call, bool]:
    """Create or advance a call from one PBX event; events may arrive out of order."""
    with transaction.atomic():
        call = Call.objects.select_for_update().filter(channel=channel, external_id=item.call_id)
        existing = call.first()
        created = existing is None
        if existing is None:
            try:
                with transaction.atomic():
                    existing = Call.objects.create(
                        channel=channel,
                        external_id=item.call_id[:200],
                        client=client,
                        direction=item.direction,
                        client_number=item.client_number[:20],
                        line=item.line[:50],
                        operator_extension=item.operator_extension[:20],
                        operator=operator,
                        dealer_center_id=channel.dealer_center_id,
                        status=CallStatus.RINGING,
                        started_at=item.started_at or item.at,
                    )
            except IntegrityError:
                existing = Call.objects.select_for_update().get(
                    channel=channel, external_id=item.call_id
                )
                created = False
        c = existing
        if client is not None and c.client_id is None:
            c.client = client
        if item.operator_extension:
            c.operator_extension = item.operator_extension[:20]
        if operator is not None:
            c.operator = operator
        if item.started_at and item.started_at < c.started_at:
            # The call was created by a later event (ringing arrived last).
            c.started_at = item.started_at
        if item.event == "answered":
            c.answered_at = item.answered_at or item.at
            if c.status == CallStatus.RINGING:
                c.status = CallStatus.ANSWERED
        elif item.event == "finished":
            c.ended_at = item.ended_at or item.at
            if item.answered_at and not c.answered_at:
                c.answered_at = item.answered_at
        elif item.event == "recording" and item.recording_url:
            c.recording_url = item.recording_url[:1000]
        if c.ended_at is not None:
            # Recomputed on every event: "answered" may arrive after "finished".
            c.status = CallStatus.FINISHED if c.answered_at else CallStatus.MISSED
            start = c.answered_at or c.started_at
            c.duration_seconds = max(int((c.ended_at - start).total_seconds()), 0)
        c.save()
    return c, created


def form_submission_record(
    *,
    channel: Channel,
    client: Client,
    item: FormData,
    inbound_event: InboundEvent | None = None,
    vehicle_id: int | None = None,
) -> tuple[FormSubmission, bool]:
    if inbound_event is not None:
        existing = FormSubmission.objects.filter(inbound_event=inbound_event).first()
        if existing is not None:
            return existing, False
    with transaction.atomic():
        submission = FormSubmission.objects.create(
            channel=channel,
            client=client,
            inbound_event=inbound_event,
            name=item.sender.name[:300],
            phone=(item.sender.phone or "")[:20],
            email=(item.sender.email or "")[:254],
            message=item.message,
            topic=item.topic[:200],
            vehicle_id=vehicle_id,
            vehicle_text=item.vehicle[:300],
            utm=item.utm,
            page_url=item.page_url[:1000],
            at=item.at or timezone.now(),
        )
    return submission, True


def visit_record(
    *,
    actor: Any,
    client: Client,
    dealer_center_id: int,
    purpose: str,
    manager: Any = None,
    note: str = "",
) -> Visit:
    if purpose not in VisitPurpose.values:
        raise ValidationFailed(_("Choose the purpose of the visit."), field="purpose")
    with transaction.atomic():
        visit = Visit.objects.create(
            client=client,
            dealer_center_id=dealer_center_id,
            purpose=purpose,
            manager=manager,
            registered_by=user_or_none(actor),
            note=note,
        )
    return visit


def notification_create(
    *,
    user: Any,
    text: str,
    url: str = "",
    kind: str = NotificationKind.GENERAL,
    subject: str = "",
) -> Notification | None:
    """Notify an employee in the app and, by his preferences, by e-mail (after commit).

    Returns the in-app notification, or None when he switched this kind off in the app.
    """
    in_app, by_email = notification_preferences_for(user=user)[kind]
    notification = None
    with transaction.atomic():
        if in_app:
            notification = Notification.objects.create(
                user=user, kind=kind, text=text[:500], url=url[:500]
            )
        address = getattr(user, "email", "")
        if by_email and address:
            transaction.on_commit(
                lambda: _mail_notification(
                    address=address, subject=subject or text[:120], text=text, url=url
                )
            )
    return notification


def _mail_notification(*, address: str, subject: str, text: str, url: str) -> None:
    # The in-app notice is already stored; a mail server outage must not undo what caused
    # it, so a failed e-mail is logged and not raised.
    try:
        body = text
        if url:
            # PUBLIC_BASE_URL (when set) makes the link absolute for mail readers.
            base = getattr(settings, "PUBLIC_BASE_URL", "").rstrip("/")
            body = f"{text}\n\n{base}{url}"
        send_mail(subject=subject, message=body, from_email=None, recipient_list=[address])
    except Exception:
        logger.exception("could not e-mail a notification to %s", address)


def notification_preferences_set(*, user: Any, choices: dict[str, tuple[bool, bool]]) -> None:
    """Save an employee's (in_app, email) choice per notification kind."""
    unknown = set(choices) - set(NotificationKind.values)
    if unknown:
        raise ValidationFailed(_("Unknown notification kind."), field="kind")
    with transaction.atomic():
        for kind, (in_app, email) in choices.items():
            NotificationPreference.objects.update_or_create(
                user=user, kind=kind, defaults={"in_app": in_app, "email": email}
            )


def notifications_mark_read(*, user: Any, ids: list[int] | None = None) -> int:
    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    with transaction.atomic():
        return qs.update(read_at=timezone.now())
