"""POST/GET/PATCH /api/v1/channels: administrators only, settings checked by the adapter,
credentials never returned in full."""

from __future__ import annotations

import importlib.util
import json
from typing import Any

import pytest

from autocrm.accounts.services import api_token_create
from autocrm.accounts.tests.factories import DealerCenterFactory, UserFactory
from autocrm.communications.models import Channel

pytestmark = pytest.mark.django_db

TELEGRAM = {
    "bot_token": "123456:ABCDEFGHIJKLMNOP",
    "secret_token": "s3cret-token",
    "api_base_url": "http://127.0.0.1:9/",
}


def _headers(user: Any) -> dict[str, str]:
    token = api_token_create(actor=None, user=user, name="tests").token
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return _headers(UserFactory.create(username="admin", roles=["administrator"]))


def _post(client: Any, body: Any, headers: dict[str, str]) -> Any:
    return client.post(
        "/api/v1/channels",
        data=json.dumps(body) if not isinstance(body, str) else body,
        content_type="application/json",
        **headers,
    )


def test_administrator_creates_a_telegram_channel(client: Any, admin_headers: Any) -> None:
    dealer_center = DealerCenterFactory.create()
    body = {
        "kind": "telegram",
        "name": "Бот салона",
        "dealer_center_id": dealer_center.pk,
        "settings": TELEGRAM,
    }

    response = _post(client, body, admin_headers)

    assert response.status_code == 201, response.content
    channel = Channel.objects.get()
    assert response.json() == {
        "id": channel.pk,
        "kind": "telegram",
        "name": "Бот салона",
        "dealer_center_id": dealer_center.pk,
        "site_id": None,
        "is_active": True,
        "webhook_url": f"/hooks/telegram/{channel.webhook_key}/",
        # 16+ characters keep their last four; shorter secrets are masked whole.
        "settings": {
            "bot_token": "********MNOP",
            "secret_token": "********",
            "api_base_url": "http://127.0.0.1:9",
        },
        "created_at": response.json()["created_at"],
    }
    assert channel.settings == {
        "bot_token": "123456:ABCDEFGHIJKLMNOP",
        "secret_token": "s3cret-token",
        "api_base_url": "http://127.0.0.1:9",
    }
    assert channel.webhook_path == response.json()["webhook_url"]


def test_the_webhook_url_accepts_the_providers_updates(client: Any, admin_headers: Any) -> None:
    created = _post(
        client, {"kind": "telegram", "name": "Бот", "settings": TELEGRAM}, admin_headers
    ).json()

    response = client.post(
        created["webhook_url"],
        data=json.dumps({"update_id": 1}),
        content_type="application/json",
        headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"},
    )

    assert response.status_code == 200


@pytest.mark.parametrize("role", ["management", "head", "sales_manager", "operator", "hostess"])
def test_only_administrators_may_create_channels(client: Any, role: str) -> None:
    dealer_center = DealerCenterFactory.create()
    user = UserFactory.create(roles=[role], dealer_centers=[dealer_center])
    body = {"kind": "telegram", "name": "Бот", "settings": TELEGRAM}

    response = _post(client, body, _headers(user))
    empty = _post(client, {}, _headers(user))  # refused before the body is even read

    assert response.status_code == empty.status_code == 403
    assert response.json()["errors"][0]["code"] == "forbidden"
    assert Channel.objects.count() == 0


def test_a_missing_setting_is_named(client: Any, admin_headers: Any) -> None:
    settings = {key: value for key, value in TELEGRAM.items() if key != "bot_token"}

    response = _post(
        client, {"kind": "telegram", "name": "Бот", "settings": settings}, admin_headers
    )

    assert response.status_code == 400
    assert response.json() == {
        "detail": "Эта настройка обязательна.",
        "errors": [
            {
                "code": "validation_error",
                "message": "Эта настройка обязательна.",
                "field": "settings.bot_token",
            }
        ],
    }
    assert Channel.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Бот", "settings": TELEGRAM}, "kind"),
        ({"kind": "fax", "name": "Бот", "settings": TELEGRAM}, "kind"),
        ({"kind": "telegram", "settings": TELEGRAM}, "name"),
        ({"kind": "telegram", "name": "   ", "settings": TELEGRAM}, "name"),
        ({"kind": "telegram", "name": "Бот", "settings": "x"}, "settings"),
        (
            {"kind": "telegram", "name": "Бот", "dealer_center_id": 999999, "settings": TELEGRAM},
            "dealer_center_id",
        ),
        ({"kind": "telegram", "name": "Бот", "dealer_center_id": 0}, "dealer_center_id"),
        (
            {
                "kind": "telegram",
                "name": "Бот",
                "settings": {**TELEGRAM, "api_base_url": "ftp://x"},
            },
            "settings.api_base_url",
        ),
        ([1, 2], "body"),
        ("{not json", "body"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    client: Any, admin_headers: Any, body: Any, field: str
) -> None:
    response = _post(client, body, admin_headers)

    assert response.status_code == 400, response.content
    assert field in [error["field"] for error in response.json()["errors"]]
    assert Channel.objects.count() == 0


