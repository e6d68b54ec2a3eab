"""API conventions over real endpoints: list envelope and paging, validation errors,
JSON everywhere, browser sessions with CSRF, the OpenAPI schema and the docs page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.middleware.csrf import get_token
from django.test import RequestFactory
from ninja.errors import HttpError

from autocrm.accounts.models import ApiToken
from autocrm.accounts.services import api_token_create
from autocrm.accounts.tests.factories import CityFactory, DealerCenterFactory, UserFactory
from autocrm.accounts.tests.test_api_authorization import api_endpoints, the_api

pytestmark = pytest.mark.django_db


@pytest.fixture
def token() -> str:
    administrator = UserFactory.create(username="administrator", roles=["administrator"])
    return api_token_create(actor=None, user=administrator).token


@pytest.fixture
def cities() -> list[Any]:
    """Seven cities; two share a name, so paging must order by more than the name."""
    names = ["Arkhangelsk", "Kirov", "Kirov", "Murmansk", "Pskov", "Tver", "Vologda"]
    return [CityFactory.create(name=name) for name in names]


def get(client: Any, token: str, url: str) -> Any:
    return client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}")


# --- list envelope and paging ---------------------------------------------------------


def test_default_page_is_fifty_rows(client: Any, token: str) -> None:
    for index in range(55):
        CityFactory.create(name=f"City {index:02}")

    body = get(client, token, "/api/v1/cities").json()

    assert body["count"] == 55
    assert [city["name"] for city in body["items"]] == [f"City {index:02}" for index in range(50)]


def test_pages_cover_every_row_once_in_order(client: Any, token: str, cities: list[Any]) -> None:
    pages = [
        get(client, token, f"/api/v1/cities?limit=3&offset={offset}").json()
        for offset in (0, 3, 6, 9)
    ]

    assert [page["count"] for page in pages] == [7, 7, 7, 7]
    ids = [[city["id"] for city in page["items"]] for page in pages]
    kirovs = sorted(city.pk for city in cities if city.name == "Kirov")
    assert ids == [
        [cities[0].pk, *kirovs],
        [cities[3].pk, cities[4].pk, cities[5].pk],
        [cities[6].pk],
        [],
    ]


@pytest.mark.parametrize(("limit", "expected"), [(1, 1), (200, 7)])
def test_limit_bounds_are_accepted(
    client: Any, token: str, cities: list[Any], limit: int, expected: int
) -> None:
    body = get(client, token, f"/api/v1/cities?limit={limit}").json()

    assert body["count"] == 7
    assert len(body["items"]) == expected


def test_an_item_has_the_documented_shape(client: Any, token: str) -> None:
    city = CityFactory.create(name="Murmansk", region__name="Murmansk oblast", region__code="51")
    dealer_center = DealerCenterFactory.create(
        code="murmansk-haval",
        name="Haval Murmansk",
        city=city,
        address="Kolsky prospekt 1",
        phone="+78152000000",
        email="haval@example.com",
    )

    body = get(client, token, "/api/v1/dealer-centers").json()

    region = {"id": city.region.pk, "name": "Murmansk oblast", "code": "51"}
    assert body == {
        "count": 1,
        "items": [
            {
                "id": dealer_center.pk,
                "code": "murmansk-haval",
                "name": "Haval Murmansk",
                "city": {
                    "id": city.pk,
                    "name": "Murmansk",
                    "time_zone": "Europe/Moscow",
                    "region": region,
                },
                "address": "Kolsky prospekt 1",
                "time_zone": "Europe/Moscow",
                "phone": "+78152000000",
                "email": "haval@example.com",
                "is_active": True,
                "brands": [],
            }
        ],
    }


# --- validation errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field", "code"),
    [
        ("limit=500", "limit", "less_than_equal"),
        ("limit=201", "limit", "less_than_equal"),
        ("limit=0", "limit", "greater_than_equal"),
        ("limit=-1", "limit", "greater_than_equal"),
        ("limit=abc", "limit", "int_parsing"),
        ("limit=", "limit", "int_parsing"),
        ("limit=1.5", "limit", "int_parsing"),
        ("limit=99999999999999999999999", "limit", "less_than_equal"),
        ("offset=-1", "offset", "greater_than_equal"),
        ("offset=abc", "offset", "int_parsing"),
        ("offset=99999999999999999999999", "offset", "less_than_equal"),
    ],
)
@pytest.mark.parametrize(
    "path", ["/api/v1/cities", "/api/v1/dealer-centers", "/api/v1/sites", "/api/v1/users"]
)
def test_bad_paging_is_a_400_naming_the_field(
    client: Any, token: str, path: str, query: str, field: str, code: str
) -> None:
    response = get(client, token, f"{path}?{query}")

    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == f"Invalid input: {field}."
    assert len(body["errors"]) == 1
    assert body["errors"][0]["field"] == field
    assert body["errors"][0]["code"] == code
    assert body["errors"][0]["message"]


def test_every_bad_field_is_reported(client: Any, token: str) -> None:
    body = get(client, token, "/api/v1/cities?limit=abc&offset=-3").json()

    assert body["detail"] == "Invalid input: limit, offset."
    assert [(error["field"], error["code"]) for error in body["errors"]] == [
        ("limit", "int_parsing"),
        ("offset", "greater_than_equal"),
    ]


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("abc", "int_parsing"),
        ("0", "greater_than_equal"),
        ("99999999999999999999", "less_than_equal"),
    ],
)
def test_a_bad_id_in_the_path_is_a_400_naming_it(
    client: Any, token: str, value: str, code: str
) -> None:
    response = get(client, token, f"/api/v1/sites/{value}")

    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [("site_id", code)]


def test_unknown_paths_and_the_root_answer_json_404(client: Any, token: str) -> None:
    for url in ("/api/v1/", "/api/v1/no-such-thing", "/api/v1/sites/1/nothing"):
        response = get(client, token, url)
        assert response.status_code == 404, url
        assert response.json() == {"detail": "Not found: no such API endpoint.", "errors": []}


def test_a_missing_row_is_a_json_404(client: Any, token: str) -> None:
    response = get(client, token, "/api/v1/dealer-centers/424242")

    assert response.status_code == 404
    assert response.json()["detail"] == "Not found."


def test_a_wrong_method_is_405_and_changes_nothing(client: Any, token: str) -> None:
    before = ApiToken.objects.values_list("pk", "revoked_at").get()

    response = client.delete("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 405
    assert response["Allow"] == "GET"
    assert response.json() == {
        "detail": "Method DELETE not allowed here; allowed: GET.",
        "errors": [],
    }
    assert ApiToken.objects.values_list("pk", "revoked_at").get() == before


# --- browser sessions -----------------------------------------------------------------


def session_auth() -> Any:
    # The Session authenticator of the composed API (the second in its list).
    return the_api().auth[1]  # type: ignore[index]


def test_session_auth_needs_csrf_on_unsafe_methods() -> None:
    user = UserFactory.create(username="browser")
    factory = RequestFactory()
    authenticate = session_auth()

    safe = factory.get("/api/v1/me")
    safe.user = user
    assert authenticate(safe) == user

    unsafe = factory.post("/api/v1/anything")
    unsafe.user = user
    with pytest.raises(HttpError) as refused:
        authenticate(unsafe)
    assert refused.value.status_code == 403

    with_token = factory.get("/")
    csrf = get_token(with_token)
    unsafe = factory.post("/api/v1/anything", HTTP_X_CSRFTOKEN=csrf)
    unsafe.COOKIES["csrftoken"] = with_token.META["CSRF_COOKIE"]
    unsafe.user = user
    assert authenticate(unsafe) == user


def test_without_a_session_there_is_no_csrf_refusal() -> None:
    # A POST with a wrong bearer token must end in 401 (next authenticator), not 403 CSRF.
    request = RequestFactory().post("/api/v1/anything")
    request.user = AnonymousUser()

    assert session_auth()(request) is None


def test_an_inactive_session_user_is_not_authenticated() -> None:
    request = RequestFactory().get("/api/v1/me")
    request.user = UserFactory.create(username="left", is_active=False)

    assert session_auth()(request) is None


def test_a_logged_in_browser_calls_the_api(client: Any) -> None:
    user = UserFactory.create(username="browser", roles=["management"])
    client.force_login(user)

    response = client.get("/api/v1/me")

    assert response.status_code == 200
    assert response.json()["username"] == "browser"
    assert response.json()["roles"] == ["management"]


# --- schema and docs ------------------------------------------------------------------


def test_openapi_schema_is_3_1_and_lists_every_endpoint(client: Any) -> None:
    response = client.get("/api/v1/openapi.json")

    assert response.status_code == 200
    schema = response.json()
    assert re.fullmatch(r"3\.1\.\d+", schema["openapi"])
    assert schema["info"]["title"] == "AutoCRM API"
    documented = {
        f"{method.upper()} {path}"
        for path, operations in schema["paths"].items()
        for method in operations
    }
    assert documented == {endpoint.key for endpoint in api_endpoints()}
    assert set(schema["components"]["securitySchemes"]) == {"BearerToken", "Session"}
    assert schema["components"]["securitySchemes"]["BearerToken"] == {
        "type": "http",
        "scheme": "bearer",
    }


def test_openapi_schema_is_valid(client: Any) -> None:
    from openapi_spec_validator import OpenAPIV31SpecValidator

    schema = client.get("/api/v1/openapi.json").json()

    assert list(OpenAPIV31SpecValidator(schema).iter_errors()) == []


def test_openapi_documents_the_paging_parameters(client: Any) -> None:
    schema = client.get("/api/v1/openapi.json").json()

    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/cities"]["get"]["parameters"]}
    assert parameters["limit"]["in"] == "query"
    assert parameters["limit"]["schema"]["maximum"] == 200
    assert parameters["limit"]["schema"]["minimum"] == 1
    assert parameters["limit"]["schema"]["default"] == 50
    assert parameters["offset"]["schema"]["minimum"] == 0


def test_docs_page_uses_only_local_assets(client: Any) -> None:
    response = client.get("/api/v1/docs")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    sources = re.findall(r"<(?:script|link)\b[^>]*\b(?:src|href)=\"([^\"]+)\"", html)
    assert sources, html
    assert all(source.startswith("/static/") for source in sources), sources
    assert "http://" not in html
    assert "https://" not in html
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
