#!/usr/bin/env python
"""The credit module: the loan calculator, the programs that fit an order, broker callbacks.

    .venv/bin/python bench/credit.py                                   # SQLite, defaults
    DATABASE_URL=postgres://u:p@host/autocrm .venv/bin/python bench/credit.py
    .venv/bin/python bench/credit.py --database postgres --programs 60 --callbacks 100 \\
        --repeat 50 --no-fail

The data goes into a scratch database of its own, never the one DATABASE_URL names: a
temporary SQLite file, or ``autocrm_bench_credit`` on the PostgreSQL server of
DATABASE_URL (postgres://autocrm:autocrm@127.0.0.1:5432 when DATABASE_URL names none;
dropped and created again, the role needs CREATEDB; dropped at the end unless ``--keep``).
``--database`` chooses; by default PostgreSQL when DATABASE_URL is a PostgreSQL URL, else
SQLite. Without a reachable PostgreSQL the run is skipped (exit 0, or 1 with
``--require-postgres``).

Everything runs with the production profile (DEBUG off, a SECRET_KEY, ALLOWED_HOSTS
127.0.0.1, a Fernet key generated for the run in PII_ENCRYPTION_KEYS, shared by this
process and the server so that the broker connection's encrypted secret decrypts).

The data: the orders' test world (a dealer center, a Chery Tiggo 7 Pro Max in stock for
1 829 900 ₽, a sales manager), ``--banks`` banks and ``--programs`` credit programs spread
over them, each with three rate bands; a third limited to the order's brand (some of
those to its model, some to another model), a third to other brands, a third to any; some
expired or not yet valid, a spread of term ranges and minimum down payments, mandatory
financial products on half of them. How many fit the order (36 months, 20 % down) is
computed from that plan and checked against the selector.

Measured:

a) the calculator in this process: ``loan_terms`` and ``loan_terms_for_order`` per call
   (µs), each call timed alone over ``--calc-calls`` varied inputs, median / p95; and the
   worked examples of its docstring (62 808.61 ₽ and 53 201.45 ₽) as a check.
b) ``programs_for_order(order)`` in this process (ms, median / p95 over ``--repeat`` calls
   after ``--warmup``), the statements it runs and the number of programs that fit; then
   ``GET /api/v1/orders/{id}/credit-programs?limit=200`` through Django's test Client
   (full middleware stack, no network) with a sales manager's bearer token, when
   ``autocrm.finance.api_credit`` and that route exist (else in-process only, and the
   report says so). Target: p95 <= 150 ms (set for 300 programs).
c) broker callbacks over a real server: granian (``--workers`` x ``--blocking-threads``)
   on a free port of 127.0.0.1; ``--callbacks`` callbacks, signed as docs/ecredit.md
   says, each a different event and decision (approved / counter-offer / declined from
   the banks, some requiring a product) for applications submitted to the broker (built
   with the ORM: applications in stage "documents", sent, with their BrokerSubmission),
   POSTed one after the other over one keep-alive httpx connection: response time
   median / p95 (target p95 <= 50 ms: the endpoint only stores). Then ``--repost`` of
   them are posted again as they were (must answer "duplicate" and store nothing), and
   as many with a new event id but a decision already sent (stored, must add no offer).
   The server's own task queue (one ``process_broker_callback`` job per stored
   callback) is left alone: the callbacks are applied in this process with
   ``broker_callback_process``, one timed call each (the first few, untimed, count the
   statements). Checked: offers == callbacks, every callback processed without error,
   the repeats add nothing, applying again changes nothing.

A table on stdout, the figures in bench/results/credit-latest.json. Exit 1 when a speed
target is missed (``--no-fail``: 0), and always when a count is wrong.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import importlib
import io
import json
import logging
import math
import os
import platform
import pstats
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
BENCH_DATABASE = "autocrm_bench_credit"
sys.path.insert(0, str(REPO))

from benchlib import (  # noqa: E402 - after the path set-up
    ServerProcesses,
    configure_django,
    percentile,
    postgres_url,
    recreate_postgres_database,
)

TARGET_PROGRAMS_P95_MS = 150.0
TARGET_CALLBACK_P95_MS = 50.0

TERM_MONTHS = 36
DOWN_PAYMENT_PERCENT = Decimal("20")
# (min, max) term of a program; the last one excludes 36 months.
TERM_RANGES = ((12, 60), (12, 84), (6, 96), (24, 84), (48, 96))
# Minimum down payments, %; 30 excludes the default 20 %.
MIN_DOWN_PAYMENTS = (Decimal("0"), Decimal("10"), Decimal("15"), Decimal("20"), Decimal("30"))
BANKS = (
    ("sberbank", "Сбербанк"), ("vtb", "ВТБ"), ("alfabank", "Альфа-Банк"),
    ("sovcombank", "Совкомбанк"), ("tbank", "Т-Банк"), ("gazprombank", "Газпромбанк"),
    ("rosbank", "Росбанк"), ("raiffeisen", "Райффайзенбанк"), ("otkritie", "Банк Открытие"),
    ("psb", "ПСБ"), ("uralsib", "Уралсиб"), ("setelem", "Драйв Клик Банк"),
    ("pochtabank", "Почта Банк"), ("mkb", "МКБ"), ("rshb", "Россельхозбанк"),
    ("akbars", "Ак Барс"),
)  # fmt: skip
OTHER_BRANDS = (
    "Haval", "Geely", "LADA", "Kia", "Hyundai", "Toyota", "Exeed", "Omoda", "Jetour",
    "Changan", "Tank",
)  # fmt: skip
DECISIONS_PER_APPLICATION = 5
CALLBACK_STATUSES = ("approved", "approved", "counter_offer", "declined")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--programs", type=int, default=300, help="credit programs")
    parser.add_argument("--banks", type=int, default=12, help=f"banks (at most {len(BANKS)})")
    parser.add_argument("--callbacks", type=int, default=500, help="broker callbacks posted")
    parser.add_argument(
        "--repeat", type=int, default=200, help="measured programs_for_order calls / requests"
    )
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured calls first")
    parser.add_argument(
        "--calc-calls", type=int, default=10_000, help="calculator calls timed, per function"
    )
    parser.add_argument(
        "--repost", type=int, default=50, help="callbacks posted again (and decisions repeated)"
    )
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgres"),
        default=None,
        help="scratch database (default: postgres when DATABASE_URL is PostgreSQL, else sqlite)",
    )
    parser.add_argument("--workers", type=int, default=1, help="granian worker processes")
    parser.add_argument(
        "--blocking-threads", type=int, default=1, help="granian WSGI threads per worker"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="print cProfile listings of programs_for_order and of applying callbacks",
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--no-fail", action="store_true", help="exit 0 when a speed target is missed"
    )
    parser.add_argument(
        "--require-postgres",
        action="store_true",
        help="fail instead of skipping when no PostgreSQL is reachable",
    )
    args = parser.parse_args()
    if not 1 <= args.banks <= len(BANKS):
        parser.error(f"--banks must be from 1 to {len(BANKS)}")
    if args.programs < 1 or args.callbacks < 1 or args.repeat < 1 or args.calc_calls < 1:
        parser.error("--programs, --callbacks, --repeat and --calc-calls must be positive")
    args.repost = max(0, min(args.repost, args.callbacks))
    return args


def summary(values: list[float], scale: float = 1.0, digits: int = 2) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": round(statistics.median(values) * scale, digits) if values else 0.0,
        "p95": round(percentile(values, 0.95) * scale, digits),
        "max": round(max(values, default=0.0) * scale, digits),
    }


# --- the data --------------------------------------------------------------------------------


@dataclass
class ProgramPlan:
    scope: str  # "brand" (the order's), "model" (the order's model), "other_model", "other", "any"
    term: tuple[int, int]
    min_down: Decimal
    expired: bool
    not_yet_valid: bool
    casco_required: bool
    products: int  # mandatory financial products: 0, 1 or 2

    @property
    def fits(self) -> bool:
        return (
            self.scope in {"brand", "model", "any"}
            and not self.expired
            and not self.not_yet_valid
            and self.term[0] <= TERM_MONTHS <= self.term[1]
            and self.min_down <= DOWN_PAYMENT_PERCENT
        )


def plan_programs(count: int, rng: random.Random) -> list[ProgramPlan]:
    plans = []
    for index in range(count):
        scope = ("brand", "other", "any")[index % 3]
        if scope == "brand" and (index // 3) % 5 == 1:
            scope = "model"
        elif scope == "brand" and (index // 3) % 5 == 3:
            scope = "other_model"
        plans.append(
            ProgramPlan(
                scope=scope,
                term=rng.choice(TERM_RANGES),
                min_down=rng.choice(MIN_DOWN_PAYMENTS),
                expired=index % 10 == 7,
                not_yet_valid=index % 23 == 5,
                casco_required=index % 4 == 0,
                products=(1, 0, 2, 0)[index % 4],
            )
        )
    return plans


@dataclass
class Data:
    banks: int = 0
    programs: int = 0
    rate_bands: int = 0
    programs_by_scope: dict[str, int] = field(default_factory=dict)
    expired_or_not_yet_valid: int = 0
    expected_fits: int = 0
    orders: int = 0
    applications: int = 0
    build_s: float = 0.0


def build(args: argparse.Namespace) -> tuple[Data, dict[str, Any]]:
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    from autocrm.accounts.models import Brand
    from autocrm.finance.calculator import loan_terms_for_order
    from autocrm.finance.models import (
        Bank,
        BrokerConnection,
        BrokerSubmission,
        CreditApplication,
        CreditProgram,
        CreditProgramRate,
    )
    from autocrm.finance.models.credit import (
        BrokerState,
        CreditStage,
        SubmissionKind,
        SubmissionStatus,
    )
    from autocrm.finance.tests.factories import make_product
    from autocrm.inventory.tests.factories import CarModelFactory
    from autocrm.orders.selectors_catalog import dealer_center_today
    from autocrm.orders.tests.factories import order_world

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    rng = random.Random(args.seed)
    world = order_world()
    order = world.order()
    today = dealer_center_today(world.dealer_center)
    other_model = CarModelFactory.create(make=world.make, name="Tiggo 4")
    other_brands = [
        Brand.objects.get_or_create(code=name.lower(), defaults={"name": name})[0]
        for name in OTHER_BRANDS
    ]
    products = [
        make_product(
            name="Страхование жизни", price=Decimal("35000.00"), broker_code="life_insurance"
        ),
        make_product(name="GAP-страхование", price=Decimal("24900.00"), broker_code="gap"),
    ]
    plans = plan_programs(args.programs, rng)
    with transaction.atomic():
        banks = [Bank.objects.create(code=code, name=name) for code, name in BANKS[: args.banks]]
        programs = CreditProgram.objects.bulk_create(
            CreditProgram(
                bank=banks[index % len(banks)],
                name=f"Автокредит {index + 1:03d}",
                rate=Decimal(rng.randrange(59, 249)) / 10,
                min_term_months=plan.term[0],
                max_term_months=plan.term[1],
                min_down_payment_percent=plan.min_down,
                casco_required=plan.casco_required,
                valid_from=today + timedelta(days=10)
                if plan.not_yet_valid
                else today - timedelta(days=rng.randrange(30, 300)),
                valid_until=today - timedelta(days=rng.randrange(3, 90))
                if plan.expired
                else (today + timedelta(days=rng.randrange(30, 365)) if index % 2 else None),
            )
            for index, plan in enumerate(plans)
        )
        bands = []
        for program, plan in zip(programs, plans, strict=True):
            middle = max(plan.term[0], TERM_MONTHS)
            bands += [
                CreditProgramRate(
                    program=program,
                    min_term_months=plan.term[0],
                    max_term_months=middle,
                    min_down_payment_percent=Decimal("0"),
                    rate=program.rate + 1,
                ),
                CreditProgramRate(
                    program=program,
                    min_term_months=plan.term[0],
                    max_term_months=middle,
                    min_down_payment_percent=Decimal("30"),
                    rate=program.rate - 2,
                ),
                CreditProgramRate(
                    program=program,
                    min_term_months=middle + 1,
                    max_term_months=plan.term[1],
                    min_down_payment_percent=Decimal("0"),
                    rate=program.rate + 2,
                ),
            ]
        CreditProgramRate.objects.bulk_create(bands)
        brand_links = CreditProgram.brands.through
        model_links = CreditProgram.car_models.through
        product_links = CreditProgram.mandatory_products.through
        brand_rows, model_rows, product_rows = [], [], []
        for program, plan in zip(programs, plans, strict=True):
            if plan.scope in {"brand", "model", "other_model"}:
                brand_rows.append(brand_links(creditprogram_id=program.pk, brand_id=world.make.pk))
            elif plan.scope == "other":
                brand_rows += [
                    brand_links(creditprogram_id=program.pk, brand_id=brand.pk)
                    for brand in rng.sample(other_brands, rng.choice((1, 2)))
                ]
            if plan.scope == "model":
                model_rows.append(
                    model_links(creditprogram_id=program.pk, carmodel_id=world.car_model.pk)
                )
            elif plan.scope == "other_model":
                model_rows.append(
                    model_links(creditprogram_id=program.pk, carmodel_id=other_model.pk)
                )
            product_rows += [
                product_links(creditprogram_id=program.pk, financialproduct_id=product.pk)
                for product in products[: plan.products]
            ]
        brand_links.objects.bulk_create(brand_rows)
        model_links.objects.bulk_create(model_rows)
        product_links.objects.bulk_create(product_rows)

    # Submitted applications for the callbacks, on orders of cars of their own.
    callback_secret = "bench-" + secrets.token_hex(24)
    connection = BrokerConnection.objects.create(
        name="E-Credit",
        base_url="http://127.0.0.1:9/api/v1",
        login="dealer-bench",
        api_key="bench-" + secrets.token_hex(16),
        callback_secret=callback_secret,
    )
    application_count = math.ceil(args.callbacks / DECISIONS_PER_APPLICATION)
    order_count = max(1, min(50, application_count // 4))
    orders = [order] + [world.order(vehicle=world.another_car()) for _ in range(order_count - 1)]
    now = timezone.now()
    with transaction.atomic():
        applications = []
        for index in range(application_count):
            of = orders[index % len(orders)]
            rate = Decimal(rng.randrange(99, 219)) / 10
            terms = loan_terms_for_order(
                order_amount=of.total,
                rate=rate,
                term_months=TERM_MONTHS,
                down_payment_percent=DOWN_PAYMENT_PERCENT,
            )
            assert terms.down_payment is not None
            assert terms.down_payment_percent is not None
            applications.append(
                CreditApplication(
                    order=of,
                    stage=CreditStage.DOCUMENTS,
                    version=1,
                    order_amount=of.total,
                    down_payment=terms.down_payment,
                    down_payment_percent=terms.down_payment_percent,
                    credit_amount=terms.credit_amount,
                    term_months=TERM_MONTHS,
                    rate=rate,
                    monthly_payment=terms.monthly_payment,
                    total_paid=terms.total_paid,
                    overpayment=terms.overpayment,
                    broker_state=BrokerState.SENT,
                    broker_reference=f"EC-{index + 1:06d}",
                    submitted_at=now,
                    created_by=world.manager,
                )
            )
        applications = CreditApplication.objects.bulk_create(applications)
        BrokerSubmission.objects.bulk_create(
            BrokerSubmission(
                application=application,
                connection=connection,
                kind=SubmissionKind.APPLICATION,
                version=1,
                status=SubmissionStatus.SENT,
                attempts=1,
                broker_reference=application.broker_reference,
                sent_at=now,
            )
            for application in applications
        )
    data = Data(
        banks=len(banks),
        programs=len(programs),
        rate_bands=len(bands),
        programs_by_scope={
            scope: sum(1 for plan in plans if plan.scope == scope)
            for scope in ("brand", "model", "other_model", "other", "any")
        },
        expired_or_not_yet_valid=sum(1 for plan in plans if plan.expired or plan.not_yet_valid),
        expected_fits=sum(1 for plan in plans if plan.fits),
        orders=len(orders),
        applications=len(applications),
        build_s=round(time.perf_counter() - started, 1),
    )
    objects = {
        "world": world,
        "order": order,
        "banks": banks,
        "connection": connection,
        "callback_secret": callback_secret,
        "applications": applications,
        "today": today,
    }
    return data, objects


# --- a) the calculator -----------------------------------------------------------------------


def measure_calculator(args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    from autocrm.finance.calculator import loan_terms, loan_terms_for_order

    problems = []
    for amount, expected in (("1829900.00", "62808.61"), ("1550000.00", "53201.45")):
        got = loan_terms(Decimal(amount), Decimal("14.3"), 36).monthly_payment
        if got != Decimal(expected):
            problems.append(f"loan_terms({amount}, 14.3 %, 36) = {got}, not {expected}")

    rng = random.Random(args.seed + 1)
    rates = [Decimal(r) for r in ("0", "4.9", "9.9", "14.3", "18.5", "21.5", "29.9")]
    inputs = [
        (
            Decimal(rng.randrange(500_000_00, 6_000_000_00)) / 100,
            rng.choice(rates),
            rng.randrange(6, 121),
            Decimal(rng.randrange(0, 60)),
            Decimal(rng.choice((0, 0, 35000, 59900))),
        )
        for _ in range(args.calc_calls)
    ]

    def plain(item: tuple[Decimal, Decimal, int, Decimal, Decimal]) -> Any:
        return loan_terms(item[0], item[1], item[2])

    def for_order(item: tuple[Decimal, Decimal, int, Decimal, Decimal]) -> Any:
        return loan_terms_for_order(
            order_amount=item[0],
            rate=item[1],
            term_months=item[2],
            down_payment_percent=item[3],
            financed_products=item[4],
        )

    result: dict[str, Any] = {"calls": args.calc_calls}
    for name, function in (("loan_terms", plain), ("loan_terms_for_order", for_order)):
        for item in inputs[:200]:
            function(item)
        gc.collect()
        gc.disable()
        timings = []
        try:
            for item in inputs:
                started = time.perf_counter_ns()
                function(item)
                timings.append((time.perf_counter_ns() - started) / 1000)
        finally:
            gc.enable()
        result[name] = summary(timings, 1.0, 1)
    return result, problems


# --- b) programs_for_order -------------------------------------------------------------------


@dataclass
class ProgramsResult:
    fits: int = 0
    expected_fits: int = 0
    queries: int = 0
    in_process_ms: dict[str, float] = field(default_factory=dict)
    endpoint: str = ""
    endpoint_state: str = ""  # "measured", or why not
    http_ms: dict[str, float] = field(default_factory=dict)
    http_queries: int = 0
    http_count: int | None = None
    http_items: int | None = None
    http_errors: int = 0
    http_status: int | None = None


def measure_programs(
    args: argparse.Namespace, data: Data, objects: dict[str, Any]
) -> ProgramsResult:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import Resolver404, resolve

    from autocrm.accounts.services import api_token_create
    from autocrm.finance.credit_selectors import programs_for_order
    from autocrm.orders.models import Order

    result = ProgramsResult(expected_fits=data.expected_fits)
    order = Order.objects.get(pk=objects["order"].pk)
    for _ in range(args.warmup):
        programs_for_order(order)
    with CaptureQueriesContext(connection) as captured:
        quotes = programs_for_order(order)
    result.queries = len(captured)
    result.fits = len(quotes)
    gc.collect()
    timings = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        programs_for_order(order)
        timings.append(time.perf_counter() - started)
    result.in_process_ms = summary(timings, 1000)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(20):
            programs_for_order(order)
        profiler.disable()
        print("\n--- profile: 20 x programs_for_order ---")
        print(profile_text(profiler, 35))

    path = f"/api/v1/orders/{order.pk}/credit-programs"
    result.endpoint = f"GET {path}?limit=200"
    try:
        importlib.import_module("autocrm.finance.api_credit")
    except ImportError as error:
        result.endpoint_state = f"not measured: autocrm.finance.api_credit is absent ({error})"
        return result
    try:
        resolve(path)
    except Resolver404:
        result.endpoint_state = "not measured: no such route in the URLconf"
        return result
    token = api_token_create(actor=None, user=objects["world"].manager, name="bench credit").token
    client = Client(raise_request_exception=False, HTTP_HOST="127.0.0.1")
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{path}?limit=200"
    first = client.get(url, headers=headers)
    result.http_status = first.status_code
    if first.status_code != 200:
        result.endpoint_state = f"answered {first.status_code}: {first.content[:200]!r}"
        result.http_errors = 1
        return result
    body = first.json()
    result.http_count = body.get("count")
    result.http_items = len(body.get("items", []))
    for _ in range(args.warmup):
        client.get(url, headers=headers)
    with CaptureQueriesContext(connection) as captured:
        client.get(url, headers=headers)
    result.http_queries = len(captured)
    gc.collect()
    timings = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        timings.append(time.perf_counter() - started)
        if response.status_code != 200:
            result.http_errors += 1
    result.http_ms = summary(timings, 1000)
    result.endpoint_state = "measured (Django test Client, sales manager's bearer token)"
    return result


# --- c) broker callbacks ---------------------------------------------------------------------


@dataclass
class CallbackResult:
    server: str = ""
    posted: int = 0
    answered_accepted: int = 0
    answers_other: dict[str, int] = field(default_factory=dict)
    bad_signature_refused: int = 0
    response_ms: dict[str, float] = field(default_factory=dict)
    stored: int = 0
    tasks_queued: int = 0
    reposted: int = 0
    repost_answered_duplicate: int = 0
    repost_response_ms: dict[str, float] = field(default_factory=dict)
    stored_after_repost: int = 0
    repeated_decisions_posted: int = 0
    repeated_decisions_accepted: int = 0
    apply_queries_per_callback: float = 0.0
    apply_ms: dict[str, float] = field(default_factory=dict)
    applied: int = 0
    apply_errors: int = 0
    offers: int = 0
    offers_by_status: dict[str, int] = field(default_factory=dict)
    offers_with_required_products: int = 0
    offers_after_repeated_decisions: int = 0
    offers_after_reapply: int = 0
    unprocessed: int = 0


def build_callbacks(
    args: argparse.Namespace, objects: dict[str, Any]
) -> list[tuple[str, dict[str, Any]]]:
    """(event id, payload) per callback: each application gets decisions of different
    banks."""
    rng = random.Random(args.seed + 2)
    banks = objects["banks"]
    applications = objects["applications"]
    valid_until = (objects["today"] + timedelta(days=30)).isoformat()
    callbacks = []
    for index in range(args.callbacks):
        position = index // DECISIONS_PER_APPLICATION
        application = applications[position]
        bank = banks[(position + index % DECISIONS_PER_APPLICATION) % len(banks)]
        status = CALLBACK_STATUSES[index % len(CALLBACK_STATUSES)]
        decision: dict[str, Any] = {
            "id": f"DEC-{index + 1:06d}",
            "bank": {"code": bank.code, "name": bank.name},
            "status": status,
            "comment": "Решение банка" if status != "declined" else "Отказ по скорингу",
        }
        if status != "declined":
            amount = application.credit_amount
            if status == "counter_offer":
                amount = (amount * Decimal("0.9")).quantize(Decimal("0.01"))
            decision |= {
                "amount": str(amount),
                "rate": str(Decimal(rng.randrange(99, 229)) / 10),
                "term_months": TERM_MONTHS,
                "valid_until": valid_until,
                "required_products": ["life_insurance"] if index % 3 == 0 else [],
            }
            if index % 2:  # the other half leaves the payment to AutoCRM's calculator
                decision["monthly_payment"] = str(application.monthly_payment)
        event_id = f"evt-bench-{index + 1:06d}-{secrets.token_hex(4)}"
        callbacks.append(
            (
                event_id,
                {
                    "event_id": event_id,
                    "application_id": application.broker_reference,
                    "external_id": f"autocrm-{application.pk}",
                    "version": 1,
                    "decision": decision,
                },
            )
        )
    return callbacks


def _encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def post_all(
    client: Any, path: str, secret: str, bodies: list[bytes], *, bad_signature: bool = False
) -> tuple[list[float], list[tuple[int, str]]]:
    """POST each body, signed just before it is sent (not timed); (seconds, answers)."""
    from autocrm.finance.broker import sign_callback

    timings: list[float] = []
    answers: list[tuple[int, str]] = []
    for body in bodies:
        timestamp = str(int(time.time()))
        signature = sign_callback("wrong-" + secret if bad_signature else secret, timestamp, body)
        headers = {
            "Content-Type": "application/json",
            "X-ECredit-Timestamp": timestamp,
            "X-ECredit-Signature": signature,
        }
        started = time.perf_counter()
        response = client.post(path, content=body, headers=headers)
        timings.append(time.perf_counter() - started)
        try:
            said = str(response.json().get("status") or response.json().get("error"))
        except ValueError:
            said = response.text[:80]
        answers.append((response.status_code, said))
    return timings, answers


def apply_all(
    args: argparse.Namespace,
    result: CallbackResult,
    original_ids: list[int],
    repeated_ids: list[int],
) -> None:
    """The originals (the first few untimed, counting statements; the rest timed one by
    one), then the repeated decisions, then some of the originals once more."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from autocrm.finance.credit_services import broker_callback_process
    from autocrm.finance.models import BrokerCallback, CreditOffer

    sample = original_ids[: min(5, len(original_ids))]
    with CaptureQueriesContext(connection) as captured:
        for callback_id in sample:
            broker_callback_process(callback_id=callback_id)
    result.apply_queries_per_callback = round(len(captured) / max(len(sample), 1), 1)
    gc.collect()
    timings = []
    profiler = cProfile.Profile() if args.profile else None
    for callback_id in original_ids[len(sample) :]:
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        broker_callback_process(callback_id=callback_id)
        if profiler:
            profiler.disable()
        timings.append(time.perf_counter() - started)
    if profiler:
        print("\n--- profile: applying the callbacks (timings include the profiler) ---")
        print(profile_text(profiler, 35))
    result.apply_ms = summary(timings, 1000)
    result.applied = BrokerCallback.objects.filter(
        pk__in=original_ids, processed_at__isnull=False, error=""
    ).count()
    result.offers = CreditOffer.objects.count()
    result.offers_by_status = {
        status: CreditOffer.objects.filter(status=status).count()
        for status in ("approved", "counter_offer", "declined")
    }
    result.offers_with_required_products = (
        CreditOffer.objects.filter(required_products__isnull=False).distinct().count()
    )
    for callback_id in repeated_ids:
        broker_callback_process(callback_id=callback_id)
    result.offers_after_repeated_decisions = CreditOffer.objects.count()
    for callback_id in original_ids[: args.repost]:
        broker_callback_process(callback_id=callback_id)
    result.offers_after_reapply = CreditOffer.objects.count()


