"""The e-mail channels' periodic poll (imported by ``communications.tasks`` so the
scheduler's autodiscovery registers it)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django_tasks import task

from autocrm.communications.mail_polling import email_channels_poll_all
from autocrm.core.scheduling import periodic


@periodic(every=timedelta(seconds=30))
@task()
def poll_email_channels() -> dict[str, Any]:
    """Store new letters from every active e-mail channel's mailbox in the inbox."""
    return email_channels_poll_all()
