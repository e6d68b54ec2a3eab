"""The inbox worker's bulk path gives exactly what processing one event at a time gives."""

from __future__ import annotations

import json
from typing import Any

import pytest

from autocrm.clients.models import ClientIdentity
from autocrm.communications.models import (
    Conversation,
    ConversationStatus,
    InboundEvent,
    InboundStatus,
    Message,
)
from autocrm.communications.services import channel_create
from autocrm.sales.intake import inbox_drain, process_inbound_event
from autocrm.sales.models import Request, RequestStatus

pytestmark = pytest.mark.django_db

SECRET = "bulk-secret"


def _post(client, channel, update_id: int, user_id: int, message_id: int, text: str) -> None:
    update = {
        "update_id": update_id,
        "message": {
            "message_id": message_id,
            "date": 1_790_000_000 + update_id % 1000,
            "chat": {"id": user_id, "type": "private"},
            "from": {"id": user_id, "first_name": f"U{user_id}"},
            "text": text,
        },
    }
    response = client.post(
        channel.webhook_path,
        data=json.dumps(update),
        content_type="application/json",
        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
    )
    assert response.status_code == 200


def _one_by_one() -> None:
    pending = InboundEvent.objects.filter(status=InboundStatus.PENDING).order_by("pk")
    for event_id in pending.values_list("pk", flat=True):
        assert process_inbound_event(event_id) == "done"


def _scenario(client, offset: int, process) -> dict[str, Any]:
    """Senders offset+1..offset+4 through one channel; returns what came of it."""
    channel = channel_create(
        kind="telegram",
        name=f"bot {offset}",
        settings={"bot_token": "1:A", "secret_token": SECRET, "api_base_url": "http://127.0.0.1:9"},
    )
    u = [offset + n for n in range(5)]
    for n in (1, 2, 3):
        _post(client, channel, offset + n, u[n], 1, f"first from {n}")
    process()
    # Sender 3's conversation was closed and sender 2's request too: their next messages
    # open new ones.
    Conversation.objects.filter(client__identities__external_id=str(u[3])).update(
        status=ConversationStatus.CLOSED, waiting_since=None
    )
    Request.objects.filter(client__identities__external_id=str(u[2])).update(
        status=RequestStatus.CLOSED
    )
    Conversation.objects.filter(client__identities__external_id=str(u[1])).update(
        status=ConversationStatus.ANSWERED, waiting_since=None
    )
    batch = [
        (11, 1, 2, "second from 1"),
        (12, 1, 3, "third from 1"),
        (13, 2, 2, "second from 2"),
        (14, 3, 2, "second from 3"),
        (15, 4, 1, "first from 4"),
        (16, 1, 2, "second from 1"),  # the same message again, in another update
        (17, 1, 4, "fourth from 1"),
    ]
    for update, n, message_id, text in batch:
        _post(client, channel, offset + update, u[n], message_id, text)
    process()
    outcome: dict[str, Any] = {}
    for n in (1, 2, 3, 4):
        person = ClientIdentity.objects.get(kind="telegram", external_id=str(u[n])).client
        outcome[f"sender {n}"] = {
            "messages": list(
                Message.objects.filter(client=person)
                .order_by("at", "pk")
                .values_list("text", flat=True)
            ),
            "conversations": list(
                Conversation.objects.filter(client=person)
                .order_by("pk")
                .values_list("status", "waiting_since", "last_message_at")
            ),
            "requests": list(
                Request.objects.filter(client=person)
                .order_by("pk")
                .values_list("status", "touches", "last_activity_at")
            ),
        }
    outcome["events"] = set(channel.inbound_events.values_list("status", flat=True))
    return outcome


def test_bulk_and_one_by_one_agree(client):
    one_by_one = _scenario(client, 1000, _one_by_one)
    bulk = _scenario(client, 2000, inbox_drain)

    assert bulk == one_by_one
    assert bulk["events"] == {InboundStatus.DONE}
    assert bulk["sender 1"]["messages"] == [
        "first from 1",
        "second from 1",
        "third from 1",
        "fourth from 1",
    ]
    # Answered, then written to again: waiting since the first new message.
    assert bulk["sender 1"]["conversations"][0][0] == ConversationStatus.WAITING
    assert [r[:2] for r in bulk["sender 1"]["requests"]] == [("new", 4)]
    assert [r[:2] for r in bulk["sender 2"]["requests"]] == [("closed", 1), ("new", 1)]
    assert [c[0] for c in bulk["sender 3"]["conversations"]] == ["closed", "waiting"]


def test_bulk_path_takes_known_senders_in_few_statements(client, django_assert_max_num_queries):
    channel = channel_create(
        kind="telegram",
        name="bot",
        settings={"bot_token": "1:A", "secret_token": SECRET, "api_base_url": "http://127.0.0.1:9"},
    )
    for n in range(10):
        _post(client, channel, n, 500 + n, 1, "hello")
    inbox_drain()
    for n in range(40):
        _post(client, channel, 100 + n, 500 + n % 10, 2 + n, f"message {n}")
    with django_assert_max_num_queries(20):
        assert inbox_drain() == {"done": 40, "skipped": 0, "failed": 0}
    assert Message.objects.count() == 50
    assert Request.objects.get(client__identities__external_id="500").touches == 5
