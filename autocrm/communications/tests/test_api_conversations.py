"""GET /api/v1/conversations (the queue, scoped), POST .../messages → queued → delivered
through a real HTTP server answering like Telegram's sendMessage, GET /messages/{id}."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.utils import timezone

from autocrm.accounts.services import api_token_create
from autocrm.accounts.tests.factories import DealerCenterFactory, UserFactory
from autocrm.clients.tests.factories import ClientFactory
from autocrm.communications.models import (
    Channel,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    MessageStatus,
)
from autocrm.communications.services import OUTBOX_MAX_ATTEMPTS, channel_create, message_deliver

pytestmark = pytest.mark.django_db


class FakeTelegram:
    """A tiny Bot API: ``POST /bot<token>/sendMessage`` answers ok with a message id."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                payload = json.loads(self.rfile.read(length) or b"{}")
                fake.received.append((self.path, payload))
                if self.path.endswith("/sendMessage") and self.path.startswith("/bot"):
                    body = {
                        "ok": True,
                        "result": {"message_id": 700 + len(fake.received), "text": payload["text"]},
                    }
                    status = 200
                else:
                    body, status = {"ok": False, "description": "Not Found"}, 404
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    fake = FakeTelegram()
    yield fake
    fake.stop()


def _channel(api_base_url: str, dealer_center: Any = None, name: str = "Бот") -> Channel:
    return channel_create(
        kind="telegram",
        name=name,
        dealer_center_id=dealer_center.pk if dealer_center else None,
        settings={
            "bot_token": "123:ABC",
            "secret_token": "s3cret",
            "api_base_url": api_base_url,
        },
    )


def _conversation(
    channel: Channel, waited_minutes: int, *, text: str = "Здравствуйте", **extra: Any
) -> Conversation:
    since = timezone.now() - timedelta(minutes=waited_minutes)
    person = ClientFactory.create()
    fields: dict[str, Any] = {
        "status": ConversationStatus.WAITING,
        "waiting_since": since,
        "last_message_at": since,
        **extra,
    }
    conversation = Conversation.objects.create(
        channel=channel,
        client=person,
        external_thread=str(5000 + person.pk),
        dealer_center_id=channel.dealer_center_id,
        **fields,
    )
    Message.objects.create(
        conversation=conversation,
        client=person,
        channel=channel,
        direction=Direction.INBOUND,
        text=text,
        status=MessageStatus.RECEIVED,
        at=since,
    )
    return conversation


def _headers(user: Any) -> dict[str, str]:
    token = api_token_create(actor=None, user=user, name="tests").token
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def world() -> dict[str, Any]:
    dc_a = DealerCenterFactory.create(name="A")
    dc_b = DealerCenterFactory.create(name="B")
    channel_a = _channel("http://127.0.0.1:9", dc_a, "Бот A")
    channel_b = _channel("http://127.0.0.1:9", dc_b, "Бот B")
    central = _channel("http://127.0.0.1:9", None, "Центральный бот")
    return {
        "dc_a": dc_a,
        "dc_b": dc_b,
        # Waiting 10, 30 and 20 minutes, one per dealer center, one routed nowhere yet.
        "conv_a": _conversation(channel_a, 10),
        "conv_b": _conversation(channel_b, 30),
        "conv_central": _conversation(central, 20),
        "answered_a": _conversation(channel_a, 50, status=ConversationStatus.ANSWERED),
        "operator": UserFactory.create(username="operator", roles=["operator"]),
        "management": UserFactory.create(username="management", roles=["management"]),
        "head_a": UserFactory.create(username="head_a", roles=["head"], dealer_centers=[dc_a]),
        "sales_a": UserFactory.create(
            username="sales_a", roles=["sales_manager"], dealer_centers=[dc_a]
        ),
        "sales_b": UserFactory.create(
            username="sales_b", roles=["sales_manager"], dealer_centers=[dc_b]
        ),
        "hostess_a": UserFactory.create(
            username="hostess_a", roles=["hostess"], dealer_centers=[dc_a]
        ),
    }


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        # Group-level roles see the whole queue, oldest waiting first.
        ("operator", ["conv_b", "conv_central", "conv_a"]),
        ("management", ["conv_b", "conv_central", "conv_a"]),
        # A dealer center's staff sees its own; the unrouted one is the contact center's.
        ("head_a", ["conv_a"]),
        ("sales_a", ["conv_a"]),
        ("sales_b", ["conv_b"]),
    ],
)
def test_waiting_queue_is_oldest_first_and_scoped(
    client: Any, world: dict[str, Any], user: str, expected: list[str]
) -> None:
    response = client.get("/api/v1/conversations?status=waiting", **_headers(world[user]))

    assert response.status_code == 200
    body = response.json()
    assert [item["id"] for item in body["items"]] == [world[name].pk for name in expected]
    assert body["count"] == len(expected)


