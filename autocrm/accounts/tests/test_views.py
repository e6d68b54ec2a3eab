"""HTML views of the accounts app: scoping, permissions, the dealer-center switcher."""

import datetime as dt

import pytest
from django.urls import reverse

from autocrm.accounts.middleware import SESSION_KEY
from autocrm.accounts.models import WorkingHours
from autocrm.accounts.roles import RoleCode
from autocrm.accounts.tests.factories import (
    BrandFactory,
    DealerCenterFactory,
    DepartmentFactory,
    SiteFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

LIST = reverse("accounts:dealer_center_list")
STAFF = reverse("accounts:user_list")
SWITCH = reverse("accounts:switch_dealer_center")


@pytest.fixture
def murmansk():
    return DealerCenterFactory(name="Chery Murmansk")


@pytest.fixture
def kazan():
    return DealerCenterFactory(name="Haval Kazan")


@pytest.fixture
def manager(murmansk):
    return UserFactory(
        username="manager", roles=[RoleCode.SALES_MANAGER], dealer_centers=[murmansk]
    )


@pytest.fixture
def boss(murmansk, kazan):
    return UserFactory(username="boss", roles=[RoleCode.MANAGEMENT])


def names(response):
    return [dealer_center.name for dealer_center in response.context["page"].object_list]


def nav_keys(response):
    return [item["key"] for item in response.context["nav_items"]]


@pytest.mark.parametrize("url", [LIST, STAFF, "/structure/dealer-centers/1/"])
def test_anonymous_is_sent_to_login(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"


def test_sales_manager_lists_only_his_dealer_center(client, manager, kazan):
    client.force_login(manager)

    response = client.get(LIST)

    assert response.status_code == 200
    assert names(response) == ["Chery Murmansk"]
    assert "Haval Kazan" not in response.content.decode()


def test_management_lists_every_dealer_center(client, boss):
    client.force_login(boss)

    response = client.get(LIST)

    assert sorted(names(response)) == ["Chery Murmansk", "Haval Kazan"]


def test_dealer_center_list_shows_brands_and_links_to_detail(client, boss, murmansk):
    murmansk.brands.set([BrandFactory(name="Chery")])
    client.force_login(boss)

    html = client.get(LIST).content.decode()

    assert "Chery</span>" in html
    assert reverse("accounts:dealer_center_detail", args=[murmansk.pk]) in html


def test_dealer_center_list_is_paginated(client, boss):
    for number in range(60):
        DealerCenterFactory(name=f"Extra {number:02}")
    client.force_login(boss)

    first = client.get(LIST)
    last = client.get(LIST, {"page": 2})

    assert len(first.context["page"].object_list) == 50
    assert len(last.context["page"].object_list) == 12
    assert 'href="?page=2"' in first.content.decode()


def test_detail_shows_hours_sites_and_departments(client, manager, murmansk):
    WorkingHours.objects.create(
        dealer_center=murmansk, weekday=0, opens_at=dt.time(9), closes_at=dt.time(20)
    )
    SiteFactory(dealer_center=murmansk, name="Kola avenue lot")
    DepartmentFactory(dealer_center=murmansk, name="New car sales")
    client.force_login(manager)

    response = client.get(reverse("accounts:dealer_center_detail", args=[murmansk.pk]))

    assert response.status_code == 200
    week = response.context["working_week"]
    assert len(week) == 7
    assert week[0]["hours"].opens_at == dt.time(9)
    assert [day["hours"] for day in week[1:]] == [None] * 6
    html = response.content.decode()
    assert "09:00–20:00" in html
    assert "Kola avenue lot" in html
    assert "New car sales" in html


def test_detail_of_a_foreign_dealer_center_is_404(client, manager, kazan):
    client.force_login(manager)

    response = client.get(reverse("accounts:dealer_center_detail", args=[kazan.pk]))

    assert response.status_code == 404
    assert "Haval Kazan" not in response.content.decode()


def test_staff_page_is_403_for_a_sales_manager(client, manager):
    client.force_login(manager)

    response = client.get(STAFF)

    assert response.status_code == 403
    assert "staff" not in nav_keys(response)


@pytest.mark.parametrize("role", [RoleCode.ADMINISTRATOR, RoleCode.MANAGEMENT, RoleCode.OPERATOR])
def test_staff_page_lists_employees_for_allowed_roles(client, manager, role):
    client.force_login(UserFactory(username="viewer", roles=[role]))

    response = client.get(STAFF)

    assert response.status_code == 200
    usernames = [user.username for user in response.context["page"].object_list]
    assert "manager" in usernames
    assert "Chery Murmansk" in response.content.decode()


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (
            RoleCode.ADMINISTRATOR,
            [
                "home",
                "stock",
                "clients",
                "inbox",
                "requests",
                "deals",
                "orders",
                "credit",
                "appraisals",
                "promotions",
                "tasks",
                "control",
                "visit",
                "structure",
                "staff",
                "admin",
            ],
        ),
        (
            RoleCode.MANAGEMENT,
            [
                "home",
                "stock",
                "clients",
                "inbox",
                "requests",
                "deals",
                "orders",
                "credit",
                "appraisals",
                "promotions",
                "tasks",
                "control",
                "structure",
                "staff",
            ],
        ),
        (
            RoleCode.OPERATOR,
            [
                "home",
                "stock",
                "clients",
                "inbox",
                "requests",
                "deals",
                "tasks",
                "structure",
                "staff",
            ],
        ),
        (
            RoleCode.SALES_MANAGER,
            [
                "home",
                "stock",
                "clients",
                "inbox",
                "requests",
                "deals",
                "orders",
                "credit",
                "appraisals",
                "tasks",
                "structure",
            ],
        ),
        (RoleCode.HOSTESS, ["home", "stock", "clients", "tasks", "visit", "structure"]),
    ],
)
def test_navigation_by_role(client, murmansk, role, expected):
    client.force_login(UserFactory(roles=[role], dealer_centers=[murmansk]))

    response = client.get(LIST)

    assert nav_keys(response) == expected
    active = [item["key"] for item in response.context["nav_items"] if item["active"]]
    assert active == ["structure"]


