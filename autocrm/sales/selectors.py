"""Reads of the sales app, always scoped to the dealer centers the user sees.

Requests of channels tied to no dealer center (the group's central bot or phone line)
have no dealer center until routed; like such conversations they are visible to the
group-level roles only (``communications.selectors``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, F, Prefetch, Q, QuerySet, Sum
from django.utils import timezone

from autocrm.accounts.roles import RoleCode
from autocrm.accounts.scoping import scope_queryset
from autocrm.sales.models import (
    Deal,
    DealStageChange,
    DealState,
    LossReason,
    Pipeline,
    Request,
    Stage,
    Task,
    TaskStatus,
)


def _start_of(day: date) -> datetime:
    # Kept a day inside the calendar: shifting its first or last day to UTC overflows.
    day = min(max(day, date.min + timedelta(days=1)), date.max - timedelta(days=1))
    return timezone.make_aware(datetime.combine(day, time.min))


def _within_days(
    queryset: QuerySet[Any], field: str, first: date | None, last: date | None
) -> QuerySet[Any]:
    """Rows whose ``field`` falls on the days ``first`` to ``last`` (inclusive, either
    may be open) in the current time zone."""
    if first is not None:
        queryset = queryset.filter(**{f"{field}__gte": _start_of(first)})
    if last is not None and last < date.max:
        queryset = queryset.filter(**{f"{field}__lt": _start_of(last + timedelta(days=1))})
    return queryset


def request_list(
    *,
    user: Any,
    status: str | None = None,
    source: str | None = None,
    dealer_center_id: int | None = None,
    client_id: int | None = None,
    opened_from: date | None = None,
    opened_to: date | None = None,
    active_dealer_center_id: int | None = None,
) -> QuerySet[Request]:
    """Requests the user sees, latest activity first. Dates are whole days (inclusive) in
    the current time zone."""
    queryset = scope_queryset(
        Request.objects.select_related("client", "channel", "dealer_center", "responsible"),
        user,
        active_dealer_center_id=active_dealer_center_id,
    )
    if status:
        queryset = queryset.filter(status=status)
    if source:
        queryset = queryset.filter(source=source)
    if dealer_center_id is not None:
        queryset = queryset.filter(dealer_center_id=dealer_center_id)
    if client_id is not None:
        queryset = queryset.filter(client_id=client_id)
    queryset = _within_days(queryset, "opened_at", opened_from, opened_to)
    return queryset.order_by("-last_activity_at", "-pk")


def sales_managers(*, dealer_center_id: int | None) -> QuerySet[Any]:
    """Active sales managers of a dealer center: who a visitor may be handed over to."""
    users = get_user_model().objects.filter(is_active=True, roles__code=RoleCode.SALES_MANAGER)
    if dealer_center_id is None:
        return users.none()
    users = users.filter(dealer_centers=dealer_center_id)
    return (
        get_user_model()
        .objects.filter(pk__in=users.values("pk"))
        .order_by("last_name", "first_name", "username")
    )


# Pipelines and deals -------------------------------------------------------------------

BOARD_CARDS_PER_STAGE = 50
BOARD_CARD_FIELDS = (
    "pk",
    "title",
    "topic",
    "budget",
    "payment_intent",
    "source",
    "stage_id",
    "state",
    "version",
    "last_activity_at",
    "stage_entered_at",
    "closed_at",
    "client__id",
    "client__kind",
    "client__company_name",
    "client__first_name",
    "client__last_name",
    "client__middle_name",
    "responsible__id",
    "responsible__username",
    "responsible__first_name",
    "responsible__last_name",
    "responsible__middle_name",
    "dealer_center__id",
    "dealer_center__name",
)


def pipelines_active() -> QuerySet[Pipeline]:
    return Pipeline.objects.filter(is_active=True).prefetch_related(
        Prefetch("stages", queryset=Stage.objects.order_by("order", "pk"))
    )


def pipeline_by_code(code: str) -> Pipeline | None:
    return pipelines_active().filter(code=code).first()


def loss_reasons_for(pipeline: Pipeline) -> QuerySet[LossReason]:
    return LossReason.objects.filter(is_active=True).filter(
        Q(pipeline__isnull=True) | Q(pipeline=pipeline)
    )


def deal_list(
    *,
    user: Any,
    pipeline: str | None = None,
    stage: str | None = None,
    state: str | None = None,
    manager_id: int | None = None,
    dealer_center_id: int | None = None,
    source: str | None = None,
    client_id: int | None = None,
    created_from: date | None = None,
    created_to: date | None = None,
    active_dealer_center_id: int | None = None,
) -> QuerySet[Deal]:
    """Deals the user sees (scoped by dealer center), newest first. ``pipeline`` and
    ``stage`` are codes; dates are whole days (inclusive) in the current time zone."""
    queryset = scope_queryset(
        Deal.objects.select_related(
            "pipeline", "stage", "client", "dealer_center", "responsible", "loss_reason"
        ),
        user,
        active_dealer_center_id=active_dealer_center_id,
    )
    if pipeline:
        queryset = queryset.filter(pipeline__code=pipeline)
    if stage:
        queryset = queryset.filter(stage__code=stage)
    if state:
        queryset = queryset.filter(state=state)
    if manager_id is not None:
        queryset = queryset.filter(responsible_id=manager_id)
    if dealer_center_id is not None:
        queryset = queryset.filter(dealer_center_id=dealer_center_id)
    if source:
        queryset = queryset.filter(source=source)
    if client_id is not None:
        queryset = queryset.filter(client_id=client_id)
    queryset = _within_days(queryset, "created_at", created_from, created_to)
    return queryset.order_by("-created_at", "-pk")


def deal_get(*, user: Any, deal_id: int) -> Deal | None:
    return (
        deal_list(user=user)
        .select_related("request", "channel", "created_by")
        .prefetch_related("vehicles")
        .filter(pk=deal_id)
        .first()
    )


@dataclass
class BoardColumn:
    stage: Stage
    count: int
    budget: Decimal
    deals: list[Deal]


def deal_board(
    *,
    user: Any,
    pipeline: Pipeline,
    manager_id: int | None = None,
    dealer_center_id: int | None = None,
    active_dealer_center_id: int | None = None,
    per_stage: int = BOARD_CARDS_PER_STAGE,
) -> list[BoardColumn]:
    """The Kanban board: per stage the number and budget of the deals in it and the
    ``per_stage`` most recently active ones (open stages; won and lost show closed
    deals of the last 30 days). One GROUP BY plus one indexed read per stage, however
    many deals the pipeline holds."""
    deals = deal_list(
        user=user,
        manager_id=manager_id,
        dealer_center_id=dealer_center_id,
        active_dealer_center_id=active_dealer_center_id,
    ).filter(pipeline=pipeline)
    closed_since = timezone.now() - timedelta(days=30)
    totals = {
        row["stage_id"]: row
        for row in deals.filter(Q(state=DealState.OPEN) | Q(closed_at__gte=closed_since))
        .order_by()
        .values("stage_id")
        .annotate(count=Count("pk"), budget=Sum("budget"))
    }
    columns = []
    for stage in pipeline.stages.all():
        total = totals.get(stage.pk, {"count": 0, "budget": None})
        # Per stage, one condition: an open stage reads the partial ``deal_board`` index
        # in order and stops after ``per_stage`` rows.
        if stage.is_final:
            in_stage = deals.filter(stage=stage, closed_at__gte=closed_since)
            order = ("-closed_at", "-pk")
        else:
            in_stage = deals.filter(stage=stage, state=DealState.OPEN)
            order = ("-last_activity_at", "-pk")
        cards = (
            list(
                in_stage.only(*BOARD_CARD_FIELDS)
                .select_related(None)
                .select_related("client", "responsible", "dealer_center")
                .order_by(*order)[:per_stage]
            )
            if total["count"]
            else []
        )
        columns.append(
            BoardColumn(
                stage=stage,
                count=total["count"],
                budget=total["budget"] or Decimal(0),
                deals=cards,
            )
        )
    return columns


def deal_stage_history(*, deal: Deal) -> QuerySet[DealStageChange]:
    return deal.stage_changes.select_related(
        "from_stage", "to_stage", "changed_by", "rule", "loss_reason"
    ).order_by("at", "pk")


# Tasks ---------------------------------------------------------------------------------


def task_list(
    *,
    user: Any,
    status: str | None = None,
    assignee_id: int | None = None,
    deal_id: int | None = None,
    client_id: int | None = None,
    request_id: int | None = None,
    due_from: datetime | None = None,
    due_before: datetime | None = None,
    overdue: bool | None = None,
    active_dealer_center_id: int | None = None,
) -> QuerySet[Task]:
    """Tasks the user sees: of his dealer centers, and every task assigned to him or set
    by him (a contact-center operator's call-back of a regional client included)."""
    queryset = Task.objects.select_related(
        "assignee", "client", "deal", "deal__stage", "request", "dealer_center", "created_by"
    )
    if user is None or not getattr(user, "is_authenticated", False):
        return queryset.none()
    scoped = scope_queryset(queryset, user, active_dealer_center_id=active_dealer_center_id)
    if scoped is not queryset:
        queryset = queryset.filter(
            Q(pk__in=scoped.values("pk")) | Q(assignee=user) | Q(created_by=user)
        )
    if status:
        queryset = queryset.filter(status=status)
    if assignee_id is not None:
        queryset = queryset.filter(assignee_id=assignee_id)
    if deal_id is not None:
        queryset = queryset.filter(deal_id=deal_id)
    if client_id is not None:
        queryset = queryset.filter(client_id=client_id)
    if request_id is not None:
        queryset = queryset.filter(request_id=request_id)
    if due_from is not None:
        queryset = queryset.filter(due_at__gte=due_from)
    if due_before is not None:
        queryset = queryset.filter(due_at__lt=due_before)
    if overdue is True:
        queryset = queryset.filter(status=TaskStatus.OPEN, due_at__lt=timezone.now())
    return queryset.order_by(F("due_at").asc(nulls_last=True), "pk")


def task_get(*, user: Any, task_id: int) -> Task | None:
    return task_list(user=user).filter(pk=task_id).first()
