"""E-mail channel over real SMTP and IMAP: the mail simulator on 127.0.0.1, ephemeral ports.

Inbound: a client's letter in the mailbox → polled and stored once → processed into a
client, a message and a request. Outbound: an answer queued and delivered over SMTP with
threading headers; the client's answer to it lands in the same conversation.
"""

from __future__ import annotations

import re
import socket
from email.message import EmailMessage
from email.utils import format_datetime

import httpx
import pytest
from django.utils import timezone

from autocrm.accounts.tests.factories import UserFactory
from autocrm.clients.models import Client, ClientEmail
from autocrm.clients.tests.factories import ClientFactory
from autocrm.communications.channels import get_adapter
from autocrm.communications.channels.email.rfc822 import html_to_text
from autocrm.communications.mail_polling import (
    MailboxUnavailable,
    email_channel_poll,
    email_channels_poll_all,
)
from autocrm.communications.models import (
    Attachment,
    Channel,
    Conversation,
    Direction,
    InboundEvent,
    InboundStatus,
    Message,
    MessageStatus,
)
from autocrm.communications.services import (
    channel_create,
    channel_update,
    message_deliver,
    message_send,
)
from autocrm.core.errors import ValidationFailed
from autocrm.sales.intake import inbox_drain
from autocrm.sales.models import Request
from simulators import mail as mail_simulator

pytestmark = pytest.mark.django_db

OUR_ADDRESS = "crm@dealer.test"
PASSWORD = "s3cret-pass"


@pytest.fixture
def mail_server():
    handle = mail_simulator.start(users={OUR_ADDRESS: PASSWORD})
    yield handle
    handle.stop()


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _settings(server, **overrides) -> dict:
    settings = {
        "address": OUR_ADDRESS,
        "from_name": "Автосалон Север",
        "imap_host": "127.0.0.1",
        "imap_port": server.imap_port,
        "imap_ssl": False,
        "imap_password": PASSWORD,
        "smtp_host": "127.0.0.1",
        "smtp_port": server.smtp_port,
        "smtp_starttls": False,
    }
    settings.update(overrides)
    return settings


@pytest.fixture
def channel(mail_server):
    return channel_create(kind="email", name="Почта салона", settings=_settings(mail_server))


def _letter(
    *,
    sender: str = "Ivan Petrov <Ivan@Example.COM>",
    subject: str = "Tiggo 7 price",
    text: str | None = "Hello, what is the price of Tiggo 7?",
    message_id: str | None = "<c1@example.com>",
    in_reply_to: str = "",
    references: str = "",
) -> EmailMessage:
    letter = EmailMessage()
    letter["From"] = sender
    letter["To"] = OUR_ADDRESS
    letter["Subject"] = subject
    letter["Date"] = format_datetime(timezone.now())
    if message_id:
        letter["Message-ID"] = message_id
    if in_reply_to:
        letter["In-Reply-To"] = in_reply_to
    if references:
        letter["References"] = references
    if text is not None:
        letter.set_content(text)
    return letter


# --- settings and webhook ------------------------------------------------------------------


def test_settings_defaults_are_the_production_ones():
    cleaned = get_adapter("email").clean_settings(
        {
            "address": " CRM@Dealer.TEST ",
            "imap_host": "imap.dealer.test",
            "imap_password": "pw",
            "smtp_host": "smtp.dealer.test",
        }
    )
    assert cleaned == {
        "address": "crm@dealer.test",
        "from_name": "",
        "imap_host": "imap.dealer.test",
        "imap_port": 993,
        "imap_ssl": True,
        "imap_username": "crm@dealer.test",
        "imap_password": "pw",
        "smtp_host": "smtp.dealer.test",
        "smtp_port": 587,
        "smtp_ssl": False,
        "smtp_starttls": True,
        "smtp_username": "crm@dealer.test",
        "smtp_password": "pw",
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"address": "not-an-address"}, "settings.address"),
        ({"address": ""}, "settings.address"),
        ({"imap_host": ""}, "settings.imap_host"),
        ({"imap_port": "imap"}, "settings.imap_port"),
        ({"imap_port": 70000}, "settings.imap_port"),
        ({"imap_ssl": "maybe"}, "settings.imap_ssl"),
        ({"imap_password": ""}, "settings.imap_password"),
        ({"smtp_host": "smtp host with spaces"}, "settings.smtp_host"),
        ({"smtp_ssl": True, "smtp_starttls": True}, "settings.smtp_starttls"),
        ({"smtp_username": "sender", "smtp_password": ""}, "settings.smtp_password"),
        ({"from_name": "Evil\r\nBcc: x@y.z"}, "settings.from_name"),
    ],
)
def test_bad_settings_name_the_field_and_store_nothing(mail_server, change, field):
    with pytest.raises(ValidationFailed) as error:
        channel_create(kind="email", name="Почта", settings=_settings(mail_server, **change))
    assert error.value.field == field
    assert Channel.objects.count() == 0


