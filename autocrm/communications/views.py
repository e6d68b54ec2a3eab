"""Screens of the communications app that live on the client card: the reply box, the
delivery-status badge of an outbound message, and attachment downloads.

Who may see a client decides who may see his messages and files (``client_list``); who
may answer is ``communications.use_inbox`` plus the conversation's dealer center.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods
from rules.contrib.views import permission_required

from autocrm.accounts.scoping import scope_queryset
from autocrm.clients import timeline
from autocrm.clients.models import Client
from autocrm.clients.selectors import client_list
from autocrm.communications import services
from autocrm.communications.models import (
    MESSAGING_KINDS,
    Attachment,
    Conversation,
    Direction,
    Message,
    MessageStatus,
    NotificationKind,
)
from autocrm.core.errors import DomainError

# Content types a browser would render or run; such files are always sent as opaque bytes.
_ACTIVE_CONTENT = re.compile(
    r"^(text/html|application/xhtml\+xml|image/svg\+xml|text/xml|application/xml|"
    r"text/javascript|application/javascript|application/ecmascript|text/ecmascript|"
    r"multipart/|message/)",
    re.IGNORECASE,
)
_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$", re.I)
OPAQUE = "application/octet-stream"
# How many conversations the channel choice offers (newest first).
REPLY_CHOICES = 20


def download_content_type(stored: str) -> str:
    """The type to send a stored file with: the stored one when it is a plain, well-formed
    type that browsers do not render as a page or script, else opaque bytes."""
    value = (stored or "").split(";")[0].strip()
    if not value or not _CONTENT_TYPE.match(value) or _ACTIVE_CONTENT.match(value):
        return OPAQUE
    return value.lower()


# --------------------------------------------------------------------------- the reply box


class ReplyForm(forms.Form):
    conversation = forms.TypedChoiceField(
        label=gettext_lazy("Channel"),
        coerce=int,
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    text = forms.CharField(
        label=gettext_lazy("Message"),
        max_length=20_000,
        strip=True,
        widget=forms.Textarea(attrs={"class": "form-control", "rows": 3}),
    )

    def __init__(self, *args: Any, conversations: list[Conversation], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["conversation"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [
            (conversation.pk, conversation_label(conversation)) for conversation in conversations
        ]


def conversation_label(conversation: Conversation) -> str:
    channel = conversation.channel
    parts = [channel.get_kind_display(), channel.name]
    if conversation.subject:
        parts.append(conversation.subject[:60])
    elif conversation.external_thread and channel.kind == "email":
        parts.append(conversation.external_thread)
    return " · ".join(parts)


def reply_conversations(*, user: Any, client: Client) -> QuerySet[Conversation]:
    """The client's conversations the user may answer in: messaging channels that are
    active, in the user's dealer centers; the most recent first."""
    return scope_queryset(
        Conversation.objects.filter(
            client=client, channel__kind__in=MESSAGING_KINDS, channel__is_active=True
        ).select_related("channel"),
        user,
    ).order_by("-last_message_at", "-pk")


def last_used_conversation_id(client: Client, choices: list[Conversation]) -> int | None:
    """The conversation of the client's latest message to us, if the user may answer in
    it; else the most recent conversation offered."""
    if not choices:
        return None
    offered = {conversation.pk for conversation in choices}
    # Newest first through the message_timeline index; stops at the first inbound one.
    latest = (
        Message.objects.filter(
            client=client, direction=Direction.INBOUND, conversation_id__in=offered
        )
        .order_by("-at", "-id")
        .values_list("conversation_id", flat=True)
        .first()
    )
    return latest if latest is not None else choices[0].pk


def _reply_client(request: HttpRequest, client_pk: int) -> Client:
    client = client_list(user=request.user).filter(pk=client_pk).first()
    if client is None or client.merged_into_id is not None:
        raise Http404
    return client


@login_required
@permission_required("communications.use_inbox", raise_exception=True)
@require_http_methods(["GET", "POST"])
def reply_box(request: HttpRequest, client_pk: int) -> HttpResponse:
    """GET: the reply form. POST: queue the message in the chosen conversation; for htmx
    the answer is a fresh form plus the refreshed timeline (swapped out of band)."""
    client = _reply_client(request, client_pk)
    conversations = list(reply_conversations(user=request.user, client=client)[:REPLY_CHOICES])
    default = last_used_conversation_id(client, conversations)
    url = reverse("communications:reply", args=[client.pk])
    if request.method == "GET":
        form = ReplyForm(conversations=conversations, initial={"conversation": default})
        return render(
            request,
            "communications/_reply_box.html",
            {"form": form, "client": client, "url": url, "conversations": conversations},
        )

    form = ReplyForm(request.POST, conversations=conversations)
    sent: Message | None = None
    if form.is_valid():
        conversation = next(c for c in conversations if c.pk == form.cleaned_data["conversation"])
        try:
            sent = services.message_send(
                actor=request.user, conversation=conversation, text=form.cleaned_data["text"]
            )
        except DomainError as error:
            field = error.field if error.field in form.fields else None
            if error.field == "channel":
                field = "conversation"
            form.add_error(field, str(error.message))
    htmx = getattr(request, "htmx", None)
    if not htmx:
        if sent is None:
            for field_errors in form.errors.values():
                for text in field_errors:
                    messages.error(request, str(text))
        return redirect("clients:detail", pk=client.pk)
    context: dict[str, Any] = {
        "form": form,
        "client": client,
        "url": url,
        "conversations": conversations,
    }
    if sent is not None:
        context["form"] = ReplyForm(
            conversations=conversations, initial={"conversation": sent.conversation_id}
        )
        items, next_before = timeline.client_timeline(client=client)
        context.update(
            {
                "sent": sent,
                "oob": True,
                "items": items,
                "next_before": next_before,
                "newest": items[0].cursor.encode() if items else "",
                "timeline_url": reverse("clients:timeline", args=[client.pk]),
            }
        )
    return render(request, "communications/_reply_box.html", context)