def test_queue_item_fields(client: Any, world: dict[str, Any]) -> None:
    conversation = world["conv_a"]

    body = client.get("/api/v1/conversations?status=waiting", **_headers(world["sales_a"])).json()

    assert body["items"] == [
        {
            "id": conversation.pk,
            "client_id": conversation.client_id,
            "client_name": conversation.client.display_name,
            "channel_id": conversation.channel_id,
            "channel_kind": "telegram",
            "dealer_center_id": world["dc_a"].pk,
            "status": "waiting",
            "subject": "",
            "waiting_since": body["items"][0]["waiting_since"],
            "last_message_at": body["items"][0]["last_message_at"],
            "assigned_to_id": None,
            "first_response_seconds": None,
        }
    ]
    assert body["items"][0]["waiting_since"].startswith(
        conversation.waiting_since.strftime("%Y-%m-%dT%H:%M:%S")
    )


def test_other_roles_are_refused(client: Any, world: dict[str, Any]) -> None:
    response = client.get("/api/v1/conversations", **_headers(world["hostess_a"]))

    assert response.status_code == 403


def test_filters(client: Any, world: dict[str, Any]) -> None:
    headers = _headers(world["operator"])
    everything = client.get("/api/v1/conversations", **headers).json()
    in_a = client.get(f"/api/v1/conversations?dealer_center_id={world['dc_a'].pk}", **headers)
    bad = client.get("/api/v1/conversations?status=sleeping", **headers)

    assert everything["count"] == 4
    assert [item["id"] for item in in_a.json()["items"]] == [
        world["conv_a"].pk,
        world["answered_a"].pk,
    ]
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "status"


def test_message_is_queued_then_sent_through_telegram(
    client: Any, world: dict[str, Any], telegram: FakeTelegram
) -> None:
    channel = world["conv_a"].channel
    channel.settings = {**channel.settings, "api_base_url": telegram.url}
    channel.save()
    headers = _headers(world["sales_a"])

    response = client.post(
        f"/api/v1/conversations/{world['conv_a'].pk}/messages",
        data=json.dumps({"text": "Добрый день! Да, есть."}),
        content_type="application/json",
        **headers,
    )

    assert response.status_code == 201, response.content
    created = response.json()
    message = Message.objects.get(pk=created["id"])
    assert {key: created[key] for key in ("status", "text", "direction", "attempts")} == {
        "status": "queued",
        "text": "Добрый день! Да, есть.",
        "direction": "out",
        "attempts": 0,
    }
    assert telegram.received == []  # nothing goes out before the delivery task runs
    conversation = Conversation.objects.get(pk=world["conv_a"].pk)
    assert conversation.status == ConversationStatus.ANSWERED
    assert conversation.assigned_to_id == world["sales_a"].pk
    assert conversation.first_response_seconds is not None
    assert conversation.first_response_seconds >= 600

    message_deliver(message_id=message.pk)

    assert telegram.received == [
        (
            "/bot123:ABC/sendMessage",
            {"chat_id": conversation.external_thread, "text": "Добрый день! Да, есть."},
        )
    ]
    status = client.get(f"/api/v1/messages/{message.pk}", **headers).json()
    assert (status["status"], status["status_reason"], status["attempts"]) == ("sent", "", 1)
    # The provider's id is kept (Telegram's adapter prefixes the chat: ids are per chat).
    assert str(Message.objects.get(pk=message.pk).external_id).endswith("701")


