"""Concurrency of the funnel on PostgreSQL: workers racing for one occurrence, managers
racing to move one deal."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections

from autocrm.accounts.tests.factories import DealerCenterFactory
from autocrm.clients.tests.factories import ClientFactory
from autocrm.sales.automation import event_process
from autocrm.sales.models import AutomationEvent, DealStageChange, RuleExecution, Task, Trigger
from autocrm.sales.services import StageMoveRefused, deal_create, deal_move
from autocrm.sales.tests.factories import default_pipelines, make_rule, stage

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL"
    ),
]


def _race(count: int, work: Callable[[], Any]) -> tuple[list[Any], list[BaseException]]:
    barrier = threading.Barrier(count)
    results: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(work())
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


def test_four_workers_on_one_occurrence_make_each_task_once() -> None:
    pipeline = default_pipelines()["new_car"]
    for n in range(3):
        make_rule(
            trigger=Trigger.STAGE_ENTERED,
            stage=stage(pipeline, "contact"),
            actions=[{"kind": "create_task", "task_title": f"Task {n}", "due_minutes": 60}],
        )
    deal = deal_create(
        actor=None,
        client=ClientFactory.create(),
        pipeline=pipeline,
        dealer_center=DealerCenterFactory.create(),
    )
    deal_move(actor=None, deal=deal, stage="contact")
    event = AutomationEvent.objects.get(stage__code="contact")

    results, errors = _race(4, lambda: event_process(event_id=event.pk))

    assert errors == []
    assert sorted(result["done"] for result in results) == [0, 0, 0, 3]
    assert sorted(Task.objects.filter(deal=deal).values_list("title", flat=True)) == [
        "Task 0",
        "Task 1",
        "Task 2",
    ]
    assert RuleExecution.objects.filter(event=event).count() == 3


def test_two_managers_drag_one_card_one_move_wins() -> None:
    pipeline = default_pipelines()["new_car"]
    deal = deal_create(
        actor=None,
        client=ClientFactory.create(),
        pipeline=pipeline,
        dealer_center=DealerCenterFactory.create(),
    )
    version = deal.version
    targets = iter(["contact", "needs", "contact", "needs"])
    lock = threading.Lock()

    def drag() -> str:
        with lock:
            target = next(targets)
        return deal_move(actor=None, deal=deal, stage=target, expected_version=version).stage.code

    results, errors = _race(4, drag)

    assert len(results) == 1
    assert len(errors) == 3
    assert all(isinstance(error, StageMoveRefused) for error in errors), errors
    assert {error.rule for error in errors if isinstance(error, StageMoveRefused)} == {
        "changed_meanwhile"
    }
    assert DealStageChange.objects.filter(deal=deal).count() == 2
