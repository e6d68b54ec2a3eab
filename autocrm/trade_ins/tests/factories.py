"""Test data of trade-ins: the orders' selling world plus a buy-out department.

``trade_in_world()`` builds on ``order_world()`` (Мурманск, the seed car for 1 829 900 ₽,
a draft order of it): the dealer center works 9:00–18:00 every day, books inspections of
60 minutes with a 45-minute travel buffer for clients' addresses, and has appraisers.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from autocrm.accounts.models import User, WorkingHours
from autocrm.accounts.tests.factories import UserFactory
from autocrm.orders.models import Order
from autocrm.orders.tests.factories import OrderWorld, order_world
from autocrm.trade_ins import services
from autocrm.trade_ins.models import AppraiserSettings, ChecklistItem, TradeIn
from autocrm.trade_ins.scheduling import zone_of

_vins = itertools.count(1)


def a_vin() -> str:
    """A valid, unique VIN (Latin letters without I, O, Q, and digits)."""
    return f"XTA21900{next(_vins):09d}"


def all_ok() -> dict[str, str]:
    return dict.fromkeys(ChecklistItem.values, "ok")


@dataclass
class TradeInWorld:
    base: OrderWorld
    order: Order
    appraisers: list[User]
    settings: AppraiserSettings

    @property
    def dealer_center(self) -> Any:
        return self.base.dealer_center

    @property
    def manager(self) -> User:
        return self.base.manager

    @property
    def head(self) -> User:
        return self.base.head

    def day(self, days: int = 1) -> date:
        zone = zone_of(self.dealer_center)
        return timezone.localdate(timezone.now(), zone) + timedelta(days=days)

    def at(self, hour: int, minute: int = 0, *, days: int = 1) -> datetime:
        """A local time of the dealer center ``days`` from today (tomorrow by default)."""
        return datetime.combine(
            self.day(days), time(hour, minute), tzinfo=zone_of(self.dealer_center)
        )

    def book(self, starts_at: datetime, **fields: Any) -> TradeIn:
        fields.setdefault("actor", self.manager)
        fields.setdefault("order", self.order)
        fields.setdefault("make", "Lada")
        fields.setdefault("model", "Vesta")
        fields.setdefault("plate", "А123ВС51")
        fields.setdefault("vin", a_vin())
        fields.setdefault("year", 2019)
        fields.setdefault("place", "dealer_center")
        return services.trade_in_create(starts_at=starts_at, **fields)

    def appraise(self, trade_in: TradeIn, *, price: str = "900000.00", **fields: Any) -> TradeIn:
        fields.setdefault("actor", self.appraisers[0])
        fields.setdefault("checklist", all_ok())
        fields.setdefault("defects", [])
        fields.setdefault("valid_until", self.day(7))
        services.appraisal_record(trade_in=trade_in, offered_price=Decimal(price), **fields)
        trade_in.refresh_from_db()
        return trade_in

    def new_appraiser(self, **fields: Any) -> User:
        fields.setdefault("roles", ["appraiser"])
        fields.setdefault("dealer_centers", [self.dealer_center])
        appraiser = UserFactory.create(**fields)
        self.appraisers.append(appraiser)
        return appraiser


def trade_in_world(*, appraisers: int = 2, city_name: str = "Мурманск") -> TradeInWorld:
    base = order_world(city_name=city_name)
    dealer_center = base.dealer_center
    WorkingHours.objects.bulk_create(
        WorkingHours(
            dealer_center=dealer_center, weekday=weekday, opens_at=time(9), closes_at=time(18)
        )
        for weekday in range(7)
    )
    settings = AppraiserSettings.objects.create(
        dealer_center=dealer_center, slot_minutes=60, travel_buffer_minutes=45, max_days_ahead=30
    )
    staff = [
        UserFactory.create(roles=["appraiser"], dealer_centers=[dealer_center])
        for _ in range(appraisers)
    ]
    return TradeInWorld(base=base, order=base.order(), appraisers=staff, settings=settings)
