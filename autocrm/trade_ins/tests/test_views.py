"""Pages and htmx partials: the order's «Авто в зачёт» tab and its free slots, the
appraisal calendar, the appraisal page with its decisions, the photos."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client as HttpClient
from django.urls import reverse
from PIL import Image

from autocrm.accounts.tests.factories import DealerCenterFactory, UserFactory
from autocrm.orders.models import Order
from autocrm.trade_ins.models import Appraisal, AppraisalPhoto, ChecklistItem, TradeIn
from autocrm.trade_ins.tests.factories import TradeInWorld, a_vin, trade_in_world

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def world() -> TradeInWorld:
    return trade_in_world()


def http(user: Any) -> HttpClient:
    client = HttpClient()
    client.force_login(user)
    return client


def form(world: TradeInWorld, **fields: Any) -> dict[str, Any]:
    data = {
        "make": "Lada",
        "model": "Vesta",
        "plate": "А123ВС51",
        "vin": a_vin(),
        "year": "2019",
        "place": "dealer_center",
        "address": "",
        "date": world.day(1).isoformat(),
        "time": "10:00",
    }
    data.update(fields)
    return data


def test_the_tab_lists_trade_ins_and_offers_the_form(world: TradeInWorld) -> None:
    world.book(world.at(10))
    url = reverse("trade_ins:order_tab", args=[world.order.pk])

    response = http(world.manager).get(url, **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="trade-ins-tab"' in html
    assert "<html" not in html  # a partial
    assert "Vesta" in html
    assert "А123ВС51" in html
    assert world.appraisers[0].display_name in html
    assert 'id="trade-in-form"' in html
    assert world.order.client.display_name in html
    # Tomorrow's free times as buttons: 10:00 is free with the second appraiser.
    assert 'data-slot="10:00"' in html
    assert 'name="time"' in html
    # Without htmx the tab is a whole page.
    assert "<html" in http(world.manager).get(url).content.decode()


def test_booking_through_the_tab_triggers_order_changed(world: TradeInWorld) -> None:
    url = reverse("trade_ins:order_tab", args=[world.order.pk])

    response = http(world.manager).post(
        url, form(world, place="client_address", address="ул. Ленина, 5"), **HTMX
    )

    assert response.status_code == 200
    assert response["HX-Trigger"] == "orderChanged"
    trade_in = TradeIn.objects.get()
    appointment = trade_in.appointments.get()
    assert appointment.starts_at == world.at(10)
    assert appointment.blocked_until == world.at(11, 45)
    assert f'data-trade-in="{trade_in.pk}"' in response.content.decode()


def test_a_refused_booking_shows_the_reason_and_saves_nothing(world: TradeInWorld) -> None:
    world.book(world.at(10))
    world.book(world.at(10))
    url = reverse("trade_ins:order_tab", args=[world.order.pk])
    client = http(world.manager)

    busy = client.post(url, form(world), **HTMX)
    no_address = client.post(url, form(world, place="client_address"), **HTMX)
    no_time = client.post(url, form(world, time=""), **HTMX)

    assert busy.status_code == no_address.status_code == no_time.status_code == 200
    assert "HX-Trigger" not in busy
    assert "11:00" in busy.content.decode()
    assert 'data-error-for="time"' in busy.content.decode()
    assert 'data-error-for="address"' in no_address.content.decode()
    assert 'data-error-for="time"' in no_time.content.decode()
    assert TradeIn.objects.count() == 2
    # Without htmx a refusal is a 400 page.
    assert client.post(url, form(world)).status_code == 400


def test_free_slots_partial(world: TradeInWorld) -> None:
    world.book(world.at(10))
    world.book(world.at(10))
    url = reverse("trade_ins:order_slots", args=[world.order.pk])
    client = http(world.manager)

    tomorrow = client.get(url, {"date": world.day(1).isoformat(), "place": "dealer_center"})
    at_address = client.get(url, {"date": world.day(1).isoformat(), "place": "client_address"})

    html = tomorrow.content.decode()
    assert tomorrow.status_code == 200
    assert 'data-slot="9:00"' not in html
    assert 'data-slot="09:00"' in html
    assert 'data-slot="10:00"' not in html
    assert 'data-slot="11:00"' in html
    # 9:00 at an address would run into the 10:00 inspections with its buffer.
    assert 'data-slot="09:00"' not in at_address.content.decode()


def test_who_may_use_the_tab(world: TradeInWorld) -> None:
    url = reverse("trade_ins:order_tab", args=[world.order.pk])
    stranger = UserFactory.create(
        roles=["sales_manager"], dealer_centers=[DealerCenterFactory.create()]
    )
    logistician = UserFactory.create(roles=["logistician"], dealer_centers=[world.dealer_center])

    assert http(stranger).get(url).status_code == 404
    assert http(logistician).get(url).status_code == 200
    assert 'id="trade-in-form"' not in http(logistician).get(url, **HTMX).content.decode()
    assert http(logistician).post(url, form(world)).status_code == 403
    assert not TradeIn.objects.exists()


def test_the_calendar(world: TradeInWorld) -> None:
    first = world.book(world.at(10), place="client_address", address="ул. Ленина, 5")
    second = world.book(world.at(10))
    url = reverse("trade_ins:calendar")
    query = {"date": world.day(1).isoformat(), "view": "day"}

    by_head = http(world.head).get(url, query)
    own = http(world.appraisers[1]).get(url, query)
    week = http(world.head).get(url, {"date": world.day(1).isoformat()})
    logistician = UserFactory.create(roles=["logistician"], dealer_centers=[world.dealer_center])

    html = by_head.content.decode()
    assert by_head.status_code == 200
    assert 'data-appointment-count="2"' in html
    assert f'href="{reverse("trade_ins:appraisal", args=[first.pk])}"' in html
    assert "11:45" in html  # the travel buffer is shown
    own_html = own.content.decode()
    assert 'data-appointment-count="1"' in own_html
    assert f'href="{reverse("trade_ins:appraisal", args=[second.pk])}"' in own_html
    assert week.status_code == 200
    assert week.content.decode().count("data-day=") == 7
    assert http(logistician).get(url).status_code == 403


def test_the_appraisal_page_records_and_decides(world: TradeInWorld) -> None:
    trade_in = world.book(world.at(10))
    page = reverse("trade_ins:appraisal", args=[trade_in.pk])
    appraiser, manager = http(world.appraisers[0]), http(world.manager)
    checklist = {f"check_{item}": "ok" for item in ChecklistItem.values}
    data = {
        **checklist,
        "offered_price": "900000.00",
        "valid_until": world.day(7).isoformat(),
        "mileage": "84000",
        "comment": "Fine",
        "defects-TOTAL_FORMS": "3",
        "defects-INITIAL_FORMS": "0",
        "defects-MIN_NUM_FORMS": "0",
        "defects-MAX_NUM_FORMS": "60",
        "defects-0-zone": "hood",
        "defects-0-kind": "dent",
        "defects-0-severity": "minor",
        "defects-0-repair_estimate": "5000",
    }

    shown = appraiser.get(page)
    incomplete = appraiser.post(page, {**data, "check_body": ""})
    saved = appraiser.post(page, data)
    by_manager = manager.post(page, data)

    assert shown.status_code == 200
    assert 'id="appraisal-form"' in shown.content.decode()
    assert incomplete.status_code == 400
    assert 'data-error-for="check_body"' in incomplete.content.decode()
    assert saved.status_code == 302
    assert by_manager.status_code == 403
    appraisal = Appraisal.objects.get(trade_in=trade_in)
    assert appraisal.offered_price == Decimal("900000.00")
    assert [(d.zone, d.repair_estimate) for d in appraisal.defects.all()] == [
        ("hood", Decimal("5000.00"))
    ]

    too_much = manager.post(reverse("trade_ins:accept", args=[trade_in.pk]), {"amount": "950000"})
    accepted = manager.post(
        reverse("trade_ins:accept", args=[trade_in.pk]), {"amount": "850000.00"}, **HTMX
    )

    assert too_much.status_code == 400
    assert accepted.status_code == 204
    assert accepted["HX-Trigger"] == "orderChanged"
    order = Order.objects.get(pk=world.order.pk)
    assert order.trade_in_credit == Decimal("850000.00")
    assert order.balance_due == Decimal("979900.00")

    stocked = appraiser.post(
        reverse("trade_ins:take_into_stock", args=[trade_in.pk]),
        {"site": world.base.site.pk, "price": "990000", "stock_code": "", "mileage": ""},
    )
    assert stocked.status_code == 302
    trade_in.refresh_from_db()
    assert trade_in.status == "taken_into_stock"
    assert trade_in.vehicle is not None
    assert 'id="stock-form"' not in appraiser.get(page).content.decode()


def test_reschedule_decline_and_cancel_from_the_page(world: TradeInWorld) -> None:
    trade_in = world.book(world.at(10))
    other = world.book(world.at(14))
    manager = http(world.manager)

    moved = manager.post(
        reverse("trade_ins:reschedule", args=[trade_in.pk]),
        {"place": "dealer_center", "date": world.day(1).isoformat(), "time": "12:00"},
    )
    refused = manager.post(reverse("trade_ins:decline", args=[other.pk]), {"reason": "x"})
    cancelled = manager.post(reverse("trade_ins:cancel", args=[other.pk]), {"reason": "Sold"})

    assert moved.status_code == 302
    assert trade_in.appointments.get(status="booked").starts_at == world.at(12)
    assert refused.status_code == 302  # a 409 shown as a message on the page
    assert cancelled.status_code == 302
    assert TradeIn.objects.get(pk=other.pk).status == "cancelled"


def test_photos_are_uploaded_and_served_to_those_who_see_the_trade_in(
    world: TradeInWorld,
) -> None:
    trade_in = world.book(world.at(10))
    buffer = io.BytesIO()
    Image.new("RGB", (3, 3)).save(buffer, format="JPEG")
    buffer.seek(0)
    buffer.name = "front.jpg"
    appraiser = http(world.appraisers[0])

    uploaded = appraiser.post(
        reverse("trade_ins:photo_upload", args=[trade_in.pk]), {"file": buffer, "caption": "F"}
    )
    refused = appraiser.post(
        reverse("trade_ins:photo_upload", args=[trade_in.pk]),
        {"file": io.BytesIO(b"%PDF-1.4 not a photo")},
    )

    assert uploaded.status_code == 302
    assert refused.status_code == 400
    photo = AppraisalPhoto.objects.get()
    url = reverse("trade_ins:photo", args=[trade_in.pk, photo.pk])
    served = http(world.manager).get(url)
    assert served.status_code == 200
    assert served["Content-Type"] == "image/jpeg"
    assert served["X-Content-Type-Options"] == "nosniff"
    assert b"".join(served.streaming_content) == photo.image.open("rb").read()
    stranger = UserFactory.create(
        roles=["sales_manager"], dealer_centers=[DealerCenterFactory.create()]
    )
    assert http(stranger).get(url).status_code == 404
    assert (
        f'src="{url}"'
        in appraiser.get(reverse("trade_ins:appraisal", args=[trade_in.pk])).content.decode()
    )
