#!/usr/bin/env python
"""Clients at scale: phone lookup among a million clients, and a card with 10,000 items.

    .venv/bin/python bench/clients.py                        # SQLite, 100,000 clients (var/)
    DATABASE_URL=postgres://u:p@host/autocrm make bench      # PostgreSQL, 1,000,000 clients
    .venv/bin/python bench/clients.py --engine postgres --clients 1000000 --requests 300

The data lives in a scratch database of its own, built once and reused by later runs:
``autocrm_bench_clients`` on the PostgreSQL server of DATABASE_URL (the role needs
CREATEDB), or ``var/bench-clients.sqlite3``; ``--rebuild`` starts it afresh. It holds a
few dealer centers, ``generate_clients`` clients up to ``--clients``, and one client with
``--timeline-items`` items of history (messages in three channels, calls, visits, form
submissions and requests, written with bulk_create).

A real granian WSGI server (production settings, ``--workers``, default 1) is started on a
free port of 127.0.0.1 and measured with httpx over one keep-alive connection:

- ``GET /api/v1/clients?q=<phone>`` with the phones of random clients written five usual
  ways (+7 912 345-67-89, 8 (912) 345-67-89, 79123456789 ...), as a group-level operator
  and as a sales manager of one dealer center (bearer tokens); each answer must contain
  the client. Target p95 <= 20 ms.
- the card of the client with the long history: ``GET /api/v1/clients/{id}/timeline?
  limit=50`` (token) and the HTML card ``GET /clients/{id}/`` (session cookie). Target
  p95 <= 100 ms.

Figures: p50/p95/p99 per scenario, as a table on stdout and in
bench/results/clients-latest.json; exit 1 when a target is missed (``--no-fail``: 0).
An endpoint not there yet (404) is reported, not measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
BENCH_DATABASE = "autocrm_bench_clients"
SQLITE_FILE = REPO / "var" / "bench-clients.sqlite3"
DEFAULT_POSTGRES_URL = "postgres://autocrm:autocrm@127.0.0.1:5432/autocrm"
SECRET_KEY = secrets.token_urlsafe(50)  # shared with the server: session cookies must verify
sys.path.insert(0, str(REPO))

from benchlib import (  # noqa: E402 - after the path set-up
    ServerProcesses,
    percentile,
)

TARGET_LOOKUP_P95_MS = 20.0
TARGET_CARD_P95_MS = 100.0
CARD_CLIENT_MARKER = "bench-long-history"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engine", choices=("auto", "postgres", "sqlite"), default="auto")
    parser.add_argument(
        "--clients",
        type=int,
        default=None,
        help="clients in the scratch database (default 1,000,000 on PostgreSQL, 100,000 on SQLite)",
    )
    parser.add_argument("--timeline-items", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=300, help="measured requests per scenario")
    parser.add_argument("--warmup", type=int, default=30, help="unmeasured requests per scenario")
    parser.add_argument("--workers", type=int, default=1, help="granian workers")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--rebuild", action="store_true", help="build the scratch database anew")
    parser.add_argument("--no-fail", action="store_true", help="exit 0 even if a target is missed")
    return parser.parse_args()


# --- the scratch database --------------------------------------------------------------------


def database_url(engine: str) -> tuple[str, str]:
    configured = os.environ.get("DATABASE_URL", "")
    is_postgres = configured.startswith(("postgres://", "postgresql://"))
    if engine == "sqlite" or (engine == "auto" and not is_postgres):
        SQLITE_FILE.parent.mkdir(parents=True, exist_ok=True)
        return "sqlite", f"sqlite:///{SQLITE_FILE}"
    parts = urlsplit(configured if is_postgres else DEFAULT_POSTGRES_URL)
    return "postgres", urlunsplit(parts._replace(path=f"/{BENCH_DATABASE}"))


def ensure_database(engine: str, url: str, rebuild: bool) -> None:
    if engine == "sqlite":
        if rebuild and SQLITE_FILE.exists():
            SQLITE_FILE.unlink()
        return
    import psycopg

    admin_url = urlunsplit(urlsplit(url)._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as admin:
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DATABASE]
        ).fetchone()
        if exists and rebuild:
            admin.execute(f'DROP DATABASE "{BENCH_DATABASE}" WITH (FORCE)')
            exists = None
        if not exists:
            admin.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')


def server_environment(url: str, var_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "autocrm.config.settings",
        "DATABASE_URL": url,
        "DEBUG": "0",
        "SECRET_KEY": SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "LOG_LEVEL": "WARNING",
        "DATABASE_CONN_MAX_AGE": "600",
        "AUTOCRM_VAR_DIR": str(var_dir),
    }


def configure_django(url: str, var_dir: Path) -> None:
    os.environ.update(server_environment(url, var_dir))
    os.environ["DEBUG"] = "1"
    import django
    from django.conf import settings

    django.setup()
    settings.DEBUG = False  # no query log in this process


@dataclass
class Preparation:
    clients: int = 0
    migrate_s: float = 0.0
    generated: int = 0
    generate_s: float | None = None
    clients_per_second: float | None = None
    timeline_client_id: int = 0
    timeline_items: dict[str, int] = field(default_factory=dict)
    timeline_build_s: float | None = None


def ensure_structure() -> list[Any]:
    """Ten dealer centers in three cities (created once)."""
    from autocrm.accounts.models import City, DealerCenter, Region

    centers = list(DealerCenter.objects.order_by("pk"))
    if centers:
        return centers
    for region_name, code, cities in (
        ("Москва", "77", ("Москва",)),
        ("Свердловская область", "66", ("Екатеринбург",)),
        ("Новосибирская область", "54", ("Новосибирск",)),
    ):
        region, _ = Region.objects.get_or_create(name=region_name, defaults={"code": code})
        for city_name in cities:
            city, _ = City.objects.get_or_create(region=region, name=city_name)
            for number in range(1, 4 if city_name != "Москва" else 5):
                DealerCenter.objects.create(
                    code=f"bench-{code}-{number}",
                    name=f"{city_name}: центр {number}",
                    city=city,
                    address=f"ул. Тестовая, {number}",
                )
    return list(DealerCenter.objects.order_by("pk"))


def prepare_data(target: int, timeline_items: int, seed: int) -> Preparation:
    from django.core.management import call_command

    from autocrm.clients.generator import generate_clients
    from autocrm.clients.models import Client

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    preparation = Preparation(migrate_s=round(time.perf_counter() - started, 2))
    ensure_structure()
    present = Client.objects.count()
    if present < target:
        missing = target - present
        print(f"generating {missing:,} clients (once; later runs reuse them) ...", flush=True)

        def progress(done: int, seconds: float) -> None:
            if done % 100_000 == 0 or done == missing:
                print(f"  {done:>10,}  {seconds:6.1f} s", flush=True)

        result = generate_clients(count=missing, batch_size=20_000, seed=seed, progress=progress)
        preparation.generated = result.clients
        preparation.generate_s = round(result.seconds, 1)
        preparation.clients_per_second = round(result.rows_per_second)
    preparation.clients = Client.objects.count()
    card_client, built_s, items = ensure_long_history(timeline_items, seed)
    preparation.timeline_client_id = card_client.pk
    preparation.timeline_items = items
    preparation.timeline_build_s = built_s
    return preparation


def ensure_long_history(total: int, seed: int) -> tuple[Any, float | None, dict[str, int]]:
    """The client with ``total`` timeline items (built once): ~60 % messages in three
    channels, 15 % calls, 10 % requests, 8 % visits, 7 % form submissions."""
    from django.db import transaction

    from autocrm.accounts.models import DealerCenter
    from autocrm.clients.models import Client
    from autocrm.communications.models import (
        Call,
        CallStatus,
        Channel,
        Conversation,
        Direction,
        FormSubmission,
        Message,
        MessageStatus,
        Visit,
        VisitPurpose,
    )
    from autocrm.sales.models import Request, RequestStatus

    client = Client.objects.filter(note=CARD_CLIENT_MARKER).first()
    if client is not None:
        counts = {
            "messages": Message.objects.filter(client=client).count(),
            "calls": Call.objects.filter(client=client).count(),
            "requests": Request.objects.filter(client=client).count(),
            "visits": Visit.objects.filter(client=client).count(),
            "form_submissions": FormSubmission.objects.filter(client=client).count(),
        }
        if sum(counts.values()) >= total:
            return client, None, counts
    started = time.perf_counter()
    rng = random.Random(seed)
    dealer_center = DealerCenter.objects.order_by("pk").first()
    now = datetime.now(UTC)
    with transaction.atomic():
        if client is None:
            client = Client.objects.create(
                last_name="Долгоиграев",
                first_name="Пётр",
                middle_name="Сергеевич",
                search_name="долгоиграев пётр сергеевич",
                dealer_center=dealer_center,
                note=CARD_CLIENT_MARKER,
            )
            client.phones.create(number="+79990001122", is_primary=True)
            client.emails.create(address="dolgoigraev@example.ru", is_primary=True)
            client.identities.create(
                kind="telegram", external_id="5999000111", username="dolgoigraev"
            )
        channels = {
            kind: Channel.objects.get_or_create(
                kind=kind, name=f"Bench {kind}", defaults={"dealer_center": dealer_center}
            )[0]
            for kind in ("telegram", "whatsapp", "email", "telephony", "webform")
        }
        conversations = {
            kind: Conversation.objects.create(
                channel=channels[kind],
                client=client,
                external_thread=f"bench-{kind}-{client.pk}",
                dealer_center=dealer_center,
                status="answered",
                last_message_at=now,
            )
            for kind in ("telegram", "whatsapp", "email")
        }
        shares = {"messages": 0.60, "calls": 0.15, "requests": 0.10, "visits": 0.08}
        counts = {name: int(total * share) for name, share in shares.items()}
        counts["form_submissions"] = total - sum(counts.values())

        def moment() -> datetime:  # spread over three years
            return now - timedelta(seconds=rng.randrange(3 * 365 * 86400))

        messages = []
        for number in range(counts["messages"]):
            kind = rng.choice(("telegram", "telegram", "whatsapp", "email"))
            inbound = rng.random() < 0.55
            messages.append(
                Message(
                    conversation=conversations[kind],
                    client=client,
                    channel=channels[kind],
                    direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
                    text=f"Сообщение {number}: интересует кредит и трейд-ин, перезвоните.",
                    external_id=f"bench-{client.pk}-{number}",
                    status=MessageStatus.RECEIVED if inbound else MessageStatus.DELIVERED,
                    at=moment(),
                )
            )
        Message.objects.bulk_create(messages, batch_size=2000)
        calls = []
        for number in range(counts["calls"]):
            started_at = moment()
            answered = rng.random() < 0.8
            calls.append(
                Call(
                    channel=channels["telephony"],
                    external_id=f"bench-{client.pk}-{number}",
                    client=client,
                    direction=rng.choice((Direction.INBOUND, Direction.OUTBOUND)),
                    client_number="+79990001122",
                    line="+74950000000",
                    status=CallStatus.FINISHED if answered else CallStatus.MISSED,
                    dealer_center=dealer_center,
                    started_at=started_at,
                    answered_at=started_at + timedelta(seconds=8) if answered else None,
                    ended_at=started_at + timedelta(seconds=190),
                    duration_seconds=182 if answered else 0,
                    recording_url="http://127.0.0.1:9/rec.mp3" if answered else "",
                )
            )
        Call.objects.bulk_create(calls, batch_size=2000)
        requests = []
        for _ in range(counts["requests"]):
            opened = moment()
            requests.append(
                Request(
                    client=client,
                    source=rng.choice(("telegram", "whatsapp", "telephony", "webform")),
                    topic="Покупка автомобиля",
                    dealer_center=dealer_center,
                    status=RequestStatus.CLOSED,
                    opened_at=opened,
                    last_activity_at=opened,
                )
            )
        Request.objects.bulk_create(requests, batch_size=2000)
        Visit.objects.bulk_create(
            [
                Visit(
                    client=client,
                    dealer_center=dealer_center,
                    purpose=rng.choice(VisitPurpose.values),
                    note="Посмотрел автомобили в салоне",
                    at=moment(),
                )
                for _ in range(counts["visits"])
            ],
            batch_size=2000,
        )
        FormSubmission.objects.bulk_create(
            [
                FormSubmission(
                    channel=channels["webform"],
                    client=client,
                    name="Пётр Долгоиграев",
                    phone="+79990001122",
                    message="Хочу на тест-драйв",
                    topic="test_drive",
                    at=moment(),
                )
                for _ in range(counts["form_submissions"])
            ],
            batch_size=2000,
        )
    analyze_all()
    return client, round(time.perf_counter() - started, 1), counts


def analyze_all() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


# --- server ----------------------------------------------------------------------------------


def start_server(url: str, workers: int) -> ServerProcesses:
    """granian serving the production profile against the scratch database."""
    return ServerProcesses(url, name="clients", workers=workers, collect_static=True)


# --- measuring -------------------------------------------------------------------------------


@dataclass
class Scenario:
    name: str
    target_p95_ms: float | None
    requests: int = 0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    errors: int = 0
    wrong_answers: int = 0
    note: str = ""
    missing: bool = False

    @property
    def met(self) -> bool:
        if self.missing or self.errors or self.wrong_answers:
            return False
        return self.target_p95_ms is None or self.p95_ms <= self.target_p95_ms


def phone_formats(number: str) -> list[str]:
    """+79123456789 written the usual ways."""
    d = number[2:]
    return [
        f"+7 {d[:3]} {d[3:6]}-{d[6:8]}-{d[8:]}",
        f"8 ({d[:3]}) {d[3:6]}-{d[6:8]}-{d[8:]}",
        f"7{d}",
        number,
        f"8-{d[:3]}-{d[3:6]}-{d[6:8]}-{d[8:]}",
    ]


def measure(
    client: Any,
    scenario: Scenario,
    calls: list[tuple[str, dict[str, str], Any]],
    warmup: int,
) -> Scenario:
    """Run ``calls`` (path, params, check(response) -> bool); the first ``warmup`` unmeasured."""
    timings: list[float] = []
    first = client.get(calls[0][0], params=calls[0][1])
    if first.status_code == 404 and "no such API endpoint" in first.text[:300]:
        scenario.missing = True
        scenario.note = "endpoint missing (404)"
        return scenario
    for index, (path, params, check) in enumerate(calls):
        started = time.perf_counter()
        response = client.get(path, params=params)
        response.read()
        elapsed = (time.perf_counter() - started) * 1000
        if index >= warmup:
            timings.append(elapsed)
        if response.status_code != 200:
            scenario.errors += 1
            if scenario.errors <= 3:
                print(f"  {scenario.name}: {response.status_code} {path} {response.text[:200]}")
        elif check is not None and not check(response):
            scenario.wrong_answers += 1
            if scenario.wrong_answers <= 3:
                print(f"  {scenario.name}: unexpected answer for {path} {params}")
    scenario.requests = len(timings)
    scenario.p50_ms = round(statistics.median(timings), 2)
    scenario.p95_ms = round(percentile(timings, 0.95), 2)
    scenario.p99_ms = round(percentile(timings, 0.99), 2)
    scenario.max_ms = round(max(timings), 2)
    return scenario


def database_label(connection: Any) -> str:
    if connection.vendor == "sqlite":
        return "SQLite " + ".".join(map(str, connection.Database.sqlite_version_info))
    version = connection.pg_version
    return f"PostgreSQL {version // 10000}.{version % 10000}"


def main() -> int:
    args = parse_args()
    engine, url = database_url(args.engine)
    target = args.clients or (1_000_000 if engine == "postgres" else 100_000)
    ensure_database(engine, url, args.rebuild)
    var_dir = Path(tempfile.mkdtemp(prefix="autocrm-bench-clients-main-"))
    (var_dir / "static").mkdir()
    configure_django(url, var_dir)

    import django
    import httpx
    from django.conf import settings
    from django.db import connection
    from django.test import Client as DjangoClient

    from autocrm.accounts.models import DealerCenter, User
    from autocrm.accounts.roles import RoleCode
    from autocrm.accounts.services import api_token_create, api_token_revoke, user_create
    from autocrm.clients.models import Client, ClientPhone

    preparation = prepare_data(target, args.timeline_items, args.seed)
    vendor = database_label(connection)
    centers = list(DealerCenter.objects.order_by("pk"))

    def bench_user(username: str, role: str, dealer_centers: list[Any]) -> Any:
        user = User.objects.filter(username=username).first()
        return user or user_create(
            actor=None,
            username=username,
            password=secrets.token_urlsafe(16),
            roles=[role],
            dealer_centers=dealer_centers,
        )

    operator = bench_user("bench-operator", RoleCode.OPERATOR, [])
    manager = bench_user("bench-manager", RoleCode.SALES_MANAGER, centers[:1])
    tokens = {
        "operator": api_token_create(actor=None, user=operator, name="bench clients"),
        "manager": api_token_create(actor=None, user=manager, name="bench clients"),
    }
    browser = DjangoClient()
    browser.force_login(operator)
    session_cookie = browser.cookies[settings.SESSION_COOKIE_NAME].value

    rng = random.Random(args.seed)
    top = Client.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    count = args.warmup + args.requests

    def lookups(dealer_center_id: int | None) -> list[tuple[str, dict[str, str], Any]]:
        """Phones of random clients (of one dealer center when given), varied notation."""
        phones = ClientPhone.objects.filter(is_primary=True)
        if dealer_center_id is not None:
            phones = phones.filter(client__dealer_center_id=dealer_center_id)
        chosen: list[tuple[int, str]] = []
        attempts = 0
        while len(chosen) < count and attempts < count * 50:
            attempts += 1
            lower = rng.randrange(1, max(top, 2))
            row = (
                phones.filter(client_id__gte=lower)
                .order_by("client_id")
                .values_list("client_id", "number")
                .first()
            )
            if row:
                chosen.append(row)
        calls = []
        for index, (client_id, number) in enumerate(chosen):
            written = phone_formats(number)[index % 5]

            def check(response: Any, client_id: int = client_id) -> bool:
                body = response.json()
                return body["count"] >= 1 and client_id in [i["id"] for i in body["items"]]

            calls.append(("/api/v1/clients", {"q": written}, check))
        return calls

    card_id = preparation.timeline_client_id

    def timeline_check(response: Any) -> bool:
        body = response.json()
        return len(body["items"]) == 50 and body["next_before"] is not None

    def card_check(response: Any) -> bool:
        return "Долгоиграев" in response.text

    server = start_server(url, args.workers)
    scenarios: list[Scenario] = []
    try:
        server.wait_ready()
        with httpx.Client(
            base_url=server.base,
            headers={"Authorization": f"Bearer {tokens['operator'].token}"},
            timeout=60,
        ) as api:
            scenarios.append(
                measure(
                    api,
                    Scenario("phone lookup, operator (all centers)", TARGET_LOOKUP_P95_MS),
                    lookups(None),
                    args.warmup,
                )
            )
            calls = [
                ("/api/v1/clients", {"q": name}, None)
                for name in ("Иванов Александр", "смирнова", "Кузнецов Дмитрий Сергеевич")
                * ((min(count, 60) // 3) + 1)
            ][: min(count, 60)]
            scenarios.append(
                measure(
                    api,
                    Scenario("name search, operator (not a target)", None),
                    calls,
                    min(args.warmup, 10),
                )
            )
            scenarios.append(
                measure(
                    api,
                    Scenario(
                        f"timeline ?limit=50, {sum(preparation.timeline_items.values()):,} items",
                        TARGET_CARD_P95_MS,
                    ),
                    [(f"/api/v1/clients/{card_id}/timeline", {"limit": "50"}, timeline_check)]
                    * count,
                    args.warmup,
                )
            )
        with httpx.Client(
            base_url=server.base,
            headers={"Authorization": f"Bearer {tokens['manager'].token}"},
            timeout=60,
        ) as api:
            scenarios.insert(
                1,
                measure(
                    api,
                    Scenario("phone lookup, manager (1 center)", TARGET_LOOKUP_P95_MS),
                    lookups(centers[0].pk),
                    args.warmup,
                ),
            )
        with httpx.Client(
            base_url=server.base,
            cookies={settings.SESSION_COOKIE_NAME: session_cookie},
            timeout=60,
        ) as html:
            scenarios.append(
                measure(
                    html,
                    Scenario("HTML card /clients/{id}/", TARGET_CARD_P95_MS),
                    [(f"/clients/{card_id}/", {}, card_check)] * count,
                    args.warmup,
                )
            )
    finally:
        server.stop()
        for issued in tokens.values():
            api_token_revoke(actor=None, token=issued.record)
        shutil.rmtree(var_dir, ignore_errors=True)

    title = (
        f"Clients on {vendor}: {preparation.clients:,} clients; card client #{card_id} with "
        f"{sum(preparation.timeline_items.values()):,} timeline items "
        f"{preparation.timeline_items}; granian {args.workers} worker(s), "
        f"{args.requests} measured requests per scenario"
    )
    print(f"\n{title}\n")
    headers = ("scenario", "p50 ms", "p95 ms", "p99 ms", "max ms", "target p95", "errors", "met")
    rows = [
        (
            s.name,
            *(
                ("-", "-", "-", "-")
                if s.missing
                else (f"{s.p50_ms:.2f}", f"{s.p95_ms:.2f}", f"{s.p99_ms:.2f}", f"{s.max_ms:.2f}")
            ),
            f"<= {s.target_p95_ms:g}" if s.target_p95_ms else "-",
            s.note or str(s.errors + s.wrong_answers),
            "yes" if s.met else "NO",
        )
        for s in scenarios
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))

    RESULTS.mkdir(parents=True, exist_ok=True)
    report = {
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": vendor,
        "python": platform.python_version(),
        "django": django.get_version(),
        "cpus": os.cpu_count(),
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "data": asdict(preparation),
        "workers": args.workers,
        "scenarios": [asdict(s) | {"met": s.met} for s in scenarios],
    }
    output = RESULTS / "clients-latest.json"
    output.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    print(f"\nwritten to {output.relative_to(REPO)}")
    missed = [s for s in scenarios if s.target_p95_ms is not None and not s.met]
    for scenario in missed:
        print(f"MISSED: {scenario.name}: p95 {scenario.p95_ms} ms {scenario.note}", file=sys.stderr)
    return 0 if args.no_fail or not missed else 1


if __name__ == "__main__":
    sys.exit(main())
