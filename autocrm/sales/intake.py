"""The job that turns stored inbound events into clients, messages, calls and requests.

``communications`` stores what arrives and knows nothing of the funnel (ARCHITECTURE.md);
this module reads its inbox, finds or creates the client, records the message, call or
form through the communications services and opens or continues the client's request.

Events are taken in batches, each batch in one transaction with its rows locked (``SKIP
LOCKED`` on PostgreSQL), so several inbox workers can share the inbox. Chat messages of
known clients are recorded set-wise (``_apply_known_senders``); everything else one item
at a time (``_apply``). If anything in a batch fails, the batch is rolled back and redone
one event per transaction, so a failing event neither stops the others nor is half-applied;
it is retried with a growing pause.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from autocrm.clients.models import Client
from autocrm.clients.selectors import client_ids_by_identity, known_client_phones
from autocrm.clients.services import ContactInfo, client_find_or_create, try_normalize_phone
from autocrm.communications.channels import get_adapter
from autocrm.communications.channels.base import (
    CallEvent,
    FormData,
    InboundItem,
    InboundMessage,
    StatusUpdate,
)
from autocrm.communications.models import Channel, ChannelKind, InboundEvent
from autocrm.communications.services import (
    KnownSenderMessage,
    call_event_apply,
    form_submission_record,
    inbox_lock,
    inbox_lock_due,
    inbox_mark_done,
    inbox_mark_done_many,
    inbox_mark_failed,
    message_record_inbound,
    message_status_apply,
    messages_record_inbound_bulk,
)
from autocrm.inventory.models import Vehicle
from autocrm.sales.services import Touch, request_touch, requests_continue_bulk

logger = logging.getLogger(__name__)


def _operator_for_extension(extension: str) -> Any:
    if not extension:
        return None
    return (
        get_user_model()
        .objects.filter(phone_extension=extension, is_active=True)
        .order_by("pk")
        .first()
    )


def _vehicle_id(reference: str) -> int | None:
    """A form's "vehicle of interest": a VIN or our vehicle id."""
    reference = reference.strip()
    if len(reference) == 17:
        vehicle = Vehicle.objects.filter(vin=reference.upper(), in_stock=True).first()
        return vehicle.pk if vehicle else None
    if reference.isdigit() and len(reference) < 12:
        return Vehicle.objects.filter(pk=int(reference)).values_list("pk", flat=True).first()
    return None


def _apply(channel: Channel, event: InboundEvent, item: InboundItem) -> None:
    if isinstance(item, InboundMessage):
        client, _ = client_find_or_create(
            contact=item.sender, dealer_center_id=channel.dealer_center_id, source=channel.kind
        )
        message, created = message_record_inbound(channel=channel, client=client, item=item)
        if created:
            request_touch(
                client=message.client,
                source=channel.kind,
                channel_id=channel.pk,
                dealer_center_id=channel.dealer_center_id,
                topic=item.subject,
                at=item.at,
            )
    elif isinstance(item, StatusUpdate):
        message_status_apply(
            channel=channel, external_id=item.external_id, status=item.status, reason=item.reason
        )
    elif isinstance(item, CallEvent):
        number = try_normalize_phone(item.client_number)
        client = None
        if number:
            client, _ = client_find_or_create(
                contact=ContactInfo(phone=number),
                dealer_center_id=channel.dealer_center_id,
                source=channel.kind,
            )
        call, created = call_event_apply(
            channel=channel,
            client=client,
            item=item,
            operator=_operator_for_extension(item.operator_extension),
        )
        if created and call.client is not None:
            request_touch(
                client=call.client,
                source=channel.kind,
                channel_id=channel.pk,
                dealer_center_id=channel.dealer_center_id,
                at=call.started_at,
            )
    elif isinstance(item, FormData):
        client, _ = client_find_or_create(
            contact=item.sender,
            dealer_center_id=channel.dealer_center_id,
            source=f"webform:{channel.pk}",
        )
        vehicle_id = _vehicle_id(item.vehicle) if item.vehicle else None
        submission, created = form_submission_record(
            channel=channel, client=client, item=item, inbound_event=event, vehicle_id=vehicle_id
        )
        if created:
            request_touch(
                client=client,
                source=channel.kind,
                channel_id=channel.pk,
                dealer_center_id=channel.dealer_center_id,
                topic=item.topic,
                vehicle_id=vehicle_id,
                utm=item.utm,
                at=submission.at,
            )


def process_inbound_event(event_id: int) -> str:
    """Process one stored event: "done", "skipped" (taken or finished elsewhere) or "failed"."""
    try:
        with transaction.atomic():
            event = inbox_lock(event_id)
            if event is None:
                return "skipped"
            channel = event.channel
            items = get_adapter(channel.kind).parse(channel, event.body, event.headers)
            for item in items:
                _apply(channel, event, item)
            inbox_mark_done(event=event, ignored=not items)
    except Exception as error:
        logger.exception("inbound event %s failed", event_id)
        inbox_mark_failed(event_id=event_id, error=f"{type(error).__name__}: {error}")
        return "failed"
    return "done"


# Chat channels whose messages the bulk path takes (e-mail threads by headers instead).
BULK_KINDS = (ChannelKind.TELEGRAM, ChannelKind.WHATSAPP, ChannelKind.VK)


