"""No appraiser is ever booked twice at once: under 20 concurrent booking requests, and by
the database itself (PostgreSQL's exclusion constraint) whatever writes the row."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.test import Client as HttpClient

from autocrm.accounts.tests.factories import UserFactory
from autocrm.trade_ins.models import AppointmentStatus, AppraisalAppointment, TradeIn
from autocrm.trade_ins.tests.factories import TradeInWorld, a_vin, trade_in_world

SQLITE_REASON = (
    "PostgreSQL only: SQLite has no row locks (SELECT FOR UPDATE is a no-op) and no "
    "exclusion constraints; on the suite's shared-cache in-memory SQLite 20 writing threads "
    "hang on table locks instead of racing. The race and the constraint are PostgreSQL's."
)


def skip_on_sqlite() -> None:
    if connection.vendor != "postgresql":
        pytest.skip(SQLITE_REASON)


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_bookings_never_double_book_an_appraiser() -> None:
    skip_on_sqlite()
    world = trade_in_world(appraisers=3)
    managers = [
        UserFactory.create(roles=["sales_manager"], dealer_centers=[world.dealer_center])
        for _ in range(20)
    ]
    # Half at the dealer center at 10:00, half at addresses at 10:30 (busy till 12:15):
    # every one of them overlaps every other.
    payloads = [
        {
            "make": "Lada",
            "model": "Vesta",
            "plate": "А123ВС51",
            "vin": a_vin(),
            "year": 2019,
            "place": "dealer_center" if index % 2 else "client_address",
            "address": "ул. Ленина, 5",
            "starts_at": (world.at(10) if index % 2 else world.at(10, 30)).isoformat(),
        }
        for index in range(len(managers))
    ]
    start = threading.Barrier(len(managers))
    statuses: list[int] = []
    lock = threading.Lock()

    def book(user: Any, payload: dict[str, Any]) -> None:
        try:
            client = HttpClient()
            client.force_login(user)
            start.wait()
            response = client.post(
                f"/api/v1/orders/{world.order.pk}/trade-ins",
                payload,
                content_type="application/json",
            )
            with lock:
                statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=book, args=(user, payload))
        for user, payload in zip(managers, payloads, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [201] * 3 + [409] * 17
    booked = list(AppraisalAppointment.objects.filter(status=AppointmentStatus.BOOKED))
    assert Counter(appointment.appraiser_id for appointment in booked) == {
        appraiser.pk: 1 for appraiser in world.appraisers
    }


def _appointment(world: TradeInWorld, appraiser: Any, **fields: Any) -> AppraisalAppointment:
    # Written straight to the database, past every service and lock.
    trade_in = TradeIn.objects.create(
        order=world.order,
        client=world.base.client,
        dealer_center=world.dealer_center,
        make_name="Lada",
        model_name="Vesta",
        plate_number="А123ВС51",
        vin=a_vin(),
        year=2019,
    )
    fields.setdefault("place", "dealer_center")
    fields.setdefault("address", "ул. Ленина, 5")
    fields.setdefault("ends_at", fields["starts_at"] + timedelta(hours=1))
    fields.setdefault("blocked_until", fields["ends_at"])
    return AppraisalAppointment.objects.create(trade_in=trade_in, appraiser=appraiser, **fields)


@pytest.mark.django_db(transaction=True)
def test_the_database_refuses_an_overlapping_booked_appointment() -> None:
    skip_on_sqlite()
    world = trade_in_world(appraisers=1)
    appraiser = world.appraisers[0]
    # 10:00–11:00 at an address, busy until 11:45 with the travel buffer.
    _appointment(
        world,
        appraiser,
        starts_at=world.at(10),
        place="client_address",
        blocked_until=world.at(11, 45),
    )

    # Inside the buffer: refused by the database, not by any service.
    with pytest.raises(IntegrityError) as refused, transaction.atomic():
        _appointment(world, appraiser, starts_at=world.at(11, 30))
    assert "trade_ins_appointment_no_overlap" in str(refused.value)

    # Where the buffer ends (half-open ranges), cancelled and done rows, and another
    # appraiser at the same time are all accepted.
    _appointment(world, appraiser, starts_at=world.at(11, 45))
    _appointment(world, appraiser, starts_at=world.at(10), status="cancelled")
    _appointment(world, appraiser, starts_at=world.at(10, 15), status="done")
    _appointment(world, world.new_appraiser(), starts_at=world.at(10))

    # A cancelled row cannot come back to "booked" over a live one either.
    cancelled = AppraisalAppointment.objects.filter(
        appraiser=appraiser, status="cancelled", starts_at=world.at(10)
    ).get()
    with pytest.raises(IntegrityError), transaction.atomic():
        AppraisalAppointment.objects.filter(pk=cancelled.pk).update(status="booked")
