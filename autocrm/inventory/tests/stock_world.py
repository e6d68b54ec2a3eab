"""A varied stock for search tests, and the search computed in plain Python over all rows.

``expected_search`` is deliberately written without the search module's helpers: it reads
every car through the ORM and decides each filter, facet and sort in Python, so that it is
an independent check of both engines (the bitmap index and SQL).
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from autocrm.accounts.models import DealerCenter, Site, User
from autocrm.accounts.tests.factories import (
    BrandFactory,
    CityFactory,
    ConsignorFactory,
    DealerCenterFactory,
    SiteFactory,
    UserFactory,
)
from autocrm.inventory.models import Vehicle
from autocrm.inventory.tests.factories import (
    BodyTypeFactory,
    CarModelFactory,
    ColorFactory,
    DriveTypeFactory,
    EngineTypeFactory,
    LogisticsStatusFactory,
    TransmissionFactory,
    TrimFactory,
    VehicleFactory,
    vin_for,
)

TODAY = datetime.date(2026, 6, 15)


@dataclass
class StockWorld:
    dc_a: DealerCenter
    dc_b: DealerCenter
    sites: list[Site]
    users: dict[str, User]
    vehicles: list[Vehicle]


def build_stock_world(count: int = 240, seed: int = 7) -> StockWorld:
    rng = random.Random(seed)
    moscow = CityFactory.create(name="Москва")
    murmansk = CityFactory.create(name="Мурманск")
    dc_a = DealerCenterFactory.create(name="DC A", city=moscow)
    dc_b = DealerCenterFactory.create(name="DC B", city=murmansk)
    sites = [
        SiteFactory.create(name="Site A1", dealer_center=dc_a),
        SiteFactory.create(name="Site A2", dealer_center=dc_a),
        SiteFactory.create(name="Мурманск CHERY", dealer_center=dc_b),
        SiteFactory.create(name="Central", dealer_center=None, city=moscow),
    ]
    makes = [BrandFactory.create(name=name) for name in ("Chery", "Haval", "Geely")]
    models = [
        CarModelFactory.create(make=make, name=name)
        for make in makes
        # "Tiggo" twice on purpose: a model name shared by two makes is one facet value.
        for name in (
            {"Chery": ("Tiggo 7 Pro Max", "Tiggo"), "Haval": ("Jolion", "F7")}.get(
                make.name, ("Tiggo", "Coolray")
            )
        )
    ]
    trims = {
        model.pk: [TrimFactory.create(car_model=model, name=n) for n in ("Base", "Ultimate")]
        for model in models
    }
    colors = [ColorFactory.create(name=name) for name in ("White", "Red/Black", "Серый")]
    consignors = [ConsignorFactory.create(name=name) for name in ("Мурманск CHERY", "Leasing Co")]
    # Fetched (or, after a flushing transactional test, recreated) by code.
    bodies = [BodyTypeFactory.create(code=code) for code in ("suv", "sedan", "crossover")]
    drives = [DriveTypeFactory.create(code=code) for code in ("fwd", "rwd", "awd")]
    engines = [EngineTypeFactory.create(code=code) for code in ("petrol", "diesel", "electric")]
    transmissions = [
        TransmissionFactory.create(code=code) for code in ("manual", "automatic", "cvt", "robot")
    ]
    statuses = [
        LogisticsStatusFactory.create(code=code)
        for code in ("in_transit", "at_warehouse", "in_showroom")
    ]
    vehicles = []
    for number in range(count):
        model = rng.choice(models)
        site = rng.choice(sites)
        vin = vin_for(10_000 + number * 7919, prefix=rng.choice(["LVV", "XTA", "Z8T"]))
        model_year = rng.choice([2019, 2021, 2022, 2023, 2024, 2025, None])
        vehicles.append(
            VehicleFactory.create(
                vin=vin,
                stock_code=vin if rng.random() < 0.7 else f"SK-{number:05d}",
                make=model.make,
                car_model=model,
                trim=rng.choice([*trims[model.pk], None]),
                body=rng.choice([*bodies, None]),
                drive=rng.choice(drives),
                engine=rng.choice(engines),
                transmission=rng.choice([*transmissions, None]),
                color=rng.choice([*colors, None]),
                model_year=model_year,
                pts_year=rng.choice([2020, 2023, None]) if model_year is None else model_year,
                mileage=rng.choice([0, 0, 2, 15_000, 48_000, 120_000, rng.randint(0, 200_000)]),
                condition=rng.choice(["new", "used"]),
                price=Decimal(
                    rng.choice([1_500_000, 2_000_000, 3_119_900, rng.randint(500_000, 5_000_000)])
                )
                + Decimal(rng.choice(["0", "0.50", "0.99"])),
                stock_in_date=TODAY - datetime.timedelta(days=rng.randint(-5, 400)),
                reservation_status=rng.choice(["free", "free", "reserved", "sold"]),
                logistics_status=rng.choice(statuses),
                site=site,
                city=site.city,
                dealer_center=site.dealer_center,
                consignor=rng.choice([*consignors, None]),
            )
        )
    users = {
        "group": UserFactory.create(username="group", roles=["management"]),
        "sales_a": UserFactory.create(
            username="sales_a", roles=["sales_manager"], dealer_centers=[dc_a]
        ),
        "sales_b": UserFactory.create(
            username="sales_b", roles=["sales_manager"], dealer_centers=[dc_b]
        ),
    }
    return StockWorld(dc_a=dc_a, dc_b=dc_b, sites=sites, users=users, vehicles=vehicles)


# --- the independent computation ----------------------------------------------------------


def _row(vehicle: Vehicle, today: datetime.date) -> dict[str, Any]:
    def name(related: Any) -> str | None:
        return None if related is None else related.name

    def code(related: Any) -> str | None:
        return None if related is None else related.code

    year = vehicle.model_year if vehicle.model_year is not None else vehicle.pts_year
    return {
        "id": vehicle.pk,
        "dealer_center_id": vehicle.dealer_center_id,
        "make": vehicle.make.name,
        "model": vehicle.car_model.name,
        "trim": name(vehicle.trim),
        "body": code(vehicle.body),
        "drive": code(vehicle.drive),
        "engine": code(vehicle.engine),
        "transmission": code(vehicle.transmission),
        "color": name(vehicle.color),
        "condition": vehicle.condition,
        "city": vehicle.city.name,
        "site": vehicle.site.name,
        "consignor": name(vehicle.consignor),
        "reservation_status": vehicle.reservation_status,
        "logistics_status": vehicle.logistics_status.code,
        "year": year,
        "price": vehicle.price,
        "mileage": vehicle.mileage,
        "days_in_stock": max((today - vehicle.stock_in_date).days, 0),
        "vin": vehicle.vin,
        "stock_code": vehicle.stock_code,
    }


LISTS = (
    "make",
    "model",
    "trim",
    "body",
    "drive",
    "engine",
    "transmission",
    "color",
    "condition",
    "city",
    "site",
    "consignor",
    "reservation_status",
    "logistics_status",
)
RANGES = ("year", "price", "mileage", "days_in_stock")
FACET_NAMES = (
    "make",
    "model",
    "body",
    "drive",
    "engine",
    "transmission",
    "color",
    "condition",
    "city",
    "site",
    "reservation_status",
    "logistics_status",
    "year",
)


def _passes(row: dict[str, Any], query: dict[str, Any], skip: str | None) -> bool:
    for name in LISTS:
        values = query.get(name)
        if name != skip and values and row[name] not in values:
            return False
    for name in RANGES:
        if name == skip:
            continue
        low, high = query.get(f"{name}_min"), query.get(f"{name}_max")
        value = row[name]
        if low is not None and (value is None or value < Decimal(str(low))):
            return False
        if high is not None and (value is None or value > Decimal(str(high))):
            return False
    if query.get("vin") and not row["vin"].endswith(query["vin"].upper()):
        return False
    for word in (query.get("q") or "").upper().split():
        haystacks = (
            row["vin"],
            row["stock_code"].upper(),
            row["make"].upper(),
            row["model"].upper(),
        )
        if not any(word in haystack for haystack in haystacks):
            return False
    return True


def expected_search(
    user: User, query: dict[str, Any], today: datetime.date = TODAY
) -> dict[str, Any]:
    """``{"count", "ids", "facets"}`` for ``query`` (a dict like the query string)."""
    visible = None if user.is_group_level else set(user.dealer_centers.values_list("id", flat=True))
    rows = [
        _row(vehicle, today)
        for vehicle in Vehicle.objects.filter(in_stock=True).select_related(
            "make",
            "car_model",
            "trim",
            "body",
            "drive",
            "engine",
            "transmission",
            "color",
            "city",
            "site",
            "consignor",
            "logistics_status",
        )
    ]
    rows = [
        row
        for row in rows
        if visible is None or row["dealer_center_id"] in visible or row["dealer_center_id"] is None
    ]
    matching = [row for row in rows if _passes(row, query, None)]
    sort = query.get("sort", "days_in_stock")
    key = sort.lstrip("-")
    descending = sort.startswith("-")
    with_value = [row for row in matching if row[key] is not None]
    without = sorted((row for row in matching if row[key] is None), key=lambda row: row["id"])
    with_value.sort(key=lambda row: row["id"])
    with_value.sort(key=lambda row: row[key], reverse=descending)  # stable: ties stay by id
    ordered = with_value + without
    offset, limit = int(query.get("offset", 0)), int(query.get("limit", 50))
    facets: dict[str, dict[Any, int]] = {}
    for facet in FACET_NAMES:
        own = "year" if facet == "year" else facet
        counts: dict[Any, int] = {}
        for row in rows:
            if row[facet] is not None and _passes(row, query, own):
                counts[row[facet]] = counts.get(row[facet], 0) + 1
        for selected in query.get(facet, []) if facet in LISTS else []:
            counts.setdefault(selected, 0)
        facets[facet] = counts
    return {
        "count": len(matching),
        "ids": [row["id"] for row in ordered[offset : offset + limit]],
        "facets": facets,
    }


def random_query(rng: random.Random, world: StockWorld) -> dict[str, Any]:
    """2 to 6 random filters drawn from values the stock really has (and a few it has not)."""
    rows = [_row(vehicle, TODAY) for vehicle in world.vehicles]
    query: dict[str, Any] = {}
    for name in rng.sample([*LISTS, *RANGES, "vin", "q"], rng.randint(2, 6)):
        if name in LISTS:
            pool = sorted({row[name] for row in rows if row[name] is not None})
            values = rng.sample(pool, min(len(pool), rng.randint(1, 3)))
            if name not in {"condition", "reservation_status"} and rng.random() < 0.1:
                values.append("Nonexistent")
            query[name] = values
        elif name in RANGES:
            pool = sorted({row[name] for row in rows if row[name] is not None})
            low, high = sorted(rng.sample(pool, 2))
            if rng.random() < 0.3:
                low = None
            elif rng.random() < 0.3:
                high = None
            if name == "price" and low is not None and rng.random() < 0.5:
                low = low + Decimal("0.01")  # kopecks matter at the boundary
            if low is not None:
                query[f"{name}_min"] = str(low)
            if high is not None:
                query[f"{name}_max"] = str(high)
        elif name == "vin":
            vin = rng.choice(rows)["vin"]
            query["vin"] = vin[-rng.choice([4, 5, 8, 17]) :].lower()
        else:
            query["q"] = rng.choice(["tiggo", "CHERY", "sk-000", "LVV", "jolion 7", "zz"])
    query["sort"] = rng.choice(
        [
            "price",
            "-price",
            "year",
            "-year",
            "mileage",
            "-mileage",
            "days_in_stock",
            "-days_in_stock",
        ]
    )
    query["limit"] = rng.choice([1, 5, 50, 200])
    query["offset"] = rng.choice([0, 0, 3, 40])
    return query
