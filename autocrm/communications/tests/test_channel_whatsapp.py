"""WhatsApp Cloud API through the messenger simulator: the GET handshake, signed webhooks
over real HTTP into the live server, answers and delivery reports."""

from __future__ import annotations

import json
import urllib.request
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from autocrm.clients.models import Client, ClientIdentity
from autocrm.communications.models import (
    Conversation,
    InboundEvent,
    InboundStatus,
    Message,
)
from autocrm.communications.services import channel_create, message_deliver, message_send
from autocrm.communications.tests.conftest import TELEGRAM, WHATSAPP
from autocrm.core.errors import ValidationFailed
from autocrm.sales.intake import inbox_drain
from autocrm.sales.models import Request
from simulators.messengers import (
    whatsapp_message,
    whatsapp_notification,
    whatsapp_signature,
    whatsapp_status_item,
)

APP_SECRET = WHATSAPP["app_secret"]
WA_ID = "79123456789"


def _conversation_with(sim, url, wa_id=WA_ID):
    assert sim.whatsapp_send(url, APP_SECRET, wa_id, "Добрый день", "Иван Петров") == 200
    inbox_drain()
    return Conversation.objects.get(external_thread=wa_id)


def _sent_message(sim, url, text="Здравствуйте, Иван!"):
    conversation = _conversation_with(sim, url)
    message = message_send(actor=None, conversation=conversation, text=text)
    return message_deliver(message_id=message.pk)


@pytest.mark.django_db(transaction=True)
def test_verification_handshake_echoes_the_challenge(messenger_sim, whatsapp_channel, hook_url):
    url = hook_url(whatsapp_channel)
    assert messenger_sim.whatsapp_verify(url, WHATSAPP["verify_token"], "1158201444") == 200
    assert messenger_sim.last_reply == (200, "1158201444")
    assert messenger_sim.whatsapp_verify(url, "wrong-token", "1158201444") == 403
    assert messenger_sim.whatsapp_verify(url, "", "1158201444") == 403
    assert (
        messenger_sim.whatsapp_verify(url, WHATSAPP["verify_token"], "1", mode="unsubscribe") == 403
    )
    assert "1158201444" not in messenger_sim.last_reply[1]
    assert InboundEvent.objects.count() == 0


