"""Who may call which API endpoint, and which rows each caller gets back.

The endpoints are discovered from the ninja API object itself, so an endpoint that another
app mounts later is covered without touching this file: anonymous and bad-token calls
must get 401 and change nothing, and no named user may get a 5xx. What each named user
may see is declared in ``EXPECTATIONS``; a test fails for any endpoint without an entry,
so nobody ships an endpoint whose access rules were never written down.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.apps import apps
from django.urls import resolve, reverse
from django.utils import timezone
from ninja import NinjaAPI

from autocrm.accounts.models import ApiToken, User
from autocrm.accounts.services import api_token_create
from autocrm.accounts.tests.factories import (
    CityFactory,
    DealerCenterFactory,
    SiteFactory,
    UserFactory,
)
from autocrm.clients.tests.factories import ClientFactory
from autocrm.inventory.services import reservation_create
from autocrm.inventory.tests.factories import VehicleFactory

NAMED_USERS = ("administrator", "management", "head_a", "sales_a", "sales_b")


def the_api() -> NinjaAPI:
    # The composed API lives in autocrm.config, the top layer; reaching it through the
    # URLconf, as a client does, keeps this app's tests inside the import-layer contract.
    view = inspect.unwrap(resolve(reverse("api:openapi-json")).func)
    api = view.keywords["api"]  # the view is functools.partial(openapi_json, api=...)
    assert isinstance(api, NinjaAPI)
    return api


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # with {placeholders}, e.g. /api/v1/sites/{site_id}

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    def url(self, **params: Any) -> str:
        # Placeholders without a value get an id that exists nowhere (the route must
        # still refuse anonymous callers before looking anything up).
        return re.sub(r"{(\w+)}", lambda m: str(params.get(m.group(1), 999_999)), self.path)


def api_endpoints() -> list[Endpoint]:
    api = the_api()
    base = reverse("api:api-root").rstrip("/")
    found: list[Endpoint] = []
    for bound in api._get_bound_routers():
        for route, path_view in bound.path_operations.items():
            parts = [part.strip("/") for part in (bound.prefix, route) if part.strip("/")]
            path = base + "/" + "/".join(parts)
            for operation in path_view.operations:
                found.extend(Endpoint(method.upper(), path) for method in operation.methods)
    return sorted(set(found), key=lambda endpoint: endpoint.key)


# --- the world: two dealer centers and five named users -----------------------------


@dataclass
class World:
    objects: dict[str, Any]
    users: dict[str, User]
    tokens: dict[str, str]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.objects[name]
        except KeyError:
            raise AttributeError(name) from None


@pytest.fixture
def world(db: Any) -> World:
    city_a, city_b, city_central = CityFactory.create(), CityFactory.create(), CityFactory.create()
    dc_a = DealerCenterFactory.create(name="Dealer center A", city=city_a)
    dc_b = DealerCenterFactory.create(name="Dealer center B", city=city_b)
    site_a = SiteFactory.create(name="Site A", dealer_center=dc_a)
    site_b = SiteFactory.create(name="Site B", dealer_center=dc_b)
    # A group-wide storage yard tied to no dealer center: everybody sees it.
    site_central = SiteFactory.create(name="Central storage", dealer_center=None, city=city_central)
    users = {
        "administrator": UserFactory.create(username="administrator", roles=["administrator"]),
        "management": UserFactory.create(username="management", roles=["management"]),
        "head_a": UserFactory.create(username="head_a", roles=["head"], dealer_centers=[dc_a]),
        "sales_a": UserFactory.create(
            username="sales_a", roles=["sales_manager"], dealer_centers=[dc_a]
        ),
        "sales_b": UserFactory.create(
            username="sales_b", roles=["sales_manager"], dealer_centers=[dc_b]
        ),
    }
    tokens = {
        name: api_token_create(actor=None, user=user, name="tests").token
        for name, user in users.items()
    }
    # Stock: one car per site; vehicle_a is reserved (a second reservation is refused).
    vehicles = {
        f"vehicle_{name}": VehicleFactory.create(site=site)
        for name, site in (("a", site_a), ("b", site_b), ("central", site_central))
    }
    reservation_create(actor=users["sales_a"], vehicle=vehicles["vehicle_a"])
    # Clients: one per dealer center and one routed nowhere yet (everybody sees it).
    clients = {
        f"client_{name}": ClientFactory.create(dealer_center=dealer_center)
        for name, dealer_center in (("a", dc_a), ("b", dc_b), ("free", None))
    }
    objects = {
        **vehicles,
        **clients,
        "city_a": city_a,
        "city_b": city_b,
        "city_central": city_central,
        "dc_a": dc_a,
        "dc_b": dc_b,
        "site_a": site_a,
        "site_b": site_b,
        "site_central": site_central,
    }
    return World(objects=objects, users=users, tokens=tokens)


def database_snapshot() -> dict[str, int]:
    """Row counts of every table except the token's own last-use bookkeeping."""
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.managed and not model._meta.proxy
    }


