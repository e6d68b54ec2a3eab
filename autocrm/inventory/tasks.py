from __future__ import annotations

from datetime import timedelta

from django_tasks import task

from autocrm.core.scheduling import periodic
from autocrm.inventory.services import reservations_release_expired


@periodic(every=timedelta(minutes=5))
@task()
def release_expired_reservations() -> int:
    return reservations_release_expired()