# --------------------------------------------------------------------------- status badge


@login_required
@require_GET
def message_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The delivery status of an outbound message; polls itself while it is queued."""
    message = (
        Message.objects.filter(
            pk=pk,
            direction=Direction.OUTBOUND,
            client__in=client_list(user=request.user),
        )
        .only("pk", "status", "status_reason")
        .first()
    )
    if message is None:
        raise Http404
    return render(
        request,
        "clients/_message_status.html",
        {
            "message_id": message.pk,
            "status": message.status,
            "label": message.get_status_display(),
            "reason": message.status_reason,
            "status_url": reverse("communications:message_status", args=[message.pk]),
            "polling": message.status == MessageStatus.QUEUED,
        },
    )


# --------------------------------------------------------------------------- attachments


@login_required
@require_GET
def attachment_download(request: HttpRequest, pk: int) -> FileResponse:
    """A stored attachment, always as a download. Files live outside the media URL space,
    so this view (which checks the client's scope) is the only way to them."""
    attachment = (
        Attachment.objects.filter(pk=pk, message__client__in=client_list(user=request.user))
        .exclude(file="")
        .first()
    )
    if attachment is None:
        raise Http404
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404 from None
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=attachment.name or _("attachment"),
        content_type=download_content_type(attachment.content_type),
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@permission_required("communications.use_inbox", raise_exception=True)
@require_http_methods(["GET", "POST"])
def call_panel(request: HttpRequest, client_pk: int) -> HttpResponse:
    """Click-to-call on the client card: a button per phone; the PBX rings the employee's
    extension, then dials the client. The call itself arrives as the PBX's events."""
    from autocrm.communications.selectors import telephony_channel_for
    from autocrm.communications.telephony import call_originate

    client = _reply_client(request, client_pk)
    channel = telephony_channel_for(user=request.user)
    context: dict[str, Any] = {
        "client": client,
        "phones": list(client.phones.all()),
        "channel": channel,
        "extension": getattr(request.user, "phone_extension", ""),
        "url": reverse("communications:call_panel", args=[client.pk]),
    }
    if request.method == "POST":
        number = request.POST.get("number", "")
        if channel is None:
            context["error"] = _("No telephony channel with click-to-call.")
        else:
            try:
                context["dialled"] = call_originate(
                    actor=request.user, channel=channel, client_id=client.pk, number=number
                )
            except DomainError as error:
                context["error"] = str(error.message)
    return render(request, "communications/_call_panel.html", context)


@login_required
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    """The employee's notices (a visitor handed over ...), newest first; opening the page
    marks them read."""
    from autocrm.communications.selectors import notifications_for

    items = list(notifications_for(user=request.user)[:100])
    unread = [item.pk for item in items if item.read_at is None]
    if unread:
        services.notifications_mark_read(user=request.user, ids=unread)
    return render(
        request,
        "communications/notifications.html",
        {"items": items, "unread": set(unread)},
    )


@login_required
@require_GET
def notification_bell(request: HttpRequest) -> HttpResponse:
    """The header's bell with the unread count; the page polls it."""
    from autocrm.communications.selectors import notifications_for

    notices = notifications_for(user=request.user)
    count = notices.filter(read_at__isnull=True).count()
    return render(
        request,
        "communications/_bell.html",
        {"unread_count": count, "latest": list(notices[:BELL_LATEST])},
    )


# How many notices the bell's dropdown lists.
BELL_LATEST = 5


@login_required
@require_http_methods(["GET", "POST"])
def notification_preferences(request: HttpRequest) -> HttpResponse:
    """Per kind of notice: in the app and/or by e-mail. Without a saved choice the
    defaults hold (in the app always; by e-mail for the kinds in ``EMAIL_BY_DEFAULT``)."""
    if request.method == "POST":
        choices = {
            kind: (f"{kind}-in_app" in request.POST, f"{kind}-email" in request.POST)
            for kind in NotificationKind.values
        }
        try:
            services.notification_preferences_set(user=request.user, choices=choices)
        except DomainError as error:
            messages.error(request, str(error.message))
        else:
            messages.success(request, _("Notification settings saved."))
        return redirect("communications:notification_preferences")
    from autocrm.communications.selectors import notification_preferences_for

    chosen = notification_preferences_for(user=request.user)
    rows = [
        {
            "kind": kind.value,
            "label": kind.label,
            "in_app": chosen[kind.value][0],
            "email": chosen[kind.value][1],
        }
        for kind in NotificationKind
    ]
    return render(
        request,
        "communications/preferences.html",
        {"rows": rows, "has_email": bool(getattr(request.user, "email", ""))},
    )