def test_dead_provider_keeps_it_queued_then_fails(client: Any, world: dict[str, Any]) -> None:
    # Port 9 (discard) on loopback: nothing listens, the connection is refused.
    headers = _headers(world["operator"])
    created = client.post(
        f"/api/v1/conversations/{world['conv_central'].pk}/messages",
        data=json.dumps({"text": "Ответ"}),
        content_type="application/json",
        **headers,
    ).json()

    message_deliver(message_id=created["id"])
    first = client.get(f"/api/v1/messages/{created['id']}", **headers).json()
    for _ in range(OUTBOX_MAX_ATTEMPTS - 1):
        message_deliver(message_id=created["id"])
    last = client.get(f"/api/v1/messages/{created['id']}", **headers).json()

    assert (first["status"], first["attempts"]) == ("queued", 1)
    assert first["status_reason"].startswith("ConnectError")
    assert (last["status"], last["attempts"]) == ("failed", OUTBOX_MAX_ATTEMPTS)
    assert last["status_reason"].startswith("ConnectError")


def test_answers_outside_scope_and_empty_text_change_nothing(
    client: Any, world: dict[str, Any]
) -> None:
    outside = client.post(
        f"/api/v1/conversations/{world['conv_b'].pk}/messages",
        data=json.dumps({"text": "Привет"}),
        content_type="application/json",
        **_headers(world["sales_a"]),
    )
    empty = client.post(
        f"/api/v1/conversations/{world['conv_a'].pk}/messages",
        data=json.dumps({"text": "   "}),
        content_type="application/json",
        **_headers(world["sales_a"]),
    )

    assert outside.status_code == 404
    assert empty.status_code == 400
    assert empty.json()["errors"][0]["field"] == "text"
    assert Message.objects.filter(direction=Direction.OUTBOUND).count() == 0
    assert Conversation.objects.get(pk=world["conv_a"].pk).status == ConversationStatus.WAITING


def test_message_detail_is_scoped(client: Any, world: dict[str, Any]) -> None:
    message = world["conv_b"].messages.get()

    mine = client.get(f"/api/v1/messages/{message.pk}", **_headers(world["sales_b"]))
    other = client.get(f"/api/v1/messages/{message.pk}", **_headers(world["sales_a"]))

    assert mine.status_code == 200
    assert (mine.json()["direction"], mine.json()["status"]) == ("in", "received")
    assert other.status_code == 404


def test_take_and_assign(client: Any, world: dict[str, Any]) -> None:
    url = f"/api/v1/conversations/{world['conv_a'].pk}"

    taken = client.post(f"{url}/take", **_headers(world["sales_a"]))
    again = client.post(f"{url}/take", **_headers(world["head_a"]))
    refused = client.post(
        f"{url}/assign",
        data=json.dumps({"user_id": world["sales_b"].pk}),  # B's manager: not for A's client
        content_type="application/json",
        **_headers(world["head_a"]),
    )
    not_allowed = client.post(
        f"{url}/assign",
        data=json.dumps({"user_id": world["operator"].pk}),
        content_type="application/json",
        **_headers(world["sales_a"]),
    )
    assigned = client.post(
        f"{url}/assign",
        data=json.dumps({"user_id": world["operator"].pk}),
        content_type="application/json",
        **_headers(world["head_a"]),
    )

    assert (taken.status_code, taken.json()["assigned_to_id"]) == (200, world["sales_a"].pk)
    assert again.status_code == 409
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "user_id"
    assert not_allowed.status_code == 403
    assert (assigned.status_code, assigned.json()["assigned_to_id"]) == (
        200,
        world["operator"].pk,
    )
    assert Conversation.objects.get(pk=world["conv_a"].pk).assigned_to_id == world["operator"].pk
