"""Reads of the heads' control view: the load of each manager and the SLAs of each dealer
center, always limited to the dealer centers the user sees.

Every figure comes from one bounded query per kind of row (tasks, open deals, requests);
the working-time arithmetic (``accounts.working_time``) runs in Python on those rows.

First-response SLA: a request is answered at the earliest of the first outbound message to
its client after it opened, its move out of status "new", and a deal made from it; the
time counted is the dealer center's working time. Stage SLA: an open deal breaches when
its working time in the current stage exceeds the stage's limit.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, OuterRef, Q, Subquery
from django.utils import timezone

from autocrm.accounts.models import DealerCenter
from autocrm.accounts.roles import RoleCode
from autocrm.accounts.scoping import visible_dealer_centers
from autocrm.accounts.working_time import WorkSchedule, schedules_for
from autocrm.communications.models import Direction, Message
from autocrm.sales.models import (
    Deal,
    DealState,
    Request,
    RequestStatus,
    RequestStatusChange,
    SlaKind,
    SlaTarget,
    Stage,
    Task,
    TaskStatus,
)

# When neither the dealer center nor the group set a first-response limit.
DEFAULT_FIRST_RESPONSE_MINUTES = 15
DEFAULT_IDLE_DAYS = 3
DEFAULT_RANGE_DAYS = 30
# Bounds: the page stays fast however big the group grows; a cut is shown on the page.
MANAGERS_LIMIT = 300
OPEN_DEALS_LIMIT = 20_000
REQUESTS_LIMIT = 10_000


@dataclass
class ManagerLoad:
    user: Any
    open_tasks: int = 0
    overdue_tasks: int = 0
    open_deals: int = 0
    idle_deals: int = 0


@dataclass
class FirstResponseSla:
    target_minutes: int
    count: int = 0
    answered: int = 0
    breached: int = 0
    waiting: int = 0
    median_minutes: float | None = None


@dataclass
class StageSla:
    stage: Stage
    target_minutes: int
    open_deals: int = 0
    breached: int = 0


@dataclass
class DealerCenterSla:
    dealer_center: DealerCenter
    first_response: FirstResponseSla
    stages: list[StageSla] = field(default_factory=list)

    @property
    def stage_breaches(self) -> int:
        return sum(row.breached for row in self.stages)


@dataclass
class ControlReport:
    dealer_centers: list[DealerCenter]
    managers: list[ManagerLoad]
    sla: list[DealerCenterSla]
    now: datetime
    idle_days: int
    date_from: date
    date_to: date
    # Set when a bound cut the rows (the figures then cover the rows read).
    truncated: bool = False


def control_dealer_centers(*, user: Any, dealer_center_id: int | None = None) -> list[DealerCenter]:
    queryset = visible_dealer_centers(user).order_by("name", "pk")
    if dealer_center_id is not None:
        queryset = queryset.filter(pk=dealer_center_id)
    return list(queryset)


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def _minutes(value: timedelta) -> float:
    return value.total_seconds() / 60


# --------------------------------------------------------------------------- targets


def first_response_targets(dealer_center_ids: list[int]) -> dict[int, int]:
    """Working minutes per dealer center: its own target, else the group's, else 15."""
    rows = SlaTarget.objects.filter(kind=SlaKind.FIRST_RESPONSE).filter(
        Q(dealer_center_id__in=dealer_center_ids) | Q(dealer_center__isnull=True)
    )
    own: dict[int | None, int] = {row.dealer_center_id: row.minutes for row in rows}
    default = own.get(None, DEFAULT_FIRST_RESPONSE_MINUTES)
    return {pk: own.get(pk, default) for pk in dealer_center_ids}


def stage_targets(
    dealer_center_ids: list[int], stages: dict[int, Stage]
) -> dict[tuple[int, int], int]:
    """Working minutes per (dealer center, stage): the dealer center's target, else the
    group's target row, else the stage's own SLA hours. Stages with none are left out."""
    rows = SlaTarget.objects.filter(kind=SlaKind.STAGE, stage_id__in=list(stages)).filter(
        Q(dealer_center_id__in=dealer_center_ids) | Q(dealer_center__isnull=True)
    )
    explicit: dict[tuple[int | None, int], int] = {
        (row.dealer_center_id, row.stage_id): row.minutes for row in rows if row.stage_id
    }
    result: dict[tuple[int, int], int] = {}
    for dealer_center_id in dealer_center_ids:
        for stage_id, stage in stages.items():
            minutes = explicit.get((dealer_center_id, stage_id), explicit.get((None, stage_id)))
            if minutes is None and stage.sla_hours is not None:
                minutes = int(Decimal(stage.sla_hours) * 60)
            if minutes is not None:
                result[(dealer_center_id, stage_id)] = minutes
    return result


