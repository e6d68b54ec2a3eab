"""Synthetic but believable stock: the car catalog of the demo brands, a seeded generator of
vehicle rows, and a bulk loader (COPY on PostgreSQL, executemany on SQLite).

Used by the demo (``inventory/demo.py``, a few thousand cars through the ORM) and by
``manage.py generate_stock`` (up to millions of rows, straight into the tables).

Prices are the recommended retail prices of new cars in Russia in roubles (2025 price
lists, rounded); used cars lose value with age and mileage. Codes of bodies, drives,
engines, transmissions and logistics statuses are those of the default catalog migration.
"""

from __future__ import annotations

import contextlib
import random
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, timedelta
from decimal import Decimal
from operator import itemgetter
from typing import Any

from django.db import connection, transaction
from django.db.models import Max
from django.db.models.fields import NOT_PROVIDED
from django.utils import timezone

from autocrm.accounts.models import Brand, Consignor, DealerCenter, Site, SiteKind, User
from autocrm.accounts.roles import RoleCode
from autocrm.inventory.models import (
    BodyType,
    Color,
    Condition,
    DriveType,
    EngineType,
    LogisticsStatus,
    LogisticsStatusChange,
    PtsKind,
    Reservation,
    ReservationStatus,
    StockChange,
    Transmission,
    Vehicle,
    power_kw_from_hp,
)
from autocrm.inventory.services import catalog_model_get_or_create, catalog_trim_get_or_create
from autocrm.inventory.vin import check_digit

# --- the catalog -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TrimSpec:
    name: str
    price: int  # recommended retail price of a new car, roubles
    drive: str
    engine: str
    displacement_cc: int | None
    power_hp: int | None
    transmission: str


@dataclass(frozen=True)
class ModelSpec:
    make: str  # brand code
    name: str
    bodies: tuple[str, ...]  # the first is the usual one
    since: int  # first model year on the Russian market
    wmi: str  # VIN positions 1-3 (manufacturer)
    vds: str  # VIN positions 4-7; position 8 is the trim's letter
    weight: int  # how common the model is in stock
    trims: tuple[TrimSpec, ...]  # cheapest first


@dataclass(frozen=True)
class MakeSpec:
    code: str
    name: str
    plant: str  # VIN position 11
    warranty_years: int
    two_tone: bool  # offers contrasting (black) roofs, named like the seed's "Red/Black"


MAKES: dict[str, MakeSpec] = {
    spec.code: spec
    for spec in (
        MakeSpec("chery", "Chery", "D", 5, True),
        MakeSpec("haval", "Haval", "R", 5, True),
        MakeSpec("geely", "Geely", "B", 5, True),
        MakeSpec("lada", "LADA", "Y", 3, False),
        MakeSpec("kia", "Kia", "U", 5, False),
        MakeSpec("hyundai", "Hyundai", "U", 5, False),
        MakeSpec("toyota", "Toyota", "X", 3, False),
        MakeSpec("exeed", "Exeed", "D", 5, True),
    )
}