def measure_callbacks(
    url: str, args: argparse.Namespace, objects: dict[str, Any]
) -> tuple[CallbackResult, list[str]]:
    import httpx
    from django_tasks_db.models import DBTaskResult

    from autocrm.finance.models import BrokerCallback

    result = CallbackResult()
    problems: list[str] = []
    broker = objects["connection"]
    secret = objects["callback_secret"]
    path = f"/hooks/ecredit/{broker.pk}/"
    callbacks = build_callbacks(args, objects)
    bodies = [_encode(payload) for _, payload in callbacks]
    reposts = bodies[: args.repost]
    # The broker's retry of a decision under a new event id (same decision id).
    repeated = []
    for event_id, payload in callbacks[: args.repost]:
        again = dict(payload, event_id=f"{event_id}-again")
        repeated.append(_encode(again))

    processes = ServerProcesses(
        url, name="credit", workers=args.workers, blocking_threads=args.blocking_threads
    )
    result.server = (
        f"granian, {args.workers} worker(s) x {args.blocking_threads} thread(s), DEBUG off"
    )
    try:
        processes.wait_ready()
        with httpx.Client(base_url=processes.base, timeout=30) as client:
            # Warm-up: refused callbacks (wrong signature) take the same path up to the
            # check, and store nothing.
            _timings, answers = post_all(client, path, secret, bodies[:10], bad_signature=True)
            result.bad_signature_refused = sum(1 for status, _ in answers if status == 403)
            print(f"callbacks: posting {len(bodies)} ...", flush=True)
            timings, answers = post_all(client, path, secret, bodies)
            result.posted = len(bodies)
            result.response_ms = summary(timings, 1000)
            for status, said in answers:
                if status == 200 and said == "accepted":
                    result.answered_accepted += 1
                else:
                    key = f"{status} {said}"
                    result.answers_other[key] = result.answers_other.get(key, 0) + 1
            result.stored = BrokerCallback.objects.count()
            if reposts:
                timings, answers = post_all(client, path, secret, reposts)
                result.reposted = len(reposts)
                result.repost_response_ms = summary(timings, 1000)
                result.repost_answered_duplicate = sum(
                    1 for status, said in answers if status == 200 and said == "duplicate"
                )
                result.stored_after_repost = BrokerCallback.objects.count()
                _timings, answers = post_all(client, path, secret, repeated)
                result.repeated_decisions_posted = len(repeated)
                result.repeated_decisions_accepted = sum(
                    1 for status, said in answers if status == 200 and said == "accepted"
                )
    finally:
        processes.stop()
    result.tasks_queued = DBTaskResult.objects.filter(
        task_path__endswith="process_broker_callback"
    ).count()

    # Apply in this process, in the order received: the originals (timed), then the
    # repeated decisions, then everything once more.
    original_events = [event_id for event_id, _ in callbacks]
    ids_by_event = dict(
        BrokerCallback.objects.filter(connection=broker).values_list("event_id", "pk")
    )
    original_ids = [ids_by_event[e] for e in original_events if e in ids_by_event]
    repeated_ids = [
        ids_by_event[f"{e}-again"]
        for e in original_events[: args.repost]
        if f"{e}-again" in ids_by_event
    ]
    print(f"callbacks: applying {len(original_ids)} in-process ...", flush=True)
    # A failing callback logs its traceback each time; the error is kept on the callback
    # and reported below, once per distinct message.
    service_logger = logging.getLogger("autocrm.finance.credit_services")
    level = service_logger.level
    service_logger.setLevel(logging.CRITICAL)
    try:
        apply_all(args, result, original_ids, repeated_ids)
    finally:
        service_logger.setLevel(level)
    result.unprocessed = BrokerCallback.objects.filter(processed_at__isnull=True).count()
    failed = BrokerCallback.objects.exclude(error="")
    result.apply_errors = failed.count()
    for error in sorted(set(failed.values_list("error", flat=True)))[:3]:
        problems.append(f"callback error: {error[:300]}")

    # The checks of correctness.
    n = len(bodies)
    if result.answered_accepted != n:
        problems.append(f"{n - result.answered_accepted} of {n} callbacks not accepted: "
                        f"{result.answers_other}")  # fmt: skip
    if result.bad_signature_refused != min(10, n):
        problems.append(f"only {result.bad_signature_refused} badly signed callbacks refused")
    if result.stored != n:
        problems.append(f"{result.stored} callbacks stored for {n} posted")
    if result.reposted and result.repost_answered_duplicate != result.reposted:
        problems.append(
            f"{result.repost_answered_duplicate} of {result.reposted} re-posts answered duplicate"
        )
    if result.reposted and result.stored_after_repost != n:
        problems.append(f"re-posting stored {result.stored_after_repost - n} callbacks")
    if result.repeated_decisions_accepted != result.repeated_decisions_posted:
        problems.append("repeated decisions under new event ids were not all accepted")
    if result.offers != n:
        problems.append(f"{result.offers} offers for {n} callbacks")
    if result.applied != n or result.apply_errors or result.unprocessed:
        problems.append(
            f"{result.applied} of {n} callbacks applied, {result.apply_errors} with an error, "
            f"{result.unprocessed} unprocessed"
        )
    if result.offers_after_repeated_decisions != result.offers:
        problems.append(
            f"repeated decisions added {result.offers_after_repeated_decisions - result.offers}"
            " offers"
        )
    if result.offers_after_reapply != result.offers:
        problems.append("applying callbacks again changed the offers")
    return result, problems


