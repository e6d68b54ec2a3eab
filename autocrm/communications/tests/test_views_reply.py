"""The reply box on the client card: the channel choice, queuing through message_send, the
refreshed timeline, delivery over real HTTP, and the status badge."""

from __future__ import annotations

import re
import socket
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from autocrm.accounts.tests.factories import DealerCenterFactory, UserFactory
from autocrm.clients.models import Client
from autocrm.clients.tests.factories import ClientFactory
from autocrm.communications.models import (
    Channel,
    Conversation,
    Message,
    MessageStatus,
    MessageStatusChange,
)
from autocrm.communications.services import channel_create, message_deliver
from autocrm.communications.tests.conftest import TELEGRAM

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def dead_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def world() -> dict[str, Any]:
    dc_a, dc_b = DealerCenterFactory.create(), DealerCenterFactory.create()
    person = ClientFactory.create(dealer_center=dc_a)
    return {
        "dc_a": dc_a,
        "client": person,
        "sales_a": UserFactory.create(roles=["sales_manager"], dealer_centers=[dc_a]),
        "sales_b": UserFactory.create(roles=["sales_manager"], dealer_centers=[dc_b]),
        "hostess_a": UserFactory.create(roles=["hostess"], dealer_centers=[dc_a]),
    }


def conversation(
    person: Client, channel: Channel, *, inbound_at: Any = None, thread: str = "5001"
) -> Conversation:
    conv = Conversation.objects.create(
        channel=channel,
        client=person,
        external_thread=thread,
        dealer_center=channel.dealer_center,
        last_message_at=inbound_at,
        waiting_since=inbound_at,
    )
    if inbound_at is not None:
        Message.objects.create(
            conversation=conv,
            client=person,
            channel=channel,
            direction="in",
            status="received",
            text="Здравствуйте",
            at=inbound_at,
        )
    return conv


def telegram(dc: Any, base_url: str) -> Channel:
    return channel_create(
        kind="telegram",
        name="Бот",
        dealer_center_id=dc.pk,
        settings={**TELEGRAM, "api_base_url": base_url},
    )


def whatsapp(dc: Any) -> Channel:
    return Channel.objects.create(kind="whatsapp", name="WA", dealer_center=dc)


def selected_option(html: str) -> str:
    found = re.search(r'<option value="(\d+)" selected>', html)
    assert found is not None, html
    return found.group(1)


def test_the_box_offers_messaging_conversations_and_defaults_to_the_last_used(
    client: Any, world: dict[str, Any]
) -> None:
    person, dc = world["client"], world["dc_a"]
    now = timezone.now()
    tg = conversation(person, telegram(dc, "http://127.0.0.1:9"), inbound_at=now)
    wa = conversation(person, whatsapp(dc), inbound_at=now - timedelta(hours=1), thread="7912")
    phone = Channel.objects.create(kind="telephony", name="PBX", dealer_center=dc)
    conversation(person, phone, thread="call")  # calls carry no messages: not offered
    client.force_login(world["sales_a"])

    html = client.get(f"/communications/clients/{person.pk}/reply/").content.decode()

    assert set(re.findall(r'<option value="(\d+)"', html)) == {str(tg.pk), str(wa.pk)}
    assert selected_option(html) == str(tg.pk)

    Message.objects.create(
        conversation=wa,
        client=person,
        channel=wa.channel,
        direction="in",
        status="received",
        text="Я в WhatsApp",
        at=now + timedelta(minutes=1),
    )
    html = client.get(f"/communications/clients/{person.pk}/reply/").content.decode()
    assert selected_option(html) == str(wa.pk)


def test_reply_queues_in_the_chosen_conversation_and_refreshes_the_timeline(
    client: Any, world: dict[str, Any]
) -> None:
    person, dc = world["client"], world["dc_a"]
    tg = conversation(
        person,
        telegram(dc, f"http://127.0.0.1:{dead_port()}"),
        inbound_at=timezone.now() - timedelta(minutes=5),
    )
    client.force_login(world["sales_a"])

    response = client.post(
        f"/communications/clients/{person.pk}/reply/",
        {"conversation": str(tg.pk), "text": "Да, <b>есть</b> в наличии"},
        headers=HTMX,
    )

    assert response.status_code == 200
    sent = Message.objects.get(direction="out")
    assert (sent.conversation_id, sent.channel_id, sent.client_id) == (
        tg.pk,
        tg.channel_id,
        person.pk,
    )
    assert (sent.text, sent.status, sent.author_id) == (
        "Да, <b>есть</b> в наличии",
        MessageStatus.QUEUED,
        world["sales_a"].pk,
    )
    html = response.content.decode()
    assert 'id="reply-sent"' in html
    assert (
        '<section class="card app-card" id="timeline" aria-labelledby="timeline-title" hx-swap-oob="true">'
        in html
    )
    assert "Да, &lt;b&gt;есть&lt;/b&gt; в наличии" in html
    # Queued: the badge polls until the status changes.
    assert f'hx-get="/communications/messages/{sent.pk}/status/" hx-trigger="every 3s"' in html
    conv = Conversation.objects.get(pk=tg.pk)
    assert (conv.status, conv.waiting_since) == ("answered", None)

    # Delivery to a port nobody listens on: kept queued with the reason, tried again later.
    delivered = message_deliver(message_id=sent.pk)
    assert delivered.attempts == 1
    assert delivered.status in (MessageStatus.QUEUED, MessageStatus.FAILED)
    assert delivered.status_reason != ""


