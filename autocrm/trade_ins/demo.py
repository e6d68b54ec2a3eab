"""Demo data of trade-ins: the buy-out department's booking settings of every dealer center
that has appraisers, and inspections in their calendars (on the demo orders when there
are some, else plain buy-outs of the dealer center's clients).

Idempotent: settings are found by dealer center, and a dealer center that already has
trade-ins gets no more. Inspections are booked through the service from tomorrow on, so
they fall on free appraisers within working hours whenever the demo is built.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from autocrm.accounts.models import DealerCenter, User
from autocrm.clients.models import Client
from autocrm.core.demo_registry import register_demo_step
from autocrm.core.errors import DomainError
from autocrm.orders.models import EDITABLE_ORDER_STATUSES, Order
from autocrm.trade_ins.models import AppraisalPlace, AppraiserSettings, TradeIn
from autocrm.trade_ins.scheduling import appraisers_of, booking_rules, next_free_slot, zone_of
from autocrm.trade_ins.services import trade_in_create

# (make, model, plate, VIN, year, place, address): the clients' cars.
DEMO_CARS: tuple[tuple[str, str, str, str, int, str, str], ...] = (
    ("Lada", "Vesta", "А123ВС51", "XTAGFL110LY400001", 2020, AppraisalPlace.DEALER_CENTER, ""),
    (
        "Kia",
        "Rio",
        "М456ОР51",
        "Z94C251BBLR400002",
        2019,
        AppraisalPlace.CLIENT_ADDRESS,
        "г. Мурманск, ул. Полярные Зори, д. 10, кв. 4",
    ),
    ("Hyundai", "Solaris", "Т789УХ51", "Z94K241CBMR400003", 2021, AppraisalPlace.DEALER_CENTER, ""),
)


def _book_demo(dealer_center: DealerCenter) -> int:
    orders = list(
        Order.objects.filter(dealer_center=dealer_center, status__in=EDITABLE_ORDER_STATUSES)
        .select_related("client", "manager", "dealer_center")
        .order_by("pk")[: len(DEMO_CARS)]
    )
    clients = list(Client.objects.filter(dealer_center=dealer_center).order_by("pk")[:3])
    appraisers = list(appraisers_of(dealer_center.pk).values_list("pk", flat=True))
    if not appraisers or not (orders or clients):
        return 0
    rules = booking_rules(dealer_center.pk)
    zone = zone_of(dealer_center)
    tomorrow = timezone.localdate(timezone.now(), zone) + timedelta(days=1)
    after = datetime.combine(tomorrow, time(10), tzinfo=zone)
    booked = 0
    for index, (make, model, plate, vin, year, place, address) in enumerate(DEMO_CARS):
        if TradeIn.objects.filter(vin=vin).exists():
            continue
        slot = next_free_slot(
            dealer_center=dealer_center,
            rules=rules,
            place=place,
            after=after,
            candidates=appraisers,
        )
        if slot is None:
            break
        fields: dict[str, Any] = {
            "make": make,
            "model": model,
            "plate": plate,
            "vin": vin,
            "year": year,
            "place": place,
            "address": address,
            "starts_at": slot.starts_at,
        }
        if index < len(orders):
            order = orders[index]
            fields.update(actor=order.manager, order=order)
        else:
            # A buy-out without a sale, booked by the buy-out department itself.
            fields.update(
                actor=User.objects.get(pk=appraisers[0]),
                client=clients[index % len(clients)],
                dealer_center=dealer_center,
            )
        try:
            with transaction.atomic():
                trade_in_create(**fields)
        except DomainError:
            continue
        booked += 1
        after = slot.ends_at + timedelta(hours=2)
    return booked


@transaction.atomic
def build_trade_ins() -> dict[str, int]:
    with_appraisers = DealerCenter.objects.filter(
        staff__roles__code="appraiser", staff__is_active=True
    ).distinct()
    for dealer_center in with_appraisers.order_by("pk"):
        AppraiserSettings.objects.get_or_create(dealer_center=dealer_center)
    booked = 0
    # The cars' VINs are unique in the group: they go to the first dealer center that can
    # take them (in the demo group the appraiser works in Мурманск).
    for dealer_center in with_appraisers.order_by("pk"):
        if not TradeIn.objects.filter(dealer_center=dealer_center).exists():
            booked += _book_demo(dealer_center)
    return {
        "appraisal settings": AppraiserSettings.objects.count(),
        "trade-ins booked": booked,
    }


register_demo_step(600, build_trade_ins, name="trade_ins.demo")
