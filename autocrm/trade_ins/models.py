"""Trade-in (Авто в зачёт): the client's car, its inspection appointment with an appraiser
of the buy-out department, the appraisal and the amount credited to the sales order.

No appraiser is ever booked twice at once. On PostgreSQL the database enforces it with an
exclusion constraint over ``tstzrange(starts_at, blocked_until)`` of booked appointments
(migration 0002, raw SQL: Django's ``ExclusionConstraint`` would make the model unusable on
SQLite); on both engines the booking service serialises bookings by locking the
appraisers' rows and checking overlaps before it inserts.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from autocrm.accounts.models import Brand, DealerCenter
from autocrm.clients.models import Client
from autocrm.core.models import TimeStampedModel
from autocrm.core.money import MoneyField
from autocrm.core.storage import private_storage
from autocrm.inventory.models import BodyZone, CarModel, DefectKind, Severity, Vehicle
from autocrm.orders.models import Order

# Name of the PostgreSQL exclusion constraint (created by migration 0002).
NO_OVERLAP_CONSTRAINT = "trade_ins_appointment_no_overlap"


class TradeInStatus(models.TextChoices):
    APPRAISAL_SCHEDULED = "appraisal_scheduled", _("Inspection booked")
    APPRAISED = "appraised", _("Appraised")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    TAKEN_INTO_STOCK = "taken_into_stock", _("Taken into stock")
    CANCELLED = "cancelled", _("Cancelled")


TRADE_IN_TRANSITIONS: dict[str, frozenset[str]] = {
    TradeInStatus.APPRAISAL_SCHEDULED: frozenset(
        {TradeInStatus.APPRAISED, TradeInStatus.CANCELLED}
    ),
    # The client takes the offer, refuses it, or the whole thing is called off.
    TradeInStatus.APPRAISED: frozenset(
        {TradeInStatus.ACCEPTED, TradeInStatus.DECLINED, TradeInStatus.CANCELLED}
    ),
    # Until the car is handed over the client may still change his mind.
    TradeInStatus.ACCEPTED: frozenset(
        {TradeInStatus.TAKEN_INTO_STOCK, TradeInStatus.DECLINED, TradeInStatus.CANCELLED}
    ),
    TradeInStatus.DECLINED: frozenset(),
    TradeInStatus.TAKEN_INTO_STOCK: frozenset(),
    TradeInStatus.CANCELLED: frozenset(),
}
# Trade-ins whose accepted amount is credited to their order.
CREDITED_STATUSES = (TradeInStatus.ACCEPTED, TradeInStatus.TAKEN_INTO_STOCK)
# Trade-ins still in work (listed first, counted on the calendar).
OPEN_STATUSES = (
    TradeInStatus.APPRAISAL_SCHEDULED,
    TradeInStatus.APPRAISED,
    TradeInStatus.ACCEPTED,
)


class TradeIn(TimeStampedModel):
    """A client's car offered in part payment. ``make_name``/``model_name`` are what was
    entered (any make: the client's car need not be one the group sells); ``make`` and
    ``car_model`` link the catalog when the names are known there."""

    order = models.ForeignKey(
        Order,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="trade_ins",
        verbose_name=_("sales order"),
        help_text=_("Empty for a buy-out without a sale."),
    )
    client = models.ForeignKey(
        Client, models.PROTECT, related_name="trade_ins", verbose_name=_("client")
    )
    dealer_center = models.ForeignKey(
        DealerCenter, models.PROTECT, related_name="trade_ins", verbose_name=_("dealer center")
    )
    make_name = models.CharField(_("make"), max_length=100)
    model_name = models.CharField(_("model"), max_length=100)
    make = models.ForeignKey(
        Brand,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("make in the catalog"),
    )
    car_model = models.ForeignKey(
        CarModel,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("model in the catalog"),
    )
    plate_number = models.CharField(_("plate number"), max_length=12)
    vin = models.CharField(_("VIN"), max_length=17, db_index=True)
    year = models.PositiveSmallIntegerField(_("year of manufacture"))
    mileage = models.PositiveIntegerField(_("mileage, km"), null=True, blank=True)
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=TradeInStatus.choices,
        default=TradeInStatus.APPRAISAL_SCHEDULED,
    )
    accepted_amount = MoneyField(_("accepted amount"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    vehicle = models.ForeignKey(
        Vehicle,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="trade_ins",
        verbose_name=_("stock vehicle"),
    )
    comment = models.TextField(_("comment"), blank=True)
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
        verbose_name = _("trade-in")
        verbose_name_plural = _("trade-ins")
        constraints = [
            models.CheckConstraint(
                condition=Q(accepted_amount__isnull=True) | Q(accepted_amount__gt=0),
                name="trade_ins_tradein_accepted_amount_positive",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["accepted", "taken_into_stock"])
                | Q(accepted_amount__isnull=False),
                name="trade_ins_tradein_credited_has_amount",
            ),
        ]
        indexes = [
            models.Index(fields=["dealer_center", "status"], name="trade_ins_dc_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.make_name} {self.model_name} {self.plate_number}".strip()

    @property
    def car_name(self) -> str:
        return f"{self.make_name} {self.model_name}".strip()

    @property
    def is_credited(self) -> bool:
        return self.status in CREDITED_STATUSES


class TradeInStatusChange(models.Model):
    """History of a trade-in's status: every move, who made it, when and why."""

    trade_in = models.ForeignKey(
        TradeIn, models.CASCADE, related_name="status_changes", verbose_name=_("trade-in")
    )
    from_status = models.CharField(
        _("from"), max_length=20, choices=TradeInStatus.choices, blank=True
    )
    to_status = models.CharField(_("to"), max_length=20, choices=TradeInStatus.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("changed by"),
    )
    note = models.CharField(_("note"), max_length=500, blank=True)
    at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = _("trade-in status change")
        verbose_name_plural = _("trade-in status changes")

    def __str__(self) -> str:
        return f"{self.from_status or '—'} → {self.to_status}"


class AppraisalPlace(models.TextChoices):
    DEALER_CENTER = "dealer_center", _("Dealer center")
    CLIENT_ADDRESS = "client_address", _("Client's address")


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked", _("Booked")
    DONE = "done", pgettext_lazy("appointment status", "Done")
    CANCELLED = "cancelled", _("Cancelled")


class AppraisalAppointment(TimeStampedModel):
    """An inspection booked with one appraiser. The appraiser is busy from ``starts_at``
    to ``blocked_until``: the end of the inspection, plus the travel buffer when he goes
    to the client's address."""

    trade_in = models.ForeignKey(
        TradeIn, models.CASCADE, related_name="appointments", verbose_name=_("trade-in")
    )
    appraiser = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        related_name="appraisal_appointments",
        verbose_name=_("appraiser"),
    )
    place = models.CharField(_("place"), max_length=16, choices=AppraisalPlace.choices)
    address = models.CharField(_("address"), max_length=300)
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    blocked_until = models.DateTimeField(_("appraiser busy until"))
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=AppointmentStatus.choices,
        default=AppointmentStatus.BOOKED,
    )
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("booked by"),
    )

    class Meta:
        ordering = ["starts_at", "pk"]
        verbose_name = _("appraisal appointment")
        verbose_name_plural = _("appraisal appointments")
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_at__lt=models.F("ends_at"))
                & Q(ends_at__lte=models.F("blocked_until")),
                name="trade_ins_appointment_interval_valid",
            ),
            # One booked inspection per trade-in at a time (a reschedule cancels the old).
            models.UniqueConstraint(
                fields=["trade_in"],
                condition=Q(status="booked"),
                name="trade_ins_appointment_one_booked_per_trade_in",
            ),
        ]
        indexes = [
            models.Index(
                fields=["appraiser", "status", "starts_at"], name="trade_ins_appt_appraiser_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.appraiser} {self.starts_at:%Y-%m-%d %H:%M}"


class AppraiserSettings(models.Model):
    """How the buy-out department of a dealer center books inspections. A dealer center
    without a row uses the defaults."""

    dealer_center = models.OneToOneField(
        DealerCenter,
        models.CASCADE,
        related_name="appraiser_settings",
        verbose_name=_("dealer center"),
    )
    slot_minutes = models.PositiveSmallIntegerField(_("inspection length, minutes"), default=60)
    travel_buffer_minutes = models.PositiveSmallIntegerField(
        _("travel buffer for a client's address, minutes"), default=45
    )
    max_days_ahead = models.PositiveSmallIntegerField(_("booking horizon, days"), default=30)

    class Meta:
        verbose_name = _("appraisal settings")
        verbose_name_plural = _("appraisal settings")
        constraints = [
            models.CheckConstraint(
                condition=Q(slot_minutes__gte=10) & Q(slot_minutes__lte=480),
                name="trade_ins_settings_slot_range",
            ),
            models.CheckConstraint(
                condition=Q(travel_buffer_minutes__lte=480),
                name="trade_ins_settings_buffer_range",
            ),
            models.CheckConstraint(
                condition=Q(max_days_ahead__gte=1) & Q(max_days_ahead__lte=366),
                name="trade_ins_settings_horizon_range",
            ),
        ]

    def __str__(self) -> str:
        return str(self.dealer_center)


class ChecklistItem(models.TextChoices):
    BODY = "body", _("Body")
    PAINT = "paint", _("Paintwork")
    GLASS = "glass", _("Glass")
    TYRES = "tyres", _("Tyres and wheels")
    INTERIOR = "interior", _("Interior")
    ENGINE = "engine", _("Engine")
    GEARBOX = "gearbox", _("Gearbox")
    ELECTRICS = "electrics", _("Electrics")
    DOCUMENTS = "documents", _("Documents")
    KEYS = "keys", _("Keys")
    SERVICE_BOOK = "service_book", _("Service book")
    HISTORY_REPORT = "history_report", _("Vehicle-history report")


class CheckResult(models.TextChoices):
    OK = "ok", pgettext_lazy("checklist result", "OK")
    NOT_OK = "not_ok", pgettext_lazy("checklist result", "Not OK")


class Appraisal(TimeStampedModel):
    """The appraiser's verdict on a trade-in car: one per trade-in, revised in place until
    the offer is accepted."""

    trade_in = models.OneToOneField(
        TradeIn, models.CASCADE, related_name="appraisal", verbose_name=_("trade-in")
    )
    appraiser = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        related_name="appraisals",
        verbose_name=_("appraiser"),
    )
    appraised_at = models.DateTimeField(_("appraised at"))
    # {"body": "ok", "paint": "not_ok", ...}: every item of ChecklistItem.
    checklist = models.JSONField(_("checklist"), default=dict)
    offered_price = MoneyField(_("offered price"))
    valid_until = models.DateField(_("offer valid until"))
    comment = models.TextField(_("comment"), blank=True)

    class Meta:
        verbose_name = _("appraisal")
        verbose_name_plural = _("appraisals")
        constraints = [
            models.CheckConstraint(
                condition=Q(offered_price__gt=0), name="trade_ins_appraisal_price_positive"
            )
        ]

    def __str__(self) -> str:
        return f"{self.trade_in}: {self.offered_price}"

    @property
    def repair_total(self) -> Decimal:
        return sum((defect.repair_estimate for defect in self.defects.all()), Decimal("0"))


class AppraisalDefect(models.Model):
    appraisal = models.ForeignKey(
        Appraisal, models.CASCADE, related_name="defects", verbose_name=_("appraisal")
    )
    zone = models.CharField(_("body zone"), max_length=30, choices=BodyZone.choices)
    kind = models.CharField(_("kind"), max_length=20, choices=DefectKind.choices)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    note = models.CharField(_("note"), max_length=300, blank=True)
    repair_estimate = MoneyField(_("repair estimate"), default=Decimal("0.00"))

    class Meta:
        ordering = ["pk"]
        verbose_name = _("appraisal defect")
        verbose_name_plural = _("appraisal defects")
        constraints = [
            models.CheckConstraint(
                condition=Q(repair_estimate__gte=0),
                name="trade_ins_defect_estimate_not_negative",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_zone_display()}: {self.get_kind_display()}"


class AppraisalPhoto(TimeStampedModel):
    """A photo of the car, stored outside the web root and served only to users who see
    the trade-in."""

    trade_in = models.ForeignKey(
        TradeIn, models.CASCADE, related_name="photos", verbose_name=_("trade-in")
    )
    image = models.ImageField(_("photo"), storage=private_storage, upload_to="trade_ins/%Y/%m/")
    caption = models.CharField(_("caption"), max_length=200, blank=True)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size, bytes"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    original_name = models.CharField(_("file name"), max_length=255, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("uploaded by"),
    )

    class Meta:
        ordering = ["pk"]
        verbose_name = _("appraisal photo")
        verbose_name_plural = _("appraisal photos")

    def __str__(self) -> str:
        return self.original_name or self.image.name