def test_list_detail_and_patch(client: Any, admin_headers: Any) -> None:
    created = _post(
        client, {"kind": "telegram", "name": "Бот", "settings": TELEGRAM}, admin_headers
    ).json()
    url = f"/api/v1/channels/{created['id']}"

    listed = client.get("/api/v1/channels", **admin_headers).json()
    detail = client.get(url, **admin_headers).json()
    # A client that sends back what GET gave keeps the secrets, not the masks.
    patched = client.patch(
        url,
        data=json.dumps({"name": "Новый бот", "is_active": False, "settings": detail["settings"]}),
        content_type="application/json",
        **admin_headers,
    )

    assert listed == {"count": 1, "items": [created]}
    assert detail == created
    assert patched.status_code == 200, patched.content
    assert (patched.json()["name"], patched.json()["is_active"]) == ("Новый бот", False)
    channel = Channel.objects.get()
    assert channel.settings["bot_token"] == TELEGRAM["bot_token"]
    assert channel.settings["secret_token"] == TELEGRAM["secret_token"]


def test_patch_changes_one_setting_and_checks_it(client: Any, admin_headers: Any) -> None:
    created = _post(
        client, {"kind": "telegram", "name": "Бот", "settings": TELEGRAM}, admin_headers
    ).json()
    url = f"/api/v1/channels/{created['id']}"

    good = client.patch(
        url,
        data=json.dumps({"settings": {"secret_token": "other-secret"}}),
        content_type="application/json",
        **admin_headers,
    )
    bad = client.patch(
        url,
        data=json.dumps({"settings": {"secret_token": "has spaces!"}}),
        content_type="application/json",
        **admin_headers,
    )

    assert good.status_code == 200
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "settings.secret_token"
    assert Channel.objects.get().settings["secret_token"] == "other-secret"


def test_others_may_not_read_or_change_channels(client: Any, admin_headers: Any) -> None:
    created = _post(
        client, {"kind": "telegram", "name": "Бот", "settings": TELEGRAM}, admin_headers
    ).json()
    operator = _headers(UserFactory.create(roles=["operator"]))

    assert client.get("/api/v1/channels", **operator).status_code == 403
    assert client.get(f"/api/v1/channels/{created['id']}", **operator).status_code == 403
    response = client.patch(
        f"/api/v1/channels/{created['id']}",
        data=json.dumps({"name": "Взлом"}),
        content_type="application/json",
        **operator,
    )
    assert response.status_code == 403
    assert Channel.objects.get().name == "Бот"
    assert client.get("/api/v1/channels/999999", **admin_headers).status_code == 404


# Other kinds, where their adapters are in place: one valid and one incomplete setting each.
OTHER_KINDS: dict[str, tuple[dict[str, Any], str]] = {
    "whatsapp": (
        {
            "app_secret": "wa-app-secret-0001",
            "verify_token": "wa-verify",
            "access_token": "wa-access-token-0001",
            "phone_number_id": "1065550001",
            "api_base_url": "http://127.0.0.1:9",
        },
        "app_secret",
    ),
    "vk": (
        {
            "confirmation_code": "c0nf1rm",
            "secret": "vk-secret",
            "access_token": "vk-access-token-0001",
            "api_base_url": "http://127.0.0.1:9",
        },
        "access_token",
    ),
    "telephony": ({"signing_secret": "pbx-signing-secret-01"}, "signing_secret"),
}


@pytest.mark.parametrize("kind", sorted(OTHER_KINDS))
def test_other_kinds_are_checked_by_their_adapters(
    client: Any, admin_headers: Any, kind: str
) -> None:
    if importlib.util.find_spec(f"autocrm.communications.channels.{kind}") is None:
        pytest.skip(f"the {kind} adapter is not in place yet")
    settings, required = OTHER_KINDS[kind]
    incomplete = {key: value for key, value in settings.items() if key != required}

    good = _post(client, {"kind": kind, "name": kind, "settings": settings}, admin_headers)
    bad = _post(client, {"kind": kind, "name": kind, "settings": incomplete}, admin_headers)

    assert good.status_code == 201, good.content
    assert good.json()["webhook_url"].startswith(f"/hooks/{kind}/")
    for key, value in settings.items():
        if any(word in key for word in ("secret", "token")):
            assert good.json()["settings"][key] != value  # masked
    assert bad.status_code == 400, bad.content
    assert f"settings.{required}" in [error["field"] for error in bad.json()["errors"]]
    assert Channel.objects.count() == 1
