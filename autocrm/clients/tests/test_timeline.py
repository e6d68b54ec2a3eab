"""The client timeline: one order across messages, calls, forms, visits and requests,
keyset pages that neither repeat nor skip rows, and its API."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from autocrm.accounts.services import api_token_create
from autocrm.accounts.tests.factories import DealerCenterFactory, UserFactory
from autocrm.clients.models import Client
from autocrm.clients.services import client_merge
from autocrm.clients.tests.factories import ClientFactory
from autocrm.clients.timeline import (
    Cursor,
    client_timeline,
    client_timeline_newer,
    timeline_sources,
)
from autocrm.communications.models import (
    Attachment,
    Call,
    Channel,
    Conversation,
    FormSubmission,
    Message,
    Visit,
)
from autocrm.core.errors import ValidationFailed
from autocrm.sales.models import Request

pytestmark = pytest.mark.django_db

T = timezone.now().replace(microsecond=123456)


def channels() -> dict[str, Channel]:
    return {
        "telegram": Channel.objects.create(kind="telegram", name="Bot"),
        "whatsapp": Channel.objects.create(kind="whatsapp", name="WA"),
        "telephony": Channel.objects.create(kind="telephony", name="PBX"),
        "webform": Channel.objects.create(kind="webform", name="Site form"),
    }


def message(client: Client, channel: Channel, at: Any, text: str = "hi", **extra: Any) -> Message:
    conversation = Conversation.objects.filter(client=client, channel=channel).first()
    if conversation is None:
        conversation = Conversation.objects.create(
            channel=channel, client=client, external_thread=f"{channel.kind}-{client.pk}"
        )
    fields = {"direction": "in", "status": "received", **extra}
    return Message.objects.create(
        conversation=conversation, client=client, channel=channel, text=text, at=at, **fields
    )


def call(client: Client, channel: Channel, at: Any, **extra: Any) -> Call:
    return Call.objects.create(
        channel=channel,
        client=client,
        external_id=f"call-{Call.objects.count() + 1}",
        direction="in",
        client_number="+79123456789",
        status="finished",
        started_at=at,
        **extra,
    )


def form(client: Client, channel: Channel, at: Any, **extra: Any) -> FormSubmission:
    return FormSubmission.objects.create(channel=channel, client=client, at=at, **extra)


def visit(client: Client, at: Any, **extra: Any) -> Visit:
    dealer_center = client.dealer_center or DealerCenterFactory.create()
    return Visit.objects.create(
        client=client, dealer_center=dealer_center, purpose="test_drive", at=at, **extra
    )


def request_row(client: Client, at: Any, **extra: Any) -> Request:
    return Request.objects.create(client=client, source="telegram", opened_at=at, **extra)


def mixed_history(client: Client) -> list[tuple[str, int]]:
    """Rows of every kind, most of them at one instant; returns (kind, id) newest first."""
    ch = channels()
    rows: list[tuple[Any, str, int]] = []

    def add(kind: str, row: Any, at: Any) -> None:
        rows.append((at, kind, row.pk))

    earlier, later = T - timedelta(minutes=1), T + timedelta(seconds=1)
    for at in (T, T, T, earlier, later):
        add("message", message(client, ch["telegram"], at), at)
        add("call", call(client, ch["telephony"], at), at)
        add("form", form(client, ch["webform"], at, topic="Test drive"), at)
        add("visit", visit(client, at), at)
        add("request", request_row(client, at, topic="Tiggo 7"), at)
    add("message", message(client, ch["whatsapp"], T, direction="out", status="queued"), T)
    rows.sort(reverse=True)
    return [(kind, pk) for _, kind, pk in rows]


def walk(client: Client, limit: int) -> list[tuple[str, int]]:
    seen: list[tuple[str, int]] = []
    before = None
    for _ in range(100):
        items, before = client_timeline(client=client, limit=limit, before=before)
        seen.extend((item.kind, item.id) for item in items)
        assert len(items) <= limit
        if before is None:
            return seen
        assert len(items) == limit
    raise AssertionError("the pages never ended")


def test_every_app_registered_its_source() -> None:
    assert set(timeline_sources()) == {"message", "call", "form", "visit", "request"}


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 7, 26, 100])
def test_pages_cover_every_item_once_in_time_order(limit: int) -> None:
    client = ClientFactory.create()
    other = ClientFactory.create()
    expected = mixed_history(client)
    message(other, Channel.objects.get(kind="telegram"), T, text="someone else")

    assert len(expected) == 26
    assert walk(client, limit) == expected


def test_equal_timestamps_are_ordered_by_kind_then_id() -> None:
    client = ClientFactory.create()
    mixed_history(client)

    items, _ = client_timeline(client=client, limit=100)
    at_t = [(item.kind, item.id) for item in items if item.at == T]

    kinds = ["visit"] * 3 + ["request"] * 3 + ["message"] * 4 + ["form"] * 3 + ["call"] * 3
    assert [kind for kind, _ in at_t] == kinds
    for kind in {"visit", "request", "message", "form", "call"}:
        ids = [pk for k, pk in at_t if k == kind]
        assert ids == sorted(ids, reverse=True)


def test_a_page_boundary_inside_a_tie_neither_repeats_nor_skips() -> None:
    client = ClientFactory.create()
    ch = channels()
    ids = [message(client, ch["telegram"], T).pk for _ in range(5)]

    first, before = client_timeline(client=client, limit=2)
    second, before2 = client_timeline(client=client, limit=2, before=before)
    third, before3 = client_timeline(client=client, limit=2, before=before2)

    assert [i.id for i in first + second + third] == sorted(ids, reverse=True)
    assert before3 is None


def test_item_fields_of_each_kind() -> None:
    client = ClientFactory.create()
    manager = UserFactory.create(first_name="Иван", last_name="Петров")
    ch = channels()
    sent = message(
        client,
        ch["telegram"],
        T,
        text="Ответ",
        direction="out",
        status="failed",
        status_reason="bot was blocked",
        author=manager,
    )
    Attachment.objects.create(message=sent, name="price.pdf", content_type="application/pdf")
    call(
        client,
        ch["telephony"],
        T - timedelta(seconds=1),
        duration_seconds=95,
        recording_url="https://pbx.example/rec/1.mp3",
    )
    call(client, ch["telephony"], T - timedelta(seconds=2), recording_url="javascript:alert(1)")
    form(
        client,
        ch["webform"],
        T - timedelta(seconds=3),
        topic="Кредит",
        message="Перезвоните",
        utm={"utm_source": "yandex"},
    )
    visit(client, T - timedelta(seconds=4), manager=manager, note="С женой")
    request_row(client, T - timedelta(seconds=5), topic="Tiggo 7", status="in_progress")

    items, next_before = client_timeline(client=client)
    by_kind = {item.kind: item.as_dict() for item in items}

    assert next_before is None
    assert [i.kind for i in items] == ["message", "call", "call", "form", "visit", "request"]
    msg = by_kind["message"]
    assert (msg["channel"], msg["direction"], msg["text"], msg["status"]) == (
        "telegram",
        "out",
        "Ответ",
        "failed",
    )
    assert (msg["status_reason"], msg["author"]) == ("bot was blocked", "Петров Иван")
    assert msg["attachments"] == [
        {
            "id": Attachment.objects.get().pk,
            "name": "price.pdf",
            "content_type": "application/pdf",
            "size": 0,
            "downloaded": False,
            "url": None,
        }
    ]
    calls = [i.as_dict() for i in items if i.kind == "call"]
    assert (calls[0]["channel"], calls[0]["duration_seconds"], calls[0]["recording_url"]) == (
        "telephony",
        95,
        "https://pbx.example/rec/1.mp3",
    )
    assert calls[1]["recording_url"] is None  # not a web address: never a link
    assert (by_kind["form"]["topic"], by_kind["form"]["text"], by_kind["form"]["utm"]) == (
        "Кредит",
        "Перезвоните",
        {"utm_source": "yandex"},
    )
    assert (by_kind["visit"]["purpose"], by_kind["visit"]["manager"]) == (
        "test_drive",
        "Петров Иван",
    )
    assert (by_kind["request"]["topic"], by_kind["request"]["status"]) == (
        "Tiggo 7",
        "in_progress",
    )
    assert by_kind["request"]["direction"] is None


def test_newer_items_are_those_above_the_cursor() -> None:
    client = ClientFactory.create()
    expected = mixed_history(client)
    items, _ = client_timeline(client=client, limit=100)

    for position in (0, 1, 5, 12, 25):
        newer, overflow = client_timeline_newer(
            client=client, after=items[position].cursor.encode(), limit=100
        )
        assert [(i.kind, i.id) for i in newer] == expected[:position]
        assert overflow is False
    newer, overflow = client_timeline_newer(client=client, after=items[20].cursor.encode(), limit=5)
    assert overflow is True


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        "!!!",
        base64.urlsafe_b64encode(b"1:message").decode(),
        base64.urlsafe_b64encode(b"x:message:1").decode(),
        base64.urlsafe_b64encode(b"1:message:0").decode(),
        base64.urlsafe_b64encode(b"1:mess age:1").decode(),
        base64.urlsafe_b64encode(b"99999999999999999999999:message:1").decode(),
        base64.urlsafe_b64encode(b"1:message:99999999999999999999999").decode(),
        "A" * 500,
    ],
)
def test_a_malformed_cursor_names_before(value: str) -> None:
    client = ClientFactory.create()
    with pytest.raises(ValidationFailed) as caught:
        client_timeline(client=client, before=value)
    assert caught.value.field == "before"


def test_cursor_round_trip() -> None:
    cursor = Cursor(at=T, kind="message", id=42)
    assert Cursor.decode(cursor.encode()) == cursor


def test_the_first_page_takes_a_fixed_number_of_queries(
    django_assert_max_num_queries: Any,
) -> None:
    client = ClientFactory.create()
    mixed_history(client)
    with django_assert_max_num_queries(6):  # five sources and the attachments
        items, _ = client_timeline(client=client, limit=30)
    assert len(items) == 26


# --- the API -----------------------------------------------------------------------------


@pytest.fixture
def api_world() -> dict[str, Any]:
    dc_a, dc_b = DealerCenterFactory.create(), DealerCenterFactory.create()
    sales_a = UserFactory.create(roles=["sales_manager"], dealer_centers=[dc_a])
    sales_b = UserFactory.create(roles=["sales_manager"], dealer_centers=[dc_b])
    client = ClientFactory.create(dealer_center=dc_a)
    token_a = api_token_create(actor=None, user=sales_a, name="tests").token
    token_b = api_token_create(actor=None, user=sales_b, name="tests").token
    return {
        "client": client,
        "a": {"HTTP_AUTHORIZATION": f"Bearer {token_a}"},
        "b": {"HTTP_AUTHORIZATION": f"Bearer {token_b}"},
    }


def url(client: Client) -> str:
    return f"/api/v1/clients/{client.pk}/timeline"


def test_api_pages_newest_first(client: Any, api_world: dict[str, Any]) -> None:
    person = api_world["client"]
    expected = mixed_history(person)

    seen: list[tuple[str, int]] = []
    params: dict[str, Any] = {"limit": 4}
    while True:
        response = client.get(url(person), params, **api_world["a"])
        assert response.status_code == 200, response.content
        body = response.json()
        seen.extend((item["kind"], item["id"]) for item in body["items"])
        if body["next_before"] is None:
            break
        params["before"] = body["next_before"]

    assert seen == expected
    first = client.get(url(person), {"limit": 1}, **api_world["a"]).json()["items"][0]
    assert {"kind", "channel", "direction", "text", "at", "id"} <= set(first)
    newest = (T + timedelta(seconds=1)).isoformat(timespec="milliseconds")
    assert (first["kind"], first["at"]) == ("visit", newest.replace("+00:00", "Z"))
    # Each kind's own fields come through too (purpose and manager of a visit).
    assert "purpose" in first


def test_api_refuses_a_bad_before_naming_it(client: Any, api_world: dict[str, Any]) -> None:
    response = client.get(url(api_world["client"]), {"before": "nonsense"}, **api_world["a"])

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "before"


@pytest.mark.parametrize("limit", ["0", "101", "x"])
def test_api_refuses_a_bad_limit_naming_it(
    client: Any, api_world: dict[str, Any], limit: str
) -> None:
    response = client.get(url(api_world["client"]), {"limit": limit}, **api_world["a"])

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "limit"


def test_api_hides_other_dealer_centers_clients(client: Any, api_world: dict[str, Any]) -> None:
    person = api_world["client"]
    message(person, Channel.objects.create(kind="telegram", name="Bot"), T, text="secret")

    response = client.get(url(person), **api_world["b"])

    assert response.status_code == 404
    assert "secret" not in response.content.decode()


def test_api_gives_a_merged_clients_survivor_timeline(
    client: Any, api_world: dict[str, Any]
) -> None:
    survivor = api_world["client"]
    other = ClientFactory.create(dealer_center=survivor.dealer_center)
    sent = message(other, Channel.objects.create(kind="telegram", name="Bot"), T, text="moved")
    client_merge(survivor=survivor, other=other)

    response = client.get(url(other), **api_world["a"])

    assert response.status_code == 200
    assert [(i["kind"], i["id"], i["text"]) for i in response.json()["items"]] == [
        ("message", sent.pk, "moved")
    ]
