"""HTML pages of deals: the Kanban board, the list with its XLSX export, the deal card,
the new-deal form (also qualifying a request) and the deals panel of the client card.

Views parse input, call one selector or service and render. Every read is scoped by the
selectors; a deal outside the user's dealer centers is a 404, never a 403 that would
confirm it exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from io import BytesIO
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    QueryDict,
)
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from rules.contrib.views import permission_required

from autocrm.accounts.scoping import visible_dealer_centers
from autocrm.clients.selectors import client_list
from autocrm.core.errors import DomainError, ValidationFailed
from autocrm.inventory.selectors import vehicle_queryset
from autocrm.sales import selectors, services
from autocrm.sales.forms_deals import (
    MAX_ID,
    BoardFilterForm,
    DealCreateForm,
    DealEditForm,
    DealFilterForm,
    DealMoveForm,
)
from autocrm.sales.models import Deal, Pipeline, Request

PERMISSION = "sales.view_requests"
PAGE_SIZE = 50
BOARD_PAGE = selectors.BOARD_CARDS_PER_STAGE
# "Show more" on the board reads the first ``offset + page`` cards of every column; past
# this the list (filtered by stage) is the better tool.
BOARD_MAX_OFFSET = 1000
CLIENT_PANEL_LIMIT = 20
EXPORT_LIMIT = 50_000
BOARD_FILTERS = ("manager", "dealer_center")
# Field names of the services -> fields of the forms.
_FIELD_OF = {
    "responsible_id": "responsible",
    "dealer_center_id": "dealer_center",
    "client_id": "client",
    "vehicle_ids": "vehicles",
}

view_permission = permission_required(PERMISSION, raise_exception=True)


def _active(request: HttpRequest) -> int | None:
    return getattr(request, "active_dealer_center_id", None)


def _deal_or_404(request: HttpRequest, pk: int) -> Deal:
    deal = selectors.deal_get(user=request.user, deal_id=pk)
    if deal is None:
        raise Http404
    return deal


def _query(request: HttpRequest, keys: Iterable[str]) -> str:
    """The given filters of the current URL as a query string (links keep the filters)."""
    query = QueryDict(mutable=True)
    for key in keys:
        values = [value for value in request.GET.getlist(key) if value]
        if values:
            query.setlist(key, values)
    return query.urlencode()


def _add_error(form: Any, error: DomainError) -> None:
    field = _FIELD_OF.get(error.field or "", error.field)
    form.add_error(field if field in form.fields else None, str(error.message))


# --- board ------------------------------------------------------------------------------


def _cards(deals: Iterable[Deal], now: datetime) -> list[dict[str, Any]]:
    # Only the fields the board selector loads may be touched here and in _card.html:
    # anything else is a query per card.
    return [{"deal": deal, "days": max((now - deal.stage_entered_at).days, 0)} for deal in deals]


def _board_pipeline(code: str) -> tuple[list[Pipeline], Pipeline]:
    pipelines = list(selectors.pipelines_active())
    for pipeline in pipelines:
        if pipeline.code == code:
            return pipelines, pipeline
    raise Http404


@require_GET
@login_required
@view_permission
def deal_board(request: HttpRequest) -> HttpResponse:
    """The board of the first active pipeline."""
    pipeline = selectors.pipelines_active().first()
    if pipeline is None:
        return render(request, "sales/deals/board.html", {"pipelines": [], "columns": []})
    url = reverse("sales:deal_board_pipeline", args=[pipeline.code])
    query = _query(request, BOARD_FILTERS)
    return HttpResponseRedirect(f"{url}?{query}" if query else url)


@require_GET
@login_required
@view_permission
def deal_board_pipeline(request: HttpRequest, code: str) -> HttpResponse:
    pipelines, pipeline = _board_pipeline(code)
    form = BoardFilterForm(request.GET or None, user=request.user)
    columns = selectors.deal_board(
        user=request.user,
        pipeline=pipeline,
        active_dealer_center_id=_active(request),
        **form.filters(),
    )
    now = timezone.now()
    query = _query(request, BOARD_FILTERS)
    has_lost = any(column.stage.is_lost for column in columns)
    context = {
        "pipelines": pipelines,
        "pipeline": pipeline,
        "form": form,
        "query": query,
        "columns": [
            {
                "column": column,
                "cards": _cards(column.deals, now),
                "next_offset": len(column.deals) if column.count > len(column.deals) else None,
            }
            for column in columns
        ],
        "loss_reasons": list(selectors.loss_reasons_for(pipeline)) if has_lost else [],
    }
    status = 400 if form.is_bound and not form.is_valid() else 200
    return render(request, "sales/deals/board.html", context, status=status)


@require_GET
@login_required
@view_permission
def deal_board_column(request: HttpRequest, code: str, stage_code: str) -> HttpResponse:
    """The next cards of one column ("show more")."""
    _pipelines, pipeline = _board_pipeline(code)
    stage = next((stage for stage in pipeline.stages.all() if stage.code == stage_code), None)
    if stage is None:
        raise Http404
    raw = request.GET.get("offset", "")
    if not raw.isdigit() or not 0 < int(raw) <= BOARD_MAX_OFFSET:
        return HttpResponse(_("Bad offset."), status=400, content_type="text/plain")
    offset = int(raw)
    form = BoardFilterForm(request.GET, user=request.user)
    if not form.is_valid():
        return HttpResponse(_("Bad filter."), status=400, content_type="text/plain")
    columns = selectors.deal_board(
        user=request.user,
        pipeline=pipeline,
        active_dealer_center_id=_active(request),
        per_stage=offset + BOARD_PAGE,
        **form.filters(),
    )
    column = next(column for column in columns if column.stage.pk == stage.pk)
    deals = column.deals[offset:]
    shown = offset + len(deals)
    next_offset = shown if column.count > shown and shown < BOARD_MAX_OFFSET else None
    context = {
        "pipeline": pipeline,
        "stage": stage,
        "cards": _cards(deals, timezone.now()),
        "next_offset": next_offset,
        "query": _query(request, BOARD_FILTERS),
    }
    return render(request, "sales/deals/_column_cards.html", context)


# --- stage move -------------------------------------------------------------------------


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@require_POST
@login_required
@view_permission
def deal_move(request: HttpRequest, pk: int) -> HttpResponse:
    """Move a deal to another stage: from the board (JSON) or from the card (htmx/form)."""
    deal = _deal_or_404(request, pk)
    form = DealMoveForm(request.POST)
    try:
        if not form.is_valid():
            field, errors = next(iter(form.errors.items()))
            raise ValidationFailed(str(errors[0]), field=field)
        data = form.cleaned_data
        loss_reason = services.loss_reason_for(deal.pipeline, data["loss_reason"])
        services.deal_move(
            actor=request.user,
            deal=deal,
            stage=data["stage"],
            reason=data["reason"],
            loss_reason=loss_reason,
            expected_version=data["version"],
        )
    except DomainError as error:
        return _move_refused(request, pk, error)
    moved = _deal_or_404(request, pk)
    if _wants_json(request):
        card = render_to_string(
            "sales/deals/_column_cards.html#card",
            {"card": {"deal": moved, "days": 0}},
            request=request,
        )
        return JsonResponse(
            {
                "id": moved.pk,
                "stage": moved.stage.code,
                "state": moved.state,
                "version": moved.version,
                "html": card,
            }
        )
    if request.htmx:  # type: ignore[attr-defined]
        response = _card(request, moved, partial=True)
        # The task panel reloads: entering a stage may have created tasks.
        response["HX-Trigger"] = "taskChanged"
        return response
    messages.success(request, _("The deal is moved to “%(stage)s”.") % {"stage": moved.stage.name})
    return HttpResponseRedirect(reverse("sales:deal_detail", args=[pk]))


def _move_refused(request: HttpRequest, pk: int, error: DomainError) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(error.as_dict(), status=error.status_code)
    deal = _deal_or_404(request, pk)
    posted = request.POST
    move_form = _move_form(
        deal,
        initial={
            "stage": posted.get("stage", "")[:50],
            "loss_reason": posted.get("loss_reason", "")[:200],
            "reason": posted.get("reason", "")[:2000],
        },
    )
    return _card(
        request,
        deal,
        move_form=move_form,
        move_error=error,
        partial=bool(request.htmx),  # type: ignore[attr-defined]
        status=error.status_code,
    )


# --- deal card --------------------------------------------------------------------------


def _move_form(deal: Deal, *, initial: dict[str, Any] | None = None) -> DealMoveForm:
    # The version shown is the one the user is looking at: a move from this card is refused
    # when somebody has changed the deal since.
    return DealMoveForm(
        initial={"stage": deal.stage.code, **(initial or {}), "version": deal.version},
        stages=deal.pipeline.stages.all(),
        loss_reasons=selectors.loss_reasons_for(deal.pipeline),
    )


def _edit_initial(deal: Deal) -> dict[str, Any]:
    return {
        "title": deal.title,
        "topic": deal.topic,
        "budget": deal.budget,
        "payment_intent": deal.payment_intent,
        "responsible": deal.responsible_id,
        "vehicles": " ".join(str(vehicle.pk) for vehicle in deal.vehicles.all()),
    }


def _card(
    request: HttpRequest,
    deal: Deal,
    *,
    move_form: DealMoveForm | None = None,
    move_error: DomainError | None = None,
    edit_form: DealEditForm | None = None,
    partial: bool = False,
    status: int = 200,
) -> HttpResponse:
    if edit_form is None:
        edit_form = DealEditForm(user=request.user, initial=_edit_initial(deal))
    context = {
        "deal": deal,
        "vehicles": list(deal.vehicles.select_related("make", "car_model")),
        "history": list(selectors.deal_stage_history(deal=deal)),
        "move_form": move_form or _move_form(deal),
        "move_error": move_error,
        "move_rule": getattr(move_error, "rule", ""),
        "edit_form": edit_form,
        "edit_open": edit_form.is_bound,
        "days_in_stage": max((timezone.now() - deal.stage_entered_at).days, 0),
    }
    template = "sales/deals/detail.html" + ("#deal-main" if partial else "")
    return render(request, template, context, status=status)


@require_GET
@login_required
@view_permission
def deal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _card(request, _deal_or_404(request, pk))


def _vehicle_ids(request: HttpRequest, deal: Deal, tokens: list[str]) -> list[int]:
    """Vehicles given by number or VIN: cars in stock the user sees, or those the deal
    already has (a car sold meanwhile stays a vehicle of interest)."""
    current = {vehicle.pk: vehicle for vehicle in deal.vehicles.all()}
    visible = vehicle_queryset(user=request.user)
    ids: list[int] = []
    for token in tokens:
        if token.isdigit() and int(token) <= MAX_ID:
            number = int(token)
            if number not in current and not visible.filter(pk=number).exists():
                raise ValidationFailed(
                    _("No vehicle number %(id)s in the stock you see.") % {"id": number},
                    field="vehicles",
                )
            ids.append(number)
            continue
        vin = token.upper()
        found = [pk for pk, vehicle in current.items() if vehicle.vin.upper() == vin] or list(
            visible.filter(vin__iexact=vin).values_list("pk", flat=True)[:2]
        )
        if not found:
            raise ValidationFailed(
                _("No vehicle with VIN %(vin)s in the stock you see.") % {"vin": vin},
                field="vehicles",
            )
        if len(found) > 1:
            raise ValidationFailed(
                _("Several vehicles have VIN %(vin)s; give the vehicle number.") % {"vin": vin},
                field="vehicles",
            )
        ids.append(found[0])
    return ids


@require_POST
@login_required
@view_permission
def deal_edit(request: HttpRequest, pk: int) -> HttpResponse:
    deal = _deal_or_404(request, pk)
    form = DealEditForm(request.POST, user=request.user)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.deal_update(
                actor=request.user,
                deal=deal,
                title=data["title"],
                topic=data["topic"],
                budget=data["budget"],
                payment_intent=data["payment_intent"],
                responsible=data["responsible"],
                vehicle_ids=_vehicle_ids(request, deal, data["vehicles"]),
            )
        except DomainError as error:
            _add_error(form, error)
    htmx = bool(request.htmx)  # type: ignore[attr-defined]
    if form.errors:
        return _card(request, deal, edit_form=form, partial=htmx, status=400)
    deal = _deal_or_404(request, pk)
    if htmx:
        return _card(request, deal, partial=True)
    messages.success(request, _("The deal is saved."))
    return HttpResponseRedirect(reverse("sales:deal_detail", args=[pk]))


# --- list and export --------------------------------------------------------------------

LIST_FILTERS = (
    "manager",
    "dealer_center",
    "pipeline",
    "stage",
    "state",
    "source",
    "created_from",
    "created_to",
)


def _list_form(request: HttpRequest) -> DealFilterForm:
    return DealFilterForm(
        request.GET or None,
        user=request.user,
        pipelines=list(selectors.pipelines_active()),
    )


@require_GET
@login_required
@view_permission
def deal_list(request: HttpRequest) -> HttpResponse:
    form = _list_form(request)
    queryset = selectors.deal_list(
        user=request.user, active_dealer_center_id=_active(request), **form.filters()
    )
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    query = _query(request, LIST_FILTERS)
    status = 400 if form.is_bound and not form.is_valid() else 200
    return render(
        request,
        "sales/deals/list.html",
        {"form": form, "page": page, "query": query},
        status=status,
    )


def _export_columns() -> list[tuple[str, float, str | None]]:
    """(header, column width, number format) in the user's language."""
    return [
        ("№", 8, "0"),
        (_("Created"), 17, "dd.mm.yyyy hh:mm"),
        (_("Pipeline"), 20, None),
        (_("Stage"), 18, None),
        (_("State"), 10, None),
        (_("Client"), 28, None),
        (_("Dealer center"), 22, None),
        (_("Responsible manager"), 24, None),
        (_("Title"), 28, None),
        (_("Topic"), 24, None),
        (_("Budget"), 16, '#,##0.00 "₽"'),
        (_("Payment"), 14, None),
        (_("Source"), 16, None),
        (_("In the stage since"), 17, "dd.mm.yyyy hh:mm"),
        (pgettext("deal", "Closed"), 17, "dd.mm.yyyy hh:mm"),
        (_("Loss reason"), 20, None),
    ]


