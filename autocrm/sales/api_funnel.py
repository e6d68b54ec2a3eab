"""HTTP API of the sales funnel (docs/api.md, "Sales funnel"): pipelines, deals and their
stage moves, tasks.

Every endpoint calls one selector or service; the lookups here only turn ids and codes
of the body into objects the caller may see, so that bad input is refused (4xx naming the
field) before anything is written.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.contrib.auth import get_user_model
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict, field_validator

from autocrm.accounts.models import DealerCenter
from autocrm.accounts.scoping import can_see_dealer_center
from autocrm.clients import selectors as client_selectors
from autocrm.clients.models import Client
from autocrm.core.api import (
    DETAIL_ERROR_RESPONSES,
    ERROR_RESPONSES,
    MAX_ID,
    ErrorItem,
    ErrorOut,
    Id,
    ListParams,
    Page,
    Text,
    body_schema,
    get_or_404,
    json_body,
    object_id,
    paginate,
    require_perm,
)
from autocrm.core.errors import NotAllowed, ValidationFailed
from autocrm.sales import selectors, services
from autocrm.sales.api import EARLIEST_DATE, LATEST_DATE, RequestSourceName
from autocrm.sales.models import (
    Deal,
    DealStageChange,
    LossReason,
    Pipeline,
    Request,
    Stage,
    Task,
    TaskComment,
)
from autocrm.sales.services.deals import MAX_BUDGET

router = Router(tags=["sales funnel"])

# Deals and tasks are the sales floor's work: whoever works requests works them too
# (sales/rules.py); which ones a caller gets is the selectors' scoping.
PERMISSION = "sales.view_deals"
# Every employee has tasks (an appraiser, a lawyer, the hostess); deals are the funnel's.
TASK_PERMISSION = "sales.view_tasks"

MAX_VEHICLES = 50
MAX_VERSION = 2**31 - 1
# Deadlines are kept inside years that survive the shift to UTC on every database.
EARLIEST_YEAR = 1900
LATEST_YEAR = 9000

PaymentIntentName = Literal["", "cash", "credit", "trade_in", "credit_trade_in"]
DealStateName = Literal["open", "won", "lost"]
TaskStatusName = Literal["open", "done", "cancelled"]


Budget = Annotated[Decimal, Field(ge=0, le=MAX_BUDGET, max_digits=14, decimal_places=2)]


# --- output ------------------------------------------------------------------------------


class UserRef(Schema):
    id: int
    name: str


class LossReasonOut(Schema):
    id: int
    name: str


class StageOut(Schema):
    code: str
    name: str
    order: int
    is_won: bool
    is_lost: bool
    requires_vehicle: bool
    requires_budget: bool
    allowed_next: list[str] = Field(
        description="Codes of the stages a deal may move to from here; empty: any stage."
    )


class PipelineOut(Schema):
    id: int
    code: str
    name: str
    kind: str
    stages: list[StageOut]
    loss_reasons: list[LossReasonOut] = Field(
        description="Offered when a deal of this pipeline is lost."
    )


class DealOut(Schema):
    id: int
    pipeline: str = Field(description="Pipeline code.")
    stage: str = Field(description="Stage code.")
    stage_name: str
    state: str = Field(description="open, won or lost.")
    client_id: int
    client_name: str
    dealer_center_id: int
    responsible_id: int | None
    request_id: int | None
    budget: Decimal | None = Field(description='A decimal string, e.g. "2450000.00".')
    payment_intent: str
    source: str
    channel_id: int | None
    topic: str
    title: str
    vehicle_ids: list[int]
    version: int = Field(description="Send it back with a move to refuse a stale one (409).")
    created_at: datetime
    stage_entered_at: datetime
    last_activity_at: datetime
    closed_at: datetime | None
    loss_reason: LossReasonOut | None
    loss_comment: str


class StageChangeOut(Schema):
    id: int
    from_stage: str | None
    from_stage_name: str | None
    to_stage: str
    to_stage_name: str
    changed_by: UserRef | None
    rule_id: int | None = Field(description="Set when an automation rule made the move.")
    loss_reason: LossReasonOut | None
    reason: str
    at: datetime


class MoveErrorItem(ErrorItem):
    rule: str | None = Field(
        None,
        description="The rule of the transition map that refused the move: "
        "loss_reason_required, not_in_transition_map, vehicle_required, budget_required, "
        "reopen_requires_head, changed_meanwhile.",
    )


class MoveErrorOut(Schema):
    """The API's error body (``ErrorOut``) whose entries may name the refusing rule."""

    detail: str
    errors: list[MoveErrorItem] = []


