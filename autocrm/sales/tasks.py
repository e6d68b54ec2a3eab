from __future__ import annotations

from datetime import timedelta

from django_tasks import task

from autocrm.core.scheduling import periodic
from autocrm.sales.automation import automation_scan, event_process
from autocrm.sales.intake import inbox_drain


@periodic(every=timedelta(seconds=10))
@task()
def drain_inbox() -> dict[str, int]:
    """Fallback for deployments without ``process_inbox`` running, and for retries."""
    return inbox_drain(max_seconds=20)


@task()
def process_automation_event(event_id: int) -> dict[str, int]:
    """Run the automation rules of one trigger occurrence, after its transaction commits."""
    return event_process(event_id=event_id)


@periodic(every=timedelta(minutes=1))
@task()
def scan_automation() -> dict[str, int]:
    """Timed triggers (no activity, idle deals, overdue tasks) and the sweep of
    occurrences whose job was lost or whose rules failed."""
    return automation_scan()