def _apply_known_senders(
    parsed: list[tuple[InboundEvent, list[InboundItem]]],
) -> set[tuple[int, int]]:
    """Record the batch's chat messages from known clients in bulk: a handful of
    statements for the whole batch instead of about fifteen per message. This is most of
    the traffic (people write several messages; only the first one creates anything).

    A message qualifies when its messenger account belongs to a client who already has
    every contact it brings and an open conversation there; everything else (new senders,
    first messages, e-mails, attachments, repeats) is left to ``_apply``, which gives the
    same result one by one. Returns the (event, item) positions taken care of.
    """
    positions: list[tuple[int, int, InboundEvent, InboundMessage]] = []
    for event_index, (event, items) in enumerate(parsed):
        if event.channel.kind not in BULK_KINDS:
            continue
        for item_index, item in enumerate(items):
            if (
                isinstance(item, InboundMessage)
                and item.sender.identity is not None
                and not item.attachments
                and not item.sender.email
                and not item.sender.consents
            ):
                positions.append((event_index, item_index, event, item))
    if not positions:
        return set()
    owners = client_ids_by_identity(
        [
            (item.sender.identity.kind, item.sender.identity.external_id)
            for *_, item in positions
            if item.sender.identity is not None
        ]
    )
    phones: dict[int, tuple[int, str]] = {}
    for position, (*_, item) in enumerate(positions):
        identity = item.sender.identity
        client_id = owners.get((identity.kind, identity.external_id)) if identity else None
        number = try_normalize_phone(item.sender.phone)
        if client_id is not None and number:
            phones[position] = (client_id, number)
    known_phones = known_client_phones(set(phones.values()))
    entries: list[KnownSenderMessage] = []
    taken: list[tuple[int, int, InboundEvent, InboundMessage]] = []
    for position, (event_index, item_index, event, item) in enumerate(positions):
        identity = item.sender.identity
        client_id = owners.get((identity.kind, identity.external_id)) if identity else None
        if client_id is None or (position in phones and phones[position] not in known_phones):
            continue  # a new sender, or a contact to learn: the one-by-one path
        entries.append(KnownSenderMessage(channel=event.channel, client_id=client_id, item=item))
        taken.append((event_index, item_index, event, item))
    messages = messages_record_inbound_bulk(entries=entries)
    recorded = [(place, message) for place, message in zip(taken, messages, strict=True) if message]
    continued = requests_continue_bulk(
        touches=[
            Touch(
                client_id=message.client_id,
                dealer_center_id=event.channel.dealer_center_id,
                at=item.at,
            )
            for (_, _, event, item), message in recorded
        ]
    )
    for ((_, _, event, item), message), done in zip(recorded, continued, strict=True):
        if not done:  # no open request: open one, as the one-by-one path does
            request_touch(
                client=Client.objects.get(pk=message.client_id),
                source=event.channel.kind,
                channel_id=event.channel.pk,
                dealer_center_id=event.channel.dealer_center_id,
                topic=item.subject,
                at=item.at,
            )
    return {(event_index, item_index) for (event_index, item_index, _, _), _ in recorded}


def process_inbound_batch(*, limit: int = 50) -> dict[str, int]:
    """Process up to ``limit`` due events in one transaction: the same outcome as
    ``process_inbound_event`` for each, at a fraction of the cost (one lock query, one
    status update and one commit per batch instead of per event).

    When any event of the batch fails, nothing of the batch is kept and its events are
    processed one by one instead, so the failing one is isolated, marked and retried
    exactly as on its own; the others go through.
    """
    counts = {"done": 0, "skipped": 0, "failed": 0}
    locked: list[int] = []
    try:
        with transaction.atomic():
            events = inbox_lock_due(limit=limit)
            locked = [event.pk for event in events]
            parsed = [
                (
                    event,
                    get_adapter(event.channel.kind).parse(event.channel, event.body, event.headers),
                )
                for event in events
            ]
            handled = _apply_known_senders(parsed)
            done: list[InboundEvent] = []
            ignored: list[InboundEvent] = []
            for event_index, (event, items) in enumerate(parsed):
                for item_index, item in enumerate(items):
                    if (event_index, item_index) not in handled:
                        _apply(event.channel, event, item)
                (done if items else ignored).append(event)
            inbox_mark_done_many(events=done, ignored=ignored)
    except Exception as error:
        logger.warning(
            "inbox batch of %s events rolled back (%s: %s); processing them one by one",
            len(locked),
            type(error).__name__,
            error,
        )
        for event_id in locked:
            counts[process_inbound_event(event_id)] += 1
        return counts
    counts["done"] = len(locked)
    return counts


def inbox_drain(*, max_seconds: float | None = None, chunk: int = 50) -> dict[str, int]:
    """Process due events until none are left (or time is up); returns counts by result.

    Events are taken ``chunk`` at a time, each chunk in one transaction
    (``process_inbound_batch``).
    """
    started = time.monotonic()
    counts = {"done": 0, "skipped": 0, "failed": 0}
    while True:
        result = process_inbound_batch(limit=chunk)
        for key, value in result.items():
            counts[key] += value
        if not any(result.values()):
            # Nothing due, or everything due is held by other workers.
            break
        if max_seconds is not None and time.monotonic() - started > max_seconds:
            break
    return counts
