"""Demo of the sales funnel: the default pipelines, SLA targets and automation rules, and
deals in every stage of every pipeline for each dealer center that has sales managers.

Two demo steps (registered in ``sales.demo``): the configuration runs before the channels'
demo, so the requests it brings in already fire the rules (a web form request gets its
call-back task); the deals run after it and qualify some of those requests.

Everything is written through the services, as the managers would write it: a deal is
opened by ``deal_create`` and walked stage by stage with ``deal_move`` (history rows,
automation occurrences); lost deals carry a loss reason. The automation that a worker
would run after each commit is run here right away (``event_process``), so the demo does
not depend on background jobs and shows the rule-made tasks; the manager completes the
rule's task before the deal moves on, as he would.

Idempotent: configuration is looked up before it is created, and a dealer center that has
any deal in the default pipelines gets no demo deals or tasks again.
"""

from __future__ import annotations

import random
import zlib
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from autocrm.accounts.models import DealerCenter, User
from autocrm.accounts.roles import RoleCode
from autocrm.clients.models import Client
from autocrm.clients.services import client_create
from autocrm.inventory.models import Condition, Vehicle
from autocrm.sales import services
from autocrm.sales.automation import event_process, events_process_pending
from autocrm.sales.models import (
    ActionKind,
    AssigneeKind,
    AssignmentStrategy,
    AutomationEvent,
    AutomationRule,
    Deal,
    DealState,
    LossReason,
    NotifyTarget,
    PaymentIntent,
    Pipeline,
    Request,
    RequestSource,
    RequestStatus,
    RuleAction,
    SlaKind,
    SlaTarget,
    Stage,
    Task,
    TaskPriority,
    TaskStatus,
    Trigger,
)
from autocrm.sales.presets import DEFAULT_PIPELINES, pipelines_install_defaults

DEMO_SEED = 20260501
# The dealer center whose first response is watched more strictly than the group's.
STRICT_DEALER_CENTER = "msk-chery-exeed-varshavka"

# --- configuration ---------------------------------------------------------------------------

# (kind, pipeline code or None, stage code or None, dealer-center code or None, minutes)
SLA_TARGETS: tuple[tuple[str, str | None, str | None, str | None, int], ...] = (
    (SlaKind.FIRST_RESPONSE, None, None, None, 15),
    (SlaKind.FIRST_RESPONSE, None, None, STRICT_DEALER_CENTER, 10),
    (SlaKind.STAGE, "new_car", "new", None, 2 * 60),
    (SlaKind.STAGE, "new_car", "test_drive", None, 24 * 60),
    (SlaKind.STAGE, "used_car", "new", None, 2 * 60),
    (SlaKind.STAGE, "used_car", "test_drive", None, 24 * 60),
    (SlaKind.STAGE, "service", "new", None, 60),
    (SlaKind.STAGE, "trade_in", "new", None, 4 * 60),
)


@dataclass(frozen=True)
class RuleSpec:
    name: Promise
    trigger: str
    actions: tuple[dict[str, Any], ...]
    pipeline: str | None = None
    stage: str | None = None
    hours: Decimal | None = None
    sources: tuple[str, ...] = ()


