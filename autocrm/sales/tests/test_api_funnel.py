"""The sales-funnel API: pipelines, deals, stage moves (409 naming the rule), tasks.

Real HTTP through Django's test client with bearer tokens of named users: ``sales_a`` and
``head_a`` work at dealer center A, ``sales_b`` at B, ``operator`` is group-level,
``hostess_a`` may not use these endpoints at all.
"""

from __future__ import annotations

import json
import typing
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from autocrm.accounts.services import api_token_create
from autocrm.accounts.tests.factories import DealerCenterFactory, SiteFactory, UserFactory
from autocrm.clients.tests.factories import ClientFactory
from autocrm.inventory.tests.factories import VehicleFactory
from autocrm.sales.api_funnel import PaymentIntentName
from autocrm.sales.automation import event_process, events_process_pending
from autocrm.sales.models import (
    AutomationEvent,
    Deal,
    DealStageChange,
    DealState,
    LossReason,
    PaymentIntent,
    Pipeline,
    Request,
    RequestSource,
    RequestStatus,
    RuleExecution,
    Task,
    TaskComment,
    TaskStatus,
    TaskStatusChange,
)
from autocrm.sales.tests.factories import default_pipelines, make_deal, make_rule, make_task, stage

pytestmark = pytest.mark.django_db

NOW = timezone.now()


class Caller:
    """One named user calling the API with his bearer token."""

    def __init__(self, client: Any, user: Any) -> None:
        self.client = client
        self.user = user
        self.headers = {
            "HTTP_AUTHORIZATION": "Bearer "
            + api_token_create(actor=None, user=user, name="tests").token
        }

    def get(self, url: str, **query: Any) -> Any:
        return self.client.get(url, query, **self.headers)

    def send(self, method: str, url: str, body: Any = None) -> Any:
        return self.client.generic(
            method,
            url,
            data=json.dumps({} if body is None else body),
            content_type="application/json",
            **self.headers,
        )

    def post(self, url: str, body: Any = None) -> Any:
        return self.send("POST", url, body)

    def patch(self, url: str, body: Any = None) -> Any:
        return self.send("PATCH", url, body)


@pytest.fixture
def world(client: Any) -> dict[str, Any]:
    pipelines = default_pipelines()
    dc_a = DealerCenterFactory.create(name="Салон A")
    dc_b = DealerCenterFactory.create(name="Салон B")
    users = {
        "sales_a": UserFactory.create(
            username="sales_a",
            roles=["sales_manager"],
            dealer_centers=[dc_a],
            last_name="Продажин",
            first_name="Сергей",
        ),
        "sales_a2": UserFactory.create(
            username="sales_a2", roles=["sales_manager"], dealer_centers=[dc_a]
        ),
        "head_a": UserFactory.create(username="head_a", roles=["head"], dealer_centers=[dc_a]),
        "sales_b": UserFactory.create(
            username="sales_b", roles=["sales_manager"], dealer_centers=[dc_b]
        ),
        "operator": UserFactory.create(username="operator", roles=["operator"]),
        "hostess_a": UserFactory.create(
            username="hostess_a", roles=["hostess"], dealer_centers=[dc_a]
        ),
    }
    client_a = ClientFactory.create(
        dealer_center=dc_a, last_name="Смирнова", first_name="Анна", middle_name=""
    )
    client_b = ClientFactory.create(dealer_center=dc_b, last_name="Волков", first_name="Илья")
    deal_a = make_deal(
        pipeline=pipelines["new_car"],
        dealer_center=dc_a,
        client=client_a,
        responsible=users["sales_a"],
        title="Haval Jolion",
        budget=Decimal("2450000.00"),
        source=RequestSource.TELEGRAM,
    )
    deal_b = make_deal(pipeline=pipelines["new_car"], dealer_center=dc_b, client=client_b)
    return {
        "pipelines": pipelines,
        "new_car": pipelines["new_car"],
        "dc_a": dc_a,
        "dc_b": dc_b,
        "client_a": client_a,
        "client_b": client_b,
        "deal_a": deal_a,
        "deal_b": deal_b,
        "site_a": SiteFactory.create(dealer_center=dc_a),
        **users,
        "api": {name: Caller(client, user) for name, user in users.items()},
    }


def counts() -> dict[str, int]:
    """Rows an API write could touch: a refused call must leave all of them alone."""
    return {
        "deals": Deal.objects.count(),
        "stage_changes": DealStageChange.objects.count(),
        "events": AutomationEvent.objects.count(),
        "tasks": Task.objects.count(),
        "task_status_changes": TaskStatusChange.objects.count(),
        "comments": TaskComment.objects.count(),
        "jobs": DBTaskResult.objects.count(),
    }


def deal_state(deal: Deal) -> tuple[Any, ...]:
    deal.refresh_from_db()
    return (deal.stage_id, deal.state, deal.version, deal.loss_reason_id, deal.budget, deal.title)


def same_moment(text: str, moment: datetime | None) -> bool:
    """The API writes times to the millisecond."""
    assert moment is not None
    return abs(datetime.fromisoformat(text) - moment) < timedelta(milliseconds=1)


def error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert len(body["errors"]) == 1, body
    return typing.cast(dict[str, Any], body["errors"][0])


# --- pipelines ---------------------------------------------------------------------------