class TaskOut(Schema):
    id: int
    title: str
    description: str
    assignee: UserRef | None
    due_at: datetime | None
    status: str = Field(description="open, done or cancelled.")
    priority: int = Field(description="0 low, 1 normal, 2 high, 3 urgent.")
    overdue: bool = Field(description="Open and past its deadline.")
    deal_id: int | None
    client_id: int | None
    request_id: int | None
    dealer_center_id: int | None
    result: str
    completed_at: datetime | None
    rule_id: int | None = Field(description="The automation rule that created it.")
    created_by: UserRef | None
    created_at: datetime


class CommentOut(Schema):
    id: int
    task_id: int
    author: UserRef | None
    text: str
    at: datetime


class TaskDetailOut(TaskOut):
    comments: list[CommentOut]


def _user_ref(user: Any) -> dict[str, Any] | None:
    return None if user is None else {"id": user.pk, "name": user.display_name}


def _loss_reason(reason: LossReason | None) -> dict[str, Any] | None:
    return None if reason is None else {"id": reason.pk, "name": reason.name}


def _stage(stage: Stage) -> dict[str, Any]:
    return {
        "code": stage.code,
        "name": stage.name,
        "order": stage.order,
        "is_won": stage.is_won,
        "is_lost": stage.is_lost,
        "requires_vehicle": stage.requires_vehicle,
        "requires_budget": stage.requires_budget,
        "allowed_next": [following.code for following in stage.allowed_next.all()],
    }


def _deal(deal: Deal, vehicle_ids: list[int]) -> dict[str, Any]:
    return {
        "id": deal.pk,
        "pipeline": deal.pipeline.code,
        "stage": deal.stage.code,
        "stage_name": deal.stage.name,
        "state": deal.state,
        "client_id": deal.client_id,
        "client_name": deal.client.display_name,
        "dealer_center_id": deal.dealer_center_id,
        "responsible_id": deal.responsible_id,
        "request_id": deal.request_id,
        "budget": deal.budget,
        "payment_intent": deal.payment_intent,
        "source": deal.source,
        "channel_id": deal.channel_id,
        "topic": deal.topic,
        "title": deal.title,
        "vehicle_ids": vehicle_ids,
        "version": deal.version,
        "created_at": deal.created_at,
        "stage_entered_at": deal.stage_entered_at,
        "last_activity_at": deal.last_activity_at,
        "closed_at": deal.closed_at,
        "loss_reason": _loss_reason(deal.loss_reason),
        "loss_comment": deal.loss_comment,
    }


def _vehicle_ids(deal_ids: list[int]) -> dict[int, list[int]]:
    """Vehicles of interest of a page of deals in one query (ids only)."""
    found: dict[int, list[int]] = defaultdict(list)
    rows = Deal.vehicles.through.objects.filter(deal_id__in=deal_ids).order_by("vehicle_id")
    for deal_id, vehicle_id in rows.values_list("deal_id", "vehicle_id"):
        found[deal_id].append(vehicle_id)
    return found


