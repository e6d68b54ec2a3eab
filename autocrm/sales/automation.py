"""The automation engine: match stored trigger occurrences against the administrators'
rules and carry out the rules' actions.

Each occurrence is processed in one transaction that holds its row locked (a second
worker skips it); each rule runs in a savepoint and writes its ``RuleExecution`` there,
unique per (rule, occurrence). A retried job therefore finds the executions of the first
run and does nothing twice; a rule that failed is rolled back alone, logged, and tried
again by the next sweep up to ``MAX_ATTEMPTS`` times.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from autocrm.accounts.models import Department
from autocrm.accounts.roles import GROUP_LEVEL_ROLES, RoleCode
from autocrm.accounts.working_time import schedules_for
from autocrm.communications.models import NotificationKind
from autocrm.communications.services import notification_create
from autocrm.core.errors import DomainError
from autocrm.sales.models import (
    ActionKind,
    AssigneeKind,
    AssignmentCursor,
    AssignmentStrategy,
    AutomationEvent,
    AutomationRule,
    Deal,
    DealState,
    ExecutionStatus,
    NotifyTarget,
    Request,
    RequestStatus,
    RuleAction,
    RuleExecution,
    Task,
    TaskStatus,
    Trigger,
)
from autocrm.sales.services import deal_move, task_create

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
# A timed scan looks at this many records per rule at most; the next minute continues.
SCAN_BATCH = 500


@dataclass
class Context:
    """What an occurrence is about, resolved once for all rules."""

    event: AutomationEvent
    deal: Deal | None
    request: Request | None
    task: Task | None

    @property
    def dealer_center_id(self) -> int | None:
        for record in (self.task, self.deal, self.request):
            if record is not None and record.dealer_center_id is not None:
                return record.dealer_center_id
        return None

    @property
    def responsible(self) -> Any:
        if self.deal is not None and self.deal.responsible_id:
            return self.deal.responsible
        if self.request is not None and self.request.responsible_id:
            return self.request.responsible
        return None

    @property
    def client(self) -> Any:
        for record in (self.deal, self.request, self.task):
            if record is not None and record.client_id is not None:
                return record.client
        return None

    @property
    def source(self) -> str:
        if self.deal is not None:
            return self.deal.source
        return self.request.source if self.request is not None else ""

    @property
    def topic(self) -> str:
        if self.deal is not None:
            return " ".join(part for part in (self.deal.title, self.deal.topic) if part)
        return self.request.topic if self.request is not None else ""

    @property
    def stage(self) -> Any:
        if self.event.stage_id is not None:
            return self.event.stage
        return self.deal.stage if self.deal is not None else None

    def record_label(self) -> str:
        if self.task is not None:
            return f"task:{self.task.pk}"
        if self.deal is not None:
            return f"deal:{self.deal.pk}"
        return f"request:{self.request.pk}" if self.request is not None else "-"

    def url(self) -> str:
        if self.task is not None:
            return reverse("sales:task_detail", args=[self.task.pk])
        if self.deal is not None:
            return reverse("sales:deal_detail", args=[self.deal.pk])
        client = self.client
        return reverse("clients:detail", args=[client.pk]) if client is not None else ""

    def placeholders(self) -> dict[str, str]:
        client = self.client
        stage = self.stage
        return {
            "client": client.display_name if client is not None else "",
            "deal": f"#{self.deal.pk}" if self.deal is not None else "",
            "request": f"#{self.request.pk}" if self.request is not None else "",
            "stage": stage.name if stage is not None else "",
            "topic": self.topic,
            "task": self.task.title if self.task is not None else "",
        }


def _context(event: AutomationEvent) -> Context:
    task = (
        Task.objects.select_related("deal", "request", "client", "assignee")
        .filter(pk=event.task_id)
        .first()
        if event.task_id
        else None
    )
    deal_id = event.deal_id or (task.deal_id if task is not None else None)
    deal = (
        Deal.objects.select_related("stage", "pipeline", "client", "responsible", "request")
        .filter(pk=deal_id)
        .first()
        if deal_id
        else None
    )
    request_id = event.request_id or (deal.request_id if deal is not None else None)
    if request_id is None and task is not None:
        request_id = task.request_id
    request = (
        Request.objects.select_related("client", "responsible").filter(pk=request_id).first()
        if request_id
        else None
    )
    return Context(event=event, deal=deal, request=request, task=task)


def rule_matches(rule: AutomationRule, context: Context) -> bool:
    """The rule's conditions; an empty condition matches anything."""
    if rule.pipeline_id is not None and (
        context.deal is None or context.deal.pipeline_id != rule.pipeline_id
    ):
        return False
    if rule.stage_id is not None:
        stage = context.stage
        if stage is None or stage.pk != rule.stage_id:
            return False
    dealer_centers = {dc.pk for dc in rule.dealer_centers.all()}
    if dealer_centers and context.dealer_center_id not in dealer_centers:
        return False
    if rule.sources and context.source not in rule.sources:
        return False
    return not (
        rule.topic_contains and rule.topic_contains.casefold() not in context.topic.casefold()
    )


