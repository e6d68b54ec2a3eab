"""The appraisal, the client's decision and the order's totals, taking the car into stock,
and the photos."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from PIL import Image

from autocrm.accounts.models import Brand
from autocrm.accounts.tests.factories import SiteFactory
from autocrm.core.errors import Conflict, NotAllowed, TransitionNotAllowed, ValidationFailed
from autocrm.inventory.models import CarModel, Vehicle
from autocrm.orders.models import Order, OrderEvent, OrderEventKind
from autocrm.orders.services.orders import order_recalculate
from autocrm.trade_ins import services
from autocrm.trade_ins.models import (
    Appraisal,
    AppraisalPhoto,
    TradeIn,
    TradeInStatus,
)
from autocrm.trade_ins.tests.factories import TradeInWorld, all_ok, trade_in_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> TradeInWorld:
    return trade_in_world()


@pytest.fixture
def appraised(world: TradeInWorld) -> TradeIn:
    trade_in = world.book(world.at(10), mileage=84000)
    return world.appraise(
        trade_in,
        price="900000.00",
        defects=[
            services.DefectInput(
                zone="front_bumper",
                kind="scratch",
                severity="minor",
                note="  scratch  on the left ",
                repair_estimate=Decimal("12500.00"),
            ),
            {"zone": "wheels", "kind": "wear", "severity": "moderate"},
        ],
        comment="Good car",
        mileage=85120,
    )


def png(size: tuple[int, int] = (4, 3)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 10, 10)).save(buffer, format="PNG")
    return buffer.getvalue()


def reload(order: Order) -> Order:
    return Order.objects.get(pk=order.pk)


def test_the_appraisal_is_recorded(world: TradeInWorld, appraised: TradeIn) -> None:
    appraisal = Appraisal.objects.get(trade_in=appraised)

    assert appraised.status == TradeInStatus.APPRAISED
    assert appraised.mileage == 85120
    assert appraisal.appraiser == world.appraisers[0]
    assert appraisal.offered_price == Decimal("900000.00")
    assert appraisal.valid_until == world.day(7)
    assert appraisal.checklist == all_ok()
    assert appraisal.comment == "Good car"
    assert [
        (d.zone, d.kind, d.severity, d.note, d.repair_estimate) for d in appraisal.defects.all()
    ] == [
        ("front_bumper", "scratch", "minor", "scratch on the left", Decimal("12500.00")),
        ("wheels", "wear", "moderate", "", Decimal("0.00")),
    ]
    assert appraisal.repair_total == Decimal("12500.00")
    assert appraised.appointments.get().status == "done"
    assert list(appraised.status_changes.values_list("to_status", flat=True)) == [
        "appraisal_scheduled",
        "appraised",
    ]
    event = OrderEvent.objects.filter(kind=OrderEventKind.TRADE_IN).order_by("pk").last()
    assert (event.from_value, event.to_value, event.amount) == (
        "appraisal_scheduled",
        "appraised",
        Decimal("900000.00"),
    )


def test_a_head_records_for_the_booked_appraiser(world: TradeInWorld) -> None:
    trade_in = world.book(world.at(10))

    world.appraise(trade_in, actor=world.head)

    assert Appraisal.objects.get(trade_in=trade_in).appraiser == world.appraisers[0]


def test_the_appraisal_may_be_revised_until_accepted(
    world: TradeInWorld, appraised: TradeIn
) -> None:
    with translation.override("en"):
        world.appraise(appraised, price="880000.00", defects=[])

    appraisal = Appraisal.objects.get(trade_in=appraised)
    assert appraisal.offered_price == Decimal("880000.00")
    assert appraisal.defects.count() == 0
    assert appraised.status == TradeInStatus.APPRAISED
    assert appraised.status_changes.count() == 2  # a revision is no status change
    assert "revised" in OrderEvent.objects.order_by("pk").last().text


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"checklist": {**all_ok(), "paint": "maybe"}}, "checklist.paint"),
        ({"checklist": {k: v for k, v in all_ok().items() if k != "body"}}, "checklist.body"),
        ({"checklist": {**all_ok(), "radio": "ok"}}, "checklist.radio"),
        ({"checklist": "ok"}, "checklist"),
        ({"defects": [{"zone": "moon", "kind": "dent", "severity": "minor"}]}, "defects.0.zone"),
        (
            {"defects": [{"zone": "hood", "kind": "dent", "severity": "huge"}]},
            "defects.0.severity",
        ),
        (
            {
                "defects": [
                    {"zone": "hood", "kind": "dent", "severity": "minor"},
                    {"zone": "hood", "kind": "x", "severity": "minor"},
                ]
            },
            "defects.1.kind",
        ),
        (
            {
                "defects": [
                    {
                        "zone": "hood",
                        "kind": "dent",
                        "severity": "minor",
                        "repair_estimate": "-1",
                    }
                ]
            },
            "defects.0.repair_estimate",
        ),
        ({"defects": [{"zone": "hood", "colour": "red"}]}, "defects.0"),
    ],
)
def test_bad_appraisals_are_400_naming_the_field(
    world: TradeInWorld, fields: dict[str, object], field: str
) -> None:
    trade_in = world.book(world.at(10))

    with pytest.raises(ValidationFailed) as refused:
        world.appraise(trade_in, **fields)

    assert refused.value.field == field
    trade_in.refresh_from_db()
    assert trade_in.status == TradeInStatus.APPRAISAL_SCHEDULED
    assert not Appraisal.objects.exists()


def test_bad_prices_and_dates_are_400(world: TradeInWorld) -> None:
    trade_in = world.book(world.at(10))

    with pytest.raises(ValidationFailed) as zero:
        world.appraise(trade_in, price="0")
    with pytest.raises(ValidationFailed) as past:
        world.appraise(trade_in, valid_until=world.day(-1))

    assert zero.value.field == "offered_price"
    assert past.value.field == "valid_until"


def test_accepting_credits_the_order(world: TradeInWorld, appraised: TradeIn) -> None:
    order = reload(world.order)
    assert (order.total, order.trade_in_credit, order.balance_due) == (
        Decimal("1829900.00"),
        Decimal("0.00"),
        Decimal("1829900.00"),
    )

    services.trade_in_accept(actor=world.manager, trade_in=appraised, amount="850000.00")

    appraised.refresh_from_db()
    order = reload(world.order)
    assert appraised.status == TradeInStatus.ACCEPTED
    assert appraised.accepted_amount == Decimal("850000.00")
    assert appraised.accepted_at is not None
    assert order.total == Decimal("1829900.00")
    assert order.trade_in_credit == Decimal("850000.00")
    assert order.balance_due == Decimal("979900.00")
    assert order.payment_status == "unpaid"
    event = OrderEvent.objects.filter(kind=OrderEventKind.TRADE_IN).order_by("pk").last()
    assert (event.to_value, event.amount) == ("accepted", Decimal("850000.00"))
    # The credit is derived, so a later recalculation keeps it.
    assert order_recalculate(reload(world.order)).balance_due == Decimal("979900.00")


def test_two_accepted_cars_add_up(world: TradeInWorld, appraised: TradeIn) -> None:
    other = world.appraise(world.book(world.at(14)), price="300000.00")

    services.trade_in_accept(actor=world.manager, trade_in=appraised, amount=Decimal("850000"))
    services.trade_in_accept(actor=world.manager, trade_in=other, amount="299999.99")

    order = reload(world.order)
    assert order.trade_in_credit == Decimal("1149999.99")
    assert order.balance_due == Decimal("679900.01")


def test_more_than_offered_is_400_and_changes_nothing(
    world: TradeInWorld, appraised: TradeIn
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        services.trade_in_accept(actor=world.manager, trade_in=appraised, amount="900000.01")
    with pytest.raises(ValidationFailed) as float_amount:
        services.trade_in_accept(actor=world.manager, trade_in=appraised, amount=850000.0)  # type: ignore[arg-type]

    assert refused.value.field == float_amount.value.field == "amount"
    appraised.refresh_from_db()
    assert appraised.status == TradeInStatus.APPRAISED
    assert appraised.accepted_amount is None
    assert reload(world.order).balance_due == Decimal("1829900.00")


def test_an_expired_offer_is_409(world: TradeInWorld, appraised: TradeIn) -> None:
    Appraisal.objects.filter(trade_in=appraised).update(valid_until=world.day(-1))

    with pytest.raises(Conflict) as refused:
        services.trade_in_accept(actor=world.manager, trade_in=appraised, amount="850000.00")

    assert refused.value.code == "offer_expired"
    assert reload(world.order).trade_in_credit == Decimal("0.00")


def test_accepting_before_the_appraisal_is_refused(world: TradeInWorld) -> None:
    trade_in = world.book(world.at(10))

    with pytest.raises(TransitionNotAllowed):
        services.trade_in_accept(actor=world.manager, trade_in=trade_in, amount="1")


@pytest.mark.parametrize("how", ["decline", "cancel"])
def test_declining_or_cancelling_an_accepted_car_takes_the_credit_back(
    world: TradeInWorld, appraised: TradeIn, how: str
) -> None:
    services.trade_in_accept(actor=world.manager, trade_in=appraised, amount="850000.00")

    if how == "decline":
        services.trade_in_decline(
            actor=world.manager, trade_in=appraised, reason="Sells it himself"
        )
    else:
        services.trade_in_cancel(actor=world.manager, trade_in=appraised, reason="Changed mind")

    appraised.refresh_from_db()
    order = reload(world.order)
    assert appraised.status == ("declined" if how == "decline" else "cancelled")
    assert order.trade_in_credit == Decimal("0.00")
    assert order.balance_due == Decimal("1829900.00")
    with pytest.raises(TransitionNotAllowed):
        services.trade_in_accept(actor=world.manager, trade_in=appraised, amount="1")


def test_taking_into_stock_creates_a_used_vehicle(world: TradeInWorld, appraised: TradeIn) -> None:
    services.trade_in_accept(actor=world.manager, trade_in=appraised, amount="850000.00")

    services.trade_in_take_into_stock(
        actor=world.appraisers[0],
        trade_in=appraised,
        site=world.base.site,
        price=Decimal("990000.00"),
    )

    appraised.refresh_from_db()
    vehicle = Vehicle.objects.get(pk=appraised.vehicle_id)
    assert appraised.status == TradeInStatus.TAKEN_INTO_STOCK
    assert vehicle.condition == "used"
    assert vehicle.vin == appraised.vin
    assert vehicle.stock_code == appraised.vin
    assert vehicle.price == Decimal("990000.00")
    assert vehicle.cost_price == Decimal("850000.00")
    assert vehicle.mileage == 85120
    assert vehicle.model_year == 2019
    assert (vehicle.site, vehicle.city, vehicle.dealer_center) == (
        world.base.site,
        world.base.city,
        world.dealer_center,
    )
    assert vehicle.in_stock is True
    # Lada was not in the catalog: the make and the model were added.
    assert vehicle.make == Brand.objects.get(name="Lada") == appraised.make
    assert vehicle.car_model == CarModel.objects.get(make=vehicle.make, name="Vesta")
    # The car still counts as the order's credit.
    assert reload(world.order).trade_in_credit == Decimal("850000.00")
    assert list(appraised.status_changes.values_list("to_status", flat=True))[-1] == (
        "taken_into_stock"
    )


def test_a_catalog_car_keeps_its_make_and_a_second_take_in_is_refused(
    world: TradeInWorld,
) -> None:
    trade_in = world.appraise(
        world.book(world.at(10), make="chery", model="TIGGO 7 PRO MAX"), price="1500000.00"
    )
    services.trade_in_accept(actor=world.manager, trade_in=trade_in, amount="1500000.00")
    brands = Brand.objects.count()

    services.trade_in_take_into_stock(
        actor=world.head, trade_in=trade_in, site=world.base.site, price="1700000", mileage=5000
    )

    vehicle = Vehicle.objects.get(pk=TradeIn.objects.get(pk=trade_in.pk).vehicle_id)
    assert (vehicle.make, vehicle.car_model) == (world.base.make, world.base.car_model)
    assert vehicle.mileage == 5000
    assert Brand.objects.count() == brands
    with pytest.raises(TransitionNotAllowed):
        services.trade_in_take_into_stock(
            actor=world.head, trade_in=trade_in, site=world.base.site, price="1"
        )


def test_only_an_accepted_car_is_taken_into_stock(world: TradeInWorld, appraised: TradeIn) -> None:
    with pytest.raises(TransitionNotAllowed):
        services.trade_in_take_into_stock(
            actor=world.head, trade_in=appraised, site=world.base.site, price="1"
        )
    assert not Vehicle.objects.filter(vin=appraised.vin).exists()


def test_a_vin_already_in_stock_is_409_and_nothing_changes(
    world: TradeInWorld, appraised: TradeIn
) -> None:
    services.trade_in_accept(actor=world.manager, trade_in=appraised, amount="850000.00")
    world.base.another_car(vin=appraised.vin, stock_code="OTHER-1")

    with pytest.raises(Conflict) as refused:
        services.trade_in_take_into_stock(
            actor=world.head, trade_in=appraised, site=world.base.site, price="1"
        )

    assert refused.value.field == "vin"
    appraised.refresh_from_db()
    assert appraised.status == TradeInStatus.ACCEPTED
    assert appraised.vehicle is None


def test_another_dealer_centers_site_is_refused(world: TradeInWorld, appraised: TradeIn) -> None:
    services.trade_in_accept(actor=world.manager, trade_in=appraised, amount="850000.00")

    with pytest.raises(NotAllowed) as refused:
        services.trade_in_take_into_stock(
            actor=world.appraisers[0], trade_in=appraised, site=SiteFactory.create(), price="1"
        )

    assert refused.value.field == "site_id"


def test_photos_are_checked_by_content(world: TradeInWorld) -> None:
    trade_in = world.book(world.at(10))

    photo = services.appraisal_photo_add(
        actor=world.appraisers[0],
        trade_in=trade_in,
        upload=SimpleUploadedFile("car.png", png(), content_type="image/png"),
        caption=" Front ",
    )

    assert photo.content_type == "image/png"
    assert photo.caption == "Front"
    assert photo.original_name == "car.png"
    assert photo.image.name.startswith("trade_ins/")
    assert photo.image.name.endswith(".png")
    assert photo.image.read() == png()
    for name, content in (
        ("car.jpg", b"not an image at all"),
        ("scan.png", b"%PDF-1.4 fake"),
        ("broken.png", b"\x89PNG\r\n\x1a\n" + b"garbage"),
    ):
        with pytest.raises(ValidationFailed) as refused:
            services.appraisal_photo_add(
                actor=world.appraisers[0],
                trade_in=trade_in,
                upload=SimpleUploadedFile(name, content, content_type="image/png"),
            )
        assert refused.value.field == "file"
    assert AppraisalPhoto.objects.count() == 1


def test_offer_validity_is_bounded(world: TradeInWorld) -> None:
    trade_in = world.book(world.at(10))

    with pytest.raises(ValidationFailed) as far:
        world.appraise(trade_in, valid_until=world.day(0) + timedelta(days=400))

    assert far.value.field == "valid_until"