def _task(task: Task, now: datetime) -> dict[str, Any]:
    return {
        "id": task.pk,
        "title": task.title,
        "description": task.description,
        "assignee": _user_ref(task.assignee),
        "due_at": task.due_at,
        "status": task.status,
        "priority": task.priority,
        "overdue": task.is_overdue(now),
        "deal_id": task.deal_id,
        "client_id": task.client_id,
        "request_id": task.request_id,
        "dealer_center_id": task.dealer_center_id,
        "result": task.result,
        "completed_at": task.completed_at,
        "rule_id": task.rule_id,
        "created_by": _user_ref(task.created_by),
        "created_at": task.created_at,
    }


def _comment(comment: TaskComment) -> dict[str, Any]:
    return {
        "id": comment.pk,
        "task_id": comment.task_id,
        "author": _user_ref(comment.author),
        "text": comment.text,
        "at": comment.at,
    }


# --- lookups of the caller's objects ------------------------------------------------------


def _visible_deal(request: HttpRequest, deal_id: int, *related: str) -> Deal:
    """The deal to act on, or 404, joined to its pipeline and ``related`` only: planning
    the list's six-table join costs milliseconds on every call."""
    visible = selectors.deal_list(user=request.user).select_related(None)
    return get_or_404(visible.select_related("pipeline", *related), pk=deal_id)


# What the answer shows of a deal's relations (responsible and dealer center are ids).
DEAL_RELATED = ("pipeline", "stage", "client", "loss_reason")


def _fresh_deal(request: HttpRequest, deal_id: int) -> dict[str, Any]:
    visible = selectors.deal_list(user=request.user).select_related(None)
    deal = get_or_404(visible.select_related(*DEAL_RELATED), pk=deal_id)
    return _deal(deal, _vehicle_ids([deal.pk]).get(deal.pk, []))


def _visible_task(request: HttpRequest, task_id: int) -> Task:
    return get_or_404(selectors.task_list(user=request.user), pk=task_id)


def _task_detail(request: HttpRequest, task_id: int) -> dict[str, Any]:
    task = _visible_task(request, task_id)
    comments = task.comments.select_related("author").order_by("at", "pk")
    return _task(task, timezone.now()) | {"comments": [_comment(c) for c in comments]}


def _employee(user_id: int | None, field: str) -> Any:
    if user_id is None:
        return None
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise ValidationFailed(_("No such employee."), field=field)
    return user


def _client(request: HttpRequest, client_id: int) -> Client:
    client = client_selectors.client_list(user=request.user).filter(pk=client_id).first()
    if client is None:
        raise ValidationFailed(_("No such client."), field="client_id")
    return client


def _sales_request(request: HttpRequest, request_id: int | None) -> Request | None:
    if request_id is None:
        return None
    found = (
        selectors.request_list(user=request.user)
        .select_related(None)
        .select_related("client", "responsible")
        .filter(pk=request_id)
        .first()
    )
    if found is None:
        raise ValidationFailed(_("No such request."), field="request_id")
    return found


def _stage_of(pipeline_id: int, code: str) -> Stage:
    stage = Stage.objects.filter(pipeline_id=pipeline_id, code=code).first()
    if stage is None:
        raise ValidationFailed(
            _("The pipeline has no stage “%(code)s”.") % {"code": code[:50]}, field="stage"
        )
    return stage


def _loss_reason_given(pipeline: Pipeline, value: int | str | None) -> LossReason | None:
    if isinstance(value, str):
        value = value.strip()
        if value.isdigit():
            # An id written as a string; other digits (², ٣) are no name and no id.
            if not value.isascii() or int(value) > MAX_ID:
                raise ValidationFailed(_("Unknown loss reason."), field="loss_reason")
            value = int(value)
    return services.loss_reason_for(pipeline, value)


# --- pipelines -----------------------------------------------------------------------------


