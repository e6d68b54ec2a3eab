import pytest

from autocrm.accounts.models import DealerCenter, Site
from autocrm.accounts.roles import RoleCode
from autocrm.accounts.scoping import (
    can_see_dealer_center,
    scope_queryset,
    visible_dealer_center_ids,
    visible_dealer_centers,
)
from autocrm.accounts.selectors import city_list, site_list, user_list
from autocrm.accounts.tests.factories import DealerCenterFactory, SiteFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def group():
    murmansk = DealerCenterFactory(name="Мурманск CHERY")
    kazan = DealerCenterFactory(name="Казань Haval")
    moscow = DealerCenterFactory(name="Москва Geely")
    return murmansk, kazan, moscow


def test_employee_sees_only_attached_dealer_centers(group):
    murmansk, kazan, moscow = group
    manager = UserFactory(roles=[RoleCode.SALES_MANAGER], dealer_centers=[murmansk, kazan])

    assert visible_dealer_center_ids(manager) == frozenset({murmansk.pk, kazan.pk})
    assert set(visible_dealer_centers(manager)) == {murmansk, kazan}
    assert can_see_dealer_center(manager, kazan.pk)
    assert not can_see_dealer_center(manager, moscow.pk)
    assert not can_see_dealer_center(manager, None)


@pytest.mark.parametrize("role", [RoleCode.MANAGEMENT, RoleCode.ADMINISTRATOR, RoleCode.OPERATOR])
def test_group_level_roles_see_everything(group, role):
    user = UserFactory(roles=[role])

    assert visible_dealer_center_ids(user) is None
    assert set(visible_dealer_centers(user)) == set(group)


def test_superuser_sees_everything(group):
    root = UserFactory(is_superuser=True)
    assert set(visible_dealer_centers(root)) == set(group)


def test_head_of_dealer_center_is_not_group_level(group):
    murmansk, _, _ = group
    head = UserFactory(roles=[RoleCode.HEAD], dealer_centers=[murmansk])
    assert list(visible_dealer_centers(head)) == [murmansk]


def test_user_without_dealer_center_sees_nothing(group):
    lawyer = UserFactory(roles=[RoleCode.LAWYER])
    assert visible_dealer_center_ids(lawyer) == frozenset()
    assert not visible_dealer_centers(lawyer).exists()


def test_anonymous_and_inactive_users_see_nothing(group):
    from django.contrib.auth.models import AnonymousUser

    inactive = UserFactory(roles=[RoleCode.MANAGEMENT], is_active=False)
    assert visible_dealer_center_ids(AnonymousUser()) == frozenset()
    assert visible_dealer_center_ids(inactive) == frozenset()
    assert visible_dealer_center_ids(None) == frozenset()


def test_related_rows_are_filtered_through_the_given_field(group):
    murmansk, kazan, _ = group
    own = SiteFactory(dealer_center=murmansk)
    SiteFactory(dealer_center=kazan)
    shared = SiteFactory(dealer_center=None)
    manager = UserFactory(roles=[RoleCode.SALES_MANAGER], dealer_centers=[murmansk])

    assert list(scope_queryset(Site.objects.all(), manager)) == [own]
    assert set(scope_queryset(Site.objects.all(), manager, include_unassigned=True)) == {
        own,
        shared,
    }
    assert set(site_list(user=manager)) == {own, shared}


def test_active_dealer_center_narrows_but_never_widens(group):
    murmansk, kazan, moscow = group
    manager = UserFactory(roles=[RoleCode.SALES_MANAGER], dealer_centers=[murmansk, kazan])
    director = UserFactory(roles=[RoleCode.MANAGEMENT])
    dealer_centers = DealerCenter.objects.all()

    narrowed = scope_queryset(dealer_centers, manager, field="pk", active_dealer_center_id=kazan.pk)
    assert list(narrowed) == [kazan]
    # A dealer center the user may not see is ignored rather than honoured.
    ignored = scope_queryset(dealer_centers, manager, field="pk", active_dealer_center_id=moscow.pk)
    assert set(ignored) == {murmansk, kazan}
    everything = scope_queryset(
        dealer_centers, director, field="pk", active_dealer_center_id=moscow.pk
    )
    assert list(everything) == [moscow]


def test_city_list_contains_cities_of_visible_dealer_centers_and_sites(group):
    murmansk, kazan, moscow = group
    storage = SiteFactory(dealer_center=murmansk, city=moscow.city)
    manager = UserFactory(roles=[RoleCode.SALES_MANAGER], dealer_centers=[murmansk])

    assert set(city_list(user=manager)) == {murmansk.city, storage.city}
    assert kazan.city not in set(city_list(user=manager))
    assert city_list(user=manager).count() == 2  # no duplicates from the joins


def test_user_list_is_scoped_and_distinct(group):
    murmansk, kazan, _ = group
    colleague = UserFactory(dealer_centers=[murmansk, kazan])
    stranger = UserFactory(dealer_centers=[kazan])
    head = UserFactory(roles=[RoleCode.HEAD], dealer_centers=[murmansk])

    visible = list(user_list(user=head))
    assert set(visible) == {colleague, head}
    assert stranger not in visible
    assert len(visible) == 2
