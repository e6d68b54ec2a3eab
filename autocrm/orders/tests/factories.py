"""Test data of sales orders: an issuer, and a whole selling world around one car.

``order_world()`` gives a dealer center in Мурманск (Europe/Moscow), a Chery Tiggo 7 Pro
Max Ultimate in stock there for 1 829 900 ₽ with its consignor's issuer (prefix POC), a
sales manager and a head of that dealer center, and a client of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from autocrm.accounts.models import Brand, City, Consignor, DealerCenter, Site, User
from autocrm.accounts.tests.factories import (
    CityFactory,
    ConsignorFactory,
    DealerCenterFactory,
    SiteFactory,
    UserFactory,
)
from autocrm.clients.models import Client
from autocrm.clients.tests.factories import ClientFactory
from autocrm.inventory.models import CarModel, Trim, Vehicle
from autocrm.inventory.tests.factories import CarModelFactory, TrimFactory, VehicleFactory
from autocrm.orders.models import Issuer, Order
from autocrm.orders.services.orders import order_create_from_vehicle

SEED_PRICE = Decimal("1829900.00")


def make_issuer(
    *, consignor: Consignor | None = None, dealer_centers: Any = (), **fields: Any
) -> Issuer:
    count = Issuer.objects.count() + 1
    fields.setdefault("name", f"ООО «Автодилер {count}»")
    fields.setdefault("legal_name", f"Общество с ограниченной ответственностью «Автодилер {count}»")
    fields.setdefault("inn", f"51900{count:05d}")
    fields.setdefault("kpp", "519001001")
    fields.setdefault("legal_address", "г. Мурманск, пр. Ленина, д. 1")
    fields.setdefault("bank_name", "ПАО Сбербанк")
    fields.setdefault("bank_bic", "044525225")
    fields.setdefault("bank_account", "40702810000000000001")
    fields.setdefault("correspondent_account", "30101810400000000225")
    fields.setdefault("prefix", "POC" if count == 1 else f"P{count:02d}")
    issuer = Issuer.objects.create(consignor=consignor, **fields)
    if dealer_centers:
        issuer.dealer_centers.set(dealer_centers)
    return issuer


@dataclass
class OrderWorld:
    city: City
    dealer_center: DealerCenter
    site: Site
    make: Brand
    car_model: CarModel
    trim: Trim
    consignor: Consignor
    issuer: Issuer
    vehicle: Vehicle
    manager: User
    head: User
    client: Client

    def order(self, **fields: Any) -> Order:
        """A draft order of the world's car through the service."""
        fields.setdefault("actor", self.manager)
        fields.setdefault("client", self.client)
        fields.setdefault("vehicle", self.vehicle)
        return order_create_from_vehicle(**fields)

    def another_car(self, **fields: Any) -> Vehicle:
        fields.setdefault("make", self.make)
        fields.setdefault("car_model", self.car_model)
        fields.setdefault("trim", self.trim)
        fields.setdefault("site", self.site)
        fields.setdefault("consignor", self.consignor)
        fields.setdefault("price", SEED_PRICE)
        return VehicleFactory.create(**fields)


def order_world(*, city_name: str = "Мурманск") -> OrderWorld:
    city = City.objects.filter(name=city_name).first() or CityFactory.create(name=city_name)
    dealer_center = DealerCenterFactory.create(
        city=city, name=f"{city_name} CHERY {DealerCenter.objects.count() + 1}"
    )
    site = SiteFactory.create(dealer_center=dealer_center, city=city)
    make = Brand.objects.get_or_create(code="chery", defaults={"name": "Chery"})[0]
    car_model = CarModelFactory.create(make=make, name="Tiggo 7 Pro Max")
    trim = TrimFactory.create(car_model=car_model, name="Ultimate")
    consignor = ConsignorFactory.create(dealer_center=dealer_center)
    issuer = make_issuer(consignor=consignor, dealer_centers=[dealer_center])
    vehicle = VehicleFactory.create(
        make=make,
        car_model=car_model,
        trim=trim,
        site=site,
        consignor=consignor,
        price=SEED_PRICE,
        cost_price=Decimal("1500000.00"),
        transport_cost=Decimal("45000.00"),
        consignment_cost=Decimal("12000.00"),
    )
    manager = UserFactory.create(roles=["sales_manager"], dealer_centers=[dealer_center])
    head = UserFactory.create(roles=["head"], dealer_centers=[dealer_center])
    client = ClientFactory.create(dealer_center=dealer_center)
    return OrderWorld(
        city,
        dealer_center,
        site,
        make,
        car_model,
        trim,
        consignor,
        issuer,
        vehicle,
        manager,
        head,
        client,
    )