def test_pipelines_with_stages_and_loss_reasons(world: dict[str, Any]) -> None:
    service = world["pipelines"]["service"]
    only_service = LossReason.objects.create(
        name="Went to an independent garage", pipeline=service, order=10
    )
    LossReason.objects.create(name="Old reason", is_active=False)
    Pipeline.objects.create(code="archived", name="Archived", is_active=False)
    new_stage = stage(world["new_car"], "new")
    new_stage.allowed_next.set(
        [stage(world["new_car"], "contact"), stage(world["new_car"], "lost")]
    )

    response = world["api"]["sales_a"].get("/api/v1/pipelines")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 4
    assert [p["code"] for p in body["items"]] == ["new_car", "used_car", "service", "trade_in"]
    new_car = body["items"][0]
    assert set(new_car) == {"id", "code", "name", "kind", "stages", "loss_reasons"}
    assert new_car["id"] == world["new_car"].pk
    assert new_car["name"] == world["new_car"].name
    assert new_car["kind"] == "new_car"
    assert [
        (s["code"], s["order"], s["is_won"], s["is_lost"], s["requires_vehicle"])
        for s in new_car["stages"]
    ] == [
        ("new", 0, False, False, False),
        ("contact", 1, False, False, False),
        ("needs", 2, False, False, False),
        ("test_drive", 3, False, False, True),
        ("offer", 4, False, False, True),
        ("contract", 5, False, False, True),
        ("won", 6, True, False, False),
        ("lost", 7, False, True, False),
    ]
    assert new_car["stages"][0] == {
        "code": "new",
        "name": new_stage.name,
        "order": 0,
        "is_won": False,
        "is_lost": False,
        "requires_vehicle": False,
        "requires_budget": False,
        "allowed_next": ["contact", "lost"],
    }
    assert new_car["stages"][1]["allowed_next"] == []
    group_reasons = [
        {"id": r.pk, "name": r.name}
        for r in LossReason.objects.filter(pipeline=None, is_active=True).order_by("order")
    ]
    assert len(group_reasons) == 6
    assert new_car["loss_reasons"] == group_reasons
    assert body["items"][2]["loss_reasons"] == [
        *group_reasons,
        {"id": only_service.pk, "name": only_service.name},
    ]


def test_pipelines_page(world: dict[str, Any]) -> None:
    body = world["api"]["operator"].get("/api/v1/pipelines", limit=2, offset=2).json()

    assert body["count"] == 4
    assert [p["code"] for p in body["items"]] == ["service", "trade_in"]
    assert [s["code"] for s in body["items"][1]["stages"]] == [
        "new",
        "inspection",
        "appraised",
        "negotiation",
        "bought",
        "lost",
    ]


# --- deals: create -----------------------------------------------------------------------

DEAL_FIELDS = {
    "id",
    "pipeline",
    "stage",
    "stage_name",
    "state",
    "client_id",
    "client_name",
    "dealer_center_id",
    "responsible_id",
    "request_id",
    "budget",
    "payment_intent",
    "source",
    "channel_id",
    "topic",
    "title",
    "vehicle_ids",
    "version",
    "created_at",
    "stage_entered_at",
    "last_activity_at",
    "closed_at",
    "loss_reason",
    "loss_comment",
}


