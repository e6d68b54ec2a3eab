"""The vehicle card, the printable PTS page and the card's actions: reserve, release,
change the logistics status — with scoping (404), permissions (403) and refused requests
that change nothing."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from autocrm.accounts.roles import RoleCode
from autocrm.accounts.tests.factories import (
    BrandFactory,
    CityFactory,
    ConsignorFactory,
    DealerCenterFactory,
    SiteFactory,
    UserFactory,
)
from autocrm.inventory import services
from autocrm.inventory.models import (
    Condition,
    Defect,
    Inspection,
    LogisticsStatus,
    LogisticsStatusChange,
    PtsKind,
    Reservation,
    ReservationStatus,
    Restriction,
    Vehicle,
)
from autocrm.inventory.tests.factories import (
    BodyTypeFactory,
    CarModelFactory,
    ColorFactory,
    DriveTypeFactory,
    EngineTypeFactory,
    LogisticsStatusFactory,
    TransmissionFactory,
    TrimFactory,
    VehicleFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def murmansk():
    return DealerCenterFactory(name="Мурманск CHERY центр", city=CityFactory(name="Мурманск"))


@pytest.fixture
def seed_car(murmansk):
    """The seed's Chery, field by field."""
    chery = BrandFactory(name="Chery", code="chery")
    tiggo = CarModelFactory(make=chery, name="Tiggo 7 Pro Max")
    site = SiteFactory(name="Мурманск CHERY", dealer_center=murmansk)
    return VehicleFactory(
        vin="LVVDB21B1PD734288",
        stock_code="LVVDB21B1PD734288",
        make=chery,
        car_model=tiggo,
        trim=TrimFactory(car_model=tiggo, name="Ultimate"),
        body=BodyTypeFactory(code="suv"),
        drive=DriveTypeFactory(code="fwd"),
        engine=EngineTypeFactory(code="petrol"),
        transmission=TransmissionFactory(code="cvt"),
        color=ColorFactory(name="Red/Black"),
        interior="Кожа",
        displacement_cc=None,
        power_hp=None,
        power_kw=None,
        model_year=None,
        pts_year=2023,
        mileage=2,
        condition=Condition.NEW,
        price=Decimal("3119900.00"),
        stock_in_date=timezone.localdate() - datetime.timedelta(days=133),
        logistics_status=LogisticsStatusFactory(code="in_showroom"),
        pts_kind=PtsKind.ELECTRONIC,
        pts_present=True,
        pts_buyout_date=datetime.date(2023, 3, 23),
        pts_received_date=datetime.date(2023, 3, 23),
        warranty_start=datetime.date(2023, 4, 6),
        report_date=datetime.date(2023, 3, 29),
        site=site,
        consignor=ConsignorFactory(name="Мурманск CHERY"),
    )


@pytest.fixture
def manager(murmansk):
    return UserFactory(
        username="manager", roles=[RoleCode.SALES_MANAGER], dealer_centers=[murmansk]
    )


@pytest.fixture
def logistician(murmansk):
    return UserFactory(
        username="logistician", roles=[RoleCode.LOGISTICIAN], dealer_centers=[murmansk]
    )


@pytest.fixture
def hostess(murmansk):
    return UserFactory(username="hostess", roles=[RoleCode.HOSTESS], dealer_centers=[murmansk])


def url(vehicle: Vehicle, action: str = "") -> str:
    return f"/stock/{vehicle.pk}/{action}"


