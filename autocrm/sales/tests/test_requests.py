"""GET /api/v1/requests and the /sales/requests/ page: filters, scoping, client links."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from autocrm.accounts.services import api_token_create
from autocrm.accounts.tests.factories import DealerCenterFactory, UserFactory
from autocrm.clients.tests.factories import ClientFactory
from autocrm.sales.models import Request, RequestStatus

pytestmark = pytest.mark.django_db


def _request(dealer_center: Any, source: str, day: datetime, **extra: Any) -> Request:
    return Request.objects.create(
        client=ClientFactory.create(),
        source=source,
        dealer_center=dealer_center,
        topic=f"{source} topic",
        opened_at=day,
        last_activity_at=day,
        **extra,
    )


@pytest.fixture
def world() -> dict[str, Any]:
    dc_a = DealerCenterFactory.create(name="A")
    dc_b = DealerCenterFactory.create(name="B")
    now = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    return {
        "dc_a": dc_a,
        "dc_b": dc_b,
        "now": now,
        "visit_a": _request(dc_a, "visit", now - timedelta(days=1)),
        "telegram_a": _request(
            dc_a, "telegram", now - timedelta(days=10), status=RequestStatus.IN_PROGRESS
        ),
        "phone_b": _request(dc_b, "telephony", now - timedelta(days=2)),
        "form_central": _request(None, "webform", now - timedelta(days=3)),
        "operator": UserFactory.create(username="operator", roles=["operator"]),
        "sales_a": UserFactory.create(
            username="sales_a", roles=["sales_manager"], dealer_centers=[dc_a]
        ),
        "hostess_a": UserFactory.create(
            username="hostess_a", roles=["hostess"], dealer_centers=[dc_a]
        ),
    }


def _api(client: Any, user: Any, query: str = "") -> Any:
    token = api_token_create(actor=None, user=user, name="t").token
    return client.get(f"/api/v1/requests{query}", HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.mark.parametrize(
    ("user", "query", "expected"),
    [
        ("operator", "", ["visit_a", "phone_b", "form_central", "telegram_a"]),
        ("sales_a", "", ["visit_a", "telegram_a"]),
        ("operator", "?source=telephony", ["phone_b"]),
        ("operator", "?status=in_progress", ["telegram_a"]),
        ("operator", "?dealer_center_id={dc_a}", ["visit_a", "telegram_a"]),
        ("sales_a", "?dealer_center_id={dc_b}", []),
        ("operator", "?opened_from={day3}&opened_to={day2}", ["phone_b", "form_central"]),
    ],
)
def test_api_filters_and_scope(
    client: Any, world: dict[str, Any], user: str, query: str, expected: list[str]
) -> None:
    now = world["now"]
    query = query.format(
        dc_a=world["dc_a"].pk,
        dc_b=world["dc_b"].pk,
        day3=timezone.localdate(now - timedelta(days=3)).isoformat(),
        day2=timezone.localdate(now - timedelta(days=2)).isoformat(),
    )

    response = _api(client, world[user], query)

    assert response.status_code == 200, response.content
    body = response.json()
    assert [item["id"] for item in body["items"]] == [world[name].pk for name in expected]
    assert body["count"] == len(expected)


def test_api_item_fields(client: Any, world: dict[str, Any]) -> None:
    request = world["visit_a"]

    item = _api(client, world["sales_a"], "?source=visit").json()["items"][0]

    assert item == {
        "id": request.pk,
        "client_id": request.client_id,
        "client_name": request.client.display_name,
        "source": "visit",
        "channel_id": None,
        "topic": "visit topic",
        "dealer_center_id": world["dc_a"].pk,
        "status": "new",
        "responsible_id": None,
        "opened_at": item["opened_at"],
        "last_activity_at": item["last_activity_at"],
        "touches": 1,
    }


def test_api_refuses_bad_filters_and_other_roles(client: Any, world: dict[str, Any]) -> None:
    bad = _api(client, world["operator"], "?source=pigeon")
    refused = _api(client, world["hostess_a"])

    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "source"
    assert refused.status_code == 403


def test_api_detail_is_scoped(client: Any, world: dict[str, Any]) -> None:
    token = api_token_create(actor=None, user=world["sales_a"], name="t").token
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    assert client.get(f"/api/v1/requests/{world['visit_a'].pk}", **headers).status_code == 200
    assert client.get(f"/api/v1/requests/{world['phone_b'].pk}", **headers).status_code == 404


def _page_ids(html: str) -> list[int]:
    return [int(value) for value in re.findall(r'<tr id="request-(\d+)"', html)]


def test_page_lists_and_filters(client: Any, world: dict[str, Any]) -> None:
    client.force_login(world["operator"])

    everything = client.get("/sales/requests/").content.decode()
    visits = client.get("/sales/requests/", {"source": "visit"}).content.decode()
    in_b = client.get("/sales/requests/", {"dealer_center": world["dc_b"].pk}).content.decode()
    by_dates = client.get(
        "/sales/requests/",
        {
            "opened_from": timezone.localdate(world["now"] - timedelta(days=3)).isoformat(),
            "opened_to": timezone.localdate(world["now"] - timedelta(days=2)).isoformat(),
        },
    ).content.decode()

    assert _page_ids(everything) == [
        world[name].pk for name in ("visit_a", "phone_b", "form_central", "telegram_a")
    ]
    assert f'href="/clients/{world["visit_a"].client_id}/"' in everything
    assert _page_ids(visits) == [world["visit_a"].pk]
    assert _page_ids(in_b) == [world["phone_b"].pk]
    assert _page_ids(by_dates) == [world["phone_b"].pk, world["form_central"].pk]
    # Every open request offers its qualification into a deal.
    assert f'href="/sales/deals/new/?request={world["visit_a"].pk}"' in everything


def test_page_is_scoped_and_refused_to_others(client: Any, world: dict[str, Any]) -> None:
    client.force_login(world["sales_a"])
    html = client.get("/sales/requests/").content.decode()
    client.force_login(world["hostess_a"])

    assert _page_ids(html) == [world["visit_a"].pk, world["telegram_a"].pk]
    assert client.get("/sales/requests/").status_code == 403
