"""The funnel's demo that ``seed_demo`` adds: deals in every stage of every pipeline written
through the services, the default SLA targets and automation rules, the rules' tasks, the
managers' own tasks, and that a second run adds nothing."""

from __future__ import annotations

import itertools
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count
from django.utils import timezone

from autocrm.accounts.models import User
from autocrm.accounts.roles import RoleCode
from autocrm.accounts.working_time import schedule_for
from autocrm.clients.models import Client
from autocrm.communications.models import Notification
from autocrm.core.demo_registry import discover_demo_steps
from autocrm.inventory.models import Condition
from autocrm.sales.models import (
    AutomationEvent,
    AutomationRule,
    Deal,
    DealStageChange,
    Pipeline,
    Request,
    RequestSource,
    RequestStatus,
    RuleAction,
    RuleExecution,
    SlaTarget,
    Stage,
    Task,
    TaskStatusChange,
)

pytestmark = pytest.mark.django_db

DEMO_FLOORS = {"murmansk-chery": "manager", "msk-chery-exeed-varshavka": "manager2"}


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def funnel_counts() -> dict[str, int]:
    models = (
        Pipeline,
        Stage,
        AutomationRule,
        RuleAction,
        SlaTarget,
        Deal,
        DealStageChange,
        Task,
        TaskStatusChange,
        AutomationEvent,
        RuleExecution,
        Notification,
        Client,
        Request,
    )
    counts = {model.__name__: model.objects.count() for model in models}
    counts["deal vehicles"] = Deal.vehicles.through.objects.count()
    return counts


def test_the_funnel_steps_run_around_the_channels():
    names = [step.name for step in discover_demo_steps()]

    # rules first, so the channels' requests fire them; deals after, to qualify requests
    assert names.index("inventory.stock") < names.index("sales.funnel_setup")
    assert names.index("sales.funnel_setup") < names.index("sales.communications")
    assert names.index("sales.communications") < names.index("sales.funnel")


def test_seed_demo_puts_deals_in_every_stage_through_the_services():
    output = seed()

    assert "deals" in output
    assert set(Pipeline.objects.values_list("code", flat=True)) == {
        "new_car",
        "used_car",
        "service",
        "trade_in",
    }
    deals = Deal.objects.select_related("dealer_center", "stage", "pipeline", "responsible")
    assert 60 <= deals.count() <= 150
    # every stage of every pipeline, at each dealer center with sales managers
    for code, username in DEMO_FLOORS.items():
        per_stage = dict(
            deals.filter(dealer_center__code=code).values_list("stage").annotate(n=Count("pk"))
        )
        for stage in Stage.objects.all():
            assert 2 <= per_stage.get(stage.pk, 0) <= 4, (code, stage.pipeline.code, stage.code)
        assert set(
            deals.filter(dealer_center__code=code).values_list("responsible__username", flat=True)
        ) == {username}
    assert not deals.exclude(dealer_center__code__in=DEMO_FLOORS).exists()

    for deal in deals.prefetch_related("vehicles"):
        # the history is the walk the manager made, stage by stage, ending where the deal is
        history = list(deal.stage_changes.order_by("at", "pk"))
        assert history[0].from_stage is None
        assert history[0].to_stage.order == min(
            stage.order for stage in deal.pipeline.stages.all() if not stage.is_final
        )
        for previous, current in itertools.pairwise(history):
            assert current.from_stage_id == previous.to_stage_id
        assert history[-1].to_stage_id == deal.stage_id
        assert {change.changed_by.username for change in history} == {
            DEMO_FLOORS[deal.dealer_center.code]
        }
        assert deal.state == (
            "won" if deal.stage.is_won else "lost" if deal.stage.is_lost else "open"
        )
        if deal.stage.is_lost:
            assert deal.loss_reason is not None
            assert history[-1].loss_reason == deal.loss_reason
        if deal.stage.is_final:
            assert deal.closed_at is not None
        vehicles = list(deal.vehicles.all())
        if any(change.to_stage.requires_vehicle for change in history):
            assert vehicles, deal
        if deal.pipeline.code == "new_car":
            assert vehicles
            assert all(vehicle.condition == Condition.NEW for vehicle in vehicles)
            # the dealer center's own stock where it has some
            if deal.dealer_center.vehicles.filter(condition=Condition.NEW, in_stock=True).exists():
                assert all(
                    vehicle.dealer_center_id == deal.dealer_center_id for vehicle in vehicles
                )
        if deal.pipeline.code == "used_car":
            assert all(vehicle.condition == Condition.USED for vehicle in vehicles)
        if deal.pipeline.code in ("new_car", "used_car"):
            assert deal.budget is not None
            assert deal.budget >= min(v.price for v in vehicles)

    assert deals.values("source").distinct().count() == len(RequestSource.values)
    assert deals.values("payment_intent").distinct().count() >= 5
    # some of the channels' requests were qualified into deals and taken into work
    qualified = Request.objects.filter(deals__isnull=False).distinct()
    assert qualified.exists()
    assert not qualified.exclude(status=RequestStatus.IN_PROGRESS).exists()
    assert Request.objects.filter(status=RequestStatus.NEW).exists()

    first = funnel_counts()
    seed()
    assert funnel_counts() == first


