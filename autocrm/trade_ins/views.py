"""Pages and htmx partials of trade-ins: the order card's «Авто в зачёт» tab with its
booking form and free slots, the appraisers' calendar, the appraisal page with the
client's decision and taking the car into stock, and the photos.

Reads go through the scoped selectors, writes through the services. Times are shown and
entered in the dealer center's time zone. An htmx change of an order's trade-ins answers
with ``HX-Trigger: orderChanged`` so the order card's totals refresh; a refused change
answers with the form and its errors in a 200 (htmx swaps only successful answers).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from autocrm.accounts.scoping import can_see_dealer_center
from autocrm.accounts.selectors import dealer_center_list, site_list
from autocrm.core.errors import DomainError, NotFound
from autocrm.orders.models import Order
from autocrm.orders.selectors import order_get
from autocrm.trade_ins import selectors, services
from autocrm.trade_ins.forms import (
    APPRAISAL_FIELDS,
    RESCHEDULE_FIELDS,
    STOCK_FIELDS,
    TRADE_IN_FIELDS,
    AcceptForm,
    AppraisalForm,
    DefectFormSet,
    PhotoForm,
    ReasonForm,
    RescheduleForm,
    TakeIntoStockForm,
    TradeInForm,
    put_error,
)
from autocrm.trade_ins.models import (
    OPEN_STATUSES,
    TRADE_IN_TRANSITIONS,
    Appraisal,
    AppraisalAppointment,
    AppraisalPhoto,
    AppraisalPlace,
    TradeIn,
    TradeInStatus,
)
from autocrm.trade_ins.scheduling import zone_of

ORDER_CHANGED = "orderChanged"
CALENDAR_LIMIT = 2000


def _htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _require(request: HttpRequest, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied


def _order_or_404(request: HttpRequest, order_id: int) -> Order:
    try:
        return order_get(request.user, order_id)
    except NotFound:
        raise Http404 from None


def _trade_in_or_404(request: HttpRequest, pk: int) -> TradeIn:
    try:
        return selectors.trade_in_get(request.user, pk)
    except NotFound:
        raise Http404 from None


def _appraisal_of(trade_in: TradeIn) -> Appraisal | None:
    try:
        return trade_in.appraisal
    except Appraisal.DoesNotExist:
        return None


@dataclass
class Row:
    trade_in: TradeIn
    appointment: AppraisalAppointment | None
    appraisal: Appraisal | None


def _rows(trade_ins: Any) -> list[Row]:
    return [
        Row(trade_in, selectors.current_appointment(trade_in), _appraisal_of(trade_in))
        for trade_in in trade_ins
    ]


# --------------------------------------------------------------------------- order tab


def _default_day(order: Order) -> date:
    return timezone.localdate(timezone.now(), zone_of(order.dealer_center)) + timedelta(days=1)


def _slots_context(
    order: Order, day: date | None, place: str, chosen: time | None = None
) -> dict[str, Any]:
    if place not in AppraisalPlace.values:
        place = AppraisalPlace.DEALER_CENTER
    plan = (
        selectors.free_slots(dealer_center=order.dealer_center, day=day, place=place)
        if day
        else None
    )
    return {
        "plan": plan,
        "slots": plan.free_slots if plan else [],
        "chosen": chosen.strftime("%H:%M") if chosen else "",
    }


def _tab(
    request: HttpRequest,
    order: Order,
    *,
    form: TradeInForm | None = None,
    changed: bool = False,
    status: int = 200,
) -> HttpResponse:
    with timezone.override(zone_of(order.dealer_center)):
        can_book = request.user.has_perm("trade_ins.book") and order.is_editable
        if form is None:
            form = TradeInForm(initial={"date": _default_day(order)})
        if form.is_bound:
            day = _parse_day(form.data.get("date")) or _default_day(order)
            chosen = _parse_time(form.data.get("time"))
        else:
            day, chosen = form.initial["date"], None
        place = str(form["place"].value() or AppraisalPlace.DEALER_CENTER)
        context = {
            "order": order,
            "rows": _rows(selectors.trade_ins_for_order(request.user, order)),
            "form": form,
            "can_book": can_book,
            "tab_url": reverse("trade_ins:order_tab", args=[order.pk]),
            "slots_url": reverse("trade_ins:order_slots", args=[order.pk]),
            **_slots_context(order, day, place, chosen),
        }
        template = (
            "trade_ins/_order_tab.html" if _htmx(request) else "trade_ins/order_tab_page.html"
        )
        response = render(request, template, context, status=status)
    if changed:
        response["HX-Trigger"] = ORDER_CHANGED
    return response


def _parse_time(value: Any) -> time | None:
    try:
        return time.fromisoformat(str(value or "").strip()[:5])
    except ValueError:
        return None


def _parse_day(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value or "").strip()[:10])
    except ValueError:
        return None


@require_http_methods(["GET", "POST"])
@login_required
def order_tab(request: HttpRequest, order_id: int) -> HttpResponse:
    """GET: the order's trade-ins and the booking form. POST: book an inspection."""
    _require(request, "trade_ins.view_trade_ins")
    order = _order_or_404(request, order_id)
    if request.method == "GET":
        return _tab(request, order)
    _require(request, "trade_ins.book")
    with timezone.override(zone_of(order.dealer_center)):
        form = TradeInForm(request.POST)
        if form.is_valid() and request.POST.get("action") != "slots":
            data = form.cleaned_data
            try:
                trade_in = services.trade_in_create(
                    actor=request.user,
                    order=order,
                    make=data["make"],
                    model=data["model"],
                    plate=data["plate"],
                    vin=data["vin"],
                    year=data["year"],
                    place=data["place"],
                    address=data["address"],
                    starts_at=form.starts_at(),
                )
            except DomainError as error:
                put_error(form, error, TRADE_IN_FIELDS)
            else:
                if not _htmx(request):
                    messages.success(
                        request,
                        _("The inspection of %(car)s is booked.") % {"car": trade_in},
                    )
                return _tab(request, order_get(request.user, order.pk), changed=True)
    if request.POST.get("action") == "slots":
        return _tab(request, order, form=form)  # only the free times of another day
    failed = 200 if _htmx(request) else 400
    return _tab(request, order, form=form, status=failed)


