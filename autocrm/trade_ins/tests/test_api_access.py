"""The trade-in endpoints in the API-wide authorization world (accounts' test): what each
named user gets. ``EXPECTATIONS`` below are the lines for that test's table."""

from __future__ import annotations

from typing import Any

import pytest

from autocrm.accounts.tests.test_api_authorization import (
    NAMED_USERS,
    Endpoint,
    Expect,
    World,
    api_endpoints,
    call,
    database_snapshot,
    world,  # noqa: F401  (the fixture)
)

EXPECTATIONS: dict[str, Expect] = {
    # Trade-ins (trade_ins/tests/test_api.py for bodies, scoping and refusals): nothing of
    # orders exists in this world, so order and trade-in ids are 404 for whoever may ask.
    "POST /api/v1/orders/{order_id}/trade-ins": Expect(default_status=404),
    "GET /api/v1/orders/{order_id}/trade-ins": Expect(default_status=404),
    "GET /api/v1/trade-ins/{trade_in_id}": Expect(default_status=404),
    # The query names no dealer center and no date: 400 for everybody.
    "GET /api/v1/trade-ins/free-slots": Expect(default_status=400),
    "POST /api/v1/trade-ins/{trade_in_id}/reschedule": Expect(default_status=404),
    "POST /api/v1/trade-ins/{trade_in_id}/cancel": Expect(default_status=404),
    # Appraising and taking into stock: appraisers and heads, not the sales floor.
    "POST /api/v1/trade-ins/{trade_in_id}/appraisal": Expect(
        default_status=404, status={"sales_a": 403, "sales_b": 403}
    ),
    "POST /api/v1/trade-ins/{trade_in_id}/photos": Expect(
        default_status=404, status={"sales_a": 403, "sales_b": 403}
    ),
    "POST /api/v1/trade-ins/{trade_in_id}/take-into-stock": Expect(
        default_status=404, status={"sales_a": 403, "sales_b": 403}
    ),
    "POST /api/v1/trade-ins/{trade_in_id}/accept": Expect(default_status=404),
    "POST /api/v1/trade-ins/{trade_in_id}/decline": Expect(default_status=404),
    # Calendars: appraisers (their own), heads and sales; the user is no appraiser: 404.
    "GET /api/v1/appraisers/{user_id}/calendar": Expect(
        default_status=404, params=lambda the_world: {"user_id": the_world.users["sales_a"].pk}
    ),
}


def trade_in_endpoints() -> list[Any]:
    return [
        pytest.param(endpoint, id=endpoint.key)
        for endpoint in api_endpoints()
        if "/trade-ins" in endpoint.path or "/appraisers/" in endpoint.path
    ]


def test_every_trade_in_endpoint_is_declared() -> None:
    keys = {endpoint.key for endpoint in api_endpoints()}
    mine = {key for key in keys if "/trade-ins" in key or "/appraisers/" in key}
    assert mine == set(EXPECTATIONS)


@pytest.mark.parametrize("endpoint", trade_in_endpoints())
def test_named_users_get_the_declared_answer(
    client: Any,
    world: World,  # noqa: F811
    endpoint: Endpoint,
) -> None:
    expect = EXPECTATIONS[endpoint.key]
    before = database_snapshot()

    for user in NAMED_USERS:
        response = call(
            client,
            endpoint,
            endpoint.url(**expect.params(world)),
            HTTP_AUTHORIZATION=f"Bearer {world.tokens[user]}",
        )

        assert response.status_code == expect.status_for(user), (user, response.content)
        assert response["Content-Type"] == "application/json; charset=utf-8"
        assert set(response.json()) == {"detail", "errors"}
    assert database_snapshot() == before


@pytest.mark.parametrize("endpoint", trade_in_endpoints())
def test_anonymous_calls_get_401(client: Any, world: World, endpoint: Endpoint) -> None:  # noqa: F811
    expect = EXPECTATIONS[endpoint.key]

    response = call(client, endpoint, endpoint.url(**expect.params(world)))

    assert response.status_code == 401
