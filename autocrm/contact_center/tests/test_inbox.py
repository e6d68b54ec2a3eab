"""The operator inbox page: waiting conversations oldest first, scoped, escaped, polled;
take and assign."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

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
from autocrm.communications.services import channel_create

pytestmark = pytest.mark.django_db

INBOX = "/contact-center/inbox/"
ROWS = "/contact-center/inbox/rows/"


def _channel(dealer_center: Any, name: str) -> Channel:
    return channel_create(
        kind="telegram",
        name=name,
        dealer_center_id=dealer_center.pk if dealer_center else None,
        settings={"bot_token": "1:A", "secret_token": "s", "api_base_url": "http://127.0.0.1:9"},
    )


def _waiting(channel: Channel, minutes: int, last_name: str, text: str) -> Conversation:
    since = timezone.now() - timedelta(minutes=minutes)
    person = ClientFactory.create(last_name=last_name, first_name="Иван")
    conversation = Conversation.objects.create(
        channel=channel,
        client=person,
        external_thread=last_name,
        dealer_center_id=channel.dealer_center_id,
        status=ConversationStatus.WAITING,
        waiting_since=since,
        last_message_at=since,
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


@pytest.fixture
def world() -> dict[str, Any]:
    dc_a = DealerCenterFactory.create(name="A")
    dc_b = DealerCenterFactory.create(name="B")
    channel_a, channel_b = _channel(dc_a, "Бот A"), _channel(dc_b, "Бот B")
    central = _channel(None, "Центральный")
    return {
        "dc_a": dc_a,
        "conv_a_new": _waiting(channel_a, 5, "Новиков", "Есть Tiggo 7?"),
        "conv_a_old": _waiting(channel_a, 125, "Старов", "<script>alert(1)</script>Ау"),
        "conv_b": _waiting(channel_b, 60, "Бэшкин", "Из B"),
        "conv_central": _waiting(central, 30, "Центров", "Центр"),
        "operator": UserFactory.create(username="operator", roles=["operator"]),
        "operator2": UserFactory.create(
            username="operator2", roles=["operator"], last_name="Второй"
        ),
        "sales_a": UserFactory.create(
            username="sales_a", roles=["sales_manager"], dealer_centers=[dc_a]
        ),
        "head_a": UserFactory.create(username="head_a", roles=["head"], dealer_centers=[dc_a]),
        "hostess_a": UserFactory.create(
            username="hostess_a", roles=["hostess"], dealer_centers=[dc_a]
        ),
    }


def _row_ids(html: str) -> list[int]:
    return [int(value) for value in re.findall(r'data-conversation="(\d+)"', html)]


def test_sales_manager_sees_his_dealer_centers_queue_oldest_first(
    client: Any, world: dict[str, Any]
) -> None:
    client.force_login(world["sales_a"])

    response = client.get(INBOX)

    assert response.status_code == 200
    html = response.content.decode()
    assert _row_ids(html) == [world["conv_a_old"].pk, world["conv_a_new"].pk]
    assert "Бэшкин" not in html
    assert "Центров" not in html
    # The client's text is shown escaped, and the row links to his card.
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;Ау" in html
    assert f'href="/clients/{world["conv_a_old"].client_id}/"' in html
    # Polled every 3 s through the partial; no inline script on the page.
    assert 'hx-get="/contact-center/inbox/rows/?show=all"' in html
    assert 'hx-trigger="every 3s"' in html
    assert "<script>" not in html.replace('<script src="', "")


def test_operator_sees_every_dealer_center_and_the_unrouted(
    client: Any, world: dict[str, Any]
) -> None:
    client.force_login(world["operator"])

    html = client.get(ROWS).content.decode()

    assert _row_ids(html) == [
        world["conv_a_old"].pk,
        world["conv_b"].pk,
        world["conv_central"].pk,
        world["conv_a_new"].pk,
    ]
    assert "<html" not in html  # the partial alone


def test_time_waited_is_humanised(client: Any, world: dict[str, Any]) -> None:
    client.force_login(world["sales_a"])

    html = client.get(ROWS).content.decode()  # Russian, the default language

    waited = re.findall(r'class="text-nowrap waited"[^>]*>([^<]+)<', html)
    assert [w.replace("\xa0", " ") for w in waited] == ["2 часа, 5 минут", "5 минут"]


def test_other_roles_are_refused(client: Any, world: dict[str, Any]) -> None:
    client.force_login(world["hostess_a"])

    assert client.get(INBOX).status_code == 403
    assert client.get(ROWS).status_code == 403


def test_take_with_htmx_returns_the_fresh_list(client: Any, world: dict[str, Any]) -> None:
    client.force_login(world["sales_a"])
    conversation = world["conv_a_old"]

    response = client.post(
        f"/contact-center/conversations/{conversation.pk}/take/",
        {"show": "mine"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    assert _row_ids(response.content.decode()) == [conversation.pk]
    conversation.refresh_from_db()
    assert conversation.assigned_to_id == world["sales_a"].pk


def test_take_of_someone_elses_is_a_message_not_an_error(
    client: Any, world: dict[str, Any]
) -> None:
    conversation = world["conv_a_old"]
    Conversation.objects.filter(pk=conversation.pk).update(assigned_to=world["operator"])
    client.force_login(world["sales_a"])

    response = client.post(
        f"/contact-center/conversations/{conversation.pk}/take/", HTTP_HX_REQUEST="true"
    )
    outside = client.post(f"/contact-center/conversations/{world['conv_b'].pk}/take/")

    assert response.status_code == 200
    assert 'id="inbox-error"' in response.content.decode()
    assert Conversation.objects.get(pk=conversation.pk).assigned_to_id == world["operator"].pk
    assert outside.status_code == 404
    assert Conversation.objects.get(pk=world["conv_b"].pk).assigned_to_id is None


def test_assign_to_an_operator(client: Any, world: dict[str, Any]) -> None:
    client.force_login(world["operator"])
    conversation = world["conv_central"]

    page = client.get(INBOX).content.decode()
    response = client.post(
        f"/contact-center/conversations/{conversation.pk}/assign/",
        {"user": world["operator2"].pk},
    )

    # The select offers operators (the unrouted conversation has no dealer center staff).
    assert f'<option value="{world["operator2"].pk}">' in page
    assert response.status_code == 302
    assert response["Location"] == "/contact-center/inbox/?show=all"
    conversation.refresh_from_db()
    assert conversation.assigned_to_id == world["operator2"].pk


def test_assign_refuses_outsiders_and_sales_managers(client: Any, world: dict[str, Any]) -> None:
    conversation = world["conv_a_new"]
    client.force_login(world["head_a"])
    hostess = world["hostess_a"]

    refused = client.post(
        f"/contact-center/conversations/{conversation.pk}/assign/",
        {"user": hostess.pk},
        HTTP_HX_REQUEST="true",
    )
    client.force_login(world["sales_a"])
    forbidden = client.post(
        f"/contact-center/conversations/{conversation.pk}/assign/", {"user": world["operator"].pk}
    )

    assert refused.status_code == 200
    assert 'id="inbox-error"' in refused.content.decode()
    assert forbidden.status_code == 403
    assert Conversation.objects.get(pk=conversation.pk).assigned_to_id is None


def test_answered_conversations_leave_the_queue(client: Any, world: dict[str, Any]) -> None:
    from autocrm.communications.services import message_send

    message_send(actor=world["sales_a"], conversation=world["conv_a_old"], text="Здравствуйте")
    client.force_login(world["sales_a"])

    html = client.get(ROWS).content.decode()

    assert _row_ids(html) == [world["conv_a_new"].pk]
    conversation = Conversation.objects.get(pk=world["conv_a_old"].pk)
    assert conversation.first_response_seconds is not None
    assert conversation.first_response_seconds >= 125 * 60