@require_GET
@login_required
def order_slots(request: HttpRequest, order_id: int) -> HttpResponse:
    """The free times of the chosen day as buttons (radio inputs of the booking form)."""
    _require(request, "trade_ins.view_free_slots")
    order = _order_or_404(request, order_id)
    day = _parse_day(request.GET.get("date"))
    place = request.GET.get("place", AppraisalPlace.DEALER_CENTER)
    with timezone.override(zone_of(order.dealer_center)):
        context = {"order": order, **_slots_context(order, day, place)}
        return render(request, "trade_ins/_slots.html", context)


# --------------------------------------------------------------------------- calendar


@dataclass
class CalendarDay:
    day: date
    is_today: bool
    by_appraiser: list[tuple[Any, list[AppraisalAppointment]]]


@require_GET
@login_required
def calendar(request: HttpRequest) -> HttpResponse:
    """Inspections per day and appraiser: a day or a week. Heads and the sales floor see
    every appraiser of their dealer centers; an appraiser sees his own."""
    _require(request, "trade_ins.view_calendar")
    user = request.user
    centers = list(
        dealer_center_list(
            user=user, active_dealer_center_id=getattr(request, "active_dealer_center_id", None)
        ).order_by("name")
    )
    dealer_center = centers[0] if centers else None
    chosen = request.GET.get("dealer_center")
    if chosen and chosen.isdigit():
        dealer_center = next((dc for dc in centers if dc.pk == int(chosen)), dealer_center)
    zone = zone_of(dealer_center) if dealer_center else timezone.get_current_timezone()
    with timezone.override(zone):
        today = timezone.localdate()
        first = _parse_day(request.GET.get("date")) or today
        view = "day" if request.GET.get("view") == "day" else "week"
        if view == "week":
            first -= timedelta(days=first.weekday())
        days = 1 if view == "day" else 7
        start = datetime.combine(first, time.min, tzinfo=zone)
        end = start + timedelta(days=days)
        appraisers: list[Any]
        if selectors.sees_every_calendar(user):
            appraisers = list(
                selectors.appraisers_visible(
                    user, dealer_center_id=dealer_center.pk if dealer_center else None
                )
            )
        else:
            appraisers = [user]
        appointments = list(
            selectors.appointments_between(
                user, start=start, end=end, appraiser_ids=[a.pk for a in appraisers]
            )[:CALENDAR_LIMIT]
        )
        grouped: dict[tuple[date, int], list[AppraisalAppointment]] = defaultdict(list)
        for appointment in appointments:
            grouped[(timezone.localdate(appointment.starts_at), appointment.appraiser_id)].append(
                appointment
            )
        calendar_days = []
        for offset in range(days):
            day = first + timedelta(days=offset)
            calendar_days.append(
                CalendarDay(
                    day,
                    day == today,
                    [(appraiser, grouped.get((day, appraiser.pk), [])) for appraiser in appraisers],
                )
            )
        step = timedelta(days=days)
        base = {"view": view}
        if dealer_center is not None:
            base["dealer_center"] = str(dealer_center.pk)
        context = {
            "days": calendar_days,
            "view": view,
            "first": first,
            "last": first + timedelta(days=days - 1),
            "appraisers": appraisers,
            "dealer_centers": centers,
            "dealer_center": dealer_center,
            "previous_query": _query(base, first - step),
            "next_query": _query(base, first + step),
            "today_query": _query(base, today),
            "day_query": _query({**base, "view": "day"}, first),
            "week_query": _query({**base, "view": "week"}, first),
            "appointment_count": len(appointments),
        }
        return render(request, "trade_ins/calendar.html", context)


