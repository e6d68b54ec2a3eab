"""Telegram through the messenger simulator: webhooks over real HTTP into the live server,
answers over real HTTP to the simulated Bot API."""

from __future__ import annotations

import json
import urllib.request
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from autocrm.accounts.tests.factories import UserFactory
from autocrm.clients.models import Client, ClientIdentity, ClientPhone
from autocrm.communications.models import (
    Conversation,
    InboundEvent,
    Message,
    MessageStatus,
)
from autocrm.communications.services import channel_create, message_deliver, message_send
from autocrm.communications.tests.conftest import TELEGRAM
from autocrm.core.errors import ValidationFailed
from autocrm.sales.intake import inbox_drain
from autocrm.sales.models import Request

SECRET = TELEGRAM["secret_token"]


def _conversation_with(sim, url, user_id=5001, text="Здравствуйте"):
    assert sim.telegram_send(url, SECRET, user_id, text, "Анна") == 200
    inbox_drain()
    return Conversation.objects.get(external_thread=str(user_id))


@pytest.mark.django_db(transaction=True)
def test_update_over_http_creates_client_message_and_request(
    messenger_sim, telegram_channel, hook_url
):
    url = hook_url(telegram_channel)
    status = messenger_sim.telegram_send(
        url,
        SECRET,
        5001,
        "Здравствуйте! Есть Tiggo 7?",
        "Анна",
        last_name="Смирнова",
        username="AnnaS",
        update_id=900001,
        message_id=77,
    )
    assert (status, messenger_sim.last_reply) == (200, (200, "{}"))
    # Telegram repeats an update it did not hear 200 for: same update_id, stored once.
    assert (
        messenger_sim.telegram_send(
            url,
            SECRET,
            5001,
            "Здравствуйте! Есть Tiggo 7?",
            "Анна",
            last_name="Смирнова",
            username="AnnaS",
            update_id=900001,
            message_id=77,
        )
        == 200
    )
    assert list(InboundEvent.objects.values_list("external_id", flat=True)) == ["900001"]

    assert inbox_drain() == {"done": 1, "skipped": 0, "failed": 0}
    person = Client.objects.get()
    assert (person.first_name, person.last_name) == ("Анна", "Смирнова")
    assert list(ClientIdentity.objects.values_list("kind", "external_id", "username")) == [
        ("telegram", "5001", "annas")
    ]
    message = Message.objects.get()
    assert (message.text, message.direction, message.status, message.external_id) == (
        "Здравствуйте! Есть Tiggo 7?",
        "in",
        "received",
        "5001:77",
    )
    assert (message.client_id, message.conversation.external_thread) == (person.pk, "5001")
    request = Request.objects.get()
    assert (request.client_id, request.source, request.channel_id) == (
        person.pk,
        "telegram",
        telegram_channel.pk,
    )


@pytest.mark.django_db
def test_same_message_in_another_update_is_not_doubled(
    messenger_sim, telegram_channel, inprocess_hook
):
    url = inprocess_hook(telegram_channel)
    messenger_sim.telegram_send(url, SECRET, 5001, "Привет", update_id=1, message_id=10)
    inbox_drain()
    messenger_sim.telegram_send(url, SECRET, 5001, "Привет", update_id=2, message_id=10)
    assert inbox_drain() == {"done": 1, "skipped": 0, "failed": 0}
    assert Message.objects.count() == 1
    assert Request.objects.get().touches == 1


@pytest.mark.django_db(transaction=True)
def test_wrong_or_missing_secret_is_refused_and_nothing_stored(
    messenger_sim, telegram_channel, hook_url
):
    url = hook_url(telegram_channel)
    assert messenger_sim.telegram_send(url, "tg-secret-2", 5001, "x") == 401
    assert messenger_sim.telegram_send(url, "", 5001, "x") == 401
    assert messenger_sim.telegram_send(url, SECRET[:-1], 5001, "x") == 401
    assert json.loads(messenger_sim.last_reply[1])["detail"] == "Неверный секретный токен."
    assert InboundEvent.objects.count() == 0
    assert Client.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_malformed_json_is_400_and_nothing_stored(messenger_sim, telegram_channel, hook_url):
    headers = {
        "Content-Type": "application/json",
        "X-Telegram-Bot-Api-Secret-Token": SECRET,
    }
    url = hook_url(telegram_channel)
    assert messenger_sim.post_raw(url, b'{"update_id": 1, "message": ', headers) == 400
    assert messenger_sim.post_raw(url, b'{"message": {}}', headers) == 400
    assert messenger_sim.post_raw(url, b"[1, 2]", headers) == 400
    assert InboundEvent.objects.count() == 0


