"""Automation rules configured by administrators, the trigger occurrences they react to,
the log of their executions, and SLA targets.

A trigger occurrence (``AutomationEvent``) is stored in the same transaction as the change
that caused it (store first), and processed by a background job after commit (process
after). Each rule runs at most once per occurrence: ``RuleExecution`` is unique per
(rule, event), and the rule's effects are written in the transaction that writes it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from autocrm.accounts.models import DepartmentKind
from autocrm.accounts.roles import RoleCode
from autocrm.sales.models.tasks import TaskPriority


class Trigger(models.TextChoices):
    REQUEST_CREATED = "request_created", _("Request created")
    DEAL_CREATED = "deal_created", _("Deal created")
    STAGE_ENTERED = "stage_entered", _("Stage entered")
    NO_ACTIVITY = "no_activity", _("No activity for N working hours")
    TASK_OVERDUE = "task_overdue", _("Task overdue")
    DEAL_IDLE = "deal_idle", _("Deal idle in a stage longer than N hours")


# Triggers found by the scheduler's scan rather than fired by a write.
TIMED_TRIGGERS = frozenset({Trigger.NO_ACTIVITY, Trigger.TASK_OVERDUE, Trigger.DEAL_IDLE})


class AutomationRule(models.Model):
    name = models.CharField(_("name"), max_length=200)
    is_active = models.BooleanField(_("active"), default=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    trigger = models.CharField(_("trigger"), max_length=20, choices=Trigger.choices)
    hours = models.DecimalField(
        _("hours"),
        max_digits=7,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_(
            "For “no activity” (working hours) and “idle in a stage” (hours); "
            "for “task overdue”, how long past the deadline (0 = at once)."
        ),
    )
    # Conditions: an empty one matches everything.
    pipeline = models.ForeignKey(
        "sales.Pipeline",
        models.CASCADE,
        null=True,
        blank=True,
        related_name="rules",
        verbose_name=_("pipeline"),
    )
    stage = models.ForeignKey(
        "sales.Stage",
        models.CASCADE,
        null=True,
        blank=True,
        related_name="rules",
        verbose_name=_("stage"),
    )
    dealer_centers = models.ManyToManyField(
        "accounts.DealerCenter",
        blank=True,
        related_name="+",
        verbose_name=_("dealer centers"),
        help_text=_("Empty: every dealer center."),
    )
    sources = models.JSONField(
        _("channels"),
        default=list,
        blank=True,
        help_text=_('Request sources, e.g. ["webform", "telegram"]; empty: any.'),
    )
    topic_contains = models.CharField(
        _("topic contains"), max_length=200, blank=True, help_text=_("Case-insensitive.")
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order", "pk"]
        verbose_name = _("automation rule")
        verbose_name_plural = _("automation rules")
        indexes = [models.Index(fields=["trigger", "is_active"], name="rule_trigger")]

    def __str__(self) -> str:
        return self.name


class ActionKind(models.TextChoices):
    CREATE_TASK = "create_task", _("Create a task")
    ASSIGN = "assign", _("Assign the responsible")
    NOTIFY = "notify", _("Notify")
    ESCALATE = "escalate", _("Escalate to the head of the dealer center")
    MOVE_STAGE = "move_stage", _("Move to a stage")


class AssigneeKind(models.TextChoices):
    RESPONSIBLE = "responsible", _("The responsible manager")
    USER = "user", _("A chosen employee")
    ROLE = "role", _("An employee with a role in the dealer center")
    DEPARTMENT = "department", _("An employee of a department of the dealer center")


class AssignmentStrategy(models.TextChoices):
    ROUND_ROBIN = "round_robin", _("Round-robin")
    LEAST_LOADED = "least_loaded", _("Least loaded")


class NotifyTarget(models.TextChoices):
    RESPONSIBLE = "responsible", _("The responsible manager")
    ASSIGNEE = "assignee", _("The task's assignee")
    USER = "user", _("A chosen employee")
    ROLE = "role", _("Employees with a role in the dealer center")
    HEAD = "head", _("The head of the dealer center")


class RuleAction(models.Model):
    rule = models.ForeignKey(AutomationRule, models.CASCADE, related_name="actions")
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    kind = models.CharField(_("action"), max_length=16, choices=ActionKind.choices)

    # Who: the task's assignee, the new responsible, or whom to notify.
    assignee_kind = models.CharField(
        _("assignee"),
        max_length=16,
        choices=AssigneeKind.choices,
        default=AssigneeKind.RESPONSIBLE,
        blank=True,
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("employee"),
    )
    role = models.CharField(_("role"), max_length=32, choices=RoleCode.choices, blank=True)
    department_kind = models.CharField(
        _("department"), max_length=20, choices=DepartmentKind.choices, blank=True
    )
    strategy = models.CharField(
        _("strategy"),
        max_length=16,
        choices=AssignmentStrategy.choices,
        default=AssignmentStrategy.LEAST_LOADED,
        blank=True,
    )
    notify_target = models.CharField(
        _("notify"), max_length=16, choices=NotifyTarget.choices, blank=True
    )

    # The task template. Title and text may use {client}, {deal}, {stage}, {topic}.
    task_title = models.CharField(_("task title"), max_length=300, blank=True)
    task_description = models.TextField(_("task description"), blank=True)
    task_priority = models.PositiveSmallIntegerField(
        _("task priority"), choices=TaskPriority.choices, default=TaskPriority.NORMAL
    )
    due_minutes = models.PositiveIntegerField(
        _("deadline, minutes"), null=True, blank=True, help_text=_("From the trigger.")
    )
    due_in_working_time = models.BooleanField(
        _("count working hours only"),
        default=True,
        help_text=_("Count the deadline in the dealer center's working hours and time zone."),
    )
    message = models.CharField(_("notification text"), max_length=500, blank=True)
    target_stage = models.ForeignKey(
        "sales.Stage",
        models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("target stage"),
    )

    class Meta:
        ordering = ["rule", "order", "pk"]
        verbose_name = _("action")
        verbose_name_plural = _("actions")

    def __str__(self) -> str:
        return str(self.get_kind_display())


class AutomationEvent(models.Model):
    """One occurrence of a trigger, stored with the change that caused it."""

    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    # A timed occurrence is found per rule (each has its own N hours) and is meant for it.
    rule = models.ForeignKey(
        AutomationRule, models.CASCADE, null=True, blank=True, related_name="+"
    )
    # What makes a timed occurrence unique, e.g. "idle:<rule>:<deal>:<entered at>".
    key = models.CharField(max_length=160, null=True, blank=True, unique=True)
    request = models.ForeignKey(
        "sales.Request", models.CASCADE, null=True, blank=True, related_name="+"
    )
    deal = models.ForeignKey("sales.Deal", models.CASCADE, null=True, blank=True, related_name="+")
    task = models.ForeignKey("sales.Task", models.CASCADE, null=True, blank=True, related_name="+")
    stage = models.ForeignKey(
        "sales.Stage", models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # How many rule-made moves led here; stops a rule loop between two stages.
    depth = models.PositiveSmallIntegerField(default=0)
    at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["at", "pk"]
        indexes = [
            models.Index(
                fields=["at"], condition=Q(processed_at__isnull=True), name="automation_pending"
            )
        ]

    def __str__(self) -> str:
        return f"{self.trigger} #{self.pk}"


class ExecutionStatus(models.TextChoices):
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class RuleExecution(models.Model):
    """The log: which rule ran for which occurrence, on which record, with what result."""

    rule = models.ForeignKey(AutomationRule, models.CASCADE, related_name="executions")
    event = models.ForeignKey(AutomationEvent, models.CASCADE, related_name="executions")
    record = models.CharField(_("record"), max_length=60)
    status = models.CharField(_("status"), max_length=8, choices=ExecutionStatus.choices)
    result = models.JSONField(_("result"), default=list, blank=True)
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveSmallIntegerField(default=1)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = _("rule execution")
        verbose_name_plural = _("rule executions")
        constraints = [
            models.UniqueConstraint(fields=["rule", "event"], name="sales_rule_once_per_event")
        ]

    def __str__(self) -> str:
        return f"{self.rule_id} / {self.record}: {self.status}"


class AssignmentCursor(models.Model):
    """Where round-robin assignment stopped, per rule action (locked while choosing)."""

    action = models.OneToOneField(RuleAction, models.CASCADE, related_name="cursor")
    last_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.action_id}: {self.last_user_id}"


class SlaKind(models.TextChoices):
    FIRST_RESPONSE = "first_response", _("First response")
    STAGE = "stage", _("Time in a stage")


class SlaTarget(models.Model):
    """A dealer center's (or the group's, when empty) limit in working minutes."""

    dealer_center = models.ForeignKey(
        "accounts.DealerCenter",
        models.CASCADE,
        null=True,
        blank=True,
        related_name="sla_targets",
        verbose_name=_("dealer center"),
        help_text=_("Empty: the group's default."),
    )
    kind = models.CharField(_("kind"), max_length=16, choices=SlaKind.choices)
    stage = models.ForeignKey(
        "sales.Stage",
        models.CASCADE,
        null=True,
        blank=True,
        related_name="sla_targets",
        verbose_name=_("stage"),
    )
    minutes = models.PositiveIntegerField(_("limit, working minutes"))

    class Meta:
        verbose_name = _("SLA target")
        verbose_name_plural = _("SLA targets")
        constraints = [
            models.UniqueConstraint(
                fields=["dealer_center", "kind", "stage"],
                name="sales_sla_target_unique",
            ),
            models.CheckConstraint(
                condition=Q(kind="first_response", stage__isnull=True)
                | Q(kind="stage", stage__isnull=False),
                name="sales_sla_target_stage_for_stage_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.minutes}"
