"""Admin of the communications app.

Channels are created and changed through ``channel_create`` / ``channel_update``: their
settings are checked by the kind's adapter in the form's ``clean`` (an error on the form,
never a 500), and credentials are shown masked. Everything that came from outside or
went out (inbox events, conversations, messages, calls, visits) is read-only history; the
one thing an administrator does with it is retrying failed inbox events.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from autocrm.communications import selectors, services
from autocrm.communications.channels import get_adapter
from autocrm.communications.models import (
    Call,
    Channel,
    Conversation,
    FormSubmission,
    InboundEvent,
    Message,
    Notification,
    Visit,
)
from autocrm.core.errors import DomainError


class ChannelAdminForm(forms.ModelForm):
    settings = forms.JSONField(
        label=_("settings"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "cols": 80, "class": "vLargeTextField"}),
        help_text=_(
            'JSON object, e.g. {"bot_token": "…", "secret_token": "…"}. Masked secrets '
            "left as they are keep their stored value."
        ),
    )

    class Meta:
        model = Channel
        fields = ["kind", "name", "dealer_center", "site", "settings", "is_active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # Never put a credential into the page; the mask round-trips (see clean).
            self.initial["settings"] = selectors.channel_settings_masked(self.instance)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        kind = cleaned.get("kind") or self.instance.kind
        settings = cleaned.get("settings")
        if settings is None:
            settings = {}
        if not isinstance(settings, dict):
            self.add_error("settings", _("Enter a JSON object."))
            return cleaned
        if not kind or "settings" in self.errors:
            return cleaned
        if self.instance.pk:
            settings = selectors.settings_with_kept_secrets(
                self.instance, {**self.instance.settings, **settings}
            )
        try:
            cleaned["settings"] = get_adapter(kind).clean_settings(dict(settings))
        except ImportError:
            self.add_error("kind", _("This kind of channel is not available yet."))
        except DomainError as error:
            self.add_error("settings", f"{error.field or ''}: {error.message}".lstrip(": "))
        return cleaned


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelAdminForm
    list_display = ["name", "kind", "dealer_center", "is_active", "webhook_path", "masked"]
    list_filter = ["kind", "is_active", "dealer_center"]
    search_fields = ["name"]
    readonly_fields = ["webhook_path"]

    @admin.display(description=_("settings"))
    def masked(self, channel: Channel) -> str:
        return json.dumps(selectors.channel_settings_masked(channel), ensure_ascii=False)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return []
        # The webhook URL carries the kind, and channel_update keeps the dealer center.
        return ["kind", "dealer_center", "site", "webhook_path"]

    def save_model(
        self, request: HttpRequest, obj: Channel, form: forms.ModelForm, change: bool
    ) -> None:
        data = form.cleaned_data
        if change:
            channel = Channel.objects.get(pk=obj.pk)
            services.channel_update(
                actor=request.user,
                channel=channel,
                name=data["name"],
                settings=data["settings"],  # checked whole by the form's clean
                is_active=data["is_active"],
            )
        else:
            channel = services.channel_create(
                actor=request.user,
                kind=data["kind"],
                name=data["name"],
                dealer_center_id=data["dealer_center"].pk if data.get("dealer_center") else None,
                site_id=data["site"].pk if data.get("site") else None,
                settings=data["settings"],
            )
            obj.pk = channel.pk
            obj.webhook_key = channel.webhook_key


class ReadOnlyAdmin(admin.ModelAdmin):
    """History: looked at, never edited by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class HasErrorFilter(admin.SimpleListFilter):
    title = _("last error")
    parameter_name = "has_error"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("With an error")), ("no", _("Without an error"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.exclude(last_error="")
        if self.value() == "no":
            return queryset.filter(last_error="")
        return queryset


@admin.register(InboundEvent)
class InboundEventAdmin(ReadOnlyAdmin):
    list_display = [
        "pk",
        "channel",
        "external_id",
        "status",
        "attempts",
        "received_at",
        "next_attempt_at",
        "processed_at",
        "error_start",
    ]
    list_filter = ["status", "attempts", HasErrorFilter, "channel__kind"]
    search_fields = ["external_id", "last_error"]
    list_select_related = ["channel"]
    actions = ["retry"]

    @admin.display(description=_("last error"))
    def error_start(self, event: InboundEvent) -> str:
        return event.last_error[:120]

    @admin.action(description=_("Try processing the failed events again"))
    def retry(self, request: HttpRequest, queryset: QuerySet[InboundEvent]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        count = services.inbox_retry(actor=request.user, event_ids=ids)
        self.message_user(
            request,
            ngettext(
                "%(count)d failed event will be processed again.",
                "%(count)d failed events will be processed again.",
                count,
            )
            % {"count": count},
            messages.SUCCESS if count else messages.WARNING,
        )


@admin.register(Conversation)
class ConversationAdmin(ReadOnlyAdmin):
    list_display = [
        "pk",
        "client",
        "channel",
        "dealer_center",
        "status",
        "waiting_since",
        "assigned_to",
        "first_response_seconds",
    ]
    list_filter = ["status", "channel__kind"]
    list_select_related = ["client", "channel", "dealer_center", "assigned_to"]


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["pk", "conversation", "direction", "status", "attempts", "at", "status_reason"]
    list_filter = ["direction", "status", "channel__kind"]
    search_fields = ["external_id"]
    list_select_related = ["conversation__channel"]


@admin.register(Call)
class CallAdmin(ReadOnlyAdmin):
    list_display = [
        "external_id",
        "direction",
        "client_number",
        "operator_extension",
        "status",
        "started_at",
        "duration_seconds",
    ]
    list_filter = ["status", "direction"]
    search_fields = ["external_id", "client_number"]


@admin.register(Visit)
class VisitAdmin(ReadOnlyAdmin):
    list_display = ["pk", "client", "dealer_center", "purpose", "manager", "at"]
    list_filter = ["purpose", "dealer_center"]


@admin.register(FormSubmission)
class FormSubmissionAdmin(ReadOnlyAdmin):
    list_display = ["pk", "channel", "client", "topic", "at"]
    list_filter = ["channel"]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["pk", "user", "text", "created_at", "read_at"]