T = TrimSpec
MODELS: tuple[ModelSpec, ...] = (
    # Chery
    ModelSpec("chery", "Tiggo 4", ("crossover",), 2019, "LVV", "DB11", 10, (
        T("Family", 1_899_900, "fwd", "petrol", 1499, 113, "manual"),
        T("Comfort", 2_099_900, "fwd", "petrol", 1499, 113, "cvt"),
        T("Prestige", 2_349_900, "fwd", "petrol", 1498, 147, "cvt"),
    )),
    ModelSpec("chery", "Tiggo 7 Pro Max", ("suv",), 2022, "LVV", "DB21", 14, (
        T("Prestige", 2_849_900, "fwd", "petrol", 1498, 147, "cvt"),
        T("Ultimate", 3_119_900, "fwd", "petrol", 1598, 186, "cvt"),
        T("Ultimate AWD", 3_399_900, "awd", "petrol", 1598, 186, "robot"),
    )),
    ModelSpec("chery", "Tiggo 8 Pro", ("suv",), 2021, "LVV", "DB31", 9, (
        T("Prestige", 3_299_900, "fwd", "petrol", 1598, 186, "robot"),
        T("Ultimate", 3_599_900, "fwd", "petrol", 1598, 186, "robot"),
        T("Dreamline", 3_949_900, "awd", "petrol", 1998, 197, "robot"),
    )),
    ModelSpec("chery", "Arrizo 8", ("sedan",), 2023, "LVV", "DA81", 5, (
        T("Prestige", 2_549_900, "fwd", "petrol", 1598, 186, "robot"),
        T("Ultimate", 2_799_900, "fwd", "petrol", 1598, 186, "robot"),
    )),
    # Haval
    ModelSpec("haval", "Jolion", ("crossover",), 2021, "XZG", "HJ15", 12, (
        T("Comfort", 1_999_900, "fwd", "petrol", 1497, 143, "robot"),
        T("Elite", 2_249_900, "fwd", "petrol", 1497, 143, "robot"),
        T("Tech Plus", 2_549_900, "awd", "petrol", 1497, 150, "robot"),
    )),
    ModelSpec("haval", "F7", ("crossover",), 2019, "XZG", "HF71", 9, (
        T("Elite", 2_699_900, "fwd", "petrol", 1497, 150, "robot"),
        T("Premium", 2_949_900, "fwd", "petrol", 1967, 190, "robot"),
        T("Tech Plus", 3_299_900, "awd", "petrol", 1967, 190, "robot"),
    )),
    ModelSpec("haval", "Dargo", ("suv",), 2022, "XZG", "HD20", 7, (
        T("Family", 3_099_900, "fwd", "petrol", 1967, 192, "robot"),
        T("Premium", 3_449_900, "awd", "petrol", 1967, 192, "robot"),
        T("Tech Plus", 3_749_900, "awd", "petrol", 1967, 192, "robot"),
    )),
    ModelSpec("haval", "H6", ("crossover",), 2020, "LGW", "EF6A", 5, (
        T("Comfort", 2_599_900, "fwd", "petrol", 1497, 150, "robot"),
        T("Premium", 2_899_900, "awd", "petrol", 1967, 190, "robot"),
    )),
    # Geely
    ModelSpec("geely", "Coolray", ("crossover",), 2020, "Y4K", "8P2C", 12, (
        T("Comfort", 2_049_900, "fwd", "petrol", 1477, 150, "robot"),
        T("Flagship", 2_349_900, "fwd", "petrol", 1477, 150, "robot"),
        T("Flagship Sport", 2_599_900, "fwd", "petrol", 1499, 177, "robot"),
    )),
    ModelSpec("geely", "Monjaro", ("suv",), 2022, "L6T", "7944", 9, (
        T("Luxury", 4_289_900, "awd", "petrol", 1969, 238, "automatic"),
        T("Flagship", 4_689_900, "awd", "petrol", 1969, 238, "automatic"),
    )),
    ModelSpec("geely", "Atlas", ("crossover",), 2018, "Y4K", "8M22", 8, (
        T("Luxury", 2_999_900, "fwd", "petrol", 1969, 200, "automatic"),
        T("Flagship", 3_399_900, "awd", "petrol", 1969, 200, "automatic"),
    )),
    ModelSpec("geely", "Emgrand", ("sedan",), 2023, "Y4K", "8S45", 5, (
        T("Comfort", 1_899_900, "fwd", "petrol", 1498, 122, "manual"),
        T("Luxury", 2_049_900, "fwd", "petrol", 1498, 122, "automatic"),
        T("Flagship", 2_249_900, "fwd", "petrol", 1498, 122, "automatic"),
    )),
    # LADA
    ModelSpec("lada", "Vesta", ("sedan", "wagon"), 2015, "XTA", "GFL1", 14, (
        T("Comfort", 1_399_900, "fwd", "petrol", 1596, 106, "manual"),
        T("Life", 1_489_900, "fwd", "petrol", 1596, 106, "manual"),
        T("Techno", 1_649_900, "fwd", "petrol", 1774, 122, "cvt"),
        T("Enjoy Pro", 1_799_900, "fwd", "petrol", 1774, 122, "cvt"),
    )),
    ModelSpec("lada", "Granta", ("sedan", "liftback", "wagon"), 2011, "XTA", "2190", 14, (
        T("Standard", 1_309_900, "fwd", "petrol", 1596, 90, "manual"),
        T("Comfort", 1_349_900, "fwd", "petrol", 1596, 90, "manual"),
        T("Club", 1_389_900, "fwd", "petrol", 1596, 98, "manual"),
        T("Luxe", 1_469_900, "fwd", "petrol", 1596, 98, "automatic"),
    )),
    ModelSpec("lada", "Niva Travel", ("suv",), 2021, "XTA", "2123", 7, (
        T("Comfort", 1_369_900, "awd", "petrol", 1690, 80, "manual"),
        T("Luxe", 1_449_900, "awd", "petrol", 1690, 80, "manual"),
        T("Off-road", 1_529_900, "awd", "petrol", 1690, 80, "manual"),
    )),
    ModelSpec("lada", "Largus", ("wagon", "van"), 2012, "XTA", "RS0Y", 5, (
        T("Comfort", 1_619_900, "fwd", "petrol", 1598, 90, "manual"),
        T("Luxe", 1_759_900, "fwd", "petrol", 1598, 106, "manual"),
    )),
    # Kia
    ModelSpec("kia", "Rio", ("sedan", "hatchback"), 2011, "Z94", "C251", 10, (
        T("Comfort", 1_949_900, "fwd", "petrol", 1591, 123, "manual"),
        T("Luxe", 2_169_900, "fwd", "petrol", 1591, 123, "automatic"),
        T("Prestige", 2_349_900, "fwd", "petrol", 1591, 123, "automatic"),
    )),
    ModelSpec("kia", "K5", ("sedan",), 2020, "XWE", "G411", 5, (
        T("Luxe", 3_349_900, "fwd", "petrol", 1999, 150, "automatic"),
        T("Prestige", 3_799_900, "fwd", "petrol", 2497, 194, "automatic"),
        T("GT-Line", 4_249_900, "fwd", "petrol", 2497, 194, "automatic"),
    )),
    ModelSpec("kia", "Sportage", ("crossover",), 2010, "XWE", "PC81", 8, (
        T("Comfort", 3_399_900, "fwd", "petrol", 1999, 150, "automatic"),
        T("Luxe", 3_749_900, "awd", "petrol", 1999, 150, "automatic"),
        T("Prestige", 4_149_900, "awd", "petrol", 2497, 190, "automatic"),
        T("GT-Line", 4_549_900, "awd", "petrol", 2497, 190, "automatic"),
    )),
    ModelSpec("kia", "Seltos", ("crossover",), 2020, "XWE", "P811", 8, (
        T("Comfort", 2_499_900, "fwd", "petrol", 1591, 123, "manual"),
        T("Luxe", 2_799_900, "fwd", "petrol", 1999, 149, "cvt"),
        T("Prestige", 3_149_900, "awd", "petrol", 1999, 149, "cvt"),
    )),
    # Hyundai
    ModelSpec("hyundai", "Solaris", ("sedan", "hatchback"), 2011, "Z94", "K241", 12, (
        T("Active", 1_599_900, "fwd", "petrol", 1368, 100, "manual"),
        T("Comfort", 1_849_900, "fwd", "petrol", 1591, 123, "automatic"),
        T("Elegance", 2_049_900, "fwd", "petrol", 1591, 123, "automatic"),
    )),
    ModelSpec("hyundai", "Creta", ("crossover",), 2016, "Z94", "G2S1", 12, (
        T("Classic", 2_199_900, "fwd", "petrol", 1591, 123, "manual"),
        T("Family", 2_449_900, "fwd", "petrol", 1591, 123, "automatic"),
        T("Lifestyle", 2_699_900, "awd", "petrol", 1999, 149, "automatic"),
        T("Prestige", 2_949_900, "awd", "petrol", 1999, 149, "automatic"),
    )),
    ModelSpec("hyundai", "Tucson", ("crossover",), 2015, "XWE", "J81C", 7, (
        T("Lifestyle", 3_499_900, "fwd", "petrol", 1999, 150, "automatic"),
        T("Prestige", 3_999_900, "awd", "petrol", 1999, 150, "automatic"),
        T("High-Tech", 4_499_900, "awd", "petrol", 2497, 190, "automatic"),
    )),
    # Toyota
    ModelSpec("toyota", "Camry", ("sedan",), 2011, "XW7", "BF4K", 9, (
        T("Standard", 3_849_900, "fwd", "petrol", 1987, 150, "cvt"),
        T("Comfort", 4_199_900, "fwd", "petrol", 1987, 150, "cvt"),
        T("Prestige", 4_599_900, "fwd", "petrol", 2487, 200, "automatic"),
        T("Luxury", 4_999_900, "fwd", "petrol", 2487, 200, "automatic"),
    )),
    ModelSpec("toyota", "RAV4", ("crossover",), 2013, "JTM", "W1RV", 9, (
        T("Standard", 3_999_900, "fwd", "petrol", 1986, 149, "cvt"),
        T("Comfort", 4_499_900, "awd", "petrol", 1986, 149, "cvt"),
        T("Prestige", 4_999_900, "awd", "petrol", 2487, 199, "automatic"),
        T("Style Hybrid", 5_499_900, "awd", "hybrid", 2487, 222, "cvt"),
    )),
    ModelSpec("toyota", "Land Cruiser Prado", ("suv",), 2010, "JTE", "BR3F", 5, (
        T("Comfort", 7_599_900, "awd", "petrol", 2694, 163, "automatic"),
        T("Prestige", 9_499_900, "awd", "diesel", 2755, 204, "automatic"),
        T("Luxury", 11_299_900, "awd", "diesel", 2755, 204, "automatic"),
    )),
    # Exeed
    ModelSpec("exeed", "LX", ("crossover",), 2019, "LVT", "DB14", 9, (
        T("Luxury", 2_999_900, "fwd", "petrol", 1498, 147, "cvt"),
        T("Prestige", 3_349_900, "fwd", "petrol", 1598, 186, "robot"),
        T("Prestige Plus", 3_699_900, "awd", "petrol", 1598, 186, "robot"),
    )),
    ModelSpec("exeed", "TXL", ("suv",), 2019, "LVT", "DB24", 7, (
        T("Prestige", 3_899_900, "awd", "petrol", 1598, 186, "robot"),
        T("Flagship", 4_599_900, "awd", "petrol", 1998, 197, "robot"),
    )),
    ModelSpec("exeed", "VX", ("suv",), 2021, "LVT", "DB34", 4, (
        T("Luxury", 5_299_900, "awd", "petrol", 1998, 249, "robot"),
        T("President", 6_199_900, "awd", "petrol", 1998, 249, "robot"),
    )),
)  # fmt: skip
del T