def _query(base: dict[str, str], day: date) -> str:
    return urlencode({**base, "date": day.isoformat()})


# --------------------------------------------------------------------------- appraisal


def _appraisal_initial(trade_in: TradeIn, appraisal: Appraisal | None) -> dict[str, Any]:
    if appraisal is None:
        return {"mileage": trade_in.mileage}
    return {
        "offered_price": appraisal.offered_price,
        "valid_until": appraisal.valid_until,
        "comment": appraisal.comment,
        "mileage": trade_in.mileage,
        **{f"check_{key}": value for key, value in (appraisal.checklist or {}).items()},
    }


def _page(
    request: HttpRequest,
    trade_in: TradeIn,
    *,
    appraisal_form: AppraisalForm | None = None,
    defects: Any = None,
    accept_form: AcceptForm | None = None,
    stock_form: TakeIntoStockForm | None = None,
    reschedule_form: RescheduleForm | None = None,
    photo_form: PhotoForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    appraisal = _appraisal_of(trade_in)
    appointment = selectors.current_appointment(trade_in)
    with timezone.override(zone_of(trade_in.dealer_center)):
        if appraisal_form is None:
            appraisal_form = AppraisalForm(initial=_appraisal_initial(trade_in, appraisal))
        if defects is None:
            defects = DefectFormSet(
                initial=[
                    {
                        "zone": defect.zone,
                        "kind": defect.kind,
                        "severity": defect.severity,
                        "note": defect.note,
                        "repair_estimate": defect.repair_estimate,
                    }
                    for defect in (appraisal.defects.all() if appraisal else [])
                ],
                prefix="defects",
            )
        sites = site_list(user=user).filter(is_active=True).order_by("name")
        if trade_in.dealer_center_id:
            own = sites.filter(dealer_center_id=trade_in.dealer_center_id)
            sites = own if own.exists() else sites
        allowed = TRADE_IN_TRANSITIONS[trade_in.status]
        local_start = timezone.localtime(appointment.starts_at) if appointment else None
        context = {
            "trade_in": trade_in,
            "appraisal": appraisal,
            "appointment": appointment,
            "history": list(trade_in.status_changes.select_related("changed_by")),
            "photos": list(trade_in.photos.all()),
            "appraisal_form": appraisal_form,
            "defects": defects,
            "accept_form": accept_form
            or AcceptForm(initial={"amount": appraisal.offered_price if appraisal else None}),
            "decline_form": ReasonForm(),
            "cancel_form": ReasonForm(),
            "stock_form": stock_form
            or TakeIntoStockForm(
                sites=sites,
                initial={"site": sites.first(), "mileage": trade_in.mileage},
            ),
            "reschedule_form": reschedule_form
            or RescheduleForm(
                initial={
                    "place": appointment.place if appointment else AppraisalPlace.DEALER_CENTER,
                    "address": appointment.address
                    if appointment and appointment.place == AppraisalPlace.CLIENT_ADDRESS
                    else "",
                    "date": local_start.date() if local_start else None,
                    "time": local_start.time() if local_start else None,
                }
            ),
            "photo_form": photo_form or PhotoForm(),
            "can_appraise": user.has_perm("trade_ins.appraise")
            and trade_in.status in (TradeInStatus.APPRAISAL_SCHEDULED, TradeInStatus.APPRAISED),
            "can_accept": user.has_perm("trade_ins.accept") and TradeInStatus.ACCEPTED in allowed,
            "can_decline": user.has_perm("trade_ins.decline") and TradeInStatus.DECLINED in allowed,
            "can_stock": user.has_perm("trade_ins.take_into_stock")
            and TradeInStatus.TAKEN_INTO_STOCK in allowed,
            "can_reschedule": user.has_perm("trade_ins.reschedule")
            and trade_in.status == TradeInStatus.APPRAISAL_SCHEDULED,
            "can_cancel": user.has_perm("trade_ins.reschedule")
            and TradeInStatus.CANCELLED in allowed,
            "can_photo": user.has_perm("trade_ins.appraise") and trade_in.status in OPEN_STATUSES,
        }
        return render(request, "trade_ins/appraisal.html", context, status=status)


@require_http_methods(["GET", "POST"])
@login_required
def appraisal(request: HttpRequest, pk: int) -> HttpResponse:
    """The trade-in's page: the appraisal form (checklist, defects, photos, price, valid
    until) and the decisions that follow it."""
    _require(request, "trade_ins.view_trade_ins")
    trade_in = _trade_in_or_404(request, pk)
    if request.method == "GET":
        return _page(request, trade_in)
    _require(request, "trade_ins.appraise")
    with timezone.override(zone_of(trade_in.dealer_center)):
        form = AppraisalForm(request.POST)
        defects = DefectFormSet(request.POST, prefix="defects")
        if form.is_valid() and defects.is_valid():
            rows = [
                services.DefectInput(
                    zone=defect.cleaned_data["zone"],
                    kind=defect.cleaned_data["kind"],
                    severity=defect.cleaned_data["severity"],
                    note=defect.cleaned_data.get("note", ""),
                    repair_estimate=defect.cleaned_data.get("repair_estimate") or 0,
                )
                for defect in defects.forms
                if defect.has_changed() and not defect.is_blank()
            ]
            try:
                services.appraisal_record(
                    actor=request.user,
                    trade_in=trade_in,
                    checklist=form.checklist(),
                    defects=rows,
                    offered_price=form.cleaned_data["offered_price"],
                    valid_until=form.cleaned_data["valid_until"],
                    comment=form.cleaned_data["comment"],
                    mileage=form.cleaned_data["mileage"],
                )
            except DomainError as error:
                if error.status_code != 400:
                    return _refused(request, error, trade_in)
                put_error(form, error, APPRAISAL_FIELDS)
            else:
                messages.success(request, _("The appraisal is saved."))
                return _done(request, trade_in)
    return _page(request, trade_in, appraisal_form=form, defects=defects, status=400)


def _back(trade_in: TradeIn) -> str:
    return reverse("trade_ins:appraisal", args=[trade_in.pk])


def _done(request: HttpRequest, trade_in: TradeIn) -> HttpResponse:
    if _htmx(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = _back(trade_in)
        response["HX-Trigger"] = ORDER_CHANGED
        return response
    return HttpResponseRedirect(_back(trade_in))


def _refused(request: HttpRequest, error: DomainError, trade_in: TradeIn) -> HttpResponse:
    if _htmx(request):
        return HttpResponse(
            str(error.message), status=error.status_code, content_type="text/plain; charset=utf-8"
        )
    messages.error(request, str(error.message))
    return HttpResponseRedirect(_back(trade_in))


@require_POST
@login_required
def accept(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "trade_ins.accept")
    trade_in = _trade_in_or_404(request, pk)
    form = AcceptForm(request.POST)
    if form.is_valid():
        try:
            services.trade_in_accept(
                actor=request.user, trade_in=trade_in, amount=form.cleaned_data["amount"]
            )
        except DomainError as error:
            if error.status_code != 400:
                return _refused(request, error, trade_in)
            put_error(form, error, {})
        else:
            messages.success(request, _("The offer is accepted and credited to the order."))
            return _done(request, trade_in)
    return _page(request, trade_in, accept_form=form, status=400)


def _with_reason(
    request: HttpRequest, pk: int, permission: str, service: Any, done: str
) -> HttpResponse:
    """A decision that takes only a reason: decline the offer, cancel the trade-in."""
    _require(request, permission)
    trade_in = _trade_in_or_404(request, pk)
    form = ReasonForm(request.POST)
    form.is_valid()
    try:
        service(actor=request.user, trade_in=trade_in, reason=form.cleaned_data.get("reason", ""))
    except DomainError as error:
        return _refused(request, error, trade_in)
    messages.success(request, done)
    return _done(request, trade_in)


@require_POST
@login_required
def decline(request: HttpRequest, pk: int) -> HttpResponse:
    return _with_reason(
        request, pk, "trade_ins.decline", services.trade_in_decline, _("The offer is declined.")
    )


@require_POST
@login_required
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _with_reason(
        request,
        pk,
        "trade_ins.reschedule",
        services.trade_in_cancel,
        _("The trade-in is cancelled."),
    )


@require_POST
@login_required
def reschedule(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "trade_ins.reschedule")
    trade_in = _trade_in_or_404(request, pk)
    with timezone.override(zone_of(trade_in.dealer_center)):
        form = RescheduleForm(request.POST)
        if form.is_valid():
            try:
                services.appointment_reschedule(
                    actor=request.user,
                    trade_in=trade_in,
                    starts_at=form.starts_at(),
                    place=form.cleaned_data["place"],
                    address=form.cleaned_data["address"],
                )
            except DomainError as error:
                if error.status_code not in (400, 409):
                    return _refused(request, error, trade_in)
                put_error(form, error, RESCHEDULE_FIELDS)
            else:
                messages.success(request, _("The inspection is moved."))
                return _done(request, trade_in)
    return _page(request, trade_in, reschedule_form=form, status=400)


@require_POST
@login_required
def take_into_stock(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "trade_ins.take_into_stock")
    trade_in = _trade_in_or_404(request, pk)
    sites = site_list(user=request.user).filter(is_active=True).order_by("name")
    form = TakeIntoStockForm(request.POST, sites=sites)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.trade_in_take_into_stock(
                actor=request.user,
                trade_in=trade_in,
                site=data["site"],
                price=data["price"],
                stock_code=data["stock_code"],
                mileage=data["mileage"],
            )
        except DomainError as error:
            if error.status_code not in (400, 409):
                return _refused(request, error, trade_in)
            put_error(form, error, STOCK_FIELDS)
        else:
            messages.success(request, _("The car is taken into stock."))
            return _done(request, trade_in)
    return _page(request, trade_in, stock_form=form, status=400)


@require_POST
@login_required
def photo_upload(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "trade_ins.appraise")
    trade_in = _trade_in_or_404(request, pk)
    form = PhotoForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.appraisal_photo_add(
                actor=request.user,
                trade_in=trade_in,
                upload=form.cleaned_data["file"],
                caption=form.cleaned_data["caption"],
            )
        except DomainError as error:
            if error.status_code != 400:
                return _refused(request, error, trade_in)
            put_error(form, error, {})
        else:
            messages.success(request, _("The photo is added."))
            return _done(request, trade_in)
    return _page(request, trade_in, photo_form=form, status=400)


@require_GET
@login_required
def photo(request: HttpRequest, pk: int, photo_id: int) -> FileResponse:
    """A photo, to users who see the trade-in only (the file is outside the web root)."""
    _require(request, "trade_ins.view_trade_ins")
    trade_in = _trade_in_or_404(request, pk)
    found = AppraisalPhoto.objects.filter(trade_in=trade_in, pk=photo_id).first()
    if found is None or not can_see_dealer_center(request.user, trade_in.dealer_center_id):
        raise Http404
    try:
        handle = found.image.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(handle, content_type=found.content_type)
    response["Content-Disposition"] = "inline"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    return response