def profile_text(profiler: cProfile.Profile, lines: int) -> str:
    buffer = io.StringIO()
    pstats.Stats(profiler, stream=buffer).sort_stats("cumulative").print_stats(lines)
    return buffer.getvalue()


# --- the run ---------------------------------------------------------------------------------


def database_label(connection: Any) -> str:
    if connection.vendor == "sqlite":
        return "SQLite " + ".".join(map(str, connection.Database.sqlite_version_info))
    version = connection.pg_version
    return f"PostgreSQL {version // 10000}.{version % 10000}"


def scratch_database(
    args: argparse.Namespace, workdir: Path
) -> tuple[str, Callable[[], None]] | None:
    """The URL of a fresh scratch database and a function that removes it; None when
    PostgreSQL is wanted and not reachable."""
    configured = os.environ.get("DATABASE_URL", "")
    kind = args.database or (
        "postgres" if configured.startswith(("postgres://", "postgresql://")) else "sqlite"
    )
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'bench-credit.sqlite3'}", lambda: None
    url = postgres_url(BENCH_DATABASE)
    try:
        recreate_postgres_database(url)
    except Exception as error:
        message = f"PostgreSQL not reachable ({type(error).__name__}: {error})"
        if args.require_postgres:
            raise SystemExit(message) from error
        print(f"SKIPPED: {message}")
        return None

    def drop() -> None:
        from urllib.parse import urlsplit, urlunsplit

        import psycopg

        admin = urlunsplit(urlsplit(url)._replace(scheme="postgresql", path="/postgres"))
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')

    return url, drop