def test_email_has_no_webhook(client, channel):
    response = client.post(channel.webhook_path, data="x", content_type="text/plain")
    assert response.status_code == 404
    assert InboundEvent.objects.count() == 0


# --- inbound -------------------------------------------------------------------------------


def test_letter_is_stored_once_marked_seen_and_becomes_message_and_request(mail_server, channel):
    known = ClientFactory.create(first_name="Иван", last_name="Петров", emails=["ivan@example.com"])
    mail_server.deliver(OUR_ADDRESS, _letter())

    assert email_channel_poll(channel=channel) == 1
    assert email_channel_poll(channel=channel) == 0
    assert [m.seen for m in mail_server.messages(OUR_ADDRESS)] == [True]
    event = InboundEvent.objects.get()
    assert (event.channel_id, event.external_id) == (channel.pk, "<c1@example.com>")

    assert inbox_drain() == {"done": 1, "skipped": 0, "failed": 0}
    assert InboundEvent.objects.get().status == InboundStatus.DONE
    assert Client.objects.get() == known  # found by e-mail, whatever its case
    message = Message.objects.get()
    assert (message.client_id, message.direction, message.status) == (
        known.pk,
        Direction.INBOUND,
        MessageStatus.RECEIVED,
    )
    assert (message.subject, message.text) == (
        "Tiggo 7 price",
        "Hello, what is the price of Tiggo 7?",
    )
    assert (message.external_id, message.message_id_header) == ("<c1@example.com>",) * 2
    conversation = Conversation.objects.get()
    assert (conversation.external_thread, conversation.subject, conversation.client_id) == (
        "ivan@example.com",
        "Tiggo 7 price",
        known.pk,
    )
    request = Request.objects.get()
    assert (request.client_id, request.source, request.channel_id, request.topic) == (
        known.pk,
        "email",
        channel.pk,
        "Tiggo 7 price",
    )


def test_unknown_sender_becomes_a_new_client(mail_server, channel):
    mail_server.deliver(
        OUR_ADDRESS, _letter(sender="=?utf-8?b?0J/RkdGC0YAg0JjQstCw0L3QvtCy?= <Petr@Example.com>")
    )
    email_channel_poll(channel=channel)
    inbox_drain()
    person = Client.objects.get()
    assert (person.first_name, person.last_name) == ("Пётр", "Иванов")
    assert list(ClientEmail.objects.values_list("client_id", "address")) == [
        (person.pk, "petr@example.com")
    ]


def test_a_crash_between_store_and_flag_fetches_again_harmlessly(mail_server, channel):
    # No Message-ID: the raw bytes' digest is the external id.
    mail_server.deliver(OUR_ADDRESS, _letter(message_id=None))
    assert email_channel_poll(channel=channel) == 1
    mail_server.messages(OUR_ADDRESS)[0].flags.discard("\\Seen")  # the flag never made it

    assert email_channel_poll(channel=channel) == 0
    assert mail_server.messages(OUR_ADDRESS)[0].seen
    event = InboundEvent.objects.get()
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", event.external_id or "")
    inbox_drain()
    assert Message.objects.get().external_id == event.external_id


def test_html_only_letter_is_stored_as_plain_text(mail_server, channel):
    letter = _letter(text=None)
    letter.set_content(
        "<html><head><title>Offer</title><style>p{color:red}</style></head><body>"
        "<p>Hello&nbsp;<b>there</b>,</p><script>alert('x')</script>"
        "<p>Line 2 &amp; more<br>Line&lt;3&gt;</p></body></html>",
        subtype="html",
    )
    mail_server.deliver(OUR_ADDRESS, letter)
    email_channel_poll(channel=channel)
    inbox_drain()
    assert Message.objects.get().text == "Hello there,\n\nLine 2 & more\nLine<3>"


