"""Omnichannel intake in a real browser (issue 4).

- A client writes to the Telegram bot (the messenger simulator posts to the live server's
  webhook over HTTP); the message shows up in the operator's inbox without a reload; the
  operator answers from the client card and the simulator receives exactly that answer.
- The hostess registers a walk-in on a tablet; the manager she hands him to finds the
  visit on the client card.
- Two cards of one person are found on the duplicates screen and merged into one.

Background work is played by the test thread, as the inbox worker and the delivery task
would do it: ``inbox_drain()`` after a webhook, ``message_deliver()`` for queued answers.
Labels are checked through ids and data attributes, so the tests do not depend on the
state of the Russian translation; names and texts are checked as shown.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Dialog, Page, expect

from autocrm.accounts.tests.factories import DealerCenterFactory, UserFactory
from autocrm.clients.models import Client, ClientIdentity
from autocrm.clients.tests.factories import ClientFactory
from autocrm.communications.models import (
    Channel,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    MessageStatus,
    Visit,
    VisitPurpose,
)
from autocrm.communications.services import channel_create, message_deliver, visit_record
from autocrm.sales.intake import inbox_drain
from e2e.conftest import TABLET
from simulators import messengers

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BOT_TOKEN = "123456:E2E-bot-token"
SECRET_TOKEN = "e2e-tg-secret"
CHAT_ID = 700_100_200
HOSTILE = "<script>alert(1)</script>"
# How long htmx polling (every 3 s) may take to show a change, with some slack.
POLL_TIMEOUT = 10_000


@pytest.fixture
def messenger_sim(live_server: Any) -> Iterator[messengers.MessengerSimulator]:
    """Telegram as the client and the bot API see it; posts go to the live server."""
    sim = messengers.start(
        crm_url=live_server.url,
        channels={"telegram": {"bot_token": BOT_TOKEN, "secret": SECRET_TOKEN}},
    )
    yield sim
    sim.stop()


@pytest.fixture
def dialogs(page: Page) -> list[str]:
    """Every alert/confirm/prompt the page opens (none is expected: customer text is
    data, never markup)."""
    fired: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        fired.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return fired


def deliver_queued() -> list[int]:
    """What the delivery task would do now: one attempt for each queued answer."""
    queued = list(
        Message.objects.filter(
            direction=Direction.OUTBOUND, status=MessageStatus.QUEUED
        ).values_list("pk", flat=True)
    )
    for message_id in queued:
        message_deliver(message_id=message_id)
    return queued


def test_telegram_message_reaches_the_inbox_live_and_the_answer_reaches_the_client(
    live_server: Any,
    page: Page,
    login: Callable[[Page, str], None],
    messenger_sim: messengers.MessengerSimulator,
    dialogs: list[str],
) -> None:
    channel = channel_create(
        kind="telegram",
        name="Бот «Автоцентр»",
        settings={
            "bot_token": BOT_TOKEN,
            "secret_token": SECRET_TOKEN,
            "api_base_url": messenger_sim.url,
        },
    )
    messenger_sim.configure("telegram", webhook=channel.webhook_path)
    UserFactory.create(
        username="operator", first_name="Ольга", last_name="Операторова", roles=["operator"]
    )

    login(page, "operator")
    page.goto(f"{live_server.url}/contact-center/inbox/")
    expect(page.locator("#inbox-empty")).to_be_visible()
    # A marker on window survives only if the page is not reloaded.
    page.evaluate("() => { window.__marker = 'still-here'; }")

    question = f"Здравствуйте! {HOSTILE} Есть Tiggo 7 Pro Max в наличии?"
    status = messenger_sim.telegram_send(
        None, None, CHAT_ID, question, first_name="Анна", last_name="Смирнова", username="AnnaS"
    )
    assert status == 200
    assert inbox_drain() == {"done": 1, "skipped": 0, "failed": 0}
    conversation = Conversation.objects.select_related("client").get()
    assert conversation.status == ConversationStatus.WAITING
    assert conversation.client.display_name == "Смирнова Анна"

    row = page.locator(f"#conversation-{conversation.pk}")
    expect(row.locator(".message-preview")).to_have_text(question, timeout=POLL_TIMEOUT)
    expect(row.locator("a.client-link")).to_have_text("Смирнова Анна")
    expect(row.locator(".channel-kind")).to_have_text("Telegram")
    assert page.evaluate("() => window.__marker") == "still-here"
    # Shown as text: no element was made of the customer's markup.
    expect(page.locator("#inbox-rows script")).to_have_count(0)

    with page.expect_navigation():
        row.locator("a.client-link").click()
    expect(page.locator("#client-name")).to_have_text("Смирнова Анна")
    incoming = page.locator("#timeline-items [data-kind=message][data-direction=in]")
    expect(incoming).to_have_count(1)
    expect(incoming.locator("[data-text]")).to_have_text(question)
    expect(page.locator("#timeline-items script")).to_have_count(0)
    expect(page.locator("#client-identities [data-identity=telegram]")).to_contain_text("@annas")

    # The reply box comes with htmx; the Telegram conversation is the one offered.
    reply = page.locator("#reply-box")
    expect(reply.locator("select[name=conversation]")).to_have_value(str(conversation.pk))
    answer = "Анна, добрый день! Tiggo 7 Pro Max есть в салоне, приезжайте на тест-драйв."
    reply.locator("textarea[name=text]").fill(answer)
    reply.locator("#reply-send").click()
    expect(page.locator("#reply-sent")).to_be_visible()
    expect(page.locator("#reply-box textarea[name=text]")).to_have_value("")

    sent = Message.objects.get(direction=Direction.OUTBOUND)
    assert (sent.text, sent.status, sent.conversation_id) == (
        answer,
        MessageStatus.QUEUED,
        conversation.pk,
    )
    outgoing = page.locator(f"#timeline-message-{sent.pk}")
    expect(outgoing.locator("[data-text]")).to_have_text(answer)
    badge = page.locator(f"#message-status-{sent.pk}")
    expect(badge).to_have_attribute("data-status", "queued")
    assert messenger_sim.sent == []

    assert deliver_queued() == [sent.pk]
    assert [(entry["kind"], entry["to"], entry["text"]) for entry in messenger_sim.sent] == [
        ("telegram", str(CHAT_ID), answer)
    ]
    sent.refresh_from_db()
    assert sent.status == MessageStatus.SENT
    # Telegram numbers messages per chat: the provider id is kept with its chat.
    assert sent.external_id == f"{CHAT_ID}:{messenger_sim.sent[0]['id']}"
    # The badge asks for its status by itself while the message is queued.
    expect(page.locator(f"#message-status-{sent.pk}")).to_have_attribute(
        "data-status", "sent", timeout=POLL_TIMEOUT
    )
    # The timeline was refreshed in place, the incoming message still shown as text.
    expect(incoming.locator("[data-text]")).to_have_text(question)
    expect(page.locator("#timeline-items script")).to_have_count(0)

    # Answered, the conversation leaves the queue; the client's next message brings it
    # back to the open inbox, in the same conversation of the same client.
    page.goto(f"{live_server.url}/contact-center/inbox/")
    expect(page.locator("#inbox-empty")).to_be_visible()
    follow_up = "Спасибо, буду к 18:00"
    assert messenger_sim.telegram_send(None, None, CHAT_ID, follow_up, first_name="Анна") == 200
    assert inbox_drain() == {"done": 1, "skipped": 0, "failed": 0}
    expect(row.locator(".message-preview")).to_have_text(follow_up, timeout=POLL_TIMEOUT)
    assert (Client.objects.count(), Conversation.objects.count()) == (1, 1)
    assert dialogs == []


def test_hostess_registers_a_walk_in_and_the_manager_sees_the_visit(
    live_server: Any,
    new_context: Callable[..., Any],
    login: Callable[[Page, str], None],
) -> None:
    showroom = DealerCenterFactory.create(name="CHERY Центр Мурманск")
    UserFactory.create(
        username="hostess", first_name="Ирина", roles=["hostess"], dealer_centers=[showroom]
    )
    manager = UserFactory.create(
        username="manager",
        first_name="Мария",
        last_name="Продажина",
        roles=["sales_manager"],
        dealer_centers=[showroom],
    )
    UserFactory.create(
        username="other-manager",
        first_name="Пётр",
        last_name="Другов",
        roles=["sales_manager"],
        dealer_centers=[showroom],
    )
    known = ClientFactory.create(
        last_name="Иванов", first_name="Сергей", dealer_center=showroom, phones=["+79123456789"]
    )

    hostess_page = new_context(viewport=TABLET).new_page()
    login(hostess_page, "hostess")
    hostess_page.goto(f"{live_server.url}/sales/visits/new/")
    # The tablet layout: the form fits the width, nothing to scroll sideways.
    assert hostess_page.evaluate("() => document.documentElement.scrollWidth") <= TABLET["width"]

    # The number as the visitor says it, not as it is stored.
    hostess_page.locator("#id_phone").press_sequentially("8 (912) 345-67-89")
    expect(hostess_page.locator("#visit-client-name")).to_have_text("Иванов Сергей")
    expect(hostess_page.locator("#visit-client-name")).to_have_attribute(
        "href", f"/clients/{known.pk}/"
    )
    hostess_page.locator("label[for=purpose-test_drive]").click()
    expect(hostess_page.locator("#purpose-test_drive")).to_be_checked()
    expect(hostess_page.locator("#id_dealer_center")).to_have_value(str(showroom.pk))
    hostess_page.select_option("#id_manager", str(manager.pk))
    hostess_page.fill("#id_note", "Хочет Tiggo 7 Pro Max")
    with hostess_page.expect_navigation():
        hostess_page.click("#visit-submit")

    success = hostess_page.locator("#messages .alert-success")
    expect(success).to_contain_text("Иванов Сергей")
    expect(success).to_contain_text("Продажина Мария")
    # A fresh form for the next visitor.
    expect(hostess_page.locator("#id_phone")).to_have_value("")
    visit = Visit.objects.get()
    assert (visit.client_id, visit.purpose, visit.manager_id, visit.note) == (
        known.pk,
        VisitPurpose.TEST_DRIVE,
        manager.pk,
        "Хочет Tiggo 7 Pro Max",
    )
    assert Client.objects.count() == 1

    manager_page = new_context(viewport=TABLET).new_page()
    login(manager_page, "manager")
    manager_page.goto(f"{live_server.url}/clients/{known.pk}/")
    item = manager_page.locator(f"#timeline-visit-{visit.pk}")
    expect(item.locator("[data-purpose]")).to_have_attribute("data-purpose", "test_drive")
    expect(item).to_contain_text("CHERY Центр Мурманск")
    expect(item).to_contain_text("Продажина Мария")
    expect(item.locator("[data-text]")).to_have_text("Хочет Tiggo 7 Pro Max")


def test_hostess_registers_a_new_visitor_on_a_narrow_tablet(
    live_server: Any,
    new_context: Callable[..., Any],
    login: Callable[[Page, str], None],
) -> None:
    showroom = DealerCenterFactory.create(name="HAVAL Центр Архангельск")
    UserFactory.create(username="hostess", roles=["hostess"], dealer_centers=[showroom])
    narrow = {"width": 768, "height": 1024}
    page = new_context(viewport=narrow).new_page()
    login(page, "hostess")
    page.goto(f"{live_server.url}/sales/visits/new/")

    page.locator("#id_phone").press_sequentially("+7 (921) 555-44-33")
    expect(page.locator("#visit-client-new")).to_be_visible()
    page.locator("#id_name").fill("Ольга Новикова")
    # Without a purpose the form comes back with the error and what was typed.
    page.click("#visit-submit")
    expect(page.locator("#visit-purposes ~ .invalid-feedback")).to_be_visible()
    expect(page.locator("#id_phone")).to_have_value("+7 (921) 555-44-33")
    expect(page.locator("#id_name")).to_have_value("Ольга Новикова")
    assert Client.objects.count() == 0

    page.locator("label[for=purpose-purchase]").click()
    with page.expect_navigation():
        page.click("#visit-submit")
    # "First Last" as said; the card lists the last name first.
    expect(page.locator("#messages .alert-success")).to_contain_text("Новикова Ольга")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= narrow["width"]
    visit = Visit.objects.select_related("client").get()
    assert (visit.purpose, visit.manager_id, visit.dealer_center_id) == (
        VisitPurpose.PURCHASE,
        None,
        showroom.pk,
    )
    assert (visit.client.last_name, visit.client.first_name) == ("Новикова", "Ольга")
    assert visit.client.dealer_center_id == showroom.pk
    assert list(visit.client.phones.values_list("number", flat=True)) == ["+79215554433"]


def _telegram_history(client: Client, text: str) -> Message:
    """The client wrote to the bot once (as the intake would have stored it)."""
    channel: Channel = channel_create(
        kind="telegram",
        name="Бот «Автоцентр»",
        settings={
            "bot_token": BOT_TOKEN,
            "secret_token": SECRET_TOKEN,
            "api_base_url": "http://127.0.0.1:9",
        },
    )
    ClientIdentity.objects.create(client=client, kind="telegram", external_id=str(CHAT_ID))
    conversation = Conversation.objects.create(
        channel=channel,
        client=client,
        external_thread=str(CHAT_ID),
        status=ConversationStatus.WAITING,
    )
    return Message.objects.create(
        conversation=conversation,
        client=client,
        channel=channel,
        direction=Direction.INBOUND,
        text=text,
        status=MessageStatus.RECEIVED,
        external_id="1",
    )


def test_two_cards_of_one_person_are_merged_with_both_histories(
    live_server: Any, page: Page, login: Callable[[Page, str], None], dialogs: list[str]
) -> None:
    showroom = DealerCenterFactory.create(name="HAVAL Центр Архангельск")
    operator = UserFactory.create(username="operator", roles=["operator"])
    older = ClientFactory.create(
        last_name="Петров", first_name="Андрей", dealer_center=showroom, phones=["+79110001122"]
    )
    newer = ClientFactory.create(
        last_name="",
        first_name="Андрей П.",
        dealer_center=showroom,
        phones=["8 911 000-11-22"],
    )
    visit = visit_record(
        actor=operator,
        client=older,
        dealer_center_id=showroom.pk,
        purpose=VisitPurpose.SERVICE,
        note="Плановое ТО",
    )
    message = _telegram_history(newer, f"Когда забрать машину? {HOSTILE}")

    login(page, "operator")
    page.goto(f"{live_server.url}/clients/duplicates/")
    pair = page.locator(f"[data-pair='{older.pk}-{newer.pk}']")
    expect(pair.locator("[data-reason=phone]")).to_be_visible()
    expect(pair.locator(f"[data-client='{older.pk}']")).to_contain_text("Петров Андрей")
    expect(pair.locator(f"[data-client='{newer.pk}']")).to_contain_text("Андрей П.")
    expect(pair.locator(f"[data-client='{newer.pk}']")).to_contain_text("+79110001122")

    with page.expect_navigation():
        pair.locator("[data-merge-link]").click()
    # The older card stays unless the user chooses otherwise.
    expect(page.locator(f"#survivor-{older.pk}")).to_be_checked()
    with page.expect_navigation():
        page.click("#merge-submit")

    assert page.url == f"{live_server.url}/clients/{older.pk}/"
    expect(page.locator("#messages .alert-success")).to_contain_text(
        re.compile(rf"[#№]{newer.pk}\b")
    )
    expect(page.locator("#client-name")).to_have_text("Петров Андрей")
    timeline = page.locator("#timeline-items")
    expect(timeline.locator(f"#timeline-visit-{visit.pk} [data-text]")).to_have_text("Плановое ТО")
    expect(timeline.locator(f"#timeline-message-{message.pk} [data-text]")).to_have_text(
        f"Когда забрать машину? {HOSTILE}"
    )
    expect(timeline.locator("script")).to_have_count(0)
    expect(page.locator("#client-identities [data-identity=telegram]")).to_contain_text(
        str(CHAT_ID)
    )
    expect(page.locator("#client-phones [data-phone='+79110001122']")).to_have_count(1)
    newer.refresh_from_db()
    assert newer.merged_into_id == older.pk
    assert Message.objects.get().client_id == older.pk

    # The closed card's old links lead to the survivor.
    page.goto(f"{live_server.url}/clients/{newer.pk}/")
    assert page.url == f"{live_server.url}/clients/{older.pk}/"
    # The pair is gone from the duplicates screen.
    page.goto(f"{live_server.url}/clients/duplicates/")
    expect(page.locator(f"[data-pair='{older.pk}-{newer.pk}']")).to_have_count(0)
    assert dialogs == []
