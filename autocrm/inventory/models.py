"""Vehicle stock: catalog, vehicles, logistics, restrictions, inspections, reservations."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from autocrm.accounts.models import Brand, City, Consignor, DealerCenter, Site
from autocrm.clients.models import Client
from autocrm.core.audit import audit_history
from autocrm.core.models import TimeStampedModel
from autocrm.core.money import CurrencyField, MoneyField

KW_PER_HP = Decimal("0.73549875")  # metric horsepower (PS), as in Russian registration documents


class CarModel(TimeStampedModel):
    make = models.ForeignKey(
        Brand, models.PROTECT, related_name="car_models", verbose_name=_("make")
    )
    name = models.CharField(_("name"), max_length=100)

    class Meta:
        ordering = ["make__name", "name"]
        verbose_name = _("model")
        verbose_name_plural = _("models")
        constraints = [
            models.UniqueConstraint(
                fields=["make", "name"], name="inventory_carmodel_make_name_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.make.name} {self.name}"


class Trim(TimeStampedModel):
    """A trim level (комплектация) of a model."""

    car_model = models.ForeignKey(
        CarModel, models.PROTECT, related_name="trims", verbose_name=_("model")
    )
    name = models.CharField(_("name"), max_length=100)

    class Meta:
        ordering = ["car_model__make__name", "car_model__name", "name"]
        verbose_name = _("trim")
        verbose_name_plural = _("trims")
        constraints = [
            models.UniqueConstraint(
                fields=["car_model", "name"], name="inventory_trim_model_name_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.car_model} {self.name}"


class CatalogEntry(TimeStampedModel):
    """A coded reference value: the code is what the API and filters use, the name is shown."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        abstract = True
        ordering = ["order", "name"]

    def __str__(self) -> str:
        return self.name


class BodyType(CatalogEntry):
    class Meta(CatalogEntry.Meta):
        verbose_name = _("body type")
        verbose_name_plural = _("body types")


class DriveType(CatalogEntry):
    class Meta(CatalogEntry.Meta):
        verbose_name = _("drive type")
        verbose_name_plural = _("drive types")


class EngineType(CatalogEntry):
    class Meta(CatalogEntry.Meta):
        verbose_name = _("engine type")
        verbose_name_plural = _("engine types")


class Transmission(CatalogEntry):
    class Meta(CatalogEntry.Meta):
        verbose_name = _("transmission")
        verbose_name_plural = _("transmissions")


