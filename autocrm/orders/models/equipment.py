"""Additional equipment (ДО): packages configured by service staff and installed on cars."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from autocrm.accounts.models import Brand, DealerCenter, Site
from autocrm.core.models import TimeStampedModel
from autocrm.core.money import MoneyField
from autocrm.inventory.models import CarModel, Trim
from autocrm.orders.models.orders import Order


class EquipmentPackage(TimeStampedModel):
    """A package of additional equipment. Empty site/make/model/trim mean "any": the package
    fits a car when every one that is set matches it."""

    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    dealer_center = models.ForeignKey(
        DealerCenter,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="equipment_packages",
        verbose_name=_("dealer center"),
    )
    site = models.ForeignKey(
        Site, models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("site")
    )
    make = models.ForeignKey(
        Brand, models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("make")
    )
    car_model = models.ForeignKey(
        CarModel,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("model"),
    )
    trim = models.ForeignKey(
        Trim, models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("trim")
    )
    price = MoneyField(_("sale price"))
    cost = MoneyField(_("cost"), default=Decimal("0"))
    installation_minutes = models.PositiveIntegerField(_("installation time, minutes"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("equipment package")
        verbose_name_plural = _("equipment packages")
        constraints = [
            models.CheckConstraint(
                condition=Q(price__gte=0) & Q(cost__gte=0),
                name="orders_package_money_not_negative",
            )
        ]

    def __str__(self) -> str:
        return self.name


class EquipmentItem(models.Model):
    package = models.ForeignKey(
        EquipmentPackage, models.CASCADE, related_name="items", verbose_name=_("package")
    )
    name = models.CharField(_("name"), max_length=200)
    part_number = models.CharField(_("part number"), max_length=60, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    position = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = _("package item")
        verbose_name_plural = _("package items")

    def __str__(self) -> str:
        return self.name


class InstallationStatus(models.TextChoices):
    PENDING = "pending", _("To be installed")
    SCHEDULED = "scheduled", _("Scheduled")
    INSTALLED = "installed", _("Installed")


INSTALLATION_TRANSITIONS: dict[str, frozenset[str]] = {
    InstallationStatus.PENDING: frozenset(
        {InstallationStatus.SCHEDULED, InstallationStatus.INSTALLED}
    ),
    InstallationStatus.SCHEDULED: frozenset(
        {InstallationStatus.PENDING, InstallationStatus.INSTALLED}
    ),
    InstallationStatus.INSTALLED: frozenset(),
}


class OrderEquipment(TimeStampedModel):
    """A package on an order, with its price and cost as they were when it was added."""

    order = models.ForeignKey(
        Order, models.CASCADE, related_name="equipment", verbose_name=_("sales order")
    )
    package = models.ForeignKey(
        EquipmentPackage, models.PROTECT, related_name="+", verbose_name=_("package")
    )
    price = MoneyField(_("sale price"))
    cost = MoneyField(_("cost"))
    installation_status = models.CharField(
        _("installation"),
        max_length=10,
        choices=InstallationStatus.choices,
        default=InstallationStatus.PENDING,
    )
    scheduled_for = models.DateTimeField(_("installation scheduled for"), null=True, blank=True)
    installed_at = models.DateTimeField(_("installed at"), null=True, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("added by"),
    )

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("order equipment")
        verbose_name_plural = _("order equipment")
        constraints = [
            models.UniqueConstraint(
                fields=["order", "package"], name="orders_equipment_once_per_order"
            )
        ]

    def __str__(self) -> str:
        return str(self.package)