# --- the table: what each named user gets from each endpoint -------------------------


@dataclass(frozen=True)
class Expect:
    """Expected answer per named user.

    ``status``: user name -> HTTP status (users not named get ``default_status``).
    ``rows``: for list endpoints, user name -> names (world attributes) of the rows the
    user must get, exactly. ``params``: path parameters, from the world.
    """

    default_status: int = 200
    status: dict[str, int] = field(default_factory=dict)
    rows: dict[str, set[str]] = field(default_factory=dict)
    params: Callable[[World], dict[str, Any]] = lambda world: {}

    def status_for(self, user: str) -> int:
        return self.status.get(user, self.default_status)


def same_for(users: set[str], rows: set[str]) -> dict[str, set[str]]:
    return dict.fromkeys(users, rows)


GROUP = {"administrator", "management"}
A_STAFF = {"head_a", "sales_a"}

EXPECTATIONS: dict[str, Expect] = {
    "GET /api/v1/me": Expect(),
    "GET /api/v1/dealer-centers": Expect(
        rows={
            **same_for(GROUP, {"dc_a", "dc_b"}),
            **same_for(A_STAFF, {"dc_a"}),
            "sales_b": {"dc_b"},
        }
    ),
    "GET /api/v1/dealer-centers/{dealer_center_id}": Expect(
        status={"sales_b": 404}, params=lambda world: {"dealer_center_id": world.dc_a.pk}
    ),
    "GET /api/v1/cities": Expect(
        rows={
            **same_for(GROUP, {"city_a", "city_b", "city_central"}),
            **same_for(A_STAFF, {"city_a"}),
            "sales_b": {"city_b"},
        }
    ),
    "GET /api/v1/sites": Expect(
        rows={
            **same_for(GROUP, {"site_a", "site_b", "site_central"}),
            **same_for(A_STAFF, {"site_a", "site_central"}),
            "sales_b": {"site_b", "site_central"},
        }
    ),
    "GET /api/v1/sites/{site_id}": Expect(
        status={"sales_b": 404}, params=lambda world: {"site_id": world.site_a.pk}
    ),
    # The staff directory needs accounts.view_staff: not for sales managers.
    "GET /api/v1/users": Expect(
        status={"sales_a": 403, "sales_b": 403},
        rows={
            **same_for(
                GROUP, {"u:administrator", "u:management", "u:head_a", "u:sales_a", "u:sales_b"}
            ),
            "head_a": {"u:head_a", "u:sales_a"},
        },
    ),
    "GET /api/v1/users/{user_id}": Expect(
        status={"sales_a": 403, "sales_b": 403},
        params=lambda world: {"user_id": world.users["sales_a"].pk},
    ),
    # Stock: a dealer center's cars plus group stock (the central yard) for everybody.
    "GET /api/v1/vehicles": Expect(
        rows={
            **same_for(GROUP, {"vehicle_a", "vehicle_b", "vehicle_central"}),
            **same_for(A_STAFF, {"vehicle_a", "vehicle_central"}),
            "sales_b": {"vehicle_b", "vehicle_central"},
        }
    ),
    "GET /api/v1/vehicles/{vehicle_id}": Expect(
        status={"sales_b": 404}, params=lambda world: {"vehicle_id": world.vehicle_a.pk}
    ),
    # vehicle_a is already reserved: 409 for everyone who may sell it, 404 outside scope.
    "POST /api/v1/vehicles/{vehicle_id}/reservation": Expect(
        default_status=409,
        status={"sales_b": 404},
        params=lambda world: {"vehicle_id": world.vehicle_a.pk},
    ),
    # vehicle_b is free: releasing is a 409 for those who see it, 404 for A's staff.
    "DELETE /api/v1/vehicles/{vehicle_id}/reservation": Expect(
        default_status=409,
        status={"head_a": 404, "sales_a": 404},
        params=lambda world: {"vehicle_id": world.vehicle_b.pk},
    ),
    # Channels hold providers' secrets: administrators only, refused before the body is
    # read (an empty body is a 400 for the administrator, 403 for everybody else).
    "GET /api/v1/channels": Expect(default_status=403, status={"administrator": 200}),
    "POST /api/v1/channels": Expect(default_status=403, status={"administrator": 400}),
    "GET /api/v1/channels/{channel_id}": Expect(default_status=403, status={"administrator": 404}),
    "PATCH /api/v1/channels/{channel_id}": Expect(
        default_status=403, status={"administrator": 404}
    ),
    # Conversations: every named user works the inbox within his dealer centers (the
    # scoping itself: communications/tests/test_api_conversations.py).
    "GET /api/v1/conversations": Expect(),
    "GET /api/v1/conversations/{conversation_id}": Expect(default_status=404),
    "POST /api/v1/conversations/{conversation_id}/messages": Expect(default_status=400),
    "POST /api/v1/conversations/{conversation_id}/take": Expect(default_status=404),
    "POST /api/v1/conversations/{conversation_id}/assign": Expect(default_status=400),
    "GET /api/v1/messages/{message_id}": Expect(default_status=404),
    # Click-to-call: every inbox user; the test world has no PBX channel, hence 400.
    "POST /api/v1/calls/originate": Expect(default_status=400),
    # Requests (sales/tests/test_requests.py for rows and filters).
    "GET /api/v1/requests": Expect(),
    "GET /api/v1/requests/{request_id}": Expect(default_status=404),
    # The sales funnel (sales/tests/test_api_funnel.py for rows, scoping and refusals):
    # nothing exists in this world, so lists are empty, ids 404 and empty bodies 400.
    "GET /api/v1/pipelines": Expect(),
    "GET /api/v1/deals": Expect(),
    "POST /api/v1/deals": Expect(default_status=400),
    "GET /api/v1/deals/{deal_id}": Expect(default_status=404),
    "PATCH /api/v1/deals/{deal_id}": Expect(default_status=404),
    "POST /api/v1/deals/{deal_id}/move": Expect(default_status=404),
    "GET /api/v1/deals/{deal_id}/history": Expect(default_status=404),
    "GET /api/v1/tasks": Expect(),
    "POST /api/v1/tasks": Expect(default_status=400),
    "GET /api/v1/tasks/{task_id}": Expect(default_status=404),
    "PATCH /api/v1/tasks/{task_id}": Expect(default_status=404),
    "POST /api/v1/tasks/{task_id}/complete": Expect(default_status=404),
    "POST /api/v1/tasks/{task_id}/cancel": Expect(default_status=404),
    "POST /api/v1/tasks/{task_id}/reopen": Expect(default_status=404),
    "POST /api/v1/tasks/{task_id}/comments": Expect(default_status=404),
    # Sales orders (orders/tests/test_api_orders.py): nothing exists in this world.
    "GET /api/v1/orders": Expect(),
    "POST /api/v1/orders": Expect(default_status=400),
    "GET /api/v1/orders/{order_id}": Expect(default_status=404),
    "PATCH /api/v1/orders/{order_id}": Expect(default_status=404),
    "POST /api/v1/orders/{order_id}/status": Expect(default_status=404),
    "POST /api/v1/orders/{order_id}/importer-status": Expect(default_status=404),
    "GET /api/v1/orders/{order_id}/history": Expect(default_status=404),
    # Financial products (finance/tests/test_api.py): heads keep the catalog.
    "GET /api/v1/financial-products": Expect(),
    "POST /api/v1/financial-products": Expect(
        default_status=400, status={"sales_a": 403, "sales_b": 403}
    ),
    "GET /api/v1/financial-products/{product_id}": Expect(default_status=404),
    "PATCH /api/v1/financial-products/{product_id}": Expect(
        default_status=404, status={"sales_a": 403, "sales_b": 403}
    ),
    "GET /api/v1/orders/{order_id}/products": Expect(default_status=404),
    "POST /api/v1/orders/{order_id}/products": Expect(default_status=404),
    "DELETE /api/v1/orders/{order_id}/products/{product_id}": Expect(default_status=404),
    # Credit (finance/tests/test_api_credit.py for scoping, masking and refusals): the
    # calculator needs no order, so an empty body is a 400 for everybody; nothing of
    # orders exists in this world, so every id is a 404 (writes: everybody named sells).
    "POST /api/v1/credit/calculate": Expect(default_status=400),
    "GET /api/v1/orders/{order_id}/credit-programs": Expect(default_status=404),
    "GET /api/v1/orders/{order_id}/credit-applications": Expect(default_status=404),
    "POST /api/v1/orders/{order_id}/credit-applications": Expect(default_status=404),
    "GET /api/v1/credit-applications/{application_id}": Expect(default_status=404),
    "PUT /api/v1/credit-applications/{application_id}/terms": Expect(default_status=404),
    "GET /api/v1/credit-applications/{application_id}/questionnaire": Expect(default_status=404),
    "PUT /api/v1/credit-applications/{application_id}/questionnaire": Expect(default_status=404),
    "POST /api/v1/credit-applications/{application_id}/submit": Expect(default_status=404),
    "POST /api/v1/credit-applications/{application_id}/resend": Expect(default_status=404),
    "POST /api/v1/credit-applications/{application_id}/documents": Expect(default_status=404),
    "POST /api/v1/credit-applications/{application_id}/confirm": Expect(default_status=404),
    "POST /api/v1/credit-applications/{application_id}/cancel": Expect(default_status=404),
    # Trade-ins (trade_ins/tests/test_api.py): nothing of orders exists here, ids are 404.
    "POST /api/v1/orders/{order_id}/trade-ins": Expect(default_status=404),
    "GET /api/v1/orders/{order_id}/trade-ins": Expect(default_status=404),
    "GET /api/v1/trade-ins/{trade_in_id}": Expect(default_status=404),
    # The query names no dealer center and no date: 400 for everybody.
    "GET /api/v1/trade-ins/free-slots": Expect(default_status=400),
    "POST /api/v1/trade-ins/{trade_in_id}/reschedule": Expect(default_status=404),
    "POST /api/v1/trade-ins/{trade_in_id}/cancel": Expect(default_status=404),
    # Appraising, photos and taking into stock: appraisers and heads, not the sales floor.
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
    # Calendars: appraisers (own), heads, sales; sales_a is no appraiser: 404.
    "GET /api/v1/appraisers/{user_id}/calendar": Expect(
        default_status=404, params=lambda world: {"user_id": world.users["sales_a"].pk}
    ),
    # Invoices, payments and refunds (orders/tests/test_api_invoices.py for rows, scoping
    # and refusals): nothing of orders exists in this world, so ids are 404 and lists
    # empty; deciding refunds is for heads and above, so sales managers get 403 first.
    "POST /api/v1/orders/{order_id}/invoices": Expect(default_status=404),
    "GET /api/v1/orders/{order_id}/invoices": Expect(default_status=404),
    "GET /api/v1/invoices/{invoice_id}": Expect(default_status=404),
    "GET /api/v1/invoices/{invoice_id}/pdf": Expect(default_status=404),
    "POST /api/v1/invoices/{invoice_id}/cancel": Expect(default_status=404),
    "GET /api/v1/invoices/{invoice_id}/payments": Expect(default_status=404),
    "POST /api/v1/invoices/{invoice_id}/payments": Expect(default_status=404),
    "GET /api/v1/invoices/{invoice_id}/refunds": Expect(default_status=404),
    "POST /api/v1/invoices/{invoice_id}/refunds": Expect(default_status=404),
    "GET /api/v1/refunds": Expect(rows={name: set() for name in NAMED_USERS}),
    "GET /api/v1/refunds/{refund_id}": Expect(default_status=404),
    "POST /api/v1/refunds/{refund_id}/approve": Expect(
        default_status=404, status={"sales_a": 403, "sales_b": 403}
    ),
    "POST /api/v1/refunds/{refund_id}/reject": Expect(
        default_status=404, status={"sales_a": 403, "sales_b": 403}
    ),
    "POST /api/v1/refunds/{refund_id}/complete": Expect(
        default_status=404, status={"sales_a": 403, "sales_b": 403}
    ),
    # Promotions and equipment (orders/tests/test_api_catalog.py): no orders exist here.
    "GET /api/v1/orders/{order_id}/available-promotions": Expect(default_status=404),
    "GET /api/v1/orders/{order_id}/promotions": Expect(default_status=404),
    "POST /api/v1/orders/{order_id}/promotions": Expect(default_status=404),
    "DELETE /api/v1/orders/{order_id}/promotions/{promotion_id}": Expect(default_status=404),
    "GET /api/v1/promotions": Expect(),
    # Logisticians, management and administrators keep promotions.
    "POST /api/v1/promotions": Expect(
        default_status=403, status={"administrator": 400, "management": 400}
    ),
    "GET /api/v1/promotions/{promotion_id}": Expect(default_status=404),
    "PATCH /api/v1/promotions/{promotion_id}": Expect(
        default_status=403, status={"administrator": 404, "management": 404}
    ),
    "GET /api/v1/orders/{order_id}/available-equipment": Expect(default_status=404),
    "GET /api/v1/orders/{order_id}/equipment": Expect(default_status=404),
    "POST /api/v1/orders/{order_id}/equipment": Expect(default_status=404),
    "DELETE /api/v1/orders/{order_id}/equipment/{item_id}": Expect(default_status=404),
    "POST /api/v1/order-equipment/{item_id}/status": Expect(default_status=404),
    "GET /api/v1/equipment-packages": Expect(),
    # Order documents (orders/tests/test_api_documents.py): no orders in this world, so
    # ids are 404 for everybody, before any body is read.
    "GET /api/v1/orders/{order_id}/documents": Expect(default_status=404),
    "POST /api/v1/orders/{order_id}/documents": Expect(default_status=404),
    "POST /api/v1/orders/{order_id}/documents/generate": Expect(default_status=404),
    "GET /api/v1/documents/{document_id}/download": Expect(default_status=404),
    "DELETE /api/v1/documents/{document_id}": Expect(default_status=404),
    # Deal passport: heads, management, administrators, logisticians; sales managers 403;
    # a car of another dealer center 404.
    "GET /api/v1/vehicles/{vehicle_id}/deal-passport": Expect(
        status={"sales_a": 403, "sales_b": 403, "head_a": 404},
        params=lambda world: {"vehicle_id": world.vehicle_b.pk},
    ),
    # Showroom visits: hostesses, heads and administrators; an empty body is a 400.
    "POST /api/v1/visits": Expect(default_status=403, status={"administrator": 400, "head_a": 400}),
    # Clients: a dealer center's clients plus those routed nowhere yet.
    "GET /api/v1/clients": Expect(
        rows={
            **same_for(GROUP, {"client_a", "client_b", "client_free"}),
            **same_for(A_STAFF, {"client_a", "client_free"}),
            "sales_b": {"client_b", "client_free"},
        }
    ),
    # Duplicates and merging: heads, management, administrators (and operators) only.
    "GET /api/v1/clients/duplicates": Expect(status={"sales_a": 403, "sales_b": 403}),
    "GET /api/v1/clients/{client_id}": Expect(
        status={"sales_b": 404}, params=lambda world: {"client_id": world.client_a.pk}
    ),
    # The card's timeline: whoever sees the client; another dealer center's client is 404.
    "GET /api/v1/clients/{client_id}/timeline": Expect(
        status={"sales_b": 404}, params=lambda world: {"client_id": world.client_a.pk}
    ),
    # An empty body names no client: 400 for everybody who may create one.
    "POST /api/v1/clients": Expect(default_status=400),
    # An empty change changes nothing.
    "PATCH /api/v1/clients/{client_id}": Expect(
        status={"sales_b": 404}, params=lambda world: {"client_id": world.client_a.pk}
    ),
    "POST /api/v1/clients/{client_id}/phones": Expect(
        default_status=400,
        status={"sales_b": 404},
        params=lambda world: {"client_id": world.client_a.pk},
    ),
    "POST /api/v1/clients/{client_id}/emails": Expect(
        default_status=400,
        status={"sales_b": 404},
        params=lambda world: {"client_id": world.client_a.pk},
    ),
    "POST /api/v1/clients/{client_id}/consents": Expect(
        default_status=400,
        status={"sales_b": 404},
        params=lambda world: {"client_id": world.client_a.pk},
    ),
    # Without other_id: 400 for those who may merge, 403 for sales managers.
    "POST /api/v1/clients/{client_id}/merge": Expect(
        default_status=400,
        status={"sales_a": 403, "sales_b": 403},
        params=lambda world: {"client_id": world.client_a.pk},
    ),
}