def test_html_to_text_drops_every_tag():
    assert html_to_text('<div onclick="x()">a<img src=x onerror=alert(1)>b</div>') == "ab"


def test_attachment_is_stored_with_its_bytes(mail_server, channel):
    original = bytes(range(256)) * 40 + b"\x00end"
    letter = _letter(text="The contract is attached.")
    letter.add_attachment(
        original, maintype="application", subtype="pdf", filename="../договор.pdf"
    )
    mail_server.deliver(OUR_ADDRESS, letter)
    email_channel_poll(channel=channel)
    assert inbox_drain()["done"] == 1
    message = Message.objects.get()
    assert message.text == "The contract is attached."
    attachment = Attachment.objects.get()
    assert (attachment.message_id, attachment.name, attachment.content_type, attachment.size) == (
        message.pk,
        "договор.pdf",
        "application/pdf",
        len(original),
    )
    with attachment.file.open("rb") as stored:
        assert stored.read() == original


def test_8bit_letter_in_a_legacy_charset_is_kept_exactly(mail_server, channel):
    raw = (
        (
            "From: =?koi8-r?b?88XSx8XK?= <sergey@example.com>\r\n"
            f"To: {OUR_ADDRESS}\r\n"
            "Subject: =?koi8-r?b?8NLJ18XU?=\r\n"
            "Message-ID: <koi@example.com>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=koi8-r\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n"
        ).encode()
        + "Добрый день".encode("koi8-r")
        + b"\r\n"
    )
    mail_server.deliver(OUR_ADDRESS, raw)
    email_channel_poll(channel=channel)
    event = InboundEvent.objects.get()
    assert event.headers == {"encoding": "base64"}  # not UTF-8: kept byte for byte
    inbox_drain()
    message = Message.objects.get()
    assert (message.subject, message.text) == ("Привет", "Добрый день")
    assert Client.objects.get().first_name == "Сергей"


def test_our_own_letter_in_the_mailbox_is_ignored(mail_server, channel):
    mail_server.deliver(OUR_ADDRESS, _letter(sender=f"Us <{OUR_ADDRESS.upper()}>"))
    email_channel_poll(channel=channel)
    assert inbox_drain() == {"done": 1, "skipped": 0, "failed": 0}
    assert InboundEvent.objects.get().status == InboundStatus.IGNORED
    assert (Client.objects.count(), Message.objects.count()) == (0, 0)


def test_wrong_imap_password_is_a_clear_error_and_stores_nothing(mail_server, channel):
    channel = channel_update(channel=channel, settings={"imap_password": "wrong"})
    mail_server.deliver(OUR_ADDRESS, _letter())
    with pytest.raises(MailboxUnavailable) as error:
        email_channel_poll(channel=channel)
    assert error.value.field == "settings.imap_password"
    assert error.value.message == (
        f"IMAP-сервер 127.0.0.1:{mail_server.imap_port} отклонил вход пользователя "
        f"{OUR_ADDRESS}: [AUTHENTICATIONFAILED] Invalid credentials"
    )
    assert InboundEvent.objects.count() == 0
    assert [m.seen for m in mail_server.messages(OUR_ADDRESS)] == [False]
    assert email_channels_poll_all() == {
        "channels": 1,
        "stored": 0,
        "errors": {str(channel.pk): error.value.message},
    }


def test_unreachable_imap_server_names_the_host_setting(mail_server, channel):
    channel = channel_update(channel=channel, settings={"imap_port": _free_port()})
    with pytest.raises(MailboxUnavailable) as error:
        email_channel_poll(channel=channel)
    assert error.value.field == "settings.imap_host"
    assert error.value.message.startswith("Не удаётся подключиться к IMAP-серверу 127.0.0.1:")
    assert InboundEvent.objects.count() == 0


