"""Tasks: a piece of work with an assignee and a deadline, linked to what it is about."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from autocrm.core.models import TimeStampedModel


class TaskStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("task status", "Open")
    DONE = "done", pgettext_lazy("task status", "Done")
    CANCELLED = "cancelled", pgettext_lazy("task status", "Cancelled")


TASK_TRANSITIONS: dict[str, set[str]] = {
    TaskStatus.OPEN: {TaskStatus.DONE, TaskStatus.CANCELLED},
    TaskStatus.DONE: {TaskStatus.OPEN},
    TaskStatus.CANCELLED: {TaskStatus.OPEN},
}


class TaskPriority(models.IntegerChoices):
    LOW = 0, _("Low")
    NORMAL = 1, _("Normal")
    HIGH = 2, _("High")
    URGENT = 3, _("Urgent")


class Task(TimeStampedModel):
    title = models.CharField(_("title"), max_length=300)
    description = models.TextField(_("description"), blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="tasks",
        verbose_name=_("assignee"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    due_at = models.DateTimeField(_("deadline"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=TaskStatus.choices, default=TaskStatus.OPEN
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=TaskPriority.choices, default=TaskPriority.NORMAL
    )
    dealer_center = models.ForeignKey(
        "accounts.DealerCenter",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="tasks",
        verbose_name=_("dealer center"),
    )
    client = models.ForeignKey(
        "clients.Client",
        models.CASCADE,
        null=True,
        blank=True,
        related_name="tasks",
        verbose_name=_("client"),
    )
    request = models.ForeignKey(
        "sales.Request",
        models.CASCADE,
        null=True,
        blank=True,
        related_name="tasks",
        verbose_name=_("request"),
    )
    deal = models.ForeignKey(
        "sales.Deal",
        models.CASCADE,
        null=True,
        blank=True,
        related_name="tasks",
        verbose_name=_("deal"),
    )
    # Orders, incidents and whatever later apps add: they sit above sales, so they are
    # linked generically rather than by a foreign key from here.
    subject_type = models.ForeignKey(
        ContentType, models.CASCADE, null=True, blank=True, related_name="+"
    )
    subject_id = models.PositiveBigIntegerField(null=True, blank=True)
    subject = GenericForeignKey("subject_type", "subject_id")

    result = models.TextField(_("result"), blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    escalated_at = models.DateTimeField(_("escalated"), null=True, blank=True)
    rule = models.ForeignKey(
        "sales.AutomationRule",
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="tasks",
        verbose_name=_("created by rule"),
    )
    # Set on tasks made by automation: one task per rule action and trigger occurrence,
    # however often the job that makes it is retried.
    source_key = models.CharField(max_length=120, null=True, blank=True, unique=True)

    class Meta:
        ordering = ["due_at", "pk"]
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        indexes = [
            models.Index(fields=["assignee", "status", "due_at"], name="task_assignee"),
            models.Index(fields=["due_at"], condition=Q(status="open"), name="task_open_due"),
            models.Index(fields=["deal", "status"], name="task_deal"),
            models.Index(fields=["client", "status"], name="task_client"),
            models.Index(fields=["dealer_center", "status", "due_at"], name="task_dealer_center"),
            models.Index(fields=["subject_type", "subject_id"], name="task_subject"),
        ]

    def __str__(self) -> str:
        return self.title

    def is_overdue(self, now: datetime | None = None) -> bool:
        moment = now or timezone.now()
        return self.status == TaskStatus.OPEN and self.due_at is not None and self.due_at < moment


class TaskComment(models.Model):
    task = models.ForeignKey(Task, models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    text = models.TextField(_("comment"))
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return self.text[:50]


class TaskStatusChange(models.Model):
    task = models.ForeignKey(Task, models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=10, blank=True)
    to_status = models.CharField(max_length=10)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.from_status or '-'} → {self.to_status}"