# --------------------------------------------------------------------------- open deals


@dataclass
class _OpenDeals:
    by_responsible: dict[int, int]
    idle_by_responsible: dict[int, int]
    stages: dict[int, list[StageSla]]
    truncated: bool


def _open_deals(
    *,
    dealer_center_ids: list[int],
    schedules: dict[int | None, WorkSchedule],
    now: datetime,
    idle_days: int,
) -> _OpenDeals:
    rows = list(
        Deal.objects.filter(dealer_center_id__in=dealer_center_ids, state=DealState.OPEN)
        .order_by("stage_entered_at", "pk")
        .values_list(
            "dealer_center_id", "responsible_id", "stage_id", "stage_entered_at", "last_activity_at"
        )[: OPEN_DEALS_LIMIT + 1]
    )
    truncated = len(rows) > OPEN_DEALS_LIMIT
    rows = rows[:OPEN_DEALS_LIMIT]
    stages = {
        stage.pk: stage
        for stage in Stage.objects.filter(pk__in={row[2] for row in rows}).select_related(
            "pipeline"
        )
    }
    targets = stage_targets(dealer_center_ids, stages)
    inactive_since = now - timedelta(days=idle_days)
    by_responsible: dict[int, int] = defaultdict(int)
    idle_by_responsible: dict[int, int] = defaultdict(int)
    per_stage: dict[tuple[int, int], StageSla] = {}
    for dealer_center_id, responsible_id, stage_id, entered_at, last_activity_at in rows:
        target = targets.get((dealer_center_id, stage_id))
        breached = False
        if target is not None:
            row = per_stage.get((dealer_center_id, stage_id))
            if row is None:
                row = per_stage[(dealer_center_id, stage_id)] = StageSla(
                    stage=stages[stage_id], target_minutes=target
                )
            row.open_deals += 1
            # Working time never exceeds calendar time: only a deal in the stage longer
            # than the limit by the calendar needs the schedule; and the deadline is found
            # by walking the limit forward, whatever the deal's age.
            if now - entered_at > timedelta(minutes=target):
                schedule = schedules.get(dealer_center_id) or schedules[None]
                breached = schedule.add(entered_at, timedelta(minutes=target)) < now
            row.breached += breached
        if responsible_id is not None:
            by_responsible[responsible_id] += 1
            if breached or last_activity_at < inactive_since:
                idle_by_responsible[responsible_id] += 1
    stages_by_dealer_center: dict[int, list[StageSla]] = defaultdict(list)
    for (dealer_center_id, _stage_id), row in per_stage.items():
        stages_by_dealer_center[dealer_center_id].append(row)
    for items in stages_by_dealer_center.values():
        items.sort(
            key=lambda item: (item.stage.pipeline.order, item.stage.pipeline_id, item.stage.order)
        )
    return _OpenDeals(by_responsible, idle_by_responsible, stages_by_dealer_center, truncated)


# --------------------------------------------------------------------------- first response


def _first_response(
    *,
    dealer_center_ids: list[int],
    schedules: dict[int | None, WorkSchedule],
    now: datetime,
    date_from: date,
    date_to: date,
) -> tuple[dict[int, FirstResponseSla], bool]:
    targets = first_response_targets(dealer_center_ids)
    first_message = (
        Message.objects.filter(
            client_id=OuterRef("client_id"),
            direction=Direction.OUTBOUND,
            at__gte=OuterRef("opened_at"),
        )
        .order_by("at")
        .values("at")[:1]
    )
    first_move = (
        RequestStatusChange.objects.filter(request_id=OuterRef("pk"), from_status=RequestStatus.NEW)
        .exclude(to_status=RequestStatus.NEW)
        .order_by("at")
        .values("at")[:1]
    )
    first_deal = (
        Deal.objects.filter(request_id=OuterRef("pk"))
        .order_by("created_at")
        .values("created_at")[:1]
    )
    rows = list(
        Request.objects.filter(
            dealer_center_id__in=dealer_center_ids,
            opened_at__gte=_start_of(date_from),
            opened_at__lt=_start_of(date_to + timedelta(days=1)),
        )
        .annotate(
            first_message_at=Subquery(first_message),
            first_move_at=Subquery(first_move),
            first_deal_at=Subquery(first_deal),
        )
        .order_by("opened_at", "pk")
        .values_list(
            "dealer_center_id", "opened_at", "first_message_at", "first_move_at", "first_deal_at"
        )[: REQUESTS_LIMIT + 1]
    )
    truncated = len(rows) > REQUESTS_LIMIT
    result = {pk: FirstResponseSla(target_minutes=targets[pk]) for pk in dealer_center_ids}
    minutes: dict[int, list[float]] = defaultdict(list)
    for dealer_center_id, opened_at, *responses in rows[:REQUESTS_LIMIT]:
        sla = result[dealer_center_id]
        schedule = schedules.get(dealer_center_id) or schedules[None]
        sla.count += 1
        answered = [moment for moment in responses if moment is not None]
        if answered:
            taken = _minutes(schedule.between(opened_at, min(answered)))
            sla.answered += 1
            minutes[dealer_center_id].append(taken)
            sla.breached += taken > sla.target_minutes
        elif schedule.add(opened_at, timedelta(minutes=sla.target_minutes)) < now:
            sla.breached += 1  # still unanswered and already late
        else:
            sla.waiting += 1
    for dealer_center_id, values in minutes.items():
        result[dealer_center_id].median_minutes = statistics.median(values)
    return result, truncated