SOLID_COLORS: tuple[tuple[str, int], ...] = (
    ("Белый", 22), ("Чёрный", 18), ("Серый", 16), ("Серебристый", 12), ("Синий", 9),
    ("Красный", 6), ("Коричневый", 4), ("Зелёный", 3), ("Бежевый", 3),
)  # fmt: skip
TWO_TONE_COLORS: tuple[tuple[str, int], ...] = (
    ("White/Black", 5), ("Red/Black", 3), ("Grey/Black", 3), ("Blue/Black", 2),
)  # fmt: skip
INTERIORS = ("Ткань", "Экокожа", "Комбинированный", "Кожа")

# Shares of a new car's logistics status: (status code, weight), by kind of site.
NEW_STATUSES_SHOWROOM = (
    ("in_showroom", 46), ("at_warehouse", 27), ("in_transit", 12),
    ("in_production", 5), ("ordered", 10),
)  # fmt: skip
NEW_STATUSES_STORAGE = (("at_warehouse", 74), ("in_transit", 16), ("ordered", 10))
NOT_YET_ARRIVED = frozenset({"ordered", "in_production", "in_transit"})

USED_DESCRIPTIONS = (
    "Один владелец, обслуживался у официального дилера.",
    "Комплект зимней резины на дисках в подарок.",
    "Без ДТП по данным Автотеки, сервисная книжка.",
    "Требуется полировка кузова, салон в хорошем состоянии.",
    "Пройдена диагностика, заменены масла и фильтры.",
    "Второй комплект ключей, оригинальный ПТС.",
    "",
    "",
)
NEW_DESCRIPTIONS = (
    "Доп. оборудование: сигнализация с автозапуском, коврики, защита картера.",
    "Тонировка задних стёкол, брызговики.",
    "Выгодное предложение в кредит от импортера.",
)
PTS_STORAGE_PLACES = ("Сейф отдела выкупа", "Бухгалтерия", "Сейф логиста")
PAPER_PTS_LETTERS = "АВЕКМНОРСТУХ"
REGISTRATION_REGIONS = ("77", "78", "50", "66", "54", "16", "23", "51", "63", "52")

VIN_ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"  # no I, O, Q
YEAR_CODES = "ABCDEFGHJKLMNPRSTVWXY123456789"  # ISO 3779 position 10 from 2010, 30-year cycle


def vin_year_code(year: int) -> str:
    return YEAR_CODES[(year - 2010) % 30]


def build_vin(model: ModelSpec, trim_index: int, year: int, tail: str) -> str:
    """WMI + VDS + trim letter + check digit + model-year code + plant and serial (7)."""
    head = f"{model.wmi}{model.vds}{'ABCDEFGH'[trim_index]}"
    draft = f"{head}0{vin_year_code(year)}{tail}"
    return f"{head}{check_digit(draft)}{draft[9:]}"


def retail_price(value: float) -> int:
    """Round a new car's price the way price lists do: 3 119 900."""
    return max(round(value / 10_000) * 10_000 - 100, 100_000 - 100)


# --- what the generator needs from the database ------------------------------------------------


@dataclass(frozen=True)
class Placement:
    """A site where cars stand, with who sells them there."""

    site_id: int
    site_name: str
    city_id: int
    city_name: str
    storage: bool
    dealer_center_id: int | None
    brands: tuple[str, ...]  # catalog makes sold here
    consignor_id: int | None
    weight: int