@pytest.mark.django_db
def test_handshake_answer_is_plain_text(client, whatsapp_channel):
    response = client.get(
        whatsapp_channel.webhook_path,
        {
            "hub.mode": "subscribe",
            "hub.verify_token": WHATSAPP["verify_token"],
            "hub.challenge": "<b>42</b>",
        },
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content == b"<b>42</b>"


@pytest.mark.django_db(transaction=True)
def test_message_over_http_creates_client_with_phone_message_and_request(
    messenger_sim, whatsapp_channel, hook_url
):
    url = hook_url(whatsapp_channel)
    assert (
        messenger_sim.whatsapp_send(
            url, APP_SECRET, WA_ID, "Сколько стоит Tiggo 7?", "Иван Петров", message_id="wamid.IN1"
        )
        == 200
    )
    assert messenger_sim.last_reply == (200, "ok")
    # Meta redelivers what it did not get a 200 for: the same message id is stored once.
    assert (
        messenger_sim.whatsapp_send(
            url, APP_SECRET, WA_ID, "Сколько стоит Tiggo 7?", "Иван Петров", message_id="wamid.IN1"
        )
        == 200
    )
    assert list(InboundEvent.objects.values_list("external_id", flat=True)) == ["wamid.IN1"]

    assert inbox_drain() == {"done": 1, "skipped": 0, "failed": 0}
    person = Client.objects.get()
    assert (person.first_name, person.last_name) == ("Иван", "Петров")
    assert list(person.phones.values_list("number", flat=True)) == ["+79123456789"]
    assert list(ClientIdentity.objects.values_list("kind", "external_id", "display_name")) == [
        ("whatsapp", WA_ID, "Иван Петров")
    ]
    message = Message.objects.get()
    assert (message.text, message.direction, message.external_id, message.client_id) == (
        "Сколько стоит Tiggo 7?",
        "in",
        "wamid.IN1",
        person.pk,
    )
    assert message.conversation.external_thread == WA_ID
    request = Request.objects.get()
    assert (request.client_id, request.source, request.channel_id) == (
        person.pk,
        "whatsapp",
        whatsapp_channel.pk,
    )


@pytest.mark.django_db
def test_one_notification_with_several_messages_and_statuses(
    messenger_sim, whatsapp_channel, inprocess_hook
):
    payload = whatsapp_notification(
        messages=[
            whatsapp_message(WA_ID, "Первое", message_id="wamid.A", timestamp=1_790_000_000),
            whatsapp_message(
                "79990001122", "Второе", message_id="wamid.B", timestamp=1_790_000_001
            ),
            whatsapp_message(WA_ID, "Третье", message_id="wamid.C", timestamp=1_790_000_002),
        ],
        statuses=[whatsapp_status_item("wamid.UNKNOWN", "delivered", recipient_id=WA_ID)],
        names={WA_ID: "Иван Петров", "79990001122": "Мария"},
    )
    url = inprocess_hook(whatsapp_channel)
    assert messenger_sim.whatsapp_post(url, APP_SECRET, payload) == 200
    assert messenger_sim.whatsapp_post(url, APP_SECRET, payload) == 200  # redelivered
    assert sorted(InboundEvent.objects.values_list("external_id", flat=True)) == [
        "status:wamid.UNKNOWN:delivered",
        "wamid.A",
        "wamid.B",
        "wamid.C",
    ]
    assert inbox_drain() == {"done": 4, "skipped": 0, "failed": 0}
    # A report about a message we do not know changes nothing.
    assert InboundEvent.objects.filter(status=InboundStatus.DONE).count() == 4
    texts = {
        client.first_name: list(client.messages.order_by("at").values_list("text", flat=True))
        for client in Client.objects.all()
    }
    assert texts == {"Иван": ["Первое", "Третье"], "Мария": ["Второе"]}


@pytest.mark.django_db(transaction=True)
def test_wrong_or_missing_signature_is_refused_and_nothing_stored(
    messenger_sim, whatsapp_channel, hook_url
):
    url = hook_url(whatsapp_channel)
    assert messenger_sim.whatsapp_send(url, "another-secret", WA_ID, "x", "Иван") == 403
    assert messenger_sim.whatsapp_send(url, "", WA_ID, "x", "Иван") == 401
    body = json.dumps(whatsapp_notification(messages=[whatsapp_message(WA_ID, "x")])).encode()
    signature = whatsapp_signature(APP_SECRET, body)
    headers = {"Content-Type": "application/json"}
    # A valid signature of another body, and the bare hex without the "sha256=" prefix.
    assert (
        messenger_sim.post_raw(url, body + b" ", {**headers, "X-Hub-Signature-256": signature})
        == 403
    )
    assert (
        messenger_sim.post_raw(
            url, body, {**headers, "X-Hub-Signature-256": signature.removeprefix("sha256=")}
        )
        == 403
    )
    assert InboundEvent.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_malformed_json_is_400_and_nothing_stored(messenger_sim, whatsapp_channel, hook_url):
    url = hook_url(whatsapp_channel)
    assert messenger_sim.whatsapp_post(url, APP_SECRET, b'{"object": "whatsapp_business') == 400
    assert messenger_sim.whatsapp_post(url, APP_SECRET, b'{"object": "x", "entry": {}}') == 400
    assert messenger_sim.whatsapp_post(url, APP_SECRET, b"\xff\xfe") == 400
    assert InboundEvent.objects.count() == 0


@pytest.mark.django_db
def test_reply_reaches_the_cloud_api_and_is_sent(messenger_sim, whatsapp_channel, inprocess_hook):
    message = _sent_message(messenger_sim, inprocess_hook(whatsapp_channel), "Здравствуйте, Иван!")
    [sent] = messenger_sim.sent
    assert (sent["kind"], sent["to"], sent["text"], sent["phone_number_id"]) == (
        "whatsapp",
        WA_ID,
        "Здравствуйте, Иван!",
        WHATSAPP["phone_number_id"],
    )
    assert sent["id"].startswith("wamid.SIM")
    assert (message.status, message.external_id, message.attempts) == ("sent", sent["id"], 1)


@pytest.mark.django_db
def test_delivery_reports_move_the_status_forward_only(
    messenger_sim, whatsapp_channel, inprocess_hook
):
    url = inprocess_hook(whatsapp_channel)
    message = _sent_message(messenger_sim, url)
    wamid = message.external_id

    def report(status):
        assert messenger_sim.whatsapp_status(url, APP_SECRET, wamid, status, WA_ID) == 200
        inbox_drain()
        message.refresh_from_db()
        return message.status

    assert report("sent") == "sent"
    assert report("delivered") == "delivered"
    assert report("read") == "read"
    # Reports may arrive late or twice: a "delivered" after "read" changes nothing.
    assert report("delivered") == "read"
    assert list(message.status_changes.values_list("from_status", "to_status")) == [
        ("", "queued"),
        ("queued", "sent"),
        ("sent", "delivered"),
        ("delivered", "read"),
    ]
    assert InboundEvent.objects.filter(external_id=f"status:{wamid}:delivered").count() == 1


@pytest.mark.django_db
def test_failed_report_fails_the_message_with_the_error_title(
    messenger_sim, whatsapp_channel, inprocess_hook
):
    url = inprocess_hook(whatsapp_channel)
    message = _sent_message(messenger_sim, url)
    assert (
        messenger_sim.whatsapp_status(
            url,
            APP_SECRET,
            message.external_id,
            "failed",
            WA_ID,
            error_title="Re-engagement message",
            error_code=131047,
        )
        == 200
    )
    inbox_drain()
    message.refresh_from_db()
    assert (message.status, message.status_reason) == ("failed", "Re-engagement message")
    # Nothing revives a failed message.
    messenger_sim.whatsapp_status(url, APP_SECRET, message.external_id, "read", WA_ID)
    inbox_drain()
    message.refresh_from_db()
    assert message.status == "failed"


@pytest.mark.django_db
def test_cloud_api_refusal_fails_the_message_with_the_reason(
    messenger_sim, whatsapp_channel, inprocess_hook
):
    conversation = _conversation_with(messenger_sim, inprocess_hook(whatsapp_channel))
    messenger_sim.fail_next(
        "whatsapp",
        400,
        {
            "error": {
                "message": "(#131030) Recipient phone number not in allowed list",
                "type": "OAuthException",
                "code": 131030,
                "fbtrace_id": "Ab1",
            }
        },
    )
    message = message_send(actor=None, conversation=conversation, text="Ответ")
    message = message_deliver(message_id=message.pk)
    assert (message.status, message.attempts, message.external_id) == ("failed", 1, None)
    assert message.status_reason == (
        "WhatsApp error 131030: (#131030) Recipient phone number not in allowed list"
    )
    assert messenger_sim.sent == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (503, "Service Unavailable", "HTTP 503: Service Unavailable"),
        (
            400,
            {
                "error": {
                    "message": "(#130429) Rate limit hit",
                    "type": "OAuthException",
                    "code": 130429,
                }
            },
            "WhatsApp error 130429: (#130429) Rate limit hit",
        ),
    ],
)
def test_temporary_trouble_keeps_the_message_queued(
    messenger_sim, whatsapp_channel, inprocess_hook, status, body, reason
):
    conversation = _conversation_with(messenger_sim, inprocess_hook(whatsapp_channel))
    message = message_send(actor=None, conversation=conversation, text="Ответ")
    messenger_sim.fail_next("whatsapp", status, body)
    before = timezone.now()
    message = message_deliver(message_id=message.pk)
    assert (message.status, message.attempts, message.status_reason) == ("queued", 1, reason)
    assert message.next_attempt_at > before
    message = message_deliver(message_id=message.pk)
    assert (message.status, message.attempts) == ("sent", 2)
    assert [s["text"] for s in messenger_sim.sent] == ["Ответ"]


