"""Promotions (Акции): importer discounts maintained by logisticians from bulletins."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from autocrm.accounts.models import Brand, City
from autocrm.core.models import TimeStampedModel
from autocrm.core.money import MoneyField
from autocrm.inventory.models import CarModel, Trim
from autocrm.orders.models.orders import Order


class Promotion(TimeStampedModel):
    """Empty importer/make/model/trim/cities mean "any". Valid on both end dates inclusive,
    counted in the dealer center's time zone. Exactly one of the two discounts is set."""

    name = models.CharField(_("name"), max_length=200)
    bulletin = models.CharField(_("importer bulletin"), max_length=200, blank=True)
    importer = models.CharField(_("importer"), max_length=200, blank=True)
    make = models.ForeignKey(
        Brand, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("make")
    )
    car_model = models.ForeignKey(
        CarModel,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("model"),
    )
    trim = models.ForeignKey(
        Trim, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("trim")
    )
    cities = models.ManyToManyField(
        City,
        blank=True,
        related_name="promotions",
        verbose_name=_("cities"),
        help_text=_("Empty: every city."),
    )
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid to"))
    discount_amount = MoneyField(_("discount, roubles"), null=True, blank=True)
    discount_percent = models.DecimalField(
        _("discount, %"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    importer_bonus = MoneyField(_("importer bonus to be reimbursed"), default=Decimal("0"))
    combinable = models.BooleanField(_("combines with other promotions"), default=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )

    class Meta:
        ordering = ["-valid_to", "name"]
        verbose_name = _("promotion")
        verbose_name_plural = _("promotions")
        constraints = [
            models.CheckConstraint(
                condition=(Q(discount_amount__isnull=False) & Q(discount_percent__isnull=True))
                | (Q(discount_amount__isnull=True) & Q(discount_percent__isnull=False)),
                name="orders_promotion_one_discount",
            ),
            models.CheckConstraint(
                condition=Q(valid_to__gte=models.F("valid_from")),
                name="orders_promotion_dates_ordered",
            ),
            models.CheckConstraint(
                condition=Q(importer_bonus__gte=0)
                & (Q(discount_amount__isnull=True) | Q(discount_amount__gt=0))
                & (
                    Q(discount_percent__isnull=True)
                    | (Q(discount_percent__gt=0) & Q(discount_percent__lte=100))
                ),
                name="orders_promotion_amounts_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["valid_from", "valid_to"], name="orders_promotion_dates_idx")
        ]

    def __str__(self) -> str:
        return self.name


class OrderPromotion(TimeStampedModel):
    """A promotion applied to an order: the discount and bonus as computed for it."""

    order = models.ForeignKey(
        Order, models.CASCADE, related_name="promotions", verbose_name=_("sales order")
    )
    promotion = models.ForeignKey(
        Promotion, models.PROTECT, related_name="applications", verbose_name=_("promotion")
    )
    discount = MoneyField(_("discount"))
    importer_bonus = MoneyField(_("importer bonus"), default=Decimal("0"))
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("applied by"),
    )

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("applied promotion")
        verbose_name_plural = _("applied promotions")
        constraints = [
            models.UniqueConstraint(
                fields=["order", "promotion"], name="orders_promotion_once_per_order"
            )
        ]

    def __str__(self) -> str:
        return str(self.promotion)
