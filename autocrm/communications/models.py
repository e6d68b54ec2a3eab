"""Channels and everything that passes through them: the raw inbox, conversations,
messages with attachments and delivery status, calls, form submissions and showroom visits.

This app stores and sends; it knows nothing of requests or the funnel. The job that turns
a stored inbound event into a client, a message and a request lives in ``sales.intake``.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from autocrm.core.models import TimeStampedModel


class ChannelKind(models.TextChoices):
    TELEGRAM = "telegram", "Telegram"
    WHATSAPP = "whatsapp", "WhatsApp"
    VK = "vk", _("VK")
    EMAIL = "email", _("E-mail")
    WEBFORM = "webform", _("Website form")
    TELEPHONY = "telephony", _("Telephony")


# Channels that carry written conversations (a reply box can use them).
MESSAGING_KINDS = (
    ChannelKind.TELEGRAM,
    ChannelKind.WHATSAPP,
    ChannelKind.VK,
    ChannelKind.EMAIL,
)


def new_webhook_key() -> str:
    return secrets.token_urlsafe(24)


class Channel(TimeStampedModel):
    kind = models.CharField(_("kind"), max_length=16, choices=ChannelKind.choices)
    name = models.CharField(_("name"), max_length=200)
    dealer_center = models.ForeignKey(
        "accounts.DealerCenter",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="channels",
        verbose_name=_("dealer center"),
    )
    # A website form belongs to one of the group's sites.
    site = models.ForeignKey(
        "accounts.Site",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="channels",
        verbose_name=_("site"),
    )
    # Kind-specific settings (tokens, secrets, base URLs); see channels/<kind>/.
    settings = models.JSONField(_("settings"), default=dict, blank=True)
    # The unguessable part of the webhook URL; the kind's secret check still applies.
    webhook_key = models.CharField(max_length=64, unique=True, default=new_webhook_key)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["kind", "name", "pk"]
        verbose_name = _("channel")
        verbose_name_plural = _("channels")

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name}"

    @property
    def webhook_path(self) -> str:
        return f"/hooks/{self.kind}/{self.webhook_key}/"


class InboundStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    DONE = "done", _("Processed")
    FAILED = "failed", _("Failed")
    IGNORED = "ignored", _("Ignored")


class InboundEvent(models.Model):
    """A request from outside, stored as received before anything else is done with it.

    ``external_id`` is the provider's id of the event (Telegram ``update_id``, WhatsApp
    message id ...): the same event delivered twice is stored once.
    """

    channel = models.ForeignKey(Channel, models.PROTECT, related_name="inbound_events")
    # NULL, not "", for events without an id: the unique constraint skips NULLs.
    external_id = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    received_at = models.DateTimeField(default=timezone.now)
    headers = models.JSONField(default=dict, blank=True)
    body = models.TextField(blank=True)
    status = models.CharField(
        max_length=10, choices=InboundStatus.choices, default=InboundStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"],
                condition=Q(external_id__isnull=False),
                name="inbound_event_once",
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="inbound_event_due",
            )
        ]
        verbose_name = _("inbound event")
        verbose_name_plural = _("inbound events")

    def __str__(self) -> str:
        return f"{self.channel_id}:{self.external_id or self.pk}"


class ConversationStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting for an answer")
    ANSWERED = "answered", _("Answered")
    CLOSED = "closed", _("Closed")


class Conversation(TimeStampedModel):
    """A thread with one client in one channel (a chat, an e-mail thread)."""

    channel = models.ForeignKey(Channel, models.PROTECT, related_name="conversations")
    client = models.ForeignKey("clients.Client", models.PROTECT, related_name="conversations")
    # Where replies go: Telegram chat id, WhatsApp id, VK peer id, e-mail address.
    external_thread = models.CharField(max_length=300)
    subject = models.CharField(_("subject"), max_length=500, blank=True)
    dealer_center = models.ForeignKey(
        "accounts.DealerCenter", models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=ConversationStatus.choices,
        default=ConversationStatus.WAITING,
    )
    # The oldest client message not answered yet; None when nothing waits.
    waiting_since = models.DateTimeField(_("waiting since"), null=True, blank=True)
    last_message_at = models.DateTimeField(null=True, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_conversations",
        verbose_name=_("operator"),
    )
    first_response_at = models.DateTimeField(null=True, blank=True)
    first_response_seconds = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-last_message_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "waiting_since"], name="conversation_queue"),
            models.Index(fields=["channel", "external_thread"], name="conversation_thread"),
        ]
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")

    def __str__(self) -> str:
        return f"{self.channel} / {self.client_id}"


class Direction(models.TextChoices):
    INBOUND = "in", _("Incoming")
    OUTBOUND = "out", _("Outgoing")


class MessageStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    QUEUED = "queued", _("Queued")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    READ = "read", _("Read")
    FAILED = "failed", _("Failed")


class Message(models.Model):
    conversation = models.ForeignKey(Conversation, models.PROTECT, related_name="messages")
    # Denormalised from the conversation for the client timeline's index.
    client = models.ForeignKey("clients.Client", models.PROTECT, related_name="messages")
    channel = models.ForeignKey(Channel, models.PROTECT, related_name="messages")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    text = models.TextField(_("text"), blank=True)
    # The provider's message id: for inbound ones it makes a repeat delivery harmless.
    external_id = models.CharField(max_length=300, null=True, blank=True)  # noqa: DJ001
    status = models.CharField(max_length=10, choices=MessageStatus.choices)
    status_reason = models.TextField(blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    # E-mail threading.
    subject = models.CharField(max_length=500, blank=True)
    message_id_header = models.CharField(max_length=500, blank=True, db_index=True)
    in_reply_to = models.CharField(max_length=500, blank=True)
    references = models.TextField(blank=True)
    # Outbound delivery attempts.
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "direction", "external_id"],
                condition=Q(external_id__isnull=False),
                name="message_external_once",
            )
        ]
        indexes = [
            models.Index(fields=["client", "-at", "-id"], name="message_timeline"),
            models.Index(fields=["conversation", "at"], name="message_conversation"),
            models.Index(
                fields=["next_attempt_at"], condition=Q(status="queued"), name="message_outbox"
            ),
        ]
        verbose_name = _("message")
        verbose_name_plural = _("messages")

    def __str__(self) -> str:
        return f"{self.direction} {self.text[:40]}"


class MessageStatusChange(models.Model):
    message = models.ForeignKey(Message, models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=10, blank=True)
    to_status = models.CharField(max_length=10)
    reason = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.from_status or '-'} → {self.to_status}"


def attachment_path(instance: Attachment, filename: str) -> str:
    # Outside the static and media URL space: served only through a view that checks scope.
    return f"attachments/{timezone.now():%Y/%m}/{secrets.token_hex(8)}-{filename[-100:]}"


class Attachment(models.Model):
    message = models.ForeignKey(Message, models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=300, blank=True)
    # Where the provider keeps it when we have not downloaded it (Telegram file id, URL).
    external_ref = models.CharField(max_length=500, blank=True)
    name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return self.name


class CallStatus(models.TextChoices):
    RINGING = "ringing", _("Ringing")
    ANSWERED = "answered", _("Answered")
    FINISHED = "finished", _("Finished")
    MISSED = "missed", _("Missed")


class Call(models.Model):
    channel = models.ForeignKey(Channel, models.PROTECT, related_name="calls")
    external_id = models.CharField(_("call id"), max_length=200)
    client = models.ForeignKey(
        "clients.Client", models.PROTECT, null=True, blank=True, related_name="calls"
    )
    direction = models.CharField(max_length=3, choices=Direction.choices)
    client_number = models.CharField(_("client number"), max_length=20)
    line = models.CharField(_("line"), max_length=50, blank=True)
    operator_extension = models.CharField(_("extension"), max_length=20, blank=True)
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="calls"
    )
    dealer_center = models.ForeignKey(
        "accounts.DealerCenter", models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=10, choices=CallStatus.choices)
    started_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    recording_url = models.URLField(max_length=1000, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["channel", "external_id"], name="call_once")]
        indexes = [models.Index(fields=["client", "-started_at", "-id"], name="call_timeline")]
        verbose_name = _("call")
        verbose_name_plural = _("calls")

    def __str__(self) -> str:
        return f"{self.direction} {self.client_number}"


class FormSubmission(models.Model):
    channel = models.ForeignKey(Channel, models.PROTECT, related_name="form_submissions")
    client = models.ForeignKey("clients.Client", models.PROTECT, related_name="form_submissions")
    inbound_event = models.OneToOneField(
        InboundEvent, models.PROTECT, null=True, blank=True, related_name="form_submission"
    )
    name = models.CharField(max_length=300, blank=True)
    phone = models.CharField(max_length=20, blank=True)
    email = models.CharField(max_length=254, blank=True)
    message = models.TextField(blank=True)
    topic = models.CharField(max_length=200, blank=True)
    vehicle = models.ForeignKey(
        "inventory.Vehicle", models.SET_NULL, null=True, blank=True, related_name="+"
    )
    vehicle_text = models.CharField(max_length=300, blank=True)
    utm = models.JSONField(default=dict, blank=True)
    page_url = models.CharField(max_length=1000, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["client", "-at", "-id"], name="form_timeline")]
        verbose_name = _("form submission")
        verbose_name_plural = _("form submissions")

    def __str__(self) -> str:
        return f"{self.topic or self.pk}"


class VisitPurpose(models.TextChoices):
    PURCHASE = "purchase", _("Buying a car")
    TEST_DRIVE = "test_drive", _("Test drive")
    SERVICE = "service", _("Service")
    TRADE_IN = "trade_in", _("Trade-in / buy-out")
    DELIVERY = "delivery", _("Car delivery")
    DOCUMENTS = "documents", _("Documents")
    OTHER = "other", _("Other")


class Visit(models.Model):
    """A client walking into a showroom, registered by the hostess."""

    client = models.ForeignKey("clients.Client", models.PROTECT, related_name="visits")
    dealer_center = models.ForeignKey(
        "accounts.DealerCenter", models.PROTECT, related_name="visits"
    )
    purpose = models.CharField(_("purpose"), max_length=20, choices=VisitPurpose.choices)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="visits_received",
        verbose_name=_("manager"),
    )
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.TextField(_("note"), blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["client", "-at", "-id"], name="visit_timeline")]
        verbose_name = _("visit")
        verbose_name_plural = _("visits")

    def __str__(self) -> str:
        return f"{self.client_id} @ {self.dealer_center_id}"


class NotificationKind(models.TextChoices):
    GENERAL = "general", _("Other notices")
    VISIT = "visit", _("A client came to the showroom")
    TASK_ASSIGNED = "task_assigned", _("A task is assigned to me")
    TASK_OVERDUE = "task_overdue", _("My task is overdue")
    ESCALATION = "escalation", _("Escalations to me as head")
    DEAL_ASSIGNED = "deal_assigned", _("A deal or request is assigned to me")
    RULE = "rule", _("Notices of automation rules")


# Kinds that also go out by e-mail unless the employee switched it off.
EMAIL_BY_DEFAULT = frozenset(
    {NotificationKind.VISIT, NotificationKind.ESCALATION, NotificationKind.TASK_OVERDUE}
)


class Notification(models.Model):
    """An in-app notice for one employee (a visit handed over, a task assigned)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="notifications")
    kind = models.CharField(
        max_length=16, choices=NotificationKind.choices, default=NotificationKind.GENERAL
    )
    text = models.CharField(max_length=500)
    url = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_unread")]

    def __str__(self) -> str:
        return self.text


class NotificationPreference(models.Model):
    """One employee's choice for one kind of notice; without a row the defaults hold
    (in-app always, e-mail for ``EMAIL_BY_DEFAULT``)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=NotificationKind.choices)
    in_app = models.BooleanField(_("in the app"), default=True)
    email = models.BooleanField(_("by e-mail"), default=False)

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "kind"], name="communications_notification_pref_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}"