DEFAULT_RULES: tuple[RuleSpec, ...] = (
    RuleSpec(
        name=_("Website form: call the client back within 15 working minutes"),
        trigger=Trigger.REQUEST_CREATED,
        sources=(RequestSource.WEBFORM,),
        actions=(
            {
                "kind": ActionKind.CREATE_TASK,
                "task_title": _("Call back the client"),
                "task_description": _(
                    "A request from the website form ({topic}): call {client} back."
                ),
                "task_priority": TaskPriority.HIGH,
                "assignee_kind": AssigneeKind.ROLE,
                "role": RoleCode.OPERATOR,
                "strategy": AssignmentStrategy.LEAST_LOADED,
                "due_minutes": 15,
                "due_in_working_time": True,
            },
        ),
    ),
    RuleSpec(
        name=_("Test drive: the manager prepares the car within 24 hours"),
        trigger=Trigger.STAGE_ENTERED,
        pipeline="new_car",
        stage="test_drive",
        actions=(
            {
                "kind": ActionKind.CREATE_TASK,
                "task_title": _("Prepare the test drive"),
                "task_description": _(
                    "Test drive for {client}, deal {deal}: book the car, check it is "
                    "clean and fuelled, prepare the documents."
                ),
                "assignee_kind": AssigneeKind.RESPONSIBLE,
                "due_minutes": 24 * 60,
                "due_in_working_time": False,
            },
            {
                "kind": ActionKind.NOTIFY,
                "notify_target": NotifyTarget.RESPONSIBLE,
                "message": _("Test drive for {client} ({deal}): prepare the car within 24 hours."),
            },
        ),
    ),
    RuleSpec(
        name=_("New deal: a sales manager of the dealer center by round-robin"),
        trigger=Trigger.STAGE_ENTERED,
        pipeline="new_car",
        stage="new",
        actions=(
            {
                "kind": ActionKind.ASSIGN,
                # Sales managers, not the whole sales department: the head and the
                # hostess work in it too.
                "assignee_kind": AssigneeKind.ROLE,
                "role": RoleCode.SALES_MANAGER,
                "strategy": AssignmentStrategy.ROUND_ROBIN,
            },
        ),
    ),
    RuleSpec(
        name=_("Overdue task: escalate to the head of the dealer center"),
        trigger=Trigger.TASK_OVERDUE,
        hours=Decimal(0),
        actions=({"kind": ActionKind.ESCALATE},),
    ),
    RuleSpec(
        name=_("Deal idle for 72 hours: tell the manager and the head"),
        trigger=Trigger.DEAL_IDLE,
        hours=Decimal(72),
        actions=(
            {
                "kind": ActionKind.NOTIFY,
                "notify_target": NotifyTarget.RESPONSIBLE,
                "message": _("Deal {deal} of {client} has been in “{stage}” for over 72 hours."),
            },
            {
                "kind": ActionKind.NOTIFY,
                "notify_target": NotifyTarget.HEAD,
                "message": _("Deal {deal} of {client} has been in “{stage}” for over 72 hours."),
            },
        ),
    ),
    RuleSpec(
        name=_("No activity for 8 working hours: remind the responsible"),
        trigger=Trigger.NO_ACTIVITY,
        hours=Decimal(8),
        actions=(
            {
                "kind": ActionKind.NOTIFY,
                "notify_target": NotifyTarget.RESPONSIBLE,
                "message": _("Nothing has happened for 8 working hours: {client} {topic}"),
            },
        ),
    ),
)


def _stage_of(
    pipelines: dict[str, Pipeline], pipeline: str | None, stage: str | None
) -> Stage | None:
    if pipeline is None or stage is None:
        return None
    return Stage.objects.filter(pipeline=pipelines[pipeline], code=stage).first()


def ensure_sla_targets(pipelines: dict[str, Pipeline]) -> int:
    created = 0
    dealer_centers = {dc.code: dc for dc in DealerCenter.objects.all()}
    for kind, pipeline, stage_code, dealer_center_code, minutes in SLA_TARGETS:
        stage = _stage_of(pipelines, pipeline, stage_code)
        if stage_code is not None and stage is None:
            continue  # an administrator removed the stage
        dealer_center = dealer_centers.get(dealer_center_code) if dealer_center_code else None
        if dealer_center_code and dealer_center is None:
            continue
        # Looked up by hand: the unique constraint lets NULLs (the group) repeat.
        if SlaTarget.objects.filter(dealer_center=dealer_center, kind=kind, stage=stage).exists():
            continue
        SlaTarget.objects.create(
            dealer_center=dealer_center, kind=kind, stage=stage, minutes=minutes
        )
        created += 1
    return created


def _rule_exists(spec: RuleSpec, pipeline: Pipeline | None, stage: Stage | None) -> bool:
    # Rules are recognised by what they react to, not by their name: the name is
    # translated, and an administrator may rename the rule.
    candidates = AutomationRule.objects.filter(trigger=spec.trigger, pipeline=pipeline, stage=stage)
    return any(set(rule.sources or []) == set(spec.sources) for rule in candidates)


