"""The demo data command: contents, idempotency and the options the Makefile uses."""

from __future__ import annotations

import zoneinfo
from io import StringIO

import pytest
from django.core.management import call_command

from autocrm.accounts import demo
from autocrm.accounts.models import (
    Brand,
    City,
    Consignor,
    DealerCenter,
    Department,
    DepartmentKind,
    Region,
    Site,
    SiteKind,
    User,
    WorkingHours,
)
from autocrm.accounts.roles import GROUP_LEVEL_ROLES, RoleCode
from autocrm.accounts.tests.factories import DealerCenterFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _only_the_group(monkeypatch):
    # These tests are about the group and its users; the other apps' demo steps (2,400
    # cars ...) have their own tests and would only slow these down.
    monkeypatch.setattr(demo, "run_demo_steps", lambda: {})


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def all_counts() -> dict[str, int]:
    models = (Region, City, Brand, DealerCenter, WorkingHours, Site, Consignor, Department, User)
    counts = {model.__name__: model.objects.count() for model in models}
    for model in (DealerCenter, Site, Consignor, Department, User):
        counts[f"history of {model.__name__}"] = model.history.count()
    counts["user roles"] = User.roles.through.objects.count()
    counts["user dealer centers"] = User.dealer_centers.through.objects.count()
    counts["dealer center brands"] = DealerCenter.brands.through.objects.count()
    return counts


def test_builds_a_dealer_group_of_the_promised_size():
    output = seed()

    assert "Demo data is in place" in output
    assert Region.objects.count() >= 6
    assert City.objects.count() >= 6
    assert DealerCenter.objects.count() == 12
    assert set(Brand.objects.values_list("name", flat=True)) == {
        "Chery", "Haval", "Geely", "LADA", "Kia", "Hyundai", "Toyota", "Exeed",
    }  # fmt: skip
    for dealer_center in DealerCenter.objects.prefetch_related("brands", "working_hours"):
        assert 1 <= dealer_center.brands.count() <= 2, dealer_center
        assert dealer_center.address.startswith(f"г. {dealer_center.city.name}")
        assert dealer_center.phone.is_valid(), dealer_center
        assert dealer_center.time_zone == dealer_center.city.time_zone
        assert dealer_center.working_hours.count() >= 5, dealer_center
        # every dealer center has its showroom lot and a consignor
        assert dealer_center.sites.filter(kind=SiteKind.SHOWROOM_AND_STORAGE).count() == 1
        assert dealer_center.consignors.count() == 1
    assert Site.objects.filter(kind=SiteKind.STORAGE, dealer_center__isnull=True).count() >= 1
    assert Site.objects.filter(kind=SiteKind.STORAGE, dealer_center__isnull=False).count() >= 1


@pytest.mark.parametrize(
    ("city", "time_zone"),
    [
        ("Мурманск", "Europe/Moscow"),
        ("Санкт-Петербург", "Europe/Moscow"),
        ("Москва", "Europe/Moscow"),
        ("Екатеринбург", "Asia/Yekaterinburg"),
        ("Новосибирск", "Asia/Novosibirsk"),
        ("Казань", "Europe/Moscow"),
        ("Краснодар", "Europe/Moscow"),
    ],
)
def test_cities_carry_their_iana_zone(city, time_zone):
    seed()
    assert City.objects.get(name=city).time_zone == time_zone
    zoneinfo.ZoneInfo(time_zone)  # a real IANA name


def test_murmansk_chery_dealer_center_site_and_consignor():
    seed()

    dealer_center = DealerCenter.objects.get(city__name="Мурманск", brands__code="chery")
    site = Site.objects.get(name="Мурманск CHERY")
    consignor = Consignor.objects.get(name="Мурманск CHERY")

    assert site.city.name == "Мурманск"
    assert site.dealer_center == dealer_center
    assert consignor.city is not None
    assert consignor.city.name == "Мурманск"
    assert consignor.dealer_center == dealer_center
    assert dealer_center.city.region.name == "Мурманская область"


def test_standard_working_hours_are_weekdays_9_to_20_and_weekends_10_to_18():
    seed()
    dealer_center = DealerCenter.objects.get(code="spb-geely-pulkovo")
    hours = {
        row.weekday: (row.opens_at.strftime("%H:%M"), row.closes_at.strftime("%H:%M"))
        for row in dealer_center.working_hours.all()
    }
    assert hours == {
        0: ("09:00", "20:00"),
        1: ("09:00", "20:00"),
        2: ("09:00", "20:00"),
        3: ("09:00", "20:00"),
        4: ("09:00", "20:00"),
        5: ("10:00", "18:00"),
        6: ("10:00", "18:00"),
    }


