"""Deals: qualification of a request, the stage transition map with its history, changes,
and scoping of deals and tasks by dealer center."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from autocrm.accounts.tests.factories import DealerCenterFactory, UserFactory
from autocrm.clients.tests.factories import ClientFactory
from autocrm.core.errors import NotAllowed, TransitionNotAllowed, ValidationFailed
from autocrm.inventory.tests.factories import VehicleFactory
from autocrm.sales import selectors
from autocrm.sales.models import (
    Deal,
    DealStageChange,
    DealState,
    LossReason,
    RequestSource,
    RequestStatus,
    Task,
    TaskStatus,
    TaskStatusChange,
)
from autocrm.sales.services import (
    StageMoveRefused,
    deal_create,
    deal_move,
    deal_qualify,
    deal_update,
    loss_reason_for,
    request_touch,
    task_cancel,
    task_comment_add,
    task_complete,
    task_create,
    task_reopen,
)
from autocrm.sales.tests.factories import default_pipelines, make_deal, make_task, stage

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> dict[str, Any]:
    dc_a = DealerCenterFactory.create(name="A")
    dc_b = DealerCenterFactory.create(name="B")
    return {
        "dc_a": dc_a,
        "dc_b": dc_b,
        "manager_a": UserFactory.create(
            username="manager_a", roles=["sales_manager"], dealer_centers=[dc_a]
        ),
        "manager_b": UserFactory.create(
            username="manager_b", roles=["sales_manager"], dealer_centers=[dc_b]
        ),
        "head_a": UserFactory.create(username="head_a", roles=["head"], dealer_centers=[dc_a]),
        "director": UserFactory.create(username="director", roles=["management"]),
        "pipelines": default_pipelines(),
    }


def _deal(world: dict[str, Any], **fields: Any) -> Deal:
    fields.setdefault("pipeline", world["pipelines"]["new_car"])
    fields.setdefault("dealer_center", world["dc_a"])
    fields.setdefault("client", ClientFactory.create())
    return deal_create(actor=world["manager_a"], **fields)


def test_defaults_are_installed_once() -> None:
    first = default_pipelines()
    again = default_pipelines()
    assert sorted(first) == ["new_car", "service", "trade_in", "used_car"]
    assert {p.pk for p in first.values()} == {p.pk for p in again.values()}
    codes = list(first["new_car"].stages.order_by("order").values_list("code", flat=True))
    assert codes == ["new", "contact", "needs", "test_drive", "offer", "contract", "won", "lost"]


def test_create_puts_the_deal_in_the_first_stage_with_history(world: dict[str, Any]) -> None:
    vehicle = VehicleFactory.create()
    deal = _deal(
        world,
        responsible=world["manager_a"],
        vehicle_ids=[vehicle.pk],
        budget=Decimal("2500000.00"),
        payment_intent="credit",
        source=RequestSource.WEBFORM,
        topic="Tiggo 7",
    )
    assert deal.stage.code == "new"
    assert deal.state == DealState.OPEN
    assert list(deal.vehicles.all()) == [vehicle]
    assert deal.budget == Decimal("2500000.00")
    [change] = DealStageChange.objects.filter(deal=deal)
    assert (change.from_stage, change.to_stage.code, change.changed_by) == (
        None,
        "new",
        world["manager_a"],
    )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"payment_intent": "barter"}, "payment_intent"),
        ({"budget": Decimal("-1")}, "budget"),
        ({"vehicle_ids": [999999]}, "vehicle_ids"),
        ({"source": "pigeon"}, "source"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(
    world: dict[str, Any], fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        _deal(world, **fields)
    assert refused.value.field == field
    assert not Deal.objects.exists()


def test_a_manager_cannot_open_a_deal_in_another_dealer_center(world: dict[str, Any]) -> None:
    with pytest.raises(NotAllowed):
        _deal(world, dealer_center=world["dc_b"])
    with pytest.raises(ValidationFailed) as refused:
        _deal(world, responsible=world["manager_b"])
    assert refused.value.field == "responsible_id"
    assert not Deal.objects.exists()


def test_qualify_a_request_takes_it_into_work(world: dict[str, Any]) -> None:
    vehicle = VehicleFactory.create()
    request, _ = request_touch(
        client=ClientFactory.create(),
        source=RequestSource.TELEGRAM,
        dealer_center_id=world["dc_a"].pk,
        topic="Хочу кредит",
        vehicle_id=vehicle.pk,
    )
    deal = deal_qualify(
        actor=world["manager_a"],
        request=request,
        pipeline=world["pipelines"]["new_car"],
        responsible=world["manager_a"],
    )
    request.refresh_from_db()
    assert (deal.client, deal.request, deal.source, deal.topic) == (
        request.client,
        request,
        RequestSource.TELEGRAM,
        "Хочу кредит",
    )
    assert list(deal.vehicles.all()) == [vehicle]
    assert request.status == RequestStatus.IN_PROGRESS
    assert request.responsible == world["manager_a"]
    assert request.status_changes.last().to_status == RequestStatus.IN_PROGRESS


def test_moves_write_history_and_set_the_state(world: dict[str, Any]) -> None:
    deal = _deal(world, vehicle_ids=[VehicleFactory.create().pk])
    for code in ("contact", "needs", "test_drive", "offer", "contract", "won"):
        deal = deal_move(actor=world["manager_a"], deal=deal, stage=code, reason=f"→ {code}")
    assert deal.state == DealState.WON
    assert deal.closed_at is not None
    history = list(
        DealStageChange.objects.filter(deal=deal).values_list(
            "from_stage__code", "to_stage__code", "reason"
        )
    )
    assert history[0] == (None, "new", "")
    assert history[-1] == ("contract", "won", "→ won")
    assert len(history) == 7


def test_lost_needs_a_reason_and_cancels_open_tasks(world: dict[str, Any]) -> None:
    deal = _deal(world)
    task = task_create(actor=world["manager_a"], title="Позвонить", deal=deal)
    version = Deal.objects.get(pk=deal.pk).version
    with pytest.raises(StageMoveRefused) as refused:
        deal_move(actor=world["manager_a"], deal=deal, stage="lost")
    assert refused.value.rule == "loss_reason_required"
    assert refused.value.as_dict()["rule"] == "loss_reason_required"
    deal.refresh_from_db()
    assert (deal.stage.code, deal.version) == ("new", version)
    reason = LossReason.objects.order_by("order").first()
    assert reason is not None
    assert loss_reason_for(deal.pipeline, reason.name.upper()) == reason
    assert loss_reason_for(deal.pipeline, str(reason.pk)) == reason
    deal = deal_move(
        actor=world["manager_a"], deal=deal, stage="lost", loss_reason=reason, reason="дешевле"
    )
    assert (deal.state, deal.loss_reason, deal.loss_comment) == (DealState.LOST, reason, "дешевле")
    task.refresh_from_db()
    assert task.status == TaskStatus.CANCELLED
    assert TaskStatusChange.objects.filter(task=task).last().to_status == TaskStatus.CANCELLED
    with pytest.raises(ValidationFailed):
        loss_reason_for(deal.pipeline, "no such reason")


def test_transition_map_refusals_name_their_rule(world: dict[str, Any]) -> None:
    pipeline = world["pipelines"]["new_car"]
    new = stage(pipeline, "new")
    new.allowed_next.set([stage(pipeline, "contact"), stage(pipeline, "lost")])
    deal = _deal(world)
    with pytest.raises(StageMoveRefused) as refused:
        deal_move(actor=world["manager_a"], deal=deal, stage="offer")
    assert refused.value.rule == "not_in_transition_map"
    deal_move(actor=world["manager_a"], deal=deal, stage="contact")
    with pytest.raises(StageMoveRefused) as refused:
        deal_move(actor=world["manager_a"], deal=deal, stage="test_drive")
    assert refused.value.rule == "vehicle_required"
    with pytest.raises(ValidationFailed) as unknown:
        deal_move(actor=world["manager_a"], deal=deal, stage="no_such_stage")
    assert unknown.value.field == "stage"
    with pytest.raises(ValidationFailed):
        deal_move(
            actor=world["manager_a"], deal=deal, stage=stage(world["pipelines"]["service"], "new")
        )
    assert DealStageChange.objects.filter(deal=deal).count() == 2


def test_only_a_head_reopens_a_closed_deal(world: dict[str, Any]) -> None:
    deal = _deal(world, vehicle_ids=[VehicleFactory.create().pk])
    deal = deal_move(actor=world["manager_a"], deal=deal, stage="won")
    with pytest.raises(StageMoveRefused) as refused:
        deal_move(actor=world["manager_a"], deal=deal, stage="contract")
    assert refused.value.rule == "reopen_requires_head"
    assert isinstance(refused.value, TransitionNotAllowed)
    deal = deal_move(actor=world["head_a"], deal=deal, stage="contract")
    assert (deal.state, deal.closed_at) == (DealState.OPEN, None)


def test_a_stale_version_is_refused_and_the_same_stage_is_a_no_op(world: dict[str, Any]) -> None:
    deal = _deal(world)
    stale = deal.version
    deal_move(actor=world["manager_a"], deal=deal, stage="contact", expected_version=stale)
    with pytest.raises(StageMoveRefused) as refused:
        deal_move(actor=world["manager_a"], deal=deal, stage="needs", expected_version=stale)
    assert refused.value.rule == "changed_meanwhile"
    unchanged = deal_move(actor=world["manager_a"], deal=deal, stage="contact")
    assert unchanged.version == stale + 1
    assert DealStageChange.objects.filter(deal=deal).count() == 2


def test_update_changes_details_not_the_stage(world: dict[str, Any]) -> None:
    deal = _deal(world)
    vehicle = VehicleFactory.create()
    deal = deal_update(
        actor=world["manager_a"],
        deal=deal,
        budget=Decimal("1829900.00"),
        payment_intent="credit_trade_in",
        vehicle_ids=[vehicle.pk],
        title="Tiggo 7 Pro Max",
    )
    deal.refresh_from_db()
    assert (deal.budget, deal.payment_intent, deal.title) == (
        Decimal("1829900.00"),
        "credit_trade_in",
        "Tiggo 7 Pro Max",
    )
    assert list(deal.vehicles.all()) == [vehicle]
    with pytest.raises(ValidationFailed) as refused:
        deal_update(actor=world["manager_a"], deal=deal, stage="won")
    assert refused.value.field == "stage"


def test_a_manager_never_sees_another_dealer_centers_deals(world: dict[str, Any]) -> None:
    pipeline = world["pipelines"]["new_car"]
    mine = make_deal(pipeline=pipeline, dealer_center=world["dc_a"])
    theirs = make_deal(pipeline=pipeline, dealer_center=world["dc_b"])
    assert list(selectors.deal_list(user=world["manager_a"])) == [mine]
    assert selectors.deal_get(user=world["manager_a"], deal_id=theirs.pk) is None
    assert set(selectors.deal_list(user=world["director"])) == {mine, theirs}
    board = selectors.deal_board(user=world["manager_b"], pipeline=pipeline)
    assert [column.count for column in board if column.stage.code == "new"] == [1]
    assert [d.pk for column in board for d in column.deals] == [theirs.pk]


def test_board_counts_and_sums_per_stage(world: dict[str, Any]) -> None:
    pipeline = world["pipelines"]["new_car"]
    for budget in ("100.00", "250.50"):
        make_deal(pipeline=pipeline, dealer_center=world["dc_a"], budget=Decimal(budget))
    make_deal(pipeline=pipeline, dealer_center=world["dc_a"], stage_code="contact")
    columns = {
        c.stage.code: c for c in selectors.deal_board(user=world["head_a"], pipeline=pipeline)
    }
    assert (columns["new"].count, columns["new"].budget) == (2, Decimal("350.50"))
    assert (columns["contact"].count, columns["contact"].budget) == (1, Decimal(0))
    assert columns["offer"].count == 0
    limited = selectors.deal_board(user=world["head_a"], pipeline=pipeline, per_stage=1)
    assert [len(c.deals) for c in limited if c.stage.code == "new"] == [1]


def test_tasks_lifecycle_and_permissions(world: dict[str, Any]) -> None:
    deal = _deal(world)
    task = task_create(
        actor=world["head_a"], title="Перезвонить", assignee=world["manager_a"], deal=deal
    )
    assert (task.client, task.dealer_center) == (deal.client, world["dc_a"])
    with pytest.raises(NotAllowed):
        task_complete(actor=world["manager_b"], task=task, result="x")
    task = task_complete(actor=world["manager_a"], task=task, result="Записан на тест-драйв")
    assert (task.status, task.result, task.completed_by) == (
        TaskStatus.DONE,
        "Записан на тест-драйв",
        world["manager_a"],
    )
    with pytest.raises(TransitionNotAllowed):
        task_complete(actor=world["manager_a"], task=task)
    with pytest.raises(TransitionNotAllowed):
        task_cancel(actor=world["manager_a"], task=task)
    task = task_reopen(actor=world["manager_a"], task=task)
    assert (task.status, task.completed_at) == (TaskStatus.OPEN, None)
    comment = task_comment_add(actor=world["manager_a"], task=task, text="  Не дозвонился ")
    assert comment.text == "Не дозвонился"
    with pytest.raises(ValidationFailed):
        task_comment_add(actor=world["manager_a"], task=task, text="  ")
    statuses = list(TaskStatusChange.objects.filter(task=task).values_list("to_status", flat=True))
    assert statuses == ["open", "done", "open"]


def test_a_manager_sees_tasks_of_his_dealer_center_and_his_own(world: dict[str, Any]) -> None:
    pipeline = world["pipelines"]["new_car"]
    deal_b = make_deal(pipeline=pipeline, dealer_center=world["dc_b"])
    in_a = make_task(dealer_center=world["dc_a"])
    in_b = make_task(deal=deal_b, dealer_center=world["dc_b"])
    assigned_across = make_task(dealer_center=world["dc_b"], assignee=world["manager_a"])
    assert set(selectors.task_list(user=world["manager_a"])) == {in_a, assigned_across}
    assert selectors.task_get(user=world["manager_a"], task_id=in_b.pk) is None
    assert set(selectors.task_list(user=world["manager_b"])) == {in_b, assigned_across}
    assert Task.objects.count() == 3


def test_merging_clients_moves_their_deals_and_tasks(world: dict[str, Any]) -> None:
    from autocrm.clients.services import client_merge

    survivor, duplicate = ClientFactory.create(), ClientFactory.create()
    deal = _deal(world, client=duplicate)
    task = task_create(actor=world["manager_a"], title="Позвонить", client=duplicate)
    merge = client_merge(actor=world["head_a"], survivor=survivor, other=duplicate)
    deal.refresh_from_db()
    task.refresh_from_db()
    assert (deal.client, task.client) == (survivor, survivor)
    assert merge.moved["sales.deal"] == 1
    assert merge.moved["sales.task"] == 1


def test_loss_reasons_by_id_or_by_name_in_any_case(world: dict[str, Any]) -> None:
    pipeline = world["pipelines"]["new_car"]
    reason = LossReason.objects.create(name="Уехал в другой город", pipeline=pipeline)
    other = LossReason.objects.create(name="Чужая", pipeline=world["pipelines"]["service"])
    assert loss_reason_for(pipeline, "УЕХАЛ в другой город") == reason
    assert loss_reason_for(pipeline, reason.pk) == reason
    for bad in ("²", "Чужая", str(other.pk), "9" * 30):
        with pytest.raises(ValidationFailed):
            loss_reason_for(pipeline, bad)