class Color(TimeStampedModel):
    name = models.CharField(_("name"), max_length=100, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("colour")
        verbose_name_plural = _("colours")

    def __str__(self) -> str:
        return self.name


class LogisticsStatus(CatalogEntry):
    """A step of a car's way from the importer to the client; the set is editable."""

    is_active = models.BooleanField(_("active"), default=True)

    class Meta(CatalogEntry.Meta):
        verbose_name = _("logistics status")
        verbose_name_plural = _("logistics statuses")


class Condition(models.TextChoices):
    NEW = "new", _("New")
    USED = "used", _("Used")


class ReservationStatus(models.TextChoices):
    FREE = "free", _("Free")
    RESERVED = "reserved", _("Reserved")
    SOLD = "sold", _("Sold")


class PtsKind(models.TextChoices):
    PAPER = "paper", _("Paper")
    ELECTRONIC = "electronic", _("Electronic")


class Vehicle(TimeStampedModel):
    # Автомобиль
    stock_code = models.CharField(_("stock code"), max_length=40, unique=True)
    vin = models.CharField(_("VIN"), max_length=17, db_index=True)
    make = models.ForeignKey(Brand, models.PROTECT, related_name="vehicles", verbose_name=_("make"))
    car_model = models.ForeignKey(
        CarModel, models.PROTECT, related_name="vehicles", verbose_name=_("model")
    )
    trim = models.ForeignKey(
        Trim, models.PROTECT, null=True, blank=True, related_name="vehicles", verbose_name=_("trim")
    )
    body = models.ForeignKey(
        BodyType,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="vehicles",
        verbose_name=_("body"),
    )
    drive = models.ForeignKey(
        DriveType,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="vehicles",
        verbose_name=_("drive"),
    )
    engine = models.ForeignKey(
        EngineType,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="vehicles",
        verbose_name=_("engine type"),
    )
    displacement_cc = models.PositiveIntegerField(
        _("engine displacement, cm³"), null=True, blank=True
    )
    power_hp = models.DecimalField(
        _("power, hp"), max_digits=6, decimal_places=1, null=True, blank=True
    )
    power_kw = models.DecimalField(
        _("power, kW"), max_digits=6, decimal_places=1, null=True, blank=True
    )
    transmission = models.ForeignKey(
        Transmission,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="vehicles",
        verbose_name=_("transmission"),
    )
    interior = models.CharField(_("interior"), max_length=100, blank=True)
    color = models.ForeignKey(
        Color,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="vehicles",
        verbose_name=_("colour"),
    )
    model_year = models.PositiveSmallIntegerField(_("model year"), null=True, blank=True)
    pts_year = models.PositiveSmallIntegerField(_("year by (E)PTS"), null=True, blank=True)
    mileage = models.PositiveIntegerField(_("mileage, km"), default=0)
    report_date = models.DateField(_("report date"), null=True, blank=True)

    # Дополнительная информация
    condition = models.CharField(_("condition"), max_length=4, choices=Condition.choices)
    right_hand_drive = models.BooleanField(_("right-hand drive"), default=False)
    price = MoneyField(_("price"))
    # The car's economics for its deal passport (orders.passport); empty means not known yet.
    cost_price = MoneyField(_("cost price"), null=True, blank=True)
    transport_cost = MoneyField(_("transport costs"), null=True, blank=True)
    consignment_cost = MoneyField(_("consignment costs"), null=True, blank=True)
    currency = CurrencyField(_("currency"))
    stock_in_date = models.DateField(_("stock-in date"))
    reservation_status = models.CharField(
        _("reservation status"),
        max_length=10,
        choices=ReservationStatus.choices,
        default=ReservationStatus.FREE,
    )
    warranty_start = models.DateField(_("importer warranty start"), null=True, blank=True)
    warranty_end = models.DateField(_("importer warranty end"), null=True, blank=True)
    planned_delivery_date = models.DateField(_("planned delivery date"), null=True, blank=True)
    actual_delivery_date = models.DateField(_("actual delivery date"), null=True, blank=True)
    logistics_status = models.ForeignKey(
        LogisticsStatus,
        models.PROTECT,
        related_name="vehicles",
        verbose_name=_("logistics status"),
    )
    description = models.TextField(_("description"), blank=True)
    pts_kind = models.CharField(_("PTS kind"), max_length=10, choices=PtsKind.choices, blank=True)
    pts_number = models.CharField(_("PTS number"), max_length=30, blank=True)
    pts_present = models.BooleanField(_("PTS present"), default=False)
    pts_buyout_date = models.DateField(_("PTS buy-out date"), null=True, blank=True)
    pts_received_date = models.DateField(_("PTS received date"), null=True, blank=True)
    pts_storage_place = models.CharField(_("PTS storage place"), max_length=200, blank=True)
    credit_sale = models.BooleanField(_("credit sale"), default=False)
    trade_in_sale = models.BooleanField(_("trade-in sale"), default=False)
    pledged = models.BooleanField(_("pledged"), default=False)
    ord_present = models.BooleanField(_("ORD present"), default=False)

    # Локация
    city = models.ForeignKey(City, models.PROTECT, related_name="vehicles", verbose_name=_("city"))
    site = models.ForeignKey(Site, models.PROTECT, related_name="vehicles", verbose_name=_("site"))
    consignor = models.ForeignKey(
        Consignor,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="vehicles",
        verbose_name=_("consignor"),
    )
    # The dealer center that sells the car; scoping follows it. Empty for group stock.
    dealer_center = models.ForeignKey(
        DealerCenter,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="vehicles",
        verbose_name=_("dealer center"),
    )

    # Трейд-ин
    owners_count = models.PositiveSmallIntegerField(_("number of owners"), null=True, blank=True)
    history_report_url = models.URLField(_("vehicle-history report"), blank=True)
    history_report_date = models.DateField(_("vehicle-history report date"), null=True, blank=True)

    # A car leaves the stock when it is delivered to its buyer or written off; its VIN may
    # come back later (trade-in of a car we once sold), hence uniqueness only in stock.
    in_stock = models.BooleanField(_("in stock"), default=True)

    history = audit_history()

    class Meta:
        ordering = ["-stock_in_date", "pk"]
        verbose_name = _("vehicle")
        verbose_name_plural = _("vehicles")
        constraints = [
            models.UniqueConstraint(
                fields=["vin"],
                condition=Q(in_stock=True),
                name="inventory_vehicle_vin_in_stock_unique",
            ),
            models.CheckConstraint(
                condition=Q(price__gte=0), name="inventory_vehicle_price_not_negative"
            ),
        ]
        indexes = [
            models.Index(fields=["in_stock", "price"], name="inventory_vehicle_price_idx"),
            models.Index(
                fields=["in_stock", "stock_in_date"], name="inventory_vehicle_stockin_idx"
            ),
            models.Index(
                fields=["in_stock", "make", "car_model"], name="inventory_vehicle_model_idx"
            ),
            models.Index(fields=["in_stock", "city"], name="inventory_vehicle_city_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.make.name} {self.car_model.name} {self.vin}"

    def days_in_stock(self, today: date) -> int:
        return max((today - self.stock_in_date).days, 0)


def power_kw_from_hp(hp: Decimal) -> Decimal:
    return (hp * KW_PER_HP).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def power_hp_from_kw(kw: Decimal) -> Decimal:
    return (kw / KW_PER_HP).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


class StockChange(models.Model):
    """Append-only log of vehicle ids touched by a write.

    Search indexes held in memory by web processes read it to catch up with writes made
    by any process. Services append to it in the same transaction as the change itself.
    Ids are handed out at insert, not at commit, so a reader must expect gaps that fill in
    later (a slower transaction committing after a faster one).
    """

    id = models.BigAutoField(primary_key=True)
    vehicle_id = models.BigIntegerField(_("vehicle id"))
    changed_at = models.DateTimeField(_("changed at"), auto_now_add=True)

    class Meta:
        verbose_name = _("stock change")
        verbose_name_plural = _("stock changes")

    def __str__(self) -> str:
        return f"#{self.id} vehicle {self.vehicle_id}"


class LogisticsStatusChange(models.Model):
    """History of a vehicle's logistics status: one row per move, never edited."""

    vehicle = models.ForeignKey(
        Vehicle, models.CASCADE, related_name="logistics_history", verbose_name=_("vehicle")
    )
    from_status = models.ForeignKey(
        LogisticsStatus,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("from"),
    )
    to_status = models.ForeignKey(
        LogisticsStatus, models.PROTECT, related_name="+", verbose_name=_("to")
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("changed by"),
    )
    changed_at = models.DateTimeField(_("changed at"), auto_now_add=True)
    comment = models.CharField(_("comment"), max_length=300, blank=True)

    class Meta:
        ordering = ["-changed_at", "-pk"]
        verbose_name = _("logistics status change")
        verbose_name_plural = _("logistics status changes")

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status}"


class RestrictionKind(models.TextChoices):
    PLEDGE = "pledge", _("Pledge")
    CREDIT = "credit", _("Credit")
    ORD = "ord", _("ORD")
    REGISTRATION_BAN = "registration_ban", _("Registration ban")
    ARREST = "arrest", _("Arrest")
    OTHER = "other", _("Other")


class Restriction(TimeStampedModel):
    """An encumbrance on a car: pledge, credit, ORD, a ban on registration actions ..."""

    vehicle = models.ForeignKey(
        Vehicle, models.CASCADE, related_name="restrictions", verbose_name=_("vehicle")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=RestrictionKind.choices)
    source = models.CharField(
        _("source"), max_length=200, help_text=_("Who reported it: bank, registry, court ...")
    )
    starts_on = models.DateField(_("from"), null=True, blank=True)
    ends_on = models.DateField(_("until"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )

    history = audit_history()

    class Meta:
        ordering = ["-starts_on", "-pk"]
        verbose_name = _("restriction")
        verbose_name_plural = _("restrictions")


class InspectionResult(models.TextChoices):
    PASSED = "passed", _("Passed")
    NEEDS_REPAIR = "needs_repair", _("Needs repair")
    REJECTED = "rejected", _("Rejected")


class Inspection(TimeStampedModel):
    vehicle = models.ForeignKey(
        Vehicle, models.CASCADE, related_name="inspections", verbose_name=_("vehicle")
    )
    inspected_at = models.DateTimeField(_("inspected at"))
    inspector = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        related_name="inspections",
        verbose_name=_("inspector"),
    )
    mileage = models.PositiveIntegerField(_("mileage, km"))
    result = models.CharField(_("result"), max_length=20, choices=InspectionResult.choices)
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        ordering = ["-inspected_at", "-pk"]
        verbose_name = _("inspection")
        verbose_name_plural = _("inspections")


class InspectionPhoto(TimeStampedModel):
    inspection = models.ForeignKey(
        Inspection, models.CASCADE, related_name="photos", verbose_name=_("inspection")
    )
    image = models.ImageField(_("photo"), upload_to="inspections/%Y/%m/")
    caption = models.CharField(_("caption"), max_length=200, blank=True)

    class Meta:
        ordering = ["pk"]
        verbose_name = _("inspection photo")
        verbose_name_plural = _("inspection photos")


class BodyZone(models.TextChoices):
    FRONT_BUMPER = "front_bumper", _("Front bumper")
    HOOD = "hood", _("Hood")
    WINDSHIELD = "windshield", _("Windshield")
    ROOF = "roof", _("Roof")
    FRONT_LEFT_FENDER = "front_left_fender", _("Front left fender")
    FRONT_RIGHT_FENDER = "front_right_fender", _("Front right fender")
    FRONT_LEFT_DOOR = "front_left_door", _("Front left door")
    FRONT_RIGHT_DOOR = "front_right_door", _("Front right door")
    REAR_LEFT_DOOR = "rear_left_door", _("Rear left door")
    REAR_RIGHT_DOOR = "rear_right_door", _("Rear right door")
    REAR_LEFT_FENDER = "rear_left_fender", _("Rear left fender")
    REAR_RIGHT_FENDER = "rear_right_fender", _("Rear right fender")
    TRUNK = "trunk", _("Trunk lid")
    REAR_BUMPER = "rear_bumper", _("Rear bumper")
    WHEELS = "wheels", _("Wheels and tyres")
    INTERIOR = "interior", _("Interior")
    ENGINE_BAY = "engine_bay", _("Engine bay")
    UNDERBODY = "underbody", _("Underbody")


class DefectKind(models.TextChoices):
    SCRATCH = "scratch", _("Scratch")
    DENT = "dent", _("Dent")
    CHIP = "chip", _("Chip")
    CRACK = "crack", _("Crack")
    CORROSION = "corrosion", _("Corrosion")
    REPAINT = "repaint", _("Repainted")
    WEAR = "wear", _("Wear")
    MECHANICAL = "mechanical", _("Mechanical fault")
    OTHER = "other", _("Other")


class Severity(models.TextChoices):
    MINOR = "minor", _("Minor")
    MODERATE = "moderate", _("Moderate")
    MAJOR = "major", _("Major")


class Defect(TimeStampedModel):
    inspection = models.ForeignKey(
        Inspection, models.CASCADE, related_name="defects", verbose_name=_("inspection")
    )
    body_zone = models.CharField(_("body zone"), max_length=30, choices=BodyZone.choices)
    kind = models.CharField(_("kind"), max_length=20, choices=DefectKind.choices)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    repair_estimate = MoneyField(_("repair estimate"), default=Decimal("0.00"))
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        ordering = ["pk"]
        verbose_name = _("defect")
        verbose_name_plural = _("defects")
        constraints = [
            models.CheckConstraint(
                condition=Q(repair_estimate__gte=0), name="inventory_defect_estimate_not_negative"
            )
        ]


class Reservation(TimeStampedModel):
    """A hold on a car for a client. At most one active reservation per vehicle: the partial
    unique index decides between concurrent requests, not application code."""

    vehicle = models.ForeignKey(
        Vehicle, models.CASCADE, related_name="reservations", verbose_name=_("vehicle")
    )
    client = models.ForeignKey(
        Client,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="reservations",
        verbose_name=_("client"),
    )
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        related_name="reservations",
        verbose_name=_("manager"),
    )
    expires_at = models.DateTimeField(_("expires at"))
    comment = models.CharField(_("comment"), max_length=300, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    released_at = models.DateTimeField(_("released at"), null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("released by"),
    )
    release_reason = models.CharField(_("release reason"), max_length=20, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("reservation")
        verbose_name_plural = _("reservations")
        constraints = [
            models.UniqueConstraint(
                fields=["vehicle"],
                condition=Q(is_active=True),
                name="inventory_reservation_one_active_per_vehicle",
            )
        ]
        indexes = [
            models.Index(fields=["is_active", "expires_at"], name="inventory_resv_expiry_idx")
        ]


class SavedSearch(TimeStampedModel):
    """A user's named set of stock-search filters (the query string of the search page)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.CASCADE,
        related_name="saved_searches",
        verbose_name=_("user"),
    )
    name = models.CharField(_("name"), max_length=100)
    query = models.CharField(_("filters"), max_length=2000, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("saved search")
        verbose_name_plural = _("saved searches")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "name"], name="inventory_savedsearch_user_name_unique"
            )
        ]

    def __str__(self) -> str:
        return self.name


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", _("Uploaded")
    MAPPED = "mapped", _("Columns mapped")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class StockImport(TimeStampedModel):
    """One upload of a dealer's stock list (CSV or XLSX) and its progress."""

    file = models.FileField(_("file"), upload_to="stock-imports/%Y/%m/")
    original_name = models.CharField(_("file name"), max_length=255)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        related_name="stock_imports",
        verbose_name=_("created by"),
    )
    dealer_center = models.ForeignKey(
        DealerCenter,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="stock_imports",
        verbose_name=_("dealer center"),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=ImportStatus.choices, default=ImportStatus.UPLOADED
    )
    headers = models.JSONField(_("columns in the file"), default=list, blank=True)
    mapping = models.JSONField(_("column mapping"), default=dict, blank=True)
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    processed_rows = models.PositiveIntegerField(_("processed rows"), default=0)
    created_count = models.PositiveIntegerField(_("created"), default=0)
    updated_count = models.PositiveIntegerField(_("updated"), default=0)
    error_count = models.PositiveIntegerField(_("rows with errors"), default=0)
    errors = models.JSONField(_("errors by row"), default=list, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("stock import")
        verbose_name_plural = _("stock imports")

    def __str__(self) -> str:
        return self.original_name

    @property
    def progress_percent(self) -> int:
        if not self.total_rows:
            return 100 if self.status == ImportStatus.DONE else 0
        return min(100, round(self.processed_rows * 100 / self.total_rows))
