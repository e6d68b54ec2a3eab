"""Demo data: a believable dealer group for ``make run``, demos and manual testing.

Everything is keyed by natural keys (region name, city, brand code, dealer-center code,
site/consignor name, department kind, username), so the builder can run any number of
times: the first run creates, later runs change only what differs and write no history
rows when nothing changed.

Later issues extend the demo (clients, stock, requests ...) from their own apps, which
accounts may not import: each app's ``demo`` module registers a step with
``autocrm.core.demo_registry.register_demo_step`` and :func:`build_demo` runs them after
the group and its users exist.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import models, transaction

from autocrm.accounts import services
from autocrm.accounts.models import (
    Brand,
    City,
    Consignor,
    DayOff,
    DealerCenter,
    Department,
    DepartmentKind,
    Region,
    Site,
    SiteKind,
    User,
    WorkingHours,
)
from autocrm.accounts.roles import GROUP_LEVEL_ROLES, RoleCode
from autocrm.core.demo_registry import run_demo_steps

DEMO_PASSWORD = "autocrm-demo-2026"  # noqa: S105 - published on purpose: demo logins only

M = TypeVar("M", bound=models.Model)


# --- reference data ----------------------------------------------------------------------


@dataclass(frozen=True)
class CitySpec:
    region: str
    region_code: str
    name: str
    time_zone: str
    phone_code: str  # city dialling code after +7


CITIES: tuple[CitySpec, ...] = (
    CitySpec("Мурманская область", "51", "Мурманск", "Europe/Moscow", "8152"),
    CitySpec("Санкт-Петербург", "78", "Санкт-Петербург", "Europe/Moscow", "812"),
    CitySpec("Москва", "77", "Москва", "Europe/Moscow", "495"),
    CitySpec("Московская область", "50", "Химки", "Europe/Moscow", "495"),
    CitySpec("Свердловская область", "66", "Екатеринбург", "Asia/Yekaterinburg", "343"),
    CitySpec("Новосибирская область", "54", "Новосибирск", "Asia/Novosibirsk", "383"),
    CitySpec("Республика Татарстан", "16", "Казань", "Europe/Moscow", "843"),
    CitySpec("Краснодарский край", "23", "Краснодар", "Europe/Moscow", "861"),
)

BRANDS: tuple[tuple[str, str], ...] = (
    ("chery", "Chery"),
    ("haval", "Haval"),
    ("geely", "Geely"),
    ("lada", "LADA"),
    ("kia", "Kia"),
    ("hyundai", "Hyundai"),
    ("toyota", "Toyota"),
    ("exeed", "Exeed"),
)

# Opening hours per weekday (0 = Monday); a weekday left out is a day off.
Hours = dict[int, tuple[dt.time, dt.time]]
STANDARD_HOURS: Hours = {
    **dict.fromkeys(range(5), (dt.time(9), dt.time(20))),
    **dict.fromkeys((5, 6), (dt.time(10), dt.time(18))),
}
NORTHERN_HOURS: Hours = {  # a smaller market: shorter Saturday, closed on Sunday
    **dict.fromkeys(range(5), (dt.time(9), dt.time(19))),
    5: (dt.time(10), dt.time(17)),
}
METRO_HOURS: Hours = dict.fromkeys(range(7), (dt.time(9), dt.time(21)))


@dataclass(frozen=True)
class DealerCenterSpec:
    code: str
    name: str
    city: str
    address: str
    phone: str  # local number after the city code
    brands: tuple[str, ...]
    site: str  # the showroom lot; also the consignor's short name (as in the seed data)
    consignor_legal_name: str
    hours: Hours = field(default_factory=lambda: STANDARD_HOURS)
    buy_out: bool = True


DEALER_CENTERS: tuple[DealerCenterSpec, ...] = (
    DealerCenterSpec(
        "murmansk-chery", "CHERY Центр Мурманск", "Мурманск", "Кольский проспект, 114",
        "551001", ("chery",), "Мурманск CHERY", "ООО «Север Авто Ч»", NORTHERN_HOURS,
    ),
    DealerCenterSpec(
        "murmansk-haval", "HAVAL Мурманск", "Мурманск", "ул. Свердлова, 2А",
        "551002", ("haval",), "Мурманск HAVAL", "ООО «Север Авто Х»", NORTHERN_HOURS, buy_out=False,
    ),
    DealerCenterSpec(
        "spb-geely-pulkovo", "Geely Пулково", "Санкт-Петербург", "Пулковское шоссе, 38, корп. 4",
        "3201010", ("geely",), "Санкт-Петербург GEELY", "ООО «Магистраль Нева»",
    ),
    DealerCenterSpec(
        "spb-toyota-primorsky", "Toyota Приморский", "Санкт-Петербург", "Приморский проспект, 54",
        "3201020", ("toyota",), "Санкт-Петербург TOYOTA", "ООО «Магистраль Приморье»",
    ),
    DealerCenterSpec(
        "msk-chery-exeed-varshavka", "CHERY | EXEED Варшавка", "Москва", "Варшавское шоссе, 170Г",
        "6401010", ("chery", "exeed"), "Москва CHERY", "ООО «Магистраль Юг»", METRO_HOURS,
    ),
    DealerCenterSpec(
        "msk-kia-leningradka", "Kia Ленинградка", "Москва", "Ленинградское шоссе, 63А",
        "6401020", ("kia",), "Москва KIA", "ООО «Магистраль Север»", METRO_HOURS,
    ),
    DealerCenterSpec(
        "msk-hyundai-kashirka", "Hyundai Каширка", "Москва", "Каширское шоссе, 61, корп. 3",
        "6401030", ("hyundai",), "Москва HYUNDAI", "ООО «Магистраль Восток»",
    ),
    DealerCenterSpec(
        "ekb-lada", "LADA Екатеринбург", "Екатеринбург", "ул. Металлургов, 67",
        "2881010", ("lada",), "Екатеринбург LADA", "ООО «Магистраль Урал»",
    ),
    DealerCenterSpec(
        "ekb-haval-geely", "Haval · Geely Екатеринбург", "Екатеринбург", "ул. Щербакова, 4",
        "2881020", ("haval", "geely"), "Екатеринбург HAVAL", "ООО «Магистраль Урал Плюс»",
    ),
    DealerCenterSpec(
        "nsk-toyota", "Toyota Новосибирск", "Новосибирск", "ул. Большевистская, 276",
        "2301010", ("toyota",), "Новосибирск TOYOTA", "ООО «Магистраль Сибирь»",
    ),
    DealerCenterSpec(
        "kzn-chery", "CHERY Казань", "Казань", "проспект Победы, 210",
        "2101010", ("chery", "exeed"), "Казань CHERY", "ООО «Магистраль Волга»",
    ),
    DealerCenterSpec(
        "krd-lada", "LADA Краснодар", "Краснодар", "ул. Уральская, 97",
        "2101020", ("lada",), "Краснодар LADA", "ООО «Магистраль Кубань»",
    ),
)  # fmt: skip


@dataclass(frozen=True)
class StorageSpec:
    name: str
    city: str
    address: str
    dealer_center: str | None  # code; None for a group-wide yard


STORAGE_YARDS: tuple[StorageSpec, ...] = (
    StorageSpec("Склад Шушары", "Санкт-Петербург", "Московское шоссе, 231, Шушары", None),
    StorageSpec("Склад Химки", "Химки", "Ленинградское шоссе, вл. 29", None),
    StorageSpec("Склад Мурманск Промзона", "Мурманск", "ул. Промышленная, 19", "murmansk-chery"),
    StorageSpec("Склад Кольцово", "Екатеринбург", "ул. Бахчиванджи, 55", "ekb-lada"),
)

# A group-level consignor: the group's trading company owns stock bought centrally.
GROUP_CONSIGNOR = ("Магистраль Трейд", "ООО «Магистраль Трейд»", "Москва")

GROUP_DEPARTMENTS: tuple[tuple[str, str], ...] = (
    (DepartmentKind.CONTACT_CENTER, "Контакт-центр"),
    (DepartmentKind.MANAGEMENT, "Управляющая компания"),
    (DepartmentKind.LEGAL, "Юридический отдел"),
)
DEALER_CENTER_DEPARTMENTS: tuple[tuple[str, str], ...] = (
    (DepartmentKind.SALES, "Отдел продаж"),
    (DepartmentKind.SERVICE, "Сервис"),
    (DepartmentKind.LOGISTICS, "Логистика"),
    (DepartmentKind.BUY_OUT, "Отдел выкупа"),
)


@dataclass(frozen=True)
class UserSpec:
    username: str
    last_name: str
    first_name: str
    middle_name: str
    roles: tuple[str, ...]
    dealer_centers: tuple[str, ...] = ()  # codes
    superuser: bool = False


DEMO_USERS: tuple[UserSpec, ...] = (
    UserSpec("admin", "Смирнов", "Алексей", "Викторович", (RoleCode.ADMINISTRATOR,), superuser=True),
    UserSpec("director", "Орлов", "Сергей", "Николаевич", (RoleCode.MANAGEMENT,)),
    UserSpec("operator", "Кузнецова", "Ольга", "Сергеевна", (RoleCode.OPERATOR,)),
    UserSpec("head", "Белов", "Игорь", "Петрович", (RoleCode.HEAD,), ("murmansk-chery", "murmansk-haval")),
    UserSpec("hostess", "Волкова", "Анастасия", "Игоревна", (RoleCode.HOSTESS,), ("murmansk-chery",)),
    UserSpec("manager", "Иванов", "Дмитрий", "Андреевич", (RoleCode.SALES_MANAGER,), ("murmansk-chery",)),
    UserSpec("manager2", "Соколова", "Мария", "Алексеевна", (RoleCode.SALES_MANAGER,), ("msk-chery-exeed-varshavka",)),
    UserSpec("service", "Козлов", "Андрей", "Владимирович", (RoleCode.SERVICE,), ("murmansk-chery",)),
    UserSpec("logist", "Морозова", "Екатерина", "Дмитриевна", (RoleCode.LOGISTICIAN,), ("murmansk-chery", "murmansk-haval")),
    UserSpec("appraiser", "Попов", "Максим", "Олегович", (RoleCode.APPRAISER,), ("murmansk-chery", "murmansk-haval")),
    UserSpec("lawyer", "Лебедева", "Наталья", "Юрьевна", (RoleCode.LAWYER,), ("murmansk-chery", "msk-chery-exeed-varshavka")),
)  # fmt: skip

# Which department each demo role works in: (kind, at the group level?).
_ROLE_DEPARTMENT: dict[str, tuple[str, bool]] = {
    RoleCode.ADMINISTRATOR: (DepartmentKind.MANAGEMENT, True),
    RoleCode.MANAGEMENT: (DepartmentKind.MANAGEMENT, True),
    RoleCode.OPERATOR: (DepartmentKind.CONTACT_CENTER, True),
    RoleCode.LAWYER: (DepartmentKind.LEGAL, True),
    RoleCode.HOSTESS: (DepartmentKind.SALES, False),
    RoleCode.SALES_MANAGER: (DepartmentKind.SALES, False),
    RoleCode.HEAD: (DepartmentKind.SALES, False),
    RoleCode.SERVICE: (DepartmentKind.SERVICE, False),
    RoleCode.LOGISTICIAN: (DepartmentKind.LOGISTICS, False),
    RoleCode.APPRAISER: (DepartmentKind.BUY_OUT, False),
}


# --- legal-entity numbers with correct check digits ------------------------------------------


def legal_entity_inn(region_code: str, serial: int) -> str:
    """A 10-digit INN of a legal entity: tax office code, 5-digit serial, check digit."""
    base = f"{region_code}{(serial % 90) + 10:02d}{serial:05d}"
    weights = (2, 4, 10, 3, 5, 9, 4, 6, 8)
    check = sum(int(digit) * weight for digit, weight in zip(base, weights, strict=True)) % 11 % 10
    return f"{base}{check}"


def legal_entity_kpp(inn: str) -> str:
    """KPP of the head office: the INN's tax office code, reason 01 (Russian organisation)."""
    return f"{inn[:4]}01001"


