"""Financial products sold with a car (insurance, assistance, bank products) and their
place on sales orders (credit programs and applications: models/credit.py)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from autocrm.core.models import TimeStampedModel
from autocrm.core.money import MoneyField
from autocrm.orders.models import Order


class ProductKind(models.TextChoices):
    INSURANCE = "insurance", _("Insurance")
    ASSISTANCE = "assistance", _("Road assistance")
    LEGAL = "legal", _("Legal assistance")
    BANK = "bank", _("Bank product")
    WARRANTY = "warranty", _("Extended warranty")
    SERVICE = "service", _("Service contract")
    OTHER = "other", _("Other")


class FinancialProduct(TimeStampedModel):
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=12, choices=ProductKind.choices)
    counterparty = models.CharField(_("counterparty"), max_length=200, blank=True)
    term_months = models.PositiveSmallIntegerField(_("term, months"), default=0)
    price = MoneyField(_("price"))
    commission = MoneyField(_("dealer commission incl. VAT"), default=Decimal("0"))
    mandatory_for_credit = models.BooleanField(
        _("mandatory for credit"),
        default=False,
        help_text=_("Without it the bank does not approve the credit."),
    )
    broker_code = models.SlugField(
        _("broker code"),
        max_length=50,
        blank=True,
        help_text=_("How the credit broker names this product in a bank's offer."),
    )
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("financial product")
        verbose_name_plural = _("financial products")
        constraints = [
            models.CheckConstraint(
                condition=Q(price__gte=0) & Q(commission__gte=0),
                name="finance_product_money_not_negative",
            )
        ]

    def __str__(self) -> str:
        return self.name


class OrderProduct(TimeStampedModel):
    """A financial product on an order, with its price and commission as when added."""

    order = models.ForeignKey(
        Order, models.CASCADE, related_name="products", verbose_name=_("sales order")
    )
    product = models.ForeignKey(
        FinancialProduct, models.PROTECT, related_name="+", verbose_name=_("product")
    )
    price = MoneyField(_("price"))
    commission = MoneyField(_("commission incl. VAT"))
    mandatory = models.BooleanField(_("mandatory"), default=False)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("added by"),
    )

    class Meta:
        ordering = ["-mandatory", "created_at", "pk"]
        verbose_name = _("order product")
        verbose_name_plural = _("order products")
        constraints = [
            models.UniqueConstraint(
                fields=["order", "product"], name="finance_product_once_per_order"
            )
        ]

    def __str__(self) -> str:
        return str(self.product)
