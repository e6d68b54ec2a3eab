"""Clients: people and companies the group works with, with every way to reach them.

A client is found before one is created (phone, e-mail or messenger identity), so the
same person writing from Telegram, WhatsApp and by phone ends up on one card. Duplicates
that slip through are merged (``services.client_merge``); the merged row stays, pointing
at the survivor, so old links still resolve and the merge is on record.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

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
    # Tax number of a company (ИНН), optional for people.
    inn = models.CharField(_("INN"), max_length=12, blank=True)
    # Case-folded name parts for search and duplicate detection: SQLite's LIKE folds only
    # Latin letters, and names here are mostly Cyrillic.
    search_name = models.CharField(max_length=700, blank=True, db_index=True, editable=False)
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
    note = models.TextField(_("note"), blank=True)
    # Set when this client was merged into another; such rows are hidden from lists.
    merged_into = models.ForeignKey(
        "self",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="merged_clients",
        verbose_name=_("merged into"),
    )

    history = audit_history(excluded_fields=["search_name"])

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
        return full or self.company_name or f"#{self.pk}"


class PhoneKind(models.TextChoices):
    MOBILE = "mobile", pgettext_lazy("phone kind", "Mobile")
    WORK = "work", pgettext_lazy("phone kind", "Work")
    HOME = "home", pgettext_lazy("phone kind", "Home")
    OTHER = "other", pgettext_lazy("phone kind", "Other")


class ClientPhone(models.Model):
    client = models.ForeignKey(Client, models.CASCADE, related_name="phones")
    # E.164, e.g. +79123456789 (services.normalize_phone).
    number = models.CharField(_("phone"), max_length=20, db_index=True)
    kind = models.CharField(
        _("kind"), max_length=10, choices=PhoneKind.choices, default=PhoneKind.MOBILE
    )
    is_primary = models.BooleanField(_("primary"), default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-is_primary", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["client", "number"], name="client_phone_unique")
        ]
        verbose_name = _("phone")
        verbose_name_plural = _("phones")

    def __str__(self) -> str:
        return self.number


class ClientEmail(models.Model):
    client = models.ForeignKey(Client, models.CASCADE, related_name="emails")
    # Stored lower-case: addresses are compared case-insensitively.
    address = models.EmailField(_("e-mail"), max_length=254, db_index=True)
    is_primary = models.BooleanField(_("primary"), default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-is_primary", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["client", "address"], name="client_email_unique")
        ]
        verbose_name = _("e-mail")
        verbose_name_plural = _("e-mails")

    def __str__(self) -> str:
        return self.address


class IdentityKind(models.TextChoices):
    TELEGRAM = "telegram", "Telegram"
    WHATSAPP = "whatsapp", "WhatsApp"
    VK = "vk", _("VK")


class ClientIdentity(models.Model):
    """A messenger account of the client: who wrote to us, as the messenger names him."""

    client = models.ForeignKey(Client, models.CASCADE, related_name="identities")
    kind = models.CharField(_("messenger"), max_length=10, choices=IdentityKind.choices)
    # Telegram user id, WhatsApp id (the phone's digits), VK user id.
    external_id = models.CharField(_("id"), max_length=64)
    # Telegram @username, lower-case without the @.
    username = models.CharField(_("username"), max_length=64, blank=True, db_index=True)
    display_name = models.CharField(_("name"), max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["kind", "pk"]
        constraints = [
            # One messenger account is one client; concurrent first messages race on this.
            models.UniqueConstraint(fields=["kind", "external_id"], name="client_identity_unique")
        ]
        verbose_name = _("messenger identity")
        verbose_name_plural = _("messenger identities")

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.username or self.external_id}"


class ConsentPurpose(models.TextChoices):
    PERSONAL_DATA = "personal_data", _("Personal data processing")
    MARKETING = "marketing", _("Marketing communications")


class Consent(models.Model):
    """One statement of consent or its withdrawal (152-FZ); the latest per purpose holds."""

    client = models.ForeignKey(Client, models.CASCADE, related_name="consents")
    purpose = models.CharField(_("purpose"), max_length=20, choices=ConsentPurpose.choices)
    granted = models.BooleanField(_("granted"))
    at = models.DateTimeField(_("date"), default=timezone.now)
    # Where it was given: "webform:12", "telegram", "visit", "manual", "import" ...
    source = models.CharField(_("source"), max_length=100)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["client", "purpose", "-at"], name="consent_latest")]
        verbose_name = _("consent")
        verbose_name_plural = _("consents")

    def __str__(self) -> str:
        return f"{self.get_purpose_display()}: {self.granted}"


class ClientMerge(models.Model):
    """Record of a merge: who folded which client into which, and what moved."""

    survivor = models.ForeignKey(Client, models.PROTECT, related_name="merges_received")
    merged = models.ForeignKey(Client, models.PROTECT, related_name="merges_given")
    # The merged client's fields and contacts as they were, for the record.
    merged_snapshot = models.JSONField(default=dict)
    # {"communications.message": 12, ...}: rows moved per model.
    moved = models.JSONField(default=dict)
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # "manual" or the rule that merged automatically, e.g. "phone".
    reason = models.CharField(max_length=100, default="manual")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = _("client merge")
        verbose_name_plural = _("client merges")

    def __str__(self) -> str:
        return f"{self.merged_id} → {self.survivor_id}"
