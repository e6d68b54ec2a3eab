"""Test data of the sales funnel: the default pipelines, deals, tasks and rules."""

from __future__ import annotations

from typing import Any

from autocrm.clients.tests.factories import ClientFactory
from autocrm.sales.models import (
    AutomationRule,
    Deal,
    Pipeline,
    RuleAction,
    Stage,
    Task,
)
from autocrm.sales.presets import pipelines_install_defaults


def default_pipelines() -> dict[str, Pipeline]:
    """The four default pipelines (new_car, used_car, service, trade_in) by code."""
    return {pipeline.code: pipeline for pipeline in pipelines_install_defaults()}


def stage(pipeline: Pipeline, code: str) -> Stage:
    return Stage.objects.get(pipeline=pipeline, code=code)


def make_deal(
    *, pipeline: Pipeline, dealer_center: Any, stage_code: str = "new", **fields: Any
) -> Deal:
    """A deal written straight to the table (no automation): for reads and fixtures.
    Tests of writes go through ``deal_create``."""
    fields.setdefault("client", ClientFactory.create(dealer_center=dealer_center))
    vehicles = fields.pop("vehicles", [])
    deal = Deal.objects.create(
        pipeline=pipeline, stage=stage(pipeline, stage_code), dealer_center=dealer_center, **fields
    )
    if vehicles:
        deal.vehicles.set(vehicles)
    return deal


def make_task(**fields: Any) -> Task:
    fields.setdefault("title", "Call the client back")
    return Task.objects.create(**fields)


def make_rule(
    *, actions: list[dict[str, Any]], dealer_centers: Any = (), **fields: Any
) -> AutomationRule:
    """A rule with its actions, e.g. ``make_rule(trigger="stage_entered", stage=s,
    actions=[{"kind": "create_task", "task_title": "Call", "due_minutes": 30}])``."""
    fields.setdefault("name", f"Rule {AutomationRule.objects.count() + 1}")
    rule = AutomationRule.objects.create(**fields)
    if dealer_centers:
        rule.dealer_centers.set(dealer_centers)
    for order, action in enumerate(actions):
        RuleAction.objects.create(rule=rule, order=order, **action)
    return rule


def run_queued_jobs() -> int:
    """Run the background jobs waiting in the database queue, as ``db_worker`` would
    (the job rows themselves are real: they were enqueued after commit)."""
    from django_tasks_db.models import DBTaskResult

    ran = 0
    for row in DBTaskResult.objects.ready().order_by("enqueued_at"):
        arguments = row.args_kwargs
        row.task.call(*arguments["args"], **arguments["kwargs"])
        DBTaskResult.objects.filter(pk=row.pk).delete()
        ran += 1
    return ran
