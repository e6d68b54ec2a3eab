"""The deal pages: board (counts, scope, constant queries, "show more"), stage moves from
the board and the card (allowed, refused by a rule, stale version), the list with filters
and its XLSX export, the card (scope, edit), the new-deal form and request qualification,
the deals panel of the client card."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal
from io import BytesIO
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from autocrm.accounts.tests.factories import DealerCenterFactory, UserFactory
from autocrm.clients.tests.factories import ClientFactory
from autocrm.inventory.tests.factories import VehicleFactory
from autocrm.sales.models import (
    Deal,
    DealStageChange,
    DealState,
    LossReason,
    Request,
    RequestStatus,
)
from autocrm.sales.tests.factories import default_pipelines, make_deal, stage

pytestmark = pytest.mark.django_db

BOARD = "/sales/deals/board/new_car/"


@pytest.fixture(autouse=True)
def _english(settings: Any) -> None:
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def world() -> dict[str, Any]:
    pipelines = default_pipelines()
    new_car = pipelines["new_car"]
    dc_a = DealerCenterFactory.create(name="Мурманск CHERY")
    dc_b = DealerCenterFactory.create(name="Владивосток")
    manager_a = UserFactory.create(
        username="manager_a", roles=["sales_manager"], dealer_centers=[dc_a]
    )
    manager_a2 = UserFactory.create(
        username="manager_a2", roles=["sales_manager"], dealer_centers=[dc_a]
    )
    manager_b = UserFactory.create(
        username="manager_b", roles=["sales_manager"], dealer_centers=[dc_b]
    )
    operator = UserFactory.create(username="operator", roles=["operator"])
    hostess = UserFactory.create(username="hostess", roles=["hostess"], dealer_centers=[dc_a])
    deals = {
        "a_new_1": make_deal(
            pipeline=new_car,
            dealer_center=dc_a,
            responsible=manager_a,
            budget=Decimal("2500000"),
            source="telegram",
            title="Tiggo 7 Pro",
        ),
        "a_new_2": make_deal(
            pipeline=new_car,
            dealer_center=dc_a,
            responsible=manager_a2,
            budget=Decimal("1000000.50"),
            source="webform",
        ),
        "a_new_3": make_deal(pipeline=new_car, dealer_center=dc_a, responsible=manager_a),
        "a_contact": make_deal(
            pipeline=new_car,
            dealer_center=dc_a,
            stage_code="contact",
            responsible=manager_a,
            budget=Decimal("3000000"),
        ),
        "a_lost": make_deal(
            pipeline=new_car,
            dealer_center=dc_a,
            stage_code="lost",
            state=DealState.LOST,
            closed_at=timezone.now() - timedelta(days=2),
            responsible=manager_a,
        ),
        "b_new_1": make_deal(pipeline=new_car, dealer_center=dc_b, responsible=manager_b),
        "b_new_2": make_deal(
            pipeline=new_car, dealer_center=dc_b, responsible=manager_b, budget=Decimal("7")
        ),
        "a_used": make_deal(
            pipeline=pipelines["used_car"], dealer_center=dc_a, responsible=manager_a
        ),
    }
    return {
        "pipelines": pipelines,
        "new_car": new_car,
        "dc_a": dc_a,
        "dc_b": dc_b,
        "manager_a": manager_a,
        "manager_a2": manager_a2,
        "manager_b": manager_b,
        "operator": operator,
        "hostess": hostess,
        "deals": deals,
    }


def _columns(html: str) -> dict[str, dict[str, Any]]:
    """{stage code: {"count", "budget", "cards": [deal ids]}} as the board shows them."""
    columns: dict[str, dict[str, Any]] = {}
    sections = re.split(r'(?=<section class="[^"]*deal-column")', html)
    for section in sections[1:]:
        head = re.search(
            r'data-stage="([\w-]+)".*?data-count="(\d+)" data-budget="([\d.]+)"', section
        )
        assert head is not None
        code = head.group(1)
        columns[code] = {
            "count": int(head.group(2)),
            "budget": Decimal(head.group(3)),
            "cards": [
                int(pk) for pk in re.findall(r'<li class="card[^"]*" id="deal-(\d+)"', section)
            ],
        }
    return columns


def _ids(world: dict[str, Any], *names: str) -> list[int]:
    return [world["deals"][name].pk for name in names]


# --- board ------------------------------------------------------------------------------


def test_board_redirects_to_the_first_pipeline_keeping_filters(
    client: Any, world: dict[str, Any]
) -> None:
    client.force_login(world["manager_a"])
    response = client.get(f"/sales/deals/board/?manager={world['manager_a'].pk}&x=1")
    assert response.status_code == 302
    assert response["Location"] == f"{BOARD}?manager={world['manager_a'].pk}"


def test_board_shows_the_columns_of_the_users_dealer_centers_with_exact_counts(
    client: Any, world: dict[str, Any]
) -> None:
    client.force_login(world["manager_a"])
    response = client.get(BOARD)
    assert response.status_code == 200
    columns = _columns(response.content.decode())
    assert list(columns) == [
        "new",
        "contact",
        "needs",
        "test_drive",
        "offer",
        "contract",
        "won",
        "lost",
    ]
    assert columns["new"]["count"] == 3
    assert columns["new"]["budget"] == Decimal("3500000.50")
    assert sorted(columns["new"]["cards"]) == sorted(_ids(world, "a_new_1", "a_new_2", "a_new_3"))
    assert columns["contact"] == {
        "count": 1,
        "budget": Decimal("3000000.00"),
        "cards": _ids(world, "a_contact"),
    }
    assert columns["lost"]["count"] == 1
    assert columns["needs"] == {"count": 0, "budget": Decimal("0"), "cards": []}
    html = response.content.decode()
    # The card: client, title, budget, responsible, days in the stage, link to the deal.
    deal = world["deals"]["a_new_1"]
    card = html[html.index(f'id="deal-{deal.pk}"') :]
    card = card[: card.index("</li>")]
    assert deal.client.display_name in card
    assert "Tiggo 7 Pro" in card
    assert "2 500 000 ₽" in card
    assert world["manager_a"].display_name in card
    assert 'data-days="0"' in card
    assert f'href="/sales/deals/{deal.pk}/"' in card
    assert f'data-version="{deal.version}"' in card
    # The pipeline tabs, the loss reasons of the modal.
    assert 'data-pipeline="used_car"' in html
    assert html.count('<option value="') >= LossReason.objects.count()


def test_board_filters_by_manager_and_dealer_center(client: Any, world: dict[str, Any]) -> None:
    client.force_login(world["manager_a"])
    response = client.get(f"{BOARD}?manager={world['manager_a2'].pk}")
    columns = _columns(response.content.decode())
    assert columns["new"]["cards"] == _ids(world, "a_new_2")
    assert columns["contact"]["count"] == 0

    client.force_login(world["operator"])
    response = client.get(f"{BOARD}?dealer_center={world['dc_b'].pk}")
    columns = _columns(response.content.decode())
    assert columns["new"]["count"] == 2
    assert sorted(columns["new"]["cards"]) == sorted(_ids(world, "b_new_1", "b_new_2"))


def test_board_refuses_a_dealer_center_the_manager_does_not_see(
    client: Any, world: dict[str, Any]
) -> None:
    client.force_login(world["manager_a"])
    response = client.get(f"{BOARD}?dealer_center={world['dc_b'].pk}")
    assert response.status_code == 400
    html = response.content.decode()
    assert "invalid-feedback" in html
    # Never another dealer center's deals, whatever the filter says.
    shown = {pk for column in _columns(html).values() for pk in column["cards"]}
    assert shown.isdisjoint(_ids(world, "b_new_1", "b_new_2"))


def test_board_unknown_pipeline_is_404_and_hostess_may_not_see_deals(
    client: Any, world: dict[str, Any]
) -> None:
    client.force_login(world["manager_a"])
    assert client.get("/sales/deals/board/nope/").status_code == 404
    client.force_login(world["hostess"])
    assert client.get(BOARD).status_code == 403
    assert client.get("/sales/deals/").status_code == 403


def test_board_queries_do_not_grow_with_the_number_of_deals(
    client: Any, world: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    pipeline = world["pipelines"]["service"]
    dc = world["dc_a"]
    for code in ("new", "booked"):
        make_deal(
            pipeline=pipeline, dealer_center=dc, stage_code=code, responsible=world["manager_a"]
        )
    client.force_login(world["manager_a"])
    url = "/sales/deals/board/service/"
    client.get(url)  # warm caches (content types, session) out of the measurement
    with CaptureQueriesContext(connection) as two:
        response = client.get(url)
    assert _columns(response.content.decode())["new"]["count"] == 1
    for number in range(28):
        make_deal(
            pipeline=pipeline,
            dealer_center=dc,
            stage_code="new" if number % 2 else "booked",
            responsible=world["manager_a2"] if number % 3 else world["manager_a"],
            budget=Decimal(number * 1000),
        )
    with django_assert_max_num_queries(len(two.captured_queries)):
        response = client.get(url)
    columns = _columns(response.content.decode())
    assert columns["new"]["count"] == 15
    assert columns["booked"]["count"] == 15


def test_board_show_more_loads_the_next_cards_of_a_column(
    client: Any, world: dict[str, Any]
) -> None:
    pipeline = world["pipelines"]["trade_in"]
    now = timezone.now()
    made = [
        make_deal(
            pipeline=pipeline,
            dealer_center=world["dc_a"],
            last_activity_at=now - timedelta(minutes=number),
        )
        for number in range(53)
    ]
    client.force_login(world["manager_a"])
    html = client.get("/sales/deals/board/trade_in/").content.decode()
    columns = _columns(html)
    assert columns["new"]["count"] == 53
    assert columns["new"]["cards"] == [deal.pk for deal in made[:50]]
    more = re.search(r'hx-get="(/sales/deals/board/trade_in/new/\?offset=50)"', html)
    assert more is not None
    response = client.get(more.group(1))
    assert response.status_code == 200
    rest = re.findall(r'id="deal-(\d+)"', response.content.decode())
    assert [int(pk) for pk in rest] == [deal.pk for deal in made[50:]]
    assert "offset=" not in response.content.decode()
    assert client.get("/sales/deals/board/trade_in/new/?offset=abc").status_code == 400
    assert client.get("/sales/deals/board/trade_in/nope/?offset=50").status_code == 404


# --- moves ------------------------------------------------------------------------------


def _move(client: Any, deal: Deal, **data: Any) -> Any:
    return client.post(
        reverse("sales:deal_move", args=[deal.pk]), data, HTTP_ACCEPT="application/json"
    )


def _snapshot(deal: Deal) -> tuple[Any, ...]:
    deal.refresh_from_db()
    return (
        deal.stage_id,
        deal.state,
        deal.version,
        deal.loss_reason_id,
        deal.stage_changes.count(),
    )


def test_move_from_the_board_moves_the_deal_and_answers_with_the_new_card(
    client: Any, world: dict[str, Any]
) -> None:
    deal = world["deals"]["a_new_1"]
    client.force_login(world["manager_a"])
    response = _move(client, deal, stage="contact", version=deal.version)
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == deal.pk
    assert body["stage"] == "contact"
    assert body["state"] == "open"
    assert body["version"] == 2
    assert f'id="deal-{deal.pk}"' in body["html"]
    assert 'data-version="2"' in body["html"]
    deal.refresh_from_db()
    assert deal.stage == stage(world["new_car"], "contact")
    change = DealStageChange.objects.get(deal=deal)
    assert (change.from_stage_id, change.to_stage.code, change.changed_by) == (
        stage(world["new_car"], "new").pk,
        "contact",
        world["manager_a"],
    )


def test_move_to_lost_needs_a_loss_reason_and_changes_nothing_without_one(
    client: Any, world: dict[str, Any]
) -> None:
    deal = world["deals"]["a_new_1"]
    before = _snapshot(deal)
    client.force_login(world["manager_a"])
    response = _move(client, deal, stage="lost", version=deal.version)
    assert response.status_code == 409
    assert response.json()["rule"] == "loss_reason_required"
    assert response.json()["code"] == "transition_not_allowed"
    assert _snapshot(deal) == before

    reason = LossReason.objects.order_by("order", "pk")[1]  # "Price too high"
    response = _move(
        client, deal, stage="lost", version=deal.version, loss_reason=reason.pk, reason="Дорого"
    )
    assert response.status_code == 200
    deal.refresh_from_db()
    assert (deal.state, deal.loss_reason, deal.loss_comment) == (DealState.LOST, reason, "Дорого")


def test_move_with_a_stale_version_is_refused(client: Any, world: dict[str, Any]) -> None:
    deal = world["deals"]["a_new_1"]
    Deal.objects.filter(pk=deal.pk).update(version=3)  # somebody else saved it meanwhile
    before = _snapshot(deal)
    client.force_login(world["manager_a"])
    response = _move(client, deal, stage="contact", version=1)
    assert response.status_code == 409
    assert response.json()["rule"] == "changed_meanwhile"
    assert _snapshot(deal) == before


def test_move_to_test_drive_needs_a_vehicle(client: Any, world: dict[str, Any]) -> None:
    deal = world["deals"]["a_contact"]
    before = _snapshot(deal)
    client.force_login(world["manager_a"])
    response = _move(client, deal, stage="test_drive", version=deal.version)
    assert response.status_code == 409
    assert response.json()["rule"] == "vehicle_required"
    assert _snapshot(deal) == before


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"stage": ""}, "stage"),
        ({"stage": "no_such_stage"}, "stage"),
        ({"stage": "contact", "version": "x"}, "version"),
        ({"stage": "lost", "loss_reason": "Not a reason"}, "loss_reason"),
        ({"stage": "lost", "loss_reason": "999999"}, "loss_reason"),
    ],
)
def test_move_with_bad_input_is_400_and_changes_nothing(
    client: Any, world: dict[str, Any], data: dict[str, str], field: str
) -> None:
    deal = world["deals"]["a_new_1"]
    before = _snapshot(deal)
    client.force_login(world["manager_a"])
    response = _move(client, deal, **data)
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert _snapshot(deal) == before


def test_move_of_another_dealer_centers_deal_is_404(client: Any, world: dict[str, Any]) -> None:
    deal = world["deals"]["b_new_1"]
    before = _snapshot(deal)
    client.force_login(world["manager_a"])
    assert _move(client, deal, stage="contact").status_code == 404
    assert client.get(reverse("sales:deal_move", args=[deal.pk])).status_code == 405
    assert _snapshot(deal) == before


def test_move_from_the_card_with_htmx_refreshes_the_card(
    client: Any, world: dict[str, Any]
) -> None:
    deal = world["deals"]["a_new_1"]
    client.force_login(world["manager_a"])
    url = reverse("sales:deal_move", args=[deal.pk])
    response = client.post(
        url, {"stage": "needs", "version": deal.version, "reason": "Call"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert response["HX-Trigger"] == "taskChanged"
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="deal-main"')
    assert 'id="deal-stage" data-stage="needs"' in html
    assert 'data-history-to="needs"' in html
    # A refused move answers with the card and the rule; nothing changes.
    before = _snapshot(deal)
    response = client.post(url, {"stage": "lost", "version": 2}, HTTP_HX_REQUEST="true")
    assert response.status_code == 409
    html = response.content.decode()
    assert 'id="deal-move-error" data-rule="loss_reason_required"' in html
    assert 'id="deal-stage" data-stage="needs"' in html
    assert _snapshot(deal) == before


def test_move_from_a_plain_form_redirects_to_the_card(client: Any, world: dict[str, Any]) -> None:
    deal = world["deals"]["a_new_1"]
    client.force_login(world["manager_a"])
    response = client.post(reverse("sales:deal_move", args=[deal.pk]), {"stage": "contact"})
    assert response.status_code == 302
    assert response["Location"] == f"/sales/deals/{deal.pk}/"
    deal.refresh_from_db()
    assert deal.stage.code == "contact"


# --- list and export --------------------------------------------------------------------


@pytest.fixture
def dated(world: dict[str, Any]) -> dict[str, Any]:
    now = timezone.now()
    for name, days in [("a_new_1", 1), ("a_new_2", 5), ("a_new_3", 10), ("a_contact", 20)]:
        Deal.objects.filter(pk=world["deals"][name].pk).update(
            created_at=now - timedelta(days=days)
        )
    world["today"] = timezone.localdate()
    return world


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["a_used", "a_lost", "a_new_1", "a_new_2", "a_new_3", "a_contact"]),
        ("?manager={manager_a2}", ["a_new_2"]),
        ("?pipeline=used_car", ["a_used"]),
        ("?pipeline=new_car&stage=new", ["a_new_1", "a_new_2", "a_new_3"]),
        ("?state=lost", ["a_lost"]),
        ("?source=webform", ["a_new_2"]),
        ("?dealer_center={dc_a}&stage=contact", ["a_contact"]),
        ("?created_from={day6}&created_to={day2}", ["a_new_2"]),
    ],
)
def test_list_filters(client: Any, dated: dict[str, Any], query: str, expected: list[str]) -> None:
    today = dated["today"]
    query = query.format(
        manager_a2=dated["manager_a2"].pk,
        dc_a=dated["dc_a"].pk,
        day6=today - timedelta(days=6),
        day2=today - timedelta(days=2),
    )
    client.force_login(dated["manager_a"])
    response = client.get(f"/sales/deals/{query}")
    assert response.status_code == 200
    html = response.content.decode()
    shown = [int(pk) for pk in re.findall(r'<tr id="deal-row-(\d+)"', html)]
    assert shown == _ids(dated, *expected)
    assert f'data-count="{len(expected)}"' in html


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?created_from=31.02.2024", "created_from"),
        ("?created_from=2024-05-10&created_to=2024-05-01", "created_to"),
        ("?state=nope", "state"),
        ("?manager=abc", "manager"),
        ("?dealer_center={dc_b}", "dealer_center"),
    ],
)
def test_list_bad_filters_are_shown_not_500(
    client: Any, world: dict[str, Any], query: str, field: str
) -> None:
    client.force_login(world["manager_a"])
    response = client.get(f"/sales/deals/{query.format(dc_b=world['dc_b'].pk)}")
    assert response.status_code == 400
    assert f'data-field="{field}"' in response.content.decode()
    export = client.get(f"/sales/deals/export.xlsx{query.format(dc_b=world['dc_b'].pk)}")
    assert export.status_code == 400
    assert export.content.decode().startswith(f"{field}:")


def test_export_writes_the_filtered_deals(client: Any, world: dict[str, Any]) -> None:
    client.force_login(world["manager_a"])
    response = client.get("/sales/deals/export.xlsx?pipeline=new_car&stage=new")
    assert response.status_code == 200
    assert response["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert response["X-Total-Count"] == "3"
    sheet = load_workbook(BytesIO(response.content), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:6] == ("№", "Created", "Pipeline", "Stage", "State", "Client")
    assert [row[0] for row in rows[1:]] == _ids(world, "a_new_3", "a_new_2", "a_new_1")
    first = dict(zip(rows[0], rows[3], strict=True))
    deal = world["deals"]["a_new_1"]
    assert first["Pipeline"] == "New-car sale"
    assert first["Stage"] == "New"
    assert first["State"] == "Open"
    assert first["Client"] == deal.client.display_name
    assert first["Dealer center"] == "Мурманск CHERY"
    assert first["Responsible manager"] == world["manager_a"].display_name
    assert first["Title"] == "Tiggo 7 Pro"
    assert first["Budget"] == 2500000
    assert first["Source"] == "Telegram"
    second = dict(zip(rows[0], rows[2], strict=True))
    assert second["Budget"] == 1000000.5


def test_export_is_scoped(client: Any, world: dict[str, Any]) -> None:
    client.force_login(world["manager_b"])
    response = client.get("/sales/deals/export.xlsx")
    rows = list(
        load_workbook(BytesIO(response.content), read_only=True).active.iter_rows(values_only=True)
    )
    assert sorted(row[0] for row in rows[1:]) == sorted(_ids(world, "b_new_1", "b_new_2"))


# --- the card ---------------------------------------------------------------------------


def test_card_shows_the_deal_and_is_404_for_another_dealer_center(
    client: Any, world: dict[str, Any]
) -> None:
    deal = world["deals"]["a_new_1"]
    vehicle = VehicleFactory.create(site__dealer_center=world["dc_a"])
    deal.vehicles.set([vehicle])
    DealStageChange.objects.create(deal=deal, to_stage=deal.stage, changed_by=world["manager_a"])
    client.force_login(world["manager_a"])
    response = client.get(f"/sales/deals/{deal.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'href="/clients/{deal.client_id}/"' in html
    assert f'href="{reverse("inventory:detail", args=[vehicle.pk])}"' in html
    assert vehicle.vin in html
    assert 'id="deal-stage" data-stage="new"' in html
    assert 'data-state="open"' in html
    assert 'data-history-to="new"' in html
    assert f'hx-get="/clients/{deal.client_id}/timeline/"' in html
    assert "2 500 000 ₽" in html

    client.force_login(world["manager_b"])
    assert client.get(f"/sales/deals/{deal.pk}/").status_code == 404
    client.force_login(world["operator"])
    assert client.get(f"/sales/deals/{deal.pk}/").status_code == 200


def test_card_edit_updates_the_deal(client: Any, world: dict[str, Any]) -> None:
    deal = world["deals"]["a_new_3"]
    vehicle = VehicleFactory.create(site__dealer_center=world["dc_a"])
    client.force_login(world["manager_a"])
    response = client.post(
        reverse("sales:deal_edit", args=[deal.pk]),
        {
            "title": "Tiggo 8",
            "topic": "Кредит",
            "budget": "3100000",
            "payment_intent": "credit",
            "responsible": world["manager_a2"].pk,
            "vehicles": vehicle.vin.lower(),
        },
    )
    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.title, deal.topic, deal.budget, deal.payment_intent, deal.responsible) == (
        "Tiggo 8",
        "Кредит",
        Decimal("3100000.00"),
        "credit",
        world["manager_a2"],
    )
    assert list(deal.vehicles.all()) == [vehicle]
    assert deal.version == 2


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"budget": "-5"}, "budget"),
        ({"budget": "abc"}, "budget"),
        ({"vehicles": "XTA00000000000000"}, "vehicles"),
        ({"vehicles": "not-a-vin"}, "vehicles"),
        ({"vehicles": "987654"}, "vehicles"),
        ({"responsible": "manager_b"}, "responsible"),
        ({"payment_intent": "barter"}, "payment_intent"),
    ],
)
def test_card_edit_with_bad_input_is_400_and_changes_nothing(
    client: Any, world: dict[str, Any], data: dict[str, str], field: str
) -> None:
    deal = world["deals"]["a_new_3"]
    if data.get("responsible") == "manager_b":
        data = {"responsible": str(world["manager_b"].pk)}
    before = (_snapshot(deal), deal.budget, deal.title, deal.responsible_id)
    client.force_login(world["manager_a"])
    response = client.post(reverse("sales:deal_edit", args=[deal.pk]), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert f'data-field="{field}"' in response.content.decode()
    deal.refresh_from_db()
    assert (_snapshot(deal), deal.budget, deal.title, deal.responsible_id) == before
    assert list(deal.vehicles.all()) == []


def test_card_edit_refuses_a_responsible_of_another_dealer_center_seen_by_the_operator(
    client: Any, world: dict[str, Any]
) -> None:
    # The operator sees every manager; the service refuses one who does not work there.
    deal = world["deals"]["a_new_3"]
    client.force_login(world["operator"])
    response = client.post(
        reverse("sales:deal_edit", args=[deal.pk]), {"responsible": world["manager_b"].pk}
    )
    assert response.status_code == 400
    assert 'data-field="responsible"' in response.content.decode()
    deal.refresh_from_db()
    assert deal.responsible == world["manager_a"]


# --- new deal, qualification ------------------------------------------------------------


def test_new_deal_for_a_client(client: Any, world: dict[str, Any]) -> None:
    customer = ClientFactory.create(dealer_center=world["dc_a"])
    client.force_login(world["manager_a"])
    page = client.get(f"/sales/deals/new/?client={customer.pk}")
    assert page.status_code == 200
    assert customer.display_name in page.content.decode()
    response = client.post(
        f"/sales/deals/new/?client={customer.pk}",
        {
            "client": customer.pk,
            "pipeline": world["new_car"].pk,
            "dealer_center": world["dc_a"].pk,
            "responsible": world["manager_a"].pk,
            "budget": "2000000",
            "payment_intent": "cash",
            "topic": "Tiggo 4",
        },
    )
    deal = Deal.objects.get(client=customer)
    assert response.status_code == 302
    assert response["Location"] == f"/sales/deals/{deal.pk}/"
    assert (deal.pipeline, deal.stage.code, deal.dealer_center, deal.responsible) == (
        world["new_car"],
        "new",
        world["dc_a"],
        world["manager_a"],
    )
    assert (deal.budget, deal.payment_intent, deal.topic, deal.source) == (
        Decimal("2000000.00"),
        "cash",
        "Tiggo 4",
        "manual",
    )
    assert deal.created_by == world["manager_a"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"dealer_center": "dc_b"}, "dealer_center"),
        ({"client": "client_b"}, "client"),
        ({"client": "0"}, "client"),
        ({"pipeline": "999999"}, "pipeline"),
        ({"budget": "-1"}, "budget"),
        ({"responsible": "manager_b"}, "responsible"),
    ],
)
def test_new_deal_with_bad_input_is_400_and_creates_nothing(
    client: Any, world: dict[str, Any], change: dict[str, str], field: str
) -> None:
    customer = ClientFactory.create(dealer_center=world["dc_a"])
    other = ClientFactory.create(dealer_center=world["dc_b"])
    values = {"dc_b": world["dc_b"].pk, "client_b": other.pk, "manager_b": world["manager_b"].pk}
    data = {
        "client": customer.pk,
        "pipeline": world["new_car"].pk,
        "dealer_center": world["dc_a"].pk,
        "payment_intent": "",
    }
    data.update({key: values.get(value, value) for key, value in change.items()})
    count = Deal.objects.count()
    client.force_login(world["manager_a"])
    response = client.post("/sales/deals/new/", data)
    assert response.status_code == 400
    assert f'data-field="{field}"' in response.content.decode()
    assert Deal.objects.count() == count


def test_qualify_a_request_into_a_deal(client: Any, world: dict[str, Any]) -> None:
    vehicle = VehicleFactory.create(site__dealer_center=world["dc_a"])
    sales_request = Request.objects.create(
        client=ClientFactory.create(dealer_center=world["dc_a"]),
        source="telegram",
        dealer_center=world["dc_a"],
        topic="Хочу Tiggo 7",
        vehicle=vehicle,
    )
    client.force_login(world["manager_a"])
    url = f"/sales/deals/new/?request={sales_request.pk}"
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'value="Хочу Tiggo 7"' in html
    assert 'name="client"' not in html
    response = client.post(url, {"pipeline": world["new_car"].pk, "dealer_center": ""})
    deal = Deal.objects.get(request=sales_request)
    assert response.status_code == 302
    assert response["Location"] == f"/sales/deals/{deal.pk}/"
    assert (deal.client, deal.dealer_center, deal.source, deal.topic) == (
        sales_request.client,
        world["dc_a"],
        "telegram",
        "Хочу Tiggo 7",
    )
    assert list(deal.vehicles.all()) == [vehicle]
    sales_request.refresh_from_db()
    assert sales_request.status == RequestStatus.IN_PROGRESS

    # A request of a dealer center the manager does not see is not found.
    foreign = Request.objects.create(
        client=ClientFactory.create(), source="telegram", dealer_center=world["dc_b"]
    )
    assert client.get(f"/sales/deals/new/?request={foreign.pk}").status_code == 404
    assert client.get("/sales/deals/new/?request=abc").status_code == 404


# --- client card panel ------------------------------------------------------------------


def test_client_deals_panel(client: Any, world: dict[str, Any]) -> None:
    deal = world["deals"]["a_new_1"]
    second = make_deal(
        pipeline=world["pipelines"]["service"], dealer_center=world["dc_a"], client=deal.client
    )
    client.force_login(world["manager_a"])
    response = client.get(f"/sales/clients/{deal.client_id}/deals/")
    assert response.status_code == 200
    html = response.content.decode()
    assert [int(pk) for pk in re.findall(r'data-deal="(\d+)"', html)] == [second.pk, deal.pk]
    assert f'href="/sales/deals/new/?client={deal.client_id}"' in html

    other = world["deals"]["b_new_1"]
    assert client.get(f"/sales/clients/{other.client_id}/deals/").status_code == 404
    client.force_login(world["hostess"])
    response = client.get(f"/sales/clients/{deal.client_id}/deals/")
    assert (response.status_code, response.content) == (200, b"")


def test_json_error_body_is_valid_json(client: Any, world: dict[str, Any]) -> None:
    deal = world["deals"]["a_new_1"]
    client.force_login(world["manager_a"])
    response = _move(client, deal, stage="lost")
    assert json.loads(response.content)["message"]


def test_card_edit_with_htmx_answers_with_the_refreshed_card(
    client: Any, world: dict[str, Any]
) -> None:
    deal = world["deals"]["a_new_3"]
    client.force_login(world["manager_a"])
    response = client.post(
        reverse("sales:deal_edit", args=[deal.pk]),
        {"title": "Tiggo 9", "budget": "4500000.5", "payment_intent": "trade_in"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="deal-main"')
    assert 'id="deal-budget">4 500 000,50 ₽' in html
    deal.refresh_from_db()
    assert (deal.title, deal.budget, deal.payment_intent, deal.responsible) == (
        "Tiggo 9",
        Decimal("4500000.50"),
        "trade_in",
        None,
    )
