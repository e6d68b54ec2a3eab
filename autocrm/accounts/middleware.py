"""The dealer-center switcher: the chosen dealer center lives in the session."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from autocrm.accounts.scoping import can_see_dealer_center

SESSION_KEY = "active_dealer_center_id"


class ActiveDealerCenterMiddleware:
    """Set ``request.active_dealer_center_id`` (None = all the user may see).

    A stale choice (the user was detached from that dealer center) is dropped, so the
    switcher can only ever narrow what scoping allows.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        active: int | None = None
        if hasattr(request, "session") and request.user.is_authenticated:
            chosen = request.session.get(SESSION_KEY)
            if isinstance(chosen, int) and can_see_dealer_center(request.user, chosen):
                active = chosen
            elif chosen is not None:
                request.session.pop(SESSION_KEY, None)
        request.active_dealer_center_id = active  # type: ignore[attr-defined]
        return self.get_response(request)
