"""Admin of the sales funnel: what administrators configure without code (pipelines and
their stages, loss reasons, automation rules and their actions, SLA targets), and the
records the funnel writes, shown read-mostly.

Configuration is checked in the forms' ``clean`` (an error on the page, nothing saved),
never in ``Model.save``. Deals and tasks change their stage and status only through the
services (a history row, automation): here those fields are read-only, and the few
fields an administrator may correct are written by ``deal_update`` / ``task_update``.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import NON_FIELD_ERRORS
from django.db import transaction
from django.db.models import Count, QuerySet
from django.forms.formsets import DELETION_FIELD_NAME
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from autocrm.core.errors import DomainError
from autocrm.sales import services
from autocrm.sales.models import (
    ActionKind,
    AssigneeKind,
    AutomationRule,
    Deal,
    DealStageChange,
    LossReason,
    NotifyTarget,
    Pipeline,
    RequestSource,
    RuleAction,
    RuleExecution,
    SlaKind,
    SlaTarget,
    Stage,
    Task,
    TaskComment,
    TaskStatusChange,
    Trigger,
)

# Triggers that need a number of hours: without it the rule would fire at once on every
# open record.
HOURS_REQUIRED = frozenset({Trigger.NO_ACTIVITY, Trigger.DEAL_IDLE})
PLACEHOLDERS_HELP = _("May use {client}, {deal}, {stage} and {topic}.")


def _stages() -> QuerySet[Stage]:
    return Stage.objects.select_related("pipeline").order_by(
        "pipeline__order", "pipeline__name", "order", "pk"
    )


def stage_label(stage: Stage) -> str:
    # Every sale pipeline has its "New" and "Lost": a stage alone is ambiguous.
    return f"{stage.pipeline.name} — {stage.name}"


class StageChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return stage_label(obj)


class ReadOnlyInline(admin.TabularInline):
    """Rows the services write (history, comments): shown, not edited here."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# Pipelines and stages ---------------------------------------------------------------------


class StageInlineForm(forms.ModelForm):
    class Meta:
        model = Stage
        fields = [
            "order",
            "code",
            "name",
            "is_won",
            "is_lost",
            "requires_vehicle",
            "requires_budget",
            "sla_hours",
            "color",
            "allowed_next",
        ]
        # A pipeline has a handful of stages: ticking them is clearer than a multi-select.
        widgets = {"allowed_next": forms.CheckboxSelectMultiple}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("is_won") and cleaned.get("is_lost"):
            self.add_error("is_lost", _("A stage ends a deal as won or as lost, not both."))
        sla_hours = cleaned.get("sla_hours")
        if sla_hours is not None and sla_hours <= 0:
            self.add_error("sla_hours", _("Enter a positive number of hours."))
        return cleaned


class StageFormSet(BaseInlineFormSet):
    def add_fields(self, form: Any, index: Any) -> None:
        super().add_fields(form, index)
        field = form.fields.get("allowed_next")
        if field is not None:
            # Only stages of this pipeline; stages added on this page can be chosen after
            # they are saved.
            field.queryset = (
                Stage.objects.filter(pipeline=self.instance).order_by("order", "pk")
                if self.instance.pk
                else Stage.objects.none()
            )

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        kept = []
        deleted: set[int] = set()
        for form in self.forms:
            if not form.cleaned_data:
                continue
            if form.cleaned_data.get(DELETION_FIELD_NAME):
                if form.instance.pk:
                    deleted.add(form.instance.pk)
                continue
            kept.append(form)
        if not any(
            not form.cleaned_data.get("is_won") and not form.cleaned_data.get("is_lost")
            for form in kept
        ):
            raise forms.ValidationError(
                _("A pipeline needs at least one open stage (neither won nor lost).")
            )
        for form in kept:
            gone = [
                stage
                for stage in form.cleaned_data.get("allowed_next") or []
                if stage.pk in deleted
            ]
            if gone:
                form.add_error(
                    "allowed_next",
                    _("“%(stage)s” is being deleted; untick it first.") % {"stage": gone[0].name},
                )
        self._check_deleted_stages_unused(deleted)

    def _check_deleted_stages_unused(self, deleted: set[int]) -> None:
        # Rules and SLA targets point at stages with CASCADE: deleting a stage would take
        # them away without a word.
        if not deleted:
            return
        rule = (
            AutomationRule.objects.filter(stage_id__in=deleted).first()
            or AutomationRule.objects.filter(actions__target_stage_id__in=deleted).first()
        )
        if rule is not None:
            raise forms.ValidationError(
                _(
                    "A stage being deleted is used by the automation rule “%(rule)s”; change the rule first."
                )
                % {"rule": rule.name}
            )
        if SlaTarget.objects.filter(stage_id__in=deleted).exists():
            raise forms.ValidationError(
                _("A stage being deleted has SLA targets; delete them first.")
            )


