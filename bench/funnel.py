#!/usr/bin/env python
"""The sales funnel: stage moves with automation rules, and the deal board of a big pipeline.

    .venv/bin/python bench/funnel.py                         # 200 moves, 5,000 open deals
    .venv/bin/python bench/funnel.py --moves 400 --rate 8 --board-loads 50 --no-fail
    DATABASE_URL=postgres://u:p@host/autocrm make bench

PostgreSQL only (the targets of issue 5 are set for it): the server of DATABASE_URL, or
postgres://autocrm:autocrm@127.0.0.1:5432 when DATABASE_URL names none. Each run drops and
creates the scratch database ``autocrm_bench_funnel`` (the role needs CREATEDB) and
migrates it; without a reachable PostgreSQL the run is skipped (exit 0, or 1 with
``--require-postgres``).

The data: the default pipelines, three dealer centers in three time zones with working
hours (Mon-Sat 09:00-20:00 local), 20 sales managers, ``--open-deals`` open deals in the
new-car pipeline spread over its six open stages (plus closed deals, some in the last 30
days, which the board shows, and deals of the other pipelines), ``--clients`` clients
(``generate_clients``; the deals' clients among them) and about one task per open deal.
Three automation rules listen to "stage entered: Contact made" of that pipeline, each
creating a task for the responsible manager with a deadline in working hours (15
minutes, 1 hour, 4 hours).

What runs, as in production: granian (WSGI, production settings, ``--workers``) and ONE
``manage.py db_worker`` with its default polling interval, 1 s (``--worker-interval``):
a worker that finds the queue empty sleeps that long before looking again, so the
interval bounds how long a job may wait; a busy worker does not sleep.

Measured:

a) ``POST /api/v1/deals/{id}/move`` to "Contact made" for ``--moves`` different deals
   (bearer token of a sales manager), sent at ``--rate`` moves per second over one
   keep-alive connection (``--rate 0``: one after the other, each waiting for its
   tasks). The HTTP response time (target p95 <= 50 ms: the rules must run after
   commit, not in the request), and the time from the response until the rules' three
   tasks of that deal exist, seen by polling the database every 10 ms (target p95 <= 2 s
   with one worker).
b) the board page ``/sales/deals/board/new_car/`` as a group-level user who sees all
   deals (session cookie): server response time over ``--board-loads`` loads (target p95
   <= 300 ms), and ``selectors.deal_board`` alone in this process. Until the board page
   exists (404), the selector with a plain template render is measured in-process.

A table on stdout, the figures in bench/results/funnel-latest.json; exit 1 when a target
is missed (``--no-fail``: 0).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
BENCH_DATABASE = "autocrm_bench_funnel"
sys.path.insert(0, str(REPO))

from benchlib import (  # noqa: E402 - after the path set-up
    ServerProcesses,
    configure_django,
    percentile,
    postgres_url,
    recreate_postgres_database,
)

# Targets of issue 5 ("Speed").
TARGET_MOVE_P95_MS = 50.0
TARGET_TASKS_P95_S = 2.0
TARGET_BOARD_P95_MS = 300.0

PIPELINE = "new_car"
RULE_STAGE = "contact"
# Task deadlines of the three rules, in working minutes.
RULE_DEADLINES = (15, 60, 240)
OPEN_STAGE_SHARES = {
    "new": 0.30,
    "contact": 0.20,
    "needs": 0.18,
    "test_drive": 0.12,
    "offer": 0.12,
    "contract": 0.08,
}
CENTERS = (
    ("bench-msk", "Москва: центр на Ленинском", "Москва", "77", "Europe/Moscow"),
    ("bench-ekb", "Екатеринбург: центр на Металлургов", "Екатеринбург", "66", "Asia/Yekaterinburg"),
    ("bench-nsk", "Новосибирск: центр на Большевистской", "Новосибирск", "54", "Asia/Novosibirsk"),
)
TITLES = (
    "Haval Jolion", "Chery Tiggo 7 Pro Max", "Geely Monjaro", "Lada Vesta", "Haval F7",
    "Exeed LX", "Omoda C5", "Changan CS55", "Tank 300", "Kia Rio",
)  # fmt: skip


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--moves", type=int, default=200, help="measured stage moves")
    parser.add_argument("--warmup-moves", type=int, default=10, help="unmeasured moves first")
    parser.add_argument(
        "--rate", type=float, default=4.0, help="moves per second (0: one after the other)"
    )
    parser.add_argument(
        "--worker-interval",
        type=float,
        default=1.0,
        help="db_worker --interval, seconds (default 1, the worker's own default)",
    )
    parser.add_argument("--open-deals", type=int, default=5000, help="open deals on the board")
    parser.add_argument(
        "--clients",
        type=int,
        default=200_000,
        help="clients in the database (the deals' among them)",
    )
    parser.add_argument("--board-loads", type=int, default=30, help="measured board loads")
    parser.add_argument("--board-warmup", type=int, default=5, help="unmeasured board loads")
    parser.add_argument("--workers", type=int, default=1, help="granian worker processes")
    parser.add_argument("--tasks-timeout", type=float, default=30.0, help="give up waiting after")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-fail", action="store_true", help="exit 0 even if a target is missed")
    parser.add_argument(
        "--require-postgres",
        action="store_true",
        help="fail instead of skipping when no PostgreSQL is reachable",
    )
    return parser.parse_args()


# --- the scratch database --------------------------------------------------------------------


# --- the data --------------------------------------------------------------------------------


@dataclass
class Data:
    dealer_centers: int = 0
    managers: int = 0
    clients: int = 0
    open_deals_on_board: int = 0
    closed_deals_last_30_days: int = 0
    closed_deals_older: int = 0
    deals_other_pipelines: int = 0
    deals_total: int = 0
    tasks: int = 0
    rules: int = 0
    build_s: float = 0.0
    move_deal_ids: list[int] = field(default_factory=list, repr=False)


def build(args: argparse.Namespace) -> tuple[Data, dict[str, Any]]:
    """Everything the bench needs; returns the figures and the objects the run uses."""
    from django.core.management import call_command
    from django.db import connection, transaction

    from autocrm.accounts.models import City, DealerCenter, Region, WorkingHours
    from autocrm.accounts.roles import RoleCode
    from autocrm.accounts.services import user_create
    from autocrm.clients.generator import generate_clients
    from autocrm.clients.models import Client
    from autocrm.sales.models import (
        AutomationRule,
        Deal,
        DealState,
        PaymentIntent,
        RequestSource,
        RuleAction,
        Stage,
        Task,
        TaskPriority,
        TaskStatus,
    )
    from autocrm.sales.presets import pipelines_install_defaults

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    pipelines = {pipeline.code: pipeline for pipeline in pipelines_install_defaults()}
    centers = []
    for code, name, city_name, region_code, zone in CENTERS:
        region, _ = Region.objects.get_or_create(name=city_name, defaults={"code": region_code})
        city, _ = City.objects.get_or_create(
            region=region, name=city_name, defaults={"time_zone": zone}
        )
        center = DealerCenter.objects.create(
            code=code, name=name, city=city, address="ул. Тестовая, 1", time_zone=zone
        )
        WorkingHours.objects.bulk_create(
            WorkingHours(
                dealer_center=center,
                weekday=weekday,
                opens_at=datetime.strptime("09:00", "%H:%M").time(),
                closes_at=datetime.strptime("20:00", "%H:%M").time(),
            )
            for weekday in range(6)
        )
        centers.append(center)
    password = secrets.token_urlsafe(16)
    managers = [
        user_create(
            actor=None,
            username=f"bench-manager-{index}",
            password=password,
            last_name=f"Менеджеров{index}",
            first_name="Иван",
            roles=[RoleCode.SALES_MANAGER],
            dealer_centers=[centers[index % len(centers)]],
        )
        for index in range(20)
    ]
    management = user_create(
        actor=None, username="bench-management", password=password, roles=[RoleCode.MANAGEMENT]
    )
    mover = managers[0]  # works at centers[0]; the moved deals are his

    # A dealer group's client base, generated with contacts like real ones; the deals'
    # clients are drawn from it (the board joins them: their number shapes the plans).
    closed_recent = args.open_deals // 5
    closed_older = args.open_deals
    other = args.open_deals // 2
    total_deals = args.open_deals + closed_recent + closed_older + other
    clients = max(args.clients, total_deals)
    print(f"generating {clients:,} clients ...", flush=True)
    generate_clients(count=clients, batch_size=20_000, seed=args.seed)
    client_ids = list(Client.objects.order_by("pk").values_list("pk", flat=True))

    rng = random.Random(args.seed)
    now = datetime.now(UTC)
    stages = {
        pipeline.code: {stage.code: stage for stage in pipeline.stages.all()}
        for pipeline in pipelines.values()
    }
    board = stages[PIPELINE]
    deals: list[Deal] = []

    def deal(pipeline_code: str, stage: Stage, state: str, age_days: float, index: int) -> Deal:
        center_index = index % len(centers)
        responsible = managers[center_index + len(centers) * rng.randrange(20 // len(centers))]
        entered = now - timedelta(days=age_days)
        closed = entered if state != DealState.OPEN else None
        return Deal(
            pipeline=pipelines[pipeline_code],
            stage=stage,
            state=state,
            client_id=rng.choice(client_ids),
            dealer_center=centers[center_index],
            responsible=responsible,
            title=rng.choice(TITLES),
            budget=Decimal(rng.randrange(900, 9000) * 1000) if rng.random() < 0.7 else None,
            payment_intent=rng.choice(PaymentIntent.values),
            source=rng.choice(RequestSource.values),
            stage_entered_at=entered,
            last_activity_at=entered + timedelta(hours=rng.random() * 24 * min(age_days, 1)),
            closed_at=closed,
        )

    # The deals the bench moves are the oldest of "new" at centers[0] (the mover's own).
    moved_total = args.moves + args.warmup_moves
    index = 0
    for position in range(moved_total):
        made = deal(PIPELINE, board["new"], DealState.OPEN, 2 + position / 100, index=0)
        made.responsible = mover
        made.client_id = client_ids[position]
        deals.append(made)
    index = moved_total
    open_codes = list(OPEN_STAGE_SHARES)
    weights = list(OPEN_STAGE_SHARES.values())
    for _ in range(args.open_deals - moved_total):
        code = rng.choices(open_codes, weights)[0]
        deals.append(deal(PIPELINE, board[code], DealState.OPEN, rng.random() * 40, index))
        index += 1
    for _ in range(closed_recent):
        won = rng.random() < 0.4
        stage = board["won" if won else "lost"]
        state = DealState.WON if won else DealState.LOST
        deals.append(deal(PIPELINE, stage, state, rng.random() * 29, index))
        index += 1
    for _ in range(closed_older):
        won = rng.random() < 0.4
        stage = board["won" if won else "lost"]
        state = DealState.WON if won else DealState.LOST
        deals.append(deal(PIPELINE, stage, state, 31 + rng.random() * 300, index))
        index += 1
    for _ in range(other):
        code = rng.choice(["used_car", "service", "trade_in"])
        stage = next(s for s in stages[code].values() if not s.is_won and not s.is_lost)
        deals.append(deal(code, stage, DealState.OPEN, rng.random() * 40, index))
        index += 1
    with transaction.atomic():
        created = Deal.objects.bulk_create(deals, batch_size=2000)
        # The moved deals start without tasks, so that a task on them is a rule's.
        moved = {d.pk for d in created[:moved_total]}
        open_deals = [d for d in created if d.state == DealState.OPEN and d.pk not in moved]
        # About one task per open deal: a third overdue, the rest due in the coming days.
        Task.objects.bulk_create(
            [
                Task(
                    title="Перезвонить клиенту",
                    assignee_id=d.responsible_id,
                    due_at=now + timedelta(hours=rng.uniform(-72, 120)),
                    status=TaskStatus.OPEN if rng.random() < 0.8 else TaskStatus.DONE,
                    priority=TaskPriority.NORMAL,
                    dealer_center_id=d.dealer_center_id,
                    client_id=d.client_id,
                    deal=d,
                )
                for d in open_deals
            ],
            batch_size=2000,
        )
    contact = board[RULE_STAGE]
    for position, minutes in enumerate(RULE_DEADLINES, start=1):
        rule = AutomationRule.objects.create(
            name=f"Контакт установлен: задача {position}",
            trigger="stage_entered",
            pipeline=pipelines[PIPELINE],
            stage=contact,
            order=position,
        )
        RuleAction.objects.create(
            rule=rule,
            kind="create_task",
            assignee_kind="responsible",
            task_title=f"Шаг {position}: {{client}}, {{stage}}",
            due_minutes=minutes,
            due_in_working_time=True,
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    data = Data(
        dealer_centers=len(centers),
        managers=len(managers),
        clients=Client.objects.count(),
        open_deals_on_board=Deal.objects.filter(
            pipeline=pipelines[PIPELINE], state=DealState.OPEN
        ).count(),
        closed_deals_last_30_days=closed_recent,
        closed_deals_older=closed_older,
        deals_other_pipelines=other,
        deals_total=Deal.objects.count(),
        tasks=Task.objects.count(),
        rules=AutomationRule.objects.count(),
        build_s=round(time.perf_counter() - started, 1),
        move_deal_ids=[d.pk for d in created[:moved_total]],
    )
    objects = {
        "pipeline": pipelines[PIPELINE],
        "mover": mover,
        "management": management,
        "rule_ids": list(AutomationRule.objects.values_list("pk", flat=True)),
    }
    return data, objects


# --- processes -------------------------------------------------------------------------------


def start_processes(url: str, args: argparse.Namespace) -> ServerProcesses:
    """granian and one db_worker against the scratch database."""
    worker = ["manage.py", "db_worker", "--no-reload", "--interval", str(args.worker_interval)]
    return ServerProcesses(
        url,
        name="funnel",
        workers=args.workers,
        helpers=[[*worker, "-v", "0"]],
        collect_static=True,  # the board is an HTML page
    )


# --- measuring -------------------------------------------------------------------------------


def summary(values: list[float], scale: float = 1.0, digits: int = 2) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": round(statistics.median(values) * scale, digits) if values else 0.0,
        "p95": round(percentile(values, 0.95) * scale, digits),
        "max": round(max(values, default=0.0) * scale, digits),
    }


class TaskWatcher(threading.Thread):
    """Polls the database every 10 ms for the rules' tasks of the moved deals, and notes
    when each deal has all of them (``time.perf_counter`` clock of this process)."""

    def __init__(self, rule_ids: list[int], expected: int) -> None:
        super().__init__(daemon=True)
        self.rule_ids = rule_ids
        self.expected = expected
        self.pending: set[int] = set()
        self.complete: dict[int, float] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.polls = 0

    def watch(self, deal_id: int) -> None:
        with self.lock:
            self.pending.add(deal_id)

    def run(self) -> None:
        from django.db import connection
        from django.db.models import Count

        from autocrm.sales.models import Task

        try:
            while not self.stopping.is_set():
                with self.lock:
                    waiting = list(self.pending)
                if waiting:
                    rows = (
                        Task.objects.filter(deal_id__in=waiting, rule_id__in=self.rule_ids)
                        .values("deal_id")
                        .annotate(found=Count("pk"))
                    )
                    seen = time.perf_counter()
                    self.polls += 1
                    with self.lock:
                        for row in rows:
                            if row["found"] >= self.expected and row["deal_id"] in self.pending:
                                self.pending.discard(row["deal_id"])
                                self.complete[row["deal_id"]] = seen
                time.sleep(0.01)
        finally:
            connection.close()

    def wait_all(self, deal_ids: list[int], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if all(deal_id in self.complete for deal_id in deal_ids):
                    return True
            time.sleep(0.02)
        return False


@dataclass
class MoveResult:
    moves: int = 0
    rate_per_s: float = 0.0
    worker_interval_s: float = 0.0
    response_ms: dict[str, float] = field(default_factory=dict)
    tasks_after_response_s: dict[str, float] = field(default_factory=dict)
    errors: int = 0
    tasks_missing: int = 0
    tasks_created: int = 0
    deadlines_in_working_hours: bool = False


def run_moves(
    base: str, token: str, deal_ids: list[int], watcher: TaskWatcher, args: argparse.Namespace
) -> tuple[list[float], list[float], int, int]:
    """Moves ``deal_ids`` to the rule stage; (response seconds, tasks-after seconds,
    errors, deals whose tasks never came)."""
    import httpx

    responses: list[float] = []
    answered: dict[int, float] = {}
    errors = 0
    interval = 1 / args.rate if args.rate > 0 else 0.0
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        started = time.perf_counter()
        for position, deal_id in enumerate(deal_ids):
            if interval:
                due = started + position * interval
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            sent = time.perf_counter()
            response = client.post(
                f"/api/v1/deals/{deal_id}/move", json={"stage": RULE_STAGE, "version": 1}
            )
            done = time.perf_counter()
            responses.append(done - sent)
            if response.status_code != 200:
                errors += 1
                if errors <= 3:
                    print(f"  move {deal_id}: {response.status_code} {response.text[:200]}")
                continue
            answered[deal_id] = done
            watcher.watch(deal_id)
            if not interval:
                watcher.wait_all([deal_id], args.tasks_timeout)
    watcher.wait_all(list(answered), args.tasks_timeout)
    with watcher.lock:
        waits = [watcher.complete[d] - t for d, t in answered.items() if d in watcher.complete]
        missing = sum(1 for d in answered if d not in watcher.complete)
    return responses, waits, errors, missing


def deadlines_in_working_hours(deal_ids: list[int], rule_ids: list[int]) -> bool:
    """Every rule task is due inside its dealer center's working hours (local time)."""
    import zoneinfo

    from autocrm.sales.models import Task

    for task in Task.objects.filter(deal_id__in=deal_ids, rule_id__in=rule_ids).select_related(
        "dealer_center"
    ):
        if task.due_at is None or task.dealer_center is None:
            return False
        local = task.due_at.astimezone(zoneinfo.ZoneInfo(task.dealer_center.time_zone))
        if local.weekday() == 6 or not (9 <= local.hour < 20 or local.strftime("%H:%M") == "20:00"):
            return False
    return True


