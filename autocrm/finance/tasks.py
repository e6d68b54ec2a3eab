"""Background jobs of the credit module: deliveries to the E-Credit broker and the
application of its callbacks, each with a sweep for what a lost task left behind."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone
from django_tasks import task

from autocrm.core.scheduling import periodic
from autocrm.finance import credit_services
from autocrm.finance.models import CreditApplication, CreditOffer
from autocrm.finance.models.credit import BrokerState, CreditStatus

logger = logging.getLogger(__name__)


@task()
def send_broker_submission(submission_id: int) -> str:
    return credit_services.broker_submission_send(submission_id=submission_id).status


@task()
def process_broker_callback(callback_id: int) -> str:
    callback = credit_services.broker_callback_process(callback_id=callback_id)
    return callback.error or "applied"


@periodic(every=timedelta(seconds=30))
@task()
def retry_broker_submissions() -> int:
    """Submissions whose earlier attempt failed and whose pause is over (or whose task
    was lost)."""
    ids = credit_services.submissions_due()
    for submission_id in ids:
        credit_services.broker_submission_send(submission_id=submission_id)
    return len(ids)


@periodic(every=timedelta(minutes=1))
@task()
def sweep_broker_callbacks() -> int:
    ids = credit_services.callbacks_due()
    for callback_id in ids:
        credit_services.broker_callback_process(callback_id=callback_id)
    return len(ids)


@periodic(every=timedelta(minutes=15))
@task()
def poll_broker_decisions() -> int:
    """Applications at the banks for over 30 minutes without any decision: ask the broker,
    in case its callbacks cannot reach us."""
    quiet_since = timezone.now() - timedelta(minutes=30)
    answered = CreditOffer.objects.values("application_id")
    ids = list(
        CreditApplication.objects.filter(
            status=CreditStatus.OPEN,
            broker_state=BrokerState.SENT,
            submitted_at__lte=quiet_since,
            submitted_at__gte=timezone.now() - timedelta(days=14),
        )
        .exclude(pk__in=answered)
        .values_list("pk", flat=True)[:100]
    )
    new = 0
    for application_id in ids:
        try:
            new += credit_services.decisions_poll(application_id=application_id)
        except Exception:  # one broker outage must not stop the others' polls
            logger.exception("polling the decisions of application %s failed", application_id)
    return new
