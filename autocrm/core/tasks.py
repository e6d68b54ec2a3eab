"""Housekeeping jobs of the platform itself."""

from __future__ import annotations

from datetime import timedelta

from django.core import management
from django_tasks import task

from autocrm.core.scheduling import periodic, prune_scheduled_runs


@periodic(every=timedelta(hours=1))
@task()
def clear_expired_sessions() -> None:
    management.call_command("clearsessions")


@periodic(every=timedelta(hours=6))
@task()
def prune_old_runs() -> int:
    """Drop scheduler bookkeeping and finished task results older than a week."""
    management.call_command("prune_db_task_results", min_age_days=7, verbosity=0)
    return prune_scheduled_runs()