def legal_entity_ogrn(region_code: str, serial: int, year: int = 2012) -> str:
    """A 13-digit OGRN: sign 1, registration year, region, tax office, record, check digit."""
    base = f"1{year % 100:02d}{region_code}{(serial % 90) + 10:02d}{serial:05d}"
    return f"{base}{int(base) % 11 % 10}"


# --- small idempotent helpers ----------------------------------------------------------------


def _upsert(model: type[M], lookup: dict[str, Any], values: dict[str, Any]) -> M:
    """get_or_create by natural key; on later runs save only the fields that differ.

    Unlike ``update_or_create`` this writes nothing (and so no history row) when the row
    already matches.
    """
    instance, created = model._default_manager.get_or_create(**lookup, defaults=values)
    if created:
        return instance
    changed = [name for name, value in values.items() if getattr(instance, name) != value]
    if changed:
        for name in changed:
            setattr(instance, name, values[name])
        update_fields = [*changed, "updated_at"] if hasattr(instance, "updated_at") else changed
        instance.save(update_fields=update_fields)
    return instance


def _set_working_hours(dealer_center: DealerCenter, hours: Hours) -> None:
    dealer_center.working_hours.exclude(weekday__in=list(hours)).delete()
    for weekday, (opens_at, closes_at) in hours.items():
        _upsert(
            WorkingHours,
            {"dealer_center": dealer_center, "weekday": weekday},
            {"opens_at": opens_at, "closes_at": closes_at},
        )


