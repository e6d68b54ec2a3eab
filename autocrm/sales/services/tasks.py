"""Writes of tasks: create, complete, cancel, reopen, change, comment."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from autocrm.accounts.roles import SUPERVISING_ROLES
from autocrm.clients.models import Client
from autocrm.communications.models import NotificationKind
from autocrm.communications.services import notification_create
from autocrm.core.audit import user_or_none
from autocrm.core.errors import NotAllowed, TransitionNotAllowed, ValidationFailed
from autocrm.sales.models import (
    TASK_TRANSITIONS,
    Deal,
    Request,
    Task,
    TaskComment,
    TaskPriority,
    TaskStatus,
    TaskStatusChange,
)


def task_url(task: Task) -> str:
    return reverse("sales:task_detail", args=[task.pk])


def task_create(
    *,
    actor: Any,
    title: str,
    assignee: Any = None,
    due_at: datetime | None = None,
    description: str = "",
    priority: int = TaskPriority.NORMAL,
    client: Client | None = None,
    request: Request | None = None,
    deal: Deal | None = None,
    subject: Any = None,
    dealer_center_id: int | None = None,
    rule: Any = None,
    source_key: str | None = None,
) -> Task:
    title = (title or "").strip()
    if not title:
        raise ValidationFailed(_("Enter the task's title."), field="title")
    if priority not in TaskPriority.values:
        raise ValidationFailed(_("Unknown priority."), field="priority")
    if assignee is not None and not assignee.is_active:
        raise ValidationFailed(_("The assignee is not active."), field="assignee_id")
    if deal is not None:
        client = client or deal.client
        request = request or deal.request
        dealer_center_id = dealer_center_id or deal.dealer_center_id
    if request is not None:
        client = client or request.client
        dealer_center_id = dealer_center_id or request.dealer_center_id
    if client is not None:
        dealer_center_id = dealer_center_id or client.dealer_center_id
    with transaction.atomic():
        task = Task.objects.create(
            title=title[:300],
            description=description,
            assignee=assignee,
            created_by=user_or_none(actor),
            due_at=due_at,
            priority=priority,
            client=client,
            request=request,
            deal=deal,
            subject=subject,
            dealer_center_id=dealer_center_id,
            rule=rule,
            source_key=source_key,
        )
        TaskStatusChange.objects.create(
            task=task, to_status=TaskStatus.OPEN, changed_by=user_or_none(actor)
        )
        if deal is not None:
            Deal.objects.filter(pk=deal.pk).update(last_activity_at=timezone.now())
        if assignee is not None and assignee != user_or_none(actor):
            notification_create(
                user=assignee,
                kind=NotificationKind.TASK_ASSIGNED,
                text=_("New task: %(title)s") % {"title": task.title},
                url=task_url(task),
            )
    return task


def _may_manage(actor: Any, task: Task) -> bool:
    """The assignee, the author, heads and administrators act on a task."""
    if actor is None:  # the system: automation, the scheduler
        return True
    if actor.is_superuser or actor.has_role(*SUPERVISING_ROLES):
        return True
    return actor.pk in (task.assignee_id, task.created_by_id) or task.assignee_id is None


def _set_status(*, actor: Any, task: Task, status: str, note: str = "", result: str = "") -> Task:
    with transaction.atomic():
        task = Task.objects.select_for_update().get(pk=task.pk)
        if not _may_manage(actor, task):
            raise NotAllowed(_("Only the assignee, the author or a head may do this."))
        if status not in TASK_TRANSITIONS.get(task.status, set()):
            raise TransitionNotAllowed(
                _("A task cannot go from “%(from)s” to “%(to)s”.")
                % {
                    "from": TaskStatus(task.status).label,
                    "to": TaskStatus(status).label,
                },
                field="status",
            )
        now = timezone.now()
        TaskStatusChange.objects.create(
            task=task,
            from_status=task.status,
            to_status=status,
            changed_by=user_or_none(actor),
            note=note or result,
            at=now,
        )
        task.status = status
        if status == TaskStatus.DONE:
            task.result = result
            task.completed_at = now
            task.completed_by = user_or_none(actor)
        elif status == TaskStatus.OPEN:
            task.completed_at = None
            task.completed_by = None
        task.save()
        if task.deal_id is not None:
            Deal.objects.filter(pk=task.deal_id).update(last_activity_at=now)
    return task


def task_complete(*, actor: Any, task: Task, result: str = "") -> Task:
    return _set_status(
        actor=actor, task=task, status=TaskStatus.DONE, result=(result or "").strip()
    )


def task_cancel(*, actor: Any, task: Task, note: str = "") -> Task:
    return _set_status(actor=actor, task=task, status=TaskStatus.CANCELLED, note=note)


def task_reopen(*, actor: Any, task: Task, note: str = "") -> Task:
    return _set_status(actor=actor, task=task, status=TaskStatus.OPEN, note=note)


TASK_EDITABLE = ("title", "description", "assignee", "due_at", "priority")


def task_update(*, actor: Any, task: Task, **changes: Any) -> Task:
    unknown = set(changes) - set(TASK_EDITABLE)
    if unknown:
        raise ValidationFailed(_("This field cannot be changed here."), field=sorted(unknown)[0])
    if "title" in changes and not (changes["title"] or "").strip():
        raise ValidationFailed(_("Enter the task's title."), field="title")
    if "priority" in changes and changes["priority"] not in TaskPriority.values:
        raise ValidationFailed(_("Unknown priority."), field="priority")
    with transaction.atomic():
        task = Task.objects.select_for_update().get(pk=task.pk)
        if not _may_manage(actor, task):
            raise NotAllowed(_("Only the assignee, the author or a head may do this."))
        reassigned = "assignee" in changes and changes["assignee"] != task.assignee
        for name, value in changes.items():
            setattr(task, name, value)
        if "due_at" in changes:
            task.escalated_at = None  # a new deadline is watched afresh
        task.save()
        if reassigned and task.assignee is not None and task.assignee != user_or_none(actor):
            notification_create(
                user=task.assignee,
                kind=NotificationKind.TASK_ASSIGNED,
                text=_("New task: %(title)s") % {"title": task.title},
                url=task_url(task),
            )
    return task


def task_comment_add(*, actor: Any, task: Task, text: str) -> TaskComment:
    text = (text or "").strip()
    if not text:
        raise ValidationFailed(_("Write the comment."), field="text")
    with transaction.atomic():
        comment = TaskComment.objects.create(
            task=task, author=user_or_none(actor), text=text[:5000]
        )
        if task.deal_id is not None:
            Deal.objects.filter(pk=task.deal_id).update(last_activity_at=comment.at)
    return comment