# Choosing people -----------------------------------------------------------------------


def _candidates(action: RuleAction, dealer_center_id: int | None) -> QuerySet[Any]:
    users = get_user_model().objects.filter(is_active=True)
    if action.assignee_kind == AssigneeKind.DEPARTMENT:
        departments = Department.objects.filter(kind=action.department_kind).filter(
            Q(dealer_center_id=dealer_center_id) | Q(dealer_center__isnull=True)
        )
        # The dealer center's own department first; the group's when it has none.
        own = departments.filter(dealer_center_id=dealer_center_id)
        return users.filter(department__in=own if own.exists() else departments)
    if action.assignee_kind == AssigneeKind.ROLE:
        users = users.filter(roles__code=action.role)
        if action.role not in GROUP_LEVEL_ROLES:
            users = users.filter(dealer_centers=dealer_center_id)
        return get_user_model().objects.filter(pk__in=users.values("pk"))
    return users.none()


def _least_loaded(users: QuerySet[Any]) -> Any:
    open_tasks = Count("tasks", filter=Q(tasks__status=TaskStatus.OPEN), distinct=True)
    open_deals = Count("deals", filter=Q(deals__state=DealState.OPEN), distinct=True)
    return users.annotate(load=open_tasks + open_deals).order_by("load", "last_login", "pk").first()


def _round_robin(action: RuleAction, users: QuerySet[Any]) -> Any:
    cursor, _created = AssignmentCursor.objects.get_or_create(action=action)
    cursor = AssignmentCursor.objects.select_for_update().get(pk=cursor.pk)
    ordered = list(users.order_by("pk").values_list("pk", flat=True))
    if not ordered:
        return None
    following = [pk for pk in ordered if cursor.last_user_id is None or pk > cursor.last_user_id]
    chosen = (following or ordered)[0]
    cursor.last_user_id = chosen
    cursor.save(update_fields=["last_user"])
    return get_user_model().objects.get(pk=chosen)


def choose_user(action: RuleAction, context: Context) -> Any:
    if action.assignee_kind == AssigneeKind.USER:
        return action.user if action.user is not None and action.user.is_active else None
    if action.assignee_kind in (AssigneeKind.RESPONSIBLE, ""):
        return context.responsible
    users = _candidates(action, context.dealer_center_id)
    if action.strategy == AssignmentStrategy.ROUND_ROBIN:
        return _round_robin(action, users)
    return _least_loaded(users)


def heads_of(dealer_center_id: int | None) -> list[Any]:
    users = get_user_model().objects.filter(is_active=True, roles__code=RoleCode.HEAD)
    if dealer_center_id is None:
        return []
    return list(users.filter(dealer_centers=dealer_center_id).distinct().order_by("pk"))


def _notify_targets(action: RuleAction, context: Context) -> list[Any]:
    target = action.notify_target
    if target == NotifyTarget.HEAD:
        return heads_of(context.dealer_center_id)
    if target == NotifyTarget.ASSIGNEE:
        return [context.task.assignee] if context.task and context.task.assignee else []
    if target == NotifyTarget.USER:
        return [action.user] if action.user is not None and action.user.is_active else []
    if target == NotifyTarget.ROLE:
        return list(_candidates(action, context.dealer_center_id).distinct())
    return [context.responsible] if context.responsible is not None else []


# Actions -------------------------------------------------------------------------------


def _fill(template: str, context: Context) -> str:
    return template.format_map(defaultdict(str, context.placeholders()))


def _deadline(action: RuleAction, context: Context) -> datetime | None:
    if action.due_minutes is None:
        return None
    start = context.event.at
    if not action.due_in_working_time:
        return start + timedelta(minutes=action.due_minutes)
    schedule = schedules_for([context.dealer_center_id])[context.dealer_center_id]
    return schedule.add(start, timedelta(minutes=action.due_minutes))


