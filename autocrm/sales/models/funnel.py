"""Pipelines, their stages and the deals (сбытовые обращения) that move through them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from autocrm.core.models import TimeStampedModel
from autocrm.sales.models.requests import RequestSource


class PipelineKind(models.TextChoices):
    NEW_CAR = "new_car", _("New-car sale")
    USED_CAR = "used_car", _("Used-car sale")
    SERVICE = "service", _("Service")
    TRADE_IN = "trade_in", _("Trade-in and buy-out")
    OTHER = "other", _("Other")


class Pipeline(TimeStampedModel):
    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(
        _("kind"), max_length=16, choices=PipelineKind.choices, default=PipelineKind.OTHER
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["order", "name"]
        verbose_name = _("pipeline")
        verbose_name_plural = _("pipelines")

    def __str__(self) -> str:
        return self.name


class Stage(models.Model):
    """One column of a pipeline. Won and lost stages end a deal.

    ``allowed_next`` is the stage's part of the transition map: when empty, a deal may go
    from this stage to any other stage of the pipeline; when set, only to those.
    """

    pipeline = models.ForeignKey(
        Pipeline, models.CASCADE, related_name="stages", verbose_name=_("pipeline")
    )
    code = models.SlugField(_("code"), max_length=50)
    name = models.CharField(_("name"), max_length=200)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    is_won = models.BooleanField(_("won"), default=False)
    is_lost = models.BooleanField(_("lost"), default=False)
    requires_vehicle = models.BooleanField(
        _("requires a vehicle of interest"),
        default=False,
        help_text=_("A deal enters this stage only with at least one vehicle of interest."),
    )
    requires_budget = models.BooleanField(_("requires a budget"), default=False)
    allowed_next = models.ManyToManyField(
        "self",
        symmetrical=False,
        blank=True,
        related_name="+",
        verbose_name=_("allowed next stages"),
        help_text=_("Empty: any stage of the pipeline."),
    )
    sla_hours = models.DecimalField(
        _("stage SLA, working hours"),
        max_digits=7,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("How long a deal may stay in this stage; dealer centers may override it."),
    )
    color = models.CharField(_("colour"), max_length=20, blank=True, default="secondary")

    class Meta:
        ordering = ["pipeline", "order", "pk"]
        verbose_name = _("stage")
        verbose_name_plural = _("stages")
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "code"], name="sales_stage_code_unique"),
            models.CheckConstraint(
                condition=~(Q(is_won=True) & Q(is_lost=True)), name="sales_stage_won_or_lost"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_final(self) -> bool:
        return self.is_won or self.is_lost


class LossReason(models.Model):
    name = models.CharField(_("name"), max_length=200)
    pipeline = models.ForeignKey(
        Pipeline,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="loss_reasons",
        verbose_name=_("pipeline"),
        help_text=_("Empty: offered in every pipeline."),
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["order", "name"]
        verbose_name = _("loss reason")
        verbose_name_plural = _("loss reasons")

    def __str__(self) -> str:
        return self.name


class DealState(models.TextChoices):
    OPEN = "open", pgettext_lazy("deal state", "Open")
    WON = "won", pgettext_lazy("deal state", "Won")
    LOST = "lost", pgettext_lazy("deal state", "Lost")


class PaymentIntent(models.TextChoices):
    UNKNOWN = "", _("Not known yet")
    CASH = "cash", _("Cash")
    CREDIT = "credit", _("Credit")
    TRADE_IN = "trade_in", _("Trade-in")
    CREDIT_TRADE_IN = "credit_trade_in", _("Credit and trade-in")


class Deal(TimeStampedModel):
    """A qualified sales request (сбытовое обращение) worked through a pipeline."""

    pipeline = models.ForeignKey(
        Pipeline, models.PROTECT, related_name="deals", verbose_name=_("pipeline")
    )
    stage = models.ForeignKey(Stage, models.PROTECT, related_name="deals", verbose_name=_("stage"))
    state = models.CharField(
        _("state"), max_length=8, choices=DealState.choices, default=DealState.OPEN
    )
    client = models.ForeignKey(
        "clients.Client", models.PROTECT, related_name="deals", verbose_name=_("client")
    )
    request = models.ForeignKey(
        "sales.Request",
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="deals",
        verbose_name=_("request"),
    )
    dealer_center = models.ForeignKey(
        "accounts.DealerCenter",
        models.PROTECT,
        related_name="deals",
        verbose_name=_("dealer center"),
    )
    responsible = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="deals",
        verbose_name=_("responsible manager"),
    )
    title = models.CharField(_("title"), max_length=200, blank=True)
    vehicles = models.ManyToManyField(
        "inventory.Vehicle",
        blank=True,
        related_name="deals",
        verbose_name=_("vehicles of interest"),
    )
    budget = models.DecimalField(
        _("budget"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    payment_intent = models.CharField(
        _("payment"), max_length=16, choices=PaymentIntent.choices, default="", blank=True
    )
    source = models.CharField(
        _("source"), max_length=16, choices=RequestSource.choices, default=RequestSource.MANUAL
    )
    channel = models.ForeignKey(
        "communications.Channel",
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="deals",
        verbose_name=_("channel"),
    )
    topic = models.CharField(_("topic"), max_length=200, blank=True)
    stage_entered_at = models.DateTimeField(_("in the stage since"), default=timezone.now)
    last_activity_at = models.DateTimeField(_("last activity"), default=timezone.now)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    loss_reason = models.ForeignKey(
        LossReason,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="deals",
        verbose_name=_("loss reason"),
    )
    loss_comment = models.TextField(_("loss comment"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Bumped by every write; the board sends it back with a drag so that a card moved by
    # someone else meanwhile is refused instead of silently overwritten.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("deal")
        verbose_name_plural = _("deals")
        indexes = [
            models.Index(
                fields=["pipeline", "stage", "-last_activity_at"],
                condition=Q(state="open"),
                name="deal_board",
            ),
            models.Index(
                fields=["stage", "-closed_at"], condition=~Q(state="open"), name="deal_closed"
            ),
            models.Index(fields=["dealer_center", "state", "-created_at"], name="deal_list"),
            models.Index(fields=["responsible", "state"], name="deal_responsible"),
            models.Index(fields=["client", "-created_at"], name="deal_client"),
            models.Index(fields=["state", "stage_entered_at"], name="deal_idle"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title or self.topic}".strip()


class DealStageChange(models.Model):
    deal = models.ForeignKey(Deal, models.CASCADE, related_name="stage_changes")
    from_stage = models.ForeignKey(Stage, models.PROTECT, null=True, blank=True, related_name="+")
    to_stage = models.ForeignKey(Stage, models.PROTECT, related_name="+")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Set when an automation rule made the move.
    rule = models.ForeignKey(
        "sales.AutomationRule", models.SET_NULL, null=True, blank=True, related_name="+"
    )
    loss_reason = models.ForeignKey(
        LossReason, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["deal", "at"], name="deal_stage_history")]

    def __str__(self) -> str:
        return f"{self.from_stage_id or '-'} → {self.to_stage_id}"