@router.get(
    "/pipelines",
    response={200: Page[PipelineOut], **ERROR_RESPONSES},
    summary="Pipelines and their stages",
)
def pipeline_list(request: HttpRequest, params: Query[ListParams]) -> dict[str, Any]:
    """Active pipelines in their order, each with its stages (in order, with the
    transition map) and the loss reasons it offers."""
    require_perm(request, PERMISSION)
    page = paginate(selectors.pipelines_active().prefetch_related("stages__allowed_next"), params)
    items = []
    for pipeline in page["items"]:
        offered = selectors.loss_reasons_for(pipeline).order_by("order", "name", "pk")
        items.append(
            {
                "id": pipeline.pk,
                "code": pipeline.code,
                "name": pipeline.name,
                "kind": pipeline.kind,
                "stages": [_stage(stage) for stage in pipeline.stages.all()],
                "loss_reasons": [_loss_reason(reason) for reason in offered],
            }
        )
    return {"count": page["count"], "items": items}


# --- deals ---------------------------------------------------------------------------------


class DealFilters(ListParams):
    pipeline: Text | None = Field(None, max_length=50, description="Pipeline code.")
    stage: Text | None = Field(None, max_length=50, description="Stage code.")
    manager: Id | None = Field(None, description="User id of the responsible manager.")
    dealer_center_id: Id | None = None
    state: DealStateName | None = None
    source: RequestSourceName | None = None
    client_id: Id | None = None
    created_from: date | None = Field(
        None, ge=EARLIEST_DATE, le=LATEST_DATE, description="First day, inclusive."
    )
    created_to: date | None = Field(
        None, ge=EARLIEST_DATE, le=LATEST_DATE, description="Last day, inclusive."
    )


class DealIn(Schema):
    client_id: Id
    pipeline: Text = Field(..., min_length=1, max_length=50, description="Pipeline code.")
    dealer_center_id: Id
    stage: Text | None = Field(
        None, max_length=50, description="An open stage's code; default: the first stage."
    )
    responsible_id: Id | None = None
    request_id: Id | None = Field(
        None, description="Qualify this request of the client into the deal (taken into work)."
    )
    vehicle_ids: list[Id] = Field(default_factory=list, max_length=MAX_VEHICLES)
    budget: Budget | None = Field(None, description="A decimal string or a number.")
    payment_intent: PaymentIntentName = ""
    source: RequestSourceName | None = Field(
        None, description="Default: the request's source, or manual."
    )
    topic: Text = Field("", max_length=200)
    title: Text = Field("", max_length=200)


class DealPatch(Schema):
    # The stage is not changed here but by /move, through the transition map: a field
    # this endpoint does not know is refused rather than silently ignored.
    model_config = ConfigDict(extra="forbid")

    title: Text | None = Field(None, max_length=200)
    topic: Text | None = Field(None, max_length=200)
    budget: Budget | None = Field(None, description="null clears it.")
    payment_intent: PaymentIntentName | None = None
    responsible_id: Id | None = Field(None, description="null: nobody.")
    vehicle_ids: list[Id] | None = Field(None, max_length=MAX_VEHICLES)


class MoveIn(Schema):
    stage: Text = Field(..., min_length=1, max_length=50, description="Target stage code.")
    reason: Text = Field(
        "",
        max_length=2000,
        description="A comment; for a lost stage it may instead name a loss reason.",
    )
    loss_reason: Id | Annotated[Text, Field(max_length=200)] | None = Field(
        None, description="For a lost stage: a loss reason's id or name."
    )
    version: int | None = Field(
        None, ge=1, le=MAX_VERSION, description="The deal's version as last read."
    )


