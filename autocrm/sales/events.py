"""Trigger occurrences for automation: stored with the change, processed after commit."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from autocrm.sales.models import AutomationEvent, AutomationRule

logger = logging.getLogger(__name__)


def rules_exist(trigger: str) -> bool:
    return AutomationRule.objects.filter(trigger=trigger, is_active=True).exists()


def event_record(
    trigger: str,
    *,
    deal: Any = None,
    request: Any = None,
    task: Any = None,
    stage: Any = None,
    depth: int = 0,
    at: datetime | None = None,
) -> AutomationEvent | None:
    """Store one occurrence of ``trigger`` in the caller's transaction and queue its
    processing for after commit, so the rules see the record as saved.

    ``at`` is when it happened (a request's first message), which deadlines count from.
    Nothing is stored when no active rule listens to the trigger: most writes of a busy
    day (a plain chat message opening a request) then cost one indexed read.
    """
    if not rules_exist(trigger):
        return None
    event = AutomationEvent.objects.create(
        trigger=trigger,
        deal=deal,
        request=request,
        task=task,
        stage=stage,
        depth=depth,
        at=at or timezone.now(),
    )
    transaction.on_commit(lambda: enqueue_processing(event.pk))
    return event


def enqueue_processing(event_id: int) -> None:
    from autocrm.sales.tasks import process_automation_event

    try:
        process_automation_event.enqueue(event_id)
    except Exception:
        # The event is stored; the scheduler's sweep processes what was not queued.
        logger.exception("could not enqueue automation event %s", event_id)