def test_create_a_deal(world: dict[str, Any]) -> None:
    cars = [VehicleFactory.create(site=world["site_a"]) for _ in range(2)]

    response = world["api"]["sales_a"].post(
        "/api/v1/deals",
        {
            "client_id": world["client_a"].pk,
            "pipeline": "new_car",
            "dealer_center_id": world["dc_a"].pk,
            "stage": "contact",
            "responsible_id": world["sales_a2"].pk,
            "vehicle_ids": [cars[1].pk, cars[0].pk],
            "budget": "3100000.50",
            "payment_intent": "credit",
            "source": "webform",
            "topic": "Tiggo 7 Pro Max",
            "title": "Кредит на Tiggo",
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    deal = Deal.objects.get(pk=body["id"])
    contact = stage(world["new_car"], "contact")
    assert set(body) == DEAL_FIELDS
    assert body == {
        "id": deal.pk,
        "pipeline": "new_car",
        "stage": "contact",
        "stage_name": contact.name,
        "state": "open",
        "client_id": world["client_a"].pk,
        "client_name": "Смирнова Анна",
        "dealer_center_id": world["dc_a"].pk,
        "responsible_id": world["sales_a2"].pk,
        "request_id": None,
        "budget": "3100000.50",
        "payment_intent": "credit",
        "source": "webform",
        "channel_id": None,
        "topic": "Tiggo 7 Pro Max",
        "title": "Кредит на Tiggo",
        "vehicle_ids": sorted([cars[0].pk, cars[1].pk]),
        "version": 1,
        "created_at": body["created_at"],
        "stage_entered_at": body["stage_entered_at"],
        "last_activity_at": body["last_activity_at"],
        "closed_at": None,
        "loss_reason": None,
        "loss_comment": "",
    }
    assert same_moment(body["stage_entered_at"], deal.stage_entered_at)
    assert deal.created_by == world["sales_a"]
    assert deal.budget == Decimal("3100000.50")
    assert list(deal.stage_changes.values_list("from_stage", "to_stage", "changed_by")) == [
        (None, contact.pk, world["sales_a"].pk)
    ]


def test_create_with_defaults_and_a_numeric_budget(world: dict[str, Any]) -> None:
    response = world["api"]["sales_a"].post(
        "/api/v1/deals",
        {
            "client_id": world["client_a"].pk,
            "pipeline": "used_car",
            "dealer_center_id": world["dc_a"].pk,
            "budget": 1500000,
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["pipeline"], body["stage"], body["source"], body["payment_intent"]) == (
        "used_car",
        "new",
        "manual",
        "",
    )
    assert (body["budget"], body["responsible_id"], body["vehicle_ids"]) == ("1500000.00", None, [])


def test_create_qualifies_a_request(world: dict[str, Any]) -> None:
    car = VehicleFactory.create(site=world["site_a"])
    sales_request = Request.objects.create(
        client=world["client_a"],
        source=RequestSource.WEBFORM,
        topic="test_drive",
        dealer_center=world["dc_a"],
        vehicle=car,
    )

    response = world["api"]["sales_a"].post(
        "/api/v1/deals",
        {
            "client_id": world["client_a"].pk,
            "pipeline": "new_car",
            "dealer_center_id": world["dc_a"].pk,
            "request_id": sales_request.pk,
            "responsible_id": world["sales_a"].pk,
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["request_id"], body["source"], body["topic"], body["vehicle_ids"]) == (
        sales_request.pk,
        "webform",
        "test_drive",
        [car.pk],
    )
    sales_request.refresh_from_db()
    assert sales_request.status == RequestStatus.IN_PROGRESS
    assert sales_request.responsible == world["sales_a"]


def _body(world: dict[str, Any], **changes: Any) -> dict[str, Any]:
    body = {
        "client_id": world["client_a"].pk,
        "pipeline": "new_car",
        "dealer_center_id": world["dc_a"].pk,
    }
    body.update({key: value(world) if callable(value) else value for key, value in changes.items()})
    return {key: value for key, value in body.items() if value is not ...}


@pytest.mark.parametrize(
    ("changes", "status", "field"),
    [
        ({"pipeline": "yachts"}, 400, "pipeline"),
        ({"pipeline": ...}, 400, "pipeline"),
        ({"pipeline": "new\x00car"}, 400, "pipeline"),
        ({"client_id": ...}, 400, "client_id"),
        ({"client_id": 999_999}, 400, "client_id"),
        # Another dealer center's client is no client of the caller's.
        ({"client_id": lambda w: w["client_b"].pk}, 400, "client_id"),
        ({"dealer_center_id": 999_999}, 400, "dealer_center_id"),
        ({"dealer_center_id": lambda w: w["dc_b"].pk}, 403, "dealer_center_id"),
        ({"stage": "paradise"}, 400, "stage"),
        ({"stage": "won"}, 400, "stage"),
        ({"budget": "a lot"}, 400, "budget"),
        ({"budget": -1}, 400, "budget"),
        ({"budget": "1.005"}, 400, "budget"),
        ({"budget": "1e20"}, 400, "budget"),
        ({"payment_intent": "barter"}, 400, "payment_intent"),
        ({"source": "pigeon"}, 400, "source"),
        ({"vehicle_ids": [999_999]}, 400, "vehicle_ids"),
        ({"vehicle_ids": [0]}, 400, "vehicle_ids.0"),
        ({"responsible_id": 999_999}, 400, "responsible_id"),
        ({"responsible_id": lambda w: w["sales_b"].pk}, 400, "responsible_id"),
        ({"request_id": 999_999}, 400, "request_id"),
        ({"title": "x" * 201}, 400, "title"),
    ],
)
def test_create_refuses_bad_input_and_writes_nothing(
    world: dict[str, Any], changes: dict[str, Any], status: int, field: str
) -> None:
    before = counts()

    response = world["api"]["sales_a"].post("/api/v1/deals", _body(world, **changes))

    assert response.status_code == status, response.content
    assert error(response)["field"] == field
    assert counts() == before


def test_create_refuses_a_request_of_another_client(world: dict[str, Any]) -> None:
    other = ClientFactory.create(dealer_center=world["dc_a"])
    sales_request = Request.objects.create(
        client=other, source=RequestSource.VISIT, dealer_center=world["dc_a"]
    )
    before = counts()

    response = world["api"]["sales_a"].post(
        "/api/v1/deals", _body(world, request_id=sales_request.pk)
    )

    assert response.status_code == 400
    assert error(response)["field"] == "request_id"
    assert counts() == before
    sales_request.refresh_from_db()
    assert sales_request.status == RequestStatus.NEW


def test_the_literals_follow_the_models() -> None:
    assert list(typing.get_args(PaymentIntentName)) == PaymentIntent.values


# --- deals: list, detail, change ---------------------------------------------------------


@pytest.fixture
def deals(world: dict[str, Any]) -> dict[str, Deal]:
    """Deals of A in two pipelines and states, created on different days, and B's."""
    pipelines = world["pipelines"]
    made = {
        "old_used": make_deal(
            pipeline=pipelines["used_car"],
            dealer_center=world["dc_a"],
            stage_code="contact",
            client=world["client_a"],
            source=RequestSource.VISIT,
        ),
        "lost": make_deal(
            pipeline=pipelines["new_car"],
            dealer_center=world["dc_a"],
            stage_code="lost",
            state=DealState.LOST,
            responsible=world["sales_a2"],
        ),
    }
    Deal.objects.filter(pk=made["old_used"].pk).update(created_at=NOW - timedelta(days=10))
    Deal.objects.filter(pk=made["lost"].pk).update(created_at=NOW - timedelta(days=3))
    Deal.objects.filter(pk=world["deal_a"].pk).update(created_at=NOW - timedelta(days=1))
    Deal.objects.filter(pk=world["deal_b"].pk).update(created_at=NOW - timedelta(hours=1))
    return made | {"deal_a": world["deal_a"], "deal_b": world["deal_b"]}


def _day(days_ago: int) -> str:
    return timezone.localdate(NOW - timedelta(days=days_ago)).isoformat()


@pytest.mark.parametrize(
    ("user", "query", "expected"),
    [
        ("sales_a", {}, ["deal_a", "lost", "old_used"]),
        ("operator", {}, ["deal_b", "deal_a", "lost", "old_used"]),
        ("sales_b", {}, ["deal_b"]),
        ("operator", {"pipeline": "new_car"}, ["deal_b", "deal_a", "lost"]),
        ("sales_a", {"pipeline": "new_car", "stage": "new"}, ["deal_a"]),
        ("sales_a", {"stage": "contact"}, ["old_used"]),
        ("sales_a", {"manager": "{sales_a2}"}, ["lost"]),
        ("sales_a", {"state": "lost"}, ["lost"]),
        ("sales_a", {"state": "open"}, ["deal_a", "old_used"]),
        ("sales_a", {"source": "visit"}, ["old_used"]),
        ("operator", {"client_id": "{client_a}"}, ["deal_a", "old_used"]),
        ("operator", {"dealer_center_id": "{dc_b}"}, ["deal_b"]),
        ("sales_a", {"dealer_center_id": "{dc_b}"}, []),
        ("sales_a", {"created_from": _day(3), "created_to": _day(1)}, ["deal_a", "lost"]),
        ("sales_a", {"created_to": _day(5)}, ["old_used"]),
        ("sales_a", {"pipeline": "yachts"}, []),
    ],
)
def test_list_filters_and_scope(
    world: dict[str, Any],
    deals: dict[str, Deal],
    user: str,
    query: dict[str, str],
    expected: list[str],
) -> None:
    ids = {"sales_a2": world["sales_a2"].pk, "client_a": world["client_a"].pk}
    ids |= {"dc_b": world["dc_b"].pk}
    query = {key: value.format(**ids) for key, value in query.items()}

    body = world["api"][user].get("/api/v1/deals", **query).json()

    assert [item["id"] for item in body["items"]] == [deals[name].pk for name in expected]
    assert body["count"] == len(expected)


def test_list_items_carry_the_contract_fields(world: dict[str, Any]) -> None:
    car = VehicleFactory.create(site=world["site_a"])
    world["deal_a"].vehicles.set([car])

    body = world["api"]["sales_a"].get("/api/v1/deals", pipeline="new_car", stage="new").json()

    assert body["count"] == 1
    item = body["items"][0]
    assert set(item) == DEAL_FIELDS
    deal = world["deal_a"]
    assert {key: item[key] for key in DEAL_FIELDS - {"created_at", "stage_entered_at"}} == {
        "id": deal.pk,
        "pipeline": "new_car",
        "stage": "new",
        "stage_name": stage(world["new_car"], "new").name,
        "state": "open",
        "client_id": world["client_a"].pk,
        "client_name": "Смирнова Анна",
        "dealer_center_id": world["dc_a"].pk,
        "responsible_id": world["sales_a"].pk,
        "request_id": None,
        "budget": "2450000.00",
        "payment_intent": "",
        "source": "telegram",
        "channel_id": None,
        "topic": "",
        "title": "Haval Jolion",
        "vehicle_ids": [car.pk],
        "version": 1,
        "last_activity_at": item["last_activity_at"],
        "closed_at": None,
        "loss_reason": None,
        "loss_comment": "",
    }


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"state": "dreaming"}, "state"),
        ({"manager": "me"}, "manager"),
        ({"created_from": "2026-02-30"}, "created_from"),
        ({"limit": "500"}, "limit"),
        ({"stage": "x" * 51}, "stage"),
    ],
)
def test_list_refuses_bad_filters(world: dict[str, Any], query: dict[str, str], field: str) -> None:
    response = world["api"]["sales_a"].get("/api/v1/deals", **query)

    assert response.status_code == 400
    assert error(response)["field"] == field