def _act_create_task(action: RuleAction, context: Context) -> dict[str, Any]:
    assignee = choose_user(action, context)
    task = task_create(
        actor=None,
        title=_fill(action.task_title, context) or action.rule.name,
        description=_fill(action.task_description, context),
        assignee=assignee,
        due_at=_deadline(action, context),
        priority=action.task_priority,
        client=context.client,
        request=context.request,
        deal=context.deal,
        dealer_center_id=context.dealer_center_id,
        rule=action.rule,
        source_key=f"rule{action.rule_id}:event{context.event.pk}:action{action.pk}",
    )
    return {
        "action": action.kind,
        "task_id": task.pk,
        "assignee_id": assignee.pk if assignee is not None else None,
        "due_at": task.due_at.isoformat() if task.due_at else None,
    }


def _act_assign(action: RuleAction, context: Context) -> dict[str, Any]:
    # Routing fills a gap; it never takes a deal away from the manager who has it.
    record: Deal | Request | None = context.deal or context.request
    if record is None:
        return {"action": action.kind, "skipped": "no deal or request"}
    if record.responsible_id is not None:
        return {"action": action.kind, "skipped": "already assigned"}
    user = choose_user(action, context)
    if user is None:
        return {"action": action.kind, "skipped": "nobody to assign"}
    type(record).objects.filter(pk=record.pk).update(responsible=user, updated_at=timezone.now())
    record.responsible = user
    notification_create(
        user=user,
        kind=NotificationKind.DEAL_ASSIGNED,
        text=_("Assigned to you: %(what)s %(client)s")
        % {
            "what": _("deal") if context.deal is not None else _("request"),
            "client": context.placeholders()["client"],
        },
        url=context.url(),
    )
    return {"action": action.kind, "responsible_id": user.pk, "record": context.record_label()}


def _act_notify(action: RuleAction, context: Context) -> dict[str, Any]:
    text = _fill(action.message, context) or action.rule.name
    users = _notify_targets(action, context)
    for user in users:
        notification_create(user=user, kind=NotificationKind.RULE, text=text, url=context.url())
    return {"action": action.kind, "notified": [user.pk for user in users]}


def _act_escalate(action: RuleAction, context: Context) -> dict[str, Any]:
    heads = heads_of(context.dealer_center_id)
    placeholders = context.placeholders()
    if context.task is not None:
        text = _("Overdue task “%(task)s” of %(assignee)s, client %(client)s") % {
            "task": context.task.title,
            "assignee": context.task.assignee.display_name if context.task.assignee else "—",
            "client": placeholders["client"] or "—",
        }
        Task.objects.filter(pk=context.task.pk).update(escalated_at=timezone.now())
    else:
        text = _("Needs attention: %(what)s %(client)s in “%(stage)s”") % {
            "what": placeholders["deal"] or placeholders["request"],
            "client": placeholders["client"],
            "stage": placeholders["stage"],
        }
    if action.message:
        text = f"{_fill(action.message, context)} — {text}"
    for head in heads:
        notification_create(
            user=head, kind=NotificationKind.ESCALATION, text=text, url=context.url()
        )
    return {"action": action.kind, "escalated_to": [head.pk for head in heads]}


def _act_move_stage(action: RuleAction, context: Context) -> dict[str, Any]:
    if context.deal is None or action.target_stage is None:
        return {"action": action.kind, "skipped": "no deal"}
    try:
        deal = deal_move(
            actor=None,
            deal=context.deal,
            stage=action.target_stage,
            rule=action.rule,
            reason=action.rule.name,
            depth=context.event.depth + 1,
        )
    except DomainError as refusal:
        return {"action": action.kind, "refused": str(refusal.message)}
    context.deal = deal
    return {"action": action.kind, "stage": action.target_stage.code}


ACTIONS: dict[str, Any] = {
    ActionKind.CREATE_TASK: _act_create_task,
    ActionKind.ASSIGN: _act_assign,
    ActionKind.NOTIFY: _act_notify,
    ActionKind.ESCALATE: _act_escalate,
    ActionKind.MOVE_STAGE: _act_move_stage,
}


# Processing ----------------------------------------------------------------------------


