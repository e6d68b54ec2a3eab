"""Demo stock: a few thousand believable cars on every site of the demo group, and the
seed's Chery Tiggo 7 Pro Max exactly as the customer's vehicle card shows it.

Registered as a demo step, so ``seed_demo`` runs it after the group and its users exist.
Idempotent: cars are keyed by stock code (the seed car's is its VIN, the others'
``MG-000001`` ...), and a later run creates only what is missing. The cars come from a
seeded random generator, so every database gets the same stock; stock-in and delivery
dates are relative to the day of the first run.

The seed car is created by ``services.vehicle_create``. The bulk is inserted straight into
the tables (``generator.VehicleWriter``: a tenth of ``bulk_create``'s time), with what
the service would also write: an audit-history row, the first logistics-history row and
a StockChange entry per car. Reservations, inspections and pledges go through the
services.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from autocrm.accounts.models import Brand, City, Consignor, Site, User
from autocrm.accounts.roles import RoleCode
from autocrm.clients.models import Client
from autocrm.clients.services import client_create
from autocrm.core.demo_registry import register_demo_step
from autocrm.inventory import services
from autocrm.inventory.generator import (
    StockContext,
    StockSynthesizer,
    VehicleWriter,
    ensure_catalog,
)
from autocrm.inventory.models import (
    BodyType,
    CarModel,
    Color,
    Condition,
    DriveType,
    EngineType,
    InspectionResult,
    LogisticsStatus,
    PtsKind,
    Reservation,
    Transmission,
    Trim,
    Vehicle,
)

DEMO_STOCK_SIZE = 2400
DEMO_SEED = 20230329
DEMO_STOCK_CODE = "MG-{:06d}"
RESERVED_SHARE = 0.035
INSPECTED_SHARE = 0.12
PLEDGED_SHARE = 0.02


@dataclass(frozen=True)
class SeedCar:
    """The car of the customer's vehicle card (seed/000_*.txt), field by field."""

    vin: str = "LVVDB21B1PD734288"
    make: str = "chery"
    model: str = "Tiggo 7 Pro Max"
    trim: str = "Ultimate"
    body: str = "suv"  # Внедорожник
    drive: str = "fwd"  # Передний
    engine: str = "petrol"  # Бензин
    transmission: str = "cvt"  # Вариатор
    interior: str = "Кожа"
    color: str = "Red/Black"
    year: int = 2023
    mileage: int = 2
    price: Decimal = Decimal("3119900.00")
    logistics_status: str = "in_showroom"  # Салон
    pts_date: date = date(2023, 3, 23)  # bought out and received the same day
    warranty_start: date = date(2023, 4, 6)
    report_date: date = date(2023, 3, 29)
    # Not on the card: it showed 133 days in stock next to invoices of 10.08.2023,
    # i.e. the car arrived on its report date.
    stock_in_date: date = date(2023, 3, 29)
    city: str = "Мурманск"
    site: str = "Мурманск CHERY"
    consignor: str = "Мурманск CHERY"


SEED_CAR = SeedCar()

CLIENT_NAMES: tuple[tuple[str, str, str], ...] = (
    ("Бродникова", "Екатерина", "Леонидовна"), ("Фёдоров", "Павел", "Игоревич"),
    ("Никитина", "Светлана", "Олеговна"), ("Григорьев", "Артём", "Сергеевич"),
    ("Захарова", "Дарья", "Андреевна"), ("Тихонов", "Роман", "Валерьевич"),
    ("Макарова", "Юлия", "Дмитриевна"), ("Андреев", "Константин", "Павлович"),
    ("Ковалёва", "Ирина", "Викторовна"), ("Степанов", "Владимир", "Николаевич"),
    ("Павлова", "Елена", "Александровна"), ("Семёнов", "Олег", "Михайлович"),
)  # fmt: skip
RESERVATION_COMMENTS = (
    "Внесена предоплата по счёту брони.",
    "Ожидает одобрения кредита.",
    "Клиент приедет на тест-драйв в выходные.",
    "Сдаёт свой автомобиль в зачёт, ждём оценку.",
    "",
)
INSPECTION_NOTES = ("Осмотр при приёмке в трейд-ин.", "Повторный осмотр перед продажей.")
DEFECT_NOTES = (
    "",
    "",
    "Видно при дневном свете.",
    "Требует покраски элемента.",
    "Со слов клиента.",
)


def build_stock() -> dict[str, int]:
    """Create the demo stock, or only what of it is missing."""
    with transaction.atomic():
        context = ensure_catalog()
        actor = (
            User.objects.filter(username="admin").first()
            or User.objects.filter(is_superuser=True).order_by("pk").first()
        )
        _ensure_seed_car(actor)
        created = _create_bulk(context, actor)
        rng = random.Random(DEMO_SEED + 1)  # noqa: S311 - demo data, not secrets
        _reserve(created, rng)
        _inspect(created, rng, actor)
        _pledge(created, rng, actor)
    return {
        "vehicles": Vehicle.objects.filter(in_stock=True).count(),
        "active reservations": Reservation.objects.filter(is_active=True).count(),
    }


