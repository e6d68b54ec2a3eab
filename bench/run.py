#!/usr/bin/env python
"""Benchmark the hot read paths of AutoCRM on a generated, sizable dealer group.

    make bench                                  # temporary SQLite file
    DATABASE_URL=postgres://u:p@host/autocrm make bench   # uses database autocrm_bench
    BENCH_ARGS="--repeat 100 --users 20000" make bench

The data goes into a database of its own, never the one DATABASE_URL names: a temporary
SQLite file, or ``<name>_bench`` on the same PostgreSQL server (dropped and created again;
the role needs CREATEDB). Requests go through Django's test Client, i.e. the full
middleware stack without a network or WSGI server in front, so the figures are the
application's own cost. Results: a table on stdout and bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from datetime import time as clock
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
sys.path.insert(0, str(REPO))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dealer-centers", type=int, default=200)
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--sites", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=100, help="measured requests per scenario")
    parser.add_argument(
        "--warmup", type=int, default=10, help="unmeasured requests per scenario first"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the benchmark database afterwards"
    )
    parser.add_argument("--seed", type=int, default=2026, help="random seed of the data generator")
    return parser.parse_args()


# --- the benchmark database ------------------------------------------------------------------


def bench_database_url(workdir: Path) -> tuple[str, Callable[[], None]]:
    """Return the URL of a fresh benchmark database and a function that removes it."""
    configured = os.environ.get("DATABASE_URL", "")
    if not configured.startswith(("postgres://", "postgresql://")):
        return f"sqlite:///{workdir / 'bench.sqlite3'}", lambda: None

    import psycopg

    parts = urlsplit(configured)
    name = parts.path.lstrip("/") or "autocrm"
    bench_name = name if name.endswith("_bench") else f"{name}_bench"
    admin_url = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))

    def recreate(drop_only: bool = False) -> None:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{bench_name}" WITH (FORCE)')
            if not drop_only:
                admin.execute(f'CREATE DATABASE "{bench_name}"')

    recreate()
    return urlunsplit(parts._replace(path=f"/{bench_name}")), lambda: recreate(drop_only=True)


def configure_django(database_url: str, workdir: Path) -> None:
    # The development profile (no collectstatic needed for the home page), with DEBUG then
    # switched off the way Django's test runner does it, so no query log slows requests.
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "autocrm.config.settings",
            "DATABASE_URL": database_url,
            "DEBUG": "1",
            "AUTOCRM_VAR_DIR": str(workdir),
            "ALLOWED_HOSTS": "testserver,localhost",
            "LOG_LEVEL": "WARNING",
        }
    )
    import django
    from django.conf import settings

    django.setup()
    settings.DEBUG = False


# --- data generation -------------------------------------------------------------------------

CITY_NAMES = [
    ("Мурманская область", "51", "Мурманск", "Europe/Moscow"),
    ("Санкт-Петербург", "78", "Санкт-Петербург", "Europe/Moscow"),
    ("Москва", "77", "Москва", "Europe/Moscow"),
    ("Свердловская область", "66", "Екатеринбург", "Asia/Yekaterinburg"),
    ("Новосибирская область", "54", "Новосибирск", "Asia/Novosibirsk"),
    ("Республика Татарстан", "16", "Казань", "Europe/Moscow"),
    ("Краснодарский край", "23", "Краснодар", "Europe/Moscow"),
    ("Самарская область", "63", "Самара", "Europe/Samara"),
    ("Омская область", "55", "Омск", "Asia/Omsk"),
    ("Красноярский край", "24", "Красноярск", "Asia/Krasnoyarsk"),
    ("Приморский край", "25", "Владивосток", "Asia/Vladivostok"),
    ("Калининградская область", "39", "Калининград", "Europe/Kaliningrad"),
]
BRANDS = [
    "Chery",
    "Haval",
    "Geely",
    "LADA",
    "Kia",
    "Hyundai",
    "Toyota",
    "Exeed",
    "Omoda",
    "Jetour",
    "Changan",
    "Tank",
]
ROLE_WEIGHTS = {
    "sales_manager": 55,
    "hostess": 8,
    "service": 9,
    "logistician": 6,
    "appraiser": 6,
    "lawyer": 2,
    "head": 4,
    "operator": 8,
    "management": 1,
    "administrator": 1,
}
FIRST = [
    "Алексей",
    "Мария",
    "Дмитрий",
    "Ольга",
    "Сергей",
    "Анна",
    "Игорь",
    "Екатерина",
    "Максим",
    "Наталья",
]
LAST = [
    "Иванов",
    "Смирнова",
    "Кузнецов",
    "Попова",
    "Соколов",
    "Лебедева",
    "Козлов",
    "Новикова",
    "Морозов",
    "Волкова",
]


@dataclass
class Dataset:
    dealer_centers: int
    users: int
    sites: int
    cities: int
    brands: int
    generation_s: float


def generate(args: argparse.Namespace) -> tuple[Dataset, dict[str, Any]]:
    from django.contrib.auth.hashers import make_password
    from django.db import transaction

    from autocrm.accounts.models import (
        Brand,
        City,
        DealerCenter,
        Region,
        Role,
        Site,
        SiteKind,
        User,
        WorkingHours,
    )
    from autocrm.accounts.roles import GROUP_LEVEL_ROLES

    rng = random.Random(args.seed)
    started = time.perf_counter()
    with transaction.atomic():
        cities = []
        for region_name, code, city_name, zone in CITY_NAMES:
            region = Region.objects.create(name=region_name, code=code)
            cities.append(City.objects.create(region=region, name=city_name, time_zone=zone))
        brands = [Brand.objects.create(name=name, code=name.lower()) for name in BRANDS]
        roles = {code: Role.objects.get_or_create(code=code)[0] for code in ROLE_WEIGHTS}

        dealer_centers = DealerCenter.objects.bulk_create(
            DealerCenter(
                code=f"dc-{index:04d}",
                name=f"{brands[index % len(brands)].name} {cities[index % len(cities)].name} {index:04d}",
                city=cities[index % len(cities)],
                time_zone=cities[index % len(cities)].time_zone,
                address=f"г. {cities[index % len(cities)].name}, ул. Автомобилистов, {index + 1}",
                phone=f"+7495{6400000 + index:07d}",
                email=f"dc{index:04d}@example.com",
            )
            for index in range(args.dealer_centers)
        )
        brand_links = DealerCenter.brands.through
        brand_links.objects.bulk_create(
            brand_links(dealercenter_id=dc.pk, brand_id=brand.pk)
            for dc in dealer_centers
            for brand in rng.sample(brands, rng.choice((1, 2)))
        )
        WorkingHours.objects.bulk_create(
            WorkingHours(
                dealer_center=dc,
                weekday=day,
                opens_at=clock(9) if day < 5 else clock(10),
                closes_at=clock(20) if day < 5 else clock(18),
            )
            for dc in dealer_centers
            for day in range(7)
        )
        Site.objects.bulk_create(
            Site(
                name=f"Площадка {index:05d}",
                kind=SiteKind.SHOWROOM_AND_STORAGE
                if index < len(dealer_centers)
                else SiteKind.STORAGE,
                dealer_center=dealer_centers[index % len(dealer_centers)] if index % 10 else None,
                city=cities[index % len(cities)],
                address=f"промзона {index}",
            )
            for index in range(args.sites)
        )

        password = make_password(None)  # unusable: benchmarks log in with force_login/tokens
        codes = list(ROLE_WEIGHTS)
        weights = list(ROLE_WEIGHTS.values())
        users = User.objects.bulk_create(
            User(
                username=f"user{index:05d}",
                first_name=rng.choice(FIRST),
                last_name=rng.choice(LAST),
                email=f"user{index:05d}@example.com",
                password=password,
            )
            for index in range(args.users)
        )
        role_links: list[Any] = []
        dc_links: list[Any] = []
        for index, user in enumerate(users):
            code = rng.choices(codes, weights)[0]
            role_links.append(User.roles.through(user_id=user.pk, role_id=roles[code].pk))
            if code not in GROUP_LEVEL_ROLES:
                # Spread staff evenly, some attached to a second dealer center.
                first = dealer_centers[index % len(dealer_centers)]
                attached = {first.pk}
                if rng.random() < 0.2:
                    attached.add(rng.choice(dealer_centers).pk)
                dc_links.extend(
                    User.dealer_centers.through(user_id=user.pk, dealercenter_id=pk)
                    for pk in attached
                )
        User.roles.through.objects.bulk_create(role_links)
        User.dealer_centers.through.objects.bulk_create(dc_links)

        head = User.objects.create(
            username="bench-head", first_name="Игорь", last_name="Белов", password=password
        )
        head.roles.set([roles["head"]])
        head.dealer_centers.set([dealer_centers[0]])
        director = User.objects.create(
            username="bench-director", first_name="Сергей", last_name="Орлов", password=password
        )
        director.roles.set([roles["management"]])

    dataset = Dataset(
        dealer_centers=DealerCenter.objects.count(),
        users=User.objects.count(),
        sites=Site.objects.count(),
        cities=City.objects.count(),
        brands=Brand.objects.count(),
        generation_s=round(time.perf_counter() - started, 2),
    )
    return dataset, {"head": head, "director": director, "dealer_center": dealer_centers[0]}


# --- measuring -------------------------------------------------------------------------------


@dataclass
class Row:
    scenario: str
    url: str
    as_user: str
    rows: int | None
    queries: int
    median_ms: float
    p95_ms: float
    min_ms: float
    max_ms: float
    repeat: int
    status: int


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def measure(
    scenario: str, client: Any, url: str, as_user: str, args: argparse.Namespace, **headers: str
) -> Row:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(args.warmup):
        client.get(url, **headers)
    gc.collect()
    timings: list[float] = []
    status = 200
    for _ in range(args.repeat):
        started = time.perf_counter()
        response = client.get(url, **headers)
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            status = response.status_code
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **headers)
    rows = None
    if response.get("Content-Type", "").startswith("application/json"):
        body = response.json()
        if isinstance(body, dict) and "items" in body:
            rows = len(body["items"])
    return Row(
        scenario=scenario,
        url=url,
        as_user=as_user,
        rows=rows,
        queries=len(queries),
        median_ms=round(statistics.median(timings), 2),
        p95_ms=round(percentile(timings, 0.95), 2),
        min_ms=round(min(timings), 2),
        max_ms=round(max(timings), 2),
        repeat=args.repeat,
        status=status,
    )


def run_scenarios(args: argparse.Namespace, people: dict[str, Any]) -> list[Row]:
    from django.test import Client

    from autocrm.accounts.services import api_token_create

    head_token = api_token_create(actor=None, user=people["head"], name="bench").token
    director_token = api_token_create(actor=None, user=people["director"], name="bench").token
    as_head = {"HTTP_AUTHORIZATION": f"Bearer {head_token}"}
    as_director = {"HTTP_AUTHORIZATION": f"Bearer {director_token}"}

    api = Client()
    browser = Client()
    browser.force_login(people["head"])
    head = f"head of 1 dealer center ({people['head'].username})"
    director = f"group management ({people['director'].username})"
    return [
        measure(
            "dealer centers", api, "/api/v1/dealer-centers?limit=200", director, args, **as_director
        ),
        measure("dealer centers", api, "/api/v1/dealer-centers?limit=200", head, args, **as_head),
        measure("users", api, "/api/v1/users?limit=200", director, args, **as_director),
        measure("users", api, "/api/v1/users?limit=200", head, args, **as_head),
        measure("me", api, "/api/v1/me", head, args, **as_head),
        measure("health probe", api, "/healthz", "anonymous", args),
        measure("home page (logged in)", browser, "/", head, args),
    ]


def print_table(dataset: Dataset, rows: list[Row], vendor: str) -> None:
    print(
        f"\nAutoCRM bench on {vendor}: {dataset.dealer_centers} dealer centers, {dataset.users} users, "
        f"{dataset.sites} sites, {dataset.cities} cities (generated in {dataset.generation_s} s); "
        f"{rows[0].repeat if rows else 0} requests per row after warm-up\n"
    )
    headers = ("scenario", "as", "rows", "queries", "median ms", "p95 ms", "status")
    table = [
        (
            r.scenario,
            r.as_user,
            "" if r.rows is None else str(r.rows),
            str(r.queries),
            f"{r.median_ms:.2f}",
            f"{r.p95_ms:.2f}",
            str(r.status),
        )
        for r in rows
    ]
    widths = [max(len(h), *(len(line[i]) for line in table)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for line in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)))


def database_label(connection: Any) -> str:
    if connection.vendor == "sqlite":
        return "SQLite " + ".".join(map(str, connection.Database.sqlite_version_info))
    version = connection.pg_version
    return f"PostgreSQL {version // 10000}.{version % 10000}"


def main() -> int:
    args = parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="autocrm-bench-"))
    drop = None
    try:
        database_url, drop = bench_database_url(workdir)
        configure_django(database_url, workdir)

        from django.core.management import call_command
        from django.db import connection

        started = time.perf_counter()
        call_command("migrate", verbosity=0)
        migrate_s = round(time.perf_counter() - started, 2)
        dataset, people = generate(args)
        rows = run_scenarios(args, people)
        vendor = database_label(connection)
        print_table(dataset, rows, vendor)

        import django

        RESULTS.mkdir(parents=True, exist_ok=True)
        report = {
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": vendor,
            "python": platform.python_version(),
            "django": django.get_version(),
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
            # Other work on the machine skews p95 first; keep the load next to the figures.
            "load_average": [round(value, 2) for value in os.getloadavg()],
            "migrate_s": migrate_s,
            "data": asdict(dataset),
            "repeat": args.repeat,
            "warmup": args.warmup,
            "results": [asdict(row) for row in rows],
        }
        (RESULTS / "latest.json").write_text(
            json.dumps(report, ensure_ascii=False, indent=2) + "\n"
        )
        print(f"\nwritten to {(RESULTS / 'latest.json').relative_to(REPO)}")
        failed = [row for row in rows if row.status != 200]
        for row in failed:
            print(f"FAILED: {row.url} as {row.as_user} answered {row.status}", file=sys.stderr)
        return 1 if failed else 0
    finally:
        from django.db import connections

        # The PostgreSQL bench database cannot be dropped while we hold a connection to it.
        connections.close_all()
        if drop is not None and not args.keep:
            drop()
        if args.keep:
            print(f"kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