def test_detail_and_its_scope(world: dict[str, Any]) -> None:
    deal = world["deal_a"]
    url = f"/api/v1/deals/{deal.pk}"

    mine = world["api"]["sales_a"].get(url)
    foreign = world["api"]["sales_b"].get(url)
    missing = world["api"]["sales_b"].get("/api/v1/deals/999999")

    assert mine.status_code == 200
    assert (mine.json()["id"], mine.json()["title"], mine.json()["budget"]) == (
        deal.pk,
        "Haval Jolion",
        "2450000.00",
    )
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()
    assert world["api"]["operator"].get(url).status_code == 200


def test_change_a_deal(world: dict[str, Any]) -> None:
    deal = world["deal_a"]
    car = VehicleFactory.create(site=world["site_a"])

    response = world["api"]["sales_a"].patch(
        f"/api/v1/deals/{deal.pk}",
        {
            "budget": 2600000,
            "title": "Haval Jolion Premium",
            "payment_intent": "trade_in",
            "responsible_id": world["sales_a2"].pk,
            "vehicle_ids": [car.pk],
        },
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (
        body["budget"],
        body["title"],
        body["payment_intent"],
        body["responsible_id"],
        body["vehicle_ids"],
        body["version"],
        body["stage"],
        body["topic"],
    ) == (
        "2600000.00",
        "Haval Jolion Premium",
        "trade_in",
        world["sales_a2"].pk,
        [car.pk],
        2,
        "new",
        "",
    )
    deal.refresh_from_db()
    assert (deal.budget, deal.responsible, deal.version) == (
        Decimal("2600000.00"),
        world["sales_a2"],
        2,
    )

    cleared = world["api"]["sales_a"].patch(
        f"/api/v1/deals/{deal.pk}", {"budget": None, "responsible_id": None, "title": None}
    )

    assert (cleared.json()["budget"], cleared.json()["responsible_id"]) == (None, None)
    assert cleared.json()["title"] == ""


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"stage": "won"}, "stage"),
        ({"budget": "-5"}, "budget"),
        ({"payment_intent": "barter"}, "payment_intent"),
        ({"responsible_id": 999_999}, "responsible_id"),
        ({"vehicle_ids": [999_999]}, "vehicle_ids"),
    ],
)
def test_change_refuses_bad_input(world: dict[str, Any], body: dict[str, Any], field: str) -> None:
    deal = world["deal_a"]
    before = deal_state(deal)

    response = world["api"]["sales_a"].patch(f"/api/v1/deals/{deal.pk}", body)

    assert response.status_code == 400, response.content
    assert error(response)["field"] == field
    assert deal_state(deal) == before


def test_change_is_not_found_outside_the_scope(world: dict[str, Any]) -> None:
    deal = world["deal_a"]
    before = deal_state(deal)

    response = world["api"]["sales_b"].patch(f"/api/v1/deals/{deal.pk}", {"title": "Mine now"})

    assert response.status_code == 404
    assert deal_state(deal) == before


# --- deals: stage moves ------------------------------------------------------------------


def test_move_a_deal(world: dict[str, Any]) -> None:
    deal = world["deal_a"]

    response = world["api"]["sales_a"].post(
        f"/api/v1/deals/{deal.pk}/move", {"stage": "contact", "reason": "Called back", "version": 1}
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["stage"], body["state"], body["version"], body["closed_at"]) == (
        "contact",
        "open",
        2,
        None,
    )
    assert body["stage_name"] == stage(world["new_car"], "contact").name
    change = DealStageChange.objects.get(deal=deal)
    assert (change.from_stage.code, change.to_stage.code, change.changed_by, change.reason) == (
        "new",
        "contact",
        world["sales_a"],
        "Called back",
    )