@dataclass
class BoardResult:
    url: str = ""
    measured: str = ""
    loads: int = 0
    response_ms: dict[str, float] = field(default_factory=dict)
    selector_ms: dict[str, float] = field(default_factory=dict)
    page_kb: float = 0.0
    errors: int = 0
    cards_shown: int = 0
    deals_counted: int = 0


def measure_board(
    base: str, session_cookie: str, objects: dict[str, Any], args: argparse.Namespace
) -> BoardResult:
    import httpx
    from django.conf import settings
    from django.template import Context, Template
    from django.urls import NoReverseMatch, reverse

    from autocrm.sales import selectors

    pipeline = objects["pipeline"]
    user = objects["management"]
    result = BoardResult()

    def selector_once() -> list[Any]:
        return selectors.deal_board(user=user, pipeline=selectors.pipeline_by_code(pipeline.code))

    columns = selector_once()
    result.cards_shown = sum(len(column.deals) for column in columns)
    result.deals_counted = sum(column.count for column in columns if not column.stage.is_final)
    timings = []
    for index in range(args.board_warmup + args.board_loads):
        started = time.perf_counter()
        selector_once()
        if index >= args.board_warmup:
            timings.append(time.perf_counter() - started)
    result.selector_ms = summary(timings, 1000)

    try:
        url = reverse("sales:deal_board_pipeline", args=[pipeline.code])
    except NoReverseMatch:
        url = ""
    timings = []
    if url:
        result.url = url
        with httpx.Client(
            base_url=base, cookies={settings.SESSION_COOKIE_NAME: session_cookie}, timeout=60
        ) as client:
            first = client.get(url)
            if first.status_code == 404:
                url = ""
            else:
                result.measured = "board page over HTTP (granian)"
                for index in range(args.board_warmup + args.board_loads):
                    started = time.perf_counter()
                    response = client.get(url)
                    elapsed = time.perf_counter() - started
                    if index >= args.board_warmup:
                        timings.append(elapsed)
                    if response.status_code != 200:
                        result.errors += 1
                        if result.errors <= 3:
                            print(f"  board: {response.status_code} {response.text[:200]}")
                    result.page_kb = round(len(response.content) / 1024, 1)
    if not url:
        # The board view is not there yet: the selector and a plain render of its cards.
        result.url = "(no board page yet)"
        result.measured = "selectors.deal_board + plain render, in-process"
        template = Template(
            "{% for column in columns %}<section><h2>{{ column.stage.name }} "
            "({{ column.count }}, {{ column.budget }})</h2>{% for deal in column.deals %}"
            "<article>#{{ deal.pk }} {{ deal.title }} {{ deal.client.display_name }} "
            "{{ deal.responsible.display_name }} {{ deal.dealer_center.name }} "
            "{{ deal.budget }} {{ deal.last_activity_at }}</article>{% endfor %}</section>"
            "{% endfor %}"
        )
        for index in range(args.board_warmup + args.board_loads):
            started = time.perf_counter()
            html = template.render(Context({"columns": selector_once()}))
            if index >= args.board_warmup:
                timings.append(time.perf_counter() - started)
        result.page_kb = round(len(html.encode()) / 1024, 1)
    result.loads = len(timings)
    result.response_ms = summary(timings, 1000)
    return result


