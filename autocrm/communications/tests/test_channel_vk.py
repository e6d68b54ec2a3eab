"""VK Callback API through the messenger simulator: confirmation, events over real HTTP
into the live server, ``messages.send`` to the simulated VK API."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from autocrm.clients.models import Client, ClientIdentity
from autocrm.communications.channels.vk import adapter as vk_adapter
from autocrm.communications.channels.vk import random_id
from autocrm.communications.models import Conversation, InboundEvent, Message
from autocrm.communications.services import channel_create, message_deliver, message_send
from autocrm.communications.tests.conftest import VK
from autocrm.core.errors import ValidationFailed
from autocrm.sales.intake import inbox_drain
from autocrm.sales.models import Request

SECRET = VK["secret"]
USER_ID = 7001


def _conversation_with(sim, url, user_id=USER_ID):
    assert sim.vk_send(url, SECRET, user_id, "Добрый вечер") == 200
    inbox_drain()
    return Conversation.objects.get(external_thread=str(user_id))


@pytest.mark.django_db(transaction=True)
def test_confirmation_answers_the_code_and_stores_nothing(messenger_sim, vk_channel, hook_url):
    url = hook_url(vk_channel)
    assert messenger_sim.vk_confirm(url) == 200
    assert messenger_sim.last_reply == (200, VK["confirmation_code"])
    assert messenger_sim.vk_confirm(url, secret=SECRET) == 200
    assert messenger_sim.last_reply == (200, VK["confirmation_code"])
    assert messenger_sim.vk_confirm(url, secret="wrong") == 403
    # Another community's confirmation is not ours to answer.
    assert messenger_sim.vk_confirm(url, group_id=1) == 403
    assert VK["confirmation_code"] not in messenger_sim.last_reply[1]
    assert InboundEvent.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_message_over_http_creates_client_message_and_request(messenger_sim, vk_channel, hook_url):
    url = hook_url(vk_channel)
    event_id = "a1" * 20
    assert (
        messenger_sim.vk_send(
            url,
            SECRET,
            USER_ID,
            "Интересует Arrizo 8",
            event_id=event_id,
            conversation_message_id=41,
        )
        == 200
    )
    assert messenger_sim.last_reply == (200, "ok")
    # VK repeats an event that was not answered "ok": same event_id, stored once.
    assert (
        messenger_sim.vk_send(
            url,
            SECRET,
            USER_ID,
            "Интересует Arrizo 8",
            event_id=event_id,
            conversation_message_id=41,
        )
        == 200
    )
    assert list(InboundEvent.objects.values_list("external_id", flat=True)) == [event_id]

    assert inbox_drain() == {"done": 1, "skipped": 0, "failed": 0}
    person = Client.objects.get()
    assert list(ClientIdentity.objects.values_list("client_id", "kind", "external_id")) == [
        (person.pk, "vk", "7001")
    ]
    message = Message.objects.get()
    assert (message.text, message.direction, message.external_id, message.client_id) == (
        "Интересует Arrizo 8",
        "in",
        "7001:41",
        person.pk,
    )
    assert message.conversation.external_thread == "7001"
    request = Request.objects.get()
    assert (request.client_id, request.source, request.channel_id) == (
        person.pk,
        "vk",
        vk_channel.pk,
    )


@pytest.mark.django_db
def test_same_message_in_another_event_is_not_doubled(messenger_sim, vk_channel, inprocess_hook):
    url = inprocess_hook(vk_channel)
    messenger_sim.vk_send(url, SECRET, USER_ID, "Привет", event_id="e1", conversation_message_id=5)
    messenger_sim.vk_send(url, SECRET, USER_ID, "Привет", event_id="e2", conversation_message_id=5)
    assert inbox_drain()["done"] == 2
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_event_without_event_id_is_keyed_by_the_message(messenger_sim, vk_channel, inprocess_hook):
    payload = {
        "type": "message_new",
        "group_id": VK["group_id"],
        "secret": SECRET,
        "object": {
            "message": {
                "from_id": USER_ID,
                "peer_id": USER_ID,
                "text": "Старый API",
                "date": 1_790_000_000,
                "id": 12,
                "conversation_message_id": 9,
            }
        },
    }
    url = inprocess_hook(vk_channel)
    assert messenger_sim.vk_post(url, payload) == 200
    assert messenger_sim.vk_post(url, payload) == 200
    assert list(InboundEvent.objects.values_list("external_id", flat=True)) == [f"msg:{USER_ID}:9"]


@pytest.mark.django_db(transaction=True)
def test_wrong_or_missing_secret_is_refused_and_nothing_stored(messenger_sim, vk_channel, hook_url):
    url = hook_url(vk_channel)
    assert messenger_sim.vk_send(url, "wrong", USER_ID, "x") == 403
    assert messenger_sim.vk_send(url, "", USER_ID, "x") == 403
    assert messenger_sim.vk_send(url, SECRET, USER_ID, "x", group_id=1) == 403
    assert InboundEvent.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_malformed_json_is_400_and_nothing_stored(messenger_sim, vk_channel, hook_url):
    url = hook_url(vk_channel)
    assert messenger_sim.vk_post(url, b'{"type": "message_new", "secret": ') == 400
    assert messenger_sim.vk_post(url, b'["message_new"]') == 400
    assert (
        messenger_sim.vk_post(
            url, {"type": "message_new", "group_id": VK["group_id"], "secret": SECRET, "object": 5}
        )
        == 400
    )
    assert InboundEvent.objects.count() == 0


@pytest.mark.django_db
def test_other_event_types_are_answered_ok_and_dropped(messenger_sim, vk_channel, inprocess_hook):
    payload = {
        "type": "message_typing_state",
        "group_id": VK["group_id"],
        "event_id": "t1",
        "secret": SECRET,
        "object": {"state": "typing", "from_id": USER_ID, "to_id": -VK["group_id"]},
    }
    assert messenger_sim.vk_post(inprocess_hook(vk_channel), payload) == 200
    assert messenger_sim.last_reply == (200, "ok")
    assert InboundEvent.objects.count() == 0


@pytest.mark.django_db
def test_reply_reaches_messages_send_and_is_sent(messenger_sim, vk_channel, inprocess_hook):
    conversation = _conversation_with(messenger_sim, inprocess_hook(vk_channel))
    message = message_send(actor=None, conversation=conversation, text="Добрый! Да, в наличии.")
    message = message_deliver(message_id=message.pk)
    [sent] = messenger_sim.sent
    assert (sent["kind"], sent["to"], sent["text"], sent["random_id"]) == (
        "vk",
        "7001",
        "Добрый! Да, в наличии.",
        random_id(vk_channel, message),
    )
    assert (message.status, message.external_id, message.attempts) == ("sent", sent["id"], 1)


@pytest.mark.django_db
def test_a_resend_of_the_same_message_is_not_doubled_by_vk(
    messenger_sim, vk_channel, inprocess_hook
):
    conversation = _conversation_with(messenger_sim, inprocess_hook(vk_channel))
    message = message_send(actor=None, conversation=conversation, text="Ответ")
    # As if our first attempt's answer was lost and the worker tried again.
    first = vk_adapter.send(vk_channel, message)
    second = vk_adapter.send(vk_channel, message)
    assert first.external_id == second.external_id
    assert [s["text"] for s in messenger_sim.sent] == ["Ответ"]
    other = message_send(actor=None, conversation=conversation, text="Ещё ответ")
    assert random_id(vk_channel, other) != random_id(vk_channel, message)


@pytest.mark.django_db
def test_vk_error_fails_the_message_with_the_reason(messenger_sim, vk_channel, inprocess_hook):
    conversation = _conversation_with(messenger_sim, inprocess_hook(vk_channel))
    messenger_sim.fail_next(
        "vk",
        200,
        {
            "error": {
                "error_code": 901,
                "error_msg": "Can't send messages for users without permission",
            }
        },
    )
    message = message_deliver(
        message_id=message_send(actor=None, conversation=conversation, text="Ответ").pk
    )
    assert (message.status, message.attempts, message.next_attempt_at) == ("failed", 1, None)
    assert message.status_reason == "VK error 901: Can't send messages for users without permission"
    assert messenger_sim.sent == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (
            200,
            {"error": {"error_code": 6, "error_msg": "Too many requests per second"}},
            "VK error 6: Too many requests per second",
        ),
        (
            200,
            {"error": {"error_code": 10, "error_msg": "Internal server error"}},
            "VK error 10: Internal server error",
        ),
        (504, "Gateway Timeout", "HTTP 504: Gateway Timeout"),
    ],
)
def test_temporary_trouble_keeps_the_message_queued(
    messenger_sim, vk_channel, inprocess_hook, status, body, reason
):
    conversation = _conversation_with(messenger_sim, inprocess_hook(vk_channel))
    message = message_send(actor=None, conversation=conversation, text="Ответ")
    messenger_sim.fail_next("vk", status, body)
    before = timezone.now()
    message = message_deliver(message_id=message.pk)
    assert (message.status, message.attempts, message.status_reason) == ("queued", 1, reason)
    assert message.next_attempt_at > before
    message = message_deliver(message_id=message.pk)
    assert (message.status, message.attempts) == ("sent", 2)
    assert [s["text"] for s in messenger_sim.sent] == ["Ответ"]


@pytest.mark.django_db
def test_wrong_access_token_fails_the_message(messenger_sim, vk_channel, inprocess_hook):
    conversation = _conversation_with(messenger_sim, inprocess_hook(vk_channel))
    vk_channel.settings["access_token"] = "revoked"
    vk_channel.save()
    message = message_deliver(
        message_id=message_send(actor=None, conversation=conversation, text="Ответ").pk
    )
    assert (message.status, message.status_reason) == (
        "failed",
        "VK error 5: User authorization failed: invalid access_token (4).",
    )


@pytest.mark.django_db
def test_settings_are_checked():
    with pytest.raises(ValidationFailed) as error:
        channel_create(kind="vk", name="VK", settings={**VK, "confirmation_code": ""})
    assert error.value.field == "settings.confirmation_code"
    with pytest.raises(ValidationFailed) as error:
        channel_create(kind="vk", name="VK", settings={**VK, "group_id": "club1"})
    assert error.value.field == "settings.group_id"
    channel = channel_create(kind="vk", name="VK", settings={**VK, "group_id": "229001"})
    assert channel.settings == {**VK, "api_base_url": "https://api.vk.com/method"}
    without_group = {k: v for k, v in VK.items() if k != "group_id"}
    channel = channel_create(kind="vk", name="VK 2", settings=without_group)
    assert channel.settings["group_id"] is None


def test_attachments_and_community_messages_are_parsed():
    payload = {
        "type": "message_new",
        "object": {
            "message": {
                "from_id": USER_ID,
                "peer_id": USER_ID,
                "text": "",
                "date": 1_790_000_000,
                "id": 0,
                "conversation_message_id": 3,
                "attachments": [
                    {
                        "type": "photo",
                        "photo": {
                            "id": 1,
                            "owner_id": USER_ID,
                            "sizes": [
                                {
                                    "type": "s",
                                    "width": 75,
                                    "height": 50,
                                    "url": "https://vk.example/s.jpg",
                                },
                                {
                                    "type": "x",
                                    "width": 604,
                                    "height": 403,
                                    "url": "https://vk.example/x.jpg",
                                },
                            ],
                        },
                    },
                    {
                        "type": "doc",
                        "doc": {
                            "id": 2,
                            "owner_id": USER_ID,
                            "title": "ПТС.pdf",
                            "size": 1234,
                            "url": "https://vk.example/d",
                        },
                    },
                    {"type": "poll", "poll": {"id": 3}},
                ],
            }
        },
    }
    [item] = vk_adapter.parse(None, json.dumps(payload), {})
    assert (item.external_id, item.thread, item.text) == ("7001:3", "7001", "")
    assert [(a.name, a.size, a.external_ref) for a in item.attachments] == [
        ("photo.jpg", 0, "https://vk.example/x.jpg"),
        ("ПТС.pdf", 1234, "https://vk.example/d"),
    ]
    payload["object"]["message"]["from_id"] = -VK["group_id"]
    assert vk_adapter.parse(None, json.dumps(payload), {}) == []