@dataclass
class StockContext:
    """Database ids of everything a generated row refers to."""

    brand_ids: dict[str, int]
    model_ids: dict[tuple[str, str], int]
    trim_ids: dict[tuple[str, str, str], int]
    body_ids: dict[str, int]
    drive_ids: dict[str, int]
    engine_ids: dict[str, int]
    transmission_ids: dict[str, int]
    color_ids: dict[str, int]
    status_ids: dict[str, int]
    placements: list[Placement]
    group_consignor_id: int | None
    sellers_by_brand: dict[str, tuple[int, ...]]  # dealer centers that sell a make
    models_by_make: dict[str, list[ModelSpec]] = field(default_factory=dict)


def ensure_structure() -> None:
    """A generated stock needs sites; on an empty database, build the demo group's."""
    if not Site.objects.exists():
        from autocrm.accounts.demo import build_structure

        build_structure()


def ensure_catalog() -> StockContext:
    """Create the catalog's makes, models, trims and colours (idempotent) and load the ids."""
    brand_ids: dict[str, int] = {}
    for make in MAKES.values():
        brand, _created = Brand.objects.get_or_create(code=make.code, defaults={"name": make.name})
        brand_ids[make.code] = brand.pk
    brands = {brand.pk: brand for brand in Brand.objects.filter(pk__in=brand_ids.values())}
    model_ids: dict[tuple[str, str], int] = {}
    trim_ids: dict[tuple[str, str, str], int] = {}
    for spec in MODELS:
        car_model = catalog_model_get_or_create(make=brands[brand_ids[spec.make]], name=spec.name)
        model_ids[(spec.make, spec.name)] = car_model.pk
        for trim in spec.trims:
            trim_ids[(spec.make, spec.name, trim.name)] = catalog_trim_get_or_create(
                car_model=car_model, name=trim.name
            ).pk
    color_ids = {}
    for name, _weight in (*SOLID_COLORS, *TWO_TONE_COLORS):
        color_ids[name] = Color.objects.get_or_create(name=name)[0].pk

    def codes(model: Any) -> dict[str, int]:
        return dict(model.objects.values_list("code", "pk"))

    context = StockContext(
        brand_ids=brand_ids,
        model_ids=model_ids,
        trim_ids=trim_ids,
        body_ids=codes(BodyType),
        drive_ids=codes(DriveType),
        engine_ids=codes(EngineType),
        transmission_ids=codes(Transmission),
        color_ids=color_ids,
        status_ids=codes(LogisticsStatus),
        placements=[],
        group_consignor_id=None,
        sellers_by_brand={},
    )
    for spec in MODELS:
        context.models_by_make.setdefault(spec.make, []).append(spec)
    _load_placements(context)
    return context


def _load_placements(context: StockContext) -> None:
    code_by_brand_id = {pk: code for code, pk in context.brand_ids.items()}
    dc_brands: dict[int, tuple[str, ...]] = {}
    for dc_id, brand_id in DealerCenter.brands.through.objects.filter(
        dealercenter__is_active=True
    ).values_list("dealercenter_id", "brand_id"):
        if brand_id in code_by_brand_id:
            dc_brands[dc_id] = (*dc_brands.get(dc_id, ()), code_by_brand_id[brand_id])
    sellers: dict[str, list[int]] = {}
    for dc_id, sold in sorted(dc_brands.items()):
        for make in sold:
            sellers.setdefault(make, []).append(dc_id)
    context.sellers_by_brand = {make: tuple(ids) for make, ids in sellers.items()}

    consignor_by_dc: dict[int, int] = {}
    for consignor_id, dc_id in Consignor.objects.order_by("pk").values_list("pk", "dealer_center"):
        if dc_id is None:
            context.group_consignor_id = context.group_consignor_id or consignor_id
        else:
            consignor_by_dc.setdefault(dc_id, consignor_id)

    all_makes = tuple(MAKES)
    for site in Site.objects.filter(is_active=True).select_related("city").order_by("name"):
        makes: tuple[str, ...] = ()
        if site.dealer_center_id is not None:
            makes = dc_brands.get(site.dealer_center_id, ())
        else:  # a group yard holds the makes sold in its city, or any make
            in_city = DealerCenter.objects.filter(city_id=site.city_id, is_active=True)
            makes = tuple(
                sorted({make for dc in in_city.values_list("pk", flat=True) for make in dc_brands.get(dc, ())})
            )  # fmt: skip
        storage = site.kind == SiteKind.STORAGE
        context.placements.append(
            Placement(
                site_id=site.pk,
                site_name=site.name,
                city_id=site.city_id,
                city_name=site.city.name,
                storage=storage,
                dealer_center_id=site.dealer_center_id,
                brands=makes or all_makes,
                consignor_id=consignor_by_dc.get(site.dealer_center_id or 0),
                weight=6 if storage else 10,
            )
        )
    if not context.placements:
        raise RuntimeError("No active sites: create the dealer group first (seed_demo).")


# --- one synthetic car ---------------------------------------------------------------------------


