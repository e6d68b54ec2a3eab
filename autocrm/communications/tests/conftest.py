"""Fixtures for the messenger channels: one simulator of Telegram, WhatsApp and VK per
test (simulators/messengers.py, real HTTP on an ephemeral port) and channels pointing at it.

The channel fixtures need database access from the test's own ``django_db`` mark. Two ways
for the simulator's client-side posts to reach the CRM:

- ``hook_url``: real HTTP to pytest-django's live server; such tests mark themselves
  ``django_db(transaction=True)`` (the server thread must see committed rows).
- ``inprocess_hook``: the same posts, byte for byte, through Django's test client, so the
  test stays in its rolled-back transaction (a flush per test costs seconds on
  PostgreSQL). Answers to clients still go over real HTTP to the simulator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client as TestClient

from simulators import messengers

TELEGRAM = {"bot_token": "123456:SIM-bot-token", "secret_token": "tg-secret-1"}
WHATSAPP = {
    "app_secret": "wa-app-secret",
    "verify_token": "wa-verify-token",
    "access_token": "wa-access-token",
    "phone_number_id": "1065550001",
}
VK = {
    "confirmation_code": "c0nf1rm3d",
    "secret": "vk-secret-1",
    "access_token": "vk-access-token",
    "group_id": 229001,
}


@pytest.fixture
def messenger_sim() -> Iterator[messengers.MessengerSimulator]:
    sim = messengers.start(
        channels={
            "telegram": {"bot_token": TELEGRAM["bot_token"], "secret": TELEGRAM["secret_token"]},
            "whatsapp": {
                "app_secret": WHATSAPP["app_secret"],
                "verify_token": WHATSAPP["verify_token"],
                "access_token": WHATSAPP["access_token"],
                "phone_number_id": WHATSAPP["phone_number_id"],
            },
            "vk": {
                "secret": VK["secret"],
                "access_token": VK["access_token"],
                "group_id": VK["group_id"],
            },
        }
    )
    yield sim
    sim.stop()


@pytest.fixture
def telegram_channel(messenger_sim: messengers.MessengerSimulator) -> Any:
    from autocrm.communications.services import channel_create

    return channel_create(
        kind="telegram",
        name="Telegram bot",
        settings={**TELEGRAM, "api_base_url": messenger_sim.url},
    )


@pytest.fixture
def whatsapp_channel(messenger_sim: messengers.MessengerSimulator) -> Any:
    from autocrm.communications.services import channel_create

    return channel_create(
        kind="whatsapp",
        name="WhatsApp Business",
        settings={**WHATSAPP, "api_base_url": f"{messenger_sim.url}/v21.0"},
    )


@pytest.fixture
def vk_channel(messenger_sim: messengers.MessengerSimulator) -> Any:
    from autocrm.communications.services import channel_create

    return channel_create(
        kind="vk",
        name="VK community",
        settings={**VK, "api_base_url": f"{messenger_sim.url}/method"},
    )


@pytest.fixture
def hook_url(live_server: Any) -> Callable[[Any], str]:
    """The full URL of a channel's webhook on the live server."""

    def url(channel: Any) -> str:
        return f"{live_server.url}{channel.webhook_path}"

    return url


@pytest.fixture
def inprocess_hook(
    messenger_sim: messengers.MessengerSimulator, client: TestClient
) -> Callable[[Any], str]:
    """The path of a channel's webhook; the simulator posts to it through the test client."""

    def transport(
        method: str, url: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, str]:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        extra = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        response = client.generic(
            method,
            path,
            data=body or b"",
            content_type=headers.get("Content-Type", "application/octet-stream"),
            headers=extra,
        )
        return response.status_code, response.content.decode(errors="replace")

    messenger_sim.transport = transport

    def path(channel: Any) -> str:
        return str(channel.webhook_path)

    return path