def test_moving_to_the_current_stage_changes_nothing(world: dict[str, Any]) -> None:
    deal = world["deal_a"]
    before = counts()

    response = world["api"]["sales_a"].post(f"/api/v1/deals/{deal.pk}/move", {"stage": "new"})

    assert response.status_code == 200
    assert (response.json()["stage"], response.json()["version"]) == ("new", 1)
    assert counts() == before


def test_lost_with_the_reason_naming_a_loss_reason(world: dict[str, Any]) -> None:
    deal = world["deal_a"]
    price = LossReason.objects.order_by("order")[1]
    open_task = make_task(deal=deal, dealer_center=world["dc_a"], assignee=world["sales_a"])

    response = world["api"]["sales_a"].post(
        f"/api/v1/deals/{deal.pk}/move", {"stage": "lost", "reason": f"  {price.name.upper()} "}
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["stage"], body["state"], body["loss_reason"], body["loss_comment"]) == (
        "lost",
        "lost",
        {"id": price.pk, "name": price.name},
        "",
    )
    assert body["closed_at"] is not None
    open_task.refresh_from_db()
    assert open_task.status == TaskStatus.CANCELLED


@pytest.mark.parametrize("given", ["id", "id as text", "name"])
def test_lost_with_loss_reason_and_a_comment(world: dict[str, Any], given: str) -> None:
    deal = world["deal_a"]
    reason = LossReason.objects.order_by("order").first()
    assert reason is not None
    value = {"id": reason.pk, "id as text": str(reason.pk), "name": reason.name}[given]

    response = world["api"]["sales_a"].post(
        f"/api/v1/deals/{deal.pk}/move",
        {"stage": "lost", "loss_reason": value, "reason": "Купил у конкурента дешевле"},
    )

    assert response.status_code == 200, response.content
    deal.refresh_from_db()
    assert (deal.state, deal.loss_reason, deal.loss_comment) == (
        DealState.LOST,
        reason,
        "Купил у конкурента дешевле",
    )
    change = DealStageChange.objects.get(deal=deal)
    assert (change.loss_reason, change.reason) == (reason, "Купил у конкурента дешевле")


def _prepare_refusal(world: dict[str, Any], rule: str) -> tuple[Deal, dict[str, Any]]:
    deal = world["deal_a"]
    new_car = world["new_car"]
    if rule == "not_in_transition_map":
        stage(new_car, "new").allowed_next.set([stage(new_car, "contact")])
        return deal, {"stage": "needs"}
    if rule == "loss_reason_required":
        return deal, {"stage": "lost", "reason": "Просто передумал"}
    if rule == "vehicle_required":
        return deal, {"stage": "test_drive"}
    if rule == "reopen_requires_head":
        won = make_deal(
            pipeline=new_car, dealer_center=world["dc_a"], stage_code="won", state=DealState.WON
        )
        return won, {"stage": "needs"}
    assert rule == "changed_meanwhile"
    return deal, {"stage": "contact", "version": 7}


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ("not_in_transition_map", "stage"),
        ("loss_reason_required", "reason"),
        ("vehicle_required", "stage"),
        ("reopen_requires_head", "stage"),
        ("changed_meanwhile", "stage"),
    ],
)
def test_a_refused_move_is_409_naming_the_rule(
    world: dict[str, Any], rule: str, field: str
) -> None:
    deal, body = _prepare_refusal(world, rule)
    before, state = counts(), deal_state(deal)

    response = world["api"]["sales_a"].post(f"/api/v1/deals/{deal.pk}/move", body)

    assert response.status_code == 409, response.content
    item = error(response)
    assert set(item) == {"code", "message", "field", "rule"}
    assert (item["code"], item["field"], item["rule"]) == ("transition_not_allowed", field, rule)
    assert response.json()["detail"] == item["message"]
    assert counts() == before
    assert deal_state(deal) == state


