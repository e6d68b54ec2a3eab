"""Demo data of sales orders: invoice issuers, promotions from importer bulletins,
equipment packages, the cars' costs for their deal passports, and orders in every status.

Two steps (registered at the bottom): the catalog runs before the orders. Both are
idempotent: rows are found by their natural keys, orders are made only once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction

from autocrm.accounts.models import Brand, City, Consignor, DealerCenter
from autocrm.core.demo_registry import register_demo_step
from autocrm.core.money import round_money
from autocrm.core.timezones import local_today
from autocrm.inventory.models import CarModel, Trim, Vehicle
from autocrm.orders.models import EquipmentItem, EquipmentPackage, Issuer, Promotion

# The seed's invoices are numbered POC0002235…: the Мурманск CHERY entity continues there.
SEED_ISSUER_PREFIX = "POC"
SEED_ISSUER_NEXT = 2235
SEED_CONSIGNOR = "Мурманск CHERY"

BANKS = (
    ("ПАО Сбербанк", "044525225", "30101810400000000225"),
    ("Банк ВТБ (ПАО)", "044525187", "30101810700000000187"),
    ("АО «Альфа-Банк»", "044525593", "30101810200000000593"),
)


def ensure_issuers() -> int:
    """One issuer per consignor (its legal entity); each dealer center's default issuer is
    the consignor of its own showroom."""
    created = 0
    for index, consignor in enumerate(Consignor.objects.order_by("pk")):
        if Issuer.objects.filter(consignor=consignor).exists():
            continue
        is_seed = consignor.name == SEED_CONSIGNOR
        bank, bic, correspondent = BANKS[index % len(BANKS)]
        issuer = Issuer.objects.create(
            name=consignor.legal_name or consignor.name,
            legal_name=consignor.legal_name or consignor.name,
            inn=consignor.inn or f"77{index:08d}",
            kpp=consignor.kpp,
            legal_address=consignor.legal_address or "—",
            bank_name=bank,
            bank_bic=bic,
            bank_account=f"407028100{index:011d}",
            correspondent_account=correspondent,
            director="Орлов С. Н.",
            accountant="Белова Т. А.",
            consignor=consignor,
            prefix=SEED_ISSUER_PREFIX if is_seed else f"MA{index:02d}",
            next_number=SEED_ISSUER_NEXT if is_seed else 1,
        )
        if consignor.dealer_center_id is not None:
            issuer.dealer_centers.add(consignor.dealer_center_id)
        created += 1
    return created


def ensure_vehicle_costs() -> int:
    """Cost price, transport and consignment costs of the demo cars (deal passport):
    cost 86 % of the price, transport 1.5 %, consignment 0.4 %, rounded to roubles."""
    vehicles = list(Vehicle.objects.filter(cost_price__isnull=True).only("pk", "price"))
    for vehicle in vehicles:
        vehicle.cost_price = _roubles(vehicle.price * Decimal("0.86"))
        vehicle.transport_cost = _roubles(vehicle.price * Decimal("0.015"))
        vehicle.consignment_cost = _roubles(vehicle.price * Decimal("0.004"))
    Vehicle.objects.bulk_update(
        vehicles, ["cost_price", "transport_cost", "consignment_cost"], batch_size=500
    )
    return len(vehicles)


def _roubles(amount: Decimal) -> Decimal:
    return round_money(amount.quantize(Decimal("1"), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class PromotionSpec:
    name: str
    bulletin: str
    importer: str
    make: str
    model: str | None
    trim: str | None
    cities: tuple[str, ...]
    from_days: int  # valid from today + from_days
    to_days: int  # valid to today + to_days
    amount: Decimal | None = None
    percent: Decimal | None = None
    bonus: Decimal = Decimal("0")
    combinable: bool = True


PROMOTIONS: tuple[PromotionSpec, ...] = (
    PromotionSpec(
        "Tiggo 7 Pro Max: выгода 150 000 ₽ в Мурманске", "Бюллетень CHERY № 47/2026",
        "ООО «Чери Автомобили Рус»", "chery", "Tiggo 7 Pro Max", None, ("Мурманск",),
        -10, 20, amount=Decimal("150000"), bonus=Decimal("120000"),
    ),
    PromotionSpec(
        "Trade-in бонус CHERY", "Бюллетень CHERY № 45/2026", "ООО «Чери Автомобили Рус»",
        "chery", None, None, (), -30, 35, amount=Decimal("100000"), bonus=Decimal("100000"),
    ),
    PromotionSpec(
        "Tiggo 7 Pro Max Ultimate: скидка 3 %", "Бюллетень CHERY № 47/2026",
        "ООО «Чери Автомобили Рус»", "chery", "Tiggo 7 Pro Max", "Ultimate",
        ("Мурманск", "Казань", "Москва"), -5, 25, percent=Decimal("3"),
        bonus=Decimal("50000"), combinable=False,
    ),
    PromotionSpec(
        "Tiggo 4: летняя выгода (завершена)", "Бюллетень CHERY № 30/2026",
        "ООО «Чери Автомобили Рус»", "chery", "Tiggo 4", None, (), -120, -30,
        amount=Decimal("80000"), bonus=Decimal("60000"),
    ),
    PromotionSpec(
        "Haval Jolion: спеццена", "Бюллетень HAVAL 11-2026", "ООО «Хавейл Мотор Рус»",
        "haval", "Jolion", None, ("Мурманск", "Екатеринбург"), -7, 23,
        amount=Decimal("200000"), bonus=Decimal("150000"),
    ),
    PromotionSpec(
        "Geely Monjaro: выгода в Санкт-Петербурге", "Geely Bulletin 2026/22",
        "ООО «Джили Моторс»", "geely", "Monjaro", None, ("Санкт-Петербург",), -3, 27,
        amount=Decimal("250000"), bonus=Decimal("200000"),
    ),
    PromotionSpec(
        "LADA Vesta: государственная программа", "Письмо АО «АВТОВАЗ» № 12-77",
        "АО «АВТОВАЗ»", "lada", "Vesta", None, (), -60, 34, percent=Decimal("10"),
        bonus=Decimal("0"), combinable=False,
    ),
    PromotionSpec(
        "Toyota Camry: скидка в Новосибирске (с декабря)", "Toyota RU 2026-12",
        "ООО «Тойота Мотор»", "toyota", "Camry", None, ("Новосибирск",), 5, 40,
        amount=Decimal("120000"), bonus=Decimal("90000"),
    ),
)  # fmt: skip


def ensure_promotions() -> int:
    today = local_today("Europe/Moscow")
    created = 0
    for spec in PROMOTIONS:
        if Promotion.objects.filter(name=spec.name).exists():
            continue
        make = Brand.objects.filter(code=spec.make).first()
        if make is None:
            continue
        car_model = (
            CarModel.objects.filter(make=make, name=spec.model).first() if spec.model else None
        )
        trim = (
            Trim.objects.filter(car_model=car_model, name=spec.trim).first()
            if spec.trim and car_model
            else None
        )
        promotion = Promotion.objects.create(
            name=spec.name,
            bulletin=spec.bulletin,
            importer=spec.importer,
            make=make,
            car_model=car_model,
            trim=trim,
            valid_from=today + timedelta(days=spec.from_days),
            valid_to=today + timedelta(days=spec.to_days),
            discount_amount=spec.amount,
            discount_percent=spec.percent,
            importer_bonus=spec.bonus,
            combinable=spec.combinable,
        )
        promotion.cities.set(City.objects.filter(name__in=spec.cities))
        created += 1
    return created


@dataclass(frozen=True)
class PackageSpec:
    code: str
    name: str
    make: str | None
    model: str | None
    price: Decimal
    cost: Decimal
    minutes: int
    items: tuple[tuple[str, str, int], ...]
    dealer_center: str | None = None


PACKAGES: tuple[PackageSpec, ...] = (
    PackageSpec(
        "tiggo7-winter", "Зимний пакет Tiggo 7 Pro Max", "chery", "Tiggo 7 Pro Max",
        Decimal("49900"), Decimal("21500"), 90,
        (("Коврики салона с бортом", "CH-T7-MAT", 1), ("Коврик багажника", "CH-T7-TRK", 1),
         ("Брызговики передние и задние", "CH-T7-MDF", 4), ("Защитная сетка радиатора", "CH-T7-GRL", 1)),
    ),
    PackageSpec(
        "tiggo7-protect", "Защита кузова Tiggo 7 Pro Max", "chery", "Tiggo 7 Pro Max",
        Decimal("89900"), Decimal("38000"), 240,
        (("Защита картера и КПП, сталь", "CH-T7-SKD", 1), ("Антигравийная плёнка, капот и фары", "PPF-T7", 1),
         ("Керамическое покрытие кузова", "CER-9H", 1)),
        "murmansk-chery",
    ),
    PackageSpec(
        "chery-security", "Охранный комплекс CHERY", "chery", None,
        Decimal("64900"), Decimal("31000"), 180,
        (("Сигнализация StarLine S96 с автозапуском", "SL-S96", 1), ("Метка иммобилайзера", "SL-TAG", 2),
         ("Маркировка стёкол", "GLASS-MARK", 1)),
    ),
    PackageSpec(
        "universal-start", "Стартовый пакет", None, None,
        Decimal("19900"), Decimal("7200"), 45,
        (("Аптечка, огнетушитель, знак", "KIT-START", 1), ("Тонировка задних стёкол", "TINT-R", 1)),
    ),
    PackageSpec(
        "haval-jolion-comfort", "Комфорт Haval Jolion", "haval", "Jolion",
        Decimal("39900"), Decimal("17000"), 120,
        (("Подогрев лобового стекла", "HV-WSH", 1), ("Коврики 3D", "HV-J-3D", 1)),
    ),
    PackageSpec(
        "geely-monjaro-tow", "Фаркоп Geely Monjaro", "geely", "Monjaro",
        Decimal("34900"), Decimal("16500"), 150,
        (("Фаркоп съёмный", "GL-MJ-TOW", 1), ("Электрика фаркопа, смарт-коннект", "GL-MJ-EL", 1)),
    ),
)  # fmt: skip


def ensure_packages() -> int:
    created = 0
    for spec in PACKAGES:
        if EquipmentPackage.objects.filter(code=spec.code).exists():
            continue
        make = Brand.objects.filter(code=spec.make).first() if spec.make else None
        if spec.make and make is None:
            continue
        car_model = (
            CarModel.objects.filter(make=make, name=spec.model).first() if spec.model else None
        )
        package = EquipmentPackage.objects.create(
            code=spec.code,
            name=spec.name,
            make=make,
            car_model=car_model,
            dealer_center=DealerCenter.objects.filter(code=spec.dealer_center).first()
            if spec.dealer_center
            else None,
            price=spec.price,
            cost=spec.cost,
            installation_minutes=spec.minutes,
        )
        EquipmentItem.objects.bulk_create(
            EquipmentItem(package=package, name=name, part_number=part, quantity=qty, position=i)
            for i, (name, part, qty) in enumerate(spec.items)
        )
        created += 1
    return created


@transaction.atomic
def build_order_catalog() -> dict[str, int]:
    ensure_issuers()
    ensure_vehicle_costs()
    ensure_promotions()
    ensure_packages()
    return {
        "invoice issuers": Issuer.objects.count(),
        "promotions": Promotion.objects.count(),
        "equipment packages": EquipmentPackage.objects.count(),
    }


register_demo_step(400, build_order_catalog, name="orders.catalog")


# --- orders in every status -------------------------------------------------------------

# The seed car stays free: the walkthrough orders it from its card.
DEMO_ORDER_COMMENT = "Демо-заказ"


@dataclass(frozen=True)
class OrderPlan:
    status: str  # the status the order ends in
    promotion: bool = False
    package: bool = False
    reservation_paid: bool = False  # a reservation invoice of 10 000, paid
    paid_in_full: bool = False
    refund_requested: bool = False


ORDER_PLANS: tuple[OrderPlan, ...] = (
    OrderPlan("draft"),
    OrderPlan("draft", promotion=True, package=True),
    OrderPlan("confirmed", promotion=True, package=True, reservation_paid=True),
    OrderPlan("confirmed", reservation_paid=True, refund_requested=True),
    OrderPlan("paid", promotion=True, reservation_paid=True, paid_in_full=True),
    OrderPlan("ready", package=True, reservation_paid=True, paid_in_full=True),
    OrderPlan("delivered", promotion=True, package=True, paid_in_full=True),
    OrderPlan("cancelled"),
)


def _demo_cars(dealer_center: DealerCenter, count: int) -> list[Vehicle]:
    from autocrm.inventory.demo import SEED_CAR
    from autocrm.inventory.models import ReservationStatus

    return list(
        Vehicle.objects.filter(
            dealer_center=dealer_center,
            in_stock=True,
            reservation_status=ReservationStatus.FREE,
            condition="new",
        )
        .exclude(vin=SEED_CAR.vin)
        .order_by("stock_code")[:count]
    )


def _make_order(plan: OrderPlan, index: int, car: Vehicle, manager: Any) -> None:
    from django.utils import timezone

    from autocrm.clients.models import Client
    from autocrm.orders.selectors_catalog import packages_available, promotions_available
    from autocrm.orders.services.catalog import equipment_add, promotion_apply
    from autocrm.orders.services.invoices import invoice_issue, payment_register, refund_request
    from autocrm.orders.services.orders import order_create_from_vehicle, order_transition

    client = (
        Client.objects.filter(dealer_center=car.dealer_center, merged_into__isnull=True)
        .order_by("pk")[index : index + 1]
        .get()
    )
    order = order_create_from_vehicle(
        actor=manager, client=client, vehicle=car, comment=DEMO_ORDER_COMMENT
    )
    if plan.promotion:
        offered = list(promotions_available(order))
        if offered:
            promotion_apply(actor=manager, order=order, promotion=offered[0])
    if plan.package:
        packages = list(packages_available(order))
        if packages:
            equipment_add(actor=manager, order=order, package=packages[0])
    if plan.status == "cancelled":
        order_transition(actor=manager, order=order, to="cancelled", reason="Клиент передумал")
        return
    if plan.status == "draft":
        return
    order = order_transition(actor=manager, order=order, to="confirmed")
    now = timezone.now()
    if plan.reservation_paid:
        invoice = invoice_issue(actor=manager, order=order, kind="reservation", amount=10000)
        payment_register(
            actor=manager,
            invoice=invoice,
            amount=invoice.amount,
            paid_at=now,
            idempotency_key=f"demo-{order.pk}-reservation",
        )
        if plan.refund_requested:
            refund_request(
                actor=manager,
                invoice=invoice,
                amount=invoice.amount,
                reason="Клиент отказался от брони, деньги возвращаются",
            )
    if plan.paid_in_full:
        order.refresh_from_db()
        invoice = invoice_issue(actor=manager, order=order, kind="final", amount=order.balance_due)
        payment_register(
            actor=manager,
            invoice=invoice,
            amount=invoice.amount,
            paid_at=now,
            idempotency_key=f"demo-{order.pk}-final",
        )
    order.refresh_from_db()
    if plan.status in ("ready", "delivered"):
        order = order_transition(actor=manager, order=order, to="ready")
    if plan.status == "delivered":
        order_transition(actor=manager, order=order, to="delivered")


def _importer_order(dealer_center: DealerCenter, manager: Any) -> None:
    from autocrm.clients.models import Client
    from autocrm.orders.services.orders import importer_order_transition, order_create_importer

    car_model = CarModel.objects.filter(make__code="chery", name="Tiggo 8 Pro").first()
    client = Client.objects.filter(dealer_center=dealer_center).order_by("-pk").first()
    if car_model is None or client is None:
        return
    order = order_create_importer(
        actor=manager,
        client=client,
        dealer_center=dealer_center,
        car_model=car_model,
        trim=car_model.trims.order_by("name").first(),
        color="Серый металлик",
        options="Пакет «Зима», панорамная крыша",
        expected_price=Decimal("3349900"),
        comment=DEMO_ORDER_COMMENT,
    )
    for status in ("confirmed", "in_production"):
        order = importer_order_transition(
            actor=manager, order=order, to=status, importer_reference="CH-RU-2026-118406"
        )


def build_orders() -> dict[str, int]:
    from autocrm.accounts.models import User
    from autocrm.orders.models import Order

    dealer_center = DealerCenter.objects.filter(code="murmansk-chery").first()
    manager = User.objects.filter(username="manager").first()
    if dealer_center is None or manager is None:
        return {}
    if not Order.objects.filter(comment=DEMO_ORDER_COMMENT).exists():
        cars = _demo_cars(dealer_center, len(ORDER_PLANS))
        for index, (plan, car) in enumerate(zip(ORDER_PLANS, cars, strict=False)):
            with transaction.atomic():
                _make_order(plan, index, car, manager)
        with transaction.atomic():
            _importer_order(dealer_center, manager)
    return {"sales orders": Order.objects.count()}


register_demo_step(500, build_orders, name="orders.orders")
