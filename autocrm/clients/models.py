"""Clients: people and companies the group works with.

This is the minimal core that stock reservations need; the omnichannel issue adds phones,
e-mails, messenger identities, consents, duplicates and merging.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from autocrm.core.audit import audit_history
from autocrm.core.models import TimeStampedModel


class ClientKind(models.TextChoices):
    PERSON = "person", _("Person")
    COMPANY = "company", _("Company")


class Client(TimeStampedModel):
    kind = models.CharField(
        _("kind"), max_length=10, choices=ClientKind.choices, default=ClientKind.PERSON
    )
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    middle_name = models.CharField(_("middle name"), max_length=150, blank=True)
    company_name = models.CharField(_("company name"), max_length=300, blank=True)
    dealer_center = models.ForeignKey(
        "accounts.DealerCenter",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="clients",
        verbose_name=_("dealer center"),
    )
    responsible = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="clients",
        verbose_name=_("responsible manager"),
    )

    history = audit_history()

    class Meta:
        ordering = ["last_name", "first_name", "company_name", "pk"]
        verbose_name = _("client")
        verbose_name_plural = _("clients")

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        if self.kind == ClientKind.COMPANY and self.company_name:
            return self.company_name
        full = " ".join(
            part for part in (self.last_name, self.first_name, self.middle_name) if part
        )
        return full or f"#{self.pk}"