def test_the_head_may_reopen_a_closed_deal(world: dict[str, Any]) -> None:
    won = make_deal(
        pipeline=world["new_car"],
        dealer_center=world["dc_a"],
        stage_code="won",
        state=DealState.WON,
        closed_at=NOW,
    )

    response = world["api"]["head_a"].post(f"/api/v1/deals/{won.pk}/move", {"stage": "needs"})

    assert response.status_code == 200, response.content
    assert (response.json()["state"], response.json()["closed_at"]) == ("open", None)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "stage"),
        ({"stage": "heaven"}, "stage"),
        ({"stage": "lost", "loss_reason": 999_999}, "loss_reason"),
        ({"stage": "lost", "loss_reason": "Aliens"}, "loss_reason"),
        ({"stage": "lost", "loss_reason": "²"}, "loss_reason"),
        ({"stage": "lost", "loss_reason": "99999999999999999999999"}, "loss_reason"),
        ({"stage": "contact", "version": 0}, "version"),
        ({"stage": "contact", "reason": "x" * 2001}, "reason"),
    ],
)
def test_a_move_with_bad_input_is_400(
    world: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    deal = world["deal_a"]
    before, state = counts(), deal_state(deal)

    response = world["api"]["sales_a"].post(f"/api/v1/deals/{deal.pk}/move", body)

    assert response.status_code == 400, response.content
    assert error(response)["field"] == field
    assert counts() == before
    assert deal_state(deal) == state


def test_a_manager_never_moves_another_dealer_centers_deal(world: dict[str, Any]) -> None:
    deal = world["deal_a"]
    before, state = counts(), deal_state(deal)

    response = world["api"]["sales_b"].post(f"/api/v1/deals/{deal.pk}/move", {"stage": "contact"})

    assert response.status_code == 404
    assert counts() == before
    assert deal_state(deal) == state
    listed = world["api"]["sales_b"].get("/api/v1/deals").json()
    assert deal.pk not in [item["id"] for item in listed["items"]]


def test_history_of_a_deal(world: dict[str, Any]) -> None:
    api = world["api"]["sales_a"]
    created = api.post(
        "/api/v1/deals",
        {
            "client_id": world["client_a"].pk,
            "pipeline": "new_car",
            "dealer_center_id": world["dc_a"].pk,
        },
    ).json()
    api.post(f"/api/v1/deals/{created['id']}/move", {"stage": "contact", "reason": "Дозвонился"})
    reason = LossReason.objects.order_by("order").first()
    assert reason is not None
    api.post(f"/api/v1/deals/{created['id']}/move", {"stage": "lost", "loss_reason": reason.pk})

    response = api.get(f"/api/v1/deals/{created['id']}/history")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    sales_a = {"id": world["sales_a"].pk, "name": "Продажин Сергей"}
    rows = [
        (
            i["from_stage"],
            i["to_stage"],
            i["changed_by"],
            i["rule_id"],
            i["loss_reason"],
            i["reason"],
        )
        for i in body["items"]
    ]
    assert rows == [
        (None, "new", sales_a, None, None, ""),
        ("new", "contact", sales_a, None, None, "Дозвонился"),
        ("contact", "lost", sales_a, None, {"id": reason.pk, "name": reason.name}, ""),
    ]
    assert body["items"][1]["to_stage_name"] == stage(world["new_car"], "contact").name
    assert world["api"]["sales_b"].get(f"/api/v1/deals/{created['id']}/history").status_code == 404


# --- automation after a move -------------------------------------------------------------


def test_a_move_with_a_matching_rule_creates_the_rules_task(
    world: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    deal = world["deal_a"]
    contact = stage(world["new_car"], "contact")
    rule = make_rule(
        trigger="stage_entered",
        pipeline=world["new_car"],
        stage=contact,
        actions=[
            {
                "kind": "create_task",
                "task_title": "Договориться о визите: {client}",
                "due_minutes": 30,
                "due_in_working_time": False,
                "task_priority": 2,
            }
        ],
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = world["api"]["sales_a"].post(
            f"/api/v1/deals/{deal.pk}/move", {"stage": "contact"}
        )

    assert response.status_code == 200
    # The rule runs in the background: the response came before the task exists.
    assert not Task.objects.filter(deal=deal).exists()
    event = AutomationEvent.objects.get(deal=deal)
    assert (event.trigger, event.stage) == ("stage_entered", contact)
    job = DBTaskResult.objects.get()
    assert (job.task_path, job.args_kwargs) == (
        "autocrm.sales.tasks.process_automation_event",
        {"args": [event.pk], "kwargs": {}},
    )

    assert event_process(event_id=event.pk) == {"matched": 1, "done": 1, "failed": 0}
    # A retried job and the sweep find the occurrence processed: still one task.
    assert event_process(event_id=event.pk) == {"matched": 0, "done": 0, "failed": 0}
    assert events_process_pending(older_than=timedelta(0)) == 0

    task = Task.objects.get(deal=deal)
    assert (task.title, task.assignee, task.rule, task.priority, task.due_at) == (
        "Договориться о визите: Смирнова Анна",
        world["sales_a"],
        rule,
        2,
        event.at + timedelta(minutes=30),
    )
    assert RuleExecution.objects.get().status == "done"
    listed = world["api"]["sales_a"].get("/api/v1/tasks", deal=deal.pk, status="open").json()
    assert [(t["id"], t["rule_id"], t["title"]) for t in listed["items"]] == [
        (task.pk, rule.pk, "Договориться о визите: Смирнова Анна")
    ]


# --- tasks -------------------------------------------------------------------------------


@pytest.fixture
def tasks(world: dict[str, Any]) -> dict[str, Task]:
    deal_a = world["deal_a"]
    return {
        "overdue": make_task(
            title="Перезвонить",
            deal=deal_a,
            client=world["client_a"],
            dealer_center=world["dc_a"],
            assignee=world["sales_a"],
            due_at=NOW - timedelta(hours=2),
        ),
        "later": make_task(
            title="Отправить КП",
            deal=deal_a,
            client=world["client_a"],
            dealer_center=world["dc_a"],
            assignee=world["sales_a2"],
            due_at=NOW + timedelta(days=1),
            priority=3,
        ),
        "done": make_task(
            title="Первый звонок",
            deal=deal_a,
            dealer_center=world["dc_a"],
            status=TaskStatus.DONE,
            due_at=NOW - timedelta(days=1),
        ),
        "undated": make_task(title="Уточнить бюджет", dealer_center=world["dc_a"]),
        "of_b": make_task(
            title="Задача B",
            deal=world["deal_b"],
            dealer_center=world["dc_b"],
            assignee=world["sales_b"],
            due_at=NOW - timedelta(hours=1),
        ),
    }


TASK_FIELDS = {
    "id",
    "title",
    "description",
    "assignee",
    "due_at",
    "status",
    "priority",
    "overdue",
    "deal_id",
    "client_id",
    "request_id",
    "dealer_center_id",
    "result",
    "completed_at",
    "rule_id",
    "created_by",
    "created_at",
}


def test_tasks_of_a_deal(world: dict[str, Any], tasks: dict[str, Task]) -> None:
    deal = world["deal_a"]

    response = world["api"]["sales_a"].get("/api/v1/tasks", deal=deal.pk, status="open")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    first = body["items"][0]
    assert set(first) == TASK_FIELDS
    assert first == {
        "id": tasks["overdue"].pk,
        "title": "Перезвонить",
        "description": "",
        "assignee": {"id": world["sales_a"].pk, "name": "Продажин Сергей"},
        "due_at": first["due_at"],
        "status": "open",
        "priority": 1,
        "overdue": True,
        "deal_id": deal.pk,
        "client_id": world["client_a"].pk,
        "request_id": None,
        "dealer_center_id": world["dc_a"].pk,
        "result": "",
        "completed_at": None,
        "rule_id": None,
        "created_by": None,
        "created_at": first["created_at"],
    }
    assert same_moment(first["due_at"], tasks["overdue"].due_at)
    second = body["items"][1]
    assert (second["id"], second["overdue"], second["priority"], second["assignee"]["id"]) == (
        tasks["later"].pk,
        False,
        3,
        world["sales_a2"].pk,
    )


@pytest.mark.parametrize(
    ("user", "query", "expected"),
    [
        ("sales_a", {}, ["done", "overdue", "later", "undated"]),
        ("sales_b", {}, ["of_b"]),
        ("operator", {}, ["done", "overdue", "of_b", "later", "undated"]),
        ("sales_a", {"status": "done"}, ["done"]),
        ("sales_a", {"overdue": "true"}, ["overdue"]),
        ("operator", {"overdue": "true"}, ["overdue", "of_b"]),
        ("sales_a", {"overdue": "false"}, ["done", "overdue", "later", "undated"]),
        ("sales_a", {"assignee": "{sales_a2}"}, ["later"]),
        ("sales_a", {"client": "{client_a}"}, ["overdue", "later"]),
        ("sales_b", {"deal": "{deal_a}"}, []),
    ],
)
def test_task_list_filters_and_scope(
    world: dict[str, Any],
    tasks: dict[str, Task],
    user: str,
    query: dict[str, str],
    expected: list[str],
) -> None:
    ids = {
        "sales_a2": world["sales_a2"].pk,
        "client_a": world["client_a"].pk,
        "deal_a": world["deal_a"].pk,
    }
    query = {key: value.format(**ids) for key, value in query.items()}

    body = world["api"][user].get("/api/v1/tasks", **query).json()

    assert [item["id"] for item in body["items"]] == [tasks[name].pk for name in expected]
    assert body["count"] == len(expected)


def test_create_a_task(world: dict[str, Any]) -> None:
    deal = world["deal_a"]

    response = world["api"]["sales_a"].post(
        "/api/v1/tasks",
        {
            "title": "  Пригласить на тест-драйв ",
            "description": "Jolion, суббота",
            "assignee_id": world["sales_a2"].pk,
            "due_at": "2030-05-17T11:30:00+03:00",
            "priority": 2,
            "deal_id": deal.pk,
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    task = Task.objects.get(pk=body["id"])
    assert set(body) == TASK_FIELDS | {"comments"}
    assert {key: body[key] for key in TASK_FIELDS - {"created_at", "due_at"}} == {
        "id": task.pk,
        "title": "Пригласить на тест-драйв",
        "description": "Jolion, суббота",
        "assignee": {"id": world["sales_a2"].pk, "name": world["sales_a2"].display_name},
        "status": "open",
        "priority": 2,
        "overdue": False,
        "deal_id": deal.pk,
        "client_id": world["client_a"].pk,
        "request_id": None,
        "dealer_center_id": world["dc_a"].pk,
        "result": "",
        "completed_at": None,
        "rule_id": None,
        "created_by": {"id": world["sales_a"].pk, "name": "Продажин Сергей"},
    }
    assert body["comments"] == []
    assert task.due_at == datetime(2030, 5, 17, 8, 30, tzinfo=UTC)
    assert datetime.fromisoformat(body["due_at"]) == task.due_at


def test_a_deadline_without_an_offset_is_moscow_time(world: dict[str, Any]) -> None:
    response = world["api"]["sales_a"].post(
        "/api/v1/tasks", {"title": "Позвонить", "due_at": "2030-05-17T11:30:00"}
    )

    assert response.status_code == 201, response.content
    assert Task.objects.get().due_at == datetime(2030, 5, 17, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": "   "}, "title"),
        ({"title": ...}, "title"),
        ({"deal_id": "{deal_b}"}, "deal_id"),
        ({"deal_id": 999_999}, "deal_id"),
        ({"client_id": "{client_b}"}, "client_id"),
        ({"client_id": "{other_client}"}, "client_id"),
        ({"request_id": 999_999}, "request_id"),
        ({"assignee_id": 999_999}, "assignee_id"),
        ({"priority": 7}, "priority"),
        ({"due_at": "0999-01-01T10:00:00"}, "due_at"),
        ({"due_at": "tomorrow"}, "due_at"),
    ],
)
def test_create_task_refuses_bad_input(
    world: dict[str, Any], changes: dict[str, Any], field: str
) -> None:
    other_client = ClientFactory.create(dealer_center=world["dc_a"])
    ids = {
        "deal_b": world["deal_b"].pk,
        "client_b": world["client_b"].pk,
        "other_client": other_client.pk,
    }
    body: dict[str, Any] = {"title": "Позвонить", "deal_id": world["deal_a"].pk}
    for key, value in changes.items():
        body[key] = int(value.format(**ids)) if isinstance(value, str) and "{" in value else value
    body = {key: value for key, value in body.items() if value is not ...}
    before = counts()

    response = world["api"]["sales_a"].post("/api/v1/tasks", body)

    assert response.status_code == 400, response.content
    assert error(response)["field"] == field
    assert counts() == before


def test_task_detail_with_comments(world: dict[str, Any], tasks: dict[str, Task]) -> None:
    task = tasks["overdue"]
    api = world["api"]["sales_a"]

    added = api.post(f"/api/v1/tasks/{task.pk}/comments", {"text": " Не берёт трубку "})
    detail = api.get(f"/api/v1/tasks/{task.pk}")

    assert added.status_code == 201
    comment = TaskComment.objects.get()
    assert added.json() == {
        "id": comment.pk,
        "task_id": task.pk,
        "author": {"id": world["sales_a"].pk, "name": "Продажин Сергей"},
        "text": "Не берёт трубку",
        "at": added.json()["at"],
    }
    assert detail.status_code == 200
    assert detail.json()["comments"] == [added.json()]
    assert detail.json()["title"] == "Перезвонить"


def test_an_empty_comment_is_refused(world: dict[str, Any], tasks: dict[str, Task]) -> None:
    before = counts()

    response = world["api"]["sales_a"].post(
        f"/api/v1/tasks/{tasks['overdue'].pk}/comments", {"text": "  "}
    )

    assert response.status_code == 400
    assert error(response)["field"] == "text"
    assert counts() == before


def test_complete_then_complete_again_is_409(world: dict[str, Any], tasks: dict[str, Task]) -> None:
    task = tasks["overdue"]
    api = world["api"]["sales_a"]

    done = api.post(f"/api/v1/tasks/{task.pk}/complete", {"result": "Записан на субботу"})

    assert done.status_code == 200, done.content
    body = done.json()
    assert (body["status"], body["result"], body["overdue"]) == (
        "done",
        "Записан на субботу",
        False,
    )
    task.refresh_from_db()
    assert (task.status, task.result, task.completed_by) == (
        TaskStatus.DONE,
        "Записан на субботу",
        world["sales_a"],
    )
    assert same_moment(body["completed_at"], task.completed_at)
    before = counts()

    again = api.post(f"/api/v1/tasks/{task.pk}/complete", {"result": "Другой итог"})

    assert again.status_code == 409
    item = error(again)
    assert (item["code"], item["field"]) == ("transition_not_allowed", "status")
    assert counts() == before
    task.refresh_from_db()
    assert (task.status, task.result) == (TaskStatus.DONE, "Записан на субботу")


def test_cancel_and_reopen(world: dict[str, Any], tasks: dict[str, Task]) -> None:
    task = tasks["later"]
    api = world["api"]["head_a"]

    cancelled = api.post(f"/api/v1/tasks/{task.pk}/cancel", {"note": "Клиент отказался"})
    cancelled_again = api.post(f"/api/v1/tasks/{task.pk}/cancel")
    reopened = api.post(f"/api/v1/tasks/{task.pk}/reopen")
    reopened_again = api.post(f"/api/v1/tasks/{task.pk}/reopen")

    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    assert cancelled_again.status_code == 409
    assert (reopened.status_code, reopened.json()["status"]) == (200, "open")
    assert reopened_again.status_code == 409
    assert list(task.status_changes.values_list("from_status", "to_status", "note")) == [
        ("open", "cancelled", "Клиент отказался"),
        ("cancelled", "open", ""),
    ]


def test_only_the_assignee_author_or_a_head_completes(
    world: dict[str, Any], tasks: dict[str, Task]
) -> None:
    task = tasks["later"]  # assigned to sales_a2
    before = counts()

    response = world["api"]["sales_a"].post(f"/api/v1/tasks/{task.pk}/complete", {"result": "x"})

    assert response.status_code == 403
    assert counts() == before
    task.refresh_from_db()
    assert task.status == TaskStatus.OPEN


def test_change_a_task(world: dict[str, Any], tasks: dict[str, Task]) -> None:
    task = tasks["overdue"]

    response = world["api"]["sales_a"].patch(
        f"/api/v1/tasks/{task.pk}",
        {"due_at": "2030-01-10T09:00:00+03:00", "priority": 3, "assignee_id": world["sales_a2"].pk},
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["priority"], body["assignee"]["id"], body["overdue"]) == (
        3,
        world["sales_a2"].pk,
        False,
    )
    task.refresh_from_db()
    assert task.due_at == datetime(2030, 1, 10, 6, 0, tzinfo=UTC)
    refused = world["api"]["sales_a"].patch(f"/api/v1/tasks/{task.pk}", {"status": "done"})
    assert (refused.status_code, error(refused)["field"]) == (400, "status")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/tasks/{task}"),
        ("PATCH", "/api/v1/tasks/{task}"),
        ("POST", "/api/v1/tasks/{task}/complete"),
        ("POST", "/api/v1/tasks/{task}/cancel"),
        ("POST", "/api/v1/tasks/{task}/comments"),
    ],
)
def test_another_dealer_centers_task_is_not_found(
    world: dict[str, Any], tasks: dict[str, Task], method: str, path: str
) -> None:
    before = counts()

    response = world["api"]["sales_b"].send(
        method, path.format(task=tasks["overdue"].pk), {"result": "x", "text": "x"}
    )

    assert response.status_code == 404
    assert counts() == before


# --- who may call ------------------------------------------------------------------------

ENDPOINTS = [
    ("GET", "/api/v1/pipelines"),
    ("GET", "/api/v1/deals"),
    ("POST", "/api/v1/deals"),
    ("GET", "/api/v1/deals/{deal}"),
    ("PATCH", "/api/v1/deals/{deal}"),
    ("POST", "/api/v1/deals/{deal}/move"),
    ("GET", "/api/v1/deals/{deal}/history"),
    ("GET", "/api/v1/tasks"),
    ("POST", "/api/v1/tasks"),
    ("GET", "/api/v1/tasks/{task}"),
    ("PATCH", "/api/v1/tasks/{task}"),
    ("POST", "/api/v1/tasks/{task}/complete"),
    ("POST", "/api/v1/tasks/{task}/cancel"),
    ("POST", "/api/v1/tasks/{task}/reopen"),
    ("POST", "/api/v1/tasks/{task}/comments"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_unauthenticated_calls_are_401_and_change_nothing(
    client: Any, world: dict[str, Any], tasks: dict[str, Task], method: str, path: str
) -> None:
    url = path.format(deal=world["deal_a"].pk, task=tasks["overdue"].pk)
    body = {"stage": "contact", "result": "x", "title": "x", "text": "x"}
    before = counts()

    response = client.generic(method, url, data=json.dumps(body), content_type="application/json")

    assert response.status_code == 401
    assert error(response)["field"] == "Authorization"
    assert counts() == before


@pytest.mark.parametrize(
    ("method", "path"), [(method, path) for method, path in ENDPOINTS if "/tasks" not in path]
)
def test_roles_without_the_funnel_are_403(
    world: dict[str, Any], tasks: dict[str, Task], method: str, path: str
) -> None:
    url = path.format(deal=world["deal_a"].pk, task=tasks["overdue"].pk)
    before = counts()

    response = world["api"]["hostess_a"].send(method, url, {"stage": "contact", "title": "x"})

    assert response.status_code == 403
    assert error(response)["code"] == "forbidden"
    assert counts() == before


def test_every_employee_reaches_the_tasks_of_his_dealer_center(
    world: dict[str, Any], tasks: dict[str, Task]
) -> None:
    response = world["api"]["hostess_a"].send("GET", "/api/v1/tasks?limit=200", None)

    assert response.status_code == 200
    ids = {item["id"] for item in response.json()["items"]}
    assert tasks["overdue"].pk in ids