class StockSynthesizer:
    """Seeded generator of vehicle field values (attnames of ``Vehicle``), no id, no codes."""

    def __init__(self, context: StockContext, rng: random.Random, today: date) -> None:
        self.context = context
        self.rng = rng
        self.today = today
        self._days = [today - timedelta(days=offset) for offset in range(0, 6000)]
        self._future = [today + timedelta(days=offset) for offset in range(0, 200)]
        self._placement_weights = list(
            _cumulative([placement.weight for placement in context.placements])
        )
        self._model_weights = {
            make: list(_cumulative([spec.weight for spec in specs]))
            for make, specs in context.models_by_make.items()
        }
        self._solid = [name for name, _ in SOLID_COLORS]
        self._solid_weights = list(_cumulative([weight for _, weight in SOLID_COLORS]))
        self._two_tone = [name for name, _ in TWO_TONE_COLORS]
        self._kw = {
            trim.power_hp: power_kw_from_hp(Decimal(trim.power_hp))
            for spec in MODELS
            for trim in spec.trims
            if trim.power_hp is not None
        }

    def pick_placement(self) -> Placement:
        return self.rng.choices(self.context.placements, cum_weights=self._placement_weights)[0]

    def pick_model(self, make: str) -> ModelSpec:
        specs = self.context.models_by_make[make]
        return self.rng.choices(specs, cum_weights=self._model_weights[make])[0]

    def vehicle(self, placement: Placement, *, vin_tail: str | None = None) -> dict[str, Any]:
        """Field values of one car standing (or about to stand) at ``placement``."""
        rng = self.rng
        used = rng.random() < (0.12 if placement.storage else 0.27)
        make = rng.choice(placement.brands)
        if used and rng.random() < 0.35:  # trade-ins come in every make
            make = rng.choice(tuple(self.context.models_by_make))
        model = self.pick_model(make)
        # Cheaper trims sell in larger numbers.
        trim_index = min(
            int(rng.random() ** 1.4 * len(model.trims)), len(model.trims) - 1
        )  # fmt: skip
        trim = model.trims[trim_index]
        make_spec = MAKES[make]
        context = self.context
        values: dict[str, Any] = {
            "make_id": context.brand_ids[make],
            "car_model_id": context.model_ids[(make, model.name)],
            "trim_id": context.trim_ids[(make, model.name, trim.name)],
            "body_id": context.body_ids[
                model.bodies[0] if rng.random() < 0.8 else rng.choice(model.bodies)
            ],
            "drive_id": context.drive_ids[trim.drive],
            "engine_id": context.engine_ids[trim.engine],
            "displacement_cc": trim.displacement_cc,
            "power_hp": Decimal(trim.power_hp) if trim.power_hp is not None else None,
            "power_kw": self._kw.get(trim.power_hp) if trim.power_hp is not None else None,
            "transmission_id": context.transmission_ids[trim.transmission],
            "interior": self._interior(trim_index, len(model.trims)),
            "color_id": context.color_ids[self._color(make_spec)],
            "right_hand_drive": False,
            "currency": "RUB",
            "reservation_status": ReservationStatus.FREE,
            "description": "",
            "pts_storage_place": "",
            "pts_number": "",
            "credit_sale": rng.random() < 0.08,
            "trade_in_sale": rng.random() < 0.12,
            "pledged": False,
            "ord_present": False,
            "city_id": placement.city_id,
            "site_id": placement.site_id,
            "consignor_id": self._consignor(placement),
            "dealer_center_id": self._seller(placement, make),
            "owners_count": None,
            "history_report_url": "",
            "history_report_date": None,
            "in_stock": True,
            "warranty_start": None,
            "warranty_end": None,
            "planned_delivery_date": None,
            "actual_delivery_date": None,
            "pts_buyout_date": None,
            "pts_received_date": None,
        }
        if used:
            year = self._used(values, placement, model, trim, make_spec)
        else:
            year = self._new(values, placement, trim, make_spec)
        values["vin"] = build_vin(
            model,
            trim_index,
            year,
            vin_tail or f"{make_spec.plant}{rng.randrange(1_000_000):06d}",
        )
        return values

    def _new(
        self, values: dict[str, Any], placement: Placement, trim: TrimSpec, make: MakeSpec
    ) -> int:
        rng = self.rng
        statuses = NEW_STATUSES_STORAGE if placement.storage else NEW_STATUSES_SHOWROOM
        status = rng.choices([code for code, _ in statuses], [w for _, w in statuses])[0]
        arrived = status not in NOT_YET_ARRIVED
        # Cars in stock arrived over the last 400 days, most of them recently; orders are
        # recent and their cars are expected within four months.
        days_ago = int(400 * rng.random() ** 1.7) if arrived else rng.randrange(0, 60)
        stock_in = self._days[days_ago]
        year = stock_in.year if arrived and rng.random() < 0.8 else self.today.year
        year = min(year, stock_in.year) if arrived else year
        markup = 1 + rng.choice((0, 0, 0.01, 0.02, 0.03, 0.05))
        if year < self.today.year:
            markup -= rng.choice((0.03, 0.05, 0.08))  # last year's cars go at a discount
        values.update(
            condition=Condition.NEW,
            model_year=year,
            pts_year=year,
            mileage=rng.randrange(0, 30) if arrived else 0,
            price=Decimal(retail_price(trim.price * markup)),
            stock_in_date=stock_in,
            logistics_status_id=self.context.status_ids[status],
            pts_kind=PtsKind.ELECTRONIC,
            report_date=stock_in if arrived else None,
        )
        if rng.random() < 0.1:
            values["description"] = rng.choice(NEW_DESCRIPTIONS)
        if arrived:
            values["actual_delivery_date"] = stock_in
            if rng.random() < 0.6:
                values["planned_delivery_date"] = self._days[days_ago + rng.randrange(0, 12)]
            if rng.random() < 0.92:
                buyout = self._days[max(days_ago - rng.randrange(0, 10), 0)]
                values.update(
                    pts_present=True,
                    pts_number=f"1643010{rng.randrange(10**8):08d}",
                    pts_buyout_date=buyout,
                    pts_received_date=buyout,
                )
            else:
                values["pts_present"] = False
            start = self._days[max(days_ago - rng.randrange(3, 15), 0)]
            values["warranty_start"] = start
            values["warranty_end"] = _add_years(start, make.warranty_years) - timedelta(days=1)
        else:
            values["pts_present"] = False
            values["planned_delivery_date"] = self._future[rng.randrange(3, 120)]
        return int(year)

    def _used(
        self,
        values: dict[str, Any],
        placement: Placement,
        model: ModelSpec,
        trim: TrimSpec,
        make: MakeSpec,
    ) -> int:
        rng = self.rng
        year = rng.randint(max(model.since, self.today.year - 14), self.today.year - 1)
        age = self.today.year - year
        mileage = int(max(age, 0.5) * rng.gauss(17_000, 6_000))
        mileage = min(max(mileage, 5_000), 180_000) // 100 * 100 + rng.randrange(100)
        owners = min(4, 1 + int(rng.random() * (1 + age / 3)))
        value = trim.price * 0.87**age * (1 - mileage / 900_000) * rng.uniform(0.93, 1.05)
        price = max(int(value / 10_000) * 10_000, 250_000)
        status = "at_warehouse" if placement.storage or rng.random() < 0.4 else "in_showroom"
        days_ago = int(400 * rng.random() ** 2.2)
        stock_in = self._days[days_ago]
        paper = year < 2021
        values.update(
            condition=Condition.USED,
            model_year=year,
            pts_year=year,
            mileage=mileage,
            price=Decimal(price),
            stock_in_date=stock_in,
            logistics_status_id=self.context.status_ids[status],
            pts_kind=PtsKind.PAPER if paper else PtsKind.ELECTRONIC,
            pts_present=rng.random() < 0.96,
            owners_count=owners,
            report_date=stock_in,
            actual_delivery_date=stock_in,
            description=rng.choice(USED_DESCRIPTIONS),
            trade_in_sale=rng.random() < 0.55,
            # Right-hand-drive Japanese imports are common east of the Urals.
            right_hand_drive=make.code == "toyota"
            and placement.city_name in ("Новосибирск", "Владивосток", "Красноярск", "Омск")
            and rng.random() < 0.3,
        )
        if values["pts_present"]:
            values["pts_received_date"] = stock_in
            if paper:
                letters = "".join(rng.choice(PAPER_PTS_LETTERS) for _ in range(2))
                values["pts_number"] = (
                    f"{rng.choice(REGISTRATION_REGIONS)} {letters} {rng.randrange(10**6):06d}"
                )
                values["pts_storage_place"] = rng.choice(PTS_STORAGE_PLACES)
            else:
                values["pts_number"] = f"1643010{rng.randrange(10**8):08d}"
        if rng.random() < 0.75:
            values["history_report_url"] = f"https://autoteka.ru/report/{rng.getrandbits(96):024x}"
            values["history_report_date"] = self._days[days_ago + rng.randrange(0, 3)]
        sold_on = date(year, rng.randint(1, 12), rng.randint(1, 28))
        if _add_years(sold_on, make.warranty_years) > self.today:
            values["warranty_start"] = sold_on
            values["warranty_end"] = _add_years(sold_on, make.warranty_years) - timedelta(days=1)
        return year

    def _interior(self, trim_index: int, trims: int) -> str:
        if trim_index == trims - 1 and trims > 1:
            return "Кожа"
        if trim_index == 0:
            return "Ткань"
        return self.rng.choice(INTERIORS[1:3])

    def _color(self, make: MakeSpec) -> str:
        if make.two_tone and self.rng.random() < 0.18:
            return self.rng.choice(self._two_tone)
        return self.rng.choices(self._solid, cum_weights=self._solid_weights)[0]

    def _consignor(self, placement: Placement) -> int | None:
        if placement.consignor_id is None or (
            self.context.group_consignor_id and self.rng.random() < 0.15
        ):
            return self.context.group_consignor_id or placement.consignor_id
        return placement.consignor_id

    def _seller(self, placement: Placement, make: str) -> int | None:
        if placement.dealer_center_id is not None:
            return placement.dealer_center_id
        sellers = self.context.sellers_by_brand.get(make)
        if not sellers or self.rng.random() < 0.5:
            return None  # group stock, not yet allotted to a dealer center
        return self.rng.choice(sellers)