def _rule(trigger: str, **conditions) -> AutomationRule:
    return AutomationRule.objects.prefetch_related("actions").get(trigger=trigger, **conditions)


def _actions(rule: AutomationRule, *fields: str) -> list[tuple]:
    return list(rule.actions.order_by("order").values_list("kind", *fields))


def test_seed_demo_configures_sla_and_rules_and_runs_them():
    seed()
    now = timezone.now()

    # SLA: the group's defaults and one stricter dealer center
    targets = set(
        SlaTarget.objects.values_list(
            "dealer_center__code", "kind", "stage__pipeline__code", "stage__code", "minutes"
        )
    )
    assert {
        (None, "first_response", None, None, 15),
        ("msk-chery-exeed-varshavka", "first_response", None, None, 10),
        (None, "stage", "new_car", "new", 120),
        (None, "stage", "new_car", "test_drive", 1440),
    } <= targets

    # The default rules
    assert AutomationRule.objects.count() == 6
    assert not AutomationRule.objects.filter(is_active=False).exists()
    call_back = _rule("request_created")
    assert call_back.sources == ["webform"]
    assert _actions(
        call_back, "assignee_kind", "role", "strategy", "due_minutes", "due_in_working_time"
    ) == [("create_task", "role", "operator", "least_loaded", 15, True)]
    test_drive = _rule("stage_entered", stage__code="test_drive", pipeline__code="new_car")
    assert _actions(
        test_drive, "assignee_kind", "due_minutes", "due_in_working_time", "notify_target"
    ) == [
        ("create_task", "responsible", 1440, False, ""),
        ("notify", "responsible", None, True, "responsible"),
    ]
    round_robin = _rule("stage_entered", stage__code="new", pipeline__code="new_car")
    assert _actions(round_robin, "assignee_kind", "role", "strategy") == [
        ("assign", "role", "sales_manager", "round_robin")
    ]
    overdue = _rule("task_overdue")
    assert overdue.hours == 0
    assert _actions(overdue) == [("escalate",)]
    idle = _rule("deal_idle")
    assert idle.hours == 72
    assert _actions(idle, "notify_target") == [("notify", "responsible"), ("notify", "head")]
    quiet = _rule("no_activity")
    assert quiet.hours == 8
    assert _actions(quiet, "notify_target") == [("notify", "responsible")]

    # The rules have run: nothing is left for a worker
    assert not AutomationEvent.objects.filter(processed_at__isnull=True).exists()
    assert not RuleExecution.objects.exclude(status="done").exists()

    # (a) each web-form request got a call-back for the contact center, due in 15 working
    # minutes of its dealer center
    operator = User.objects.get(username="operator")
    web_requests = Request.objects.filter(source=RequestSource.WEBFORM)
    assert web_requests.count() == 3
    for request in web_requests:
        task = Task.objects.get(request=request, rule=call_back)
        execution = RuleExecution.objects.get(rule=call_back, event__request=request)
        assert task.assignee == operator
        assert task.title
        assert task.due_at == schedule_for(request.dealer_center_id).add(
            execution.event.at, timedelta(minutes=15)
        )

    # (b) every new-car deal that entered the test drive has its task for the manager,
    # done once the deal moved on, open while it is there; due 24 calendar hours later
    entered = DealStageChange.objects.filter(
        to_stage__code="test_drive", deal__pipeline__code="new_car"
    )
    assert entered.count() >= 8
    for change in entered.select_related("deal__stage", "deal__responsible"):
        deal = change.deal
        task = Task.objects.get(deal=deal, rule=test_drive)
        assert task.assignee == deal.responsible
        assert task.status == ("open" if deal.stage.code == "test_drive" else "done")
        event = RuleExecution.objects.get(rule=test_drive, event__deal=deal).event
        assert task.due_at == event.at + timedelta(hours=24)
    assert Notification.objects.filter(kind="rule", user__username="manager").exists()

    # (c) new-car deals that came in with nobody responsible were assigned by the rule
    assert (
        RuleExecution.objects.filter(rule=round_robin).count()
        == Deal.objects.filter(pipeline__code="new_car").count()
    )
    assert not Deal.objects.filter(responsible__isnull=True).exists()

    # The managers' own tasks: overdue, today and upcoming
    for code, username in DEMO_FLOORS.items():
        own = Task.objects.filter(assignee__username=username, rule__isnull=True, status="open")
        assert own.filter(due_at__lt=now).count() == 2
        assert own.filter(due_at__gte=now, due_at__lt=now + timedelta(hours=4)).count() == 2
        assert own.filter(due_at__gte=now + timedelta(days=1)).count() == 2
        assert not own.filter(deal__isnull=True).exists()
        assert not own.exclude(deal__dealer_center__code=code).exists()
        assert not own.exclude(deal__state="open").exists()
        assert own.first().status_changes.get().changed_by.username == username
        assert User.objects.get(username=username).has_role(RoleCode.SALES_MANAGER)