# Public holidays of the Russian production calendar the demo group closes on.
PUBLIC_HOLIDAYS = {
    (1, 1): "Новогодние каникулы",
    (1, 2): "Новогодние каникулы",
    (1, 3): "Новогодние каникулы",
    (1, 4): "Новогодние каникулы",
    (1, 5): "Новогодние каникулы",
    (1, 6): "Новогодние каникулы",
    (1, 7): "Рождество Христово",
    (1, 8): "Новогодние каникулы",
    (2, 23): "День защитника Отечества",
    (3, 8): "Международный женский день",
    (5, 1): "Праздник Весны и Труда",
    (5, 9): "День Победы",
    (6, 12): "День России",
    (11, 4): "День народного единства",
}


def _set_public_holidays(years: range) -> None:
    for year in years:
        for (month, day), name in PUBLIC_HOLIDAYS.items():
            _upsert(
                DayOff, {"dealer_center": None, "date": dt.date(year, month, day)}, {"name": name}
            )


# --- builders --------------------------------------------------------------------------------


@dataclass
class Structure:
    cities: dict[str, City]
    brands: dict[str, Brand]
    dealer_centers: dict[str, DealerCenter]
    sites: dict[str, Site]
    consignors: dict[str, Consignor]
    departments: dict[tuple[str | None, str], Department]  # (dealer-center code, kind)