# The dealer-center switcher


def test_switcher_narrows_lists_and_keeps_the_choice(client, boss, kazan):
    client.force_login(boss)

    response = client.post(SWITCH, {"dealer_center": str(kazan.pk), "next": LIST})

    assert response.status_code == 302
    assert response["Location"] == LIST
    assert client.session[SESSION_KEY] == kazan.pk
    listed = client.get(LIST)
    assert names(listed) == ["Haval Kazan"]
    assert listed.context["active_dealer_center"] == kazan


def test_switcher_empty_value_returns_to_all(client, boss, kazan):
    client.force_login(boss)
    client.post(SWITCH, {"dealer_center": str(kazan.pk)})

    response = client.post(SWITCH, {"dealer_center": "", "next": LIST})

    assert response.status_code == 302
    assert SESSION_KEY not in client.session
    assert sorted(names(client.get(LIST))) == ["Chery Murmansk", "Haval Kazan"]


def test_switcher_refuses_a_dealer_center_the_user_cannot_see(client, manager, murmansk, kazan):
    client.force_login(manager)
    client.post(SWITCH, {"dealer_center": str(murmansk.pk)})

    response = client.post(SWITCH, {"dealer_center": str(kazan.pk), "next": LIST})

    assert response.status_code == 404
    assert client.session[SESSION_KEY] == murmansk.pk


@pytest.mark.parametrize("value", ["abc", "1.5", "1; DROP TABLE"])
def test_switcher_refuses_a_non_numeric_value(client, boss, value):
    client.force_login(boss)

    response = client.post(SWITCH, {"dealer_center": value})

    assert response.status_code == 400
    assert SESSION_KEY not in client.session


def test_switcher_does_not_redirect_to_another_site(client, boss, kazan):
    client.force_login(boss)

    response = client.post(
        SWITCH, {"dealer_center": str(kazan.pk), "next": "https://evil.example/phish"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/"


def test_switcher_accepts_only_post(client, boss):
    client.force_login(boss)

    assert client.get(SWITCH).status_code == 405


def test_switcher_requires_login(client, kazan):
    response = client.post(SWITCH, {"dealer_center": str(kazan.pk)})

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert SESSION_KEY not in client.session


def test_switcher_is_offered_only_with_more_than_one_dealer_center(client, manager, boss):
    client.force_login(manager)
    assert 'id="dealer-center-switcher"' not in client.get(LIST).content.decode()

    client.force_login(boss)
    html = client.get(LIST).content.decode()
    assert 'id="dealer-center-switcher"' in html
    assert f'action="{SWITCH}"' in html