@pytest.mark.django_db
def test_wrong_access_token_fails_the_message(messenger_sim, whatsapp_channel, inprocess_hook):
    conversation = _conversation_with(messenger_sim, inprocess_hook(whatsapp_channel))
    whatsapp_channel.settings["access_token"] = "expired"
    whatsapp_channel.save()
    message = message_deliver(
        message_id=message_send(actor=None, conversation=conversation, text="Ответ").pk
    )
    assert (message.status, message.status_reason) == (
        "failed",
        "WhatsApp error 190: Invalid OAuth access token - Cannot parse access token",
    )


@pytest.mark.django_db(transaction=True)
def test_telegram_writer_with_shared_phone_and_whatsapp_writer_are_one_client(
    messenger_sim, telegram_channel, whatsapp_channel, hook_url
):
    telegram_url = hook_url(telegram_channel)
    secret = TELEGRAM["secret_token"]
    messenger_sim.telegram_send(telegram_url, secret, 5001, "Здравствуйте", "Иван")
    messenger_sim.telegram_share_contact(telegram_url, secret, 5001, "+7 912 345-67-89", "Иван")
    inbox_drain()
    assert (
        messenger_sim.whatsapp_send(
            hook_url(whatsapp_channel), APP_SECRET, WA_ID, "Это я же, из WhatsApp", "Иван Петров"
        )
        == 200
    )
    assert inbox_drain() == {"done": 1, "skipped": 0, "failed": 0}

    person = Client.objects.get()
    assert list(person.phones.values_list("number", flat=True)) == ["+79123456789"]
    assert sorted(person.identities.values_list("kind", "external_id")) == [
        ("telegram", "5001"),
        ("whatsapp", WA_ID),
    ]
    assert sorted(Message.objects.values_list("channel__kind", "client_id")) == [
        ("telegram", person.pk),
        ("telegram", person.pk),
        ("whatsapp", person.pk),
    ]
    # The answer in WhatsApp goes to the WhatsApp id, in Telegram to the chat.
    whatsapp_conversation = Conversation.objects.get(channel=whatsapp_channel)
    message_deliver(
        message_id=message_send(actor=None, conversation=whatsapp_conversation, text="Ок").pk
    )
    assert [(s["kind"], s["to"]) for s in messenger_sim.sent] == [("whatsapp", WA_ID)]


