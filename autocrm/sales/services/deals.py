"""Writes of deals: qualify a request into a deal, move it between stages, change it."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from autocrm.accounts.models import DealerCenter
from autocrm.accounts.roles import SUPERVISING_ROLES
from autocrm.accounts.scoping import can_see_dealer_center
from autocrm.clients.models import Client
from autocrm.core.audit import user_or_none
from autocrm.core.errors import NotAllowed, TransitionNotAllowed, ValidationFailed
from autocrm.inventory.models import Vehicle
from autocrm.sales.events import event_record
from autocrm.sales.models import (
    Deal,
    DealStageChange,
    DealState,
    LossReason,
    PaymentIntent,
    Pipeline,
    Request,
    RequestSource,
    RequestStatus,
    RequestStatusChange,
    Stage,
    Task,
    TaskStatus,
    TaskStatusChange,
    Trigger,
)

MAX_BUDGET = Decimal("999999999999.99")
# Rule-made moves that lead to more rule-made moves stop here (a loop between stages).
MAX_RULE_DEPTH = 5


class StageMoveRefused(TransitionNotAllowed):
    """A stage move the transition map refuses; ``rule`` names which rule (API 409)."""

    def __init__(self, message: str, *, rule: str, field: str = "stage") -> None:
        super().__init__(message, field=field)
        self.rule = rule

    def as_dict(self) -> dict[str, object]:
        return super().as_dict() | {"rule": self.rule}


def _check_responsible(responsible: Any, dealer_center: DealerCenter) -> None:
    if responsible is None:
        return
    attached = responsible.dealer_centers.filter(pk=dealer_center.pk).exists()
    if not responsible.is_active or not (attached or responsible.is_group_level):
        raise ValidationFailed(
            _("%(user)s does not work at %(dealer_center)s.")
            % {"user": responsible.display_name, "dealer_center": dealer_center.name},
            field="responsible_id",
        )


def _vehicles(ids: Iterable[int]) -> list[Vehicle]:
    wanted = sorted(set(ids))
    found = list(Vehicle.objects.filter(pk__in=wanted))
    if len(found) != len(wanted):
        missing = sorted(set(wanted) - {vehicle.pk for vehicle in found})
        raise ValidationFailed(
            _("No vehicle with id %(id)s.") % {"id": missing[0]}, field="vehicle_ids"
        )
    return found


def _check_money(budget: Decimal | None) -> None:
    if budget is not None and not (Decimal(0) <= budget <= MAX_BUDGET):
        raise ValidationFailed(_("The budget must be a positive amount."), field="budget")


def first_stage(pipeline: Pipeline) -> Stage:
    stage = pipeline.stages.filter(is_won=False, is_lost=False).order_by("order", "pk").first()
    if stage is None:
        raise ValidationFailed(
            _("The pipeline “%(pipeline)s” has no open stages.") % {"pipeline": pipeline.name},
            field="pipeline",
        )
    return stage


def deal_create(
    *,
    actor: Any,
    client: Client,
    pipeline: Pipeline,
    dealer_center: DealerCenter,
    stage: Stage | None = None,
    responsible: Any = None,
    request: Request | None = None,
    vehicle_ids: Iterable[int] = (),
    budget: Decimal | None = None,
    payment_intent: str = "",
    source: str | None = None,
    channel_id: int | None = None,
    topic: str = "",
    title: str = "",
) -> Deal:
    """Open a deal; a request given is qualified into it (and taken into work)."""
    if actor is not None and not can_see_dealer_center(actor, dealer_center.pk):
        raise NotAllowed(_("You do not work at this dealer center."), field="dealer_center_id")
    if not pipeline.is_active:
        raise ValidationFailed(_("The pipeline is not active."), field="pipeline")
    if stage is None:
        stage = first_stage(pipeline)
    elif stage.pipeline_id != pipeline.pk or stage.is_final:
        raise ValidationFailed(_("Choose an open stage of the pipeline."), field="stage")
    if payment_intent not in PaymentIntent.values:
        raise ValidationFailed(_("Unknown payment intent."), field="payment_intent")
    if source is not None and source not in RequestSource.values:
        raise ValidationFailed(_("Unknown request source."), field="source")
    if client.merged_into_id is not None:
        raise ValidationFailed(_("The client was merged into another one."), field="client_id")
    _check_money(budget)
    _check_responsible(responsible, dealer_center)
    vehicles = _vehicles(vehicle_ids)
    if request is not None:
        source = source or request.source
        channel_id = channel_id or request.channel_id
        topic = topic or request.topic
        if request.vehicle_id and not vehicles:
            vehicles = _vehicles([request.vehicle_id])
    now = timezone.now()
    with transaction.atomic():
        deal = Deal.objects.create(
            pipeline=pipeline,
            stage=stage,
            client=client,
            request=request,
            dealer_center=dealer_center,
            responsible=responsible,
            title=title[:200],
            budget=budget,
            payment_intent=payment_intent,
            source=source or RequestSource.MANUAL,
            channel_id=channel_id,
            topic=topic[:200],
            stage_entered_at=now,
            last_activity_at=now,
            created_by=user_or_none(actor),
        )
        if vehicles:
            deal.vehicles.set(vehicles)
        DealStageChange.objects.create(
            deal=deal, to_stage=stage, changed_by=user_or_none(actor), at=now
        )
        if request is not None:
            _take_request(request, actor=actor, responsible=responsible)
        event_record(Trigger.DEAL_CREATED, deal=deal, stage=stage, at=now)
        event_record(Trigger.STAGE_ENTERED, deal=deal, stage=stage, at=now)
    return deal


def _take_request(request: Request, *, actor: Any, responsible: Any) -> None:
    request = Request.objects.select_for_update().get(pk=request.pk)
    fields = ["updated_at"]
    if request.status == RequestStatus.NEW:
        RequestStatusChange.objects.create(
            request=request,
            from_status=request.status,
            to_status=RequestStatus.IN_PROGRESS,
            changed_by=user_or_none(actor),
            reason=_("Qualified into a deal."),
        )
        request.status = RequestStatus.IN_PROGRESS
        fields.append("status")
    if request.responsible_id is None and responsible is not None:
        request.responsible = responsible
        fields.append("responsible")
    request.save(update_fields=fields)


def deal_qualify(
    *,
    actor: Any,
    request: Request,
    pipeline: Pipeline,
    dealer_center: DealerCenter | None = None,
    responsible: Any = None,
    **fields: Any,
) -> Deal:
    """Turn a request of the single funnel into a deal of ``pipeline``."""
    dealer_center = dealer_center or request.dealer_center or request.client.dealer_center
    if dealer_center is None:
        raise ValidationFailed(
            _("Choose the dealer center that will work the deal."), field="dealer_center_id"
        )
    return deal_create(
        actor=actor,
        client=request.client,
        pipeline=pipeline,
        dealer_center=dealer_center,
        responsible=responsible or request.responsible,
        request=request,
        **fields,
    )


def _may_reopen(actor: Any) -> bool:
    return actor is None or actor.is_superuser or actor.has_role(*SUPERVISING_ROLES)


def _check_move(
    deal: Deal,
    current: Stage,
    target: Stage,
    *,
    actor: Any,
    loss_reason: LossReason | None,
) -> None:
    """The transition map of deals; raises ``StageMoveRefused`` naming the rule."""
    if current.is_final and not _may_reopen(actor):
        raise StageMoveRefused(
            _("The deal is closed; only the head of the dealer center may reopen it."),
            rule="reopen_requires_head",
        )
    allowed = {stage.pk for stage in current.allowed_next.all()}
    if allowed and target.pk not in allowed and not current.is_final:
        raise StageMoveRefused(
            _("A deal cannot move from “%(from)s” to “%(to)s”.")
            % {"from": current.name, "to": target.name},
            rule="not_in_transition_map",
        )
    if target.is_lost and loss_reason is None:
        raise StageMoveRefused(
            _("Give the reason the deal is lost."), rule="loss_reason_required", field="reason"
        )
    if target.requires_vehicle and not deal.vehicles.exists():
        raise StageMoveRefused(
            _("Add a vehicle of interest before “%(to)s”.") % {"to": target.name},
            rule="vehicle_required",
        )
    if target.requires_budget and deal.budget is None:
        raise StageMoveRefused(
            _("Enter the client's budget before “%(to)s”.") % {"to": target.name},
            rule="budget_required",
        )


def loss_reason_for(pipeline: Pipeline, value: Any) -> LossReason | None:
    """A loss reason given by id or by name, offered in ``pipeline``; None for empty."""
    if value in (None, ""):
        return None
    reasons = LossReason.objects.filter(is_active=True).filter(
        Q(pipeline__isnull=True) | Q(pipeline=pipeline)
    )
    text = str(value).strip()
    if isinstance(value, int) or (text.isascii() and text.isdigit() and len(text) < 19):
        found = reasons.filter(pk=int(text)).first()
    else:
        # Compared in Python: SQLite folds only ASCII case, and the reasons are few.
        wanted = text.casefold()
        found = next((r for r in reasons if r.name.casefold() == wanted), None)
    if found is None:
        raise ValidationFailed(_("Unknown loss reason."), field="loss_reason")
    return found


def deal_move(
    *,
    actor: Any,
    deal: Deal,
    stage: Stage | str,
    reason: str = "",
    loss_reason: LossReason | None = None,
    expected_version: int | None = None,
    rule: Any = None,
    depth: int = 0,
) -> Deal:
    """Move a deal to another stage of its pipeline through the transition map.

    Writes the history row and stores the "stage entered" occurrence for automation,
    which runs after commit. Moving to the stage the deal is already in changes nothing.
    """
    with transaction.atomic():
        # Locked without joins: PostgreSQL re-checks a joined row of a concurrently
        # updated deal against the old stage and would drop it (DoesNotExist).
        deal = Deal.objects.select_for_update().get(pk=deal.pk)
        if isinstance(stage, str):
            target = Stage.objects.filter(pipeline_id=deal.pipeline_id, code=stage).first()
            if target is None:
                raise ValidationFailed(
                    _("The pipeline has no stage “%(code)s”.") % {"code": stage[:50]},
                    field="stage",
                )
        else:
            target = stage
            if target.pipeline_id != deal.pipeline_id:
                raise ValidationFailed(_("The stage is of another pipeline."), field="stage")
        if expected_version is not None and expected_version != deal.version:
            raise StageMoveRefused(
                _("Someone has changed the deal meanwhile; reload and try again."),
                rule="changed_meanwhile",
            )
        current = deal.stage
        if target.pk == current.pk:
            return deal
        _check_move(deal, current, target, actor=actor, loss_reason=loss_reason)
        now = timezone.now()
        DealStageChange.objects.create(
            deal=deal,
            from_stage=current,
            to_stage=target,
            changed_by=user_or_none(actor),
            rule=rule,
            loss_reason=loss_reason if target.is_lost else None,
            reason=reason[:2000],
            at=now,
        )
        deal.stage = target
        deal.state = (
            DealState.WON if target.is_won else DealState.LOST if target.is_lost else DealState.OPEN
        )
        deal.stage_entered_at = now
        deal.last_activity_at = now
        deal.closed_at = now if target.is_final else None
        deal.loss_reason = loss_reason if target.is_lost else None
        deal.loss_comment = reason[:2000] if target.is_lost else ""
        deal.version += 1
        deal.save(
            update_fields=[
                "stage",
                "state",
                "stage_entered_at",
                "last_activity_at",
                "closed_at",
                "loss_reason",
                "loss_comment",
                "version",
                "updated_at",
            ]
        )
        if target.is_final:
            _cancel_open_tasks(deal, actor=actor, note=target.name)
        if depth <= MAX_RULE_DEPTH:
            event_record(Trigger.STAGE_ENTERED, deal=deal, stage=target, depth=depth, at=now)
    return deal


def _cancel_open_tasks(deal: Deal, *, actor: Any, note: str) -> None:
    # A won or lost deal needs no more calls; its open tasks would only clutter "My tasks"
    # and be escalated as overdue.
    open_tasks = list(Task.objects.select_for_update().filter(deal=deal, status=TaskStatus.OPEN))
    if not open_tasks:
        return
    TaskStatusChange.objects.bulk_create(
        TaskStatusChange(
            task=task,
            from_status=TaskStatus.OPEN,
            to_status=TaskStatus.CANCELLED,
            changed_by=user_or_none(actor),
            note=_("The deal is closed: %(stage)s.") % {"stage": note},
        )
        for task in open_tasks
    )
    Task.objects.filter(pk__in=[task.pk for task in open_tasks]).update(
        status=TaskStatus.CANCELLED, updated_at=timezone.now()
    )


DEAL_EDITABLE = ("title", "topic", "budget", "payment_intent", "responsible", "vehicle_ids")


def deal_update(*, actor: Any, deal: Deal, **changes: Any) -> Deal:
    """Change a deal's details (not its stage: that is ``deal_move``)."""
    unknown = set(changes) - set(DEAL_EDITABLE)
    if unknown:
        raise ValidationFailed(_("This field cannot be changed here."), field=sorted(unknown)[0])
    if "payment_intent" in changes and changes["payment_intent"] not in PaymentIntent.values:
        raise ValidationFailed(_("Unknown payment intent."), field="payment_intent")
    if "budget" in changes:
        _check_money(changes["budget"])
    vehicles = _vehicles(changes.pop("vehicle_ids")) if "vehicle_ids" in changes else None
    with transaction.atomic():
        deal = Deal.objects.select_for_update().get(pk=deal.pk)
        if "responsible" in changes:
            _check_responsible(changes["responsible"], deal.dealer_center)
        for name, value in changes.items():
            if name in ("title", "topic"):
                value = (value or "")[:200]
            setattr(deal, name, value)
        if vehicles is not None:
            deal.vehicles.set(vehicles)
        deal.last_activity_at = timezone.now()
        deal.version += 1
        deal.save()
    return deal
