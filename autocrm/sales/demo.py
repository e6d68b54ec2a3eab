"""Demo channels and clients with history in every channel.

The history goes through the real path: each event is posted to the channel's webhook view
as its provider would post it (with the provider's secret or signature), stored in the
inbox and processed by the intake job, so the demo shows exactly what production does.
The channels point at the local simulators that ``make run`` starts (``simulators/``), so
answers typed in the demo reach the simulator pages.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.test import RequestFactory
from django.utils import timezone

from autocrm.accounts.models import DealerCenter, Site, User
from autocrm.accounts.roles import RoleCode
from autocrm.communications.channels.base import RawEvent
from autocrm.communications.models import Channel, ChannelKind, Conversation, VisitPurpose
from autocrm.communications.services import channel_create, inbox_store, message_send
from autocrm.communications.views_hooks import webhook
from autocrm.core.demo_registry import register_demo_step
from autocrm.sales.demo_channels import (
    DEMO_CHANNELS,
    DEMO_MAILBOX,
    PBX_URL,
    demo_webhook_key,
)
from autocrm.sales.demo_funnel import build_funnel, build_funnel_setup
from autocrm.sales.intake import inbox_drain
from autocrm.sales.models import Request
from autocrm.sales.visits import visit_register


def ensure_channels() -> dict[str, Channel]:
    """The demo channels, with fixed webhook keys the simulators know."""
    dealer_center = DealerCenter.objects.order_by("pk").first()
    site = Site.objects.order_by("pk").first()
    channels: dict[str, Channel] = {}
    for kind, spec in DEMO_CHANNELS.items():
        channel = Channel.objects.filter(webhook_key=demo_webhook_key(kind)).first()
        if channel is None:
            channel = channel_create(
                kind=kind,
                name=spec["name"],
                dealer_center_id=dealer_center.pk if dealer_center else None,
                site_id=site.pk if site and kind == ChannelKind.WEBFORM else None,
                settings=spec["settings"],
            )
            channel.webhook_key = demo_webhook_key(kind)
            channel.save(update_fields=["webhook_key"])
        channels[kind] = channel
    return channels


class _Poster:
    """Posts provider-shaped events to the webhook view, like the provider would."""

    def __init__(self, channels: dict[str, Channel]) -> None:
        self.channels = channels
        self.factory = RequestFactory()
        # The webhook view checks the host against ALLOWED_HOSTS, as for a real request.
        allowed = [host.lstrip(".") for host in settings.ALLOWED_HOSTS if host != "*"]
        self.host = allowed[0] if allowed else "localhost"
        self.sequence = 1_000

    def _post(self, kind: str, body: bytes, **headers: str) -> int:
        channel = self.channels[kind]
        request = self.factory.post(
            channel.webhook_path,
            data=body,
            content_type="application/json",
            headers=headers,
            SERVER_NAME=self.host,
        )
        response = webhook(request, kind, channel.webhook_key)
        return response.status_code

    def next_id(self) -> int:
        self.sequence += 1
        return self.sequence

    def telegram(
        self, user_id: int, first: str, last: str, text: str, at: datetime, phone: str = ""
    ) -> None:
        message: dict[str, Any] = {
            "message_id": self.next_id(),
            "date": int(at.timestamp()),
            "chat": {"id": user_id, "type": "private"},
            "from": {"id": user_id, "first_name": first, "last_name": last, "is_bot": False},
        }
        if phone:
            message["contact"] = {"phone_number": phone, "first_name": first, "user_id": user_id}
        else:
            message["text"] = text
        body = json.dumps({"update_id": self.next_id(), "message": message}).encode()
        self._post(
            ChannelKind.TELEGRAM,
            body,
            **{
                "X-Telegram-Bot-Api-Secret-Token": DEMO_CHANNELS["telegram"]["settings"][
                    "secret_token"
                ]
            },
        )

    def whatsapp(self, wa_id: str, name: str, text: str, at: datetime) -> None:
        value = {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "78005550000", "phone_number_id": "100200300"},
            "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
            "messages": [
                {
                    "from": wa_id,
                    "id": f"wamid.demo{self.next_id()}",
                    "timestamp": str(int(at.timestamp())),
                    "type": "text",
                    "text": {"body": text},
                }
            ],
        }
        body = json.dumps(
            {
                "object": "whatsapp_business_account",
                "entry": [{"id": "demo", "changes": [{"field": "messages", "value": value}]}],
            }
        ).encode()
        secret = DEMO_CHANNELS["whatsapp"]["settings"]["app_secret"].encode()
        signature = hmac.new(secret, body, hashlib.sha256).hexdigest()
        self._post(ChannelKind.WHATSAPP, body, **{"X-Hub-Signature-256": f"sha256={signature}"})

    def vk(self, user_id: int, text: str, at: datetime) -> None:
        event_id = self.next_id()
        body = json.dumps(
            {
                "type": "message_new",
                "event_id": f"demo{event_id}",
                "group_id": 1,
                "secret": DEMO_CHANNELS["vk"]["settings"]["secret"],
                "v": "5.199",
                "object": {
                    "message": {
                        "id": event_id,
                        "date": int(at.timestamp()),
                        "from_id": user_id,
                        "peer_id": user_id,
                        "text": text,
                        "conversation_message_id": event_id,
                    }
                },
            }
        ).encode()
        self._post(ChannelKind.VK, body)

    def webform(self, data: dict[str, Any]) -> None:
        self._post(ChannelKind.WEBFORM, json.dumps(data).encode())

    def call(self, number: str, line: str, extension: str, at: datetime, talk: int | None) -> None:
        call_id = f"demo-call-{self.next_id()}"
        secret = DEMO_CHANNELS["telephony"]["settings"]["signing_secret"].encode()
        now = int(timezone.now().timestamp())
        events: list[dict[str, Any]] = [{"event": "ringing", "started_at": at.isoformat()}]
        if talk is not None:
            answered = at + timedelta(seconds=12)
            events.append({"event": "answered", "answered_at": answered.isoformat()})
            ended = answered + timedelta(seconds=talk)
            events.append({"event": "finished", "ended_at": ended.isoformat()})
            events.append(
                {"event": "recording", "recording_url": f"{PBX_URL}/recordings/{call_id}.mp3"}
            )
        else:
            events.append(
                {"event": "finished", "ended_at": (at + timedelta(seconds=30)).isoformat()}
            )
        for event in events:
            body = json.dumps(
                {
                    "call_id": call_id,
                    "direction": "in",
                    "client_number": number,
                    "line": line,
                    "operator_extension": extension,
                    "timestamp": now,
                    **event,
                }
            ).encode()
            signature = hmac.new(secret, body, hashlib.sha256).hexdigest()
            self._post(ChannelKind.TELEPHONY, body, **{"X-Signature": f"sha256={signature}"})


def _email(channel: Channel, sender: str, name: str, subject: str, text: str, at: datetime) -> None:
    """An e-mail as the IMAP poller would store it (the mailbox is not running yet)."""
    message = EmailMessage()
    message["From"] = f"{name} <{sender}>"
    message["To"] = DEMO_MAILBOX
    message["Subject"] = subject
    message["Date"] = format_datetime(at)
    message["Message-ID"] = make_msgid(domain="client.demo.test")
    message.set_content(text)
    with transaction.atomic():
        inbox_store(
            channel=channel,
            events=[RawEvent(external_id=message["Message-ID"], body=message.as_string())],
        )


TELEGRAM_PEOPLE = [
    (
        7001,
        "Алексей",
        "Воронцов",
        ["Здравствуйте! Есть ли в наличии Chery Tiggo 7 Pro Max?", "А в белом цвете?"],
    ),
    (7002, "Марина", "Голубева", ["Добрый день, хочу записаться на тест-драйв Haval Jolion"]),
    (7003, "Игорь", "Семёнов", ["Сколько стоит ТО-2 для Geely Coolray?"]),
    (7004, "Ольга", "Крылова", ["Можно ли сдать мою Kia Rio в трейд-ин?", "Пробег 84 000"]),
]
WHATSAPP_PEOPLE = [
    (
        "79215550101",
        "Николай Фёдоров",
        ["Пришлите, пожалуйста, коммерческое предложение на Omoda C5"],
    ),
    ("79215550102", "Светлана Орлова", ["Какие условия по кредиту на EXEED LX?"]),
    ("79215550103", "Павел Никитин", ["Машина готова к выдаче?"]),
]
VK_PEOPLE = [
    (55501, ["Здравствуйте, актуальна ли акция на Chery Tiggo 4?"]),
    (55502, ["Когда поступят новые Haval F7?"]),
]
EMAIL_PEOPLE = [
    (
        "a.sokolov@example.ru",
        "Андрей Соколов",
        "Запрос КП на 5 автомобилей",
        "Добрый день!\nНаша компания рассматривает покупку 5 автомобилей Haval Jolion для сотрудников. Пришлите коммерческое предложение.",
    ),
    (
        "e.morozova@example.ru",
        "Елена Морозова",
        "Документы по сделке",
        "Здравствуйте, пришлите, пожалуйста, копию договора купли-продажи.",
    ),
]
FORMS: list[dict[str, Any]] = [
    {
        "name": "Сергей Петров",
        "phone": "8 (912) 345-67-01",
        "topic": "Тест-драйв",
        "message": "Хочу на тест-драйв в субботу",
        "utm": {"utm_source": "yandex", "utm_medium": "cpc", "utm_campaign": "tiggo7"},
    },
    {
        "name": "Анна Кузнецова",
        "phone": "+7 912 345 67 02",
        "email": "anna.k@example.ru",
        "topic": "Кредит",
        "message": "Интересует кредит на 5 лет",
        "utm": {"utm_source": "vk", "utm_medium": "social"},
    },
    {
        "name": "Виктор Зайцев",
        "phone": "79123456703",
        "topic": "Трейд-ин",
        "message": "Оцените мой Solaris 2018",
    },
]
CALLS = [
    ("8 (921) 555-01-01", "78005550000", "101", 240),  # the WhatsApp writer calls too
    ("+7 921 700-00-10", "78005550000", "101", 95),
    ("89217000011", "78005550000", "101", None),  # missed
]


def build_communications() -> dict[str, int]:
    if Request.objects.exists():
        return {"requests": Request.objects.count()}
    channels = ensure_channels()
    operator = User.objects.filter(roles__code=RoleCode.OPERATOR).order_by("pk").first()
    if operator is not None and not operator.phone_extension:
        operator.phone_extension = "101"
        operator.save(update_fields=["phone_extension"])
    rng = random.Random(2026)  # noqa: S311 - demo data, reproducible on purpose
    now = timezone.now()
    poster = _Poster(channels)

    def moment(days_ago_max: int) -> datetime:
        return (
            now - timedelta(days=rng.randint(1, days_ago_max), minutes=rng.randint(0, 600))
        ).astimezone(UTC)

    for user_id, first, last, texts in TELEGRAM_PEOPLE:
        at = moment(20)
        for text in texts:
            poster.telegram(user_id, first, last, text, at)
            at += timedelta(minutes=rng.randint(1, 30))
    # One person in three channels: his Telegram shares his phone, WhatsApp and a call
    # come from the same number, so all of it lands on one card.
    poster.telegram(7010, "Николай", "Фёдоров", "", moment(10), phone="+79215550101")
    for wa_id, name, texts in WHATSAPP_PEOPLE:
        at = moment(15)
        for text in texts:
            poster.whatsapp(wa_id, name, text, at)
    for user_id, texts in VK_PEOPLE:
        at = moment(15)
        for text in texts:
            poster.vk(user_id, text, at)
    for sender, name, subject, text in EMAIL_PEOPLE:
        _email(channels[ChannelKind.EMAIL], sender, name, subject, text, moment(12))
    for form in FORMS:
        poster.webform(
            {**form, "consent_personal_data": True, "page_url": "https://demo.autocrm.test/"}
        )
    for number, line, extension, talk in CALLS:
        poster.call(number, line, extension, moment(7), talk)
    counts = inbox_drain()

    # Visits registered by the hostess, handed over to a manager.
    hostess = User.objects.filter(roles__code=RoleCode.HOSTESS).order_by("pk").first()
    manager = User.objects.filter(roles__code=RoleCode.SALES_MANAGER).order_by("pk").first()
    dealer_center = DealerCenter.objects.order_by("pk").first()
    if hostess and dealer_center:
        for phone, name, purpose in (
            ("+7 921 555-01-02", "Светлана Орлова", VisitPurpose.TEST_DRIVE),
            ("+7 911 222-33-44", "Роман Белов", VisitPurpose.PURCHASE),
        ):
            visit_register(
                actor=hostess,
                phone=phone,
                name=name,
                dealer_center_id=dealer_center.pk,
                purpose=purpose,
                manager_id=manager.pk if manager else None,
            )
    # The operator has answered some conversations; the rest wait in the inbox.
    if operator is not None:
        for conversation in Conversation.objects.order_by("pk")[:4]:
            message_send(
                actor=operator,
                conversation=conversation,
                text="Здравствуйте! Спасибо за обращение, менеджер свяжется с вами сегодня.",
            )
    return {
        "channels": len(channels),
        "inbound events": counts["done"],
        "requests": Request.objects.count(),
    }


register_demo_step(200, build_communications, name="sales.communications")
# The funnel's configuration goes before the channels, so their requests fire the rules;
# the deals go after them and qualify some of those requests.
register_demo_step(150, build_funnel_setup, name="sales.funnel_setup")
register_demo_step(300, build_funnel, name="sales.funnel")
