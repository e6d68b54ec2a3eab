#!/usr/bin/env python
"""Load test of the inbound webhooks: Telegram updates at a fixed rate, then count them.

    .venv/bin/python bench/webhooks.py                    # 500 updates/s for 20 s
    .venv/bin/python bench/webhooks.py --rate 800 --duration 30 --no-fail
    DATABASE_URL=postgres://u:p@host/autocrm make bench

PostgreSQL only (the target of issue 4 is set for it): the database of DATABASE_URL's
server, or postgres://autocrm:autocrm@127.0.0.1:5432 when DATABASE_URL names none. Each
run drops and creates the scratch database ``autocrm_bench_hooks`` (the role needs
CREATEDB) and migrates it; without a reachable PostgreSQL the run is skipped (exit 0,
or 1 with ``--require-postgres``).

What runs, as in production on the 2 cores of the target machine: granian (WSGI, 2
workers, production settings) and one inbox worker (``manage.py process_inbox``). A
Telegram channel is created with ``channel_create``; then a lean asyncio HTTP/1.1 client
(keep-alive connections, raw sockets, requests built before the clock starts, so it costs
little CPU) sends Telegram ``Update`` objects to the channel's webhook on 127.0.0.1 at a
fixed rate (open loop: latency counts from the moment a request was due, so a slow server
cannot hide behind a slow client). About 1,000 senders write, so most messages go to
clients that already exist; ~2 % of the requests repeat an earlier update_id.

Measured: requests answered 2xx per second, latency p50/p95/p99/max, the inbox backlog,
the time from the end of the load until the last accepted event was processed, CPU
seconds per 1,000 webhooks for the server, the inbox worker, PostgreSQL and the load
generator, and the counts: distinct accepted update_ids == stored inbound events ==
messages (none lost, none doubled), no failed events, one client and one conversation per
sender. Then, in this process without a network: the server-side cost of one webhook
(full middleware stack next to the bare view) and of processing one event (queries and
time, ``--profile`` for a cProfile listing). A table on stdout, the figures in
bench/results/webhooks-latest.json; exit 1 when a target is missed (``--no-fail``: 0).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import os
import platform
import pstats
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
BENCH_DATABASE = "autocrm_bench_hooks"
SECRET_TOKEN = "bench-" + secrets.token_hex(16)
sys.path.insert(0, str(REPO))

from benchlib import (  # noqa: E402 - after the path set-up
    ServerProcesses,
    configure_django,
    percentile,
    postgres_url,
    recreate_postgres_database,
)

# Targets of issue 4 ("Speed and load").
TARGET_RATE = 500.0
TARGET_P99_MS = 250.0
TARGET_DRAIN_S = 10.0

FIRST_NAMES = (
    "Александр", "Дмитрий", "Максим", "Сергей", "Андрей", "Алексей", "Артём", "Илья",
    "Кирилл", "Михаил", "Анна", "Мария", "Елена", "Ольга", "Наталья", "Татьяна", "Ирина",
    "Екатерина", "Светлана", "Юлия",
)  # fmt: skip
LAST_NAMES = (
    "Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов",
    "Новиков", "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров",
)  # fmt: skip
TEXTS = (
    "Здравствуйте! Haval Jolion в наличии есть?",
    "Добрый день, какая цена на Tiggo 7 Pro Max в комплектации Ultimate?",
    "Можно записаться на тест-драйв в субботу?",
    "Сколько дадите за мой Solaris 2017 года в трейд-ин?",
    "Какие условия по кредиту без первоначального взноса?",
    "Машина готова к выдаче? Когда можно подъехать?",
    "Спасибо, понял. Перезвоните мне, пожалуйста, после 18:00.",
    "А белый цвет будет в этом месяце?",
)  # fmt: skip


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="updates per second")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load")
    parser.add_argument("--connections", type=int, default=32, help="keep-alive connections")
    parser.add_argument("--senders", type=int, default=1000, help="distinct Telegram users")
    parser.add_argument(
        "--repeat-share", type=float, default=0.02, help="share of requests repeating an update"
    )
    parser.add_argument("--workers", type=int, default=2, help="granian worker processes")
    parser.add_argument(
        "--blocking-threads", type=int, default=2, help="granian WSGI threads per worker"
    )
    parser.add_argument("--inbox-workers", type=int, default=1, help="process_inbox loops")
    parser.add_argument(
        "--warmup", type=int, default=300, help="updates sent (and processed) before the clock"
    )
    parser.add_argument(
        "--drain-timeout", type=float, default=120.0, help="give up waiting for the inbox after"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        help="seconds a request may take before it counts as failed",
    )
    parser.add_argument(
        "--cost-requests", type=int, default=400, help="in-process requests for the cost figures"
    )
    parser.add_argument(
        "--profile", action="store_true", help="print cProfile listings of a webhook and of intake"
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-fail", action="store_true", help="exit 0 even if a target is missed")
    parser.add_argument(
        "--require-postgres",
        action="store_true",
        help="fail instead of skipping when no PostgreSQL is reachable",
    )
    return parser.parse_args()


# --- the scratch database --------------------------------------------------------------------


def prepare(args: argparse.Namespace) -> Any:
    """Migrate; one dealer center and the Telegram channel; returns the channel."""
    from django.core.management import call_command

    from autocrm.accounts.models import City, DealerCenter, Region
    from autocrm.communications.services import channel_create

    call_command("migrate", verbosity=0)
    region, _ = Region.objects.get_or_create(name="Москва", defaults={"code": "77"})
    city, _ = City.objects.get_or_create(region=region, name="Москва")
    dealer_center, _ = DealerCenter.objects.get_or_create(
        code="bench-hooks",
        defaults={"name": "Бенч-центр", "city": city, "address": "ул. Тестовая, 1"},
    )
    return channel_create(
        kind="telegram",
        name="Bench bot",
        dealer_center_id=dealer_center.pk,
        settings={
            "bot_token": "123456:bench",
            "secret_token": SECRET_TOKEN,
            "api_base_url": "http://127.0.0.1:9",
        },
    )


# --- processes -------------------------------------------------------------------------------


def start_processes(url: str, args: argparse.Namespace) -> ServerProcesses:
    """granian (N workers) and the inbox worker(s), all against the scratch database."""
    inbox_worker = ["manage.py", "process_inbox", "--interval", "0.05"]
    return ServerProcesses(
        url,
        name="hooks",
        workers=args.workers,
        blocking_threads=args.blocking_threads,
        helpers=[inbox_worker] * args.inbox_workers,
    )


# --- CPU accounting from /proc ---------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_stat(pid: int) -> tuple[int, str, float] | None:
    """(parent pid, command name, CPU seconds) of a process, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), name, (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def cpu_snapshot(roots: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds used so far by each group of process trees, plus all postgres processes."""
    table: dict[int, tuple[int, str, float]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _proc_stat(int(entry.name))
            if stat is not None:
                table[int(entry.name)] = stat
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in table.items():
        children.setdefault(parent, []).append(pid)
    result: dict[str, float] = {}
    for label, pids in roots.items():
        total, stack = 0.0, list(pids)
        while stack:
            pid = stack.pop()
            if pid in table:
                total += table[pid][2]
                stack.extend(children.get(pid, []))
        result[label] = total
    result["postgres"] = sum(s for _, name, s in table.values() if name.startswith("postgres"))
    return result


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return float(sum(values) - idle), float(sum(values))


# --- the load --------------------------------------------------------------------------------


@dataclass
class Plan:
    update_ids: list[int]  # per request, in sending order (repeats included)
    requests: list[bytes]  # the raw HTTP requests
    senders: list[int]  # Telegram user id per request


def build_plan(
    *,
    count: int,
    first_update_id: int,
    senders: list[tuple[int, str, str, str]],
    repeat_share: float,
    path: str,
    rng: random.Random,
) -> Plan:
    plan = Plan([], [], [])
    sent_bodies: list[tuple[int, int, bytes]] = []
    next_id = first_update_id
    now = int(time.time())
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"X-Telegram-Bot-Api-Secret-Token: {SECRET_TOKEN}\r\n"
    ).encode()
    for _ in range(count):
        if sent_bodies and rng.random() < repeat_share:
            update_id, user_id, body = rng.choice(sent_bodies[-2000:])
        else:
            user_id, first, last, username = rng.choice(senders)
            update_id = next_id
            next_id += 1
            user = {
                "id": user_id,
                "is_bot": False,
                "first_name": first,
                "last_name": last,
                "username": username,
                "language_code": "ru",
            }
            update = {
                "update_id": update_id,
                "message": {
                    "message_id": update_id,
                    "from": user,
                    "chat": {
                        "id": user_id,
                        "first_name": first,
                        "last_name": last,
                        "username": username,
                        "type": "private",
                    },
                    "date": now,
                    "text": rng.choice(TEXTS),
                },
            }
            body = json.dumps(update, ensure_ascii=False, separators=(",", ":")).encode()
            sent_bodies.append((update_id, user_id, body))
        plan.update_ids.append(update_id)
        plan.senders.append(user_id)
        plan.requests.append(head + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    return plan


@dataclass
class LoadResult:
    statuses: list[int]  # 0 = no answer (connection error or timeout)
    latencies: list[float]  # seconds from the moment the request was due
    service: list[float]  # seconds from writing the request to reading the answer
    started: float  # wall clock (time.time())
    finished: float  # wall clock of the last answer
    elapsed: float  # monotonic seconds from the first due request to the last answer
    generator_cpu_s: float
    max_lag_s: float  # how far the dispatcher fell behind its schedule


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


async def _send_all(
    port: int, requests: list[bytes], rate: float, connections: int, timeout: float
) -> LoadResult:
    loop = asyncio.get_running_loop()
    count = len(requests)
    statuses = [0] * count
    latencies = [0.0] * count
    service = [0.0] * count
    queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    max_lag = 0.0

    async def dispatcher(start: float) -> None:
        nonlocal max_lag
        index = 0
        while index < count:
            now = loop.time()
            due_index = min(count, int((now - start) * rate) + 1)
            while index < due_index:
                queue.put_nowait((index, start + index / rate))
                index += 1
            max_lag = max(max_lag, now - (start + (index - 1) / rate))
            if index < count:
                await asyncio.sleep(max(start + index / rate - loop.time(), 0.0005))
        for _ in range(connections):
            queue.put_nowait(None)

    async def connection() -> None:
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        while True:
            item = await queue.get()
            if item is None:
                break
            index, due = item
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                assert reader is not None
                sent = loop.time()
                async with asyncio.timeout(timeout):
                    writer.write(requests[index])
                    statuses[index] = await _read_response(reader)
                done = loop.time()
                latencies[index] = done - due
                service[index] = done - sent
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
                latencies[index] = loop.time() - due
                if writer is not None:
                    writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    cpu_before = time.process_time()
    wall_start = time.time()
    start = loop.time() + 0.05
    workers = [asyncio.create_task(connection()) for _ in range(connections)]
    await dispatcher(start)
    await asyncio.gather(*workers)
    elapsed = loop.time() - start
    return LoadResult(
        statuses=statuses,
        latencies=latencies,
        service=service,
        started=wall_start,
        finished=time.time(),
        elapsed=elapsed,
        generator_cpu_s=time.process_time() - cpu_before,
        max_lag_s=max_lag,
    )


def send(port: int, plan: Plan, rate: float, connections: int, timeout: float) -> LoadResult:
    return asyncio.run(_send_all(port, plan.requests, rate, connections, timeout))


class BacklogSampler(threading.Thread):
    """Samples the number of pending inbox events every half second (own DB connection)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[tuple[float, int]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        from django.db import connection

        from autocrm.communications.models import InboundEvent, InboundStatus

        started = time.monotonic()
        try:
            while not self.stopping.wait(0.5):
                pending = InboundEvent.objects.filter(status=InboundStatus.PENDING).count()
                self.samples.append((round(time.monotonic() - started, 1), pending))
        finally:
            connection.close()


def wait_drained(timeout: float) -> float | None:
    """Seconds until no event is pending (None if the timeout passed first)."""
    from autocrm.communications.models import InboundEvent, InboundStatus

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if not InboundEvent.objects.filter(status=InboundStatus.PENDING).exists():
            return time.monotonic() - started
        time.sleep(0.05)
    return None


# --- figures ---------------------------------------------------------------------------------


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


@dataclass
class Counts:
    requests: int
    accepted_requests: int
    refused_requests: dict[str, int]
    distinct_accepted_update_ids: int
    repeat_requests_accepted: int
    inbound_events: int
    inbound_done: int
    inbound_failed: int
    inbound_pending: int
    lost_update_ids: int  # accepted, not stored
    stored_unacknowledged: int  # stored though no 2xx reached the client (timeouts)
    messages: int
    distinct_message_ids: int
    events_without_message: int
    clients: int
    senders_accepted: int
    conversations: int
    requests_opened: int
    request_touches: int


def count_everything(plans: list[tuple[Plan, LoadResult]], channel_id: int) -> Counts:
    from django.db.models import Sum

    from autocrm.clients.models import Client
    from autocrm.communications.models import Conversation, InboundEvent, InboundStatus, Message
    from autocrm.sales.models import Request

    accepted_ids: set[int] = set()
    senders: set[int] = set()
    requests = accepted = 0
    refused: dict[str, int] = {}
    seen: set[int] = set()
    repeats_accepted = 0
    for plan, result in plans:
        for update_id, sender, status in zip(
            plan.update_ids, plan.senders, result.statuses, strict=True
        ):
            requests += 1
            if 200 <= status < 300:
                accepted += 1
                if update_id in seen:
                    repeats_accepted += 1
                accepted_ids.add(update_id)
                senders.add(sender)
            else:
                refused[str(status or "no answer")] = refused.get(str(status or "no answer"), 0) + 1
            seen.add(update_id)
    events = InboundEvent.objects.filter(channel_id=channel_id)
    stored_ids = {int(v) for v in events.values_list("external_id", flat=True) if v}
    messages = Message.objects.filter(channel_id=channel_id, direction="in")
    message_ids = set(messages.values_list("external_id", flat=True))
    expected_message_ids = {
        f"{sender}:{uid}"
        for plan, _ in plans
        for uid, sender in zip(plan.update_ids, plan.senders, strict=True)
        if uid in stored_ids
    }
    return Counts(
        requests=requests,
        accepted_requests=accepted,
        refused_requests=refused,
        distinct_accepted_update_ids=len(accepted_ids),
        repeat_requests_accepted=repeats_accepted,
        inbound_events=events.count(),
        inbound_done=events.filter(status=InboundStatus.DONE).count(),
        inbound_failed=events.filter(status=InboundStatus.FAILED).count(),
        inbound_pending=events.filter(status=InboundStatus.PENDING).count(),
        lost_update_ids=len(accepted_ids - stored_ids),
        stored_unacknowledged=len(stored_ids - accepted_ids),
        messages=messages.count(),
        distinct_message_ids=len(message_ids),
        events_without_message=len(expected_message_ids - message_ids),
        clients=Client.objects.count(),
        senders_accepted=len(senders),
        conversations=Conversation.objects.filter(channel_id=channel_id).count(),
        requests_opened=Request.objects.count(),
        request_touches=Request.objects.aggregate(total=Sum("touches"))["total"] or 0,
    )


# --- in-process costs ------------------------------------------------------------------------


def wsgi_environ(path: str, body: bytes) -> dict[str, Any]:
    """The WSGI environ granian would hand to Django for this webhook."""
    return {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": SECRET_TOKEN,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def server_cost(
    channel: Any, senders: list[tuple[int, str, str, str]], args: argparse.Namespace
) -> dict[str, Any]:
    """Cost of one webhook in this process, without a network: through Django's WSGI
    handler (what granian calls: request parsing, middleware, URL resolving, the view)
    next to the bare view; wall and CPU time, and the statements sent to PostgreSQL."""
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext

    from autocrm.communications.views_hooks import webhook

    rng = random.Random(args.seed + 1)
    first = 900_000_000
    plan = build_plan(
        count=args.cost_requests * 2 + 1,
        first_update_id=first,
        senders=senders,
        repeat_share=0.0,
        path=channel.webhook_path,
        rng=rng,
    )
    bodies = [request.split(b"\r\n\r\n", 1)[1] for request in plan.requests]
    application = WSGIHandler()
    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
        statuses.append(status)
        return None

    def through_wsgi(body: bytes) -> None:
        for _chunk in application(wsgi_environ(channel.webhook_path, body), start_response):
            pass

    factory = RequestFactory(HTTP_HOST="127.0.0.1")
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET_TOKEN}
    half = args.cost_requests
    full: list[float] = []
    cpu_started = time.process_time()
    for body in bodies[:half]:
        started = time.perf_counter()
        through_wsgi(body)
        full.append(time.perf_counter() - started)
    full_cpu = (time.process_time() - cpu_started) / max(half, 1)
    assert set(statuses) == {"200 OK"}, set(statuses)
    bare: list[float] = []
    bare_cpu = 0.0
    for body in bodies[half:-1]:
        request = factory.post(
            channel.webhook_path, body, content_type="application/json", headers=headers
        )
        started, cpu_started = time.perf_counter(), time.process_time()
        answer = webhook(request, kind=channel.kind, key=channel.webhook_key)
        bare.append(time.perf_counter() - started)
        bare_cpu += time.process_time() - cpu_started
        assert answer.status_code == 200, answer.content
    bare_cpu /= max(len(bare), 1)
    with CaptureQueriesContext(connection) as captured:
        through_wsgi(bodies[-1])
    result: dict[str, Any] = {
        "full_stack_p50_ms": ms(statistics.median(full)),
        "full_stack_p95_ms": ms(percentile(full, 0.95)),
        "view_only_p50_ms": ms(statistics.median(bare)),
        "view_only_p95_ms": ms(percentile(bare, 0.95)),
        "full_stack_cpu_ms": ms(full_cpu),
        "view_only_cpu_ms": ms(bare_cpu),
        "queries_per_webhook": len(captured.captured_queries),
        "queries": [q["sql"][:160] for q in captured.captured_queries],
    }
    result["middleware_p50_ms"] = round(result["full_stack_p50_ms"] - result["view_only_p50_ms"], 2)
    if args.profile:
        profiler = cProfile.Profile()
        more = build_plan(
            count=300, first_update_id=first + 10_000, senders=senders, repeat_share=0.0,
            path=channel.webhook_path, rng=rng,
        )  # fmt: skip
        profiler.enable()
        for raw in more.requests:
            through_wsgi(raw.split(b"\r\n\r\n", 1)[1])
        profiler.disable()
        result["profile"] = profile_text(profiler, 30)
    return result


def intake_cost(channel: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Processing of stored events in this process: time, CPU and statements per event.

    The events are those the server-cost step stored, all from senders known already
    (the common case: a client writing again)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from autocrm.communications.models import InboundEvent, InboundStatus
    from autocrm.sales.intake import inbox_drain, process_inbound_batch

    with CaptureQueriesContext(connection) as captured:
        sample = process_inbound_batch(limit=50)["done"]
    queries = [q["sql"][:160] for q in captured.captured_queries]
    pending = InboundEvent.objects.filter(channel=channel, status=InboundStatus.PENDING).count()
    profiler = cProfile.Profile() if args.profile else None
    started, cpu_started = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    counts = inbox_drain()
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    result: dict[str, Any] = {
        "events": pending,
        "counts": counts,
        "ms_per_event": round(seconds * 1000 / max(pending, 1), 3),
        "cpu_ms_per_event": round(cpu_seconds * 1000 / max(pending, 1), 3),
        "events_per_second_one_process": round(pending / seconds, 1) if seconds else 0,
        "queries_per_event": round(len(queries) / max(sample, 1), 2),
        "queries": queries[:40],
    }
    if profiler:
        result["profile"] = profile_text(profiler, 40)
    return result


def profile_text(profiler: cProfile.Profile, lines: int) -> str:
    buffer = io.StringIO()
    stats = pstats.Stats(profiler, stream=buffer)
    stats.sort_stats("cumulative").print_stats(lines)
    return buffer.getvalue()


# --- the run ---------------------------------------------------------------------------------


@dataclass
class Report:
    rate_target: float
    duration_s: float
    connections: int
    granian_workers: int
    blocking_threads: int
    inbox_workers: int
    senders: int
    repeat_share: float
    sent: int = 0
    accepted_per_s: float = 0.0
    latency_ms: dict[str, float] = field(default_factory=dict)
    service_ms: dict[str, float] = field(default_factory=dict)
    generator_max_lag_ms: float = 0.0
    backlog_at_end_of_load: int = 0
    backlog_max: int = 0
    backlog_samples: list[tuple[float, int]] = field(default_factory=list)
    drain_after_load_s: float | None = None
    last_processed_after_load_s: float | None = None
    cpu_s_per_1000: dict[str, float] = field(default_factory=dict)
    machine_busy_pct: float = 0.0
    counts: dict[str, Any] = field(default_factory=dict)
    server_cost: dict[str, Any] = field(default_factory=dict)
    intake_cost: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def main() -> int:
    args = parse_args()
    url = postgres_url(BENCH_DATABASE)
    try:
        recreate_postgres_database(url)
    except Exception as error:
        message = f"webhook load bench needs PostgreSQL ({type(error).__name__}: {error})"
        if args.require_postgres:
            print(message, file=sys.stderr)
            return 1
        print(f"SKIPPED: {message}")
        return 0
    var_dir = Path(tempfile.mkdtemp(prefix="autocrm-bench-hooks-main-"))
    (var_dir / "static").mkdir()
    configure_django(url, var_dir)

    import django
    from django.db import connection
    from django.db.models import Max

    from autocrm.communications.models import InboundEvent

    channel = prepare(args)
    rng = random.Random(args.seed)
    senders = [
        (
            700_000_000 + index,
            rng.choice(FIRST_NAMES),
            rng.choice(LAST_NAMES),
            f"user_{index}",
        )
        for index in range(args.senders)
    ]
    warmup = build_plan(
        count=args.warmup, first_update_id=1, senders=senders, repeat_share=args.repeat_share,
        path=channel.webhook_path, rng=rng,
    )  # fmt: skip
    total = int(args.rate * args.duration)
    load = build_plan(
        count=total, first_update_id=10_000_000, senders=senders,
        repeat_share=args.repeat_share, path=channel.webhook_path, rng=rng,
    )  # fmt: skip
    report = Report(
        rate_target=args.rate, duration_s=args.duration, connections=args.connections,
        granian_workers=args.workers, blocking_threads=args.blocking_threads,
        inbox_workers=args.inbox_workers, senders=args.senders, repeat_share=args.repeat_share,
    )  # fmt: skip

    load_before = [round(value, 2) for value in os.getloadavg()]
    processes = start_processes(url, args)
    try:
        processes.wait_ready()
        print(
            f"warm-up: {args.warmup} updates at 100/s; then {total:,} updates at "
            f"{args.rate:g}/s over {args.connections} connections ...",
            flush=True,
        )
        warm = send(processes.port, warmup, 100.0, min(args.connections, 8), args.timeout)
        if wait_drained(args.drain_timeout) is None:
            print("the warm-up events were not processed in time", file=sys.stderr)
        roots = {
            "server": [processes.server.pid],
            "inbox worker": [w.pid for w in processes.helpers],
        }
        cpu_before, busy_before = cpu_snapshot(roots), machine_busy()
        sampler = BacklogSampler()
        sampler.start()
        result = send(processes.port, load, args.rate, args.connections, args.timeout)
        backlog_end = InboundEvent.objects.filter(status="pending").count()
        drained = wait_drained(args.drain_timeout)
        sampler.stopping.set()
        sampler.join()
        cpu_after, busy_after = cpu_snapshot(roots), machine_busy()
    finally:
        processes.stop()

    accepted = [i for i, status in enumerate(result.statuses) if 200 <= status < 300]
    latencies = [result.latencies[i] for i in accepted]
    service = [result.service[i] for i in accepted]
    report.sent = total
    report.accepted_per_s = round(len(accepted) / result.elapsed, 1)
    report.latency_ms = {
        "p50": ms(percentile(latencies, 0.5)),
        "p95": ms(percentile(latencies, 0.95)),
        "p99": ms(percentile(latencies, 0.99)),
        "max": ms(max(latencies, default=0.0)),
    }
    report.service_ms = {
        "p50": ms(percentile(service, 0.5)),
        "p99": ms(percentile(service, 0.99)),
    }
    report.generator_max_lag_ms = ms(result.max_lag_s)
    report.backlog_at_end_of_load = backlog_end
    report.backlog_samples = sampler.samples
    report.backlog_max = max((n for _, n in sampler.samples), default=backlog_end)
    report.drain_after_load_s = round(drained, 2) if drained is not None else None
    last = InboundEvent.objects.aggregate(last=Max("processed_at"))["last"]
    if last is not None:
        report.last_processed_after_load_s = round(max(last.timestamp() - result.finished, 0.0), 2)
    per_thousand = 1000 / max(len(result.statuses), 1)
    used = {label: cpu_after[label] - cpu_before[label] for label in cpu_before}
    used["load generator"] = result.generator_cpu_s
    report.cpu_s_per_1000 = {label: round(v * per_thousand, 3) for label, v in used.items()}
    busy = busy_after[0] - busy_before[0]
    report.machine_busy_pct = round(100 * busy / max(busy_after[1] - busy_before[1], 1), 1)
    counts = count_everything([(warmup, warm), (load, result)], channel.pk)
    report.counts = asdict(counts)

    print("measuring the in-process cost of a webhook and of processing it ...", flush=True)
    report.server_cost = server_cost(channel, senders, args)
    report.intake_cost = intake_cost(channel, args)

    # Targets.
    if report.accepted_per_s < TARGET_RATE:
        report.failures.append(f"accepted {report.accepted_per_s}/s < {TARGET_RATE:g}/s")
    if len(accepted) < total:
        report.failures.append(f"{total - len(accepted)} requests not accepted")
    if report.latency_ms["p99"] > TARGET_P99_MS:
        report.failures.append(f"p99 {report.latency_ms['p99']} ms > {TARGET_P99_MS:g} ms")
    lag = report.last_processed_after_load_s
    if drained is None or lag is None or lag > TARGET_DRAIN_S:
        report.failures.append(
            f"last event processed {lag} s after the load > {TARGET_DRAIN_S:g} s"
        )
    if counts.lost_update_ids:
        report.failures.append(f"{counts.lost_update_ids} accepted updates not stored (lost)")
    if not (counts.inbound_events == counts.messages == counts.distinct_message_ids):
        report.failures.append(
            f"events {counts.inbound_events} / messages {counts.messages} / distinct message "
            f"ids {counts.distinct_message_ids} differ"
        )
    if counts.distinct_accepted_update_ids + counts.stored_unacknowledged != counts.inbound_events:
        report.failures.append("stored events differ from distinct accepted update_ids")
    if counts.inbound_failed or counts.inbound_pending or counts.events_without_message:
        report.failures.append(
            f"{counts.inbound_failed} failed, {counts.inbound_pending} pending, "
            f"{counts.events_without_message} events without a message"
        )
    if counts.clients != counts.senders_accepted or counts.conversations != counts.senders_accepted:
        report.failures.append(
            f"{counts.clients} clients / {counts.conversations} conversations for "
            f"{counts.senders_accepted} senders"
        )
    if counts.request_touches != counts.messages:
        report.failures.append(
            f"request touches {counts.request_touches} != messages {counts.messages}"
        )

    print_report(report, connection)
    RESULTS.mkdir(parents=True, exist_ok=True)
    output = RESULTS / "webhooks-latest.json"
    payload = {
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": f"PostgreSQL {postgres_version(connection)}",
        "load_average_before": load_before,
        "load_average_after": [round(value, 2) for value in os.getloadavg()],
        "python": platform.python_version(),
        "django": django.get_version(),
        "cpus": os.cpu_count(),
        **asdict(report),
    }
    output.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    print(f"\nwritten to {output.relative_to(REPO)}")
    shutil.rmtree(var_dir, ignore_errors=True)
    if report.failures:
        for failure in report.failures:
            print(f"MISSED: {failure}", file=sys.stderr)
        return 0 if args.no_fail else 1
    return 0


def postgres_version(connection: Any) -> str:
    version = int(getattr(connection, "pg_version", 0))
    return f"{version // 10000}.{version % 10000}"


def print_report(report: Report, connection: Any) -> None:
    c = report.counts
    rows = [
        ("PostgreSQL", postgres_version(connection),
         "load average " + " ".join(f"{v:.1f}" for v in os.getloadavg())),
        ("server", f"granian, {report.granian_workers} workers x {report.blocking_threads} threads; "
         f"{report.inbox_workers} inbox worker", ""),
        ("load", f"{report.sent:,} updates at {report.rate_target:g}/s for {report.duration_s:g} s, "
         f"{report.connections} connections, {report.senders} senders, "
         f"{report.repeat_share:.0%} repeats", ""),
        ("accepted per second", f"{report.accepted_per_s:,.1f}", f">= {TARGET_RATE:g}"),
        ("latency p50 / p95 ms", f"{report.latency_ms['p50']} / {report.latency_ms['p95']}", ""),
        ("latency p99 / max ms", f"{report.latency_ms['p99']} / {report.latency_ms['max']}",
         f"p99 <= {TARGET_P99_MS:g}"),
        ("service time p50 / p99 ms", f"{report.service_ms['p50']} / {report.service_ms['p99']}", ""),
        ("inbox backlog end / max", f"{report.backlog_at_end_of_load:,} / {report.backlog_max:,}", ""),
        ("last processed after load s", str(report.last_processed_after_load_s),
         f"<= {TARGET_DRAIN_S:g}"),
        ("requests / accepted", f"{c['requests']:,} / {c['accepted_requests']:,}",
         f"refused {c['refused_requests'] or 0}"),
        ("distinct accepted update_ids", f"{c['distinct_accepted_update_ids']:,}",
         f"{c['repeat_requests_accepted']:,} repeats accepted"),
        ("inbound events (done/failed)", f"{c['inbound_events']:,} ({c['inbound_done']:,}/"
         f"{c['inbound_failed']})", f"lost {c['lost_update_ids']}"),
        ("messages (distinct ids)", f"{c['messages']:,} ({c['distinct_message_ids']:,})",
         f"missing {c['events_without_message']}"),
        ("clients / conversations / senders", f"{c['clients']:,} / {c['conversations']:,} / "
         f"{c['senders_accepted']:,}", ""),
        ("requests / touches", f"{c['requests_opened']:,} / {c['request_touches']:,}", ""),
        ("CPU s per 1000 webhooks", ", ".join(f"{k} {v}" for k, v in report.cpu_s_per_1000.items()),
         f"machine busy {report.machine_busy_pct}%"),
        ("webhook in-process p50 ms", f"full stack {report.server_cost['full_stack_p50_ms']}, "
         f"view {report.server_cost['view_only_p50_ms']}, handler+middleware "
         f"{report.server_cost['middleware_p50_ms']}",
         f"{report.server_cost['queries_per_webhook']} statements"),
        ("webhook in-process CPU ms", f"full stack {report.server_cost['full_stack_cpu_ms']}, "
         f"view {report.server_cost['view_only_cpu_ms']}", ""),
        ("intake in-process", f"{report.intake_cost['ms_per_event']} ms/event "
         f"(CPU {report.intake_cost['cpu_ms_per_event']} ms), "
         f"{report.intake_cost['events_per_second_one_process']}/s",
         f"{report.intake_cost['queries_per_event']} statements/event"),
    ]  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    print("\nInbound Telegram webhooks under load\n")
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    print(
        "\ninbox backlog (s, pending): "
        + ", ".join(f"{t}:{n}" for t, n in report.backlog_samples[::2])
    )
    if "profile" in report.server_cost:
        print("\n--- profile: 300 webhooks through the full stack ---")
        print(report.server_cost["profile"])
    if "profile" in report.intake_cost:
        print("\n--- profile: intake ---")
        print(report.intake_cost["profile"])


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
