"""HTML pages of tasks: my tasks, the calendar, the task card, the new-task form, the task
panel of the deal and client cards, and the heads' control view.

Every read goes through the scoped selectors (``task_list``/``task_get``, ``deal_get``,
``client_list``), every write through ``services.tasks``. Times are shown and entered in
the dealer center's time zone (the task's, else the one the user works in).

htmx: a change answers with ``HX-Trigger: taskChanged`` so that task panels and lists on
the page reload themselves; a refused change answers with its 4xx status and the reason
as plain text.
"""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from rules.contrib.views import permission_required

from autocrm.accounts.roles import SUPERVISING_ROLES
from autocrm.accounts.scoping import ALL, visible_dealer_center_ids
from autocrm.accounts.selectors import dealer_center_list, user_list
from autocrm.clients.selectors import client_list
from autocrm.core.errors import DomainError
from autocrm.sales import selectors, selectors_control, services
from autocrm.sales.forms_tasks import (
    CommentForm,
    CompleteForm,
    ControlFilterForm,
    MonthField,
    NoteForm,
    QuickTaskForm,
    TaskForm,
    due_initial,
)
from autocrm.sales.models import Task, TaskStatus

GROUP_LIMIT = 200  # tasks per group of "my tasks"
RECENT_DAYS = 7  # "done recently"
RECENT_LIMIT = 50
CALENDAR_LIMIT = 1000
PANEL_OPEN_LIMIT = 50
PANEL_DONE_LIMIT = 5
TASK_CHANGED = "taskChanged"


# --------------------------------------------------------------------------- helpers


def is_head(user: Any) -> bool:
    return bool(user.is_superuser or user.has_role(*SUPERVISING_ROLES))


