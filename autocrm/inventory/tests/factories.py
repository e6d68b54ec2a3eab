"""Factories for the stock: catalog entries and vehicles.

``VehicleFactory()`` alone builds a complete, valid car: make, model, a site of a new
dealer center in a new city, the consignor, and the logistics status "at_warehouse"
(catalog codes come from the data migration, so coded entries are fetched by code).
Pass objects to place it: ``VehicleFactory(site=site, make=chery, car_model=tiggo)``;
city and dealer center follow the site unless given.

Every vehicle created here is also written to ``StockChange``, as the services do, so
that the in-memory search index sees it.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import factory
from factory.django import DjangoModelFactory

from autocrm.accounts.tests.factories import BrandFactory, ConsignorFactory, SiteFactory
from autocrm.inventory.models import (
    BodyType,
    CarModel,
    Color,
    Condition,
    DriveType,
    EngineType,
    LogisticsStatus,
    ReservationStatus,
    Transmission,
    Trim,
    Vehicle,
)
from autocrm.inventory.services import record_stock_change

# Letters allowed in a VIN (no I, O, Q) — for sequences that stay valid.
VIN_ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"


def vin_for(number: int, prefix: str = "XTA") -> str:
    """A valid 17-character VIN that is unique per ``number``."""
    digits = []
    value = number
    for _ in range(17 - len(prefix)):
        value, remainder = divmod(value, len(VIN_ALPHABET))
        digits.append(VIN_ALPHABET[remainder])
    return prefix + "".join(reversed(digits))


class CarModelFactory(DjangoModelFactory[CarModel]):
    class Meta:
        model = CarModel
        django_get_or_create = ("make", "name")

    make = factory.SubFactory(BrandFactory)
    name = factory.Sequence(lambda n: f"Model {n}")


class TrimFactory(DjangoModelFactory[Trim]):
    class Meta:
        model = Trim
        django_get_or_create = ("car_model", "name")

    car_model = factory.SubFactory(CarModelFactory)
    name = factory.Sequence(lambda n: f"Trim {n}")


class _CodedEntryFactory(DjangoModelFactory[Any]):
    """Coded catalog entries: ``BodyTypeFactory(code="suv")`` returns the migrated row."""

    class Meta:
        abstract = True
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"code-{n}")
    name = factory.LazyAttribute(lambda entry: entry.code.replace("-", " ").title())


class BodyTypeFactory(_CodedEntryFactory):
    class Meta:
        model = BodyType

    code = "suv"


class DriveTypeFactory(_CodedEntryFactory):
    class Meta:
        model = DriveType

    code = "fwd"


class EngineTypeFactory(_CodedEntryFactory):
    class Meta:
        model = EngineType

    code = "petrol"


class TransmissionFactory(_CodedEntryFactory):
    class Meta:
        model = Transmission

    code = "automatic"


class LogisticsStatusFactory(_CodedEntryFactory):
    class Meta:
        model = LogisticsStatus

    code = "at_warehouse"


class ColorFactory(DjangoModelFactory[Color]):
    class Meta:
        model = Color
        django_get_or_create = ("name",)

    name = "White"


class VehicleFactory(DjangoModelFactory[Vehicle]):
    class Meta:
        model = Vehicle

    vin = factory.Sequence(vin_for)
    stock_code = factory.LazyAttribute(lambda vehicle: vehicle.vin)
    make = factory.SubFactory(BrandFactory)
    car_model = factory.SubFactory(CarModelFactory, make=factory.SelfAttribute("..make"))
    trim = factory.SubFactory(TrimFactory, car_model=factory.SelfAttribute("..car_model"))
    body = factory.SubFactory(BodyTypeFactory)
    drive = factory.SubFactory(DriveTypeFactory)
    engine = factory.SubFactory(EngineTypeFactory)
    transmission = factory.SubFactory(TransmissionFactory)
    color = factory.SubFactory(ColorFactory)
    displacement_cc = 1998
    power_hp = Decimal("150.0")
    power_kw = Decimal("110.3")
    interior = "Ткань"
    model_year = 2024
    pts_year = 2024
    mileage = 0
    condition = Condition.NEW
    price = Decimal("2500000.00")
    stock_in_date = factory.LazyFunction(
        lambda: datetime.date.today() - datetime.timedelta(days=10)
    )
    reservation_status = ReservationStatus.FREE
    logistics_status = factory.SubFactory(LogisticsStatusFactory)
    site = factory.SubFactory(SiteFactory)
    city = factory.LazyAttribute(lambda vehicle: vehicle.site.city)
    dealer_center = factory.LazyAttribute(lambda vehicle: vehicle.site.dealer_center)
    consignor = factory.SubFactory(ConsignorFactory)

    @classmethod
    def _create(cls, model_class: type[Vehicle], *args: Any, **kwargs: Any) -> Vehicle:
        vehicle = super()._create(model_class, *args, **kwargs)
        record_stock_change([vehicle.pk])
        return vehicle