@pytest.mark.django_db
def test_shared_contact_gives_the_client_his_phone(messenger_sim, telegram_channel, inprocess_hook):
    url = inprocess_hook(telegram_channel)
    messenger_sim.telegram_send(url, SECRET, 5001, "Добрый день", "Анна")
    assert messenger_sim.telegram_share_contact(url, SECRET, 5001, "79123456789", "Анна") == 200
    assert inbox_drain()["done"] == 2
    person = Client.objects.get()
    assert list(person.phones.values_list("number", flat=True)) == ["+79123456789"]
    assert list(Message.objects.values_list("text", flat=True)) == [
        "Добрый день",
        "Отправлен номер телефона: 79123456789",
    ]


@pytest.mark.django_db
def test_someone_elses_contact_is_not_taken_for_the_senders_phone(
    messenger_sim, telegram_channel, inprocess_hook
):
    update = {
        "update_id": 31,
        "message": {
            "message_id": 5,
            "date": 1_790_000_000,
            "chat": {"id": 5001, "type": "private"},
            "from": {"id": 5001, "first_name": "Анна"},
            "contact": {"phone_number": "+79990001122", "first_name": "Муж", "user_id": 6002},
        },
    }
    assert messenger_sim.telegram_post(inprocess_hook(telegram_channel), SECRET, update) == 200
    inbox_drain()
    assert ClientPhone.objects.count() == 0


@pytest.mark.django_db
def test_reply_reaches_the_bot_api_and_is_sent(messenger_sim, telegram_channel, inprocess_hook):
    conversation = _conversation_with(messenger_sim, inprocess_hook(telegram_channel))
    manager = UserFactory(username="manager")
    message = message_send(actor=manager, conversation=conversation, text="Да, есть в наличии")
    assert message.status == MessageStatus.QUEUED

    message = message_deliver(message_id=message.pk)

    [sent] = messenger_sim.sent
    assert (sent["kind"], sent["to"], sent["text"], sent["token"]) == (
        "telegram",
        "5001",
        "Да, есть в наличии",
        TELEGRAM["bot_token"],
    )
    assert (message.status, message.attempts, message.status_reason) == ("sent", 1, "")
    # Telegram numbers messages per chat, so the chat is part of our id for it.
    assert message.external_id == f"5001:{sent['id']}"
    assert list(message.status_changes.values_list("from_status", "to_status")) == [
        ("", "queued"),
        ("queued", "sent"),
    ]
    # A second delivery run (a duplicate task) sends nothing more.
    message_deliver(message_id=message.pk)
    assert len(messenger_sim.sent) == 1