def _ensure_seed_car(actor: Any) -> Vehicle | None:
    car = SEED_CAR
    if Vehicle.objects.filter(stock_code=car.vin).exists():
        return None
    if Vehicle.objects.filter(vin=car.vin, in_stock=True).exists():
        return None  # already in stock under another code (imported): leave it alone
    make = Brand.objects.get(code=car.make)
    car_model = CarModel.objects.get(make=make, name=car.model)
    return services.vehicle_create(
        actor=actor,
        stock_code=car.vin,
        vin=car.vin,
        make=make,
        car_model=car_model,
        trim=Trim.objects.get(car_model=car_model, name=car.trim),
        body=BodyType.objects.get(code=car.body),
        drive=DriveType.objects.get(code=car.drive),
        engine=EngineType.objects.get(code=car.engine),
        transmission=Transmission.objects.get(code=car.transmission),
        interior=car.interior,
        color=Color.objects.get(name=car.color),
        model_year=car.year,
        pts_year=car.year,
        mileage=car.mileage,
        price=car.price,
        condition=Condition.NEW,
        right_hand_drive=False,
        stock_in_date=car.stock_in_date,
        logistics_status=LogisticsStatus.objects.get(code=car.logistics_status),
        warranty_start=car.warranty_start,
        pts_kind=PtsKind.ELECTRONIC,
        pts_present=True,
        pts_buyout_date=car.pts_date,
        pts_received_date=car.pts_date,
        report_date=car.report_date,
        city=City.objects.get(name=car.city),
        site=Site.objects.get(name=car.site),
        consignor=Consignor.objects.get(name=car.consignor),
    ).vehicle


def demo_vehicles(context: StockContext, today: date) -> list[dict[str, Any]]:
    """Field values of the demo's bulk cars in stock-code order: the same list on every
    run (for the same sites) except for dates, which follow ``today``."""
    rng = random.Random(DEMO_SEED)  # noqa: S311 - demo data, not secrets
    synthesizer = StockSynthesizer(context, rng, today)
    placements = context.placements
    vehicles = []
    for index in range(DEMO_STOCK_SIZE):
        # Every site first gets a few cars in turn, then sites fill up by their weight.
        placement = (
            placements[index % len(placements)]
            if index < 5 * len(placements)
            else synthesizer.pick_placement()
        )
        values = synthesizer.vehicle(placement)
        values["stock_code"] = DEMO_STOCK_CODE.format(index + 1)
        vehicles.append(values)
    return vehicles


def _create_bulk(context: StockContext, actor: Any) -> list[dict[str, Any]]:
    """Insert the missing bulk cars; returns their field values (with ``id``)."""
    candidates = demo_vehicles(context, timezone.localdate())
    existing_codes = set(
        Vehicle.objects.filter(
            stock_code__in=[car["stock_code"] for car in candidates]
        ).values_list("stock_code", flat=True)
    )
    taken_vins = set(
        Vehicle.objects.filter(
            vin__in=[car["vin"] for car in candidates], in_stock=True
        ).values_list("vin", flat=True)
    )
    new: list[dict[str, Any]] = []
    for car in candidates:
        if car["stock_code"] in existing_codes or car["vin"] in taken_vins:
            continue
        taken_vins.add(car["vin"])
        new.append(car)
    if not new:
        return []
    # Straight into the tables, as the services would write them: the car, its audit
    # history row, its first logistics-history row, and its id in the StockChange log.
    writer = VehicleWriter(actor_id=actor.pk if actor else None, with_history=True)
    ids = writer.write(new)
    services.record_stock_change(ids)
    return new


def _manager_for(dealer_center_id: int | None, cache: dict[int | None, User | None]) -> User | None:
    """Who reserves a car of this dealer center: its sales manager, head, or group management."""
    if dealer_center_id not in cache:
        users = User.objects.filter(is_active=True).order_by("pk")
        local = users.filter(dealer_centers=dealer_center_id) if dealer_center_id else users.none()
        cache[dealer_center_id] = (
            local.filter(roles__code=RoleCode.SALES_MANAGER).first()
            or local.filter(roles__code=RoleCode.HEAD).first()
            or users.filter(roles__code=RoleCode.MANAGEMENT).first()
            or users.filter(is_superuser=True).first()
        )
    return cache[dealer_center_id]