@transaction.atomic
def build_structure() -> Structure:
    """Regions and cities, brands, dealer centers with hours, sites, consignors, departments."""
    cities: dict[str, City] = {}
    for city_spec in CITIES:
        region = _upsert(Region, {"name": city_spec.region}, {"code": city_spec.region_code})
        cities[city_spec.name] = _upsert(
            City, {"region": region, "name": city_spec.name}, {"time_zone": city_spec.time_zone}
        )
    city_specs = {city_spec.name: city_spec for city_spec in CITIES}

    brands = {code: _upsert(Brand, {"code": code}, {"name": name}) for code, name in BRANDS}
    this_year = dt.date.today().year
    _set_public_holidays(range(this_year, this_year + 2))

    dealer_centers: dict[str, DealerCenter] = {}
    sites: dict[str, Site] = {}
    consignors: dict[str, Consignor] = {}
    departments: dict[tuple[str | None, str], Department] = {}

    for kind, name in GROUP_DEPARTMENTS:
        departments[(None, kind)] = _upsert(
            Department, {"dealer_center": None, "kind": kind}, {"name": name}
        )

    for serial, spec in enumerate(DEALER_CENTERS, start=1):
        city = cities[spec.city]
        city_spec = city_specs[spec.city]
        dealer_center = _upsert(
            DealerCenter,
            {"code": spec.code},
            {
                "name": spec.name,
                "city": city,
                "address": f"г. {spec.city}, {spec.address}",
                "time_zone": city.time_zone,
                "phone": f"+7{city_spec.phone_code}{spec.phone}",
                "email": f"{spec.code}@magistral-auto.ru",
                "is_active": True,
            },
        )
        dealer_center.brands.set([brands[code] for code in spec.brands])
        _set_working_hours(dealer_center, spec.hours)
        dealer_centers[spec.code] = dealer_center

        sites[spec.site] = _upsert(
            Site,
            {"name": spec.site},
            {
                "kind": SiteKind.SHOWROOM_AND_STORAGE,
                "city": city,
                "dealer_center": dealer_center,
                "address": dealer_center.address,
                "is_active": True,
            },
        )
        inn = legal_entity_inn(city_spec.region_code, serial)
        consignors[spec.site] = _upsert(
            Consignor,
            {"name": spec.site},
            {
                "legal_name": spec.consignor_legal_name,
                "inn": inn,
                "kpp": legal_entity_kpp(inn),
                "ogrn": legal_entity_ogrn(city_spec.region_code, serial),
                "legal_address": dealer_center.address,
                "city": city,
                "dealer_center": dealer_center,
            },
        )
        for kind, name in DEALER_CENTER_DEPARTMENTS:
            if kind == DepartmentKind.BUY_OUT and not spec.buy_out:
                continue
            departments[(spec.code, kind)] = _upsert(
                Department, {"dealer_center": dealer_center, "kind": kind}, {"name": name}
            )

    for storage in STORAGE_YARDS:
        city = cities[storage.city]
        sites[storage.name] = _upsert(
            Site,
            {"name": storage.name},
            {
                "kind": SiteKind.STORAGE,
                "city": city,
                "dealer_center": dealer_centers[storage.dealer_center]
                if storage.dealer_center
                else None,
                "address": f"г. {storage.city}, {storage.address}",
                "is_active": True,
            },
        )

    name, legal_name, city_name = GROUP_CONSIGNOR
    region_code = city_specs[city_name].region_code
    inn = legal_entity_inn(region_code, 99)
    consignors[name] = _upsert(
        Consignor,
        {"name": name},
        {
            "legal_name": legal_name,
            "inn": inn,
            "kpp": legal_entity_kpp(inn),
            "ogrn": legal_entity_ogrn(region_code, 99, year=2009),
            "legal_address": "г. Москва, Варшавское шоссе, 170Г",
            "city": cities[city_name],
            "dealer_center": None,
        },
    )
    return Structure(cities, brands, dealer_centers, sites, consignors, departments)