def test_poll_all_polls_every_active_mailbox(mail_server, channel):
    other_address = "used@dealer.test"
    mail_server.add_user(other_address, "pw2")
    other = channel_create(
        kind="email",
        name="Отдел б/у",
        settings=_settings(
            mail_server, address=other_address, imap_password="pw2", imap_username=other_address
        ),
    )
    switched_off = channel_create(
        kind="email", name="Выключенный", settings=_settings(mail_server, imap_port=_free_port())
    )
    channel_update(channel=switched_off, is_active=False)
    mail_server.deliver(OUR_ADDRESS, _letter())
    mail_server.deliver(other_address, _letter(message_id="<c2@example.com>"))
    mail_server.deliver(other_address, _letter(message_id="<c3@example.com>"))
    assert email_channels_poll_all() == {"channels": 2, "stored": 3, "errors": {}}
    assert sorted(InboundEvent.objects.values_list("channel_id", "external_id")) == sorted(
        [
            (channel.pk, "<c1@example.com>"),
            (other.pk, "<c2@example.com>"),
            (other.pk, "<c3@example.com>"),
        ]
    )


def test_periodic_task_is_registered_and_polls(mail_server, channel):
    from autocrm.communications.tasks_email import poll_email_channels
    from autocrm.core.scheduling import registered_jobs

    job = registered_jobs()["autocrm.communications.tasks_email.poll_email_channels"]
    assert job.every.total_seconds() == 30
    mail_server.deliver(OUR_ADDRESS, _letter())
    assert poll_email_channels.call() == {"channels": 1, "stored": 1, "errors": {}}


# --- outbound ------------------------------------------------------------------------------


def _receive(mail_server, channel, letter: EmailMessage) -> Message:
    mail_server.deliver(OUR_ADDRESS, letter)
    email_channel_poll(channel=channel)
    assert inbox_drain()["done"] == 1
    return Message.objects.filter(direction=Direction.INBOUND).latest("pk")


def test_answer_goes_out_threaded_and_the_clients_reply_joins_the_conversation(
    mail_server, channel
):
    manager = UserFactory()
    first = _receive(mail_server, channel, _letter())
    conversation = first.conversation

    queued = message_send(actor=manager, conversation=conversation, text="Tiggo 7 costs 2 900 000.")
    sent = message_deliver(message_id=queued.pk)
    assert (sent.status, sent.attempts) == (MessageStatus.SENT, 1)
    our_id = sent.message_id_header
    assert re.fullmatch(rf"<[\d.]+\.crm{sent.pk}@dealer\.test>", our_id)
    assert sent.external_id == our_id
    assert (sent.in_reply_to, sent.references) == ("<c1@example.com>", "<c1@example.com>")

    [envelope] = mail_server.sent
    assert (envelope.mail_from, envelope.rcpt_tos, envelope.authenticated_as) == (
        OUR_ADDRESS,
        ["ivan@example.com"],
        OUR_ADDRESS,
    )
    letter = envelope.message
    assert str(letter["From"]) == f"Автосалон Север <{OUR_ADDRESS}>"
    assert str(letter["To"]) == "ivan@example.com"
    assert str(letter["Subject"]) == "Re: Tiggo 7 price"
    assert str(letter["Message-ID"]) == our_id
    assert str(letter["In-Reply-To"]) == "<c1@example.com>"
    assert str(letter["References"]) == "<c1@example.com>"
    assert letter.get_content() == "Tiggo 7 costs 2 900 000.\n"
    assert [str(m["Message-ID"]) for m in mail_server.mailbox("ivan@example.com")] == [our_id]

    # The client answers our letter, with a subject of his own: headers thread it.
    answer = _receive(
        mail_server,
        channel,
        _letter(
            subject="And the trade-in?",
            text="Can I trade in my car?",
            message_id="<c2@example.com>",
            in_reply_to=our_id,
            references=f"<c1@example.com> {our_id}",
        ),
    )
    assert answer.conversation_id == conversation.pk
    assert Conversation.objects.count() == 1
    assert Request.objects.get().touches == 2

    second = message_deliver(
        message_id=message_send(actor=manager, conversation=conversation, text="Yes.").pk
    )
    assert second.status == MessageStatus.SENT
    reply = mail_server.sent[1].message
    assert str(reply["In-Reply-To"]) == "<c2@example.com>"
    assert str(reply["References"]) == f"<c1@example.com> {our_id} <c2@example.com>"
    assert str(reply["Subject"]) == "Re: Tiggo 7 price"


def test_a_new_letter_on_another_subject_opens_its_own_conversation(mail_server, channel):
    _receive(mail_server, channel, _letter())
    _receive(
        mail_server, channel, _letter(subject="Service booking", message_id="<c9@example.com>")
    )
    assert sorted(Conversation.objects.values_list("subject", flat=True)) == [
        "Service booking",
        "Tiggo 7 price",
    ]
    assert Client.objects.count() == 1