def _cumulative(weights: Sequence[int]) -> Iterator[int]:
    total = 0
    for weight in weights:
        total += weight
        yield total


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


# --- bulk loading -----------------------------------------------------------------------------

# A StockChange row with this vehicle id tells in-memory search indexes to reload
# everything (no vehicle has id 0): a bulk load does not log a million ids one by one.
REBUILD_MARKER_VEHICLE_ID = 0

STOCK_CODE_PREFIX = "GS-"
_STOCK_CODE_RE = re.compile(r"^GS-(\d{9})$")


class _Loader:
    """Writes rows of one table in the fastest way the database offers."""

    def __init__(self, table: str, columns: Sequence[str]) -> None:
        self.table = table
        self.columns = list(columns)

    def write(self, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        quote = connection.ops.quote_name
        names = ", ".join(quote(column) for column in self.columns)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                raw = cursor.cursor  # the psycopg 3 cursor under Django's wrapper
                with raw.copy(f"COPY {quote(self.table)} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                placeholders = ", ".join(["%s"] * len(self.columns))
                # Table and column names come from model metadata; values are bound.
                statement = f"INSERT INTO {quote(self.table)} ({names}) VALUES ({placeholders})"  # noqa: S608
                cursor.executemany(statement, rows)


def _column_defaults(model: Any, known: set[str]) -> dict[str, Any]:
    """Values for columns this generator does not know (added by later migrations)."""
    defaults: dict[str, Any] = {}
    for model_field in model._meta.concrete_fields:
        if model_field.attname in known or model_field.primary_key:
            continue
        if model_field.has_default():
            value = model_field.get_default()
        elif getattr(model_field, "db_default", NOT_PROVIDED) is not NOT_PROVIDED:
            continue  # the database fills it
        elif model_field.null:
            value = None
        else:
            raise RuntimeError(
                f"generate_stock cannot fill {model._meta.db_table}.{model_field.column}: "
                "it has no default; teach autocrm/inventory/generator.py about it."
            )
        defaults[model_field.attname] = model_field.get_db_prep_save(value, connection)
    return defaults


def _columns(model: Any, attnames: Sequence[str]) -> list[str]:
    by_attname = {f.attname: f.column for f in model._meta.concrete_fields}
    return [by_attname[name] for name in attnames]


@dataclass(frozen=True)
class _VehicleColumns:
    getter: Callable[[dict[str, Any]], tuple[Any, ...]]
    default_values: tuple[Any, ...]
    vehicles: _Loader
    history: _Loader


class VehicleWriter:
    """Inserts synthesized vehicles with their first logistics-history row, and optionally
    their audit-history row, bypassing the ORM (ten times faster than bulk_create).

    The rows must be consistent already (the synthesizer's are): nothing is validated.
    """

    def __init__(self, *, actor_id: int | None = None, with_history: bool = False) -> None:
        self.actor_id = actor_id
        self.with_history = with_history
        self.now = timezone.now()
        # What Django itself would store: naive UTC text on SQLite, timestamptz elsewhere.
        self.now_db: Any = (
            self.now.astimezone(UTC).replace(tzinfo=None)
            if connection.vendor == "sqlite"
            else self.now
        )
        self._next_ids: dict[str, int] = {}
        self._columns: _VehicleColumns | None = None
        self._logistics_loader = _Loader(
            LogisticsStatusChange._meta.db_table,
            ["id", "vehicle_id", "from_status_id", "to_status_id", "changed_by_id", "changed_at",
             "comment"],
        )  # fmt: skip
        self._reservation_loader = _Loader(
            Reservation._meta.db_table,
            ["id", "vehicle_id", "client_id", "manager_id", "expires_at", "comment", "is_active",
             "released_at", "released_by_id", "release_reason", "created_at", "updated_at"],
        )  # fmt: skip

    def allocate_ids(self, model: Any, count: int, *, primary_key: str = "id") -> list[int]:
        """Primary keys for ``count`` new rows: from the sequence on PostgreSQL, after the
        current maximum on SQLite (which serialises writers anyway)."""
        table = model._meta.db_table
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                    [table, primary_key, count],
                )
                return [row[0] for row in cursor.fetchall()]
        if table not in self._next_ids:
            top = model._default_manager.aggregate(top=Max(primary_key))["top"]
            self._next_ids[table] = (top or 0) + 1
        start = self._next_ids[table]
        self._next_ids[table] += count
        return list(range(start, start + count))

    def _prepare(self, sample: dict[str, Any]) -> _VehicleColumns:
        known = {"id", "created_at", "updated_at", *sample}
        fields = [f.attname for f in Vehicle._meta.concrete_fields if f.attname in known]
        defaults = _column_defaults(Vehicle, set(fields))
        all_fields = fields + list(defaults)
        historical = Vehicle.history.model
        history_extra = ("history_date", "history_change_reason", "history_type", "history_user_id")
        return _VehicleColumns(
            getter=itemgetter(*fields),
            default_values=tuple(defaults.values()),
            vehicles=_Loader(Vehicle._meta.db_table, _columns(Vehicle, all_fields)),
            history=_Loader(
                historical._meta.db_table, _columns(historical, [*all_fields, *history_extra])
            ),
        )

    def write(self, rows: list[dict[str, Any]], *, taken_vins: set[str] | None = None) -> list[int]:
        """Insert ``rows`` (synthesizer output with ``stock_code``); returns their ids.

        VINs found in ``taken_vins`` (cars in stock before) are replaced: a generated VIN
        matching a real one is improbable, but the unique index would reject the batch.
        """
        if not rows:
            return []
        if self._columns is None:
            self._columns = self._prepare(rows[0])
        columns = self._columns
        ids = self.allocate_ids(Vehicle, len(rows))
        for vehicle_id, row in zip(ids, rows, strict=True):
            row["id"] = vehicle_id
            row["created_at"] = row["updated_at"] = self.now_db
        if taken_vins:
            _replace_taken_vins(rows, taken_vins)
        records = [columns.getter(row) + columns.default_values for row in rows]
        columns.vehicles.write(records)
        if self.with_history:
            extra = (self.now_db, None, "+", self.actor_id)
            columns.history.write([record + extra for record in records])
        logistics_ids = self.allocate_ids(LogisticsStatusChange, len(rows))
        self._logistics_loader.write(
            [
                (pk, row["id"], None, row["logistics_status_id"], self.actor_id, self.now_db, "")
                for pk, row in zip(logistics_ids, rows, strict=True)
            ]
        )
        return ids

    def write_reservations(
        self, vehicle_ids: Sequence[int], *, manager_id: int, expires_in: timedelta
    ) -> None:
        """Active reservations without a client, for cars written as ``reserved``."""
        expires_at = self.now_db + expires_in
        reservation_ids = self.allocate_ids(Reservation, len(vehicle_ids))
        self._reservation_loader.write(
            [
                (pk, vehicle_id, None, manager_id, expires_at, "", True, None, None, "",
                 self.now_db, self.now_db)
                for pk, vehicle_id in zip(reservation_ids, vehicle_ids, strict=True)
            ]
        )  # fmt: skip


def vins_in_stock() -> set[str]:
    """Every VIN in stock, read once before a load (for ~1M cars, ~100 MB)."""
    return set(
        Vehicle.objects.filter(in_stock=True)
        .values_list("vin", flat=True)
        .iterator(chunk_size=50_000)
    )


def _replace_taken_vins(rows: list[dict[str, Any]], taken: set[str]) -> None:
    """Give a row whose VIN is already in stock (``taken``) another serial number.

    Generated VINs are unique among themselves; only cars that were in stock before the
    load can clash, so a set read up front answers without a query per batch (during a
    bulk load the VIN index is not there to help such a query)."""
    clashing = [row for row in rows if row["vin"] in taken]
    if not clashing:
        return
    in_run = {row["vin"] for row in rows}
    chooser = random.Random(clashing[0]["id"])  # noqa: S311 - test data, not secrets
    for row in clashing:
        while row["vin"] in taken:
            tail = "".join(chooser.choice(VIN_ALPHABET) for _ in range(7))
            draft = f"{row['vin'][:8]}0{row['vin'][9]}{tail}"
            candidate = f"{draft[:8]}{check_digit(draft)}{draft[9:]}"
            if candidate in in_run or candidate in taken:
                continue
            row["vin"] = candidate
            in_run.add(candidate)


@dataclass
class GenerationResult:
    vehicles: int
    reservations: int
    seconds: float
    first_id: int | None
    last_id: int | None

    @property
    def rows_per_second(self) -> float:
        return self.vehicles / self.seconds if self.seconds else 0.0


def next_generated_number() -> int:
    """The number after the highest ``GS-`` stock code, so repeated runs never collide."""
    for code in (
        Vehicle.objects.filter(stock_code__startswith=STOCK_CODE_PREFIX)
        .order_by("-stock_code")
        .values_list("stock_code", flat=True)[:50]
    ):
        match = _STOCK_CODE_RE.match(code)
        if match:
            return int(match.group(1)) + 1
    return 1


def generated_vin_tail(number: int) -> str:
    """VIN positions 11-17 from a running number: unique for the first 33 million cars."""
    return f"{VIN_ALPHABET[(number // 1_000_000) % len(VIN_ALPHABET)]}{number % 1_000_000:06d}"


def generate_stock(
    *,
    vehicles: int,
    batch_size: int = 10_000,
    seed: int = 1,
    reserved_share: float = 0.03,
    with_history: bool = False,
    fast_load: bool = True,
    progress: Callable[[int, float], None] | None = None,
) -> GenerationResult:
    """Insert ``vehicles`` synthetic cars over the group's sites, each batch in one
    transaction, with their first logistics-history row; ~3 % of the new ones reserved.

    On PostgreSQL, from ``BULK_LOAD_THRESHOLD`` cars on (and unless ``fast_load`` is off),
    the whole load is one transaction that drops the stock tables' secondary indexes and
    foreign keys first and restores them at the end: several times faster, but it locks
    those tables meanwhile: a tool for benchmark databases, not a live one.

    Afterwards one StockChange marker asks search indexes to reload everything, and the
    planner statistics are refreshed.
    """
    started = time.perf_counter()
    ensure_structure()
    with transaction.atomic():
        context = ensure_catalog()
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    synthesizer = StockSynthesizer(context, rng, timezone.localdate())
    number = next_generated_number()
    taken_vins = vins_in_stock()
    manager_id = _reservation_manager_id()
    writer = VehicleWriter(with_history=with_history)
    bulk = fast_load and connection.vendor == "postgresql" and vehicles >= BULK_LOAD_THRESHOLD
    with contextlib.ExitStack() as stack:
        if bulk:
            stack.enter_context(transaction.atomic())
            stack.enter_context(
                _postgres_bulk_load([Vehicle._meta.db_table, LogisticsStatusChange._meta.db_table])
            )
        first_id, last_id, reserved_total, done = _generate_batches(
            vehicles=vehicles,
            batch_size=batch_size,
            rng=rng,
            synthesizer=synthesizer,
            number=number,
            writer=writer,
            taken_vins=taken_vins,
            manager_id=manager_id,
            reserved_share=reserved_share,
            progress=progress,
            started=started,
        )

    with transaction.atomic():
        StockChange.objects.create(vehicle_id=REBUILD_MARKER_VEHICLE_ID)
    analyze()
    return GenerationResult(
        vehicles=done,
        reservations=reserved_total,
        seconds=time.perf_counter() - started,
        first_id=first_id,
        last_id=last_id,
    )


def _generate_batches(
    *,
    vehicles: int,
    batch_size: int,
    rng: random.Random,
    synthesizer: StockSynthesizer,
    number: int,
    writer: VehicleWriter,
    taken_vins: set[str],
    manager_id: int | None,
    reserved_share: float,
    progress: Callable[[int, float], None] | None,
    started: float,
) -> tuple[int | None, int | None, int, int]:
    reserved_total = 0
    first_id: int | None = None
    last_id: int | None = None
    done = 0
    while done < vehicles:
        count = min(batch_size, vehicles - done)
        rows: list[dict[str, Any]] = []
        for _ in range(count):
            values = synthesizer.vehicle(
                synthesizer.pick_placement(), vin_tail=generated_vin_tail(number)
            )
            values["stock_code"] = f"{STOCK_CODE_PREFIX}{number:09d}"
            number += 1
            rows.append(values)
        reserved = []
        if manager_id is not None:
            for row in rows:
                if row["condition"] == Condition.NEW and rng.random() < reserved_share:
                    row["reservation_status"] = ReservationStatus.RESERVED
                    reserved.append(row)
        with transaction.atomic():
            ids = writer.write(rows, taken_vins=taken_vins)
            if manager_id is not None and reserved:
                writer.write_reservations(
                    [row["id"] for row in reserved],
                    manager_id=manager_id,
                    expires_in=timedelta(days=14),
                )
        reserved_total += len(reserved)
        first_id = ids[0] if first_id is None else first_id
        last_id = ids[-1]
        done += count
        if progress is not None:
            progress(done, time.perf_counter() - started)
    return first_id, last_id, reserved_total, done


BULK_LOAD_THRESHOLD = 50_000


@contextlib.contextmanager
def _postgres_bulk_load(tables: Sequence[str]) -> Iterator[None]:
    """Inside the caller's transaction: drop the secondary indexes and foreign keys of
    ``tables``, let the caller load, then build them again.

    Per row, PostgreSQL would otherwise update ~25 indexes and run one key check per
    foreign key (13 for a vehicle); rebuilding an index and validating a key once over
    the whole table costs a fraction of that. Primary keys and unique constraints stay.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT index_class.relname, pg_get_indexdef(i.indexrelid)
            FROM pg_index i
            JOIN pg_class table_class ON table_class.oid = i.indrelid
            JOIN pg_class index_class ON index_class.oid = i.indexrelid
            WHERE table_class.relname = ANY(%s)
              AND table_class.relnamespace = current_schema()::regnamespace
              AND NOT i.indisprimary
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
            ORDER BY 1
            """,
            [list(tables)],
        )
        indexes = cursor.fetchall()
        cursor.execute(
            """
            SELECT table_class.relname, c.conname, pg_get_constraintdef(c.oid)
            FROM pg_constraint c JOIN pg_class table_class ON table_class.oid = c.conrelid
            WHERE c.contype = 'f' AND table_class.relname = ANY(%s)
              AND table_class.relnamespace = current_schema()::regnamespace
            ORDER BY 1, 2
            """,
            [list(tables)],
        )
        foreign_keys = cursor.fetchall()
        quote = connection.ops.quote_name
        # Altering a table with deferred key checks still pending in this transaction
        # (rows written just before) is refused: run those checks now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for table, name, _definition in foreign_keys:
            cursor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")
        for name, _definition in indexes:
            cursor.execute(f"DROP INDEX {quote(name)}")
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for _name, definition in indexes:
            cursor.execute(definition)
        for table, name, definition in foreign_keys:
            cursor.execute(f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} {definition}")


def _reservation_manager_id() -> int | None:
    """Generated reservations need a manager: a sales manager, else any active user."""
    users = User.objects.filter(is_active=True).order_by("pk")
    manager = users.filter(roles__code=RoleCode.SALES_MANAGER).first() or users.first()
    return manager.pk if manager else None


def analyze() -> None:
    """Fresh planner statistics after a bulk load."""
    tables = [model._meta.db_table for model in (Vehicle, LogisticsStatusChange, Reservation)]
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
