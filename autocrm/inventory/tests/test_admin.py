"""The stock admin writes through the services: validation errors are form errors."""

from decimal import Decimal

import pytest
from django.urls import reverse

from autocrm.accounts.tests.factories import UserFactory
from autocrm.inventory.models import StockChange, Vehicle
from autocrm.inventory.tests.factories import VehicleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    return client


def _form_data(vehicle: Vehicle, **changes):
    data = {
        field.name: getattr(vehicle, field.attname)
        for field in Vehicle._meta.concrete_fields
        if field.editable
        and field.name not in {"id", "reservation_status", "in_stock", "logistics_status"}
    }
    data = {name: ("" if value is None else value) for name, value in data.items()}
    for flag in (
        "right_hand_drive",
        "pts_present",
        "credit_sale",
        "trade_in_sale",
        "pledged",
        "ord_present",
    ):
        if not data[flag]:
            data.pop(flag)
    data.update(changes)
    for prefix in ("logistics_history", "restrictions", "reservations"):
        data |= {
            f"{prefix}-TOTAL_FORMS": "0",
            f"{prefix}-INITIAL_FORMS": "0",
            f"{prefix}-MIN_NUM_FORMS": "0",
            f"{prefix}-MAX_NUM_FORMS": "1000",
        }
    return data


def test_price_change_in_admin_goes_through_the_service(admin_client):
    vehicle = VehicleFactory(price=Decimal("2000000"))
    before = StockChange.objects.count()
    url = reverse("admin:inventory_vehicle_change", args=[vehicle.pk])

    response = admin_client.post(url, _form_data(vehicle, price="2100000.00"))

    assert response.status_code == 302, response.content.decode()[:3000]
    vehicle.refresh_from_db()
    assert vehicle.price == Decimal("2100000.00")
    assert StockChange.objects.count() == before + 1
    assert vehicle.history.latest().price == Decimal("2100000.00")


def test_duplicate_vin_is_a_form_error_not_a_crash(admin_client):
    first = VehicleFactory()
    second = VehicleFactory()
    url = reverse("admin:inventory_vehicle_change", args=[second.pk])

    response = admin_client.post(url, _form_data(second, vin=first.vin))

    assert response.status_code == 200
    assert "vin" in response.context["adminform"].form.errors
    second.refresh_from_db()
    assert second.vin != first.vin


def test_invalid_vin_is_a_form_error(admin_client):
    vehicle = VehicleFactory()
    url = reverse("admin:inventory_vehicle_change", args=[vehicle.pk])

    response = admin_client.post(url, _form_data(vehicle, vin="OOOOOOOOOOOOOOOOO"))

    assert response.status_code == 200
    assert "vin" in response.context["adminform"].form.errors


def test_restriction_added_in_admin_goes_through_the_service(admin_client):
    vehicle = VehicleFactory(pledged=False)
    before = StockChange.objects.count()
    url = reverse("admin:inventory_vehicle_change", args=[vehicle.pk])
    data = _form_data(vehicle)
    data |= {
        "restrictions-TOTAL_FORMS": "1",
        "restrictions-0-kind": "pledge",
        "restrictions-0-source": "Банк «Север»",
        "restrictions-0-starts_on": "2026-01-15",
        "restrictions-0-ends_on": "",
        "restrictions-0-note": "",
    }

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.content.decode()[:3000]
    vehicle.refresh_from_db()
    restriction = vehicle.restrictions.get()
    assert (restriction.kind, restriction.source, str(restriction.starts_on)) == (
        "pledge",
        "Банк «Север»",
        "2026-01-15",
    )
    assert vehicle.pledged is True
    assert StockChange.objects.count() > before
