"""History rows name who acted, also where there is no request (tasks, commands, scheduler).

This test lives in the top layer because it joins core's audit helpers with the accounts
models; core's own tests may not import accounts (import-linter layers contract).
"""

from __future__ import annotations

import pytest

from autocrm.accounts.models import DealerCenter
from autocrm.accounts.tests.factories import BrandFactory, DealerCenterFactory, UserFactory
from autocrm.core.audit import acting_user

pytestmark = pytest.mark.django_db


def make_dealer_center(**fields):
    # Untyped on purpose: factory-boy's stubs type a factory call as the factory itself.
    return DealerCenterFactory(**fields)


def test_history_row_names_the_acting_user():
    admin = UserFactory(username="admin", roles=["administrator"])
    dealer_center = make_dealer_center(name="CHERY Центр Мурманск")

    with acting_user(admin):
        dealer_center.address = "г. Мурманск, Кольский проспект, 114"
        dealer_center.save()

    latest = dealer_center.history.latest()
    assert latest.history_type == "~"
    assert latest.history_user == admin
    assert latest.address == "г. Мурманск, Кольский проспект, 114"


def test_history_row_without_an_actor_has_no_user():
    dealer_center = make_dealer_center()

    dealer_center.is_active = False
    dealer_center.save()

    assert dealer_center.history.latest().history_user is None


def test_m2m_change_inside_acting_user_is_attributed_too():
    admin = UserFactory(roles=["administrator"])
    dealer_center = make_dealer_center()
    brand = BrandFactory(name="Chery", code="chery")

    with acting_user(admin):
        dealer_center.brands.add(brand)

    assert dealer_center.history.latest().history_user == admin


def test_history_keeps_each_author_of_successive_edits():
    first, second = UserFactory(username="logist"), UserFactory(username="head")
    dealer_center = make_dealer_center()

    with acting_user(first):
        DealerCenter.objects.get(pk=dealer_center.pk).save()
    with acting_user(second):
        DealerCenter.objects.get(pk=dealer_center.pk).save()

    authors = [row.history_user for row in dealer_center.history.order_by("history_id")]
    assert authors == [None, first, second]


def test_acting_user_wins_over_the_request_user(rf):
    # A service called from a view passes the view's user as actor; the explicit actor is
    # what the history must show even if the request carries someone else.
    from simple_history.models import HistoricalRecords

    admin, other = UserFactory(username="admin"), UserFactory(username="other")
    request = rf.get("/")
    request.user = other
    HistoricalRecords.context.request = request
    try:
        dealer_center = make_dealer_center()
        with acting_user(admin):
            dealer_center.save()
        dealer_center.email = "changed@example.com"
        dealer_center.save()
    finally:
        del HistoricalRecords.context.request

    rows = list(dealer_center.history.order_by("history_id"))
    assert [row.history_user for row in rows] == [other, admin, other]
