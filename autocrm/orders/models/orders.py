"""The sales order (заказ реализации), its issuer of invoices, importer orders and history."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from autocrm.accounts.models import Brand, Consignor, DealerCenter
from autocrm.clients.models import Client
from autocrm.core.models import TimeStampedModel
from autocrm.core.money import MoneyField
from autocrm.inventory.models import CarModel, Trim, Vehicle

STANDARD_VAT_RATE = Decimal("22.00")  # Russian standard VAT rate from 1 January 2026


class Issuer(TimeStampedModel):
    """A legal entity that issues invoices. Numbers run per issuer: ``prefix`` followed by
    ``next_number`` zero-padded to seven digits, as in the seed (``POC0002235``)."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    legal_name = models.CharField(_("full legal name"), max_length=300)
    inn = models.CharField(_("INN"), max_length=12)
    kpp = models.CharField(_("KPP"), max_length=9, blank=True)
    legal_address = models.CharField(_("legal address"), max_length=300)
    bank_name = models.CharField(_("bank"), max_length=200, blank=True)
    bank_bic = models.CharField(_("BIC"), max_length=9, blank=True)
    bank_account = models.CharField(_("settlement account"), max_length=20, blank=True)
    correspondent_account = models.CharField(_("correspondent account"), max_length=20, blank=True)
    director = models.CharField(_("director"), max_length=200, blank=True)
    accountant = models.CharField(_("chief accountant"), max_length=200, blank=True)
    consignor = models.OneToOneField(
        Consignor,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="issuer",
        verbose_name=_("consignor"),
        help_text=_("Invoices for cars of this consignor are issued by this legal entity."),
    )
    dealer_centers = models.ManyToManyField(
        DealerCenter,
        blank=True,
        related_name="issuers",
        verbose_name=_("dealer centers"),
        help_text=_("The default issuer of these dealer centers (importer orders)."),
    )
    prefix = models.CharField(_("invoice number prefix"), max_length=10)
    next_number = models.PositiveBigIntegerField(_("next invoice number"), default=1)
    vat_rate = models.DecimalField(
        _("VAT rate, %"), max_digits=5, decimal_places=2, default=STANDARD_VAT_RATE
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("invoice issuer")
        verbose_name_plural = _("invoice issuers")
        constraints = [
            models.UniqueConstraint(fields=["prefix"], name="orders_issuer_prefix_unique"),
            models.CheckConstraint(
                condition=Q(vat_rate__gte=0) & Q(vat_rate__lt=100),
                name="orders_issuer_vat_rate_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class OrderKind(models.TextChoices):
    STOCK = "stock", _("Car in stock")
    IMPORTER = "importer", _("Order from the importer")


class OrderStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    CONFIRMED = "confirmed", _("Confirmed")
    PAID = "paid", _("Paid")
    READY = "ready", _("Ready for delivery")
    DELIVERED = "delivered", pgettext_lazy("order status", "Delivered")
    CANCELLED = "cancelled", _("Cancelled")


ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    OrderStatus.DRAFT: frozenset({OrderStatus.CONFIRMED, OrderStatus.CANCELLED}),
    OrderStatus.CONFIRMED: frozenset({OrderStatus.DRAFT, OrderStatus.PAID, OrderStatus.CANCELLED}),
    OrderStatus.PAID: frozenset({OrderStatus.CONFIRMED, OrderStatus.READY, OrderStatus.CANCELLED}),
    OrderStatus.READY: frozenset({OrderStatus.PAID, OrderStatus.DELIVERED}),
    OrderStatus.DELIVERED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}
# Orders that hold their car: a car is in at most one of them.
ACTIVE_ORDER_STATUSES = (
    OrderStatus.DRAFT,
    OrderStatus.CONFIRMED,
    OrderStatus.PAID,
    OrderStatus.READY,
)
# Orders whose content (price, equipment, promotions, products) may still change.
EDITABLE_ORDER_STATUSES = (OrderStatus.DRAFT, OrderStatus.CONFIRMED, OrderStatus.PAID)


class PaymentStatus(models.TextChoices):
    UNPAID = "unpaid", _("Not paid")
    PARTLY_PAID = "partly_paid", _("Partly paid")
    PAID = "paid", _("Paid")
    OVERPAID = "overpaid", _("Overpaid")


class Order(TimeStampedModel):
    """A sale of one car to one client. The money fields are kept current by
    ``orders.services.order_recalculate`` after every change, inside the same transaction."""

    kind = models.CharField(_("kind"), max_length=10, choices=OrderKind.choices)
    client = models.ForeignKey(
        Client, models.PROTECT, related_name="orders", verbose_name=_("client")
    )
    deal = models.ForeignKey(
        "sales.Deal",
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="orders",
        verbose_name=_("deal"),
    )
    dealer_center = models.ForeignKey(
        DealerCenter, models.PROTECT, related_name="orders", verbose_name=_("dealer center")
    )
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        related_name="orders",
        verbose_name=_("manager"),
    )
    vehicle = models.ForeignKey(
        Vehicle,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="orders",
        verbose_name=_("vehicle"),
    )
    issuer = models.ForeignKey(
        Issuer,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="orders",
        verbose_name=_("invoice issuer"),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=OrderStatus.choices, default=OrderStatus.DRAFT
    )
    version = models.PositiveIntegerField(_("version"), default=1)
    comment = models.TextField(_("comment"), blank=True)
    cancel_reason = models.CharField(_("cancellation reason"), max_length=300, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    # Totals, kept current by order_recalculate.
    vehicle_price = MoneyField(_("vehicle price"), default=Decimal("0"))
    equipment_total = MoneyField(_("additional equipment"), default=Decimal("0"))
    discount_total = MoneyField(_("promotion discounts"), default=Decimal("0"))
    products_total = MoneyField(_("financial products"), default=Decimal("0"))
    trade_in_credit = MoneyField(_("trade-in credit"), default=Decimal("0"))
    total = MoneyField(_("total"), default=Decimal("0"))
    invoiced_total = MoneyField(_("invoiced"), default=Decimal("0"))
    paid_total = MoneyField(_("paid"), default=Decimal("0"))
    balance_due = MoneyField(_("balance due"), default=Decimal("0"))
    payment_status = models.CharField(
        _("payment status"),
        max_length=12,
        choices=PaymentStatus.choices,
        default=PaymentStatus.UNPAID,
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("sales order")
        verbose_name_plural = _("sales orders")
        constraints = [
            # The database decides between two managers ordering the same car at once.
            models.UniqueConstraint(
                fields=["vehicle"],
                condition=Q(status__in=["draft", "confirmed", "paid", "ready"]),
                name="orders_order_one_active_per_vehicle",
            ),
            models.CheckConstraint(
                condition=Q(kind="importer") | Q(vehicle__isnull=False),
                name="orders_order_stock_has_vehicle",
            ),
            models.CheckConstraint(
                condition=Q(vehicle_price__gte=0), name="orders_order_price_not_negative"
            ),
        ]
        indexes = [
            models.Index(fields=["dealer_center", "status"], name="orders_order_dc_status_idx"),
            models.Index(fields=["manager", "status"], name="orders_order_mgr_status_idx"),
            models.Index(fields=["client", "-created_at"], name="orders_order_client_idx"),
        ]

    def __str__(self) -> str:
        return _("Order No. %(number)s") % {"number": self.number}

    @property
    def number(self) -> str:
        return f"{self.pk:06d}" if self.pk else "—"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_ORDER_STATUSES

    @property
    def is_editable(self) -> bool:
        return self.status in EDITABLE_ORDER_STATUSES


class ImporterOrderStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    CONFIRMED = "confirmed", _("Confirmed by the importer")
    IN_PRODUCTION = "in_production", _("In production")
    SHIPPED = "shipped", _("Shipped")
    ARRIVED = "arrived", _("Arrived")
    CANCELLED = "cancelled", _("Cancelled")


IMPORTER_ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    ImporterOrderStatus.REQUESTED: frozenset(
        {ImporterOrderStatus.CONFIRMED, ImporterOrderStatus.CANCELLED}
    ),
    ImporterOrderStatus.CONFIRMED: frozenset(
        {ImporterOrderStatus.IN_PRODUCTION, ImporterOrderStatus.CANCELLED}
    ),
    ImporterOrderStatus.IN_PRODUCTION: frozenset(
        {ImporterOrderStatus.SHIPPED, ImporterOrderStatus.CANCELLED}
    ),
    ImporterOrderStatus.SHIPPED: frozenset({ImporterOrderStatus.ARRIVED}),
    ImporterOrderStatus.ARRIVED: frozenset(),
    ImporterOrderStatus.CANCELLED: frozenset(),
}


class ImporterOrder(TimeStampedModel):
    """The car a client ordered from the importer. On arrival the stock car is created and
    linked to the sales order."""

    order = models.OneToOneField(
        Order, models.CASCADE, related_name="importer_order", verbose_name=_("sales order")
    )
    make = models.ForeignKey(Brand, models.PROTECT, related_name="+", verbose_name=_("make"))
    car_model = models.ForeignKey(
        CarModel, models.PROTECT, related_name="+", verbose_name=_("model")
    )
    trim = models.ForeignKey(
        Trim, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("trim")
    )
    color = models.CharField(_("colour"), max_length=100, blank=True)
    options = models.TextField(_("options"), blank=True)
    wished_date = models.DateField(_("wished delivery date"), null=True, blank=True)
    expected_price = MoneyField(_("expected price"), null=True, blank=True)
    importer_reference = models.CharField(_("importer's order number"), max_length=60, blank=True)
    status = models.CharField(
        _("importer status"),
        max_length=14,
        choices=ImporterOrderStatus.choices,
        default=ImporterOrderStatus.REQUESTED,
    )

    class Meta:
        verbose_name = _("order from the importer")
        verbose_name_plural = _("orders from the importer")

    def __str__(self) -> str:
        trim = f" {self.trim.name}" if self.trim is not None else ""
        return f"{self.car_model}{trim}"


class OrderEventKind(models.TextChoices):
    STATUS = "status", _("Order status")
    IMPORTER = "importer", _("Importer order")
    CHANGE = "change", _("Order changed")
    EQUIPMENT = "equipment", _("Additional equipment")
    PROMOTION = "promotion", _("Promotion")
    PRODUCT = "product", _("Financial product")
    INVOICE = "invoice", _("Invoice")
    PAYMENT = "payment", _("Payment")
    REFUND = "refund", _("Refund")
    TRADE_IN = "trade_in", _("Trade-in")
    DOCUMENT = "document", _("Document")
    CREDIT = "credit", _("Credit application")


class OrderEvent(models.Model):
    """The order's history: every status change (order, importer order, invoice, refund,
    installation) and every addition or removal, with who did it and when."""

    order = models.ForeignKey(
        Order, models.CASCADE, related_name="events", verbose_name=_("sales order")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=OrderEventKind.choices)
    subject_id = models.BigIntegerField(_("subject id"), null=True, blank=True)
    from_value = models.CharField(_("from"), max_length=40, blank=True)
    to_value = models.CharField(_("to"), max_length=40, blank=True)
    text = models.CharField(_("description"), max_length=500, blank=True)
    amount = MoneyField(_("amount"), null=True, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("changed by"),
    )
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("order event")
        verbose_name_plural = _("order history")
        indexes = [models.Index(fields=["order", "kind"], name="orders_event_order_kind_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.from_value} → {self.to_value}"