def _rules_for(event: AutomationEvent) -> list[AutomationRule]:
    rules = AutomationRule.objects.filter(is_active=True, trigger=event.trigger)
    if event.rule_id is not None:
        rules = rules.filter(pk=event.rule_id)
    return list(
        rules.prefetch_related("dealer_centers", "actions__user", "actions__target_stage").order_by(
            "order", "pk"
        )
    )


def _run_rule(rule: AutomationRule, context: Context) -> str:
    """One rule for one occurrence, in a savepoint; returns the execution status."""
    event = context.event
    previous = RuleExecution.objects.filter(rule=rule, event=event).first()
    if previous is not None and (
        previous.status == ExecutionStatus.DONE or previous.attempts >= MAX_ATTEMPTS
    ):
        return previous.status
    attempts = (previous.attempts if previous is not None else 0) + 1
    try:
        with transaction.atomic():
            results = [ACTIONS[action.kind](action, context) for action in rule.actions.all()]
            RuleExecution.objects.update_or_create(
                rule=rule,
                event=event,
                defaults={
                    "record": context.record_label(),
                    "status": ExecutionStatus.DONE,
                    "result": results,
                    "error": "",
                    "attempts": attempts,
                    "at": timezone.now(),
                },
            )
        return ExecutionStatus.DONE
    except Exception as error:
        logger.exception("automation rule %s failed on event %s", rule.pk, event.pk)
        RuleExecution.objects.update_or_create(
            rule=rule,
            event=event,
            defaults={
                "record": context.record_label(),
                "status": ExecutionStatus.FAILED,
                "result": [],
                "error": f"{type(error).__name__}: {error}"[:2000],
                "attempts": attempts,
                "at": timezone.now(),
            },
        )
        return ExecutionStatus.FAILED


def event_process(*, event_id: int) -> dict[str, int]:
    """Run the matching rules of one stored occurrence; safe to call any number of times."""
    counts = {"matched": 0, "done": 0, "failed": 0}
    with transaction.atomic():
        event = (
            AutomationEvent.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("stage")
            .filter(pk=event_id, processed_at__isnull=True)
            .first()
        )
        if event is None:
            return counts  # processed already, or another worker holds it
        context = _context(event)
        for rule in _rules_for(event):
            if not rule_matches(rule, context):
                continue
            counts["matched"] += 1
            status = _run_rule(rule, context)
            counts["done" if status == ExecutionStatus.DONE else "failed"] += 1
        event.attempts += 1
        if not counts["failed"] or event.attempts >= MAX_ATTEMPTS:
            event.processed_at = timezone.now()
        event.save(update_fields=["attempts", "processed_at"])
    return counts


def events_process_pending(
    *, older_than: timedelta = timedelta(seconds=30), now: datetime | None = None
) -> int:
    """The sweep: occurrences whose job was lost or whose rules failed, oldest first."""
    cutoff = (now or timezone.now()) - older_than
    ids = list(
        AutomationEvent.objects.filter(processed_at__isnull=True, at__lte=cutoff)
        .order_by("at", "pk")
        .values_list("pk", flat=True)[:SCAN_BATCH]
    )
    for event_id in ids:
        event_process(event_id=event_id)
    return len(ids)


# The timed triggers --------------------------------------------------------------------


def _hours(rule: AutomationRule) -> timedelta:
    return timedelta(hours=float(rule.hours or Decimal(0)))


def _not_fired(queryset: QuerySet[Any], rule: AutomationRule, field: str, since: str) -> Any:
    fired = AutomationEvent.objects.filter(
        rule=rule, **{field: OuterRef("pk")}, at__gte=OuterRef(since)
    )
    return queryset.filter(~Exists(fired))


def _scoped_deals(rule: AutomationRule) -> QuerySet[Deal]:
    deals = Deal.objects.filter(state=DealState.OPEN)
    if rule.pipeline_id is not None:
        deals = deals.filter(pipeline_id=rule.pipeline_id)
    if rule.stage_id is not None:
        deals = deals.filter(stage_id=rule.stage_id)
    dealer_centers = [dc.pk for dc in rule.dealer_centers.all()]
    if dealer_centers:
        deals = deals.filter(dealer_center_id__in=dealer_centers)
    return deals


def _store_timed(
    rule: AutomationRule, found: list[tuple[str, dict[str, Any]]], now: datetime
) -> int:
    events = [
        AutomationEvent(trigger=rule.trigger, rule=rule, key=key[:160], at=now, **records)
        for key, records in found
    ]
    AutomationEvent.objects.bulk_create(events, ignore_conflicts=True)
    return len(events)