class StageInline(admin.TabularInline):
    model = Stage
    form = StageInlineForm
    formset = StageFormSet
    extra = 0
    ordering = ["order", "pk"]

    def get_extra(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> int:
        return 3 if obj is None else 0


@admin.register(Pipeline)
class PipelineAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "kind", "order", "is_active", "stage_count"]
    list_editable = ["order", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "code"]
    fields = ["name", "code", "kind", "order", "is_active"]
    inlines = [StageInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Pipeline]:
        return super().get_queryset(request).annotate(stage_total=Count("stages"))

    @admin.display(description=_("stages"), ordering="stage_total")
    def stage_count(self, pipeline: Any) -> int:
        return int(getattr(pipeline, "stage_total", 0))


@admin.register(LossReason)
class LossReasonAdmin(admin.ModelAdmin):
    list_display = ["name", "pipeline", "order", "is_active"]
    list_editable = ["order", "is_active"]
    list_filter = ["is_active", "pipeline"]
    list_select_related = ["pipeline"]
    search_fields = ["name"]


# Automation rules -------------------------------------------------------------------------


class AutomationRuleForm(forms.ModelForm):
    stage = StageChoiceField(
        queryset=_stages(),
        required=False,
        label=_("stage"),
        help_text=_("Empty: any stage. The pipeline is taken from the stage when left empty."),
    )
    sources = forms.MultipleChoiceField(
        label=_("channels"),
        choices=RequestSource.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Empty: any channel."),
    )

    class Meta:
        model = AutomationRule
        fields = [
            "name",
            "is_active",
            "order",
            "trigger",
            "hours",
            "pipeline",
            "stage",
            "dealer_centers",
            "sources",
            "topic_contains",
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        trigger = cleaned.get("trigger")
        hours = cleaned.get("hours")
        if hours is not None and hours < 0:
            self.add_error("hours", _("The number of hours cannot be negative."))
        elif trigger in HOURS_REQUIRED and not hours:
            self.add_error("hours", _("Enter after how many hours the rule fires."))
        pipeline = cleaned.get("pipeline")
        stage = cleaned.get("stage")
        if stage is not None:
            if pipeline is None:
                cleaned["pipeline"] = pipeline = stage.pipeline
            elif stage.pipeline_id != pipeline.pk:
                self.add_error(
                    "stage",
                    _("The stage “%(stage)s” is not of the pipeline “%(pipeline)s”.")
                    % {"stage": stage_label(stage), "pipeline": pipeline.name},
                )
        if trigger == Trigger.REQUEST_CREATED and pipeline is not None:
            self.add_error(
                "pipeline",
                _("A new request is in no pipeline yet: leave the pipeline and the stage empty."),
            )
        return cleaned


class RuleActionForm(forms.ModelForm):
    target_stage = StageChoiceField(
        queryset=_stages(),
        required=False,
        label=_("target stage"),
        help_text=_("A stage of the rule's pipeline."),
    )

    class Meta:
        model = RuleAction
        fields = [
            "order",
            "kind",
            "assignee_kind",
            "user",
            "role",
            "department_kind",
            "strategy",
            "notify_target",
            "task_title",
            "task_description",
            "task_priority",
            "due_minutes",
            "due_in_working_time",
            "message",
            "target_stage",
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        kind = cleaned.get("kind")
        if kind == ActionKind.CREATE_TASK:
            if not (cleaned.get("task_title") or "").strip():
                self.add_error("task_title", _("Enter the task's title."))
            self._check_who(cleaned)
        elif kind == ActionKind.ASSIGN:
            if cleaned.get("assignee_kind") not in (
                AssigneeKind.USER,
                AssigneeKind.ROLE,
                AssigneeKind.DEPARTMENT,
            ):
                self.add_error(
                    "assignee_kind",
                    _("Choose whom to assign: an employee, a role or a department."),
                )
            else:
                self._check_who(cleaned)
        elif kind == ActionKind.NOTIFY:
            target = cleaned.get("notify_target")
            if not target:
                self.add_error("notify_target", _("Choose whom to notify."))
            elif target == NotifyTarget.USER and cleaned.get("user") is None:
                self.add_error("user", _("Choose the employee."))
            elif target == NotifyTarget.ROLE:
                if not cleaned.get("role"):
                    self.add_error("role", _("Choose the role."))
                # The engine finds "employees with a role" through the assignee kind.
                cleaned["assignee_kind"] = AssigneeKind.ROLE
        elif kind == ActionKind.MOVE_STAGE and cleaned.get("target_stage") is None:
            self.add_error("target_stage", _("Choose the stage to move the deal to."))
        return cleaned

    def _check_who(self, cleaned: dict[str, Any]) -> None:
        who = cleaned.get("assignee_kind")
        if who == AssigneeKind.ROLE and not cleaned.get("role"):
            self.add_error("role", _("Choose the role."))
        elif who == AssigneeKind.DEPARTMENT and not cleaned.get("department_kind"):
            self.add_error("department_kind", _("Choose the department."))
        elif who == AssigneeKind.USER and cleaned.get("user") is None:
            self.add_error("user", _("Choose the employee."))


class RuleActionFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        kept = [
            form
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get(DELETION_FIELD_NAME)
        ]
        if not kept:
            raise forms.ValidationError(_("Add at least one action."))
        # The admin validates the rule's own form first and hands its values over here.
        rule = self.instance
        for form in kept:
            target = form.cleaned_data.get("target_stage")
            if form.cleaned_data.get("kind") != ActionKind.MOVE_STAGE or target is None:
                continue
            if rule.pipeline_id is None:
                form.add_error(
                    "target_stage",
                    _("Choose the rule's pipeline: a deal moves only within its pipeline."),
                )
            elif target.pipeline_id != rule.pipeline_id:
                form.add_error("target_stage", _("The stage is not of the rule's pipeline."))


class RuleActionInline(admin.StackedInline):
    model = RuleAction
    form = RuleActionForm
    formset = RuleActionFormSet
    extra = 0
    autocomplete_fields = ["user"]
    fieldsets = [
        (None, {"fields": ["order", "kind"]}),
        (
            _("Who"),
            {
                "fields": [
                    "assignee_kind",
                    "user",
                    "role",
                    "department_kind",
                    "strategy",
                    "notify_target",
                ],
                "description": _(
                    "Create a task, Assign: the assignee; a role or a department of the "
                    "dealer center picks one employee by the strategy. Notify: whom to "
                    "notify (an employee, or employees with the role chosen here). "
                    "Escalate always notifies the head of the dealer center."
                ),
            },
        ),
        (
            _("Task template"),
            {
                "fields": [
                    "task_title",
                    "task_description",
                    "task_priority",
                    "due_minutes",
                    "due_in_working_time",
                ],
                "description": _("Create a task only."),
            },
        ),
        (
            _("Notification"),
            {"fields": ["message"], "description": _("Notify and Escalate: the text.")},
        ),
        (
            _("Move to a stage"),
            {"fields": ["target_stage"], "description": _("Move to a stage only.")},
        ),
    ]

    def get_extra(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> int:
        return 1 if obj is None else 0

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name in ("task_title", "task_description", "message") and field is not None:
            field.help_text = PLACEHOLDERS_HELP
        return field


@admin.register(AutomationRule)
class AutomationRuleAdmin(admin.ModelAdmin):
    form = AutomationRuleForm
    list_display = [
        "name",
        "trigger",
        "hours",
        "pipeline",
        "stage",
        "action_count",
        "is_active",
        "order",
    ]
    list_editable = ["is_active", "order"]
    list_filter = ["is_active", "trigger", "pipeline"]
    list_select_related = ["pipeline", "stage"]
    search_fields = ["name", "topic_contains"]
    filter_horizontal = ["dealer_centers"]
    fieldsets = [
        (None, {"fields": ["name", "is_active", "order"]}),
        (
            _("Trigger"),
            {
                "fields": ["trigger", "hours"],
                "description": _(
                    "Rules run in the background after the change that triggers them, "
                    "once per occurrence; each run is in the rule executions log."
                ),
            },
        ),
        (
            _("Conditions"),
            {
                "fields": ["pipeline", "stage", "dealer_centers", "sources", "topic_contains"],
                "description": _("An empty condition matches everything."),
            },
        ),
    ]
    inlines = [RuleActionInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[AutomationRule]:
        return super().get_queryset(request).annotate(action_total=Count("actions"))

    @admin.display(description=_("actions"), ordering="action_total")
    def action_count(self, rule: Any) -> int:
        return int(getattr(rule, "action_total", 0))


@admin.register(RuleExecution)
class RuleExecutionAdmin(admin.ModelAdmin):
    """The log of the rules' runs: written by the engine, read here."""

    list_display = ["rule", "record", "status", "at", "attempts"]
    list_filter = ["status", "rule"]
    list_select_related = ["rule"]
    search_fields = ["record", "rule__name", "error"]
    date_hierarchy = "at"
    fields = readonly_fields = (
        "rule",
        "event",
        "record",
        "status",
        "result",
        "error",
        "attempts",
        "at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SlaTargetForm(forms.ModelForm):
    stage = StageChoiceField(
        queryset=_stages(), required=False, label=_("stage"), help_text=_("For “Time in a stage”.")
    )

    class Meta:
        model = SlaTarget
        fields = ["dealer_center", "kind", "stage", "minutes"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        kind = cleaned.get("kind")
        stage = cleaned.get("stage")
        if kind == SlaKind.STAGE and stage is None:
            self.add_error("stage", _("Choose the stage."))
        elif kind == SlaKind.FIRST_RESPONSE and stage is not None:
            self.add_error("stage", _("The first response is not about a stage: leave it empty."))
        if kind and not self.errors:
            # The unique constraint does not see two group defaults (an empty dealer
            # center is NULL, and NULLs never clash).
            twins = SlaTarget.objects.filter(
                dealer_center=cleaned.get("dealer_center"), kind=kind, stage=stage
            ).exclude(pk=self.instance.pk)
            if twins.exists():
                raise forms.ValidationError(
                    _("This target is set already; change the existing one.")
                )
        return cleaned


@admin.register(SlaTarget)
class SlaTargetAdmin(admin.ModelAdmin):
    form = SlaTargetForm
    list_display = ["kind", "dealer_center", "stage_name", "minutes"]
    list_filter = ["kind", "dealer_center"]
    list_select_related = ["dealer_center", "stage__pipeline"]

    @admin.display(description=_("stage"), ordering="stage__order")
    def stage_name(self, target: SlaTarget) -> str:
        return stage_label(target.stage) if target.stage is not None else "—"


# Deals and tasks: read-mostly ----------------------------------------------------------------


class _TrialRun(Exception):
    """Rolls back a service call made only to see whether it would be refused."""


class ServiceWriteForm(forms.ModelForm):
    """An admin form whose changes a service writes.

    ``clean`` runs the service in a savepoint that is then rolled back, so a refusal shows
    on the form and nothing is saved; ``save_model`` runs it for real.
    """

    actor: Any = None

    def changes(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.changed_data}

    def write(self, *, actor: Any) -> Any:
        raise NotImplementedError

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors or self.instance.pk is None or not self.changed_data:
            return cleaned
        try:
            with transaction.atomic():
                self.write(actor=self.actor)
                raise _TrialRun
        except _TrialRun:
            pass
        except DomainError as error:
            field = error.field if error.field in self.fields else None
            if error.field == "vehicle_ids":
                field = "vehicles"
            elif error.field in ("responsible_id", "assignee_id"):
                field = error.field.removesuffix("_id")
            raise forms.ValidationError({field or NON_FIELD_ERRORS: error.message}) from None
        return cleaned


DEAL_ADMIN_EDITABLE = ("title", "topic", "budget", "payment_intent", "responsible", "vehicles")


class DealAdminForm(ServiceWriteForm):
    def changes(self) -> dict[str, Any]:
        changes = super().changes()
        if "vehicles" in changes:
            changes["vehicle_ids"] = [vehicle.pk for vehicle in changes.pop("vehicles")]
        return changes

    def write(self, *, actor: Any) -> Any:
        return services.deal_update(actor=actor, deal=self.instance, **self.changes())


class DealStageChangeInline(ReadOnlyInline):
    model = DealStageChange
    verbose_name = _("stage change")
    verbose_name_plural = _("stage history")
    fields = readonly_fields = (
        "at",
        "from_stage",
        "to_stage",
        "changed_by",
        "rule",
        "loss_reason",
        "reason",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[DealStageChange]:
        return (
            super()
            .get_queryset(request)
            .select_related("from_stage", "to_stage", "changed_by", "rule", "loss_reason")
        )


class DealTaskInline(ReadOnlyInline):
    model = Task
    fk_name = "deal"
    fields = readonly_fields = ("title", "assignee", "due_at", "status", "rule")
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[Task]:
        return super().get_queryset(request).select_related("assignee", "rule")


class ServiceWriteAdmin(admin.ModelAdmin):
    """Read-mostly: no adding or deleting here; the editable fields go through a service."""

    editable: tuple[str, ...] = ()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form: Any = super().get_form(request, obj, change=change, **kwargs)
        form.actor = request.user  # a class made for this request by modelform_factory
        return form

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        names = [field.name for field in self.model._meta.fields]
        names += [field.name for field in self.model._meta.many_to_many]
        return [name for name in names if name not in self.editable]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change and form.changed_data:
            form.write(actor=request.user)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # The service has written the many-to-many fields too; the inlines are read-only
        # (the admin's change message still reads what they saved: nothing).
        for formset in formsets:
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []


@admin.register(Deal)
class DealAdmin(ServiceWriteAdmin):
    form = DealAdminForm
    editable = DEAL_ADMIN_EDITABLE
    list_display = [
        "__str__",
        "pipeline",
        "stage",
        "state",
        "client",
        "dealer_center",
        "responsible",
        "source",
        "created_at",
    ]
    list_filter = ["pipeline", "state", "stage__code", "source", "payment_intent", "dealer_center"]
    list_select_related = ["pipeline", "stage", "client", "dealer_center", "responsible"]
    search_fields = ["=id", "title", "topic", "client__search_name"]
    date_hierarchy = "created_at"
    autocomplete_fields = ["responsible", "vehicles"]
    fields = [
        "pipeline",
        "stage",
        "state",
        "client",
        "request",
        "dealer_center",
        "responsible",
        "title",
        "topic",
        "vehicles",
        "budget",
        "payment_intent",
        "source",
        "channel",
        "stage_entered_at",
        "last_activity_at",
        "closed_at",
        "loss_reason",
        "loss_comment",
        "created_by",
        "version",
    ]
    inlines = [DealStageChangeInline, DealTaskInline]

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "vehicles":
            # The chosen cars are printed as "make model VIN".
            from autocrm.inventory.models import Vehicle

            kwargs["queryset"] = Vehicle.objects.select_related("make", "car_model")
        return super().formfield_for_manytomany(db_field, request, **kwargs)


TASK_ADMIN_EDITABLE = ("title", "description", "assignee", "due_at", "priority")


class TaskAdminForm(ServiceWriteForm):
    def write(self, *, actor: Any) -> Any:
        return services.task_update(actor=actor, task=self.instance, **self.changes())


class TaskCommentInline(ReadOnlyInline):
    model = TaskComment
    fields = readonly_fields = ("at", "author", "text")

    def get_queryset(self, request: HttpRequest) -> QuerySet[TaskComment]:
        return super().get_queryset(request).select_related("author")


class TaskStatusChangeInline(ReadOnlyInline):
    model = TaskStatusChange
    verbose_name = _("status change")
    verbose_name_plural = _("status history")
    fields = readonly_fields = ("at", "from_status", "to_status", "changed_by", "note")

    def get_queryset(self, request: HttpRequest) -> QuerySet[TaskStatusChange]:
        return super().get_queryset(request).select_related("changed_by")


@admin.register(Task)
class TaskAdmin(ServiceWriteAdmin):
    form = TaskAdminForm
    editable = TASK_ADMIN_EDITABLE
    list_display = [
        "title",
        "status",
        "priority",
        "assignee",
        "due_at",
        "dealer_center",
        "deal",
        "rule",
    ]
    list_filter = ["status", "priority", "dealer_center", "rule"]
    list_select_related = ["assignee", "dealer_center", "deal", "rule"]
    search_fields = ["=id", "title", "description"]
    date_hierarchy = "due_at"
    autocomplete_fields = ["assignee"]
    fields = [
        "title",
        "description",
        "assignee",
        "due_at",
        "priority",
        "status",
        "dealer_center",
        "client",
        "request",
        "deal",
        "result",
        "completed_at",
        "completed_by",
        "escalated_at",
        "rule",
        "created_by",
    ]
    inlines = [TaskCommentInline, TaskStatusChangeInline]