@router.get(
    "/deals",
    response={200: Page[DealOut], **ERROR_RESPONSES},
    summary="List deals",
)
def deal_list(request: HttpRequest, filters: Query[DealFilters]) -> dict[str, Any]:
    """Deals of the caller's dealer centers, newest first."""
    require_perm(request, PERMISSION)
    queryset = selectors.deal_list(
        user=request.user,
        pipeline=filters.pipeline,
        stage=filters.stage,
        state=filters.state,
        manager_id=filters.manager,
        dealer_center_id=filters.dealer_center_id,
        source=filters.source,
        client_id=filters.client_id,
        created_from=filters.created_from,
        created_to=filters.created_to,
    )
    page = paginate(queryset.select_related(None).select_related(*DEAL_RELATED), filters)
    vehicles = _vehicle_ids([deal.pk for deal in page["items"]])
    return {
        "count": page["count"],
        "items": [_deal(deal, vehicles.get(deal.pk, [])) for deal in page["items"]],
    }


@router.post(
    "/deals",
    response={201: DealOut, **DETAIL_ERROR_RESPONSES},
    summary="Open a deal",
    openapi_extra=body_schema(DealIn),
)
def deal_create(request: HttpRequest) -> Status[dict[str, Any]]:
    """Open a deal of a client in a pipeline; with ``request_id`` the request is qualified
    into it. Everything is checked before anything is written."""
    require_perm(request, PERMISSION)
    payload: DealIn = json_body(request, DealIn)
    user = request.user
    pipeline = selectors.pipeline_by_code(payload.pipeline)
    if pipeline is None:
        raise ValidationFailed(_("No such pipeline."), field="pipeline")
    dealer_center = DealerCenter.objects.filter(pk=payload.dealer_center_id).first()
    if dealer_center is None:
        raise ValidationFailed(_("No such dealer center."), field="dealer_center_id")
    if not can_see_dealer_center(user, dealer_center.pk):
        raise NotAllowed(_("You do not work at this dealer center."), field="dealer_center_id")
    client = _client(request, payload.client_id)
    stage = _stage_of(pipeline.pk, payload.stage) if payload.stage else None
    responsible = _employee(payload.responsible_id, "responsible_id")
    sales_request = _sales_request(request, payload.request_id)
    if sales_request is not None and sales_request.client_id != client.pk:
        raise ValidationFailed(_("The request is of another client."), field="request_id")
    fields: dict[str, Any] = {
        "stage": stage,
        "vehicle_ids": payload.vehicle_ids,
        "budget": payload.budget,
        "payment_intent": payload.payment_intent,
        "source": payload.source,
        "topic": payload.topic,
        "title": payload.title,
    }
    if sales_request is not None:
        deal = services.deal_qualify(
            actor=user,
            request=sales_request,
            pipeline=pipeline,
            dealer_center=dealer_center,
            responsible=responsible,
            **fields,
        )
    else:
        deal = services.deal_create(
            actor=user,
            client=client,
            pipeline=pipeline,
            dealer_center=dealer_center,
            responsible=responsible,
            **fields,
        )
    return Status(201, _fresh_deal(request, deal.pk))


@router.get(
    "/deals/{deal_id}",
    response={200: DealOut, **DETAIL_ERROR_RESPONSES},
    summary="A deal",
)
def deal_detail(request: HttpRequest, deal_id: int = object_id()) -> dict[str, Any]:
    require_perm(request, PERMISSION)
    return _fresh_deal(request, deal_id)


@router.patch(
    "/deals/{deal_id}",
    response={200: DealOut, **DETAIL_ERROR_RESPONSES},
    summary="Change a deal",
    openapi_extra=body_schema(DealPatch),
)
def deal_update(request: HttpRequest, deal_id: int = object_id()) -> dict[str, Any]:
    """Change title, topic, budget, payment intent, responsible manager or vehicles of
    interest; fields left out stay as they are. The stage changes only by ``/move``."""
    require_perm(request, PERMISSION)
    deal = _visible_deal(request, deal_id)
    payload: DealPatch = json_body(request, DealPatch)
    changes = payload.model_dump(exclude_unset=True)
    for name in ("title", "topic", "payment_intent"):
        if name in changes and changes[name] is None:
            changes[name] = ""
    if "vehicle_ids" in changes and changes["vehicle_ids"] is None:
        changes["vehicle_ids"] = []
    if "responsible_id" in changes:
        changes["responsible"] = _employee(changes.pop("responsible_id"), "responsible_id")
    if changes:
        services.deal_update(actor=request.user, deal=deal, **changes)
    return _fresh_deal(request, deal_id)


