"""The single funnel's entry: requests (обращения) from every channel and visit.

Pipelines, stages, deals, tasks and automation (the sales-funnel issue) build on these.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from autocrm.core.models import TimeStampedModel


class RequestSource(models.TextChoices):
    TELEGRAM = "telegram", "Telegram"
    WHATSAPP = "whatsapp", "WhatsApp"
    VK = "vk", _("VK")
    EMAIL = "email", _("E-mail")
    WEBFORM = "webform", _("Website form")
    PHONE = "telephony", _("Phone call")
    VISIT = "visit", _("Showroom visit")
    MANUAL = "manual", _("Entered by an employee")


class RequestStatus(models.TextChoices):
    NEW = "new", pgettext_lazy("request status", "New")
    IN_PROGRESS = "in_progress", pgettext_lazy("request status", "In progress")
    CLOSED = "closed", pgettext_lazy("request status", "Closed")


# Which status moves are allowed (ARCHITECTURE rule 3).
REQUEST_TRANSITIONS: dict[str, set[str]] = {
    RequestStatus.NEW: {RequestStatus.IN_PROGRESS, RequestStatus.CLOSED},
    RequestStatus.IN_PROGRESS: {RequestStatus.CLOSED},
    RequestStatus.CLOSED: {RequestStatus.IN_PROGRESS},
}


class Request(TimeStampedModel):
    """One client's appeal to the group, opened by his first message, call, form or visit
    and continued by the next ones while it is open."""

    client = models.ForeignKey("clients.Client", models.PROTECT, related_name="requests")
    source = models.CharField(_("source"), max_length=16, choices=RequestSource.choices)
    channel = models.ForeignKey(
        "communications.Channel",
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="requests",
        verbose_name=_("channel"),
    )
    topic = models.CharField(_("topic"), max_length=200, blank=True)
    dealer_center = models.ForeignKey(
        "accounts.DealerCenter",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="requests",
        verbose_name=_("dealer center"),
    )
    status = models.CharField(
        _("status"), max_length=12, choices=RequestStatus.choices, default=RequestStatus.NEW
    )
    responsible = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="requests",
        verbose_name=_("responsible"),
    )
    vehicle = models.ForeignKey(
        "inventory.Vehicle",
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("vehicle of interest"),
    )
    utm = models.JSONField(default=dict, blank=True)
    opened_at = models.DateTimeField(_("opened"), default=timezone.now)
    last_activity_at = models.DateTimeField(_("last activity"), default=timezone.now)
    touches = models.PositiveIntegerField(_("contacts"), default=1)

    class Meta:
        ordering = ["-last_activity_at", "-pk"]
        indexes = [
            models.Index(fields=["client", "-opened_at", "-id"], name="request_timeline"),
            models.Index(
                fields=["client", "-last_activity_at"],
                condition=~Q(status="closed"),
                name="request_open_by_client",
            ),
            models.Index(
                fields=["dealer_center", "status", "-last_activity_at"], name="request_list"
            ),
        ]
        verbose_name = _("request")
        verbose_name_plural = _("requests")

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_source_display()} {self.topic}".strip()


class RequestStatusChange(models.Model):
    request = models.ForeignKey(Request, models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.from_status or '-'} → {self.to_status}"