def _client_for(dealer_center_id: int | None, manager: User, rng: random.Random) -> Client:
    last_name, first_name, middle_name = rng.choice(CLIENT_NAMES)
    existing = Client.objects.filter(
        last_name=last_name,
        first_name=first_name,
        middle_name=middle_name,
        dealer_center_id=dealer_center_id,
    ).first()
    if existing is not None:
        return existing
    return client_create(
        actor=manager,
        last_name=last_name,
        first_name=first_name,
        middle_name=middle_name,
        dealer_center_id=dealer_center_id,
        responsible_id=manager.pk,
        # Derived from the name, not drawn from ``rng``: the stock demo's draws stay as they were.
        phones=[
            f"+7912{zlib.crc32(f'{last_name}{first_name}{dealer_center_id}'.encode()) % 10**7:07d}"
        ],
        consents={"personal_data": True},
        consent_source="demo",
    )


def _reserve(created: list[dict[str, Any]], rng: random.Random) -> None:
    managers: dict[int | None, User | None] = {}
    arriving_or_here = {
        pk
        for pk, code in LogisticsStatus.objects.values_list("pk", "code")
        if code in {"in_transit", "at_warehouse", "in_showroom"}
    }
    for car in created:
        if car["condition"] == Condition.USED and rng.random() < 0.5:
            continue
        if car["logistics_status_id"] not in arriving_or_here or rng.random() >= RESERVED_SHARE:
            continue
        manager = _manager_for(car["dealer_center_id"], managers)
        if manager is None:
            return
        services.reservation_create(
            actor=manager,
            vehicle=Vehicle(pk=car["id"]),
            client=_client_for(car["dealer_center_id"], manager, rng),
            hours=rng.choice((24, 48, 72, 120, 168, 240, 336)),
            comment=rng.choice(RESERVATION_COMMENTS),
        )


def _inspect(created: list[dict[str, Any]], rng: random.Random, actor: Any) -> None:
    inspector = (
        User.objects.filter(is_active=True, roles__code=RoleCode.APPRAISER).order_by("pk").first()
        or actor
    )
    if inspector is None:
        return
    for car in created:
        if car["condition"] != Condition.USED or rng.random() >= INSPECTED_SHARE:
            continue
        vehicle = Vehicle.objects.get(pk=car["id"])
        visits = 2 if rng.random() < 0.3 else 1
        for visit in range(visits):
            day = car["stock_in_date"] - timedelta(days=(visits - visit) * rng.randrange(1, 20))
            inspected_at = timezone.make_aware(
                datetime.combine(day, time(rng.randrange(9, 19), rng.choice((0, 15, 30, 45))))
            )
            defects = [
                services.DefectInput(
                    body_zone=zone,
                    kind=kind,
                    severity=severity,
                    repair_estimate=Decimal(
                        rng.randrange(*REPAIR_ESTIMATES[severity]) // 500 * 500
                    ),
                    note=rng.choice(DEFECT_NOTES),
                )
                for zone, kind, severity in _defects(rng)
            ]
            worst = {defect.severity for defect in defects}
            services.inspection_record(
                actor=inspector,
                vehicle=vehicle,
                inspector=inspector,
                inspected_at=inspected_at,
                mileage=max(car["mileage"] - (visits - 1 - visit) * rng.randrange(0, 150), 0),
                result=InspectionResult.NEEDS_REPAIR
                if "major" in worst
                else InspectionResult.PASSED,
                notes=INSPECTION_NOTES[min(visit, 1)],
                defects=defects,
            )


REPAIR_ESTIMATES = {
    "minor": (2_000, 8_000),
    "moderate": (8_000, 30_000),
    "major": (30_000, 120_000),
}
DEFECT_KINDS = {
    "front_bumper": ("scratch", "chip", "crack"),
    "hood": ("chip", "scratch", "repaint"),
    "windshield": ("chip", "crack"),
    "front_left_door": ("scratch", "dent"),
    "rear_right_door": ("dent", "scratch"),
    "rear_bumper": ("scratch", "dent", "repaint"),
    "wheels": ("wear", "scratch"),
    "interior": ("wear", "other"),
    "underbody": ("corrosion",),
    "engine_bay": ("mechanical",),
}


def _defects(rng: random.Random) -> list[tuple[str, str, str]]:
    zones = rng.sample(sorted(DEFECT_KINDS), rng.choice((0, 1, 1, 2, 2, 3, 4)))
    return [
        (
            zone,
            rng.choice(DEFECT_KINDS[zone]),
            rng.choices(("minor", "moderate", "major"), (6, 3, 1))[0],
        )
        for zone in zones
    ]


def _pledge(created: list[dict[str, Any]], rng: random.Random, actor: Any) -> None:
    for car in created:
        if car["condition"] != Condition.USED or rng.random() >= PLEDGED_SHARE:
            continue
        services.restriction_add(
            actor=actor,
            vehicle=Vehicle.objects.get(pk=car["id"]),
            kind="pledge",
            source="Реестр уведомлений о залоге движимого имущества (ФНП)",
            starts_on=date(car["model_year"] or car["stock_in_date"].year, 6, 1),
            note="Автокредит продавца; погашается из оплаты покупателя при продаже.",
        )


register_demo_step(100, build_stock, name="inventory.stock")