def _inn_is_valid(inn: str) -> bool:
    weights = (2, 4, 10, 3, 5, 9, 4, 6, 8)
    check = sum(int(d) * w for d, w in zip(inn[:9], weights, strict=True)) % 11 % 10
    return len(inn) == 10 and inn.isdigit() and check == int(inn[9])


def test_consignors_have_checksum_valid_legal_entity_numbers():
    seed()
    for consignor in Consignor.objects.all():
        assert _inn_is_valid(consignor.inn), consignor.inn
        assert len(consignor.kpp) == 9
        assert consignor.kpp.isdigit()
        assert consignor.kpp[:4] == consignor.inn[:4]
        assert len(consignor.ogrn) == 13
        assert int(consignor.ogrn[:12]) % 11 % 10 == int(consignor.ogrn[12])
        assert consignor.legal_name.startswith("ООО")
    assert Consignor.objects.filter(dealer_center__isnull=True).exists()


def test_departments_group_level_and_per_dealer_center():
    seed()
    group_kinds = set(
        Department.objects.filter(dealer_center__isnull=True).values_list("kind", flat=True)
    )
    assert {DepartmentKind.CONTACT_CENTER, DepartmentKind.MANAGEMENT} <= group_kinds
    for dealer_center in DealerCenter.objects.all():
        kinds = set(dealer_center.departments.values_list("kind", flat=True))
        assert {DepartmentKind.SALES, DepartmentKind.SERVICE, DepartmentKind.LOGISTICS} <= kinds
    assert Department.objects.filter(kind=DepartmentKind.BUY_OUT).count() >= 6


def test_every_role_has_a_demo_user_with_the_demo_password():
    seed()
    for code in RoleCode.values:
        users = User.objects.filter(roles__code=code, is_active=True)
        assert users.exists(), f"no demo user for role {code}"
        for user in users:
            assert user.check_password(demo.DEMO_PASSWORD)
            assert user.last_name
            assert user.first_name
            if code not in GROUP_LEVEL_ROLES:
                assert 1 <= user.dealer_centers.count() <= 2, user.username

    admin = User.objects.get(username="admin")
    assert admin.is_superuser
    assert admin.is_staff
    assert admin.has_role(RoleCode.ADMINISTRATOR)


def test_demo_password_passes_the_password_validators():
    from django.contrib.auth.password_validation import validate_password

    assert len(demo.DEMO_PASSWORD) >= 12
    validate_password(demo.DEMO_PASSWORD, User(username="operator"))


def test_running_twice_duplicates_nothing_and_writes_no_history():
    seed()
    first = all_counts()
    seed()
    assert all_counts() == first


def test_second_run_repairs_what_was_changed():
    seed()
    manager = User.objects.get(username="manager")
    manager.set_password("something-else-entirely")
    manager.save()
    manager.roles.clear()
    DealerCenter.objects.filter(code="murmansk-chery").update(address="moved")

    seed()

    manager.refresh_from_db()
    assert manager.check_password(demo.DEMO_PASSWORD)
    assert manager.has_role(RoleCode.SALES_MANAGER)
    assert DealerCenter.objects.get(code="murmansk-chery").address.startswith("г. Мурманск")
    assert DealerCenter.objects.count() == 12


def test_if_empty_does_nothing_when_a_dealer_center_exists():
    DealerCenterFactory()

    output = seed("--if-empty")

    assert "already exist" in output
    assert DealerCenter.objects.count() == 1
    assert not User.objects.exists()


def test_if_empty_loads_an_empty_database():
    seed("--if-empty")
    assert DealerCenter.objects.count() == 12


def test_print_logins_prints_the_table_and_changes_nothing():
    seed()
    User.objects.filter(username="manager").update(first_name="Пётр")
    before = all_counts()

    output = seed("--print-logins")

    assert all_counts() == before
    assert User.objects.get(username="manager").first_name == "Пётр"
    lines = output.splitlines()
    assert demo.DEMO_PASSWORD in lines[0]
    assert lines[1].split()[:4] == ["username", "password", "roles", "dealer"]
    for spec in demo.DEMO_USERS:
        row = next(line for line in lines if line.startswith(spec.username + " "))
        assert demo.DEMO_PASSWORD in row
    admin_row = next(line for line in lines if line.startswith("admin "))
    assert "все (группа)" in admin_row
    manager_row = next(line for line in lines if line.startswith("manager "))
    assert "CHERY Центр Мурманск" in manager_row


def test_print_logins_on_an_empty_database_says_what_to_do():
    output = seed("--print-logins")
    assert "seed_demo" in output
    assert not DealerCenter.objects.exists()