def _department_for(spec: UserSpec, structure: Structure) -> Department | None:
    kind, group_level = _ROLE_DEPARTMENT[spec.roles[0]]
    if group_level:
        return structure.departments.get((None, kind))
    return (
        structure.departments.get((spec.dealer_centers[0], kind)) if spec.dealer_centers else None
    )


def _ensure_user(
    spec: UserSpec, *, actor: User | None, structure: Structure, password: str
) -> User:
    dealer_centers = [structure.dealer_centers[code] for code in spec.dealer_centers]
    user = User.objects.filter(username=spec.username).first()
    if user is None:
        user = services.user_create(
            actor=actor,
            username=spec.username,
            password=password,
            first_name=spec.first_name,
            last_name=spec.last_name,
            middle_name=spec.middle_name,
            email=f"{spec.username}@magistral-auto.ru",
            roles=spec.roles,
            dealer_centers=dealer_centers,
        )
    else:
        if set(user.roles.values_list("code", flat=True)) != set(spec.roles):
            services.user_set_roles(actor=actor, user=user, roles=spec.roles)
        if set(user.dealer_centers.values_list("pk", flat=True)) != {
            dc.pk for dc in dealer_centers
        }:
            services.user_set_dealer_centers(actor=actor, user=user, dealer_centers=dealer_centers)
        if not user.check_password(password):
            services.user_set_password(actor=actor, user=user, password=password)

    wanted: dict[str, Any] = {
        "first_name": spec.first_name,
        "last_name": spec.last_name,
        "middle_name": spec.middle_name,
        "is_active": True,
        "department": _department_for(spec, structure),
    }
    if spec.superuser:
        wanted["is_superuser"] = True
    services.user_update_profile(actor=actor or user, user=user, **wanted)
    return user


