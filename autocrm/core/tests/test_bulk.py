"""update_rows writes the changed fields of many rows in one statement, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from autocrm.accounts.tests.factories import DealerCenterFactory
from autocrm.clients.tests.factories import ClientFactory
from autocrm.core.bulk import update_rows

pytestmark = pytest.mark.django_db


def test_update_rows_writes_each_rows_own_values(django_assert_num_queries):
    from autocrm.clients.models import Client

    first, second, untouched = ClientFactory(), ClientFactory(), ClientFactory(note="keep")
    dealer_center = DealerCenterFactory()
    first.note, first.dealer_center = "первая", dealer_center
    second.note, second.dealer_center = 'it\'s "quoted"', None
    first.created_at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    with django_assert_num_queries(1):
        update_rows(Client, [first, second], ["note", "dealer_center", "created_at"])

    rows = {c.pk: c for c in Client.objects.all()}
    assert (rows[first.pk].note, rows[first.pk].dealer_center_id) == ("первая", dealer_center.pk)
    assert rows[first.pk].created_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert (rows[second.pk].note, rows[second.pk].dealer_center_id) == ('it\'s "quoted"', None)
    assert rows[untouched.pk].note == "keep"
    with django_assert_num_queries(0):
        update_rows(Client, [], ["note"])