def _local(value: datetime | None) -> datetime | None:
    # Excel has no time zones: the time as the user reads it on the screen.
    return timezone.localtime(value).replace(tzinfo=None) if value is not None else None


def _export_row(deal: Deal) -> list[Any]:
    return [
        deal.pk,
        _local(deal.created_at),
        deal.pipeline.name,
        deal.stage.name,
        deal.get_state_display(),
        deal.client.display_name,
        deal.dealer_center.name,
        deal.responsible.display_name if deal.responsible else "",
        deal.title,
        deal.topic,
        deal.budget,
        deal.get_payment_intent_display() if deal.payment_intent else "",
        deal.get_source_display(),
        _local(deal.stage_entered_at),
        _local(deal.closed_at),
        deal.loss_reason.name if deal.loss_reason else "",
    ]


def write_deals_xlsx(deals: Iterator[Deal]) -> bytes:
    """openpyxl's write-only mode streams rows, so memory stays flat up to the limit."""
    columns = _export_columns()
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_("Deals"))
    sheet.freeze_panes = "A2"
    for index, (_header, width, _format) in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    bold = Font(bold=True)
    header = []
    for title, _width, _format in columns:
        cell = WriteOnlyCell(sheet, value=title)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for deal in deals:
        row = []
        for value, (_title, _width, number_format) in zip(_export_row(deal), columns, strict=True):
            cell = WriteOnlyCell(sheet, value=value)
            if cell.data_type == "f":
                # Text typed by users that starts with "=" stays text, never a formula.
                cell.data_type = "s"
            if number_format and isinstance(value, int | Decimal | datetime):
                cell.number_format = number_format
            row.append(cell)
        sheet.append(row)
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@require_GET
@login_required
@view_permission
def deal_export(request: HttpRequest) -> HttpResponse:
    form = _list_form(request)
    if form.is_bound and not form.is_valid():
        text = "\n".join(
            f"{field}: {' '.join(str(error) for error in errors)}"
            for field, errors in form.errors.items()
        )
        return HttpResponse(text, status=400, content_type="text/plain; charset=utf-8")
    queryset = selectors.deal_list(
        user=request.user, active_dealer_center_id=_active(request), **form.filters()
    )
    total = queryset.count()
    response = HttpResponse(
        write_deals_xlsx(queryset[:EXPORT_LIMIT].iterator(chunk_size=2000)),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    filename = f"deals-{timezone.localtime().strftime('%Y-%m-%d-%H%M')}.xlsx"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Total-Count"] = str(total)
    return response


# --- new deal ---------------------------------------------------------------------------


def _request_or_404(request: HttpRequest, raw: str) -> Request:
    if not raw.isdigit() or int(raw) > MAX_ID:
        raise Http404
    found = (
        selectors.request_list(user=request.user)
        .select_related("client__dealer_center")
        .filter(pk=int(raw))
        .first()
    )
    if found is None:
        raise Http404
    return found


def _new_initial(request: HttpRequest, sales_request: Request | None) -> dict[str, Any]:
    initial: dict[str, Any] = {}
    pipeline = selectors.pipeline_by_code(request.GET.get("pipeline", "")[:50])
    if pipeline is not None:
        initial["pipeline"] = pipeline.pk
    raw_client = request.GET.get("client", "")
    if sales_request is not None:
        initial["dealer_center"] = sales_request.dealer_center_id
        initial["responsible"] = sales_request.responsible_id
        initial["topic"] = sales_request.topic
    elif raw_client.isdigit() and int(raw_client) <= MAX_ID:
        initial["client"] = int(raw_client)
        client = client_list(user=request.user).filter(pk=int(raw_client)).first()
        if client is not None:
            initial["dealer_center"] = client.dealer_center_id
    if not initial.get("dealer_center"):
        active = _active(request)
        ids = list(visible_dealer_centers(request.user).values_list("pk", flat=True)[:2])
        initial["dealer_center"] = active or (ids[0] if len(ids) == 1 else None)
    return initial


@require_http_methods(["GET", "POST"])
@login_required
@view_permission
def deal_new(request: HttpRequest) -> HttpResponse:
    """A new deal for a client, or (``?request=``) a request of the funnel qualified."""
    raw_request = request.GET.get("request", "")
    sales_request = _request_or_404(request, raw_request) if raw_request else None
    form = DealCreateForm(
        request.POST if request.method == "POST" else None,
        user=request.user,
        pipelines=selectors.pipelines_active(),
        qualifying=sales_request is not None,
        initial=_new_initial(request, sales_request),
    )
    client = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        fields = {
            "responsible": data["responsible"],
            "budget": data["budget"],
            "payment_intent": data["payment_intent"],
            "topic": data["topic"],
            "title": data["title"],
        }
        try:
            if sales_request is not None:
                deal = services.deal_qualify(
                    actor=request.user,
                    request=sales_request,
                    pipeline=data["pipeline"],
                    dealer_center=data["dealer_center"],
                    **fields,
                )
            else:
                client = (
                    client_list(user=request.user, include_merged=False)
                    .filter(pk=data["client"])
                    .first()
                )
                if client is None:
                    raise ValidationFailed(
                        _("No client number %(id)s among the clients you see.")
                        % {"id": data["client"]},
                        field="client",
                    )
                deal = services.deal_create(
                    actor=request.user,
                    client=client,
                    pipeline=data["pipeline"],
                    dealer_center=data["dealer_center"],
                    **fields,
                )
        except DomainError as error:
            _add_error(form, error)
        else:
            messages.success(request, _("Deal #%(id)s is opened.") % {"id": deal.pk})
            return HttpResponseRedirect(reverse("sales:deal_detail", args=[deal.pk]))
    if client is None and sales_request is None:
        client_id = form.initial.get("client")
        if form.is_bound:
            raw = str(form.data.get("client", ""))
            client_id = int(raw) if raw.isdigit() and int(raw) <= MAX_ID else None
        if client_id:
            client = client_list(user=request.user).filter(pk=client_id).first()
    context = {
        "form": form,
        "sales_request": sales_request,
        "client": sales_request.client if sales_request is not None else client,
    }
    return render(request, "sales/deals/new.html", context, status=400 if form.errors else 200)


# --- panel of the client card -----------------------------------------------------------


@require_GET
@login_required
def client_deals_panel(request: HttpRequest, client_id: int) -> HttpResponse:
    """The client's deals on his card (loaded with htmx); empty for users without deals."""
    if not request.user.has_perm(PERMISSION):
        return HttpResponse("")
    if not client_list(user=request.user).filter(pk=client_id).exists():
        raise Http404
    deals = list(
        selectors.deal_list(user=request.user, client_id=client_id)[: CLIENT_PANEL_LIMIT + 1]
    )
    context = {
        "client_id": client_id,
        "deals": deals[:CLIENT_PANEL_LIMIT],
        "more": len(deals) > CLIENT_PANEL_LIMIT,
    }
    return render(request, "sales/deals/_client_deals.html", context)