def main() -> int:
    args = parse_args()
    from cryptography.fernet import Fernet

    # The bench process and the server must share the key: the broker connection's
    # callback secret is encrypted with it here and decrypted there.
    os.environ["PII_ENCRYPTION_KEYS"] = Fernet.generate_key().decode()
    workdir = Path(tempfile.mkdtemp(prefix="autocrm-bench-credit-"))
    (workdir / "static").mkdir()
    scratch = scratch_database(args, workdir)
    if scratch is None:
        shutil.rmtree(workdir, ignore_errors=True)
        return 0
    url, drop = scratch
    try:
        return run(args, url, workdir)
    finally:
        from django.db import connections

        connections.close_all()
        if args.keep:
            print(f"kept: {url}")
        else:
            drop()
            shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace, url: str, workdir: Path) -> int:
    configure_django(url, workdir)
    import django
    from django.db import connection

    load_before = [round(value, 2) for value in os.getloadavg()]
    print("building the data ...", flush=True)
    data, objects = build(args)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    vendor = database_label(connection)
    print(
        f"data: {data.programs} programs of {data.banks} banks ({data.expected_fits} fit the "
        f"order), {data.applications} submitted applications on {data.orders} orders; "
        f"{vendor}, built in {data.build_s} s",
        flush=True,
    )
    print(f"calculator: {args.calc_calls:,} calls per function ...", flush=True)
    calculator, calculator_problems = measure_calculator(args)
    print(f"programs_for_order: {args.repeat} calls ...", flush=True)
    programs = measure_programs(args, data, objects)
    callbacks, callback_problems = measure_callbacks(url, args, objects)

    problems = calculator_problems + callback_problems
    if programs.fits != data.expected_fits:
        problems.append(f"{programs.fits} programs fit the order, {data.expected_fits} expected")
    if programs.http_count is not None and programs.http_count != programs.fits:
        problems.append(f"the endpoint counts {programs.http_count} programs, not {programs.fits}")
    if programs.http_errors:
        problems.append(f"{programs.http_errors} credit-programs requests not answered 200")
    missed = []
    if programs.in_process_ms["p95"] > TARGET_PROGRAMS_P95_MS:
        missed.append(
            f"programs_for_order p95 {programs.in_process_ms['p95']} ms "
            f"> {TARGET_PROGRAMS_P95_MS:g} ms"
        )
    if programs.http_ms and programs.http_ms["p95"] > TARGET_PROGRAMS_P95_MS:
        missed.append(
            f"credit-programs endpoint p95 {programs.http_ms['p95']} ms "
            f"> {TARGET_PROGRAMS_P95_MS:g} ms"
        )
    if callbacks.response_ms.get("p95", 0.0) > TARGET_CALLBACK_P95_MS:
        missed.append(
            f"callback response p95 {callbacks.response_ms['p95']} ms "
            f"> {TARGET_CALLBACK_P95_MS:g} ms"
        )

    print_report(args, vendor, data, calculator, programs, callbacks)
    RESULTS.mkdir(parents=True, exist_ok=True)
    output = RESULTS / "credit-latest.json"
    report = {
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": vendor,
        "python": platform.python_version(),
        "django": django.get_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "load_average_before": load_before,
        "load_average_after": [round(value, 2) for value in os.getloadavg()],
        "arguments": {
            "programs": args.programs,
            "banks": args.banks,
            "callbacks": args.callbacks,
            "repeat": args.repeat,
            "warmup": args.warmup,
            "calc_calls": args.calc_calls,
            "repost": args.repost,
            "granian_workers": args.workers,
            "blocking_threads": args.blocking_threads,
        },
        "targets": {
            "programs_p95_ms": TARGET_PROGRAMS_P95_MS,
            "callback_response_p95_ms": TARGET_CALLBACK_P95_MS,
        },
        "data": asdict(data),
        "calculator_us": calculator,
        "programs_for_order": asdict(programs),
        "callbacks": asdict(callbacks),
        "missed": missed,
        "problems": problems,
    }
    output.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    print(f"\nwritten to {output.relative_to(REPO)}")
    for line in missed:
        print(f"MISSED: {line}", file=sys.stderr)
    for line in problems:
        print(f"WRONG: {line}", file=sys.stderr)
    if problems:
        return 1
    return 0 if args.no_fail or not missed else 1