def measure_reference(base: str, token: str, args: argparse.Namespace) -> dict[str, float]:
    """``GET /api/v1/me`` (one token lookup, no work): the floor of the whole stack on this
    machine right now, to read the move figures against."""
    import httpx

    timings = []
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        for index in range(20 + args.moves // 2):
            started = time.perf_counter()
            client.get("/api/v1/me").raise_for_status()
            if index >= 20:
                timings.append(time.perf_counter() - started)
    return summary(timings, 1000)


# --- the run ---------------------------------------------------------------------------------


def main() -> int:
    args = parse_args()
    url = postgres_url(BENCH_DATABASE)
    try:
        recreate_postgres_database(url)
    except Exception as error:
        message = f"funnel bench needs PostgreSQL ({type(error).__name__}: {error})"
        if args.require_postgres:
            print(message, file=sys.stderr)
            return 1
        print(f"SKIPPED: {message}")
        return 0
    var_dir = Path(tempfile.mkdtemp(prefix="autocrm-bench-funnel-main-"))
    (var_dir / "static").mkdir()
    configure_django(url, var_dir)

    import django
    from django.conf import settings
    from django.db import connection
    from django.test import Client as DjangoClient

    from autocrm.accounts.services import api_token_create
    from autocrm.sales.models import Task

    data, objects = build(args)
    print(
        f"data: {data.open_deals_on_board:,} open deals on the {PIPELINE} board, "
        f"{data.deals_total:,} deals, {data.clients:,} clients, {data.tasks:,} tasks "
        f"(built in {data.build_s} s)",
        flush=True,
    )
    token = api_token_create(actor=None, user=objects["mover"], name="bench funnel").token
    browser = DjangoClient()
    browser.force_login(objects["management"])
    session_cookie = browser.cookies[settings.SESSION_COOKIE_NAME].value

    load_before = [round(value, 2) for value in os.getloadavg()]
    processes = start_processes(url, args)
    watcher = TaskWatcher(objects["rule_ids"], expected=len(RULE_DEADLINES))
    try:
        processes.wait_ready()
        print(f"board: {args.board_loads} loads ...", flush=True)
        board = measure_board(processes.base, session_cookie, objects, args)
        reference = measure_reference(processes.base, token, args)
        watcher.start()
        warm_ids = data.move_deal_ids[: args.warmup_moves]
        measured_ids = data.move_deal_ids[args.warmup_moves :]
        print(
            f"moves: {len(warm_ids)} warm-up, then {len(measured_ids)} at "
            f"{args.rate:g}/s, one db_worker (--interval {args.worker_interval:g}) ...",
            flush=True,
        )
        run_moves(processes.base, token, warm_ids, watcher, args)
        responses, waits, errors, missing = run_moves(
            processes.base, token, measured_ids, watcher, args
        )
    finally:
        watcher.stopping.set()
        processes.stop()
        if watcher.is_alive():
            watcher.join(timeout=5)

    moves = MoveResult(
        moves=len(responses),
        rate_per_s=args.rate,
        worker_interval_s=args.worker_interval,
        response_ms=summary(responses, 1000),
        tasks_after_response_s=summary(waits, 1, 3),
        errors=errors,
        tasks_missing=missing,
        tasks_created=Task.objects.filter(
            deal_id__in=measured_ids, rule_id__in=objects["rule_ids"]
        ).count(),
        deadlines_in_working_hours=deadlines_in_working_hours(measured_ids, objects["rule_ids"]),
    )

    failures = []
    if moves.errors:
        failures.append(f"{moves.errors} moves not answered 200")
    if moves.response_ms["p95"] > TARGET_MOVE_P95_MS:
        failures.append(f"move p95 {moves.response_ms['p95']} ms > {TARGET_MOVE_P95_MS:g} ms")
    if moves.tasks_missing or moves.tasks_created != len(RULE_DEADLINES) * (moves.moves - errors):
        failures.append(
            f"{moves.tasks_created} rule tasks for {moves.moves - errors} moves "
            f"({moves.tasks_missing} deals without all tasks)"
        )
    if moves.tasks_after_response_s["p95"] > TARGET_TASKS_P95_S:
        failures.append(
            f"tasks p95 {moves.tasks_after_response_s['p95']} s > {TARGET_TASKS_P95_S:g} s"
        )
    if not moves.deadlines_in_working_hours:
        failures.append("a rule task is due outside its dealer center's working hours")
    if board.errors:
        failures.append(f"{board.errors} board loads not answered 200")
    if board.response_ms["p95"] > TARGET_BOARD_P95_MS:
        failures.append(f"board p95 {board.response_ms['p95']} ms > {TARGET_BOARD_P95_MS:g} ms")

    version = int(getattr(connection, "pg_version", 0))
    database = f"PostgreSQL {version // 10000}.{version % 10000}"
    r, w, b = moves.response_ms, moves.tasks_after_response_s, board.response_ms
    rows = [
        ("database", database, f"load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}"),
        ("data", f"{data.open_deals_on_board:,} open deals in {PIPELINE}; {data.deals_total:,} "
         f"deals in all; {data.clients:,} clients; {data.tasks:,} tasks", f"{data.rules} rules"),
        ("processes", f"granian {args.workers} worker(s); 1 db_worker --interval "
         f"{args.worker_interval:g} s", ""),
        ("moves", f"{moves.moves} at {args.rate:g}/s to '{RULE_STAGE}' (3 matching rules)",
         f"errors {moves.errors}"),
        ("reference: GET /api/v1/me p50 / p95 ms", f"{reference['p50']} / {reference['p95']}",
         "the stack's floor, no work"),
        ("move response p50 / p95 / max ms", f"{r['p50']} / {r['p95']} / {r['max']}",
         f"p95 <= {TARGET_MOVE_P95_MS:g}"),
        ("3 tasks exist after response p50 / p95 / max s", f"{w['p50']} / {w['p95']} / {w['max']}",
         f"p95 <= {TARGET_TASKS_P95_S:g}"),
        ("rule tasks created", f"{moves.tasks_created:,}",
         "deadlines in working hours: " + ("yes" if moves.deadlines_in_working_hours else "NO")),
        ("board", f"{board.url}: {board.measured}", f"{board.page_kb} KB, "
         f"{board.cards_shown} cards, {board.deals_counted:,} open deals counted"),
        ("board p50 / p95 / max ms", f"{b['p50']} / {b['p95']} / {b['max']} ({board.loads} loads)",
         f"p95 <= {TARGET_BOARD_P95_MS:g}"),
        ("deal_board selector p50 / p95 ms", f"{board.selector_ms['p50']} / "
         f"{board.selector_ms['p95']}", "in-process"),
    ]  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    print("\nSales funnel: stage moves with automation, deal board\n")
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))

    RESULTS.mkdir(parents=True, exist_ok=True)
    output = RESULTS / "funnel-latest.json"
    report = {
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": database,
        "python": platform.python_version(),
        "django": django.get_version(),
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": [round(value, 2) for value in os.getloadavg()],
        "granian_workers": args.workers,
        "data": {k: v for k, v in asdict(data).items() if k != "move_deal_ids"},
        "reference_me_ms": reference,
        "moves": asdict(moves),
        "board": asdict(board),
        "watcher_polls": watcher.polls,
        "failures": failures,
    }
    output.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    print(f"\nwritten to {output.relative_to(REPO)}")
    shutil.rmtree(var_dir, ignore_errors=True)
    for failure in failures:
        print(f"MISSED: {failure}", file=sys.stderr)
    return 0 if args.no_fail or not failures else 1


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
