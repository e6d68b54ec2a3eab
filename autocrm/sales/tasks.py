from __future__ import annotations

from datetime import timedelta

from django_tasks import task

from autocrm.core.scheduling import periodic
from autocrm.sales.intake import inbox_drain


@periodic(every=timedelta(seconds=10))
@task()
def drain_inbox() -> dict[str, int]:
    """Fallback for deployments without ``process_inbox`` running, and for retries."""
    return inbox_drain(max_seconds=20)