def row_ids(world: World, names: set[str]) -> set[int]:
    return {
        world.users[name[2:]].pk if name.startswith("u:") else world.objects[name].pk
        for name in names
    }


def call(client: Any, endpoint: Endpoint, url: str, **headers: Any) -> Any:
    return client.generic(
        endpoint.method, url, data=b"{}", content_type="application/json", **headers
    )


def every_endpoint() -> list[Any]:
    # Collected at import time: the URLconf (and with it every app's router) is loaded.
    return [pytest.param(endpoint, id=endpoint.key) for endpoint in api_endpoints()]


# --- the tests -----------------------------------------------------------------------


def test_the_api_has_the_accounts_endpoints() -> None:
    keys = {endpoint.key for endpoint in api_endpoints()}
    assert set(EXPECTATIONS) <= keys, set(EXPECTATIONS) - keys


def test_every_endpoint_declares_its_access_rules() -> None:
    missing = [endpoint.key for endpoint in api_endpoints() if endpoint.key not in EXPECTATIONS]
    assert missing == [], (
        "Add these endpoints to EXPECTATIONS in autocrm/accounts/tests/test_api_authorization.py "
        "(who gets which status, which rows): " + ", ".join(missing)
    )


@pytest.mark.parametrize("endpoint", every_endpoint())
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer acrm_not-a-real-token",
        "Bearer ",
        "Bearer",
        "Basic YWRtaW5pc3RyYXRvcjpwYXNzd29yZA==",
        "Token abc",
        "bearer  \t ",
        "Bearer " + "x" * 5000,
    ],
    ids=["none", "unknown", "empty", "scheme-only", "basic", "other-scheme", "blank", "huge"],
)
def test_unauthenticated_calls_get_401_and_change_nothing(
    client: Any, world: World, endpoint: Endpoint, authorization: str | None
) -> None:
    expect = EXPECTATIONS.get(endpoint.key, Expect())
    before = database_snapshot()
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}

    response = call(client, endpoint, endpoint.url(**expect.params(world)), **headers)

    assert response.status_code == 401, response.content
    assert response["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert body["detail"].startswith("Authentication required")
    assert body["errors"][0]["field"] == "Authorization"
    assert response["WWW-Authenticate"] == 'Bearer realm="autocrm"'
    assert database_snapshot() == before


@pytest.mark.parametrize("endpoint", every_endpoint())
@pytest.mark.parametrize("state", ["revoked", "expired", "inactive user"])
def test_dead_tokens_get_401(client: Any, world: World, endpoint: Endpoint, state: str) -> None:
    user = world.users["administrator"]
    token = world.tokens["administrator"]
    record = ApiToken.objects.get(user=user)
    if state == "revoked":
        record.revoked_at = timezone.now()
        record.save()
    elif state == "expired":
        record.expires_at = timezone.now()
        record.save()
    else:
        User.objects.filter(pk=user.pk).update(is_active=False)
    expect = EXPECTATIONS.get(endpoint.key, Expect())
    before = database_snapshot()

    response = call(
        client, endpoint, endpoint.url(**expect.params(world)), HTTP_AUTHORIZATION=f"Bearer {token}"
    )

    assert response.status_code == 401, response.content
    assert database_snapshot() == before


@pytest.mark.parametrize("endpoint", every_endpoint())
@pytest.mark.parametrize("user", NAMED_USERS)
def test_named_users_get_the_declared_answer(
    client: Any, world: World, endpoint: Endpoint, user: str
) -> None:
    expect = EXPECTATIONS.get(endpoint.key)
    url = endpoint.url(**(expect.params(world) if expect else {}))
    before = database_snapshot()

    response = call(client, endpoint, url, HTTP_AUTHORIZATION=f"Bearer {world.tokens[user]}")

    assert response.status_code < 500, response.content
    assert response["Content-Type"] == "application/json; charset=utf-8"
    if expect is None:
        return  # reported by test_every_endpoint_declares_its_access_rules
    assert response.status_code == expect.status_for(user), response.content
    if response.status_code != 200:
        body = response.json()
        assert set(body) == {"detail", "errors"}
        if endpoint.method != "GET":
            assert database_snapshot() == before
        return
    if user in expect.rows:
        body = response.json()
        expected = row_ids(world, expect.rows[user])
        assert {item["id"] for item in body["items"]} == expected
        assert body["count"] == len(expected)


@pytest.mark.parametrize("user", NAMED_USERS)
def test_a_dealer_centers_detail_is_not_found_outside_the_callers_scope(
    client: Any, world: World, user: str
) -> None:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {world.tokens[user]}"}
    answers = {
        name: client.get(f"/api/v1/dealer-centers/{world.objects[name].pk}", **headers).status_code
        for name in ("dc_a", "dc_b")
    }
    expected = {
        "administrator": {"dc_a": 200, "dc_b": 200},
        "management": {"dc_a": 200, "dc_b": 200},
        "head_a": {"dc_a": 200, "dc_b": 404},
        "sales_a": {"dc_a": 200, "dc_b": 404},
        "sales_b": {"dc_a": 404, "dc_b": 200},
    }
    assert answers == expected[user]


def test_out_of_scope_and_missing_rows_answer_alike(client: Any, world: World) -> None:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {world.tokens['head_a']}"}

    outside = client.get(f"/api/v1/users/{world.users['sales_b'].pk}", **headers)
    missing = client.get("/api/v1/users/999999", **headers)

    assert outside.status_code == missing.status_code == 404
    assert (
        outside.json()
        == missing.json()
        == {
            "detail": "Not found.",
            "errors": [{"code": "not_found", "message": "Not found.", "field": None}],
        }
    )


def test_sales_manager_is_refused_the_staff_directory(client: Any, world: World) -> None:
    response = client.get("/api/v1/users", HTTP_AUTHORIZATION=f"Bearer {world.tokens['sales_a']}")

    assert response.status_code == 403
    assert response.json() == {
        "detail": "You do not have permission to perform this action.",
        "errors": [
            {
                "code": "forbidden",
                "message": "You do not have permission to perform this action.",
                "field": None,
            }
        ],
    }


def test_a_browser_session_works_like_a_token(client: Any, world: World) -> None:
    client.force_login(world.users["sales_b"])

    response = client.get("/api/v1/dealer-centers")

    assert response.status_code == 200
    assert [item["name"] for item in response.json()["items"]] == ["Dealer center B"]
