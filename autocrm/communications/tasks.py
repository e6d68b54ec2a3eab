from __future__ import annotations

from datetime import timedelta

from django_tasks import task

from autocrm.communications import tasks_email  # noqa: F401 - registers the IMAP poll
from autocrm.communications.services import message_deliver, outbox_due
from autocrm.core.scheduling import periodic


@task()
def deliver_message(message_id: int) -> str:
    return message_deliver(message_id=message_id).status


@periodic(every=timedelta(seconds=30))
@task()
def retry_outbox() -> int:
    """Messages whose earlier delivery attempt failed and whose pause is over."""
    ids = outbox_due(limit=500)
    for message_id in ids:
        message_deliver(message_id=message_id)
    return len(ids)
