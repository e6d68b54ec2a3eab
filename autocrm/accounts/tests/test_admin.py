"""Administrators manage the group structure in the admin; nobody else gets in."""

import pytest
from django.contrib import admin
from django.urls import reverse

from autocrm.accounts import models
from autocrm.accounts.roles import RoleCode
from autocrm.accounts.tests.factories import DealerCenterFactory, UserFactory

pytestmark = pytest.mark.django_db

STRUCTURE_MODELS = [
    models.Region,
    models.City,
    models.Brand,
    models.DealerCenter,
    models.Site,
    models.Consignor,
    models.Department,
    models.Role,
    models.User,
    models.ApiToken,
]


def test_every_structure_model_is_registered():
    for model in STRUCTURE_MODELS:
        assert admin.site.is_registered(model), model


@pytest.fixture
def administrator():
    # An administrator by role, not a superuser: access must come from the rules.
    user = UserFactory(username="adm", roles=[RoleCode.ADMINISTRATOR], is_staff=True)
    assert not user.is_superuser
    return user


@pytest.mark.parametrize("model", STRUCTURE_MODELS, ids=lambda model: model.__name__)
def test_administrator_opens_every_changelist(client, administrator, model):
    DealerCenterFactory()
    client.force_login(administrator)
    url = reverse(f"admin:accounts_{model._meta.model_name}_changelist")

    assert client.get(url).status_code == 200


def test_administrator_edits_a_dealer_center_and_history_names_him(client, administrator):
    dealer_center = DealerCenterFactory(name="Мурманск CHERY")
    client.force_login(administrator)
    url = reverse("admin:accounts_dealercenter_change", args=[dealer_center.pk])
    page = client.get(url)
    assert page.status_code == 200

    response = client.post(
        url,
        {
            "code": dealer_center.code,
            "name": "Мурманск CHERY Центр",
            "city": dealer_center.city_id,
            "address": "пр. Кольский, 1",
            "time_zone": "Europe/Moscow",
            "phone": "+7 815 255-55-55",
            "email": "chery@example.com",
            "is_active": "on",
            "working_hours-TOTAL_FORMS": "1",
            "working_hours-INITIAL_FORMS": "0",
            "working_hours-MIN_NUM_FORMS": "0",
            "working_hours-MAX_NUM_FORMS": "7",
            "working_hours-0-weekday": "0",
            "working_hours-0-opens_at": "09:00",
            "working_hours-0-closes_at": "20:00",
            "days_off-TOTAL_FORMS": "1",
            "days_off-INITIAL_FORMS": "0",
            "days_off-MIN_NUM_FORMS": "0",
            "days_off-MAX_NUM_FORMS": "1000",
            "days_off-0-date": "31.12.2026",
            "days_off-0-name": "Инвентаризация",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    dealer_center.refresh_from_db()
    assert dealer_center.name == "Мурманск CHERY Центр"
    assert str(dealer_center.phone) == "+78152555555"
    assert dealer_center.working_hours.get().opens_at.hour == 9
    assert [(d.date.isoformat(), d.name) for d in dealer_center.days_off.all()] == [
        ("2026-12-31", "Инвентаризация")
    ]
    latest = dealer_center.history.latest()
    assert latest.history_user == administrator
    assert latest.name == "Мурманск CHERY Центр"


def test_invalid_time_zone_is_refused(client, administrator):
    dealer_center = DealerCenterFactory()
    client.force_login(administrator)
    url = reverse("admin:accounts_dealercenter_change", args=[dealer_center.pk])

    response = client.post(
        url,
        {
            "code": dealer_center.code,
            "name": dealer_center.name,
            "city": dealer_center.city_id,
            "address": dealer_center.address,
            "time_zone": "Mars/Olympus",
            "is_active": "on",
            "working_hours-TOTAL_FORMS": "0",
            "working_hours-INITIAL_FORMS": "0",
            "working_hours-MIN_NUM_FORMS": "0",
            "working_hours-MAX_NUM_FORMS": "7",
            "days_off-TOTAL_FORMS": "0",
            "days_off-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 200
    assert "time_zone" in response.context["adminform"].form.errors
    dealer_center.refresh_from_db()
    assert dealer_center.time_zone == "Europe/Moscow"


@pytest.mark.parametrize("role", [RoleCode.SALES_MANAGER, RoleCode.HEAD, RoleCode.MANAGEMENT])
def test_other_roles_cannot_use_the_admin(client, role):
    user = UserFactory(roles=[role], is_staff=False)
    client.force_login(user)

    response = client.get(reverse("admin:accounts_dealercenter_changelist"))

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
