"""Order documents: generated PDFs and uploaded scans, stored outside the web root."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from autocrm.core.models import TimeStampedModel
from autocrm.core.storage import private_storage
from autocrm.orders.models.invoices import Invoice
from autocrm.orders.models.orders import Order


class DocumentKind(models.TextChoices):
    INVOICE = "invoice", _("Invoice")
    CONTRACT = "contract", _("Sales contract")
    ACCEPTANCE_ACT = "acceptance_act", _("Acceptance act")
    SCAN = "scan", _("Uploaded scan")


class Document(TimeStampedModel):
    order = models.ForeignKey(
        Order, models.CASCADE, related_name="documents", verbose_name=_("sales order")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=DocumentKind.choices)
    title = models.CharField(_("title"), max_length=200)
    file = models.FileField(_("file"), storage=private_storage, upload_to="orders/%Y/%m/")
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size, bytes"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    original_name = models.CharField(_("file name"), max_length=255, blank=True)
    invoice = models.ForeignKey(
        Invoice,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="documents",
        verbose_name=_("invoice"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("document")
        verbose_name_plural = _("documents")

    def __str__(self) -> str:
        return self.title