def test_card_shows_the_seed_fields_in_their_sections(client, manager, seed_car):
    client.force_login(manager)
    response = client.get(url(seed_car))

    assert response.status_code == 200
    html = response.content.decode()
    for section in (
        "section-vehicle",
        "section-additional",
        "section-location",
        "section-trade-in",
        "section-logistics-history",
        "section-restrictions",
        "section-inspections",
        "section-reservations",
        "section-deal-passport",
        "section-orders",
    ):
        assert f'id="{section}"' in html
    expected = {
        "summary-price": "3 119 900 ₽",
        "summary-days": "133",
        "field-stock-code": "LVVDB21B1PD734288",
        "field-make": "Chery",
        "field-model": "Tiggo 7 Pro Max",
        "field-body": "Внедорожник",
        "field-drive": "Передний",
        "field-engine": "Бензин",
        "field-transmission": "Вариатор",
        "field-interior": "Кожа",
        "field-color": "Red/Black",
        "field-pts-year": "2023",
        "field-mileage": "2 км",
        "field-report-date": "29.03.2023",
        "field-rhd": "Нет",
        "field-warranty-start": "06.04.2023",
        "field-trim": "Ultimate",
        "field-logistics-status": "Салон",
        "field-pts-present": "Да",
        "field-pts-buyout": "23.03.2023",
        "field-pts-received": "23.03.2023",
        "field-city": "Мурманск",
        "field-site": "Мурманск CHERY",
        "field-consignor": "Мурманск CHERY",
    }
    for element_id, text in expected.items():
        assert f'id="{element_id}"' in html, element_id
        start = html.index(f'id="{element_id}"')
        assert text in html[start : start + 400], element_id
    assert "электронный" in html
    assert f'href="/stock/{seed_car.pk}/pts/"' in html
    assert 'id="flag-credit-sale" disabled>' in html


def test_card_of_a_car_out_of_scope_or_missing_is_404(client, manager, seed_car):
    foreign = VehicleFactory()
    client.force_login(manager)
    assert client.get(url(foreign)).status_code == 404
    assert client.get(url(foreign, "pts/")).status_code == 404
    assert client.get("/stock/999999/").status_code == 404
    # Group-level roles see it.
    boss = UserFactory(username="boss", roles=[RoleCode.MANAGEMENT])
    client.force_login(boss)
    assert client.get(url(foreign)).status_code == 200


def test_card_lists_history_restrictions_inspections_and_defects(client, manager, seed_car):
    appraiser = UserFactory(username="appraiser", last_name="Оценщиков", roles=["appraiser"])
    services.logistics_status_change(
        actor=manager,
        vehicle=seed_car,
        to_status=LogisticsStatus.objects.get(code="at_warehouse"),
        comment="Перегон на склад",
    )
    Restriction.objects.create(vehicle=seed_car, kind="pledge", source="Совкомбанк")
    inspection = Inspection.objects.create(
        vehicle=seed_car,
        inspected_at=timezone.now(),
        inspector=appraiser,
        mileage=2,
        result="needs_repair",
    )
    Defect.objects.create(
        inspection=inspection,
        body_zone="front_bumper",
        kind="scratch",
        severity="minor",
        repair_estimate=Decimal("4500.00"),
    )
    Defect.objects.create(
        inspection=inspection,
        body_zone="hood",
        kind="chip",
        severity="moderate",
        repair_estimate=Decimal("7000.50"),
    )
    client.force_login(manager)

    html = client.get(url(seed_car)).content.decode()

    history = html[html.index('id="section-logistics-history"') :]
    assert "Перегон на склад" in history
    assert "На складе" in history
    assert "Совкомбанк" in html[html.index('id="section-restrictions"') :]
    inspections = html[html.index('id="section-inspections"') :]
    assert "Оценщиков" in inspections
    assert "4 500 ₽" in inspections
    assert "11 500,50 ₽" in inspections


