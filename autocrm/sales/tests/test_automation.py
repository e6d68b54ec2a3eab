"""Automation rules: each trigger, condition and action; idempotency under retried jobs;
working-hours deadlines across time zones; escalation of overdue tasks."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from autocrm.accounts.models import Department, DepartmentKind, WorkingHours
from autocrm.accounts.tests.factories import DealerCenterFactory, UserFactory
from autocrm.clients.tests.factories import ClientFactory
from autocrm.communications.models import Notification, NotificationKind
from autocrm.inventory.tests.factories import VehicleFactory
from autocrm.sales import automation
from autocrm.sales.automation import automation_scan, event_process, events_process_pending
from autocrm.sales.models import (
    AutomationEvent,
    DealStageChange,
    ExecutionStatus,
    RequestSource,
    RuleExecution,
    Task,
    TaskStatus,
    Trigger,
)
from autocrm.sales.services import deal_create, deal_move, request_touch, task_create
from autocrm.sales.tasks import process_automation_event
from autocrm.sales.tests.factories import (
    default_pipelines,
    make_deal,
    make_rule,
    run_queued_jobs,
    stage,
)

pytestmark = pytest.mark.django_db

MOSCOW = zoneinfo.ZoneInfo("Europe/Moscow")


def _hours(dealer_center: Any, opens: int = 9, closes: int = 18) -> None:
    for day in range(5):
        WorkingHours.objects.create(
            dealer_center=dealer_center, weekday=day, opens_at=time(opens), closes_at=time(closes)
        )


@pytest.fixture
def world() -> dict[str, Any]:
    murmansk = DealerCenterFactory.create(name="Мурманск CHERY", time_zone="Europe/Moscow")
    other = DealerCenterFactory.create(name="Владивосток", time_zone="Asia/Vladivostok")
    _hours(murmansk)
    _hours(other)
    sales = Department.objects.create(
        name="Продажи", kind=DepartmentKind.SALES, dealer_center=murmansk
    )
    managers = [
        UserFactory.create(
            username=f"manager{n}",
            roles=["sales_manager"],
            dealer_centers=[murmansk],
            department=sales,
        )
        for n in (1, 2)
    ]
    return {
        "murmansk": murmansk,
        "other": other,
        "managers": managers,
        "head": UserFactory.create(username="head", roles=["head"], dealer_centers=[murmansk]),
        "other_head": UserFactory.create(
            username="other_head", roles=["head"], dealer_centers=[other]
        ),
        "operator": UserFactory.create(username="operator", roles=["operator"]),
        "pipelines": default_pipelines(),
    }


def _process_all() -> None:
    events_process_pending(older_than=timedelta(0))


def _new_car_deal(world: dict[str, Any], **fields: Any) -> Any:
    fields.setdefault("responsible", world["managers"][0])
    return deal_create(
        actor=None,
        client=ClientFactory.create(),
        pipeline=world["pipelines"]["new_car"],
        dealer_center=fields.pop("dealer_center", world["murmansk"]),
        **fields,
    )


# Triggers -------------------------------------------------------------------------------


def test_a_web_request_at_1750_in_murmansk_is_due_next_working_morning(
    world: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    make_rule(
        trigger=Trigger.REQUEST_CREATED,
        sources=[RequestSource.WEBFORM],
        actions=[
            {
                "kind": "create_task",
                "task_title": "Перезвонить: {client}",
                "assignee_kind": "role",
                "role": "operator",
                "due_minutes": 30,
            }
        ],
    )
    client = ClientFactory.create(last_name="Смирнов", first_name="Олег")
    at = datetime(2026, 11, 26, 17, 50, tzinfo=MOSCOW)  # Thursday
    with django_capture_on_commit_callbacks(execute=True):
        request, opened = request_touch(
            client=client,
            source=RequestSource.WEBFORM,
            dealer_center_id=world["murmansk"].pk,
            topic="Tiggo 7 Pro Max",
            at=at,
        )
    assert opened
    assert not Task.objects.exists()  # the rule runs in the background job
    assert run_queued_jobs() == 1
    task = Task.objects.get()
    assert task.due_at == datetime(2026, 11, 27, 9, 20, tzinfo=MOSCOW)
    assert task.assignee == world["operator"]
    assert task.request == request
    assert task.client == client
    assert task.dealer_center == world["murmansk"]
    assert task.title == f"Перезвонить: {client.display_name}"
    execution = RuleExecution.objects.get()
    assert execution.status == ExecutionStatus.DONE
    assert execution.record == f"request:{request.pk}"
    assert execution.result[0]["task_id"] == task.pk


def test_the_same_rule_counts_each_dealer_centers_own_hours(world: dict[str, Any]) -> None:
    make_rule(
        trigger=Trigger.REQUEST_CREATED,
        actions=[{"kind": "create_task", "task_title": "Call", "due_minutes": 30}],
    )
    at = datetime(2026, 11, 26, 17, 50, tzinfo=MOSCOW)  # 00:50 Friday in Vladivostok
    for dealer_center in (world["murmansk"], world["other"]):
        request_touch(
            client=ClientFactory.create(),
            source=RequestSource.TELEGRAM,
            dealer_center_id=dealer_center.pk,
            at=at,
        )
    _process_all()
    due = {task.dealer_center_id: task.due_at for task in Task.objects.all()}
    assert due[world["murmansk"].pk] == datetime(2026, 11, 27, 9, 20, tzinfo=MOSCOW)
    assert due[world["other"].pk] == datetime(
        2026, 11, 27, 9, 30, tzinfo=zoneinfo.ZoneInfo("Asia/Vladivostok")
    )


def test_continuing_a_request_is_no_new_occurrence(world: dict[str, Any]) -> None:
    make_rule(trigger=Trigger.REQUEST_CREATED, actions=[{"kind": "create_task", "task_title": "x"}])
    client = ClientFactory.create()
    for _ in range(3):
        request_touch(client=client, source=RequestSource.TELEGRAM)
    assert AutomationEvent.objects.count() == 1
    _process_all()
    assert Task.objects.count() == 1


def test_no_rule_no_stored_occurrence(world: dict[str, Any]) -> None:
    request_touch(client=ClientFactory.create(), source=RequestSource.TELEGRAM)
    _new_car_deal(world)
    assert AutomationEvent.objects.count() == 0


def test_stage_entered_creates_the_managers_task_and_notifies(
    world: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    pipeline = world["pipelines"]["new_car"]
    test_drive = stage(pipeline, "test_drive")
    make_rule(
        trigger=Trigger.STAGE_ENTERED,
        stage=test_drive,
        actions=[
            {
                "kind": "create_task",
                "task_title": "Подготовить тест-драйв {deal}",
                "due_minutes": 24 * 60,
                "due_in_working_time": False,
            },
            {"kind": "notify", "notify_target": "responsible", "message": "Тест-драйв: {client}"},
        ],
    )
    deal = _new_car_deal(world, vehicle_ids=[VehicleFactory.create().pk])
    deal_move(actor=world["managers"][0], deal=deal, stage="needs")
    with django_capture_on_commit_callbacks(execute=True):
        deal_move(actor=world["managers"][0], deal=deal, stage="test_drive")
    run_queued_jobs()
    task = Task.objects.get()
    moved_at = DealStageChange.objects.filter(deal=deal, to_stage=test_drive).get().at
    assert task.title == f"Подготовить тест-драйв #{deal.pk}"
    assert task.assignee == world["managers"][0]
    assert task.deal == deal
    assert task.due_at == moved_at + timedelta(hours=24)
    notice = Notification.objects.get(kind=NotificationKind.RULE)
    assert notice.user == world["managers"][0]
    assert notice.text == f"Тест-драйв: {deal.client.display_name}"
    assert notice.url == f"/sales/deals/{deal.pk}/"


def test_deal_created_trigger(world: dict[str, Any]) -> None:
    make_rule(
        trigger=Trigger.DEAL_CREATED,
        actions=[{"kind": "create_task", "task_title": "Первый звонок", "due_minutes": 15}],
    )
    deal = _new_car_deal(world)
    _process_all()
    assert list(Task.objects.values_list("deal_id", "title")) == [(deal.pk, "Первый звонок")]


def test_no_activity_counts_working_hours(world: dict[str, Any]) -> None:
    rule = make_rule(
        trigger=Trigger.NO_ACTIVITY,
        hours=8,
        actions=[{"kind": "notify", "notify_target": "head"}],
    )
    quiet = _new_car_deal(world)
    recent = _new_car_deal(world)
    now = datetime(2026, 11, 26, 12, 0, tzinfo=MOSCOW)  # Thursday noon
    # 3 working hours on Wednesday and 3 on Thursday: 6 < 8, though 21 calendar hours.
    recent.__class__.objects.filter(pk=recent.pk).update(
        last_activity_at=datetime(2026, 11, 25, 15, 0, tzinfo=MOSCOW)
    )
    # Tuesday 15:00: 3 + 9 + 3 = 15 working hours.
    quiet.__class__.objects.filter(pk=quiet.pk).update(
        last_activity_at=datetime(2026, 11, 24, 15, 0, tzinfo=MOSCOW)
    )
    automation_scan(now=now)
    execution = RuleExecution.objects.get(rule=rule)
    assert execution.record == f"deal:{quiet.pk}"
    assert Notification.objects.get().user == world["head"]
    automation_scan(now=now + timedelta(minutes=1))
    assert RuleExecution.objects.filter(rule=rule).count() == 1


def test_no_activity_on_requests_not_yet_qualified(world: dict[str, Any]) -> None:
    rule = make_rule(
        trigger=Trigger.NO_ACTIVITY,
        hours=8,
        actions=[{"kind": "notify", "notify_target": "head"}],
    )
    request, _ = request_touch(
        client=ClientFactory.create(),
        source=RequestSource.TELEGRAM,
        dealer_center_id=world["murmansk"].pk,
        at=datetime(2026, 11, 23, 10, 0, tzinfo=MOSCOW),
    )
    automation_scan(now=datetime(2026, 11, 26, 12, 0, tzinfo=MOSCOW))
    assert RuleExecution.objects.get(rule=rule).record == f"request:{request.pk}"


def test_deal_idle_in_a_stage(world: dict[str, Any]) -> None:
    rule = make_rule(
        trigger=Trigger.DEAL_IDLE,
        hours=72,
        pipeline=world["pipelines"]["new_car"],
        actions=[{"kind": "notify", "notify_target": "responsible", "message": "{deal} стоит"}],
    )
    idle = _new_car_deal(world)
    fresh = _new_car_deal(world)
    idle.__class__.objects.filter(pk=idle.pk).update(
        stage_entered_at=timezone.now() - timedelta(hours=73)
    )
    result = automation_scan()
    assert result["found"] == 1
    assert RuleExecution.objects.get(rule=rule).record == f"deal:{idle.pk}"
    assert Notification.objects.get().text == f"#{idle.pk} стоит"
    automation_scan()
    assert RuleExecution.objects.filter(rule=rule).count() == 1
    # Entering a stage anew starts the clock again: idle again later is a new occurrence.
    deal_move(actor=None, deal=idle, stage="contact")
    automation_scan(now=timezone.now() + timedelta(hours=71))
    assert RuleExecution.objects.filter(rule=rule).count() == 1
    automation_scan(now=timezone.now() + timedelta(hours=73))
    # Three days on, the other deal is idle too.
    assert sorted(RuleExecution.objects.filter(rule=rule).values_list("record", flat=True)) == [
        f"deal:{idle.pk}",
        f"deal:{idle.pk}",
        f"deal:{fresh.pk}",
    ]


def test_overdue_task_is_escalated_to_the_head_once(
    world: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    make_rule(trigger=Trigger.TASK_OVERDUE, actions=[{"kind": "escalate"}])
    deal = _new_car_deal(world)
    overdue = task_create(
        actor=None,
        title="Перезвонить",
        assignee=world["managers"][0],
        deal=deal,
        due_at=timezone.now() - timedelta(minutes=5),
    )
    task_create(
        actor=None,
        title="Завтра",
        assignee=world["managers"][0],
        deal=deal,
        due_at=timezone.now() + timedelta(days=1),
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        automation_scan()
    overdue.refresh_from_db()
    assert overdue.escalated_at is not None
    escalation = Notification.objects.get(kind=NotificationKind.ESCALATION)
    assert escalation.user == world["head"]
    assert "Перезвонить" in escalation.text
    assert escalation.url == f"/sales/tasks/{overdue.pk}/"
    # Escalations go out by e-mail by default.
    assert [message.to for message in mail.outbox] == [[world["head"].email]]
    automation_scan()
    assert Notification.objects.filter(kind=NotificationKind.ESCALATION).count() == 1
    # The other dealer center's head hears nothing.
    assert not Notification.objects.filter(user=world["other_head"]).exists()


def test_a_done_task_is_not_overdue(world: dict[str, Any]) -> None:
    make_rule(trigger=Trigger.TASK_OVERDUE, actions=[{"kind": "escalate"}])
    task = task_create(
        actor=None, title="x", due_at=timezone.now() - timedelta(hours=1), client=None
    )
    Task.objects.filter(pk=task.pk).update(status=TaskStatus.DONE)
    automation_scan()
    assert not RuleExecution.objects.exists()


# Conditions -----------------------------------------------------------------------------


def test_conditions_pipeline_dealer_center_source_and_topic(world: dict[str, Any]) -> None:
    new_car = world["pipelines"]["new_car"]
    used_car = world["pipelines"]["used_car"]
    rule = make_rule(
        trigger=Trigger.DEAL_CREATED,
        pipeline=new_car,
        dealer_centers=[world["murmansk"]],
        sources=[RequestSource.WEBFORM, RequestSource.TELEGRAM],
        topic_contains="tiggo",
        actions=[{"kind": "notify", "notify_target": "head"}],
    )

    def deal(**fields: Any) -> Any:
        fields.setdefault("pipeline", new_car)
        fields.setdefault("dealer_center", world["murmansk"])
        fields.setdefault("source", RequestSource.WEBFORM)
        fields.setdefault("topic", "Chery TIGGO 7")
        return deal_create(actor=None, client=ClientFactory.create(), **fields)

    matching = deal()
    deal(pipeline=used_car)
    deal(dealer_center=world["other"])
    deal(source=RequestSource.VK)
    deal(topic="Exeed")
    _process_all()
    assert list(RuleExecution.objects.filter(rule=rule).values_list("record", flat=True)) == [
        f"deal:{matching.pk}"
    ]


def test_stage_condition(world: dict[str, Any]) -> None:
    pipeline = world["pipelines"]["new_car"]
    rule = make_rule(
        trigger=Trigger.STAGE_ENTERED,
        stage=stage(pipeline, "offer"),
        actions=[{"kind": "notify", "notify_target": "head"}],
    )
    deal = _new_car_deal(world, vehicle_ids=[VehicleFactory.create().pk])
    for code in ("contact", "needs", "offer", "contract"):
        deal_move(actor=None, deal=deal, stage=code)
    _process_all()
    assert RuleExecution.objects.filter(rule=rule).count() == 1
    offer_entered = AutomationEvent.objects.get(pk=RuleExecution.objects.get().event_id)
    assert offer_entered.stage.code == "offer"


# Actions --------------------------------------------------------------------------------


def test_round_robin_within_the_sales_department(world: dict[str, Any]) -> None:
    make_rule(
        trigger=Trigger.DEAL_CREATED,
        actions=[
            {
                "kind": "assign",
                "assignee_kind": "department",
                "department_kind": DepartmentKind.SALES,
                "strategy": "round_robin",
            }
        ],
    )
    deals = [_new_car_deal(world, responsible=None) for _ in range(3)]
    kept = _new_car_deal(world, responsible=world["managers"][1])
    _process_all()
    first, second = world["managers"]
    responsible = [deal.__class__.objects.get(pk=deal.pk).responsible for deal in deals]
    assert responsible == [first, second, first]
    assert Notification.objects.filter(kind=NotificationKind.DEAL_ASSIGNED).count() == 3
    # A deal that has its manager keeps him.
    kept.refresh_from_db()
    assert kept.responsible == second
    assert RuleExecution.objects.get(event__deal=kept).result == [
        {"action": "assign", "skipped": "already assigned"}
    ]


def test_least_loaded_picks_the_manager_with_fewer_open_tasks(world: dict[str, Any]) -> None:
    busy, free = world["managers"]
    for _ in range(2):
        task_create(actor=None, title="busy", assignee=busy)
    task_create(actor=None, title="done", assignee=free)
    Task.objects.filter(assignee=free).update(status=TaskStatus.DONE)
    make_rule(
        trigger=Trigger.DEAL_CREATED,
        actions=[
            {
                "kind": "create_task",
                "task_title": "Позвонить",
                "assignee_kind": "role",
                "role": "sales_manager",
                "strategy": "least_loaded",
            }
        ],
    )
    deal = _new_car_deal(world, responsible=None)
    _process_all()
    assert Task.objects.get(deal=deal).assignee == free


def test_chosen_user_and_escalation_of_a_deal(world: dict[str, Any]) -> None:
    make_rule(
        trigger=Trigger.DEAL_CREATED,
        actions=[
            {
                "kind": "create_task",
                "task_title": "Check",
                "assignee_kind": "user",
                "user": world["operator"],
            },
            {"kind": "escalate", "message": "Крупная сделка"},
        ],
    )
    deal = _new_car_deal(world)
    _process_all()
    assert Task.objects.get(deal=deal).assignee == world["operator"]
    notice = Notification.objects.get(kind=NotificationKind.ESCALATION)
    assert notice.user == world["head"]
    assert notice.text.startswith("Крупная сделка — ")


def test_move_stage_action_writes_history_with_the_rule(world: dict[str, Any]) -> None:
    pipeline = world["pipelines"]["new_car"]
    rule = make_rule(
        trigger=Trigger.DEAL_CREATED,
        actions=[{"kind": "move_stage", "target_stage": stage(pipeline, "contact")}],
    )
    deal = _new_car_deal(world)
    _process_all()
    deal.refresh_from_db()
    assert deal.stage.code == "contact"
    change = DealStageChange.objects.filter(deal=deal).last()
    assert change is not None
    assert (change.from_stage.code, change.rule, change.changed_by) == ("new", rule, None)


def test_a_loop_of_moves_between_two_stages_stops(world: dict[str, Any]) -> None:
    pipeline = world["pipelines"]["new_car"]
    contact, needs = stage(pipeline, "contact"), stage(pipeline, "needs")
    make_rule(
        trigger=Trigger.STAGE_ENTERED,
        stage=contact,
        actions=[{"kind": "move_stage", "target_stage": needs}],
    )
    make_rule(
        trigger=Trigger.STAGE_ENTERED,
        stage=needs,
        actions=[{"kind": "move_stage", "target_stage": contact}],
    )
    deal = _new_car_deal(world)
    deal_move(actor=None, deal=deal, stage="contact")
    for _ in range(10):
        _process_all()
    assert not AutomationEvent.objects.filter(processed_at__isnull=True).exists()
    assert DealStageChange.objects.filter(deal=deal).count() <= 10


def test_a_refused_move_is_logged_not_failed(world: dict[str, Any]) -> None:
    pipeline = world["pipelines"]["new_car"]
    make_rule(
        trigger=Trigger.DEAL_CREATED,
        actions=[{"kind": "move_stage", "target_stage": stage(pipeline, "test_drive")}],
    )
    deal = _new_car_deal(world)  # no vehicle: "Test drive" requires one
    _process_all()
    execution = RuleExecution.objects.get()
    assert execution.status == ExecutionStatus.DONE
    assert "refused" in execution.result[0]
    deal.refresh_from_db()
    assert deal.stage.code == "new"


# Idempotency ----------------------------------------------------------------------------


def _three_rules_on(stage_object: Any) -> None:
    for n in range(3):
        make_rule(
            trigger=Trigger.STAGE_ENTERED,
            stage=stage_object,
            actions=[{"kind": "create_task", "task_title": f"Task {n}", "due_minutes": 60}],
        )


def test_a_retried_job_does_nothing_twice(world: dict[str, Any]) -> None:
    _three_rules_on(stage(world["pipelines"]["new_car"], "contact"))
    deal = _new_car_deal(world)
    deal_move(actor=None, deal=deal, stage="contact")
    event = AutomationEvent.objects.get(trigger=Trigger.STAGE_ENTERED, stage__code="contact")
    assert process_automation_event.call(event.pk) == {"matched": 3, "done": 3, "failed": 0}
    # The queue delivers the job again (a worker died after commit, before acknowledging).
    assert process_automation_event.call(event.pk) == {"matched": 0, "done": 0, "failed": 0}
    # Even if the event were not marked processed, the executions stop a second run.
    AutomationEvent.objects.filter(pk=event.pk).update(processed_at=None)
    assert event_process(event_id=event.pk) == {"matched": 3, "done": 3, "failed": 0}
    assert Task.objects.filter(deal=deal).count() == 3
    assert RuleExecution.objects.filter(event=event).count() == 3


def test_a_failing_rule_is_rolled_back_alone_and_retried(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_rule(
        trigger=Trigger.DEAL_CREATED,
        actions=[{"kind": "create_task", "task_title": "Works"}],
    )
    flaky = make_rule(
        trigger=Trigger.DEAL_CREATED,
        actions=[
            {"kind": "create_task", "task_title": "Half done"},
            {"kind": "notify", "notify_target": "head"},
        ],
    )
    real_notify = automation.ACTIONS["notify"]
    failures = iter([RuntimeError("mail server down")])

    def notify_once_failing(action: Any, context: Any) -> Any:
        error = next(failures, None)
        if error is not None:
            raise error
        return real_notify(action, context)

    monkeypatch.setitem(automation.ACTIONS, "notify", notify_once_failing)
    deal = _new_car_deal(world)
    event = AutomationEvent.objects.get(trigger=Trigger.DEAL_CREATED)
    assert event_process(event_id=event.pk) == {"matched": 2, "done": 1, "failed": 1}
    failed = RuleExecution.objects.get(rule=flaky)
    assert (failed.status, failed.attempts) == (ExecutionStatus.FAILED, 1)
    assert "mail server down" in failed.error
    # The failed rule's task was rolled back with it; the other rule's stays.
    assert list(Task.objects.filter(deal=deal).values_list("title", flat=True)) == ["Works"]
    event.refresh_from_db()
    assert event.processed_at is None
    # The sweep tries again: the flaky rule now succeeds, the other is not repeated.
    _process_all()
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == (ExecutionStatus.DONE, 2)
    assert sorted(Task.objects.filter(deal=deal).values_list("title", flat=True)) == [
        "Half done",
        "Works",
    ]
    event.refresh_from_db()
    assert event.processed_at is not None


def test_inactive_rules_do_nothing(world: dict[str, Any]) -> None:
    rule = make_rule(
        trigger=Trigger.DEAL_CREATED, actions=[{"kind": "create_task", "task_title": "x"}]
    )
    event_count = AutomationEvent.objects.count()
    rule.is_active = False
    rule.save()
    _new_car_deal(world)
    _process_all()
    assert AutomationEvent.objects.count() == event_count
    assert not Task.objects.exists()


def test_a_rule_sees_the_deal_as_saved(world: dict[str, Any]) -> None:
    """The job runs after commit; the occurrence row and the deal exist for it."""
    make_rule(trigger=Trigger.DEAL_CREATED, actions=[{"kind": "create_task", "task_title": "x"}])
    deal = _new_car_deal(world)
    event = AutomationEvent.objects.get(trigger=Trigger.DEAL_CREATED)
    assert event.deal == deal
    assert make_deal  # factories stay importable for other tests