def ensure_rules(pipelines: dict[str, Pipeline]) -> int:
    created = 0
    for order, spec in enumerate(DEFAULT_RULES):
        pipeline = pipelines.get(spec.pipeline) if spec.pipeline else None
        stage = _stage_of(pipelines, spec.pipeline, spec.stage)
        if spec.stage is not None and stage is None:
            continue
        if _rule_exists(spec, pipeline, stage):
            continue
        rule = AutomationRule.objects.create(
            name=str(spec.name),
            trigger=spec.trigger,
            hours=spec.hours,
            pipeline=pipeline,
            stage=stage,
            sources=list(spec.sources),
            order=(order + 1) * 10,
        )
        for position, action in enumerate(spec.actions):
            values = {
                name: str(value) if isinstance(value, Promise) else value
                for name, value in action.items()
            }
            RuleAction.objects.create(rule=rule, order=position, **values)
        created += 1
    return created


def build_funnel_setup() -> dict[str, int]:
    """The pipelines, SLA targets and default automation rules (what is missing of them)."""
    with transaction.atomic():
        pipelines = {pipeline.code: pipeline for pipeline in pipelines_install_defaults()}
        ensure_sla_targets(pipelines)
        ensure_rules(pipelines)
    return {
        "pipelines": Pipeline.objects.count(),
        "automation rules": AutomationRule.objects.count(),
    }


# --- deals and tasks -------------------------------------------------------------------------

# How many deals end in a stage; the first stages of a new-car sale are the busiest.
DEALS_PER_STAGE = 2
BUSY_STAGES = {("new_car", "new"): 3, ("new_car", "contact"): 3}
# How many of a dealer center's open requests the demo qualifies into deals.
QUALIFIED_REQUESTS = 4

MEN = (
    ("Смирнов", "Александр", "Викторович"), ("Кузнецов", "Дмитрий", "Сергеевич"),
    ("Попов", "Максим", "Игоревич"), ("Васильев", "Андрей", "Николаевич"),
    ("Петров", "Алексей", "Владимирович"), ("Михайлов", "Артём", "Олегович"),
    ("Новиков", "Илья", "Павлович"), ("Фёдоров", "Кирилл", "Андреевич"),
    ("Морозов", "Михаил", "Юрьевич"), ("Волков", "Сергей", "Петрович"),
    ("Алексеев", "Евгений", "Дмитриевич"), ("Лебедев", "Роман", "Геннадьевич"),
    ("Егоров", "Владимир", "Иванович"), ("Павлов", "Денис", "Алексеевич"),
    ("Степанов", "Олег", "Борисович"), ("Николаев", "Антон", "Викторович"),
    ("Захаров", "Григорий", "Степанович"), ("Зайцев", "Никита", "Романович"),
)  # fmt: skip
WOMEN = (
    ("Смирнова", "Анна", "Сергеевна"), ("Кузнецова", "Мария", "Андреевна"),
    ("Попова", "Елена", "Игоревна"), ("Васильева", "Ольга", "Николаевна"),
    ("Петрова", "Наталья", "Владимировна"), ("Михайлова", "Екатерина", "Олеговна"),
    ("Новикова", "Татьяна", "Павловна"), ("Фёдорова", "Юлия", "Андреевна"),
    ("Морозова", "Ирина", "Юрьевна"), ("Волкова", "Светлана", "Петровна"),
    ("Алексеева", "Дарья", "Дмитриевна"), ("Лебедева", "Ксения", "Геннадьевна"),
)  # fmt: skip

SERVICE_TOPICS = (
    "ТО-1", "ТО-2", "Замена тормозных колодок", "Диагностика подвески",
    "Шиномонтаж и хранение шин", "Замена масла в вариаторе", "Кузовной ремонт после ДТП",
)  # fmt: skip
TRADE_IN_CARS = (
    "Kia Rio 2017", "Hyundai Solaris 2018", "LADA Vesta 2020", "Renault Logan 2016",
    "Volkswagen Polo 2019", "Skoda Octavia 2015", "Toyota Corolla 2014", "Nissan Qashqai 2017",
)  # fmt: skip
LOSS_COMMENTS = (
    "Купил у конкурента со скидкой",
    "Отложил покупку до весны",
    "Не выходит на связь третий день",
    "Не подошёл кредит по ставке",
    "",
)
STAGE_TASK_RESULTS = "Сделано, клиент подтвердил."