@pytest.mark.django_db
def test_settings_are_checked():
    with pytest.raises(ValidationFailed) as error:
        channel_create(kind="whatsapp", name="WA", settings={**WHATSAPP, "app_secret": " "})
    assert error.value.field == "settings.app_secret"
    with pytest.raises(ValidationFailed) as error:
        channel_create(kind="whatsapp", name="WA", settings={**WHATSAPP, "phone_number_id": "x1"})
    assert error.value.field == "settings.phone_number_id"
    channel = channel_create(kind="whatsapp", name="WA", settings=WHATSAPP)
    assert channel.settings == {**WHATSAPP, "api_base_url": "https://graph.facebook.com/v21.0"}


@pytest.mark.django_db
def test_media_and_unknown_items_are_parsed_safely():
    from autocrm.communications.channels import get_adapter

    adapter = get_adapter("whatsapp")
    payload = whatsapp_notification(
        messages=[
            {
                "from": WA_ID,
                "id": "wamid.IMG",
                "timestamp": "1790000000",
                "type": "image",
                "image": {"id": "MEDIA1", "mime_type": "image/jpeg", "caption": "Вот такую"},
            },
            {
                "from": WA_ID,
                "id": "wamid.R",
                "timestamp": "1790000000",
                "type": "reaction",
                "reaction": {"message_id": "wamid.X", "emoji": "👍"},
            },
            {"id": "wamid.NOFROM", "type": "text", "text": {"body": "?"}},
        ],
        statuses=[{"id": "wamid.Y", "status": "deleted"}],
        names={WA_ID: "Иван"},
    )
    [item] = adapter.parse(None, json.dumps(payload), {})
    assert (item.external_id, item.text, item.sender.phone) == (
        "wamid.IMG",
        "Вот такую",
        "+" + WA_ID,
    )
    assert [(a.name, a.content_type, a.external_ref) for a in item.attachments] == [
        ("image.jpg", "image/jpeg", "MEDIA1")
    ]


@pytest.mark.django_db(transaction=True)
def test_simulator_page_reports_delivery_of_what_the_business_sent(
    messenger_sim, whatsapp_channel, live_server
):
    messenger_sim.crm_url = live_server.url
    messenger_sim.configure("whatsapp", webhook=whatsapp_channel.webhook_path)
    form = {"name": "Иван Петров", "user_id": WA_ID, "text": "Добрый день"}
    request = urllib.request.Request(  # noqa: S310 - the simulator
        f"{messenger_sim.url}/client/whatsapp", data=urlencode(form).encode(), method="POST"
    )
    urllib.request.urlopen(request, timeout=10).close()  # noqa: S310
    inbox_drain()
    conversation = Conversation.objects.get()
    message = message_deliver(
        message_id=message_send(actor=None, conversation=conversation, text="Ответ").pk
    )
    with urllib.request.urlopen(f"{messenger_sim.url}/outbox", timeout=10) as response:  # noqa: S310
        outbox = response.read().decode()
    assert f'name="id" value="{message.external_id}"' in outbox
    # The "read" button of that row.
    request = urllib.request.Request(  # noqa: S310 - the simulator
        f"{messenger_sim.url}/client/whatsapp-status",
        data=urlencode({"id": message.external_id, "to": WA_ID, "status": "read"}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.url == f"{messenger_sim.url}/outbox"
    inbox_drain()
    message.refresh_from_db()
    assert message.status == "read"
