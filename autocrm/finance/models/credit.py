"""Credit: banks and their programs, credit applications of sales orders with the
applicant's questionnaire, documents and the banks' offers, and the E-Credit broker
connection with its outbox (submissions) and inbox (callbacks)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from autocrm.accounts.models import Brand, DealerCenter
from autocrm.core.crypto import EncryptedTextField
from autocrm.core.models import TimeStampedModel
from autocrm.core.money import MoneyField
from autocrm.core.storage import private_storage
from autocrm.finance.models.products import FinancialProduct
from autocrm.inventory.models import CarModel
from autocrm.orders.models import Order


class PercentField(models.DecimalField):
    """A rate or a share in percent, 0.00–100.00 (two decimals)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 5)
        kwargs.setdefault("decimal_places", 2)
        super().__init__(*args, **kwargs)


class Bank(TimeStampedModel):
    name = models.CharField(_("name"), max_length=200, unique=True)
    code = models.SlugField(
        _("broker code"),
        max_length=50,
        unique=True,
        help_text=_("How the credit broker names the bank in its decisions."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("bank")
        verbose_name_plural = _("banks")

    def __str__(self) -> str:
        return self.name


class CreditProgram(TimeStampedModel):
    """A bank's credit program. ``rate`` applies unless a band (CreditProgramRate) for the
    term and down payment says otherwise; empty brands / models mean any."""

    bank = models.ForeignKey(Bank, models.PROTECT, related_name="programs", verbose_name=_("bank"))
    name = models.CharField(_("name"), max_length=200)
    rate = PercentField(_("annual rate, %"))
    min_term_months = models.PositiveSmallIntegerField(_("minimum term, months"), default=12)
    max_term_months = models.PositiveSmallIntegerField(_("maximum term, months"), default=84)
    min_down_payment_percent = PercentField(_("minimum down payment, %"), default=Decimal("0"))
    casco_required = models.BooleanField(_("CASCO required"), default=False)
    mandatory_products = models.ManyToManyField(
        FinancialProduct,
        blank=True,
        related_name="credit_programs",
        verbose_name=_("mandatory financial products"),
    )
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    brands = models.ManyToManyField(
        Brand, blank=True, related_name="credit_programs", verbose_name=_("brands")
    )
    car_models = models.ManyToManyField(
        CarModel, blank=True, related_name="credit_programs", verbose_name=_("models")
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["bank__name", "name"]
        verbose_name = _("credit program")
        verbose_name_plural = _("credit programs")
        constraints = [
            models.CheckConstraint(
                condition=Q(rate__gte=0) & Q(rate__lte=100),
                name="finance_program_rate_range",
            ),
            models.CheckConstraint(
                condition=Q(min_term_months__gte=1)
                & Q(max_term_months__lte=120)
                & Q(min_term_months__lte=models.F("max_term_months")),
                name="finance_program_term_range",
            ),
            models.CheckConstraint(
                condition=Q(min_down_payment_percent__gte=0) & Q(min_down_payment_percent__lt=100),
                name="finance_program_down_payment_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.bank}: {self.name}"


class CreditProgramRate(models.Model):
    """A rate band: for terms within [min, max] months and a down payment of at least
    ``min_down_payment_percent``. Of the bands that fit, the one with the highest
    down-payment threshold wins (a larger down payment earns a lower rate)."""

    program = models.ForeignKey(
        CreditProgram, models.CASCADE, related_name="rates", verbose_name=_("program")
    )
    min_term_months = models.PositiveSmallIntegerField(_("from, months"))
    max_term_months = models.PositiveSmallIntegerField(_("to, months"))
    min_down_payment_percent = PercentField(_("down payment from, %"), default=Decimal("0"))
    rate = PercentField(_("annual rate, %"))

    class Meta:
        ordering = ["min_term_months", "min_down_payment_percent"]
        verbose_name = _("rate band")
        verbose_name_plural = _("rate bands")
        constraints = [
            models.CheckConstraint(
                condition=Q(rate__gte=0) & Q(rate__lte=100), name="finance_band_rate_range"
            ),
            models.CheckConstraint(
                condition=Q(min_term_months__lte=models.F("max_term_months")),
                name="finance_band_term_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.min_term_months}–{self.max_term_months}: {self.rate} %"


class CreditStage(models.TextChoices):
    CALCULATION = "calculation", _("1. Calculation")
    QUESTIONNAIRE = "questionnaire", _("2. Questionnaire")
    DOCUMENTS = "documents", _("3. Documents")
    CONFIRMATION = "confirmation", _("4. Offer confirmation")


class CreditStatus(models.TextChoices):
    OPEN = "open", _("In progress")
    CONFIRMED = "confirmed", _("Offer confirmed")
    CANCELLED = "cancelled", pgettext_lazy("credit application status", "Cancelled")


class BrokerState(models.TextChoices):
    NOT_SENT = "not_sent", _("Not sent")
    QUEUED = "queued", _("Queued for the broker")
    SENT = "sent", _("At the banks")
    FAILED = "failed", _("Sending failed")


class CreditApplication(TimeStampedModel):
    """One credit application of a sales order (an order may have several, with different
    terms). ``version`` grows when the questionnaire changes after it went to the broker:
    a version is sent once, and only offers for the current version can be confirmed."""

    order = models.ForeignKey(
        Order, models.CASCADE, related_name="credit_applications", verbose_name=_("sales order")
    )
    program = models.ForeignKey(
        CreditProgram,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="applications",
        verbose_name=_("credit program"),
    )
    stage = models.CharField(
        _("stage"), max_length=14, choices=CreditStage.choices, default=CreditStage.CALCULATION
    )
    status = models.CharField(
        _("status"), max_length=10, choices=CreditStatus.choices, default=CreditStatus.OPEN
    )
    version = models.PositiveIntegerField(_("questionnaire version"), default=1)

    order_amount = MoneyField(_("order amount"))
    down_payment = MoneyField(_("down payment"))
    down_payment_percent = PercentField(_("down payment, %"))
    financed_products = MoneyField(_("financed products"), default=Decimal("0"))
    credit_amount = MoneyField(_("credit amount"))
    term_months = models.PositiveSmallIntegerField(_("term, months"))
    rate = PercentField(_("annual rate, %"))
    casco = models.BooleanField(_("CASCO"), default=False)
    monthly_payment = MoneyField(_("monthly payment"))
    total_paid = MoneyField(_("total paid"))
    overpayment = MoneyField(_("overpayment"))

    broker_state = models.CharField(
        _("broker"), max_length=10, choices=BrokerState.choices, default=BrokerState.NOT_SENT
    )
    broker_reference = models.CharField(_("broker's number"), max_length=64, blank=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    chosen_offer = models.ForeignKey(
        "CreditOffer",
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("chosen offer"),
    )
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    cancel_reason = models.CharField(_("cancellation reason"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("credit application")
        verbose_name_plural = _("credit applications")
        constraints = [
            # An order is paid by one credit: the database refuses a second confirmation.
            models.UniqueConstraint(
                fields=["order"],
                condition=Q(status="confirmed"),
                name="finance_one_confirmed_credit_per_order",
            ),
            models.CheckConstraint(
                condition=Q(credit_amount__gt=0) & Q(down_payment__gte=0),
                name="finance_application_amounts",
            ),
        ]

    def __str__(self) -> str:
        return _("Credit application %(id)s") % {"id": self.pk}


class MaritalStatus(models.TextChoices):
    SINGLE = "single", _("Single")
    MARRIED = "married", _("Married")
    DIVORCED = "divorced", _("Divorced")
    WIDOWED = "widowed", _("Widowed")


class CreditApplicant(TimeStampedModel):
    """The questionnaire (анкета) of an application. Identity-document numbers, addresses
    and the like are encrypted at rest; ``passport_last_digits`` is kept plain for look-ups
    and masked display. Reading the encrypted fields goes through finance.pii."""

    application = models.OneToOneField(
        CreditApplication, models.CASCADE, related_name="applicant", verbose_name=_("application")
    )
    last_name = models.CharField(_("last name"), max_length=100)
    first_name = models.CharField(_("first name"), max_length=100)
    patronymic = models.CharField(_("patronymic"), max_length=100, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    birth_place = EncryptedTextField(_("place of birth"), blank=True)
    passport_number = EncryptedTextField(_("passport series and number"), blank=True)
    passport_last_digits = models.CharField(_("passport, last digits"), max_length=4, blank=True)
    passport_issued_by = EncryptedTextField(_("passport issued by"), blank=True)
    passport_issued_on = models.DateField(_("passport issued on"), null=True, blank=True)
    passport_division_code = EncryptedTextField(_("division code"), blank=True)
    registration_address = EncryptedTextField(_("registration address"), blank=True)
    residence_address = EncryptedTextField(_("residence address"), blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    employer = models.CharField(_("employer"), max_length=200, blank=True)
    position = models.CharField(_("position"), max_length=200, blank=True)
    employment_months = models.PositiveSmallIntegerField(
        _("at the current job, months"), null=True, blank=True
    )
    monthly_income = MoneyField(_("monthly income"), null=True, blank=True)
    marital_status = models.CharField(
        _("marital status"), max_length=10, choices=MaritalStatus.choices, blank=True
    )
    dependants = models.PositiveSmallIntegerField(_("dependants"), default=0)
    consent_personal_data = models.BooleanField(
        _("consent to personal data processing"), default=False
    )
    consent_credit_history = models.BooleanField(
        _("consent to a credit history request"), default=False
    )
    consented_at = models.DateTimeField(_("consents given at"), null=True, blank=True)

    class Meta:
        verbose_name = _("applicant")
        verbose_name_plural = _("applicants")

    def __str__(self) -> str:
        return " ".join(part for part in (self.last_name, self.first_name, self.patronymic) if part)


class DocumentKind(models.TextChoices):
    PASSPORT = "passport", _("Passport scan")
    SIGNED_QUESTIONNAIRE = "signed_questionnaire", _("Signed questionnaire")
    INCOME_STATEMENT = "income_statement", _("Income statement")
    DRIVING_LICENCE = "driving_licence", _("Driving licence")
    OTHER = "other", _("Other")


class CreditDocument(TimeStampedModel):
    application = models.ForeignKey(
        CreditApplication, models.CASCADE, related_name="documents", verbose_name=_("application")
    )
    kind = models.CharField(_("kind"), max_length=24, choices=DocumentKind.choices)
    version = models.PositiveIntegerField(_("questionnaire version"), default=1)
    file = models.FileField(_("file"), storage=private_storage, upload_to="credit/%Y/%m/")
    filename = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveIntegerField(_("size, bytes"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("uploaded by"),
    )

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("credit document")
        verbose_name_plural = _("credit documents")

    def __str__(self) -> str:
        return self.filename


class OfferStatus(models.TextChoices):
    APPROVED = "approved", pgettext_lazy("bank decision", "Approved")
    COUNTER_OFFER = "counter_offer", pgettext_lazy("bank decision", "Counter-offer")
    DECLINED = "declined", pgettext_lazy("bank decision", "Declined")


class CreditOffer(TimeStampedModel):
    """A bank's decision on an application, as the broker reported it."""

    application = models.ForeignKey(
        CreditApplication, models.CASCADE, related_name="offers", verbose_name=_("application")
    )
    decision_id = models.CharField(_("broker's decision id"), max_length=64)
    version = models.PositiveIntegerField(_("questionnaire version"))
    bank = models.ForeignKey(Bank, models.PROTECT, related_name="offers", verbose_name=_("bank"))
    status = models.CharField(_("decision"), max_length=14, choices=OfferStatus.choices)
    amount = MoneyField(_("approved amount"), null=True, blank=True)
    rate = PercentField(_("annual rate, %"), null=True, blank=True)
    term_months = models.PositiveSmallIntegerField(_("term, months"), null=True, blank=True)
    monthly_payment = MoneyField(_("monthly payment"), null=True, blank=True)
    required_products = models.ManyToManyField(
        FinancialProduct, blank=True, related_name="+", verbose_name=_("required products")
    )
    required_product_codes = models.JSONField(_("required products (broker codes)"), default=list)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    comment = models.TextField(_("bank's comment"), blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("bank offer")
        verbose_name_plural = _("bank offers")
        constraints = [
            # A repeated callback finds its decision here and changes nothing.
            models.UniqueConstraint(
                fields=["application", "decision_id"], name="finance_offer_decision_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.bank}: {self.get_status_display()}"


class CreditEventKind(models.TextChoices):
    STAGE = "stage", _("Stage")
    STATUS = "status", _("Status")
    BROKER = "broker", _("Broker")
    OFFER = "offer", _("Bank decision")
    DOCUMENT = "document", _("Document")
    CHANGE = "change", _("Changed")


class CreditApplicationEvent(models.Model):
    """The application's history: stages, statuses, submissions, decisions, documents."""

    application = models.ForeignKey(
        CreditApplication, models.CASCADE, related_name="events", verbose_name=_("application")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=CreditEventKind.choices)
    from_value = models.CharField(_("from"), max_length=40, blank=True)
    to_value = models.CharField(_("to"), max_length=40, blank=True)
    text = models.CharField(_("text"), max_length=500, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    changed_at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["changed_at", "pk"]
        verbose_name = _("credit application event")
        verbose_name_plural = _("credit application events")

    def __str__(self) -> str:
        return f"{self.kind}: {self.from_value} → {self.to_value}"


class PiiAccess(models.Model):
    """Who read an applicant's personal data, when, where from (one row per reading)."""

    application = models.ForeignKey(
        CreditApplication,
        models.CASCADE,
        related_name="pii_accesses",
        verbose_name=_("application"),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", verbose_name=_("user")
    )
    accessed_at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)
    channel = models.CharField(_("where"), max_length=10)  # "api", "web"
    fields = models.JSONField(_("fields"), default=list)

    class Meta:
        ordering = ["-accessed_at", "-pk"]
        verbose_name = _("personal data reading")
        verbose_name_plural = _("personal data readings")

    def __str__(self) -> str:
        return f"{self.user} @ {self.accessed_at:%Y-%m-%d %H:%M}"


class BrokerConnection(TimeStampedModel):
    """Credentials of the E-Credit broker: one per dealer center, or the group's default
    (no dealer center). Secrets are encrypted at rest."""

    dealer_center = models.OneToOneField(
        DealerCenter,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="broker_connection",
        verbose_name=_("dealer center"),
        help_text=_("Empty: the group's default connection."),
    )
    name = models.CharField(_("name"), max_length=100)
    base_url = models.URLField(_("API address"))
    login = models.CharField(_("login"), max_length=100)
    api_key = EncryptedTextField(_("API key"))
    callback_secret = EncryptedTextField(_("callback signing secret"))
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("broker connection")
        verbose_name_plural = _("broker connections")
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"],
                condition=Q(dealer_center__isnull=True, is_active=True),
                name="finance_one_default_broker_connection",
            )
        ]

    def __str__(self) -> str:
        return self.name


class SubmissionKind(models.TextChoices):
    APPLICATION = "application", _("Application")
    DOCUMENT = "document", _("Document")


class SubmissionStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class BrokerSubmission(TimeStampedModel):
    """The outbox to the broker. A row per application version (or per document) is
    written in the transaction of the change and sent after commit; the unique
    constraints and the broker's idempotency key make a version go out once."""

    application = models.ForeignKey(
        CreditApplication, models.CASCADE, related_name="submissions", verbose_name=_("application")
    )
    connection = models.ForeignKey(
        BrokerConnection, models.PROTECT, related_name="submissions", verbose_name=_("connection")
    )
    kind = models.CharField(_("kind"), max_length=12, choices=SubmissionKind.choices)
    version = models.PositiveIntegerField(_("questionnaire version"))
    document = models.OneToOneField(
        CreditDocument,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="submission",
        verbose_name=_("document"),
    )
    status = models.CharField(
        _("status"), max_length=8, choices=SubmissionStatus.choices, default=SubmissionStatus.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    broker_reference = models.CharField(_("broker's id"), max_length=64, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("broker submission")
        verbose_name_plural = _("broker submissions")
        constraints = [
            models.UniqueConstraint(
                fields=["application", "version"],
                condition=Q(kind="application"),
                name="finance_submission_once_per_version",
            )
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="finance_submission_due_idx")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.application_id} v{self.version}: {self.status}"

    @property
    def idempotency_key(self) -> str:
        if self.kind == SubmissionKind.DOCUMENT:
            return f"autocrm-doc-{self.document_id}"
        return f"autocrm-{self.application_id}-v{self.version}"


class BrokerCallback(models.Model):
    """The inbox from the broker: a signed callback is stored as received, then applied
    by a task (and by the sweep if that task was lost)."""

    connection = models.ForeignKey(
        BrokerConnection, models.CASCADE, related_name="callbacks", verbose_name=_("connection")
    )
    event_id = models.CharField(_("event id"), max_length=100)
    payload = models.JSONField(_("payload"))
    received_at = models.DateTimeField(_("received at"), auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering = ["received_at", "pk"]
        verbose_name = _("broker callback")
        verbose_name_plural = _("broker callbacks")
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "event_id"], name="finance_callback_event_once"
            )
        ]

    def __str__(self) -> str:
        return self.event_id