def build_users(structure: Structure, *, password: str = DEMO_PASSWORD) -> list[User]:
    """One demo login per role; the administrator is created first and acts for the rest."""
    users: list[User] = []
    admin: User | None = None
    for spec in DEMO_USERS:
        user = _ensure_user(spec, actor=admin, structure=structure, password=password)
        if spec.superuser and admin is None:
            admin = user
        users.append(user)
    return users


@dataclass(frozen=True)
class DemoSummary:
    counts: dict[str, int]
    users: list[User]


def build_demo(*, password: str = DEMO_PASSWORD) -> DemoSummary:
    """Build (or bring up to date) the whole demo dataset."""
    structure = build_structure()
    users = build_users(structure, password=password)
    counts = demo_counts()
    counts.update(run_demo_steps())  # the other apps' data, on top of the group
    return DemoSummary(counts=counts, users=users)


def demo_counts() -> dict[str, int]:
    return {
        "regions": Region.objects.count(),
        "cities": City.objects.count(),
        "brands": Brand.objects.count(),
        "dealer centers": DealerCenter.objects.count(),
        "sites": Site.objects.count(),
        "consignors": Consignor.objects.count(),
        "departments": Department.objects.count(),
        "users": User.objects.count(),
    }


# --- the logins table ------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginRow:
    username: str
    full_name: str
    roles: str
    dealer_centers: str


def demo_logins() -> list[LoginRow]:
    """The demo users that exist, in the order of ``DEMO_USERS``."""
    order = [spec.username for spec in DEMO_USERS]
    users = {
        user.username: user
        for user in User.objects.filter(username__in=order).prefetch_related(
            "roles", "dealer_centers"
        )
    }
    rows: list[LoginRow] = []
    for username in order:
        user = users.get(username)
        if user is None:
            continue
        codes = sorted(role.code for role in user.roles.all())
        if user.is_superuser or set(codes) & GROUP_LEVEL_ROLES:
            where = "все (группа)"
        else:
            where = ", ".join(sorted(dc.name for dc in user.dealer_centers.all())) or "—"
        rows.append(
            LoginRow(
                username=username,
                full_name=user.display_name,
                roles=", ".join(str(RoleCode(code).label) for code in codes),
                dealer_centers=where,
            )
        )
    return rows


def format_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    materialized = [list(map(str, row)) for row in rows]
    widths = [
        max([len(header), *(len(row[index]) for row in materialized)])
        for index, header in enumerate(headers)
    ]
    lines = ["  ".join(header.ljust(width) for header, width in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * width for width in widths))
    lines.extend(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in materialized
    )
    return "\n".join(line.rstrip() for line in lines)
