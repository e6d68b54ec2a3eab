"""The ringing-call pop-up: the call ringing on the user's extension, with the client's
name and card; opening or hiding it marks it seen."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.utils import timezone

from autocrm.accounts.tests.factories import UserFactory
from autocrm.clients.tests.factories import ClientFactory
from autocrm.communications.models import Call, CallStatus, Channel, Direction
from autocrm.communications.services import channel_create

pytestmark = pytest.mark.django_db

RINGING = "/contact-center/calls/ringing/"


@pytest.fixture
def channel() -> Channel:
    # Calls are stored directly here: the telephony adapter is another test's subject.
    return channel_create(
        kind="telegram",
        name="АТС",
        settings={"bot_token": "1:A", "secret_token": "s", "api_base_url": "http://127.0.0.1:9"},
    )


def _call(channel: Channel, extension: str, *, seconds_ago: int = 5, **extra: Any) -> Call:
    fields: dict[str, Any] = {
        "status": CallStatus.RINGING,
        "client": ClientFactory.create(last_name="Звонков", first_name="Олег"),
        **extra,
    }
    return Call.objects.create(
        channel=channel,
        external_id=f"call-{Call.objects.count() + 1}",
        direction=Direction.INBOUND,
        client_number="+79123456789",
        operator_extension=extension,
        started_at=timezone.now() - timedelta(seconds=seconds_ago),
        **fields,
    )


@pytest.fixture
def operator() -> Any:
    return UserFactory.create(username="op", roles=["operator"], phone_extension="101")


def test_ringing_call_shows_the_client_and_his_card(
    client: Any, channel: Channel, operator: Any
) -> None:
    call = _call(channel, "101")
    _call(channel, "102")  # somebody else's extension
    client.force_login(operator)

    html = client.get(RINGING).content.decode()

    assert f'data-call="{call.pk}"' in html
    assert "Звонков Олег" in html
    assert "+79123456789" in html
    assert f'action="/contact-center/calls/{call.pk}/open/"' in html


@pytest.mark.parametrize(
    "extra",
    [
        {"status": CallStatus.ANSWERED},
        {"status": CallStatus.FINISHED},
        {"seconds_ago": 180},  # a ringing event never followed by another: stale
    ],
)
def test_nothing_shows_for_calls_not_ringing_now(
    client: Any, channel: Channel, operator: Any, extra: dict[str, Any]
) -> None:
    _call(channel, "101", **extra)
    client.force_login(operator)

    assert "ringing-call" not in client.get(RINGING).content.decode()


def test_opening_marks_it_seen_and_goes_to_the_card(
    client: Any, channel: Channel, operator: Any
) -> None:
    call = _call(channel, "101")
    client.force_login(operator)

    response = client.post(f"/contact-center/calls/{call.pk}/open/")

    assert response.status_code == 302
    assert response["Location"] == f"/clients/{call.client_id}/"
    assert "ringing-call" not in client.get(RINGING).content.decode()


def test_hiding_marks_it_seen(client: Any, channel: Channel, operator: Any) -> None:
    call = _call(channel, "101")
    client.force_login(operator)

    response = client.post(f"/contact-center/calls/{call.pk}/dismiss/", HTTP_HX_REQUEST="true")

    assert (response.status_code, response.content) == (200, b"")
    assert "ringing-call" not in client.get(RINGING).content.decode()


def test_other_users_cannot_act_on_the_call(client: Any, channel: Channel) -> None:
    call = _call(channel, "101")
    client.force_login(UserFactory.create(roles=["operator"], phone_extension="102"))

    assert client.post(f"/contact-center/calls/{call.pk}/open/").status_code == 404
    assert "ringing-call" not in client.get(RINGING).content.decode()


def test_the_include_polls_only_for_users_with_an_extension(operator: Any) -> None:
    request = RequestFactory().get("/")
    without = UserFactory.create(roles=["operator"])

    with_extension = render_to_string(
        "contact_center/call_popup.html", {"user": operator}, request=request
    )
    no_extension = render_to_string(
        "contact_center/call_popup.html", {"user": without}, request=request
    )

    assert 'hx-get="/contact-center/calls/ringing/"' in with_extension
    assert 'hx-trigger="load, every 2s"' in with_extension
    assert no_extension.strip() == ""
