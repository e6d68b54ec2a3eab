"""The UI's dealer-center switcher narrows the stock search, in both engines."""

import pytest

from autocrm.accounts.roles import RoleCode
from autocrm.accounts.tests.factories import DealerCenterFactory, SiteFactory, UserFactory
from autocrm.inventory.search import VehicleSearchParams, search_vehicles, search_vehicles_sql
from autocrm.inventory.tests.factories import VehicleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def stock():
    north, south, far = DealerCenterFactory(), DealerCenterFactory(), DealerCenterFactory()
    cars = {
        "north": VehicleFactory(site=SiteFactory(dealer_center=north)),
        "south": VehicleFactory(site=SiteFactory(dealer_center=south)),
        "far": VehicleFactory(site=SiteFactory(dealer_center=far)),
        "group": VehicleFactory(site=SiteFactory(dealer_center=None), dealer_center=None),
    }
    return north, south, far, cars


@pytest.mark.parametrize("engine", [search_vehicles, search_vehicles_sql], ids=["index", "sql"])
def test_switcher_narrows_to_one_dealer_center_plus_group_stock(stock, engine):
    north, south, far, cars = stock
    manager = UserFactory(roles=[RoleCode.SALES_MANAGER], dealer_centers=[north, south])
    params = VehicleSearchParams.from_query({})

    everything = engine(user=manager, params=params)
    narrowed = engine(user=manager, params=params, active_dealer_center_id=south.pk)
    # A dealer center he may not see is ignored, never honoured.
    ignored = engine(user=manager, params=params, active_dealer_center_id=far.pk)

    assert {car.pk for car in everything.items} == {
        cars["north"].pk,
        cars["south"].pk,
        cars["group"].pk,
    }
    assert {car.pk for car in narrowed.items} == {cars["south"].pk, cars["group"].pk}
    assert narrowed.count == 2
    assert sum(value.count for value in narrowed.facets["condition"]) == 2
    assert {car.pk for car in ignored.items} == {car.pk for car in everything.items}


def test_group_roles_narrow_too(stock):
    north, _, _, cars = stock
    director = UserFactory(roles=[RoleCode.MANAGEMENT])
    params = VehicleSearchParams.from_query({})

    result = search_vehicles(user=director, params=params, active_dealer_center_id=north.pk)

    assert {car.pk for car in result.items} == {cars["north"].pk, cars["group"].pk}
