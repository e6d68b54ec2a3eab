"""The funnel's admin: administrators configure pipelines, stages and automation rules
without code; a refused configuration shows its errors and saves nothing; deals and tasks
change their stage and status only through the services; list pages do not grow a query
per row."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from autocrm.accounts.models import DepartmentKind
from autocrm.accounts.roles import RoleCode
from autocrm.accounts.tests.factories import DealerCenterFactory, UserFactory
from autocrm.sales import models
from autocrm.sales.models import (
    AutomationEvent,
    AutomationRule,
    Deal,
    DealStageChange,
    ExecutionStatus,
    LossReason,
    Pipeline,
    RuleAction,
    RuleExecution,
    SlaTarget,
    Stage,
    Task,
    TaskStatus,
)
from autocrm.sales.tests.factories import default_pipelines, make_deal, make_rule, make_task, stage

pytestmark = pytest.mark.django_db

FUNNEL_MODELS = [
    models.Pipeline,
    models.LossReason,
    models.AutomationRule,
    models.RuleExecution,
    models.SlaTarget,
    models.Deal,
    models.Task,
]


@pytest.fixture
def administrator():
    # An administrator by role, not a superuser: access comes from the rules.
    user = UserFactory(username="adm", roles=[RoleCode.ADMINISTRATOR], is_staff=True)
    assert not user.is_superuser
    return user


@pytest.fixture
def admin_client(client, administrator):
    client.force_login(administrator)
    return client


@pytest.fixture
def pipelines():
    return default_pipelines()


def _management(prefix: str, total: int, initial: int = 0) -> dict[str, str]:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def _flags(values: dict[str, Any]) -> dict[str, Any]:
    """Form data as a browser sends it: unchecked boxes are left out, None is empty."""
    data: dict[str, Any] = {}
    for name, value in values.items():
        if value is False:
            continue
        data[name] = "on" if value is True else ("" if value is None else value)
    return data


STAGE_DEFAULTS = {
    "order": "0",
    "code": "",
    "name": "",
    "is_won": False,
    "is_lost": False,
    "requires_vehicle": False,
    "requires_budget": False,
    "sla_hours": "",
    "color": "primary",
}


def pipeline_data(
    stages: list[dict[str, Any]], *, initial: int = 0, **fields: Any
) -> dict[str, Any]:
    data = _flags(
        {
            "name": "Корпоративный парк",
            "code": "fleet",
            "kind": "other",
            "order": "9",
            "is_active": True,
            **fields,
        }
    )
    for index, values in enumerate(stages):
        row = _flags({"id": None, "pipeline": None, **STAGE_DEFAULTS, **values})
        data |= {f"stages-{index}-{name}": value for name, value in row.items()}
    return data | _management("stages", len(stages), initial)


ACTION_DEFAULTS = {
    "id": None,
    "rule": None,
    "order": "0",
    "kind": "",
    "assignee_kind": "responsible",
    "user": None,
    "role": "",
    "department_kind": "",
    "strategy": "least_loaded",
    "notify_target": "",
    "task_title": "",
    "task_description": "",
    "task_priority": "1",
    "due_minutes": None,
    "due_in_working_time": True,
    "message": "",
    "target_stage": None,
}


def rule_data(actions: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    data = _flags(
        {
            "name": "Тест-драйв: задача менеджеру",
            "is_active": True,
            "order": "0",
            "trigger": "stage_entered",
            "hours": None,
            "pipeline": None,
            "stage": None,
            "topic_contains": "",
            **fields,
        }
    )
    for index, values in enumerate(actions):
        row = _flags({**ACTION_DEFAULTS, "order": str(index), **values})
        data |= {f"actions-{index}-{name}": value for name, value in row.items()}
    return data | _management("actions", len(actions))


def form_errors(response) -> dict[str, list[str]]:
    """The main form's errors, the inlines' errors by prefix and row, and their
    non-form errors."""
    errors = {
        name: list(messages) for name, messages in response.context["adminform"].form.errors.items()
    }
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for index, form_errors_ in enumerate(formset.errors):
            for name, messages in form_errors_.items():
                errors[f"{formset.prefix}-{index}-{name}"] = list(messages)
        if formset.non_form_errors():
            errors[f"{formset.prefix}-__all__"] = list(formset.non_form_errors())
    return errors


# Access -----------------------------------------------------------------------------------


def test_every_funnel_model_is_registered():
    for model in FUNNEL_MODELS:
        assert admin.site.is_registered(model), model


@pytest.mark.parametrize("model", FUNNEL_MODELS, ids=lambda model: model.__name__)
def test_the_administrator_opens_every_list(admin_client, pipelines, model):
    url = reverse(f"admin:sales_{model._meta.model_name}_changelist")

    response = admin_client.get(url)

    assert response.status_code == 200


@pytest.mark.parametrize("role", [RoleCode.SALES_MANAGER, RoleCode.HEAD])
def test_other_roles_do_not_get_into_the_funnel_admin(client, role):
    client.force_login(UserFactory(roles=[role]))

    response = client.get(reverse("admin:sales_automationrule_changelist"))

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


# Pipelines and stages -----------------------------------------------------------------------


def test_a_pipeline_is_added_with_its_stages(admin_client):
    response = admin_client.post(
        reverse("admin:sales_pipeline_add"),
        pipeline_data(
            [
                {"order": "0", "code": "new", "name": "Новая заявка", "sla_hours": "2"},
                {
                    "order": "1",
                    "code": "offer",
                    "name": "КП",
                    "requires_vehicle": True,
                    "requires_budget": True,
                },
                {
                    "order": "2",
                    "code": "won",
                    "name": "Договор",
                    "is_won": True,
                    "color": "success",
                },
                {"order": "3", "code": "lost", "name": "Отказ", "is_lost": True, "color": "danger"},
            ]
        ),
    )

    assert response.status_code == 302, form_errors(response)
    pipeline = Pipeline.objects.get(code="fleet")
    assert (pipeline.name, pipeline.kind, pipeline.order, pipeline.is_active) == (
        "Корпоративный парк",
        "other",
        9,
        True,
    )
    rows = list(
        pipeline.stages.order_by("order").values_list(
            "code", "is_won", "is_lost", "requires_vehicle", "requires_budget", "sla_hours"
        )
    )
    assert rows == [
        ("new", False, False, False, False, Decimal("2.00")),
        ("offer", False, False, True, True, None),
        ("won", True, False, False, False, None),
        ("lost", False, True, False, False, None),
    ]


def _existing_stage_rows(pipeline: Pipeline) -> list[dict[str, Any]]:
    return [
        {
            "id": str(row.pk),
            "pipeline": str(pipeline.pk),
            "order": str(row.order),
            "code": row.code,
            "name": row.name,
            "is_won": row.is_won,
            "is_lost": row.is_lost,
            "requires_vehicle": row.requires_vehicle,
            "requires_budget": row.requires_budget,
            "color": row.color,
        }
        for row in pipeline.stages.order_by("order", "pk")
    ]


def test_allowed_next_stages_are_chosen_among_the_pipelines_own(admin_client, pipelines):
    service = pipelines["service"]
    rows = _existing_stage_rows(service)
    booked, in_service = stage(service, "booked"), stage(service, "in_service")
    rows[0]["allowed_next"] = [str(booked.pk), str(stage(service, "lost").pk)]
    url = reverse("admin:sales_pipeline_change", args=[service.pk])

    page = admin_client.get(url)
    response = admin_client.post(
        url,
        pipeline_data(
            rows, initial=len(rows), name=service.name, code=service.code, kind=service.kind
        ),
    )

    # the form offers exactly this pipeline's stages
    choices = (
        page.context["inline_admin_formsets"][0].formset.forms[0].fields["allowed_next"].queryset
    )
    assert set(choices.values_list("pk", flat=True)) == set(
        service.stages.values_list("pk", flat=True)
    )
    assert response.status_code == 302, form_errors(response)
    new = stage(service, "new")
    assert set(new.allowed_next.values_list("code", flat=True)) == {"booked", "lost"}
    assert not in_service.allowed_next.exists()


def test_a_stage_of_another_pipeline_is_refused_as_next(admin_client, pipelines):
    service = pipelines["service"]
    rows = _existing_stage_rows(service)
    rows[0]["allowed_next"] = [str(stage(pipelines["new_car"], "offer").pk)]

    response = admin_client.post(
        reverse("admin:sales_pipeline_change", args=[service.pk]),
        pipeline_data(
            rows, initial=len(rows), name=service.name, code=service.code, kind=service.kind
        ),
    )

    assert response.status_code == 200
    assert "stages-0-allowed_next" in form_errors(response)
    assert not stage(service, "new").allowed_next.exists()


@pytest.mark.parametrize(
    ("stages", "error"),
    [
        (
            [
                {"code": "new", "name": "Новая"},
                {"code": "odd", "name": "Странная", "is_won": True, "is_lost": True},
            ],
            "stages-1-is_lost",
        ),
        (
            [
                {"code": "won", "name": "Продано", "is_won": True},
                {"code": "lost", "name": "Отказ", "is_lost": True},
            ],
            "stages-__all__",
        ),
        (
            [{"code": "new", "name": "Новая", "sla_hours": "-1"}],
            "stages-0-sla_hours",
        ),
        (
            [{"code": "new", "name": "Новая"}, {"code": "new", "name": "Ещё новая", "order": "1"}],
            "stages-__all__",
        ),
    ],
    ids=["won-and-lost", "no-open-stage", "negative-sla", "duplicate-code"],
)
def test_a_wrong_pipeline_is_refused_and_nothing_is_saved(admin_client, stages, error):
    response = admin_client.post(reverse("admin:sales_pipeline_add"), pipeline_data(stages))

    assert response.status_code == 200
    assert error in form_errors(response), form_errors(response)
    assert not Pipeline.objects.filter(code="fleet").exists()
    assert not Stage.objects.filter(pipeline__code="fleet").exists()


def test_a_stage_used_by_a_rule_is_not_deleted(admin_client, pipelines):
    service = pipelines["service"]
    booked = stage(service, "booked")
    make_rule(
        name="Запись на сервис",
        trigger="stage_entered",
        pipeline=service,
        stage=booked,
        actions=[{"kind": "notify", "notify_target": "responsible"}],
    )
    rows = _existing_stage_rows(service)
    booked_row = next(row for row in rows if row["code"] == "booked")
    booked_row["DELETE"] = True

    response = admin_client.post(
        reverse("admin:sales_pipeline_change", args=[service.pk]),
        pipeline_data(
            rows, initial=len(rows), name=service.name, code=service.code, kind=service.kind
        ),
    )

    assert response.status_code == 200
    assert "stages-__all__" in form_errors(response)
    assert Stage.objects.filter(pk=booked.pk).exists()
    assert AutomationRule.objects.filter(name="Запись на сервис").exists()


def test_a_stage_with_deals_is_not_deleted(admin_client, pipelines):
    service = pipelines["service"]
    booked = stage(service, "booked")
    make_deal(pipeline=service, dealer_center=DealerCenterFactory(), stage_code="booked")
    rows = _existing_stage_rows(service)
    next(row for row in rows if row["code"] == "booked")["DELETE"] = True

    response = admin_client.post(
        reverse("admin:sales_pipeline_change", args=[service.pk]),
        pipeline_data(
            rows, initial=len(rows), name=service.name, code=service.code, kind=service.kind
        ),
    )

    assert response.status_code == 200
    assert Stage.objects.filter(pk=booked.pk).exists()


# Automation rules ----------------------------------------------------------------------------


def test_a_rule_is_added_with_its_actions(admin_client, pipelines):
    new_car = pipelines["new_car"]
    test_drive = stage(new_car, "test_drive")
    murmansk, moscow = DealerCenterFactory(), DealerCenterFactory()
    head = UserFactory(roles=[RoleCode.HEAD])

    response = admin_client.post(
        reverse("admin:sales_automationrule_add"),
        rule_data(
            [
                {
                    "kind": "create_task",
                    "task_title": "Подготовить тест-драйв для {client}",
                    "due_minutes": "1440",
                    "due_in_working_time": False,
                    "task_priority": "2",
                },
                {
                    "kind": "notify",
                    "notify_target": "user",
                    "user": str(head.pk),
                    "message": "Тест-драйв {deal}",
                },
                {
                    "kind": "assign",
                    "assignee_kind": "department",
                    "department_kind": DepartmentKind.SALES,
                    "strategy": "round_robin",
                },
            ],
            pipeline=str(new_car.pk),
            stage=str(test_drive.pk),
            dealer_centers=[str(murmansk.pk), str(moscow.pk)],
            sources=["webform", "telegram"],
            topic_contains="кредит",
        ),
    )

    assert response.status_code == 302, form_errors(response)
    rule = AutomationRule.objects.get(name="Тест-драйв: задача менеджеру")
    assert (rule.trigger, rule.pipeline, rule.stage, rule.hours) == (
        "stage_entered",
        new_car,
        test_drive,
        None,
    )
    assert sorted(rule.sources) == ["telegram", "webform"]
    assert rule.topic_contains == "кредит"
    assert set(rule.dealer_centers.all()) == {murmansk, moscow}
    actions = list(
        rule.actions.order_by("order").values_list(
            "kind",
            "task_title",
            "due_minutes",
            "due_in_working_time",
            "task_priority",
            "notify_target",
            "user",
            "assignee_kind",
            "department_kind",
            "strategy",
        )
    )
    assert actions == [
        (
            "create_task",
            "Подготовить тест-драйв для {client}",
            1440,
            False,
            2,
            "",
            None,
            "responsible",
            "",
            "least_loaded",
        ),
        ("notify", "", None, True, 1, "user", head.pk, "responsible", "", "least_loaded"),
        ("assign", "", None, True, 1, "", None, "department", "sales", "round_robin"),
    ]


def test_the_pipeline_is_taken_from_the_stage(admin_client, pipelines):
    offer = stage(pipelines["used_car"], "offer")

    response = admin_client.post(
        reverse("admin:sales_automationrule_add"),
        rule_data([{"kind": "escalate"}], stage=str(offer.pk)),
    )

    assert response.status_code == 302, form_errors(response)
    assert AutomationRule.objects.get().pipeline == pipelines["used_car"]


def test_the_rule_form_offers_request_sources_as_choices(admin_client):
    response = admin_client.get(reverse("admin:sales_automationrule_add"))

    field = response.context["adminform"].form.fields["sources"]
    assert [value for value, _label in field.choices] == list(models.RequestSource.values)


def _refused_rule_cases(pipelines) -> list[tuple[str, dict[str, Any], list[dict[str, Any]], str]]:
    new_car, used_car = pipelines["new_car"], pipelines["used_car"]
    return [
        (
            "stage-of-another-pipeline",
            {"pipeline": str(new_car.pk), "stage": str(stage(used_car, "offer").pk)},
            [{"kind": "escalate"}],
            "stage",
        ),
        (
            "hours-for-no-activity",
            {"trigger": "no_activity"},
            [{"kind": "notify", "notify_target": "responsible"}],
            "hours",
        ),
        ("hours-for-idle", {"trigger": "deal_idle", "hours": "0"}, [{"kind": "escalate"}], "hours"),
        (
            "negative-hours",
            {"trigger": "task_overdue", "hours": "-1"},
            [{"kind": "escalate"}],
            "hours",
        ),
        (
            "pipeline-for-a-new-request",
            {"trigger": "request_created", "pipeline": str(new_car.pk)},
            [{"kind": "escalate"}],
            "pipeline",
        ),
        ("unknown-source", {"sources": ["webform", "pigeon"]}, [{"kind": "escalate"}], "sources"),
        ("task-without-title", {}, [{"kind": "create_task"}], "actions-0-task_title"),
        (
            "task-for-a-role-without-role",
            {},
            [{"kind": "create_task", "task_title": "Позвонить", "assignee_kind": "role"}],
            "actions-0-role",
        ),
        (
            "task-for-a-department-without-department",
            {},
            [{"kind": "create_task", "task_title": "Позвонить", "assignee_kind": "department"}],
            "actions-0-department_kind",
        ),
        (
            "task-for-an-employee-without-employee",
            {},
            [{"kind": "create_task", "task_title": "Позвонить", "assignee_kind": "user"}],
            "actions-0-user",
        ),
        (
            "assign-to-the-responsible",
            {},
            [{"kind": "assign", "assignee_kind": "responsible"}],
            "actions-0-assignee_kind",
        ),
        (
            "assign-to-a-role-without-role",
            {},
            [{"kind": "assign", "assignee_kind": "role"}],
            "actions-0-role",
        ),
        ("notify-nobody", {}, [{"kind": "notify"}], "actions-0-notify_target"),
        (
            "notify-a-role-without-role",
            {},
            [{"kind": "notify", "notify_target": "role"}],
            "actions-0-role",
        ),
        (
            "move-without-stage",
            {"pipeline": str(new_car.pk)},
            [{"kind": "move_stage"}],
            "actions-0-target_stage",
        ),
        (
            "move-to-another-pipeline",
            {"pipeline": str(new_car.pk)},
            [{"kind": "move_stage", "target_stage": str(stage(used_car, "offer").pk)}],
            "actions-0-target_stage",
        ),
        (
            "move-without-the-rule-pipeline",
            {},
            [{"kind": "move_stage", "target_stage": str(stage(used_car, "offer").pk)}],
            "actions-0-target_stage",
        ),
        ("no-actions", {}, [], "actions-__all__"),
    ]


CASE_IDS = [
    "stage-of-another-pipeline",
    "hours-for-no-activity",
    "hours-for-idle",
    "negative-hours",
    "pipeline-for-a-new-request",
    "unknown-source",
    "task-without-title",
    "task-for-a-role-without-role",
    "task-for-a-department-without-department",
    "task-for-an-employee-without-employee",
    "assign-to-the-responsible",
    "assign-to-a-role-without-role",
    "notify-nobody",
    "notify-a-role-without-role",
    "move-without-stage",
    "move-to-another-pipeline",
    "move-without-the-rule-pipeline",
    "no-actions",
]


@pytest.mark.parametrize("case", CASE_IDS)
def test_a_wrong_rule_is_refused_and_nothing_is_saved(admin_client, pipelines, case):
    cases = {
        name: (fields, actions, error)
        for name, fields, actions, error in _refused_rule_cases(pipelines)
    }
    fields, actions, error = cases[case]

    response = admin_client.post(
        reverse("admin:sales_automationrule_add"), rule_data(actions, **fields)
    )

    assert response.status_code == 200
    errors = form_errors(response)
    assert error in errors, errors
    assert AutomationRule.objects.count() == 0
    assert RuleAction.objects.count() == 0


def test_an_action_refused_on_change_leaves_the_rule_as_it_was(admin_client, pipelines):
    rule = make_rule(
        name="Новая заявка с сайта",
        trigger="request_created",
        sources=["webform"],
        actions=[{"kind": "create_task", "task_title": "Перезвонить", "due_minutes": 15}],
    )
    action = rule.actions.get()
    data = rule_data(
        [
            {
                "id": str(action.pk),
                "rule": str(rule.pk),
                "kind": "create_task",
                "task_title": "",
                "due_minutes": "30",
            }
        ],
        name="Переименовано",
        trigger="request_created",
        sources=["webform"],
    )
    data["actions-INITIAL_FORMS"] = "1"

    response = admin_client.post(reverse("admin:sales_automationrule_change", args=[rule.pk]), data)

    assert response.status_code == 200
    assert "actions-0-task_title" in form_errors(response)
    rule.refresh_from_db()
    action.refresh_from_db()
    assert rule.name == "Новая заявка с сайта"
    assert (action.task_title, action.due_minutes) == ("Перезвонить", 15)


def test_notifying_a_role_makes_the_engine_find_it(admin_client):
    response = admin_client.post(
        reverse("admin:sales_automationrule_add"),
        rule_data(
            [{"kind": "notify", "notify_target": "role", "role": RoleCode.OPERATOR}],
            trigger="request_created",
        ),
    )

    assert response.status_code == 302, form_errors(response)
    action = RuleAction.objects.get()
    assert (action.notify_target, action.role, action.assignee_kind) == ("role", "operator", "role")


# Execution log and SLA -----------------------------------------------------------------------


def _execution(
    rule: AutomationRule, deal: Deal, status: str = ExecutionStatus.DONE
) -> RuleExecution:
    event = AutomationEvent.objects.create(trigger="stage_entered", deal=deal)
    return RuleExecution.objects.create(
        rule=rule, event=event, record=f"deal:{deal.pk}", status=status
    )


def test_the_execution_log_is_read_only(admin_client, pipelines):
    rule = make_rule(trigger="stage_entered", actions=[{"kind": "escalate"}])
    deal = make_deal(pipeline=pipelines["new_car"], dealer_center=DealerCenterFactory())
    failed = _execution(rule, deal, ExecutionStatus.FAILED)
    url = reverse("admin:sales_ruleexecution_change", args=[failed.pk])

    listing = admin_client.get(
        reverse("admin:sales_ruleexecution_changelist"), {"status__exact": "failed"}
    )
    page = admin_client.get(url)
    post = admin_client.post(url, {"status": "done"})
    add = admin_client.get(reverse("admin:sales_ruleexecution_add"))

    assert listing.status_code == 200
    assert list(listing.context["cl"].result_list) == [failed]
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert post.status_code == 403
    assert add.status_code == 403
    failed.refresh_from_db()
    assert failed.status == "failed"


def test_a_second_group_default_sla_is_refused(admin_client, pipelines):
    SlaTarget.objects.create(kind="first_response", minutes=15)

    twin = admin_client.post(
        reverse("admin:sales_slatarget_add"),
        {"dealer_center": "", "kind": "first_response", "stage": "", "minutes": "10"},
    )
    no_stage = admin_client.post(
        reverse("admin:sales_slatarget_add"),
        {"dealer_center": "", "kind": "stage", "stage": "", "minutes": "120"},
    )
    stricter = admin_client.post(
        reverse("admin:sales_slatarget_add"),
        {
            "dealer_center": str(DealerCenterFactory().pk),
            "kind": "first_response",
            "stage": "",
            "minutes": "10",
        },
    )

    assert twin.status_code == 200
    assert "__all__" in twin.context["adminform"].form.errors
    assert no_stage.status_code == 200
    assert "stage" in no_stage.context["adminform"].form.errors
    assert stricter.status_code == 302
    assert sorted(SlaTarget.objects.values_list("minutes", flat=True)) == [10, 15]


# Deals and tasks ------------------------------------------------------------------------------


def deal_form_data(deal: Deal, **changes: Any) -> dict[str, Any]:
    data = _flags(
        {
            "responsible": str(deal.responsible_id) if deal.responsible_id else None,
            "title": deal.title,
            "topic": deal.topic,
            "vehicles": [str(pk) for pk in deal.vehicles.values_list("pk", flat=True)],
            "budget": deal.budget,
            "payment_intent": deal.payment_intent,
            **changes,
        }
    )
    return (
        data
        | _management("stage_changes", deal.stage_changes.count(), deal.stage_changes.count())
        | _management("tasks", deal.tasks.count(), deal.tasks.count())
    )


@pytest.fixture
def deal(pipelines):
    dealer_center = DealerCenterFactory()
    manager = UserFactory(roles=[RoleCode.SALES_MANAGER], dealer_centers=[dealer_center])
    deal = make_deal(
        pipeline=pipelines["new_car"],
        dealer_center=dealer_center,
        responsible=manager,
        title="Tiggo 7",
    )
    DealStageChange.objects.create(deal=deal, to_stage=deal.stage, changed_by=manager)
    return deal


def test_a_deal_is_corrected_through_the_service_and_its_stage_cannot_be_set(
    admin_client, deal, pipelines
):
    url = reverse("admin:sales_deal_change", args=[deal.pk])
    offer = stage(pipelines["new_car"], "offer")

    page = admin_client.get(url)
    response = admin_client.post(
        url,
        deal_form_data(
            deal, title="Tiggo 8 Pro", budget="3500000", stage=str(offer.pk), state="won"
        ),
    )

    assert "stage" not in page.context["adminform"].form.fields
    assert "state" not in page.context["adminform"].form.fields
    assert response.status_code == 302, form_errors(response)
    deal.refresh_from_db()
    assert (deal.title, deal.budget) == ("Tiggo 8 Pro", Decimal("3500000.00"))
    assert (deal.stage.code, deal.state) == ("new", "open")
    assert deal.version == 2  # written by deal_update
    assert deal.stage_changes.count() == 1


def test_a_responsible_from_another_dealer_center_is_a_form_error(admin_client, deal):
    stranger = UserFactory(roles=[RoleCode.SALES_MANAGER], dealer_centers=[DealerCenterFactory()])
    url = reverse("admin:sales_deal_change", args=[deal.pk])

    response = admin_client.post(
        url, deal_form_data(deal, responsible=str(stranger.pk), title="Другое")
    )

    assert response.status_code == 200
    assert "responsible" in form_errors(response)
    deal.refresh_from_db()
    assert deal.responsible != stranger
    assert (deal.title, deal.version) == ("Tiggo 7", 1)


def test_deals_and_tasks_are_not_added_or_deleted_in_the_admin(admin_client, deal):
    task = make_task(deal=deal, assignee=deal.responsible)

    assert admin_client.get(reverse("admin:sales_deal_add")).status_code == 403
    assert admin_client.get(reverse("admin:sales_task_add")).status_code == 403
    assert (
        admin_client.post(
            reverse("admin:sales_deal_delete", args=[deal.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert (
        admin_client.post(
            reverse("admin:sales_task_delete", args=[task.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert Deal.objects.filter(pk=deal.pk).exists()
    assert Task.objects.filter(pk=task.pk).exists()


def test_a_task_is_changed_through_the_service_and_its_status_cannot_be_set(admin_client, deal):
    task = make_task(
        deal=deal, assignee=deal.responsible, due_at=timezone.now() - timedelta(hours=1)
    )
    task.escalated_at = timezone.now()
    task.save()
    url = reverse("admin:sales_task_change", args=[task.pk])
    due = (timezone.localtime() + timedelta(days=1)).replace(second=0, microsecond=0)

    page = admin_client.get(url)
    response = admin_client.post(
        url,
        {
            "title": "Перезвонить после 15:00",
            "description": "",
            "assignee": str(task.assignee_id),
            "due_at_0": due.strftime("%Y-%m-%d"),
            "due_at_1": due.strftime("%H:%M:%S"),
            "priority": "2",
            "status": "done",
        }
        | _management("comments", 0)
        | _management("status_changes", 0),
    )

    assert "status" not in page.context["adminform"].form.fields
    assert response.status_code == 302, form_errors(response)
    task.refresh_from_db()
    assert (task.title, task.priority, task.due_at, task.status) == (
        "Перезвонить после 15:00",
        2,
        due,
        TaskStatus.OPEN,
    )
    assert task.escalated_at is None  # task_update watches the new deadline afresh


# No query per row ------------------------------------------------------------------------------


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


def _more_rows(pipelines, count: int) -> None:
    dealer_center = DealerCenterFactory()
    manager = UserFactory(roles=[RoleCode.SALES_MANAGER], dealer_centers=[dealer_center])
    rule = make_rule(
        trigger="stage_entered",
        pipeline=pipelines["new_car"],
        stage=stage(pipelines["new_car"], "new"),
        actions=[{"kind": "escalate"}],
    )
    for index in range(count):
        deal = make_deal(
            pipeline=pipelines["new_car"], dealer_center=dealer_center, responsible=manager
        )
        make_task(deal=deal, assignee=manager, dealer_center=dealer_center, rule=rule)
        _execution(rule, deal)
        SlaTarget.objects.create(
            dealer_center=dealer_center,
            kind="stage",
            stage=Stage.objects.order_by("pk")[index],
            minutes=60,
        )
        LossReason.objects.create(name=f"Причина {index}", pipeline=pipelines["used_car"])


@pytest.mark.parametrize(
    "model",
    [Deal, Task, RuleExecution, AutomationRule, SlaTarget, Pipeline, LossReason],
    ids=lambda model: model.__name__,
)
def test_list_pages_do_not_query_per_row(admin_client, pipelines, model):
    url = reverse(f"admin:sales_{model._meta.model_name}_changelist")
    _more_rows(pipelines, 2)
    few = _queries(admin_client, url)

    _more_rows(pipelines, 6)

    assert _queries(admin_client, url) == few