# (title, days from now, hours from now, priority) of each manager's own tasks.
OVERDUE_TASKS = (
    ("Перезвонить клиенту по решению банка", -1, -3, TaskPriority.HIGH),
    ("Отправить коммерческое предложение", 0, -2, TaskPriority.NORMAL),
)
UPCOMING_TASKS = (
    ("Согласовать дату выдачи автомобиля", 1, 2, TaskPriority.NORMAL),
    ("Напомнить о продлении ОСАГО", 3, 0, TaskPriority.LOW),
)
TODAY_TASKS = (
    ("Подтвердить время визита в салон", TaskPriority.HIGH),
    ("Собрать документы для кредитной заявки", TaskPriority.NORMAL),
)


@dataclass
class Plan:
    pipeline: Pipeline
    target: Stage
    path: list[Stage]  # the stages after the first, in the order the deal goes through them
    loss_reason: LossReason | None = None
    loss_comment: str = ""


@dataclass
class DealerCenterDemo:
    dealer_center: DealerCenter
    managers: list[User]
    pipelines: list[Pipeline]
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        # Seeded by the dealer center's code: the same demo on every database.
        self.rng = random.Random(DEMO_SEED + zlib.crc32(self.dealer_center.code.encode()))  # noqa: S311 - demo data
        self._clients = self._client_pool()
        # Some open requests with a topic become deals; the rest stay new for the
        # contact center's screens.
        self._requests = list(
            Request.objects.filter(
                dealer_center=self.dealer_center,
                status=RequestStatus.NEW,
                deals__isnull=True,
                client__merged_into__isnull=True,
            )
            .exclude(topic="")
            .select_related("client")
            .order_by("pk")[:QUALIFIED_REQUESTS]
        )
        self._stock = {
            condition: list(
                Vehicle.objects.filter(
                    dealer_center=self.dealer_center, in_stock=True, condition=condition
                )
                .select_related("make", "car_model")
                .order_by("pk")[:200]
            )
            or list(
                Vehicle.objects.filter(in_stock=True, condition=condition)
                .select_related("make", "car_model")
                .order_by("pk")[:200]
            )
            for condition in (Condition.NEW, Condition.USED)
        }
        self._generated = 0

    # people -----------------------------------------------------------------------------

    def _client_pool(self) -> list[Client]:
        """Clients of the dealer center with no deal yet (the stock demo's reservations)."""
        return list(
            Client.objects.filter(
                dealer_center=self.dealer_center, merged_into__isnull=True, deals__isnull=True
            ).order_by("pk")
        )

    def _next_client(self) -> Client:
        if self._clients:
            return self._clients.pop(0)
        people = MEN + WOMEN
        last_name, first_name, middle_name = people[self._generated % len(people)]
        self._generated += 1
        code = self.dealer_center.code
        existing = Client.objects.filter(
            last_name=last_name,
            first_name=first_name,
            middle_name=middle_name,
            dealer_center=self.dealer_center,
            merged_into__isnull=True,
        ).first()
        if existing is not None:
            return existing
        digits = zlib.crc32(f"{last_name}{first_name}{code}".encode()) % 10**7
        return client_create(
            actor=self.managers[0],
            last_name=last_name,
            first_name=first_name,
            middle_name=middle_name,
            dealer_center_id=self.dealer_center.pk,
            responsible_id=self.managers[0].pk,
            phones=[f"+7915{digits:07d}"],
            consents={"personal_data": True},
            consent_source="demo",
        )

    def _can_reach(self, pipeline: Pipeline, stages: list[Stage]) -> bool:
        """Stages that need a vehicle are reachable only with some stock to show."""
        if not any(stage.requires_vehicle for stage in stages):
            return True
        condition = Condition.USED if pipeline.code == "used_car" else Condition.NEW
        return bool(self._stock[condition])

    def _manager(self, index: int) -> User:
        return self.managers[index % len(self.managers)]

    # plans ------------------------------------------------------------------------------

    def plans(self) -> list[Plan]:
        plans: list[Plan] = []
        for pipeline in self.pipelines:
            stages = list(pipeline.stages.order_by("order", "pk"))
            open_stages = [stage for stage in stages if not stage.is_final]
            reasons = _loss_reasons(pipeline)
            if not self._can_reach(pipeline, stages):
                continue
            for stage in stages:
                if stage.is_lost and not reasons:
                    continue  # a lost deal needs its reason
                for _index in range(BUSY_STAGES.get((pipeline.code, stage.code), DEALS_PER_STAGE)):
                    if stage.is_won:
                        path = [*open_stages[1:], stage]
                    elif stage.is_lost:
                        reached = self.rng.randint(0, len(open_stages) - 1)
                        path = [*open_stages[1 : reached + 1], stage]
                    else:
                        path = open_stages[1 : open_stages.index(stage) + 1]
                    plan = Plan(pipeline=pipeline, target=stage, path=path)
                    if stage.is_lost and reasons:
                        plan.loss_reason = self.rng.choice(reasons)
                        plan.loss_comment = self.rng.choice(LOSS_COMMENTS)
                    plans.append(plan)
        return plans

    def _request_for(self, pipeline: Pipeline) -> Request | None:
        """An open request of the channels' demo that fits the pipeline, qualified into it."""
        if pipeline.code not in ("new_car", "trade_in"):
            return None
        for request in self._requests:
            about_trade_in = "трейд" in request.topic.casefold()
            if about_trade_in == (pipeline.code == "trade_in"):
                self._requests.remove(request)
                return request
        return None

    def _deal_fields(self, pipeline: Pipeline, index: int) -> dict[str, Any]:
        rng = self.rng
        sources = RequestSource.values
        fields: dict[str, Any] = {"source": sources[index % len(sources)]}
        if pipeline.code in ("new_car", "used_car"):
            condition = Condition.NEW if pipeline.code == "new_car" else Condition.USED
            stock = self._stock[condition]
            if stock:
                vehicle = rng.choice(stock)
                fields["vehicle_ids"] = [vehicle.pk]
                fields["title"] = f"{vehicle.make.name} {vehicle.car_model.name}"
                extra = Decimal(rng.choice((0, 50_000, 100_000, 150_000, 300_000)))
                fields["budget"] = Decimal(vehicle.price) + extra
            fields["payment_intent"] = rng.choice(
                [
                    PaymentIntent.CASH,
                    PaymentIntent.CREDIT,
                    PaymentIntent.CREDIT,
                    PaymentIntent.TRADE_IN,
                    PaymentIntent.CREDIT_TRADE_IN,
                    PaymentIntent.UNKNOWN,
                ]
            )
            fields["topic"] = (
                "Покупка нового автомобиля"
                if pipeline.code == "new_car"
                else "Покупка автомобиля с пробегом"
            )
        elif pipeline.code == "service":
            fields["topic"] = rng.choice(SERVICE_TOPICS)
            fields["title"] = fields["topic"]
            fields["budget"] = Decimal(rng.randrange(8_000, 90_000, 500))
            fields["payment_intent"] = rng.choice([PaymentIntent.CASH, PaymentIntent.UNKNOWN])
        else:
            car = rng.choice(TRADE_IN_CARS)
            fields["topic"] = "Выкуп автомобиля"
            fields["title"] = f"Выкуп {car}"
            fields["budget"] = Decimal(rng.randrange(450_000, 2_500_000, 10_000))
        return fields

    # writing ----------------------------------------------------------------------------

    def _run_automation(self, deal: Deal) -> None:
        """What the worker does after each commit: the deal's pending occurrences."""
        pending = AutomationEvent.objects.filter(deal=deal, processed_at__isnull=True)
        for event_id in pending.order_by("pk").values_list("pk", flat=True):
            event_process(event_id=event_id)

    def _finish_stage_tasks(self, deal: Deal, manager: User) -> None:
        """The manager does what the rules asked in this stage before he moves on."""
        for task in Task.objects.filter(
            deal=deal, status=TaskStatus.OPEN, assignee=manager, rule__isnull=False
        ):
            services.task_complete(actor=manager, task=task, result=STAGE_TASK_RESULTS)

    def _make_deal(self, plan: Plan, index: int) -> Deal:
        manager = self._manager(index)
        pipeline = plan.pipeline
        request = self._request_for(pipeline)
        fields = self._deal_fields(pipeline, index)
        if request is not None:
            fields.pop("source", None)  # the request's own channel
            client = request.client
        else:
            client = self._next_client()
        first = services.first_stage(pipeline)
        # A few new-car deals arrive with nobody responsible: the round-robin rule picks
        # the manager.
        responsible = None if pipeline.code == "new_car" and plan.target == first else manager
        deal = services.deal_create(
            actor=manager,
            client=client,
            pipeline=pipeline,
            dealer_center=self.dealer_center,
            responsible=responsible,
            request=request,
            **fields,
        )
        self._run_automation(deal)
        for stage in plan.path:
            self._finish_stage_tasks(deal, manager)
            deal = services.deal_move(
                actor=manager,
                deal=deal,
                stage=stage,
                loss_reason=plan.loss_reason if stage.is_lost else None,
                reason=plan.loss_comment if stage.is_lost else "",
            )
            self._run_automation(deal)
        return deal

    def _make_own_tasks(self, manager: User, deals: list[Deal]) -> int:
        open_deals = [
            deal
            for deal in deals
            if deal.responsible_id == manager.pk and deal.state == DealState.OPEN
        ]
        if not open_deals:
            return 0
        now = timezone.now()
        local = now.astimezone(zoneinfo.ZoneInfo(self.dealer_center.time_zone))
        end_of_day = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        left_today = end_of_day - local
        due: list[tuple[str, datetime, int]] = [
            (title, now + timedelta(days=days, hours=hours), priority)
            for title, days, hours, priority in (*OVERDUE_TASKS, *UPCOMING_TASKS)
        ]
        # Later today in the dealer center's time zone, however late the demo is loaded.
        for (today_title, today_priority), hours, share in zip(
            TODAY_TASKS, (1, 3), (0.3, 0.7), strict=True
        ):
            due.append(
                (today_title, now + min(left_today * share, timedelta(hours=hours)), today_priority)
            )
        for position, (title, due_at, priority) in enumerate(due):
            services.task_create(
                actor=manager,
                title=title,
                assignee=manager,
                due_at=due_at,
                priority=priority,
                deal=open_deals[position % len(open_deals)],
            )
        return len(due)

    @transaction.atomic
    def build(self) -> int:
        made = [self._make_deal(plan, index) for index, plan in enumerate(self.plans())]
        # Reloaded: the rules may have changed the responsible after the last write.
        deals = list(Deal.objects.filter(pk__in=[deal.pk for deal in made]).order_by("pk"))
        for manager in self.managers:
            self._make_own_tasks(manager, deals)
        return len(deals)