@pytest.mark.django_db
def test_blocked_bot_fails_the_message_with_the_reason(
    messenger_sim, telegram_channel, inprocess_hook
):
    conversation = _conversation_with(messenger_sim, inprocess_hook(telegram_channel))
    message = message_send(actor=None, conversation=conversation, text="Ответ")
    messenger_sim.fail_next(
        "telegram",
        403,
        {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"},
    )
    message = message_deliver(message_id=message.pk)
    assert (message.status, message.attempts, message.next_attempt_at) == ("failed", 1, None)
    assert message.status_reason == "Telegram error 403: Forbidden: bot was blocked by the user"
    assert messenger_sim.sent == []
    assert messenger_sim.calls == [("telegram", 403)]


@pytest.mark.django_db
def test_provider_5xx_keeps_the_message_queued_for_a_retry(
    messenger_sim, telegram_channel, inprocess_hook
):
    conversation = _conversation_with(messenger_sim, inprocess_hook(telegram_channel))
    message = message_send(actor=None, conversation=conversation, text="Ответ")
    messenger_sim.fail_next("telegram", 502, "Bad Gateway")
    before = timezone.now()
    message = message_deliver(message_id=message.pk)
    assert (message.status, message.attempts, message.external_id) == ("queued", 1, None)
    assert message.status_reason == "HTTP 502: Bad Gateway"
    assert message.next_attempt_at > before
    assert messenger_sim.sent == []

    message = message_deliver(message_id=message.pk)  # the retry job's turn
    assert (message.status, message.attempts) == ("sent", 2)
    assert [s["text"] for s in messenger_sim.sent] == ["Ответ"]


@pytest.mark.django_db
def test_wrong_bot_token_fails_the_message(messenger_sim, telegram_channel, inprocess_hook):
    conversation = _conversation_with(messenger_sim, inprocess_hook(telegram_channel))
    telegram_channel.settings["bot_token"] = "123456:WRONG"
    telegram_channel.save()
    message = message_deliver(
        message_id=message_send(actor=None, conversation=conversation, text="Ответ").pk
    )
    assert (message.status, message.status_reason) == ("failed", "Telegram error 401: Unauthorized")
    assert messenger_sim.sent == []


@pytest.mark.django_db
def test_settings_are_checked():
    with pytest.raises(ValidationFailed) as error:
        channel_create(kind="telegram", name="Бот", settings={"secret_token": "abc"})
    assert error.value.field == "settings.bot_token"
    with pytest.raises(ValidationFailed) as error:
        channel_create(
            kind="telegram", name="Бот", settings={"bot_token": "1:A", "secret_token": "a b"}
        )
    assert error.value.field == "settings.secret_token"
    channel = channel_create(
        kind="telegram", name="Бот", settings={"bot_token": "1:A", "secret_token": "abc"}
    )
    assert channel.settings == {
        "bot_token": "1:A",
        "secret_token": "abc",
        "api_base_url": "https://api.telegram.org",
    }


def _get(url):
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - the simulator
        return response.status, response.headers, response.read().decode()


def _post_form(url, fields):
    request = urllib.request.Request(  # noqa: S310 - the simulator
        url, data=urlencode(fields).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return response.status, response.url


@pytest.mark.django_db(transaction=True)
def test_simulator_page_sends_as_a_client_and_shows_the_answer_escaped(
    messenger_sim, telegram_channel, live_server
):
    messenger_sim.crm_url = live_server.url
    messenger_sim.configure("telegram", webhook=telegram_channel.webhook_path)
    status, headers, page = _get(messenger_sim.url + "/")
    assert status == 200
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert f"Webhook: {live_server.url}{telegram_channel.webhook_path}" in page
    assert 'action="/client/telegram"' in page
    # No scripts and nothing loaded from elsewhere.
    assert "<script" not in page
    assert 'src="http' not in page
    assert "<link" not in page

    status, final_url = _post_form(
        messenger_sim.url + "/client/telegram",
        {
            "name": "Анна Смирнова",
            "user_id": "5001",
            "phone": "+79123456789",
            "text": "<b>Есть</b> Tiggo?",
        },
    )
    assert (status, final_url) == (200, messenger_sim.url + "/")  # redirected to the page
    assert [post.status for post in messenger_sim.inbound] == [200, 200]
    assert inbox_drain()["done"] == 2
    person = Client.objects.get()
    assert (person.first_name, person.last_name) == ("Анна", "Смирнова")
    assert list(person.phones.values_list("number", flat=True)) == ["+79123456789"]

    conversation = Conversation.objects.get()
    message_deliver(
        message_id=message_send(actor=None, conversation=conversation, text="<i>Да</i> & ждём").pk
    )
    _, _, outbox = _get(messenger_sim.url + "/outbox")
    assert "&lt;i&gt;Да&lt;/i&gt; &amp; ждём" in outbox
    assert "&lt;b&gt;Есть&lt;/b&gt; Tiggo?" in outbox
    assert "<i>" not in outbox
    assert "<b>" not in outbox
    assert '<meta http-equiv="refresh"' in outbox

    # A user id that is not a number is reported on the page, nothing is posted.
    _post_form(messenger_sim.url + "/client/telegram", {"user_id": "abc", "text": "x"})
    assert messenger_sim.inbound[-1].status == 0
    assert InboundEvent.objects.count() == 2