# --------------------------------------------------------------------------- managers


def _managers(
    *,
    dealer_center_ids: list[int],
    now: datetime,
    deals: _OpenDeals,
) -> tuple[list[ManagerLoad], bool]:
    tasks = {
        row["assignee_id"]: row
        for row in Task.objects.filter(
            dealer_center_id__in=dealer_center_ids,
            status=TaskStatus.OPEN,
            assignee__isnull=False,
        )
        .order_by()
        .values("assignee_id")
        .annotate(open=Count("pk"), overdue=Count("pk", filter=Q(due_at__lt=now)))
    }
    users = get_user_model().objects.filter(
        Q(pk__in=set(tasks) | set(deals.by_responsible))
        | Q(
            is_active=True,
            roles__code=RoleCode.SALES_MANAGER,
            dealer_centers__in=dealer_center_ids,
        )
    )
    people = list(
        get_user_model()
        .objects.filter(pk__in=users.values("pk"))
        .order_by("last_name", "first_name", "pk")[: MANAGERS_LIMIT + 1]
    )
    truncated = len(people) > MANAGERS_LIMIT
    rows = []
    for person in people[:MANAGERS_LIMIT]:
        counts = tasks.get(person.pk, {})
        rows.append(
            ManagerLoad(
                user=person,
                open_tasks=counts.get("open", 0),
                overdue_tasks=counts.get("overdue", 0),
                open_deals=deals.by_responsible.get(person.pk, 0),
                idle_deals=deals.idle_by_responsible.get(person.pk, 0),
            )
        )
    # The most to worry about first.
    rows.sort(key=lambda row: (-row.overdue_tasks, -row.idle_deals, row.user.display_name))
    return rows, truncated


def control_report(
    *,
    user: Any,
    dealer_center_id: int | None = None,
    idle_days: int = DEFAULT_IDLE_DAYS,
    date_from: date | None = None,
    date_to: date | None = None,
    now: datetime | None = None,
) -> ControlReport:
    """Managers' load and dealer centers' SLAs over the dealer centers the user sees
    (or the one chosen). Dates are whole days in the current time zone, inclusive."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    date_to = date_to or today
    date_from = date_from or date_to - timedelta(days=DEFAULT_RANGE_DAYS - 1)
    dealer_centers = control_dealer_centers(user=user, dealer_center_id=dealer_center_id)
    ids = [dealer_center.pk for dealer_center in dealer_centers]
    report = ControlReport(
        dealer_centers=dealer_centers,
        managers=[],
        sla=[],
        now=now,
        idle_days=idle_days,
        date_from=date_from,
        date_to=date_to,
    )
    if not ids:
        return report
    schedules = schedules_for(ids)
    deals = _open_deals(dealer_center_ids=ids, schedules=schedules, now=now, idle_days=idle_days)
    first_response, requests_cut = _first_response(
        dealer_center_ids=ids, schedules=schedules, now=now, date_from=date_from, date_to=date_to
    )
    report.managers, managers_cut = _managers(dealer_center_ids=ids, now=now, deals=deals)
    report.sla = [
        DealerCenterSla(
            dealer_center=dealer_center,
            first_response=first_response[dealer_center.pk],
            stages=deals.stages.get(dealer_center.pk, []),
        )
        for dealer_center in dealer_centers
    ]
    report.truncated = deals.truncated or requests_cut or managers_cut
    return report