@router.post(
    "/deals/{deal_id}/move",
    response={200: DealOut, 409: MoveErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Move a deal to another stage",
    openapi_extra=body_schema(MoveIn),
)
def deal_move(request: HttpRequest, deal_id: int = object_id()) -> dict[str, Any]:
    """Move through the pipeline's transition map. A move the map refuses is a 409 whose
    ``errors[0].rule`` names the rule; moving to the current stage changes nothing.
    Automation rules of the stage run in the background after the move is saved."""
    require_perm(request, PERMISSION)
    deal = _visible_deal(request, deal_id, "client")
    payload: MoveIn = json_body(request, MoveIn)
    reason = payload.reason
    loss_reason = _loss_reason_given(deal.pipeline, payload.loss_reason)
    target: Stage | str = payload.stage  # the service looks the code up
    if loss_reason is None and reason.strip():
        target = _stage_of(deal.pipeline_id, payload.stage)
        if target.is_lost:
            # The contract's {"stage": "lost", "reason": "Price too high"}: the reason
            # names the loss reason; other text stays a comment (and the move is refused).
            # Compared in Python: a handful of rows, and SQLite folds ASCII case only.
            wanted = reason.strip().casefold()
            offered = selectors.loss_reasons_for(deal.pipeline)
            loss_reason = next((r for r in offered if r.name.strip().casefold() == wanted), None)
            if loss_reason is not None:
                reason = ""
    moved = services.deal_move(
        actor=request.user,
        deal=deal,
        stage=target,
        reason=reason,
        loss_reason=loss_reason,
        expected_version=payload.version,
    )
    # The answer is built from what is loaded already: a move is the hot path of the
    # board, and re-reading the deal with its six joins would cost more than the move.
    moved.pipeline = deal.pipeline
    moved.client = deal.client
    if loss_reason is not None and moved.loss_reason_id == loss_reason.pk:
        moved.loss_reason = loss_reason
    return _deal(moved, _vehicle_ids([moved.pk]).get(moved.pk, []))


@router.get(
    "/deals/{deal_id}/history",
    response={200: Page[StageChangeOut], **DETAIL_ERROR_RESPONSES},
    summary="Stage history of a deal",
)
def deal_history(
    request: HttpRequest, params: Query[ListParams], deal_id: int = object_id()
) -> dict[str, Any]:
    """Every stage the deal entered (the first row: where it was opened), oldest first."""
    require_perm(request, PERMISSION)
    deal = _visible_deal(request, deal_id)
    page = paginate(selectors.deal_stage_history(deal=deal), params)
    items = []
    change: DealStageChange
    for change in page["items"]:
        items.append(
            {
                "id": change.pk,
                "from_stage": change.from_stage.code if change.from_stage else None,
                "from_stage_name": change.from_stage.name if change.from_stage else None,
                "to_stage": change.to_stage.code,
                "to_stage_name": change.to_stage.name,
                "changed_by": _user_ref(change.changed_by),
                "rule_id": change.rule_id,
                "loss_reason": _loss_reason(change.loss_reason),
                "reason": change.reason,
                "at": change.at,
            }
        )
    return {"count": page["count"], "items": items}


# --- tasks ---------------------------------------------------------------------------------


def _moment(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    # Checked before any shift between time zones, which would overflow at the ends.
    if not (EARLIEST_YEAR <= value.year <= LATEST_YEAR):
        raise ValueError(f"The year must be between {EARLIEST_YEAR} and {LATEST_YEAR}.")
    # A time without an offset is read in the group's time zone.
    return value if timezone.is_aware(value) else timezone.make_aware(value)


class TaskFilters(ListParams):
    deal: Id | None = Field(None, description="Tasks of this deal.")
    status: TaskStatusName | None = None
    assignee: Id | None = Field(None, description="User id of the assignee.")
    client: Id | None = Field(None, description="Tasks about this client.")
    request_id: Id | None = None
    overdue: bool | None = Field(
        None, description="true: only open tasks past their deadline; false: no filter."
    )


class TaskIn(Schema):
    title: Text = Field("", max_length=300, description="Required.")
    description: Text = Field("", max_length=5000)
    assignee_id: Id | None = None
    due_at: datetime | None = Field(
        None, description="ISO 8601; without an offset, Europe/Moscow time."
    )
    priority: int = Field(1, ge=0, le=3, description="0 low, 1 normal, 2 high, 3 urgent.")
    deal_id: Id | None = None
    client_id: Id | None = Field(None, description="Default: the deal's or request's client.")
    request_id: Id | None = None

    @field_validator("due_at")
    @classmethod
    def _due_at(cls, value: datetime | None) -> datetime | None:
        return _moment(value)


class TaskPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    title: Text | None = Field(None, max_length=300)
    description: Text | None = Field(None, max_length=5000)
    assignee_id: Id | None = Field(None, description="null: nobody.")
    due_at: datetime | None = Field(None, description="null: no deadline.")
    priority: int | None = Field(None, ge=0, le=3)

    @field_validator("due_at")
    @classmethod
    def _due_at(cls, value: datetime | None) -> datetime | None:
        return _moment(value)


class TaskCompleteIn(Schema):
    result: Text = Field("", max_length=5000, description="What came of it.")


class TaskNoteIn(Schema):
    note: Text = Field("", max_length=2000)


class CommentIn(Schema):
    text: Text = Field("", max_length=5000, description="Required.")


@router.get(
    "/tasks",
    response={200: Page[TaskOut], **ERROR_RESPONSES},
    summary="List tasks",
)
def task_list(request: HttpRequest, filters: Query[TaskFilters]) -> dict[str, Any]:
    """Tasks of the caller's dealer centers, and those assigned to him or set by him;
    earliest deadline first, tasks without one last."""
    require_perm(request, TASK_PERMISSION)
    queryset = selectors.task_list(
        user=request.user,
        status=filters.status,
        assignee_id=filters.assignee,
        deal_id=filters.deal,
        client_id=filters.client,
        request_id=filters.request_id,
        overdue=filters.overdue or None,
    )
    page = paginate(queryset, filters)
    now = timezone.now()
    return {"count": page["count"], "items": [_task(task, now) for task in page["items"]]}


@router.post(
    "/tasks",
    response={201: TaskDetailOut, **DETAIL_ERROR_RESPONSES},
    summary="Create a task",
    openapi_extra=body_schema(TaskIn),
)
def task_create(request: HttpRequest) -> Status[dict[str, Any]]:
    """A task, linked to a deal, a request and/or a client the caller sees."""
    require_perm(request, TASK_PERMISSION)
    payload: TaskIn = json_body(request, TaskIn)
    deal = None
    if payload.deal_id is not None:
        deal = selectors.deal_list(user=request.user).filter(pk=payload.deal_id).first()
        if deal is None:
            raise ValidationFailed(_("No such deal."), field="deal_id")
    sales_request = _sales_request(request, payload.request_id)
    client = _client(request, payload.client_id) if payload.client_id is not None else None
    if client is not None and any(
        linked is not None and linked.client_id != client.pk for linked in (deal, sales_request)
    ):
        raise ValidationFailed(
            _("The client is not the client of the deal or request."), field="client_id"
        )
    assignee = _employee(payload.assignee_id, "assignee_id")
    task = services.task_create(
        actor=request.user,
        title=payload.title,
        description=payload.description,
        assignee=assignee,
        due_at=payload.due_at,
        priority=payload.priority,
        deal=deal,
        request=sales_request,
        client=client,
    )
    return Status(201, _task_detail(request, task.pk))


@router.get(
    "/tasks/{task_id}",
    response={200: TaskDetailOut, **DETAIL_ERROR_RESPONSES},
    summary="A task with its comments",
)
def task_detail(request: HttpRequest, task_id: int = object_id()) -> dict[str, Any]:
    require_perm(request, TASK_PERMISSION)
    return _task_detail(request, task_id)


@router.patch(
    "/tasks/{task_id}",
    response={200: TaskDetailOut, **DETAIL_ERROR_RESPONSES},
    summary="Change a task",
    openapi_extra=body_schema(TaskPatch),
)
def task_update(request: HttpRequest, task_id: int = object_id()) -> dict[str, Any]:
    """Title, description, assignee, deadline, priority; fields left out stay as they
    are. The assignee, the author, heads and administrators may change a task (403)."""
    require_perm(request, TASK_PERMISSION)
    task = _visible_task(request, task_id)
    payload: TaskPatch = json_body(request, TaskPatch)
    changes = payload.model_dump(exclude_unset=True)
    if "description" in changes and changes["description"] is None:
        changes["description"] = ""
    if "assignee_id" in changes:
        changes["assignee"] = _employee(changes.pop("assignee_id"), "assignee_id")
    if changes:
        services.task_update(actor=request.user, task=task, **changes)
    return _task_detail(request, task_id)


@router.post(
    "/tasks/{task_id}/complete",
    response={200: TaskDetailOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Complete a task",
    openapi_extra=body_schema(TaskCompleteIn),
)
def task_complete(request: HttpRequest, task_id: int = object_id()) -> dict[str, Any]:
    """Done, with its result; 409 when the task is not open (done or cancelled)."""
    require_perm(request, TASK_PERMISSION)
    task = _visible_task(request, task_id)
    payload: TaskCompleteIn = json_body(request, TaskCompleteIn)
    services.task_complete(actor=request.user, task=task, result=payload.result)
    return _task_detail(request, task_id)


@router.post(
    "/tasks/{task_id}/cancel",
    response={200: TaskDetailOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Cancel a task",
    openapi_extra=body_schema(TaskNoteIn),
)
def task_cancel(request: HttpRequest, task_id: int = object_id()) -> dict[str, Any]:
    """409 when the task is not open."""
    require_perm(request, TASK_PERMISSION)
    task = _visible_task(request, task_id)
    payload: TaskNoteIn = json_body(request, TaskNoteIn)
    services.task_cancel(actor=request.user, task=task, note=payload.note)
    return _task_detail(request, task_id)


@router.post(
    "/tasks/{task_id}/reopen",
    response={200: TaskDetailOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Reopen a done or cancelled task",
    openapi_extra=body_schema(TaskNoteIn),
)
def task_reopen(request: HttpRequest, task_id: int = object_id()) -> dict[str, Any]:
    """409 when the task is open already."""
    require_perm(request, TASK_PERMISSION)
    task = _visible_task(request, task_id)
    payload: TaskNoteIn = json_body(request, TaskNoteIn)
    services.task_reopen(actor=request.user, task=task, note=payload.note)
    return _task_detail(request, task_id)


@router.post(
    "/tasks/{task_id}/comments",
    response={201: CommentOut, **DETAIL_ERROR_RESPONSES},
    summary="Comment on a task",
    openapi_extra=body_schema(CommentIn),
)
def task_comment_add(request: HttpRequest, task_id: int = object_id()) -> Status[dict[str, Any]]:
    require_perm(request, TASK_PERMISSION)
    task = _visible_task(request, task_id)
    payload: CommentIn = json_body(request, CommentIn)
    comment = services.task_comment_add(actor=request.user, task=task, text=payload.text)
    return Status(201, _comment(comment))