def print_report(
    args: argparse.Namespace,
    vendor: str,
    data: Data,
    calculator: dict[str, Any],
    programs: ProgramsResult,
    callbacks: CallbackResult,
) -> None:
    lt, lto = calculator["loan_terms"], calculator["loan_terms_for_order"]
    p, c = programs.in_process_ms, callbacks
    if programs.http_ms:
        h = programs.http_ms
        http_row = (
            "  endpoint p50 / p95 / max ms",
            f"{h['p50']} / {h['p95']} / {h['max']}",
            f"p95 <= {TARGET_PROGRAMS_P95_MS:g}; {programs.http_queries} statements; "
            f"count {programs.http_count}, {programs.http_items} items",
        )
    else:
        http_row = ("  endpoint", programs.endpoint_state, "in-process only")
    scopes = ", ".join(f"{k} {v}" for k, v in data.programs_by_scope.items())
    rows = [
        ("database", vendor, "load average " + " ".join(f"{v:.1f}" for v in os.getloadavg())),
        ("data", f"{data.programs} programs, {data.banks} banks, {data.rate_bands} rate bands",
         f"{scopes}; {data.expired_or_not_yet_valid} expired or not yet valid"),
        ("a) loan_terms µs p50 / p95", f"{lt['p50']} / {lt['p95']}", f"{lt['n']:,} calls"),
        ("   loan_terms_for_order µs p50 / p95", f"{lto['p50']} / {lto['p95']}",
         f"{lto['n']:,} calls"),
        ("b) programs_for_order ms p50 / p95 / max", f"{p['p50']} / {p['p95']} / {p['max']}",
         f"p95 <= {TARGET_PROGRAMS_P95_MS:g}; {programs.queries} statements; {args.repeat} calls"),
        ("   programs that fit (36 months, 20 %)", str(programs.fits),
         f"expected {programs.expected_fits}"),
        (http_row[0], http_row[1], http_row[2]),
        ("c) server", c.server, f"{c.bad_signature_refused} badly signed refused (403)"),
        ("   callback response ms p50 / p95 / max",
         f"{c.response_ms.get('p50')} / {c.response_ms.get('p95')} / {c.response_ms.get('max')}",
         f"p95 <= {TARGET_CALLBACK_P95_MS:g}; {c.posted} posted, {c.answered_accepted} accepted"),
        ("   stored / tasks queued", f"{c.stored} / {c.tasks_queued}", ""),
        ("   re-posted as they were", f"{c.reposted}: {c.repost_answered_duplicate} duplicate",
         f"stored after: {c.stored_after_repost}; p50 {c.repost_response_ms.get('p50')} ms"),
        ("   apply ms p50 / p95 / max", f"{c.apply_ms.get('p50')} / {c.apply_ms.get('p95')} / "
         f"{c.apply_ms.get('max')}", f"{c.apply_queries_per_callback} statements per callback"),
        ("   offers / callbacks", f"{c.offers} / {c.posted}",
         ", ".join(f"{k} {v}" for k, v in c.offers_by_status.items())
         + f"; {c.offers_with_required_products} with required products"),
        ("   applied / errors / unprocessed", f"{c.applied} / {c.apply_errors} / {c.unprocessed}",
         ""),
        ("   repeated decisions (new event ids)", f"{c.repeated_decisions_posted} posted",
         f"offers after: {c.offers_after_repeated_decisions}; after re-applying "
         f"{args.repost}: {c.offers_after_reapply}"),
    ]  # fmt: skip
    widths = [max(len(str(row[i])) for row in rows) for i in range(3)]
    print("\nCredit: calculator, programs for an order, broker callbacks\n")
    for row in rows:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