def _scan_idle(rule: AutomationRule, now: datetime) -> int:
    deals = _not_fired(
        _scoped_deals(rule).filter(stage_entered_at__lte=now - _hours(rule)),
        rule,
        "deal",
        "stage_entered_at",
    )
    found = [
        (f"idle:{rule.pk}:{deal_id}:{entered.timestamp()}", {"deal_id": deal_id})
        for deal_id, entered in deals.order_by("stage_entered_at").values_list(
            "pk", "stage_entered_at"
        )[:SCAN_BATCH]
    ]
    return _store_timed(rule, found, now)


def _scan_no_activity(rule: AutomationRule, now: datetime) -> int:
    # Working time never exceeds calendar time, so the calendar cut-off is a safe
    # pre-filter; the working hours are then counted per dealer center.
    limit = _hours(rule)
    cutoff = now - limit
    deal_rows = list(
        _not_fired(
            _scoped_deals(rule).filter(last_activity_at__lte=cutoff),
            rule,
            "deal",
            "last_activity_at",
        )
        .order_by("last_activity_at")
        .values_list("pk", "dealer_center_id", "last_activity_at")[:SCAN_BATCH]
    )
    request_rows: list[tuple[int, int | None, datetime]] = []
    if rule.pipeline_id is None and rule.stage_id is None:
        requests = Request.objects.exclude(status=RequestStatus.CLOSED).filter(
            last_activity_at__lte=cutoff, deals__isnull=True
        )
        dealer_centers = [dc.pk for dc in rule.dealer_centers.all()]
        if dealer_centers:
            requests = requests.filter(dealer_center_id__in=dealer_centers)
        request_rows = list(
            _not_fired(requests, rule, "request", "last_activity_at")
            .order_by("last_activity_at")
            .values_list("pk", "dealer_center_id", "last_activity_at")[:SCAN_BATCH]
        )
    schedules = schedules_for({row[1] for row in deal_rows + request_rows})
    found: list[tuple[str, dict[str, Any]]] = []
    for kind, rows in (("deal", deal_rows), ("request", request_rows)):
        for pk, dealer_center_id, last in rows:
            if schedules[dealer_center_id].between(last, now) >= limit:
                found.append(
                    (f"quiet:{rule.pk}:{kind}:{pk}:{last.timestamp()}", {f"{kind}_id": pk})
                )
    return _store_timed(rule, found, now)


def _scan_overdue(rule: AutomationRule, now: datetime) -> int:
    tasks = Task.objects.filter(status=TaskStatus.OPEN, due_at__lte=now - _hours(rule))
    if rule.pipeline_id is not None:
        tasks = tasks.filter(deal__pipeline_id=rule.pipeline_id)
    if rule.stage_id is not None:
        tasks = tasks.filter(deal__stage_id=rule.stage_id)
    dealer_centers = [dc.pk for dc in rule.dealer_centers.all()]
    if dealer_centers:
        tasks = tasks.filter(dealer_center_id__in=dealer_centers)
    tasks = _not_fired(tasks, rule, "task", "due_at")
    found = [
        (f"overdue:{rule.pk}:{task_id}:{due.timestamp()}", {"task_id": task_id})
        for task_id, due in tasks.order_by("due_at").values_list("pk", "due_at")[:SCAN_BATCH]
    ]
    return _store_timed(rule, found, now)


SCANS = {
    Trigger.DEAL_IDLE: _scan_idle,
    Trigger.NO_ACTIVITY: _scan_no_activity,
    Trigger.TASK_OVERDUE: _scan_overdue,
}


def automation_scan(*, now: datetime | None = None) -> dict[str, int]:
    """Find the occurrences of the timed triggers (the scheduler runs this each minute)
    and process them with everything still pending.

    Occurrences of the write triggers normally have been processed by their own jobs
    already; the sweep takes what is left (a lost job, a failed rule). Processing twice
    is harmless: the occurrence row is locked and marked processed."""
    now = now or timezone.now()
    found = 0
    for rule in AutomationRule.objects.filter(
        is_active=True, trigger__in=list(SCANS)
    ).prefetch_related("dealer_centers"):
        with transaction.atomic():
            found += SCANS[Trigger(rule.trigger)](rule, now)
    processed = events_process_pending(older_than=timedelta(0), now=now)
    return {"found": found, "processed": processed}
