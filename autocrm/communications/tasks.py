from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone
from django_tasks import task

from autocrm.communications import tasks_email  # noqa: F401 - registers the IMAP poll
from autocrm.communications.channels.base import SendError
from autocrm.communications.services import (
    attachment_fetch,
    message_deliver,
    outbox_due,
    retry_delay,
)
from autocrm.core.scheduling import periodic

logger = logging.getLogger(__name__)

FETCH_MAX_ATTEMPTS = 6


@task()
def deliver_message(message_id: int) -> str:
    return message_deliver(message_id=message_id).status


@task()
def fetch_attachment(attachment_id: int, attempt: int = 1) -> str:
    """Download a client's media from the provider. A retryable failure is tried again
    later (a new task with a growing pause) and fails this one; a final refusal is logged
    and is this task's result."""
    try:
        attachment = attachment_fetch(attachment_id=attachment_id)
    except SendError as error:
        if not error.retryable:
            logger.warning("attachment %s is not downloaded: %s", attachment_id, error.reason)
            return f"refused: {error.reason}"
        if attempt < FETCH_MAX_ATTEMPTS:
            fetch_attachment.using(run_after=timezone.now() + retry_delay(attempt)).enqueue(
                attachment_id, attempt + 1
            )
        raise
    return "stored" if attachment.file else "nothing to download"


@periodic(every=timedelta(seconds=30))
@task()
def retry_outbox() -> int:
    """Messages whose earlier delivery attempt failed and whose pause is over."""
    ids = outbox_due(limit=500)
    for message_id in ids:
        message_deliver(message_id=message_id)
    return len(ids)
