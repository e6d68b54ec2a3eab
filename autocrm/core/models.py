from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True


class ScheduledRun(models.Model):
    """One enqueued occurrence of a periodic job.

    The unique constraint on (job, slot) is what makes the scheduler safe to run on two
    machines at once: both compute the same slot, only one insert wins, the other skips.
    """

    job = models.CharField(_("job"), max_length=200)
    slot = models.DateTimeField(_("time slot"))
    enqueued_at = models.DateTimeField(_("enqueued at"), auto_now_add=True)
    task_result_id = models.CharField(_("task result id"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("scheduled run")
        verbose_name_plural = _("scheduled runs")
        constraints = [
            models.UniqueConstraint(
                fields=["job", "slot"], name="core_scheduledrun_job_slot_unique"
            )
        ]
        indexes = [models.Index(fields=["job", "-slot"], name="core_schedrun_job_slot_idx")]

    def __str__(self) -> str:
        return f"{self.job} @ {self.slot:%Y-%m-%d %H:%M}"
