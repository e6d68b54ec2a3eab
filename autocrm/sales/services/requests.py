"""Writes of the funnel's entry: requests opened and continued by every channel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from autocrm.clients.models import Client
from autocrm.core.audit import user_or_none
from autocrm.core.bulk import update_rows
from autocrm.core.errors import TransitionNotAllowed, ValidationFailed
from autocrm.sales.events import event_record
from autocrm.sales.models import (
    REQUEST_TRANSITIONS,
    Request,
    RequestSource,
    RequestStatus,
    RequestStatusChange,
    Trigger,
)

# A client's new contact continues his open request if it was active this recently;
# after that it is a new appeal.
REQUEST_CONTINUATION = timedelta(days=30)


def request_touch(
    *,
    client: Client,
    source: str,
    channel_id: int | None = None,
    dealer_center_id: int | None = None,
    topic: str = "",
    vehicle_id: int | None = None,
    utm: dict[str, str] | None = None,
    at: datetime | None = None,
) -> tuple[Request, bool]:
    """Continue the client's open request or open a new one; returns (request, opened)."""
    if source not in RequestSource.values:
        raise ValidationFailed(_("Unknown request source."), field="source")
    at = at or timezone.now()
    with transaction.atomic():
        open_requests = (
            Request.objects.select_for_update()
            .filter(
                client=client,
                last_activity_at__gte=at - REQUEST_CONTINUATION,
            )
            .exclude(status=RequestStatus.CLOSED)
        )
        if dealer_center_id is not None:
            open_requests = open_requests.filter(dealer_center_id__in=[dealer_center_id, None])
        request = open_requests.order_by("-last_activity_at", "-pk").first()
        if request is not None:
            request.touches += 1
            request.last_activity_at = max(at, request.last_activity_at)
            fields = ["touches", "last_activity_at", "updated_at"]
            if topic and not request.topic:
                request.topic = topic[:200]
                fields.append("topic")
            if vehicle_id and not request.vehicle_id:
                request.vehicle_id = vehicle_id
                fields.append("vehicle")
            if dealer_center_id and not request.dealer_center_id:
                request.dealer_center_id = dealer_center_id
                fields.append("dealer_center")
            request.save(update_fields=fields)
            return request, False
        request = Request.objects.create(
            client=client,
            source=source,
            channel_id=channel_id,
            dealer_center_id=dealer_center_id,
            topic=topic[:200],
            vehicle_id=vehicle_id,
            utm=utm or {},
            responsible_id=client.responsible_id,
            opened_at=at,
            last_activity_at=at,
        )
        RequestStatusChange.objects.create(request=request, to_status=RequestStatus.NEW, at=at)
        event_record(Trigger.REQUEST_CREATED, request=request, at=at)
    return request, True


@dataclass
class Touch:
    """One contact of a known client, for ``requests_continue_bulk``."""

    client_id: int
    dealer_center_id: int | None
    at: datetime


def requests_continue_bulk(*, touches: list[Touch]) -> list[bool]:
    """``request_touch`` for many contacts of known clients, in a few statements.

    Continues open requests only: for each touch, True when an open request took it, False
    when the client has none (the caller opens one with ``request_touch``). Contacts with a
    topic, a vehicle or UTM tags go through ``request_touch`` too; this path is for the
    plain chat messages that make up most of the traffic. Runs inside the caller's
    transaction and locks the requests it changes, like ``request_touch``.
    """
    handled = [False] * len(touches)
    if not touches:
        return handled
    earliest = min(touch.at for touch in touches) - REQUEST_CONTINUATION
    candidates: dict[int, list[Request]] = {}
    for request in (
        Request.objects.select_for_update()
        .filter(client_id__in={t.client_id for t in touches}, last_activity_at__gte=earliest)
        .exclude(status=RequestStatus.CLOSED)
    ):
        candidates.setdefault(request.client_id, []).append(request)
    changed: dict[int, Request] = {}
    for index, touch in sorted(enumerate(touches), key=lambda pair: pair[1].at):
        fitting = [
            request
            for request in candidates.get(touch.client_id, [])
            if request.last_activity_at >= touch.at - REQUEST_CONTINUATION
            and (
                touch.dealer_center_id is None
                or request.dealer_center_id in (touch.dealer_center_id, None)
            )
        ]
        if not fitting:
            continue
        request = max(fitting, key=lambda r: (r.last_activity_at, r.pk))
        request.touches += 1
        request.last_activity_at = max(touch.at, request.last_activity_at)
        if touch.dealer_center_id and not request.dealer_center_id:
            request.dealer_center_id = touch.dealer_center_id
        changed[request.pk] = request
        handled[index] = True
    if changed:
        now = timezone.now()
        for request in changed.values():
            request.updated_at = now
        update_rows(
            Request,
            changed.values(),
            ["touches", "last_activity_at", "dealer_center", "updated_at"],
        )
    return handled


def request_create(
    *,
    actor: Any,
    client: Client,
    topic: str = "",
    dealer_center_id: int | None = None,
    vehicle_id: int | None = None,
) -> Request:
    """A request entered by an employee (a walk-in by phone to his mobile, a referral)."""
    with transaction.atomic():
        request = Request.objects.create(
            client=client,
            source=RequestSource.MANUAL,
            topic=topic[:200],
            dealer_center_id=dealer_center_id or client.dealer_center_id,
            vehicle_id=vehicle_id,
            responsible=user_or_none(actor),
        )
        RequestStatusChange.objects.create(
            request=request,
            to_status=RequestStatus.NEW,
            changed_by=request.responsible,
        )
        event_record(Trigger.REQUEST_CREATED, request=request)
    return request


def request_set_status(*, actor: Any, request: Request, status: str, reason: str = "") -> Request:
    with transaction.atomic():
        request = Request.objects.select_for_update().get(pk=request.pk)
        if status not in REQUEST_TRANSITIONS.get(request.status, set()):
            raise TransitionNotAllowed(
                _("A request cannot move from “%(from)s” to “%(to)s”.")
                % {"from": request.status, "to": status},
                field="status",
            )
        RequestStatusChange.objects.create(
            request=request,
            from_status=request.status,
            to_status=status,
            changed_by=user_or_none(actor),
            reason=reason,
        )
        request.status = status
        request.save(update_fields=["status", "updated_at"])
    return request