def _zone_of(dealer_center: Any) -> tzinfo | None:
    if dealer_center is None:
        return None
    try:
        return zoneinfo.ZoneInfo(dealer_center.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def user_zone(request: HttpRequest) -> tzinfo:
    """The time zone the user works in: the dealer center chosen in the switcher, else his
    only dealer center, else the group's."""
    chosen = getattr(request, "active_dealer_center_id", None)
    if chosen is None:
        visible = visible_dealer_center_ids(request.user)
        if visible is not ALL and visible is not None and len(visible) == 1:
            chosen = next(iter(visible))
    if chosen is not None:
        name = (
            dealer_center_list(user=request.user)
            .filter(pk=chosen)
            .values_list("time_zone", flat=True)
            .first()
        )
        if name:
            try:
                return zoneinfo.ZoneInfo(name)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                pass
    return timezone.get_current_timezone()


def _int_param(value: str | None) -> int | None:
    text = (value or "").strip()
    return int(text) if text.isdigit() and len(text) < 19 else None


def _htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _changed(response: HttpResponse) -> HttpResponse:
    response["HX-Trigger"] = TASK_CHANGED
    return response


def _refused(request: HttpRequest, error: DomainError, back: str) -> HttpResponse:
    if _htmx(request):
        return HttpResponse(
            str(error.message), status=error.status_code, content_type="text/plain; charset=utf-8"
        )
    messages.error(request, str(error.message))
    return HttpResponseRedirect(back)


def _next_url(request: HttpRequest, default: str) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


def _task_or_404(request: HttpRequest, pk: int) -> Task:
    task = selectors.task_get(user=request.user, task_id=pk)
    if task is None:
        raise Http404
    return task


def _employee(request: HttpRequest) -> Any:
    """Whose tasks to show: the user's own, or (for heads) an employee of theirs."""
    raw = request.GET.get("user")
    if not raw:
        return request.user
    pk = _int_param(raw)
    if pk is None:
        raise Http404
    if pk == request.user.pk:
        return request.user
    if not is_head(request.user):
        raise PermissionDenied
    employee = user_list(user=request.user).prefetch_related(None).filter(pk=pk).first()
    if employee is None:
        raise Http404
    return employee


def _employees(request: HttpRequest) -> list[Any]:
    if not is_head(request.user):
        return []
    return list(
        user_list(
            user=request.user,
            active_dealer_center_id=getattr(request, "active_dealer_center_id", None),
        )
        .prefetch_related(None)
        .order_by("last_name", "first_name", "pk")[:500]
    )


def deal_list_url(**query: Any) -> str | None:
    """The deal list filtered, when the deal pages are installed."""
    try:
        base = reverse("sales:deal_list")
    except NoReverseMatch:
        return None
    query = {key: value for key, value in query.items() if value not in (None, "")}
    return f"{base}?{urlencode(query)}" if query else base


def _subject_links(task: Task) -> dict[str, str]:
    links: dict[str, str] = {}
    if task.deal_id:
        links["deal"] = reverse("sales:deal_detail", args=[task.deal_id])
    if task.client_id:
        links["client"] = reverse("clients:detail", args=[task.client_id])
    return links


@dataclass
class TaskRow:
    task: Task
    overdue: bool
    links: dict[str, str] = field(default_factory=dict)


def _rows(tasks: Any, now: datetime) -> list[TaskRow]:
    return [TaskRow(task, task.is_overdue(now), _subject_links(task)) for task in tasks]


def _row_response(request: HttpRequest, task: Task) -> HttpResponse:
    row = TaskRow(task, task.is_overdue(), _subject_links(task))
    with timezone.override(_zone_of(task.dealer_center) or user_zone(request)):
        return render(request, "sales/tasks/_task_item.html", {"row": row, "next": ""})


# --------------------------------------------------------------------------- my tasks


@require_GET
@login_required
def my_tasks(request: HttpRequest) -> HttpResponse:
    employee = _employee(request)
    zone = user_zone(request)
    now = timezone.now()
    with timezone.override(zone):
        today = timezone.localdate(now)
        tomorrow = datetime.combine(today + timedelta(days=1), time.min, tzinfo=zone)
        open_tasks = selectors.task_list(
            user=request.user, status=TaskStatus.OPEN, assignee_id=employee.pk
        )
        groups = [
            ("overdue", _("Overdue"), open_tasks.filter(due_at__lt=now)),
            ("today", _("Today"), open_tasks.filter(due_at__gte=now, due_at__lt=tomorrow)),
            (
                "upcoming",
                _("Upcoming"),
                open_tasks.filter(Q(due_at__gte=tomorrow) | Q(due_at__isnull=True)),
            ),
        ]
        show_done = request.GET.get("done") == "1"
        done = []
        if show_done:
            done = _rows(
                selectors.task_list(
                    user=request.user, status=TaskStatus.DONE, assignee_id=employee.pk
                )
                .filter(completed_at__gte=now - timedelta(days=RECENT_DAYS))
                .order_by("-completed_at", "-pk")[:RECENT_LIMIT],
                now,
            )
        context = {
            "employee": employee,
            "is_own": employee.pk == request.user.pk,
            "employees": _employees(request),
            "groups": [
                {"key": key, "label": label, "rows": _rows(tasks[:GROUP_LIMIT], now)}
                for key, label, tasks in groups
            ],
            "show_done": show_done,
            "done": done,
            "today": today,
            "zone": zone,
            "user_query": "" if employee.pk == request.user.pk else f"user={employee.pk}",
            "next": request.get_full_path(),
        }
        return render(request, "sales/tasks/my_tasks.html", context)


# --------------------------------------------------------------------------- calendar


@dataclass
class CalendarDay:
    day: date
    in_month: bool
    is_today: bool
    rows: list[TaskRow]


@require_GET
@login_required
def task_calendar(request: HttpRequest) -> HttpResponse:
    employee = _employee(request)
    zone = user_zone(request)
    now = timezone.now()
    status = 200
    error = ""
    with timezone.override(zone):
        today = timezone.localdate(now)
        try:
            month = MonthField(required=False).clean(request.GET.get("month"))
        except ValidationError:  # the page falls back to this month
            month, status, error = None, 400, _("Enter a month as YYYY-MM.")
        month = month or today.replace(day=1)
        next_month = (month + timedelta(days=32)).replace(day=1)
        previous_month = (month - timedelta(days=1)).replace(day=1)
        first = month - timedelta(days=month.weekday())
        last = next_month + timedelta(days=(7 - next_month.weekday()) % 7)
        tasks = (
            selectors.task_list(
                user=request.user,
                assignee_id=employee.pk,
                due_from=datetime.combine(first, time.min, tzinfo=zone),
                due_before=datetime.combine(last, time.min, tzinfo=zone),
            )
            .exclude(status=TaskStatus.CANCELLED)
            .order_by("due_at", "pk")[:CALENDAR_LIMIT]
        )
        by_day: dict[date, list[TaskRow]] = defaultdict(list)
        for row in _rows(tasks, now):
            assert row.task.due_at is not None
            by_day[timezone.localdate(row.task.due_at)].append(row)
        weeks = []
        day = first
        while day < last:
            weeks.append(
                [
                    CalendarDay(
                        day=day + timedelta(days=offset),
                        in_month=(day + timedelta(days=offset)).month == month.month,
                        is_today=day + timedelta(days=offset) == today,
                        rows=by_day.get(day + timedelta(days=offset), []),
                    )
                    for offset in range(7)
                ]
            )
            day += timedelta(days=7)
        user_query = "" if employee.pk == request.user.pk else f"&user={employee.pk}"
        context = {
            "employee": employee,
            "is_own": employee.pk == request.user.pk,
            "employees": _employees(request),
            "month": month,
            "weeks": weeks,
            "days_with_tasks": [day for week in weeks for day in week if day.rows],
            "previous_query": f"month={previous_month:%Y-%m}{user_query}",
            "next_query": f"month={next_month:%Y-%m}{user_query}",
            "today_query": f"month={today:%Y-%m}{user_query}",
            "error": error,
            "task_count": sum(len(rows) for rows in by_day.values()),
        }
        return render(request, "sales/tasks/calendar.html", context, status=status)


# --------------------------------------------------------------------------- task card


def _card(
    request: HttpRequest,
    task: Task,
    *,
    comment_form: CommentForm | None = None,
    status: int = 200,
) -> HttpResponse:
    with timezone.override(_zone_of(task.dealer_center) or user_zone(request)):
        context = {
            "task": task,
            "overdue": task.is_overdue(),
            "links": _subject_links(task),
            "history": [
                {
                    "at": change.at,
                    "changed_by": change.changed_by,
                    "from_status": change.from_status,
                    "to_status": change.to_status,
                    "from_label": _status_label(change.from_status),
                    "to_label": _status_label(change.to_status),
                    "note": change.note,
                }
                for change in task.status_changes.select_related("changed_by").order_by("at", "pk")
            ],
            "comments": list(task.comments.select_related("author").order_by("at", "pk")),
            "comment_form": comment_form or CommentForm(),
            "complete_form": CompleteForm(),
            "note_form": NoteForm(),
        }
        return render(request, "sales/tasks/detail.html", context, status=status)


def _status_label(code: str) -> str:
    if not code:
        return ""
    try:
        return str(TaskStatus(code).label)
    except ValueError:
        return code


@require_GET
@login_required
def task_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _card(request, _task_or_404(request, pk))


def _status_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    task = _task_or_404(request, pk)
    back = _next_url(request, reverse("sales:task_detail", args=[task.pk]))
    try:
        if action == "complete":
            form = CompleteForm(request.POST)
            form.is_valid()
            task = services.task_complete(
                actor=request.user, task=task, result=form.cleaned_data.get("result", "")
            )
            text = _("The task is done.")
        else:
            note_form = NoteForm(request.POST)
            note_form.is_valid()
            note = note_form.cleaned_data.get("note", "")
            if action == "cancel":
                task = services.task_cancel(actor=request.user, task=task, note=note)
                text = _("The task is cancelled.")
            else:
                task = services.task_reopen(actor=request.user, task=task, note=note)
                text = _("The task is open again.")
    except DomainError as error:
        return _refused(request, error, back)
    if _htmx(request):
        return _changed(_row_response(request, _task_or_404(request, task.pk)))
    messages.success(request, text)
    return HttpResponseRedirect(back)


@require_POST
@login_required
def task_complete(request: HttpRequest, pk: int) -> HttpResponse:
    return _status_action(request, pk, "complete")


@require_POST
@login_required
def task_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _status_action(request, pk, "cancel")


@require_POST
@login_required
def task_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    return _status_action(request, pk, "reopen")


@require_POST
@login_required
def task_comment(request: HttpRequest, pk: int) -> HttpResponse:
    task = _task_or_404(request, pk)
    back = reverse("sales:task_detail", args=[task.pk])
    form = CommentForm(request.POST)
    if form.is_valid():
        try:
            services.task_comment_add(actor=request.user, task=task, text=form.cleaned_data["text"])
        except DomainError as error:
            form.add_error("text", str(error.message))
        else:
            form = CommentForm()
    if not _htmx(request):
        if form.errors:
            return _card(request, task, comment_form=form, status=400)
        return HttpResponseRedirect(back)
    # htmx swaps only successful answers, so the form comes back with its errors in a 200.
    with timezone.override(_zone_of(task.dealer_center) or user_zone(request)):
        return render(
            request,
            "sales/tasks/_comments.html",
            {
                "task": task,
                "comments": list(task.comments.select_related("author").order_by("at", "pk")),
                "comment_form": form,
            },
        )


@require_http_methods(["GET", "POST"])
@login_required
def task_edit(request: HttpRequest, pk: int) -> HttpResponse:
    task = _task_or_404(request, pk)
    card = reverse("sales:task_detail", args=[task.pk])
    with timezone.override(_zone_of(task.dealer_center) or user_zone(request)):
        kwargs: dict[str, Any] = {
            "dealer_center_id": task.dealer_center_id,
            "keep_assignee": task.assignee,
        }
        status = 200
        if request.method == "POST":
            form = TaskForm(request.POST, **kwargs)
            if form.is_valid():
                data = form.cleaned_data
                wanted = {
                    "title": data["title"].strip(),
                    "description": data["description"],
                    "assignee": data["assignee"],
                    "due_at": data["due_at"],
                    "priority": data["priority"],
                }
                changes = {
                    name: value for name, value in wanted.items() if getattr(task, name) != value
                }
                try:
                    if changes:
                        services.task_update(actor=request.user, task=task, **changes)
                except DomainError as error:
                    if error.status_code != 400:
                        return _refused(request, error, card)
                    name = {"assignee_id": "assignee", "due_at": "due_date"}.get(
                        error.field or "", error.field
                    )
                    form.add_error(name if name in form.fields else None, str(error.message))
                else:
                    messages.success(request, _("The task is saved."))
                    return HttpResponseRedirect(card)
            status = 400
        else:
            form = TaskForm(
                initial={
                    "title": task.title,
                    "description": task.description,
                    "assignee": task.assignee_id,
                    "priority": task.priority,
                    **due_initial(task.due_at),
                },
                **kwargs,
            )
        return render(request, "sales/tasks/edit.html", {"task": task, "form": form}, status=status)


# --------------------------------------------------------------------------- new task


def _deal_or_404(request: HttpRequest, raw: str | None) -> Any:
    pk = _int_param(raw)
    deal = selectors.deal_get(user=request.user, deal_id=pk) if pk is not None else None
    if deal is None:
        raise Http404
    return deal


def _client_or_404(request: HttpRequest, raw: str | None) -> Any:
    pk = _int_param(raw)
    client = (
        client_list(user=request.user).select_related("dealer_center").filter(pk=pk).first()
        if pk is not None
        else None
    )
    if client is None:
        raise Http404
    return client


def _subject(request: HttpRequest) -> tuple[Any, Any]:
    """The deal or client of ``?deal=`` / ``?client=`` (404 when the user does not see it)."""
    deal = client = None
    if request.GET.get("deal"):
        deal = _deal_or_404(request, request.GET.get("deal"))
    elif request.GET.get("client"):
        client = _client_or_404(request, request.GET.get("client"))
    return deal, client


def _default_dealer_center_id(request: HttpRequest) -> int | None:
    chosen = getattr(request, "active_dealer_center_id", None)
    if chosen is not None:
        return int(chosen)
    visible = visible_dealer_center_ids(request.user)
    if visible is not ALL and visible is not None and len(visible) == 1:
        return next(iter(visible))
    return None


@require_http_methods(["GET", "POST"])
@login_required
def task_new(request: HttpRequest) -> HttpResponse:
    deal, client = _subject(request)
    dealer_center = (deal or client).dealer_center if (deal or client) else None
    dealer_center_id = (
        dealer_center.pk if dealer_center is not None else _default_dealer_center_id(request)
    )
    query = f"deal={deal.pk}" if deal else (f"client={client.pk}" if client else "")
    action = reverse("sales:task_new") + (f"?{query}" if query else "")
    if deal is not None:
        back = reverse("sales:deal_detail", args=[deal.pk])
    elif client is not None:
        back = reverse("clients:detail", args=[client.pk])
    else:
        back = ""
    status = 200
    created: Task | None = None
    with timezone.override(_zone_of(dealer_center) or user_zone(request)):
        if request.method == "POST":
            form = TaskForm(
                request.POST,
                dealer_center_id=dealer_center_id,
                dealer_centers=None if dealer_center else _own_dealer_centers(request),
            )
            if form.is_valid():
                data = form.cleaned_data
                if "dealer_center" in data:
                    chosen = data["dealer_center"]
                    dealer_center_id = chosen.pk if chosen is not None else None
                try:
                    created = services.task_create(
                        actor=request.user,
                        title=data["title"],
                        description=data["description"],
                        assignee=data["assignee"],
                        due_at=data["due_at"],
                        priority=data["priority"],
                        deal=deal,
                        client=client,
                        dealer_center_id=None if (deal or client) else dealer_center_id,
                    )
                except DomainError as error:
                    name = {"assignee_id": "assignee", "due_at": "due_date"}.get(
                        error.field or "", error.field
                    )
                    form.add_error(name if name in form.fields else None, str(error.message))
            if created is not None:
                if not _htmx(request):
                    messages.success(request, _("The task is created."))
                    return HttpResponseRedirect(
                        _next_url(request, back or reverse("sales:task_detail", args=[created.pk]))
                    )
                form = _blank_task_form(request, dealer_center_id, deal, client)
            elif not _htmx(request):
                status = 400
        else:
            form = _blank_task_form(request, dealer_center_id, deal, client)
        context = {
            "form": form,
            "deal": deal,
            "client": client,
            "action": action,
            "back": back,
            "created": created,
        }
        if _htmx(request):
            # Errors come back in a 200 too: htmx swaps only successful answers.
            response = render(request, "sales/tasks/_form.html", context)
            return _changed(response) if created is not None else response
        return render(request, "sales/tasks/new.html", context, status=status)


def _own_dealer_centers(request: HttpRequest) -> Any:
    return dealer_center_list(user=request.user).prefetch_related(None).select_related(None)


def _blank_task_form(
    request: HttpRequest, dealer_center_id: int | None, deal: Any, client: Any
) -> TaskForm:
    assignee = deal.responsible_id if deal is not None and deal.responsible_id else request.user.pk
    return TaskForm(
        dealer_center_id=dealer_center_id,
        dealer_centers=None if (deal or client) else _own_dealer_centers(request),
        initial={"assignee": assignee},
    )


# --------------------------------------------------------------------------- task panel


@require_http_methods(["GET", "POST"])
@login_required
def task_panel(request: HttpRequest) -> HttpResponse:
    """The tasks of a deal (``?deal=``) or a client (``?client=``) on their cards: open
    ones (overdue highlighted), the last done ones, a quick-add form and quick complete.
    It reloads itself on ``taskChanged``."""
    deal, client = _subject(request)
    if deal is None and client is None:
        return HttpResponse(
            _("Choose a deal or a client."), status=400, content_type="text/plain; charset=utf-8"
        )
    subject = deal or client
    query = f"deal={deal.pk}" if deal else f"client={client.pk}"
    card = (
        reverse("sales:deal_detail", args=[deal.pk])
        if deal
        else reverse("clients:detail", args=[client.pk])
    )
    form = QuickTaskForm()
    with timezone.override(_zone_of(subject.dealer_center) or user_zone(request)):
        if request.method == "POST":
            form = QuickTaskForm(request.POST)
            if form.is_valid():
                try:
                    services.task_create(
                        actor=request.user,
                        title=form.cleaned_data["title"],
                        due_at=form.cleaned_data["due_at"],
                        assignee=(deal.responsible if deal and deal.responsible else request.user),
                        deal=deal,
                        client=client,
                    )
                except DomainError as error:
                    form.add_error(
                        error.field if error.field in form.fields else None, str(error.message)
                    )
                else:
                    if not _htmx(request):
                        messages.success(request, _("The task is created."))
                        return HttpResponseRedirect(_next_url(request, card))
                    return _changed(HttpResponse(status=204))
            if not _htmx(request):
                for errors in form.errors.values():
                    for text in errors:
                        messages.error(request, str(text))
                return HttpResponseRedirect(_next_url(request, card))
        filters = {"deal_id": deal.pk} if deal else {"client_id": client.pk}
        now = timezone.now()
        open_rows = _rows(
            selectors.task_list(user=request.user, status=TaskStatus.OPEN, **filters)[
                :PANEL_OPEN_LIMIT
            ],
            now,
        )
        done_rows = _rows(
            selectors.task_list(user=request.user, status=TaskStatus.DONE, **filters).order_by(
                "-completed_at", "-pk"
            )[:PANEL_DONE_LIMIT],
            now,
        )
        context = {
            "panel_url": f"{reverse('sales:task_panel')}?{query}",
            "panel_id": f"task-panel-{'deal' if deal else 'client'}-{subject.pk}",
            "new_url": f"{reverse('sales:task_new')}?{query}",
            "card": card,
            "deal": deal,
            "client": client,
            "open_rows": open_rows,
            "done_rows": done_rows,
            "overdue_count": sum(row.overdue for row in open_rows),
            "form": form,
        }
        return render(request, "sales/tasks/_panel.html", context)


# --------------------------------------------------------------------------- control


@require_GET
@login_required
@permission_required("sales.view_control", raise_exception=True)
def control(request: HttpRequest) -> HttpResponse:
    """Heads' view: each manager's open and overdue tasks, open and idle deals; each dealer
    center's first-response and stage SLAs."""
    zone = user_zone(request)
    with timezone.override(zone):
        dealer_centers = dealer_center_list(user=request.user).prefetch_related(None)
        form = ControlFilterForm(request.GET or None, dealer_centers=dealer_centers)
        status = 200
        options: dict[str, Any] = {}
        if form.is_bound:
            if form.is_valid():
                options = {key: value for key, value in form.cleaned_data.items() if value}
            else:
                status = 400
        chosen = options.get("dealer_center")
        report = selectors_control.control_report(
            user=request.user,
            dealer_center_id=chosen.pk if chosen is not None else None,
            idle_days=options.get("idle_days") or selectors_control.DEFAULT_IDLE_DAYS,
            date_from=options.get("date_from"),
            date_to=options.get("date_to"),
        )
        tasks_url = reverse("sales:my_tasks")
        rows = [
            {
                "load": load,
                "tasks_url": f"{tasks_url}?user={load.user.pk}",
                "deals_url": deal_list_url(
                    manager=load.user.pk,
                    dealer_center=chosen.pk if chosen else None,
                    state="open",
                ),
            }
            for load in report.managers
        ]
        context = {
            "form": form,
            "report": report,
            "rows": rows,
            "deals_url": deal_list_url(dealer_center=chosen.pk if chosen else None),
        }
        return render(request, "sales/control/control.html", context, status=status)
