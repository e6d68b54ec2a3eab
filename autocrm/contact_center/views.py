"""The operator's workplace: the inbox of conversations waiting for an answer, and the
pop-up of a call ringing on his extension.

Both refresh by htmx polling (no inline scripts: the CSP allows same-origin files only).
Domain errors (a conversation taken by somebody else a moment ago) become a message in
the list, never a 500.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from rules.contrib.views import permission_required

from autocrm.communications import services as communication_services
from autocrm.communications.models import Conversation
from autocrm.communications.selectors import assignable_users, conversation_get
from autocrm.contact_center import selectors
from autocrm.core.errors import DomainError

# Calls the user has opened or dismissed, kept in his session (a ringing call lives for
# seconds, so no table is worth it).
SEEN_CALLS_SESSION_KEY = "contact_center_seen_calls"
SEEN_CALLS_KEPT = 50


def client_card_url(client_id: int) -> str:
    """The client card's address (the clients app owns that page)."""
    try:
        return reverse("clients:detail", args=[client_id])
    except NoReverseMatch:
        return f"/clients/{client_id}/"


# --- inbox ------------------------------------------------------------------------------


def _show(value: str | None) -> str:
    return value if value in selectors.INBOX_FILTERS else "all"


def _inbox_context(request: HttpRequest, show: str, error: str = "") -> dict[str, Any]:
    user: Any = request.user
    conversations = list(
        selectors.inbox_queue(
            user=user,
            show=show,
            active_dealer_center_id=getattr(request, "active_dealer_center_id", None),
        )[:200]
    )
    can_assign = user.has_perm("contact_center.assign_conversation")
    assignees = (
        selectors.assignees_by_dealer_center(c.dealer_center_id for c in conversations)
        if can_assign
        else {}
    )
    rows = [
        {
            "conversation": conversation,
            "client_url": client_card_url(conversation.client_id),
            "assignees": assignees.get(conversation.dealer_center_id, []),
        }
        for conversation in conversations
    ]
    return {
        "rows": rows,
        "show": show,
        "filters": [
            ("all", _("All waiting")),
            ("mine", _("Mine")),
            ("unassigned", _("Nobody's")),
        ],
        "can_assign": can_assign,
        "now": timezone.now(),
        "error": error,
    }


@require_GET
@login_required
@permission_required("contact_center.view_inbox", raise_exception=True)
def inbox(request: HttpRequest) -> HttpResponse:
    show = _show(request.GET.get("show"))
    return render(request, "contact_center/inbox.html", _inbox_context(request, show))


@require_GET
@login_required
@permission_required("contact_center.view_inbox", raise_exception=True)
def inbox_rows(request: HttpRequest) -> HttpResponse:
    """The list alone, polled by the inbox page every few seconds."""
    show = _show(request.GET.get("show"))
    return render(request, "contact_center/inbox_rows.html", _inbox_context(request, show))


def _conversation_or_404(request: HttpRequest, pk: int) -> Conversation:
    conversation = conversation_get(user=request.user, conversation_id=pk)
    if conversation is None:
        raise Http404
    return conversation


def _after_action(request: HttpRequest, error: str = "", success: str = "") -> HttpResponse:
    show = _show(request.POST.get("show"))
    if getattr(request, "htmx", False):
        context = _inbox_context(request, show, error=error)
        return render(request, "contact_center/inbox_rows.html", context)
    if error:
        messages.error(request, error)
    elif success:
        messages.success(request, success)
    return HttpResponseRedirect(f"{reverse('contact_center:inbox')}?show={show}")


@require_POST
@login_required
@permission_required("contact_center.view_inbox", raise_exception=True)
def conversation_take(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _conversation_or_404(request, pk)
    try:
        communication_services.conversation_take(actor=request.user, conversation=conversation)
    except DomainError as error:
        return _after_action(request, error=str(error.message))
    return _after_action(request, success=_("The conversation is yours."))


@require_POST
@login_required
@permission_required("contact_center.assign_conversation", raise_exception=True)
def conversation_assign(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _conversation_or_404(request, pk)
    raw = (request.POST.get("user") or "").strip()
    user = None
    if raw:
        user = (
            assignable_users(dealer_center_id=conversation.dealer_center_id)
            .filter(pk=int(raw) if raw.isdigit() else 0)
            .first()
        )
        if user is None:
            return _after_action(
                request, error=_("This employee cannot take conversations of this dealer center.")
            )
    communication_services.conversation_assign(
        actor=request.user, conversation=conversation, user=user
    )
    return _after_action(request, success=_("The conversation is handed over."))


# --- the ringing call pop-up --------------------------------------------------------------


def _seen_calls(request: HttpRequest) -> list[int]:
    seen = request.session.get(SEEN_CALLS_SESSION_KEY, [])
    return [value for value in seen if isinstance(value, int)] if isinstance(seen, list) else []


def _mark_seen(request: HttpRequest, call_id: int) -> None:
    seen = [value for value in _seen_calls(request) if value != call_id]
    request.session[SEEN_CALLS_SESSION_KEY] = [*seen, call_id][-SEEN_CALLS_KEPT:]


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("core:home")


@require_GET
@login_required
def ringing_call(request: HttpRequest) -> HttpResponse:
    """The pop-up's content: the call ringing on the user's extension, or nothing."""
    call = selectors.ringing_call_for(user=request.user, seen_ids=_seen_calls(request))
    htmx = getattr(request, "htmx", None)
    context = {
        "call": call,
        "client_url": client_card_url(call.client_id) if call and call.client_id else "",
        # The page the pop-up sits on: where "answer" returns for an unknown caller.
        "back_url": (htmx.current_url_abs_path if htmx else None) or reverse("core:home"),
    }
    return render(request, "contact_center/call_ringing.html", context)


@require_POST
@login_required
def call_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Answering from the pop-up: remember the call as seen and open the client card."""
    call = selectors.ringing_call_get(user=request.user, call_id=pk)
    if call is None:
        raise Http404
    _mark_seen(request, call.pk)
    target = client_card_url(call.client_id) if call.client_id else _safe_next(request)
    if getattr(request, "htmx", False):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target
        return response
    return HttpResponseRedirect(target)


@require_POST
@login_required
def call_dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    call = selectors.ringing_call_get(user=request.user, call_id=pk)
    if call is None:
        raise Http404
    _mark_seen(request, call.pk)
    if getattr(request, "htmx", False):
        return HttpResponse("")
    return HttpResponseRedirect(_safe_next(request))
