"""Periodic jobs: a registry and the function the ``scheduler`` command calls each tick.

Apps register their jobs in their ``tasks.py``::

    @periodic(every=timedelta(minutes=5))
    @task()
    def release_expired_reservations() -> None: ...

Time is cut into slots of ``every`` counted from the Unix epoch in UTC; a job is due once
per slot. Claiming a slot is an INSERT guarded by a unique constraint, so any number of
scheduler copies enqueue each occurrence exactly once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

from autocrm.core.models import ScheduledRun

logger = logging.getLogger(__name__)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every: timedelta
    task: Any  # a django-tasks Task

    def slot_for(self, now: datetime) -> datetime:
        elapsed = now - _EPOCH
        slots = elapsed // self.every
        return _EPOCH + slots * self.every


_registry: dict[str, PeriodicJob] = {}


def periodic(*, every: timedelta, name: str | None = None) -> Any:
    if every < timedelta(seconds=10):
        raise ValueError("Periodic jobs run at most every 10 seconds.")

    def register(task_object: Any) -> Any:
        job_name = name or task_object.module_path
        _registry[job_name] = PeriodicJob(name=job_name, every=every, task=task_object)
        return task_object

    return register


def registered_jobs() -> dict[str, PeriodicJob]:
    autodiscover_modules("tasks")
    return dict(_registry)


def enqueue_due_jobs(now: datetime | None = None) -> list[str]:
    """Enqueue every job whose current slot has not been claimed yet; return their names."""
    now = now or timezone.now()
    enqueued: list[str] = []
    for job in registered_jobs().values():
        slot = job.slot_for(now)
        try:
            with transaction.atomic():
                run = ScheduledRun.objects.create(job=job.name, slot=slot)
                result = job.task.enqueue()
                run.task_result_id = str(result.id)
                run.save(update_fields=["task_result_id"])
        except IntegrityError:
            continue  # another scheduler copy claimed this slot first
        logger.info("enqueued periodic job %s for slot %s", job.name, slot.isoformat())
        enqueued.append(job.name)
    return enqueued


def prune_scheduled_runs(older_than: timedelta = timedelta(days=7)) -> int:
    deleted, _ = ScheduledRun.objects.filter(slot__lt=timezone.now() - older_than).delete()
    return deleted
