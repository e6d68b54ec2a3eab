"""The trade-in API contract: status codes, bodies, 400s naming fields, scope and roles."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client as HttpClient
from django.utils import timezone
from PIL import Image

from autocrm.accounts.tests.factories import DealerCenterFactory, UserFactory
from autocrm.orders.models import Order
from autocrm.trade_ins.models import AppraisalAppointment, TradeIn
from autocrm.trade_ins.tests.factories import TradeInWorld, a_vin, all_ok, trade_in_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> TradeInWorld:
    return trade_in_world()


def http(user: Any) -> HttpClient:
    client = HttpClient()
    client.force_login(user)
    return client


def body(world: TradeInWorld, **fields: Any) -> dict[str, Any]:
    payload = {
        "make": "Lada",
        "model": "Vesta",
        "plate": "А123ВС51",
        "vin": a_vin(),
        "year": 2019,
        "place": "dealer_center",
        "address": "",
        "starts_at": world.at(10).isoformat(),
    }
    payload.update(fields)
    return payload


def post(client: HttpClient, url: str, payload: Any = None) -> Any:
    return client.post(url, payload or {}, content_type="application/json")


def book_url(order: Order | int) -> str:
    return f"/api/v1/orders/{getattr(order, 'pk', order)}/trade-ins"


def test_booking_returns_201_with_the_assigned_appraiser(world: TradeInWorld) -> None:
    response = post(
        http(world.manager),
        book_url(world.order),
        body(world, place="client_address", address="ул. Ленина, 5"),
    )

    assert response.status_code == 201, response.content
    data = response.json()
    appraiser = world.appraisers[0]
    assert data["appraiser"] == {"id": appraiser.pk, "name": appraiser.display_name}
    assert data["status"] == "appraisal_scheduled"
    assert data["id"] == TradeIn.objects.get().pk
    appointment = data["appointment"]
    assert appointment["place"] == "client_address"
    assert appointment["address"] == "ул. Ленина, 5"
    assert appointment["status"] == "booked"
    assert appointment["appraiser"]["id"] == appraiser.pk
    for name, expected in (
        ("starts_at", world.at(10)),
        ("ends_at", world.at(11)),
        ("blocked_until", world.at(11, 45)),
    ):
        assert timezone.datetime.fromisoformat(appointment[name]) == expected
    assert data["order_id"] == world.order.pk
    assert data["plate"] == "А123ВС51"
    assert data["offered_price"] is None


def test_409_when_nobody_is_free_then(world: TradeInWorld) -> None:
    client = http(world.manager)
    first = post(client, book_url(world.order), body(world))
    second = post(client, book_url(world.order), body(world))

    third = post(client, book_url(world.order), body(world))

    assert (first.status_code, second.status_code, third.status_code) == (201, 201, 409)
    assert first.json()["appraiser"]["id"] != second.json()["appraiser"]["id"]
    error = third.json()["errors"][0]
    assert error["code"] == "no_appraiser_free"
    assert error["field"] == "starts_at"
    assert timezone.datetime.fromisoformat(error["next_free_at"]) == world.at(11)
    assert "11:00" in third.json()["detail"]
    assert TradeIn.objects.count() == 2


def test_outside_working_hours_is_409(world: TradeInWorld) -> None:
    response = post(
        http(world.manager), book_url(world.order), body(world, starts_at=world.at(20).isoformat())
    )

    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "no_appraiser_free"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"vin": "123"}, "vin"),
        ({"plate": "!"}, "plate"),
        ({"year": 1900}, "year"),
        ({"year": "old"}, "year"),
        ({"place": "garage"}, "place"),
        ({"place": "client_address", "address": ""}, "address"),
        ({"starts_at": "yesterday"}, "starts_at"),
        ({"starts_at": "2001-01-01T10:00:00+03:00"}, "starts_at"),
        ({"starts_at": "0001-01-01T00:00:00"}, "starts_at"),
        ({"make": ""}, "make"),
        ({"model": "x" * 101}, "model"),
        ({"mileage": -5}, "mileage"),
        ({"comment": "\x00"}, "comment"),
    ],
)
def test_bad_bodies_are_400_naming_the_field(
    world: TradeInWorld, fields: dict[str, Any], field: str
) -> None:
    response = post(http(world.manager), book_url(world.order), body(world, **fields))

    assert response.status_code == 400, response.content
    assert field in [error["field"] for error in response.json()["errors"]]
    assert not TradeIn.objects.exists()


def test_an_empty_body_names_every_required_field(world: TradeInWorld) -> None:
    response = post(http(world.manager), book_url(world.order), {})

    assert response.status_code == 400
    assert {error["field"] for error in response.json()["errors"]} == {
        "make",
        "model",
        "plate",
        "vin",
        "year",
        "place",
        "starts_at",
    }


def test_scope_and_roles(world: TradeInWorld) -> None:
    stranger = UserFactory.create(
        roles=["sales_manager"], dealer_centers=[DealerCenterFactory.create()]
    )
    logistician = UserFactory.create(roles=["logistician"], dealer_centers=[world.dealer_center])

    assert post(http(stranger), book_url(world.order), body(world)).status_code == 404
    assert post(http(world.appraisers[0]), book_url(world.order), body(world)).status_code == 403
    assert post(http(logistician), book_url(world.order), body(world)).status_code == 403
    assert post(http(world.manager), book_url(999_999), body(world)).status_code == 404
    assert http(stranger).get(book_url(world.order)).status_code == 404
    assert http(logistician).get(book_url(world.order)).status_code == 200
    assert not TradeIn.objects.exists()


def test_list_and_detail(world: TradeInWorld) -> None:
    trade_in = world.book(world.at(10))
    client = http(world.manager)

    listed = client.get(book_url(world.order))
    detail = client.get(f"/api/v1/trade-ins/{trade_in.pk}")
    stranger = http(
        UserFactory.create(roles=["sales_manager"], dealer_centers=[DealerCenterFactory.create()])
    )

    assert listed.status_code == 200
    assert listed.json()["count"] == 1
    assert listed.json()["items"][0]["id"] == trade_in.pk
    assert detail.status_code == 200
    data = detail.json()
    assert data["appraisal"] is None
    assert data["photos"] == []
    assert [row["to_status"] for row in data["history"]] == ["appraisal_scheduled"]
    assert stranger.get(f"/api/v1/trade-ins/{trade_in.pk}").status_code == 404


def appraisal_body(world: TradeInWorld, **fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "checklist": {**all_ok(), "tyres": "not_ok"},
        "defects": [
            {
                "zone": "front_bumper",
                "kind": "scratch",
                "severity": "minor",
                "note": "left",
                "repair_estimate": "12500.00",
            }
        ],
        "offered_price": "900000.00",
        "valid_until": world.day(7).isoformat(),
        "comment": "OK",
        "mileage": 84000,
    }
    payload.update(fields)
    return payload


def test_appraisal_accept_and_take_into_stock(world: TradeInWorld) -> None:
    trade_in = world.book(world.at(10))
    url = f"/api/v1/trade-ins/{trade_in.pk}"
    appraiser, manager = http(world.appraisers[0]), http(world.manager)

    assert post(manager, f"{url}/appraisal", appraisal_body(world)).status_code == 403
    appraised = post(appraiser, f"{url}/appraisal", appraisal_body(world))
    too_much = post(manager, f"{url}/accept", {"amount": "900000.01"})
    by_appraiser = post(appraiser, f"{url}/accept", {"amount": "850000.00"})
    accepted = post(manager, f"{url}/accept", {"amount": "850000.00"})
    again = post(manager, f"{url}/accept", {"amount": "850000.00"})
    stock_by_manager = post(manager, f"{url}/take-into-stock", {"site_id": world.base.site.pk})
    bad_site = post(appraiser, f"{url}/take-into-stock", {"site_id": 999_999, "price": "1"})
    taken = post(
        appraiser,
        f"{url}/take-into-stock",
        {"site_id": world.base.site.pk, "price": "990000.00", "stock_code": "TI-1"},
    )

    assert appraised.status_code == 200, appraised.content
    data = appraised.json()
    assert data["status"] == "appraised"
    assert data["offered_price"] == "900000.00"
    assert data["appraisal"]["checklist"]["tyres"] == "not_ok"
    assert data["appraisal"]["defects"][0]["repair_estimate"] == "12500.00"
    assert data["appointment"]["status"] == "done"
    assert data["appraiser"]["id"] == world.appraisers[0].pk
    assert too_much.status_code == 400
    assert too_much.json()["errors"][0]["field"] == "amount"
    assert by_appraiser.status_code == 403
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["accepted_amount"] == "850000.00"
    assert again.status_code == 409
    assert again.json()["errors"][0]["code"] == "transition_not_allowed"
    order = Order.objects.get(pk=world.order.pk)
    assert order.trade_in_credit == Decimal("850000.00")
    assert order.balance_due == Decimal("979900.00")
    assert stock_by_manager.status_code == 403
    assert bad_site.status_code == 400
    assert bad_site.json()["errors"][0]["field"] == "site_id"
    assert taken.status_code == 200, taken.content
    assert taken.json()["status"] == "taken_into_stock"
    assert taken.json()["vehicle_id"] is not None


def test_bad_appraisals_name_the_field(world: TradeInWorld) -> None:
    trade_in = world.book(world.at(10))
    url = f"/api/v1/trade-ins/{trade_in.pk}/appraisal"
    client = http(world.appraisers[0])

    cases = {
        "checklist.body": appraisal_body(
            world, checklist={k: v for k, v in all_ok().items() if k != "body"}
        ),
        "offered_price": appraisal_body(world, offered_price="0"),
        "valid_until": appraisal_body(world, valid_until=world.day(-1).isoformat()),
        "defects.0.zone": appraisal_body(
            world, defects=[{"zone": "moon", "kind": "dent", "severity": "minor"}]
        ),
    }
    for field, payload in cases.items():
        response = post(client, url, payload)
        assert response.status_code == 400, (field, response.content)
        assert response.json()["errors"][0]["field"] == field
    assert TradeIn.objects.get().status == "appraisal_scheduled"


def test_decline_reschedule_and_cancel(world: TradeInWorld) -> None:
    first = world.book(world.at(10))
    second = world.book(world.at(10))
    manager = http(world.manager)

    moved = post(
        manager,
        f"/api/v1/trade-ins/{first.pk}/reschedule",
        {"starts_at": world.at(12).isoformat()},
    )
    no_time = post(manager, f"/api/v1/trade-ins/{first.pk}/reschedule", {})
    cancelled = post(manager, f"/api/v1/trade-ins/{second.pk}/cancel", {"reason": "Sold it"})
    no_reason = post(manager, f"/api/v1/trade-ins/{first.pk}/cancel", {})
    decline_early = post(manager, f"/api/v1/trade-ins/{second.pk}/decline", {})

    assert moved.status_code == 200, moved.content
    assert timezone.datetime.fromisoformat(moved.json()["appointment"]["starts_at"]) == world.at(12)
    assert no_time.status_code == 400
    assert no_time.json()["errors"][0]["field"] == "starts_at"
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert no_reason.status_code == 400
    assert no_reason.json()["errors"][0]["field"] == "reason"
    assert decline_early.status_code == 409


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (2, 2)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_photo_upload(world: TradeInWorld) -> None:
    trade_in = world.book(world.at(10))
    url = f"/api/v1/trade-ins/{trade_in.pk}/photos"
    appraiser = http(world.appraisers[0])

    created = appraiser.post(url, {"file": io.BytesIO(png()), "caption": "Front"})
    missing = appraiser.post(url, {"caption": "Front"})
    text = appraiser.post(url, {"file": io.BytesIO(b"hello")})
    forbidden = http(world.manager).post(url, {"file": io.BytesIO(png())})

    assert created.status_code == 201, created.content
    data = created.json()
    assert (data["caption"], data["content_type"]) == ("Front", "image/png")
    assert missing.status_code == text.status_code == 400
    assert missing.json()["errors"][0]["field"] == text.json()["errors"][0]["field"] == "file"
    assert forbidden.status_code == 403
    # The download checks who asks.
    assert appraiser.get(data["url"]).status_code == 200
    stranger = UserFactory.create(
        roles=["appraiser"], dealer_centers=[DealerCenterFactory.create()]
    )
    assert http(stranger).get(data["url"]).status_code == 404


def test_free_slots(world: TradeInWorld) -> None:
    world.book(world.at(10), place="client_address", address="ул. Ленина, 5")  # first: 10–11:45
    world.book(world.at(10))  # second: 10–11
    url = "/api/v1/trade-ins/free-slots"
    query = {"dealer_center_id": world.dealer_center.pk, "date": world.day(1).isoformat()}

    response = http(world.manager).get(url, query)
    at_address = http(world.manager).get(url, {**query, "place": "client_address"})
    missing = http(world.manager).get(url, {"date": world.day(1).isoformat()})
    other = http(world.manager).get(url, {**query, "dealer_center_id": DealerCenterFactory().pk})
    logistician = UserFactory.create(roles=["logistician"], dealer_centers=[world.dealer_center])

    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["slot_minutes"], data["travel_buffer_minutes"]) == (60, 45)
    starts = [timezone.datetime.fromisoformat(slot["starts_at"]) for slot in data["slots"]]
    assert starts == [world.at(hour) for hour in range(9, 18) if hour != 10]
    eleven = data["slots"][1]
    assert [appraiser["id"] for appraiser in eleven["appraisers"]] == [world.appraisers[1].pk]
    per_appraiser = {row["id"]: len(row["slots"]) for row in data["appraisers"]}
    assert per_appraiser == {world.appraisers[0].pk: 7, world.appraisers[1].pk: 8}
    # At an address the 9:00 slot's buffer runs into 10:00: nobody is free then.
    address_starts = [slot["starts_at"] for slot in at_address.json()["slots"]]
    assert world.at(9).isoformat() not in address_starts
    assert missing.status_code == 400
    assert missing.json()["errors"][0]["field"] == "dealer_center_id"
    assert other.status_code == 404
    assert http(logistician).get(url, query).status_code == 403


def test_calendar(world: TradeInWorld) -> None:
    trade_in = world.book(world.at(10))
    world.book(world.at(10, days=3))  # the same appraiser, three days later
    first, second = world.appraisers
    url = f"/api/v1/appraisers/{first.pk}/calendar"
    query = {"from": world.day(1).isoformat(), "to": world.day(2).isoformat()}

    own = http(first).get(url, query)
    by_head = http(world.head).get(url)
    by_manager = http(world.manager).get(url, query)
    by_colleague = http(second).get(url, query)
    reversed_range = http(first).get(url, {"from": world.day(3).isoformat(), "to": world.day(1)})
    too_long = http(first).get(
        url, {"from": world.day(1).isoformat(), "to": (world.day(1) + timedelta(days=62))}
    )

    assert own.status_code == 200, own.content
    data = own.json()
    assert data["appraiser"]["id"] == first.pk
    assert (data["from"], data["to"]) == (world.day(1).isoformat(), world.day(2).isoformat())
    assert [item["trade_in_id"] for item in data["items"]] == [trade_in.pk]
    assert data["items"][0]["plate"] == "А123ВС51"
    assert by_head.status_code == 200
    assert len(by_head.json()["items"]) == 2  # a week from today
    assert by_manager.status_code == 200
    assert by_colleague.status_code == 404
    assert reversed_range.status_code == too_long.status_code == 400
    assert reversed_range.json()["errors"][0]["field"] == "to"
    logistician = UserFactory.create(roles=["logistician"], dealer_centers=[world.dealer_center])
    assert http(logistician).get(url).status_code == 403


def test_unknown_trade_ins_are_404_for_everybody_allowed(world: TradeInWorld) -> None:
    client = http(world.head)
    for suffix in ("appraisal", "accept", "decline", "take-into-stock", "reschedule", "cancel"):
        assert post(client, f"/api/v1/trade-ins/999999/{suffix}").status_code == 404
    assert client.get("/api/v1/trade-ins/999999").status_code == 404
    assert not AppraisalAppointment.objects.exists()
