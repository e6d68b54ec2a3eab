"""Telephony: signed PBX call events over real HTTP into one Call per call id, found on
the client by his number in any format; click-to-call through the PBX simulator."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from autocrm.accounts.tests.factories import DealerCenterFactory, UserFactory
from autocrm.clients.models import Client, ClientPhone
from autocrm.clients.tests.factories import ClientFactory
from autocrm.communications.channels.telephony import sign
from autocrm.communications.models import Call, CallStatus, InboundEvent
from autocrm.communications.services import channel_create, channel_update
from autocrm.communications.telephony import PbxUnavailable, call_originate
from autocrm.core.errors import NotFound, ValidationFailed
from autocrm.sales.intake import inbox_drain
from autocrm.sales.models import Request
from simulators import pbx as pbx_simulator

SECRET = "pbx-signing-secret-1"

pytestmark = pytest.mark.django_db


@pytest.fixture
def dealer_center() -> Any:
    return DealerCenterFactory()


@pytest.fixture
def channel(dealer_center: Any) -> Any:
    return channel_create(
        kind="telephony",
        name="АТС Мурманск",
        dealer_center_id=dealer_center.pk,
        settings={"signing_secret": SECRET, "lines": {"+78152000000": "Отдел продаж"}},
    )


@pytest.fixture
def known_client() -> Client:
    person = ClientFactory(first_name="Анна", last_name="Смирнова")
    ClientPhone.objects.create(client=person, number="+79123456789", is_primary=True)
    return person


@pytest.fixture
def operator() -> Any:
    user = UserFactory(roles=["operator"])
    user.phone_extension = "101"
    user.save(update_fields=["phone_extension"])
    return user


@pytest.fixture
def pbx() -> Iterator[pbx_simulator.PbxHandle]:
    handle = pbx_simulator.start(signing_secret=SECRET, event_delay=0.01)
    yield handle
    handle.stop()


def _post(client: Any, channel: Any, payload: Any, *, secret: str = SECRET, **headers: str) -> Any:
    body = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
    return client.post(
        channel.webhook_path,
        data=body,
        content_type="application/json",
        headers={"X-Signature": sign(secret, body), **headers},
    )


def _event(event: str, **fields: Any) -> dict[str, Any]:
    return {
        "event": event,
        "call_id": "c-1",
        "direction": "in",
        "client_number": "+79123456789",
        "line": "+78152000000",
        "operator_extension": "101",
        "timestamp": int(time.time()),
        **fields,
    }


@pytest.mark.django_db(transaction=True)
def test_signed_events_over_http_make_one_finished_call(
    live_server: Any, channel: Any, known_client: Client, operator: Any, pbx: Any
) -> None:
    webhook_url = live_server.url + channel.webhook_path
    results = pbx.call(webhook_url, SECRET, "8 (912) 345-67-89", "+78152000000", "101", duration=42)
    assert [(r.payload["event"], r.status) for r in results] == [
        ("ringing", 200),
        ("answered", 200),
        ("finished", 200),
        ("recording", 200),
    ]
    call_id = results[0].payload["call_id"]
    assert sorted(InboundEvent.objects.values_list("external_id", flat=True)) == sorted(
        f"{call_id}:{e}" for e in ("ringing", "answered", "finished", "recording")
    )
    # The PBX retries one event: answered 200, stored once.
    again = pbx.event(webhook_url, SECRET, **{**results[2].payload, "timestamp": int(time.time())})
    assert again.status == 200
    assert InboundEvent.objects.count() == 4

    assert inbox_drain() == {"done": 4, "skipped": 0, "failed": 0}
    call = Call.objects.get()
    assert call.client == known_client
    assert call.operator == operator
    assert (call.external_id, call.direction, call.client_number) == (call_id, "in", "+79123456789")
    assert (call.line, call.operator_extension) == ("+78152000000", "101")
    assert (call.status, call.duration_seconds) == (CallStatus.FINISHED, 42)
    assert call.recording_url == f"{pbx.url}/recordings/{call_id}.mp3"
    assert call.dealer_center_id == channel.dealer_center_id
    assert (call.answered_at - call.started_at).total_seconds() == 5
    assert Client.objects.count() == 1
    request = Request.objects.get()
    assert (request.client, request.source, request.channel_id) == (
        known_client,
        "telephony",
        channel.pk,
    )


@pytest.mark.django_db(transaction=True)
def test_missed_call_from_unknown_number_creates_the_client(
    live_server: Any, channel: Any, pbx: Any
) -> None:
    results = pbx.call(
        live_server.url + channel.webhook_path, SECRET, "79220001122", "", "", answer=False
    )
    assert [r.status for r in results] == [200, 200]
    inbox_drain()
    call = Call.objects.get()
    assert (call.status, call.recording_url, call.operator) == (CallStatus.MISSED, "", None)
    assert list(call.client.phones.values_list("number", flat=True)) == ["+79220001122"]
    assert Request.objects.get().client == call.client


def test_bad_signature_is_refused_and_nothing_stored(client: Any, channel: Any) -> None:
    body = json.dumps(_event("ringing")).encode()
    wrong = _post(client, channel, body, secret="another-secret")
    assert wrong.status_code == 401
    assert wrong.json()["errors"][0]["field"] == "X-Signature"
    missing = client.post(channel.webhook_path, data=body, content_type="application/json")
    assert missing.status_code == 401
    tampered = client.post(
        channel.webhook_path,
        data=body.replace(b"c-1", b"c-2"),
        content_type="application/json",
        headers={"X-Signature": sign(SECRET, body)},
    )
    assert tampered.status_code == 401
    assert InboundEvent.objects.count() == 0


def test_replays_outside_the_window_are_refused(client: Any, channel: Any) -> None:
    stale = _post(client, channel, _event("ringing", timestamp=int(time.time()) - 3600))
    assert (stale.status_code, stale.json()["errors"][0]["field"]) == (401, "timestamp")
    now = int(time.time())
    mismatch = _post(
        client, channel, _event("ringing", timestamp=now), **{"X-Timestamp": str(now + 7)}
    )
    assert (mismatch.status_code, mismatch.json()["errors"][0]["field"]) == (401, "X-Timestamp")
    assert InboundEvent.objects.count() == 0
    matching = _post(client, channel, _event("ringing", timestamp=now), **{"X-Timestamp": str(now)})
    assert matching.status_code == 200
    # Without a timestamp the event is taken (older PBXs); repeats are harmless anyway.
    untimed = _event("answered")
    del untimed["timestamp"]
    assert _post(client, channel, untimed).status_code == 200
    assert InboundEvent.objects.count() == 2


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (b"{not json", "body"),
        (b"[1, 2]", "body"),
        ({"event": "ringing", "direction": "in"}, "call_id"),
        ({"event": "hangup", "call_id": "c-1"}, "event"),
        ({"call_id": "c-1"}, "event"),
        ({"event": "ringing", "call_id": "c-1", "direction": "sideways"}, "direction"),
        ({"event": "ringing", "call_id": "c-1", "started_at": "yesterday"}, "started_at"),
        ({"event": "recording", "call_id": "c-1"}, "recording_url"),
        ({"event": "recording", "call_id": "c-1", "recording_url": "ftp://x/y"}, "recording_url"),
    ],
)
def test_malformed_events_are_refused(client: Any, channel: Any, payload: Any, field: str) -> None:
    response = _post(client, channel, payload)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field
    assert InboundEvent.objects.count() == 0


def test_events_out_of_order_still_end_in_a_correct_call(
    client: Any, channel: Any, known_client: Client, operator: Any
) -> None:
    started = "2026-03-02T09:00:00Z"
    answered = "2026-03-02T09:00:07+00:00"
    ended = 1_772_442_067  # 2026-03-02T09:01:07Z, Unix seconds
    # The PBX's "finished" overtakes "answered" and carries no answer time itself.
    events = [
        _event("finished", started_at=started, ended_at=ended, timestamp=None),
        _event("recording", recording_url="https://pbx.example/rec/c-1.mp3", timestamp=None),
        _event("answered", started_at=started, answered_at=answered, timestamp=None),
        _event("ringing", client_number="8 (912) 345-67-89", started_at=started, timestamp=None),
    ]
    for payload in events:
        assert _post(client, channel, payload).status_code == 200
    assert inbox_drain()["done"] == 4
    call = Call.objects.get()
    assert call.client == known_client
    assert call.operator == operator
    assert call.status == CallStatus.FINISHED
    assert call.started_at.isoformat() == "2026-03-02T09:00:00+00:00"
    assert call.answered_at.isoformat() == "2026-03-02T09:00:07+00:00"
    assert call.ended_at.isoformat() == "2026-03-02T09:01:07+00:00"
    assert call.duration_seconds == 60
    assert call.recording_url == "https://pbx.example/rec/c-1.mp3"
    assert Request.objects.get().touches == 1


@pytest.mark.django_db(transaction=True)
def test_click_to_call_reaches_the_pbx_and_the_call_comes_back(
    live_server: Any, channel: Any, known_client: Client, operator: Any, pbx: Any
) -> None:
    channel = channel_update(channel=channel, settings={"api_base_url": pbx.url})
    pbx.crm_url, pbx.webhook_path = live_server.url, channel.webhook_path

    result = call_originate(actor=operator, channel=channel, client_id=known_client.pk)
    assert (result["extension"], result["number"]) == ("101", "+79123456789")
    assert result["pbx"]["status"] == "queued"
    assert [(o["extension"], o["number"], o["request_id"]) for o in pbx.originates] == [
        ("101", "+79123456789", result["request_id"])
    ]
    pbx.wait_idle()
    assert [(s.payload["event"], s.status) for s in pbx.sent] == [
        ("ringing", 200),
        ("answered", 200),
        ("finished", 200),
        ("recording", 200),
    ]
    assert inbox_drain()["done"] == 4
    call = Call.objects.get()
    assert call.external_id == result["pbx"]["call_id"]
    assert (call.direction, call.client, call.operator) == ("out", known_client, operator)
    assert (call.status, call.duration_seconds) == (CallStatus.FINISHED, 42)

    # A number typed by hand is dialled in E.164.
    typed = call_originate(actor=operator, channel=channel, number="8 (922) 000-11-22")
    assert typed["number"] == "+79220001122"
    assert pbx.originates[-1]["number"] == "+79220001122"


def test_click_to_call_refusals_name_the_field(
    channel: Any, known_client: Client, operator: Any, pbx: Any
) -> None:
    with pytest.raises(ValidationFailed) as no_pbx:
        call_originate(actor=operator, channel=channel, number="+79123456789")
    assert no_pbx.value.field == "channel"

    channel = channel_update(channel=channel, settings={"api_base_url": pbx.url})
    no_extension = UserFactory(roles=["operator"])
    with pytest.raises(ValidationFailed) as error:
        call_originate(actor=no_extension, channel=channel, client_id=known_client.pk)
    assert error.value.field == "phone_extension"
    with pytest.raises(ValidationFailed) as error:
        call_originate(actor=operator, channel=channel, number="12")
    assert error.value.field == "number"
    with pytest.raises(ValidationFailed) as error:
        call_originate(actor=operator, channel=channel)
    assert error.value.field == "number"
    phoneless = ClientFactory()
    with pytest.raises(ValidationFailed) as error:
        call_originate(actor=operator, channel=channel, client_id=phoneless.pk)
    assert error.value.field == "number"
    assert pbx.originates == []

    # A PBX that does not accept our signature is reported, not swallowed.
    pbx.signing_secret = "the-pbx-has-another-secret"
    with pytest.raises(PbxUnavailable) as refused:
        call_originate(actor=operator, channel=channel, number="+79123456789")
    assert (refused.value.status_code, refused.value.field) == (502, "channel")
    assert pbx.originates == []
    assert len(pbx.refused) == 1


def test_click_to_call_respects_client_scope(channel: Any, pbx: Any) -> None:
    channel = channel_update(channel=channel, settings={"api_base_url": pbx.url})
    own, other = DealerCenterFactory(), DealerCenterFactory()
    manager = UserFactory(roles=["sales_manager"], dealer_centers=[own])
    manager.phone_extension = "205"
    manager.save(update_fields=["phone_extension"])
    hidden = ClientFactory(dealer_center=other)
    ClientPhone.objects.create(client=hidden, number="+79990001122", is_primary=True)
    with pytest.raises(NotFound) as error:
        call_originate(actor=manager, channel=channel, client_id=hidden.pk)
    assert error.value.field == "client_id"
    assert pbx.originates == []


def test_telephony_settings_are_checked() -> None:
    for given, field in [
        ({}, "settings.signing_secret"),
        ({"signing_secret": "short"}, "settings.signing_secret"),
        ({"signing_secret": SECRET, "api_base_url": "pbx.local"}, "settings.api_base_url"),
        ({"signing_secret": SECRET, "lines": ["a"]}, "settings.lines"),
        ({"signing_secret": SECRET, "replay_window_seconds": -1}, "settings.replay_window_seconds"),
    ]:
        with pytest.raises(ValidationFailed) as error:
            channel_create(kind="telephony", name="x", settings=given)
        assert error.value.field == field


def test_pbx_simulator_page_and_originate_signature(pbx: Any) -> None:
    import httpx

    page = httpx.get(pbx.url + "/", timeout=5)
    assert page.status_code == 200
    assert "Call the dealer as a client" in page.text
    unsigned = httpx.post(
        pbx.url + "/originate",
        json={"extension": "101", "number": "+79123456789", "request_id": "r1"},
        timeout=5,
    )
    assert unsigned.status_code == 401
    body = json.dumps({"extension": "101", "number": "+79123456789"}).encode()
    incomplete = httpx.post(
        pbx.url + "/originate", content=body, headers={"X-Signature": sign(SECRET, body)}, timeout=5
    )
    assert incomplete.status_code == 400
    assert pbx.originates == []

    # The page's form calls the CRM as a client; here the CRM is a closed port.
    pbx.crm_url, pbx.webhook_path = "http://127.0.0.1:9", "/hooks/telephony/x/"
    form = httpx.post(
        pbx.url + "/ui/call",
        data={"number": "+79123456789", "line": "1", "extension": "101", "duration": "5"},
        timeout=5,
    )
    assert (form.status_code, form.headers["location"]) == (303, "/?ok=1")
    deadline = time.monotonic() + 5
    while len(pbx.sent) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [(s.payload["event"], s.payload["client_number"], s.status) for s in pbx.sent] == [
        ("ringing", "+79123456789", 0),
        ("finished", "+79123456789", 0),
    ]