def test_smtp_down_keeps_the_message_queued_with_the_reason(mail_server, channel):
    port = _free_port()
    channel = channel_update(channel=channel, settings={"smtp_port": port})
    conversation = _receive(mail_server, channel, _letter()).conversation
    message = message_deliver(
        message_id=message_send(actor=UserFactory(), conversation=conversation, text="Hi").pk
    )
    assert (message.status, message.attempts) == (MessageStatus.QUEUED, 1)
    assert message.status_reason.startswith(
        f"SMTP server unreachable 127.0.0.1:{port}: ConnectionRefusedError"
    )
    assert message.next_attempt_at is not None
    assert message.next_attempt_at > timezone.now()
    assert mail_server.sent == []
    first_id = message.message_id_header

    # Back up: the retry sends it with the Message-ID made on the first attempt.
    channel_update(channel=channel, settings={"smtp_port": mail_server.smtp_port})
    message = message_deliver(message_id=message.pk)
    assert (message.status, message.attempts, message.message_id_header) == (
        MessageStatus.SENT,
        2,
        first_id,
    )
    assert str(mail_server.sent[0].message["Message-ID"]) == first_id


@pytest.mark.parametrize(
    ("code", "status", "reason"),
    [
        (550, MessageStatus.FAILED, "SMTP 550 (получатель отклонён): 5.1.1 No such user"),
        (451, MessageStatus.QUEUED, "SMTP 451 (получатель отклонён): 4.3.0 Try again later"),
    ],
)
def test_refused_recipient_fails_for_good_on_5xx_and_retries_on_4xx(
    mail_server, channel, code, status, reason
):
    conversation = _receive(mail_server, channel, _letter()).conversation
    text = "5.1.1 No such user" if code == 550 else "4.3.0 Try again later"
    mail_server.refuse("ivan@example.com", code, text)
    message = message_deliver(
        message_id=message_send(actor=UserFactory(), conversation=conversation, text="Hi").pk
    )
    assert (message.status, message.attempts, message.status_reason) == (status, 1, reason)
    assert mail_server.sent == []


def test_wrong_smtp_password_fails_without_retry(mail_server, channel):
    channel = channel_update(channel=channel, settings={"smtp_password": "wrong"})
    conversation = _receive(mail_server, channel, _letter()).conversation
    message = message_deliver(
        message_id=message_send(actor=UserFactory(), conversation=conversation, text="Hi").pk
    )
    assert (message.status, message.attempts) == (MessageStatus.FAILED, 1)
    assert message.status_reason.startswith("SMTP 535 (login refused)")


def test_outbound_message_id_is_unique_per_message(mail_server, channel):
    conversation = _receive(mail_server, channel, _letter()).conversation
    user = UserFactory()
    ids = {
        message_deliver(
            message_id=message_send(actor=user, conversation=conversation, text=f"#{n}").pk
        ).message_id_header
        for n in range(3)
    }
    assert len(ids) == 3


def test_simulator_page_sends_a_letter_as_a_client(channel):
    with mail_simulator.start(users={OUR_ADDRESS: PASSWORD}, http_port=0) as server:
        channel = channel_update(
            channel=channel,
            settings={"imap_port": server.imap_port, "smtp_port": server.smtp_port},
        )
        response = httpx.post(
            f"{server.url}/send",
            data={
                "from": "anna@example.com",
                "name": "Анна Смирнова",
                "to": OUR_ADDRESS,
                "subject": "Test drive",
                "text": "<b>Saturday?</b>",
            },
        )
        assert response.status_code == 303
        assert (
            httpx.post(f"{server.url}/send", data={"from": "x", "to": OUR_ADDRESS}).status_code
            == 400
        )
        assert email_channel_poll(channel=channel) == 1
        page = httpx.get(f"{server.url}/").text
        assert "&lt;b&gt;Saturday?&lt;/b&gt;" in page
        assert "<b>Saturday?</b>" not in page
    inbox_drain()
    message = Message.objects.get()
    assert (message.subject, message.text) == ("Test drive", "<b>Saturday?</b>")
    assert (message.client.first_name, message.client.last_name) == ("Анна", "Смирнова")
