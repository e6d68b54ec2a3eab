"""HTML pages of tasks."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse

from autocrm.sales import selectors


@login_required
def task_detail(request: HttpRequest, pk: int) -> HttpResponse:
    task = selectors.task_get(user=request.user, task_id=pk)
    if task is None:
        raise Http404
    return HttpResponse(str(task))
