"""HTML pages of deals."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse

from autocrm.sales import selectors


@login_required
def deal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    deal = selectors.deal_get(user=request.user, deal_id=pk)
    if deal is None:
        raise Http404
    return HttpResponse(str(deal))