def test_reply_reaches_the_simulated_bot_api(
    client: Any, world: dict[str, Any], messenger_sim: Any
) -> None:
    person, dc = world["client"], world["dc_a"]
    tg = conversation(person, telegram(dc, messenger_sim.url), inbound_at=timezone.now())
    client.force_login(world["sales_a"])

    client.post(
        f"/communications/clients/{person.pk}/reply/",
        {"conversation": str(tg.pk), "text": "Ждём вас в салоне"},
        headers=HTMX,
    )
    sent = Message.objects.get(direction="out")
    message_deliver(message_id=sent.pk)

    sent.refresh_from_db()
    assert sent.status == MessageStatus.SENT
    assert [(entry["kind"], entry["text"]) for entry in messenger_sim.sent] == [
        ("telegram", "Ждём вас в салоне")
    ]
    badge = client.get(f"/communications/messages/{sent.pk}/status/").content.decode()
    assert 'data-status="sent"' in badge
    assert "hx-trigger" not in badge  # no more polling


def test_empty_text_is_an_error_in_the_form_and_nothing_is_stored(
    client: Any, world: dict[str, Any]
) -> None:
    person, dc = world["client"], world["dc_a"]
    tg = conversation(person, telegram(dc, "http://127.0.0.1:9"), inbound_at=timezone.now())
    client.force_login(world["sales_a"])

    response = client.post(
        f"/communications/clients/{person.pk}/reply/",
        {"conversation": str(tg.pk), "text": "   "},
        headers=HTMX,
    )

    assert response.status_code == 200
    assert 'data-error-for="text"' in response.content.decode()
    assert Message.objects.filter(direction="out").count() == 0
    assert MessageStatusChange.objects.count() == 0


def test_a_conversation_not_offered_is_refused(client: Any, world: dict[str, Any]) -> None:
    person, dc = world["client"], world["dc_a"]
    conversation(person, telegram(dc, "http://127.0.0.1:9"), inbound_at=timezone.now())
    stranger = ClientFactory.create(dealer_center=dc)
    foreign = conversation(stranger, whatsapp(dc), inbound_at=timezone.now(), thread="x")
    client.force_login(world["sales_a"])

    response = client.post(
        f"/communications/clients/{person.pk}/reply/",
        {"conversation": str(foreign.pk), "text": "Привет"},
        headers=HTMX,
    )

    assert 'data-error-for="conversation"' in response.content.decode()
    assert Message.objects.filter(direction="out").count() == 0


def test_without_htmx_the_reply_redirects_to_the_card(client: Any, world: dict[str, Any]) -> None:
    person, dc = world["client"], world["dc_a"]
    tg = conversation(person, telegram(dc, "http://127.0.0.1:9"), inbound_at=timezone.now())
    client.force_login(world["sales_a"])

    response = client.post(
        f"/communications/clients/{person.pk}/reply/",
        {"conversation": str(tg.pk), "text": "Добрый день"},
    )

    assert response.status_code == 302
    assert response["Location"] == f"/clients/{person.pk}/"
    assert Message.objects.filter(direction="out", text="Добрый день").count() == 1


def test_who_may_reply(client: Any, world: dict[str, Any]) -> None:
    person, dc = world["client"], world["dc_a"]
    tg = conversation(person, telegram(dc, "http://127.0.0.1:9"), inbound_at=timezone.now())
    url = f"/communications/clients/{person.pk}/reply/"
    data = {"conversation": str(tg.pk), "text": "x"}

    client.force_login(world["sales_b"])  # another dealer center
    assert client.get(url).status_code == 404
    assert client.post(url, data, headers=HTMX).status_code == 404
    client.force_login(world["hostess_a"])  # does not answer conversations
    assert client.post(url, data, headers=HTMX).status_code == 403
    client.logout()
    assert client.post(url, data).status_code == 302
    assert Message.objects.filter(direction="out").count() == 0


def test_a_client_without_messaging_conversations_gets_an_explanation(
    client: Any, world: dict[str, Any]
) -> None:
    client.force_login(world["sales_a"])

    html = client.get(f"/communications/clients/{world['client'].pk}/reply/").content.decode()

    assert 'id="reply-no-channel"' in html
    assert "<textarea" not in html


def test_status_badge_shows_the_failure_reason_and_is_scoped(
    client: Any, world: dict[str, Any]
) -> None:
    person, dc = world["client"], world["dc_a"]
    tg = conversation(person, telegram(dc, "http://127.0.0.1:9"), inbound_at=timezone.now())
    failed = Message.objects.create(
        conversation=tg,
        client=person,
        channel=tg.channel,
        direction="out",
        status="failed",
        status_reason="Forbidden: bot was blocked by the user",
        text="x",
    )
    url = f"/communications/messages/{failed.pk}/status/"
    client.force_login(world["sales_a"])

    html = client.get(url).content.decode()

    assert 'data-status="failed"' in html
    assert "Forbidden: bot was blocked by the user" in html
    assert "hx-trigger" not in html
    client.force_login(world["sales_b"])
    assert client.get(url).status_code == 404
