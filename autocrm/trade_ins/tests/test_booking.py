"""Booking inspections with free appraisers: working hours, slot length, travel buffer,
least-loaded first, the 409 with the next free time, rescheduling and cancelling."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone, translation

from autocrm.accounts.models import DayOff
from autocrm.accounts.tests.factories import DealerCenterFactory, UserFactory
from autocrm.core.errors import Conflict, NotAllowed, ValidationFailed
from autocrm.orders.models import OrderEvent, OrderEventKind
from autocrm.orders.services.orders import order_transition
from autocrm.trade_ins import services
from autocrm.trade_ins.models import (
    AppointmentStatus,
    AppraisalAppointment,
    TradeIn,
    TradeInStatus,
    TradeInStatusChange,
)
from autocrm.trade_ins.services import NoAppraiserFree
from autocrm.trade_ins.tests.factories import TradeInWorld, a_vin, trade_in_world
from autocrm.trade_ins.validation import normalize_plate

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> TradeInWorld:
    return trade_in_world()


def booked(trade_in: TradeIn) -> AppraisalAppointment:
    return AppraisalAppointment.objects.get(trade_in=trade_in, status=AppointmentStatus.BOOKED)


def counts() -> tuple[int, int, int]:
    return (
        TradeIn.objects.count(),
        AppraisalAppointment.objects.count(),
        OrderEvent.objects.filter(kind=OrderEventKind.TRADE_IN).count(),
    )


def test_booking_assigns_a_free_appraiser(world: TradeInWorld) -> None:
    trade_in = world.book(world.at(10), plate="a 123 bc 51", vin="xta21900 0k1234567")

    appointment = booked(trade_in)
    assert trade_in.status == TradeInStatus.APPRAISAL_SCHEDULED
    assert appointment.appraiser == world.appraisers[0]
    assert appointment.starts_at == world.at(10)
    assert appointment.ends_at == world.at(11)
    assert appointment.blocked_until == world.at(11)
    assert appointment.place == "dealer_center"
    assert appointment.address == world.dealer_center.address
    assert appointment.created_by == world.manager
    assert trade_in.plate_number == "А123ВС51"
    assert trade_in.vin == "XTA219000K1234567"
    assert (trade_in.client, trade_in.dealer_center) == (world.order.client, world.dealer_center)
    assert trade_in.make is None  # Lada is not in the catalog: the name is kept
    assert list(trade_in.status_changes.values_list("from_status", "to_status")) == [
        ("", "appraisal_scheduled")
    ]
    event = OrderEvent.objects.get(order=world.order, kind=OrderEventKind.TRADE_IN)
    assert event.subject_id == trade_in.pk
    assert event.to_value == "appraisal_scheduled"
    assert world.appraisers[0].display_name in event.text


def test_a_known_make_links_the_catalog(world: TradeInWorld) -> None:
    trade_in = world.book(world.at(10), make="CHERY", model="tiggo 7 pro max")

    assert trade_in.make == world.base.make
    assert trade_in.car_model == world.base.car_model
    assert (trade_in.make_name, trade_in.model_name) == ("CHERY", "tiggo 7 pro max")


def test_a_client_address_adds_the_travel_buffer(world: TradeInWorld) -> None:
    trade_in = world.book(world.at(10), place="client_address", address="  ул. Ленина,  5 ")

    appointment = booked(trade_in)
    assert appointment.ends_at == world.at(11)
    assert appointment.blocked_until == world.at(11, 45)
    assert appointment.address == "ул. Ленина, 5"


def test_an_overlap_within_the_buffer_goes_to_another_appraiser_then_409(
    world: TradeInWorld,
) -> None:
    first_appraiser, second_appraiser = world.appraisers
    first = world.book(world.at(10), place="client_address", address="ул. Ленина, 5")
    # 11:30 is after the inspection (11:00) but inside the travel buffer (11:45).
    second = world.book(world.at(11, 30))
    before = counts()

    with pytest.raises(NoAppraiserFree) as refused:
        world.book(world.at(11))

    assert booked(first).appraiser == first_appraiser
    assert booked(second).appraiser == second_appraiser
    error = refused.value
    assert error.status_code == 409
    assert error.code == "no_appraiser_free"
    assert error.field == "starts_at"
    # The first appraiser is free again at 11:45: the next slot of the grid is 12:00.
    assert error.next_free_at == world.at(12)
    assert world.at(12).strftime("%d.%m.%Y 12:00") in error.message
    assert error.as_dict()["next_free_at"] == world.at(12).isoformat()
    assert counts() == before


def test_the_end_of_a_buffer_is_free(world: TradeInWorld) -> None:
    world.settings.travel_buffer_minutes = 30
    world.settings.save()
    world.book(world.at(10), place="client_address", address="ул. Ленина, 5")
    world.book(world.at(10))  # the second appraiser

    third = world.book(world.at(11, 30))  # the first appraiser's buffer ends at 11:30

    assert booked(third).appraiser == world.appraisers[0]


def test_the_least_loaded_appraiser_of_the_day_is_chosen_first(world: TradeInWorld) -> None:
    first, second = world.appraisers
    taken = [booked(world.book(world.at(hour))).appraiser for hour in (10, 13, 15)]
    other_day = booked(world.book(world.at(10, days=2))).appraiser

    assert taken == [first, second, first]
    assert other_day == first


def test_outside_working_hours_is_409_with_the_next_free_time(world: TradeInWorld) -> None:
    before = counts()

    with pytest.raises(NoAppraiserFree) as early, translation.override("en"):
        world.book(world.at(7))
    with pytest.raises(NoAppraiserFree) as late:
        world.book(world.at(17, 30))  # would end at 18:30, after closing

    assert early.value.next_free_at == world.at(9)
    assert "does not work" in early.value.message
    assert late.value.next_free_at == world.at(9, days=2)
    assert counts() == before


def test_a_day_off_is_409(world: TradeInWorld) -> None:
    DayOff.objects.create(date=world.day(1), dealer_center=world.dealer_center, name="Closed")

    with pytest.raises(NoAppraiserFree) as refused:
        world.book(world.at(10))

    assert refused.value.next_free_at == world.at(9, days=2)


def test_when_everybody_is_busy_for_the_whole_horizon_no_time_is_suggested(
    world: TradeInWorld,
) -> None:
    world.settings.max_days_ahead = 1
    world.settings.save()
    for appraiser in world.appraisers:
        appraiser.roles.clear()

    with pytest.raises(NoAppraiserFree) as refused:
        world.book(world.at(10))

    assert refused.value.next_free_at is None


def test_only_active_appraisers_of_the_dealer_center_are_booked(world: TradeInWorld) -> None:
    for appraiser in world.appraisers:
        appraiser.is_active = False
        appraiser.save()
    UserFactory.create(roles=["appraiser"], dealer_centers=[DealerCenterFactory.create()])
    UserFactory.create(roles=["sales_manager"], dealer_centers=[world.dealer_center])

    with pytest.raises(NoAppraiserFree):
        world.book(world.at(10))

    fresh = world.new_appraiser()
    assert booked(world.book(world.at(10))).appraiser == fresh


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"place": "client_address", "address": "   "}, "address"),
        ({"place": "garage"}, "place"),
        ({"make": " "}, "make"),
        ({"model": ""}, "model"),
        ({"plate": "12"}, "plate"),
        ({"plate": "А123ВС51!!!"}, "plate"),
        ({"vin": "XTA21900OK1234567"}, "vin"),  # the letter O
        ({"vin": "SHORT"}, "vin"),
        ({"year": 1949}, "year"),
        ({"year": timezone.now().year + 2}, "year"),
        ({"mileage": -1}, "mileage"),
    ],
)
def test_bad_input_is_400_naming_the_field(
    world: TradeInWorld, fields: dict[str, Any], field: str
) -> None:
    before = counts()

    with pytest.raises(ValidationFailed) as refused:
        world.book(world.at(10), **fields)

    assert refused.value.field == field
    assert counts() == before


def test_the_inspection_must_be_in_the_future_and_within_the_horizon(
    world: TradeInWorld,
) -> None:
    with pytest.raises(ValidationFailed) as past:
        world.book(timezone.now() - timedelta(minutes=1))
    with pytest.raises(ValidationFailed) as far, translation.override("en"):
        world.book(world.at(10, days=31))

    assert past.value.field == far.value.field == "starts_at"
    assert "30 days" in far.value.message
    assert TradeIn.objects.count() == 0


def test_a_time_without_offset_is_the_dealer_centers(world: TradeInWorld) -> None:
    local = world.at(10).replace(tzinfo=None)

    trade_in = world.book(local)

    assert booked(trade_in).starts_at == world.at(10)


def test_the_same_car_cannot_be_booked_twice(world: TradeInWorld) -> None:
    vin = a_vin()
    world.book(world.at(10), vin=vin)

    with pytest.raises(Conflict) as refused:
        world.book(world.at(14), vin=vin)

    assert refused.value.code == "duplicate_trade_in"
    assert refused.value.field == "vin"


def test_a_closed_order_takes_no_trade_in(world: TradeInWorld) -> None:
    order_transition(actor=world.manager, order=world.order, to="cancelled", reason="No money")
    world.order.refresh_from_db()

    with pytest.raises(Conflict) as refused:
        world.book(world.at(10))

    assert refused.value.code == "order_closed"


def test_another_dealer_centers_order_is_refused(world: TradeInWorld) -> None:
    stranger = UserFactory.create(
        roles=["sales_manager"], dealer_centers=[DealerCenterFactory.create()]
    )

    with pytest.raises(NotAllowed):
        world.book(world.at(10), actor=stranger)


def test_a_buy_out_without_an_order(world: TradeInWorld) -> None:
    trade_in = world.book(
        world.at(10), order=None, client=world.base.client, dealer_center=world.dealer_center
    )

    assert trade_in.order is None
    assert booked(trade_in).appraiser == world.appraisers[0]
    assert not OrderEvent.objects.filter(kind=OrderEventKind.TRADE_IN).exists()


def test_rescheduling_keeps_the_appraiser_when_he_is_free(world: TradeInWorld) -> None:
    trade_in = world.book(world.at(10))
    world.book(world.at(12))  # the second appraiser

    with translation.override("en"):
        moved = services.appointment_reschedule(
            actor=world.manager, trade_in=trade_in, starts_at=world.at(10, 30)
        )

    assert moved.appraiser == world.appraisers[0]
    assert moved.starts_at == world.at(10, 30)
    statuses = list(
        trade_in.appointments.order_by("pk").values_list("starts_at", "status", "appraiser_id")
    )
    assert statuses == [
        (world.at(10), "cancelled", world.appraisers[0].pk),
        (world.at(10, 30), "booked", world.appraisers[0].pk),
    ]
    assert (
        "moved"
        in OrderEvent.objects.filter(kind=OrderEventKind.TRADE_IN).order_by("pk").last().text
    )


def test_rescheduling_into_a_busy_hour_takes_another_appraiser_or_409(
    world: TradeInWorld,
) -> None:
    first, second = world.appraisers
    mine = world.book(world.at(10))  # first
    world.book(world.at(14))  # second: the least loaded that day
    world.book(world.at(14, days=2))  # first
    world.book(world.at(16, days=2))  # second

    moved = services.appointment_reschedule(
        actor=world.manager,
        trade_in=mine,
        starts_at=world.at(14),
        place="client_address",
        address="ул. Ленина, 5",
    )
    assert moved.appraiser == first
    assert moved.blocked_until == world.at(15, 45)

    with pytest.raises(NoAppraiserFree):
        # 14:30–15:30 plus the buffer to 16:15 on day 2: the first appraiser is busy
        # 14–15, the second from 16:00.
        services.appointment_reschedule(
            actor=world.manager, trade_in=mine, starts_at=world.at(14, 30, days=2)
        )
    # The refused move changed nothing.
    assert booked(mine).starts_at == world.at(14)
    assert booked(mine).appraiser == first
    assert second.appraisal_appointments.filter(status="booked").count() == 2


def test_cancelling_frees_the_inspection(world: TradeInWorld) -> None:
    trade_in = world.book(world.at(10))
    world.book(world.at(10))

    services.trade_in_cancel(actor=world.manager, trade_in=trade_in, reason="Client sold it")

    trade_in.refresh_from_db()
    assert trade_in.status == TradeInStatus.CANCELLED
    assert trade_in.appointments.get().status == AppointmentStatus.CANCELLED
    assert TradeInStatusChange.objects.filter(trade_in=trade_in).last().note == "Client sold it"
    assert booked(world.book(world.at(10))).appraiser == world.appraisers[0]
    with pytest.raises(ValidationFailed) as no_reason:
        services.trade_in_cancel(actor=world.manager, trade_in=trade_in, reason=" ")
    assert no_reason.value.field == "reason"


def test_plate_numbers_are_normalised() -> None:
    assert normalize_plate("a123bc 51") == "А123ВС51"
    assert normalize_plate("А 123 ВС 777") == "А123ВС777"
    assert normalize_plate("1234 AB-7") == "1234AB7"  # a foreign plate stays Latin
