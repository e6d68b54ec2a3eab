"""Website forms: CORS, honeypot, rate limit, validation, and the intake into client,
form submission and request with topic, vehicle and UTM tags."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from django.core.cache import cache

from autocrm.accounts.tests.factories import SiteFactory
from autocrm.clients.models import Client, ClientPhone, Consent
from autocrm.clients.tests.factories import ClientFactory
from autocrm.communications.channels import webform
from autocrm.communications.models import FormSubmission, InboundEvent, InboundStatus
from autocrm.communications.services import channel_create
from autocrm.core.errors import ValidationFailed
from autocrm.inventory.tests.factories import VehicleFactory
from autocrm.sales.intake import inbox_drain
from autocrm.sales.models import Request

ORIGIN = "https://chery-murmansk.ru"


@pytest.fixture(autouse=True)
def _fresh_rate_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    # The limiter counts in the process-wide cache; start every test at zero, in the
    # middle of a minute, so no test straddles a window boundary.
    cache.clear()
    monkeypatch.setattr(webform, "clock", lambda: 1_800_000_030.0)


@pytest.fixture
def site() -> Any:
    return SiteFactory()


@pytest.fixture
def channel(site: Any) -> Any:
    return channel_create(
        kind="webform",
        name="Форма на сайте",
        dealer_center_id=site.dealer_center_id,
        site_id=site.pk,
        settings={"allowed_origins": [ORIGIN, "http://localhost:8080"], "rate_limit_per_minute": 5},
    )


def _post_json(client: Any, channel: Any, data: dict[str, Any], **headers: str) -> Any:
    return client.post(
        channel.webhook_path,
        data=json.dumps(data),
        content_type="application/json",
        headers={"Origin": ORIGIN, **headers},
    )


FORM = {
    "name": "Пётр Иванов",
    "phone": "8 (912) 345-67-89",
    "email": "Petr@Example.RU",
    "message": "Хочу на тест-драйв",
    "topic": "test_drive",
    "page_url": "https://chery-murmansk.ru/tiggo7?utm_source=ignored",
    "consent_personal_data": True,
}


pytestmark = pytest.mark.django_db


def test_json_post_creates_client_submission_and_request(client: Any, channel: Any) -> None:
    vehicle = VehicleFactory()
    payload = {
        **FORM,
        "vehicle": str(vehicle.pk),
        "utm": {"source": "yandex", "medium": "cpc", "campaign": "tiggo7-spring"},
    }
    response = _post_json(client, channel, payload)
    assert response.status_code == 201
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert response.json()["status"] == "accepted"
    assert len(response.json()["id"]) == 24
    event = InboundEvent.objects.get()
    assert (event.external_id, event.headers["Origin"]) == (None, ORIGIN)
    assert event.headers["X-Client-IP"] == "127.0.0.1"

    assert inbox_drain() == {"done": 1, "skipped": 0, "failed": 0}
    person = Client.objects.get()
    assert (person.first_name, person.last_name) == ("Пётр", "Иванов")
    assert person.dealer_center_id == channel.dealer_center_id
    assert list(person.phones.values_list("number", flat=True)) == ["+79123456789"]
    assert list(person.emails.values_list("address", flat=True)) == ["petr@example.ru"]
    submission = FormSubmission.objects.get()
    assert submission.client == person
    assert submission.inbound_event == event
    assert (submission.name, submission.phone, submission.email) == (
        "Пётр Иванов",
        "+79123456789",
        "petr@example.ru",
    )
    assert (submission.message, submission.topic) == ("Хочу на тест-драйв", "test_drive")
    assert (submission.vehicle_id, submission.vehicle_text) == (vehicle.pk, str(vehicle.pk))
    expected_utm = {"utm_source": "yandex", "utm_medium": "cpc", "utm_campaign": "tiggo7-spring"}
    assert submission.utm == expected_utm
    assert submission.page_url == FORM["page_url"]
    request = Request.objects.get()
    assert (request.client, request.source, request.channel_id) == (person, "webform", channel.pk)
    assert (request.topic, request.vehicle_id, request.utm) == (
        "test_drive",
        vehicle.pk,
        expected_utm,
    )
    assert request.dealer_center_id == channel.dealer_center_id
    consent = Consent.objects.get()
    assert (consent.client, consent.purpose, consent.granted, consent.source) == (
        person,
        "personal_data",
        True,
        f"webform:{channel.pk}",
    )


def test_form_encoded_post_finds_existing_client_and_takes_vin(client: Any, channel: Any) -> None:
    known = ClientFactory(first_name="Анна", last_name="Смирнова")
    ClientPhone.objects.create(client=known, number="+79123456789", is_primary=True)
    vehicle = VehicleFactory()
    response = client.post(
        channel.webhook_path,
        data={
            "name": "Аня",
            "phone": "+7 912 345 67 89",
            "topic": "credit",
            "vehicle": vehicle.vin.lower(),
            "utm_source": "vk",
            "utm_medium": "social",
            "utm_campaign": "",
            "consent_personal_data": "on",
            "consent_marketing": "on",
            "website": "",
        },
        headers={"Origin": ORIGIN},
    )
    assert response.status_code == 201
    assert inbox_drain()["done"] == 1
    assert Client.objects.count() == 1
    submission = FormSubmission.objects.get()
    assert submission.client == known
    assert (submission.vehicle_id, submission.utm) == (
        vehicle.pk,
        {"utm_source": "vk", "utm_medium": "social"},
    )
    request = Request.objects.get()
    assert (request.client, request.topic, request.vehicle_id) == (known, "credit", vehicle.pk)
    assert sorted(Consent.objects.values_list("purpose", "granted")) == [
        ("marketing", True),
        ("personal_data", True),
    ]


def test_multipart_post_without_origin_from_a_server_is_accepted(client: Any, channel: Any) -> None:
    # The Django test client sends multipart/form-data by default and no Origin header.
    response = client.post(
        channel.webhook_path,
        data={
            "email": "buyer@example.ru",
            "message": "Перезвоните",
            "page_url": "https://chery-murmansk.ru/?utm_source=google&utm_medium=cpc&x=1",
        },
    )
    assert response.status_code == 201
    assert "Access-Control-Allow-Origin" not in response
    inbox_drain()
    submission = FormSubmission.objects.get()
    assert (submission.email, submission.phone) == ("buyer@example.ru", "")
    # No tags posted: taken from the landing page's address.
    assert submission.utm == {"utm_source": "google", "utm_medium": "cpc"}
    assert Consent.objects.count() == 0


def test_honeypot_is_answered_like_success_and_stores_nothing(client: Any, channel: Any) -> None:
    response = _post_json(client, channel, {**FORM, "website": "http://spam.example"})
    assert response.status_code == 201
    assert response.json()["status"] == "accepted"
    assert InboundEvent.objects.count() == 0
    assert inbox_drain() == {"done": 0, "skipped": 0, "failed": 0}
    assert Client.objects.count() == 0


def test_cors_preflight_allowed_and_denied(client: Any, channel: Any) -> None:
    allowed = client.options(
        channel.webhook_path,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert allowed.status_code == 204
    assert allowed["Access-Control-Allow-Origin"] == ORIGIN
    assert allowed["Access-Control-Allow-Methods"] == "POST"
    assert allowed["Access-Control-Allow-Headers"] == "Content-Type, Idempotency-Key"
    assert "Origin" in allowed["Vary"]
    # Each allowed origin is answered with itself.
    assert (
        client.options(channel.webhook_path, headers={"Origin": "http://localhost:8080"})[
            "Access-Control-Allow-Origin"
        ]
        == "http://localhost:8080"
    )

    for foreign in ("https://evil.example", "https://chery-murmansk.ru.evil.example", "null"):
        denied = client.options(
            channel.webhook_path,
            headers={"Origin": foreign, "Access-Control-Request-Method": "POST"},
        )
        assert denied.status_code == 403
        assert "Access-Control-Allow-Origin" not in denied
    assert InboundEvent.objects.count() == 0


def test_post_from_a_foreign_origin_is_refused(client: Any, channel: Any) -> None:
    response = _post_json(client, channel, FORM, Origin="https://evil.example")
    assert response.status_code == 403
    assert response.json()["errors"][0]["field"] == "Origin"
    assert "Access-Control-Allow-Origin" not in response
    assert InboundEvent.objects.count() == 0


def test_rate_limit_per_client_ip(
    client: Any, channel: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for number in range(5):
        assert (
            _post_json(client, channel, {**FORM, "phone": f"+7912000000{number}"}).status_code
            == 201
        )
    refused = _post_json(client, channel, FORM)
    assert refused.status_code == 429
    assert refused["Retry-After"] == "30"  # the clock stands at :30 of the minute
    assert refused["Access-Control-Allow-Origin"] == ORIGIN
    assert InboundEvent.objects.count() == 5
    # Another visitor is not held back by this one.
    other = client.post(
        channel.webhook_path,
        data=json.dumps(FORM),
        content_type="application/json",
        headers={"Origin": ORIGIN},
        REMOTE_ADDR="10.1.2.3",
    )
    assert other.status_code == 201
    # The next minute starts a new count.
    monkeypatch.setattr(webform, "clock", lambda: 1_800_000_090.0)
    assert _post_json(client, channel, FORM).status_code == 201
    assert InboundEvent.objects.count() == 7


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"phone": "12"}, "phone"),
        ({"phone": "not a phone"}, "phone"),
        ({"name": "Только имя"}, "phone"),
        ({"email": "petr@"}, "email"),
        ({"phone": "+79123456789", "message": "x" * 5001}, "message"),
        ({"phone": "+79123456789", "name": ["a", "b"]}, "name"),
        ({"phone": "+79123456789", "utm": {"source": "y" * 301}}, "utm.source"),
        ({"phone": "+79123456789", "page_url": "javascript:alert(1)"}, "page_url"),
        ({"phone": "+79123456789", "consent_personal_data": "maybe"}, "consent_personal_data"),
    ],
)
def test_invalid_form_is_refused_naming_the_field(
    client: Any, channel: Any, payload: dict[str, Any], field: str
) -> None:
    response = _post_json(client, channel, payload)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field
    assert response["Access-Control-Allow-Origin"] == ORIGIN  # so the page can show it
    assert InboundEvent.objects.count() == 0


def test_malformed_bodies_are_refused(client: Any, channel: Any) -> None:
    bad_json = client.post(
        channel.webhook_path,
        data="{nope",
        content_type="application/json",
        headers={"Origin": ORIGIN},
    )
    assert (bad_json.status_code, bad_json.json()["errors"][0]["field"]) == (400, "body")
    not_object = client.post(channel.webhook_path, data="[1]", content_type="application/json")
    assert not_object.status_code == 400
    xml = client.post(channel.webhook_path, data="<a/>", content_type="text/xml")
    assert xml.status_code == 415
    assert client.get(channel.webhook_path).status_code == 405
    assert InboundEvent.objects.count() == 0


def test_consent_can_be_required(client: Any, site: Any) -> None:
    strict = channel_create(
        kind="webform",
        name="Строгая форма",
        site_id=site.pk,
        settings={"allowed_origins": [ORIGIN], "require_consent": True},
    )
    refused = _post_json(client, strict, {"phone": "+79123456789"})
    assert refused.json()["errors"][0]["field"] == "consent_personal_data"
    assert (
        _post_json(
            client, strict, {"phone": "+79123456789", "consent_personal_data": "1"}
        ).status_code
        == 201
    )
    assert InboundEvent.objects.count() == 1


def test_idempotency_key_makes_a_repeat_harmless(client: Any, channel: Any) -> None:
    first = _post_json(client, channel, {**FORM, "idempotency_key": "form-42"})
    again = _post_json(client, channel, FORM, **{"Idempotency-Key": "form-42"})
    other = _post_json(client, channel, FORM)
    assert first.status_code == again.status_code == other.status_code == 201
    assert first.json()["id"] == again.json()["id"] != other.json()["id"]
    assert InboundEvent.objects.count() == 2
    assert inbox_drain()["done"] == 2
    assert InboundEvent.objects.filter(status=InboundStatus.DONE).count() == 2
    assert FormSubmission.objects.count() == 2
    assert Client.objects.count() == 1
    assert Request.objects.get().touches == 2


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"allowed_origins": ["https://chery-murmansk.ru/form"]}, "settings.allowed_origins[0]"),
        ({"allowed_origins": [ORIGIN, "ftp://x.ru"]}, "settings.allowed_origins[1]"),
        ({"allowed_origins": ["https://user@x.ru"]}, "settings.allowed_origins[0]"),
        ({"allowed_origins": {"a": 1}}, "settings.allowed_origins"),
        ({"allowed_origins": [], "rate_limit_per_minute": 0}, "settings.rate_limit_per_minute"),
    ],
)
def test_settings_are_checked(given: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as error:
        channel_create(kind="webform", name="x", settings=given)
    assert error.value.field == field


def test_origins_are_normalised() -> None:
    cleaned = webform.adapter.clean_settings(
        {"allowed_origins": ["HTTPS://Chery-Murmansk.RU/", "https://a.ru:443", "http://a.ru:8000"]}
    )
    assert cleaned == {
        "allowed_origins": ["https://chery-murmansk.ru", "https://a.ru", "http://a.ru:8000"],
        "rate_limit_per_minute": 10,
        "require_consent": False,
    }


@pytest.mark.django_db(transaction=True)
def test_browser_like_post_over_real_http(live_server: Any, channel: Any) -> None:
    url = live_server.url + channel.webhook_path
    preflight = httpx.options(
        url, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}, timeout=10
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    response = httpx.post(
        url,
        data={"name": "Олег", "phone": "89123456789", "utm_source": "avito"},
        headers={"Origin": ORIGIN},
        timeout=10,
    )
    assert response.status_code == 201
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert inbox_drain()["done"] == 1
    submission = FormSubmission.objects.get()
    assert (submission.phone, submission.utm) == ("+79123456789", {"utm_source": "avito"})
    assert Request.objects.get().client == submission.client
