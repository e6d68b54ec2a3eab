"""Inbound Telegram update → stored once → processed into client, message and request."""

from __future__ import annotations

import json

import pytest

from autocrm.clients.models import Client, ClientIdentity
from autocrm.communications.models import (
    Conversation,
    ConversationStatus,
    InboundEvent,
    InboundStatus,
    Message,
)
from autocrm.communications.services import channel_create
from autocrm.sales.intake import inbox_drain
from autocrm.sales.models import Request

pytestmark = pytest.mark.django_db


def _update(update_id: int, message_id: int, text: str, user_id: int = 5001) -> dict:
    return {
        "update_id": update_id,
        "message": {
            "message_id": message_id,
            "date": 1_790_000_000 + update_id,
            "chat": {"id": user_id, "type": "private"},
            "from": {
                "id": user_id,
                "first_name": "Анна",
                "last_name": "Смирнова",
                "username": "AnnaS",
            },
            "text": text,
        },
    }


@pytest.fixture
def channel():
    return channel_create(
        kind="telegram",
        name="Бот",
        settings={
            "bot_token": "123:ABC",
            "secret_token": "s3cret",
            "api_base_url": "http://127.0.0.1:9",
        },
    )


SECRET = "s3cret"


def _post(client, channel, payload, secret=SECRET):
    return client.post(
        channel.webhook_path,
        data=json.dumps(payload),
        content_type="application/json",
        headers={"X-Telegram-Bot-Api-Secret-Token": secret},
    )


def test_update_becomes_client_message_and_request(client, channel):
    assert _post(client, channel, _update(1, 10, "Здравствуйте")).status_code == 200
    assert _post(client, channel, _update(1, 10, "Здравствуйте")).status_code == 200  # repeat
    assert _post(client, channel, _update(2, 11, "Есть Tiggo 7?")).status_code == 200
    assert InboundEvent.objects.count() == 2
    assert inbox_drain() == {"done": 2, "skipped": 0, "failed": 0}
    assert InboundEvent.objects.filter(status=InboundStatus.DONE).count() == 2
    person = Client.objects.get()
    assert (person.first_name, person.last_name) == ("Анна", "Смирнова")
    identity = ClientIdentity.objects.get()
    assert (identity.external_id, identity.username) == ("5001", "annas")
    assert list(Message.objects.values_list("text", flat=True)) == ["Здравствуйте", "Есть Tiggo 7?"]
    conversation = Conversation.objects.get()
    assert conversation.status == ConversationStatus.WAITING
    request = Request.objects.get()
    assert (request.source, request.touches) == ("telegram", 2)


def test_wrong_secret_and_bad_json_store_nothing(client, channel):
    assert _post(client, channel, _update(1, 10, "x"), secret="nope").status_code == 401
    response = client.post(
        channel.webhook_path,
        data="{not json",
        content_type="application/json",
        headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret"},
    )
    assert response.status_code == 400
    assert InboundEvent.objects.count() == 0


def test_processing_failure_is_retried_later(client, channel, monkeypatch):
    _post(client, channel, _update(1, 10, "x"))
    from autocrm.sales import intake

    def boom(*args, **kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(intake, "_apply", boom)
    assert inbox_drain()["failed"] == 1
    event = InboundEvent.objects.get()
    assert (event.status, event.attempts) == (InboundStatus.PENDING, 1)
    assert "database hiccup" in event.last_error
    assert Message.objects.count() == 0