def _loss_reasons(pipeline: Pipeline) -> list[LossReason]:
    return list(
        LossReason.objects.filter(is_active=True)
        .filter(Q(pipeline__isnull=True) | Q(pipeline=pipeline))
        .order_by("order", "name")
    )


def _sales_floors() -> list[tuple[DealerCenter, list[User]]]:
    """Dealer centers with at least one active sales manager, and those managers."""
    floors = []
    for dealer_center in DealerCenter.objects.filter(is_active=True).order_by("pk"):
        managers = list(
            User.objects.filter(
                is_active=True, roles__code=RoleCode.SALES_MANAGER, dealer_centers=dealer_center
            )
            .distinct()
            .order_by("pk")
        )
        if managers:
            floors.append((dealer_center, managers))
    return floors


def build_funnel() -> dict[str, int]:
    """Deals in every stage of every pipeline and the managers' tasks, where missing."""
    build_funnel_setup()
    # The channels' demo requests fired "request created": their call-back tasks first.
    events_process_pending(older_than=timedelta(0))
    pipelines = list(Pipeline.objects.filter(is_active=True).order_by("order", "pk"))
    default_codes = {code for code, *_rest in DEFAULT_PIPELINES}
    defaults = [pipeline for pipeline in pipelines if pipeline.code in default_codes]
    for dealer_center, managers in _sales_floors():
        if Deal.objects.filter(dealer_center=dealer_center, pipeline__in=defaults).exists():
            continue
        DealerCenterDemo(dealer_center, managers, defaults).build()
    events_process_pending(older_than=timedelta(0))
    return {"deals": Deal.objects.count(), "tasks": Task.objects.count()}
