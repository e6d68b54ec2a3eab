#!/usr/bin/env python
"""Benchmark the stock search: the HTTP API next to the same query as bare SQL.

    make bench                                       # SQLite, 100,000 cars (var/)
    DATABASE_URL=postgres://u:p@host/autocrm make bench   # PostgreSQL, 1,000,000 cars
    .venv/bin/python bench/search.py --engine postgres --vehicles 1000000 --requests 200

The data lives in a scratch database of its own, built once and reused by later runs:
``autocrm_bench_search`` on the PostgreSQL server of DATABASE_URL (the role needs
CREATEDB), or ``var/bench-search.sqlite3``. It holds the demo group (``seed_demo``) plus
``generate_stock`` cars up to ``--vehicles``; ``--rebuild`` starts it afresh.

Then a real granian WSGI server (production settings, one worker) is started on a free
port of 127.0.0.1, and a fixed, seeded mix of realistic searches (2-6 filters, a page of
50, facets always included) is sent with httpx, as a group-management user and as the
head of one dealer center (bearer tokens from ``api_token_create``). The same searches
run as bare SQL too: the statements ``search.search_vehicles_sql`` issues (one COUNT, one
page, one GROUP BY per facet) are captured once and replayed on a plain DB-API
connection, so the SQL figure has no Django in it. Every search's count is compared
between both sides. Figures: p50/p95 per side and API p50 / SQL p50, as a table on
stdout and in bench/results/search-latest.json. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import secrets
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
BENCH_DATABASE = "autocrm_bench_search"
SQLITE_FILE = REPO / "var" / "bench-search.sqlite3"
DEFAULT_POSTGRES_URL = "postgres://autocrm:autocrm@127.0.0.1:5432/autocrm"
sys.path.insert(0, str(REPO))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--engine",
        choices=("auto", "postgres", "sqlite"),
        default="auto",
        help="database engine; auto: PostgreSQL when DATABASE_URL names one, else SQLite",
    )
    parser.add_argument(
        "--vehicles",
        type=int,
        default=None,
        help="cars in the scratch database (default 1,000,000 on PostgreSQL, 100,000 on SQLite)",
    )
    parser.add_argument("--requests", type=int, default=200, help="measured API requests per user")
    parser.add_argument(
        "--sql-requests",
        type=int,
        default=None,
        help="measured bare-SQL searches per user (default: each search of the mix once; "
        "on a million cars one takes seconds)",
    )
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured requests per user first")
    parser.add_argument("--queries", type=int, default=50, help="distinct searches in the mix")
    parser.add_argument("--seed", type=int, default=2026, help="seed of the search mix")
    parser.add_argument(
        "--rebuild", action="store_true", help="drop the scratch database and build it again"
    )
    return parser.parse_args()


# --- the scratch database ------------------------------------------------------------------


def database_url(engine: str) -> tuple[str, str]:
    """(engine, URL of the benchmark database)."""
    configured = os.environ.get("DATABASE_URL", "")
    is_postgres = configured.startswith(("postgres://", "postgresql://"))
    if engine == "sqlite" or (engine == "auto" and not is_postgres):
        SQLITE_FILE.parent.mkdir(parents=True, exist_ok=True)
        return "sqlite", f"sqlite:///{SQLITE_FILE}"
    parts = urlsplit(configured if is_postgres else DEFAULT_POSTGRES_URL)
    return "postgres", urlunsplit(parts._replace(path=f"/{BENCH_DATABASE}"))


def postgres_admin_url(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(scheme="postgresql", path="/postgres"))


def ensure_database(engine: str, url: str, rebuild: bool) -> None:
    if engine == "sqlite":
        if rebuild and SQLITE_FILE.exists():
            SQLITE_FILE.unlink()
        return
    import psycopg

    with psycopg.connect(postgres_admin_url(url), autocommit=True) as admin:
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DATABASE]
        ).fetchone()
        if exists and rebuild:
            admin.execute(f'DROP DATABASE "{BENCH_DATABASE}" WITH (FORCE)')
            exists = None
        if not exists:
            admin.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')


def configure_django(url: str) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "autocrm.config.settings",
            "DATABASE_URL": url,
            "DEBUG": "1",
            "LOG_LEVEL": "WARNING",
        }
    )
    import django
    from django.conf import settings

    django.setup()
    settings.DEBUG = False  # no query log in this process


@dataclass
class Preparation:
    vehicles: int
    migrate_s: float
    demo_s: float | None = None
    generated: int = 0
    generate_s: float | None = None
    rows_per_second: float | None = None


def prepare_data(target: int) -> Preparation:
    from django.core.management import call_command

    from autocrm.inventory.generator import generate_stock
    from autocrm.inventory.models import Vehicle

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    preparation = Preparation(vehicles=0, migrate_s=round(time.perf_counter() - started, 2))
    if not Vehicle.objects.exists():
        started = time.perf_counter()
        call_command("seed_demo", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
        preparation.demo_s = round(time.perf_counter() - started, 2)
    present = Vehicle.objects.count()
    if present < target:
        print(f"generating {target - present:,} vehicles (once; later runs reuse them) ...")

        def progress(done: int, seconds: float) -> None:
            if done % 100_000 == 0 or done == target - present:
                print(f"  {done:>10,}  {seconds:6.1f} s", flush=True)

        result = generate_stock(vehicles=target - present, batch_size=20_000, progress=progress)
        preparation.generated = result.vehicles
        preparation.generate_s = round(result.seconds, 1)
        preparation.rows_per_second = round(result.rows_per_second)
    preparation.vehicles = Vehicle.objects.count()
    return preparation


# --- the search mix ------------------------------------------------------------------------


def search_mix(count: int, seed: int) -> list[list[tuple[str, str]]]:
    """``count`` realistic searches: 2-6 filters each, values that exist in the stock."""
    from django.db.models import Count

    from autocrm.accounts.models import Site
    from autocrm.inventory.generator import MAKES, MODELS, SOLID_COLORS
    from autocrm.inventory.models import Vehicle

    rng = random.Random(seed)
    cities = sorted(set(Site.objects.values_list("city__name", flat=True)))
    vins = list(Vehicle.objects.order_by("pk").values_list("vin", flat=True)[:1000])
    models_by_make: dict[str, list[str]] = {}
    for spec in MODELS:
        models_by_make.setdefault(MAKES[spec.make].name, []).append(spec.name)
    makes = sorted(models_by_make)

    # Buyers ask for makes a city has: the makes making up 3 % or more of its stock.
    per_city: dict[str, list[tuple[str, int]]] = {}
    for city, make, number in (
        Vehicle.objects.values_list("city__name", "make__name").annotate(n=Count("pk")).order_by()
    ):
        per_city.setdefault(city, []).append((make, number))
    makes_in_city = {
        city: sorted(make for make, n in pairs if n >= 0.03 * sum(n for _, n in pairs))
        for city, pairs in per_city.items()
    }
    state: dict[str, str] = {}

    def make_and_model() -> list[tuple[str, str]]:
        candidates = makes_in_city.get(state.get("city", ""), []) or makes
        make = rng.choice(sorted(set(candidates) & set(makes)) or makes)
        pairs = [("make", make)]
        if rng.random() < 0.5:
            pairs.append(("model", rng.choice(models_by_make[make])))
        elif rng.random() < 0.3:  # a second make, as a buyer comparing two brands
            pairs.append(("make", rng.choice([m for m in candidates if m != make] or makes)))
        return pairs

    def city() -> list[tuple[str, str]]:
        state["city"] = rng.choice(cities)
        return [("city", state["city"])]

    choosers: dict[str, Any] = {
        "make": make_and_model,
        "city": city,
        "condition": lambda: [("condition", rng.choice(("new", "new", "used")))],
        "price": lambda: rng.choice(
            (
                [("price_max", str(rng.choice((1_500_000, 2_000_000, 2_500_000, 3_000_000))))],
                [("price_min", str(rng.choice((2_000_000, 3_000_000))))],
                [("price_min", "1500000"), ("price_max", str(rng.choice((3_000_000, 4_000_000))))],
            )
        ),
        "body": lambda: [("body", rng.choice(("suv", "crossover", "sedan")))],
        "drive": lambda: [("drive", "awd")],
        "transmission": lambda: [("transmission", rng.choice(("automatic", "cvt", "robot")))],
        "color": lambda: [("color", rng.choice([name for name, _ in SOLID_COLORS[:5]]))],
        "year": lambda: [("year_min", str(rng.choice((2020, 2022, 2024, 2025))))],
        "mileage": lambda: [("mileage_max", str(rng.choice((30_000, 60_000, 100_000))))],
        "logistics": lambda: [
            ("logistics_status", rng.choice(("in_showroom", "at_warehouse", "in_transit")))
        ],
        "free": lambda: [("reservation_status", "free")],
        "days": lambda: rng.choice(
            ([("days_in_stock_min", str(rng.choice((60, 90, 180))))], [("days_in_stock_max", "30")])
        ),
        "engine": lambda: [("engine", rng.choice(("petrol", "hybrid", "diesel")))],
        "vin": lambda: [("vin", rng.choice(vins)[-6:])] if vins else [],
    }
    weights = {
        "make": 10, "city": 8, "condition": 6, "price": 8, "body": 4, "drive": 2,
        "transmission": 3, "color": 2, "year": 3, "mileage": 2, "logistics": 3, "free": 4,
        "days": 2, "engine": 1, "vin": 1,
    }  # fmt: skip
    sorts = ("price", "-price", "-year", "mileage", "days_in_stock", "-days_in_stock")
    mix: list[list[tuple[str, str]]] = []
    for _ in range(count):
        wanted = rng.randint(2, 6)
        chosen: list[str] = []
        while len(chosen) < wanted:
            name = rng.choices(list(weights), list(weights.values()))[0]
            if name not in chosen:
                chosen.append(name)
        chosen.sort(key=lambda name: name != "city")  # the city first: it narrows the makes
        state.clear()
        params: list[tuple[str, str]] = []
        for name in chosen:
            params.extend(choosers[name]())
        if rng.random() < 0.5:
            params.append(("sort", rng.choice(sorts)))
        params.append(("limit", "50"))
        mix.append(params)
    return mix


# --- measuring -----------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """granian serving the production profile against the benchmark database."""

    def __init__(self, url: str) -> None:
        self.var_dir = Path(tempfile.mkdtemp(prefix="autocrm-bench-search-"))
        (self.var_dir / "static").mkdir()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "autocrm.config.settings",
            "DATABASE_URL": url,
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "0",
            "LOG_LEVEL": "WARNING",
            "DATABASE_CONN_MAX_AGE": "600",
            # A var directory of its own, with the static folder whitenoise expects.
            "AUTOCRM_VAR_DIR": str(self.var_dir),
        }
        granian = Path(sys.executable).with_name("granian")
        self.process = subprocess.Popen(  # noqa: S603 - fixed arguments
            [
                str(granian),
                "--interface",
                "wsgi",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "1",
                "--blocking-threads",
                "1",
                "--log-level",
                "warning",
                "autocrm.config.wsgi:application",
            ],
            cwd=REPO,
            env=env,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"granian exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("granian did not answer /healthz in time")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.var_dir, ignore_errors=True)


@dataclass
class Side:
    p50_ms: float
    p95_ms: float
    min_ms: float
    max_ms: float
    requests: int


@dataclass
class UserResult:
    user: str
    api: Side
    sql: Side
    ratio_p50: float
    api_errors: int
    count_mismatches: list[dict[str, Any]] = field(default_factory=list)
    median_count: int = 0


def side(timings: list[float]) -> Side:
    return Side(
        p50_ms=round(statistics.median(timings), 2),
        p95_ms=round(percentile(timings, 0.95), 2),
        min_ms=round(min(timings), 2),
        max_ms=round(max(timings), 2),
        requests=len(timings),
    )


class BareSql:
    """Replays captured statements on a plain DB-API connection (no Django in between)."""

    def __init__(self, engine: str, url: str) -> None:
        if engine == "sqlite":
            self.connection: Any = sqlite3.connect(SQLITE_FILE)
        else:
            import psycopg

            self.connection = psycopg.connect(
                urlunsplit(urlsplit(url)._replace(scheme="postgresql")), autocommit=True
            )

    def run(self, statements: list[str]) -> None:
        cursor = self.connection.cursor()
        for statement in statements:
            cursor.execute(statement)
            cursor.fetchall()
        cursor.close()

    def close(self) -> None:
        self.connection.close()


def capture_sql(user: Any, params: list[tuple[str, str]]) -> tuple[list[str], int]:
    """The statements the SQL engine of the search runs for this search, and its count."""
    from django.db import connection
    from django.http import QueryDict
    from django.test.utils import CaptureQueriesContext

    from autocrm.inventory.search import VehicleSearchParams, search_today, search_vehicles_sql

    query = QueryDict(urlencode(params))
    parsed = VehicleSearchParams.from_query(query)
    with CaptureQueriesContext(connection) as captured:
        result = search_vehicles_sql(user=user, params=parsed, today=search_today())
    statements = [entry["sql"] for entry in captured.captured_queries]
    return [sql for sql in statements if "inventory_vehicle" in sql], result.count


def measure_user(
    label: str,
    user: Any,
    token: str,
    server: Server,
    bare: BareSql,
    mix: list[list[tuple[str, str]]],
    args: argparse.Namespace,
) -> UserResult:
    import httpx

    captured = [capture_sql(user, params) for params in mix]
    client = httpx.Client(
        base_url=server.base, headers={"Authorization": f"Bearer {token}"}, timeout=900
    )
    errors = 0
    mismatches: list[dict[str, Any]] = []
    counts: list[int] = []
    # Warm-up: the first search builds the process's in-memory index; every search once,
    # checking that the API counts what SQL counts.
    for index, params in enumerate(mix):
        response = client.get("/api/v1/vehicles", params=params)
        if response.status_code != 200:
            errors += 1
            print(
                f"  {label}: {response.status_code} for {urlencode(params)}: {response.text[:200]}"
            )
            continue
        api_count = response.json()["count"]
        counts.append(api_count)
        if api_count != captured[index][1]:
            mismatches.append(
                {"query": urlencode(params), "api": api_count, "sql": captured[index][1]}
            )
    for number in range(args.warmup):
        client.get("/api/v1/vehicles", params=mix[number % len(mix)])

    api_timings: list[float] = []
    for number in range(args.requests):
        params = mix[number % len(mix)]
        started = time.perf_counter()
        response = client.get("/api/v1/vehicles", params=params)
        response.read()
        api_timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            errors += 1
    client.close()

    for number in range(min(args.warmup, 3)):  # capturing ran every search once already
        bare.run(captured[number % len(mix)][0])
    sql_timings: list[float] = []
    for number in range(args.sql_requests or len(mix)):
        statements = captured[number % len(mix)][0]
        started = time.perf_counter()
        bare.run(statements)
        sql_timings.append((time.perf_counter() - started) * 1000)

    api_side, sql_side = side(api_timings), side(sql_timings)
    return UserResult(
        user=label,
        api=api_side,
        sql=sql_side,
        ratio_p50=round(api_side.p50_ms / sql_side.p50_ms, 3) if sql_side.p50_ms else 0.0,
        api_errors=errors,
        count_mismatches=mismatches,
        median_count=int(statistics.median(counts)) if counts else 0,
    )


def print_table(title: str, results: list[UserResult]) -> None:
    print(f"\n{title}\n")
    headers = ("as", "median hits", "API p50 ms", "API p95 ms", "SQL p50 ms", "SQL p95 ms",
               "API/SQL p50", "errors")  # fmt: skip
    rows = [
        (
            r.user,
            f"{r.median_count:,}",
            f"{r.api.p50_ms:.2f}",
            f"{r.api.p95_ms:.2f}",
            f"{r.sql.p50_ms:.2f}",
            f"{r.sql.p95_ms:.2f}",
            f"{r.ratio_p50:.3f}",
            str(r.api_errors + len(r.count_mismatches)),
        )
        for r in results
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))


def database_label(connection: Any) -> str:
    if connection.vendor == "sqlite":
        return "SQLite " + ".".join(map(str, connection.Database.sqlite_version_info))
    version = connection.pg_version
    return f"PostgreSQL {version // 10000}.{version % 10000}"


def main() -> int:
    args = parse_args()
    engine, url = database_url(args.engine)
    target = args.vehicles or (1_000_000 if engine == "postgres" else 100_000)
    ensure_database(engine, url, args.rebuild)
    configure_django(url)

    import django
    from django.db import connection

    from autocrm.accounts.models import User
    from autocrm.accounts.services import api_token_create, api_token_revoke

    preparation = prepare_data(target)
    vendor = database_label(connection)
    mix = search_mix(args.queries, args.seed)
    users = {
        "group management (director)": User.objects.get(username="director"),
        "head of 2 dealer centers (head)": User.objects.get(username="head"),
    }
    tokens = {
        label: api_token_create(actor=None, user=user, name="bench search")
        for label, user in users.items()
    }

    server = Server(url)
    bare = BareSql(engine, url)
    results: list[UserResult] = []
    try:
        server.wait_ready()
        started = time.perf_counter()
        import httpx

        first = httpx.get(
            f"{server.base}/api/v1/vehicles",
            params={"limit": "1"},
            headers={"Authorization": f"Bearer {next(iter(tokens.values())).token}"},
            timeout=900,
        )
        index_build_s = round(time.perf_counter() - started, 2)
        if first.status_code != 200:
            print(
                f"the search API answered {first.status_code}: {first.text[:300]}", file=sys.stderr
            )
            return 1
        for label, user in users.items():
            results.append(measure_user(label, user, tokens[label].token, server, bare, mix, args))
    finally:
        server.stop()
        bare.close()
        for issued in tokens.values():
            api_token_revoke(actor=None, token=issued.record)

    title = (
        f"Stock search on {vendor}: {preparation.vehicles:,} vehicles; {len(mix)} searches "
        f"of 2-6 filters with facets and a page of 50; {args.requests} API requests "
        f"(granian, 1 worker) and {args.sql_requests or len(mix)} bare-SQL runs per user; "
        f"first search (index build) {index_build_s} s"
    )
    print_table(title, results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = {
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": vendor,
        "python": platform.python_version(),
        "django": django.get_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "data": asdict(preparation),
        "first_search_s": index_build_s,
        "requests": args.requests,
        "sql_requests": args.sql_requests or len(mix),
        "warmup": args.warmup,
        "seed": args.seed,
        "searches": [urlencode(params) for params in mix],
        "results": [asdict(result) for result in results],
    }
    output = RESULTS / "search-latest.json"
    output.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    print(f"\nwritten to {output.relative_to(REPO)}")
    failed = [r for r in results if r.api_errors or r.count_mismatches]
    for result in failed:
        print(
            f"FAILED as {result.user}: {result.api_errors} API errors, "
            f"{len(result.count_mismatches)} counts differing from SQL "
            f"{result.count_mismatches[:3]}",
            file=sys.stderr,
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
