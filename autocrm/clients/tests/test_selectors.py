import pytest

from autocrm.accounts.roles import RoleCode
from autocrm.accounts.tests.factories import DealerCenterFactory, UserFactory
from autocrm.clients.models import ClientKind
from autocrm.clients.selectors import client_list
from autocrm.clients.tests.factories import ClientFactory

pytestmark = pytest.mark.django_db


def test_clients_are_scoped_by_dealer_center_with_unrouted_ones_visible():
    own_dc, other_dc = DealerCenterFactory(), DealerCenterFactory()
    own = ClientFactory(dealer_center=own_dc)
    ClientFactory(dealer_center=other_dc)
    unrouted = ClientFactory(dealer_center=None)
    manager = UserFactory(roles=[RoleCode.SALES_MANAGER], dealer_centers=[own_dc])
    operator = UserFactory(roles=[RoleCode.OPERATOR])

    assert set(client_list(user=manager)) == {own, unrouted}
    assert client_list(user=operator).count() == 3


def test_display_name_of_people_and_companies():
    person = ClientFactory(last_name="Бродникова", first_name="Екатерина", middle_name="Леонидовна")
    company = ClientFactory(kind=ClientKind.COMPANY, company_name="ООО «Север»", last_name="")
    assert person.display_name == "Бродникова Екатерина Леонидовна"
    assert str(company) == "ООО «Север»"