def test_pts_page_is_printable(client, manager, seed_car):
    client.force_login(manager)
    response = client.get(url(seed_car, "pts/"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "stock-print-page" in html
    assert 'data-print id="print-button"' in html
    assert "LVVDB21B1PD734288" in html[html.index('id="pts-data"') :]
    assert "ЭПТС" in html


# --------------------------------------------------------------------------- actions


def test_manager_reserves_and_releases(client, manager, seed_car):
    client.force_login(manager)
    html = client.get(url(seed_car)).content.decode()
    assert 'id="reserve-form"' in html
    assert 'id="logistics-form"' not in html  # a sales manager does not move logistics

    response = client.post(url(seed_car, "reserve/"), {"hours": "48", "comment": "Клиент едет"})
    assert response.status_code == 302
    assert response["Location"] == url(seed_car)
    reservation = Reservation.objects.get(vehicle=seed_car, is_active=True)
    assert (reservation.manager, reservation.comment) == (manager, "Клиент едет")
    assert (
        datetime.timedelta(hours=47, minutes=59)
        < (reservation.expires_at - timezone.now())
        <= datetime.timedelta(hours=48)
    )
    seed_car.refresh_from_db()
    assert seed_car.reservation_status == ReservationStatus.RESERVED
    page = client.get(url(seed_car)).content.decode()
    assert "Автомобиль забронирован до" in page
    assert 'id="release-form"' in page

    response = client.post(url(seed_car, "release/"), follow=True)
    assert "Бронь снята" in response.content.decode()
    seed_car.refresh_from_db()
    assert seed_car.reservation_status == ReservationStatus.FREE
    assert not Reservation.objects.filter(vehicle=seed_car, is_active=True).exists()


def test_reserving_a_reserved_car_is_a_message_not_an_error(client, manager, seed_car):
    other = UserFactory(username="rival", roles=[RoleCode.SALES_MANAGER])
    services.reservation_create(actor=other, vehicle=seed_car, hours=24)
    client.force_login(manager)

    response = client.post(url(seed_car, "reserve/"), {"hours": "24"}, follow=True)

    assert response.status_code == 200
    assert "Автомобиль уже забронирован" in response.content.decode()
    assert Reservation.objects.get(vehicle=seed_car, is_active=True).manager == other


def test_releasing_a_free_car_is_a_message(client, manager, seed_car):
    client.force_login(manager)
    response = client.post(url(seed_car, "release/"), follow=True)
    assert response.status_code == 200
    assert "Автомобиль не забронирован" in response.content.decode()


def test_bad_reservation_hours_show_the_form_error(client, manager, seed_car):
    client.force_login(manager)
    response = client.post(url(seed_car, "reserve/"), {"hours": "5000"})
    assert response.status_code == 400
    assert 'id="reserve-errors"' in response.content.decode()
    assert not Reservation.objects.exists()


def test_actions_need_their_permission(client, hostess, seed_car):
    client.force_login(hostess)
    html = client.get(url(seed_car)).content.decode()
    assert 'id="vehicle-actions"' not in html

    assert client.post(url(seed_car, "reserve/"), {"hours": "24"}).status_code == 403
    assert client.post(url(seed_car, "release/")).status_code == 403
    status = LogisticsStatus.objects.get(code="sold")
    assert (
        client.post(url(seed_car, "logistics-status/"), {"to_status": status.pk}).status_code == 403
    )
    assert not Reservation.objects.exists()
    seed_car.refresh_from_db()
    assert seed_car.logistics_status.code == "in_showroom"


def test_actions_on_a_car_out_of_scope_are_404(client, manager, logistician):
    foreign = VehicleFactory()
    client.force_login(manager)
    assert client.post(url(foreign, "reserve/"), {"hours": "24"}).status_code == 404
    client.force_login(logistician)
    status = LogisticsStatus.objects.get(code="sold")
    assert (
        client.post(url(foreign, "logistics-status/"), {"to_status": status.pk}).status_code == 404
    )
    assert not Reservation.objects.exists()


def test_logistician_changes_the_logistics_status(client, logistician, seed_car):
    client.force_login(logistician)
    assert 'id="logistics-form"' in client.get(url(seed_car)).content.decode()
    in_transit = LogisticsStatus.objects.get(code="in_transit")

    response = client.post(
        url(seed_car, "logistics-status/"), {"to_status": in_transit.pk, "comment": "Возврат"}
    )

    assert response.status_code == 302
    seed_car.refresh_from_db()
    assert seed_car.logistics_status == in_transit
    change = LogisticsStatusChange.objects.filter(vehicle=seed_car).latest("pk")
    assert (change.from_status.code, change.to_status, change.changed_by, change.comment) == (
        "in_showroom",
        in_transit,
        logistician,
        "Возврат",
    )


def test_moving_to_the_same_logistics_status_is_a_message(client, logistician, seed_car):
    client.force_login(logistician)
    before = LogisticsStatusChange.objects.count()
    response = client.post(
        url(seed_car, "logistics-status/"),
        {"to_status": seed_car.logistics_status_id},
        follow=True,
    )
    assert response.status_code == 200
    assert "уже в этом логистическом статусе" in response.content.decode()
    assert LogisticsStatusChange.objects.count() == before


def test_unknown_logistics_status_is_a_form_error(client, logistician, seed_car):
    client.force_login(logistician)
    response = client.post(url(seed_car, "logistics-status/"), {"to_status": "999999"})
    assert response.status_code == 400
    seed_car.refresh_from_db()
    assert seed_car.logistics_status.code == "in_showroom"
