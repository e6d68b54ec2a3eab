"""The «Кредитные заявки» page: the credit applications of every order the user sees,
newest first, with filters and a summary (how many, and the confirmed credits' sum).

Rows come from ``credit_selectors.applications_visible_to`` (scoped by dealer center),
narrowed further by the dealer-center switcher. One aggregate query gives the summary and
the paginator's count; one query gives the page's rows with everything a row shows (the
order, its client and dealer center, the chosen offer's bank, the number of offers to the
current version), so the page costs the same for 1 row and for 50.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET
from rules.contrib.views import permission_required

from autocrm.accounts.scoping import can_see_dealer_center, visible_dealer_centers
from autocrm.clients.services import search_text
from autocrm.core.forms import NamedChoiceField
from autocrm.core.money import round_money
from autocrm.finance.credit_selectors import applications_visible_to
from autocrm.finance.models import Bank, CreditApplication, CreditOffer
from autocrm.finance.models.credit import CreditStage, CreditStatus

VIEW = "orders.view_orders"
PAGE_SIZE = 50
# Longer queries are not an order number or a name anybody types.
MAX_QUERY_LENGTH = 100
FILTERS = ("q", "stage", "status", "bank", "dealer_center", "created_from", "created_to")
_SELECT = {"class": "form-select"}
_INPUT = {"class": "form-control"}

view_permission = permission_required(VIEW, raise_exception=True)


class CreditListFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Order No. or client"),
        required=False,
        max_length=MAX_QUERY_LENGTH,
        widget=forms.TextInput(attrs={**_INPUT, "type": "search", "autocomplete": "off"}),
    )
    stage = forms.ChoiceField(
        label=_("Stage"),
        required=False,
        choices=[("", _("Any stage")), *CreditStage.choices],
        widget=forms.Select(attrs=_SELECT),
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("Any status")), *CreditStatus.choices],
        widget=forms.Select(attrs=_SELECT),
    )
    bank = NamedChoiceField(
        label=_("Bank"),
        required=False,
        queryset=Bank.objects.order_by("name").only("id", "name"),
        empty_label=_("Any bank"),
        widget=forms.Select(attrs=_SELECT),
    )
    dealer_center = NamedChoiceField(
        label=_("Dealer center"),
        required=False,
        queryset=None,
        empty_label=_("Any dealer center"),
        widget=forms.Select(attrs=_SELECT),
    )
    created_from = forms.DateField(
        label=_("Created from"),
        required=False,
        widget=forms.DateInput(attrs={**_INPUT, "type": "date"}, format="%Y-%m-%d"),
    )
    created_to = forms.DateField(
        label=_("Created to"),
        required=False,
        widget=forms.DateInput(attrs={**_INPUT, "type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["dealer_center"]
        field.queryset = visible_dealer_centers(user).order_by("name").only("id", "name")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        first, last = data.get("created_from"), data.get("created_to")
        if first and last and first > last:
            self.add_error("created_to", _("The end of the period is before its start."))
        return data

    def filters(self) -> CreditListFilters:
        """The filters of a valid form (none for an unbound or invalid one)."""
        if not self.is_bound or not self.is_valid():
            return CreditListFilters()
        data = self.cleaned_data
        return CreditListFilters(
            stage=data["stage"] or None,
            status=data["status"] or None,
            bank_id=data["bank"].pk if data["bank"] else None,
            dealer_center_id=data["dealer_center"].pk if data["dealer_center"] else None,
            created_from=data["created_from"],
            created_to=data["created_to"],
            query=data["q"],
        )


@dataclass(frozen=True)
class CreditListFilters:
    stage: str | None = None
    status: str | None = None
    bank_id: int | None = None
    dealer_center_id: int | None = None
    created_from: date | None = None
    created_to: date | None = None
    query: str = ""


def _start_of(day: date) -> datetime:
    # Kept a day inside the calendar: shifting its first or last day to UTC overflows.
    day = min(max(day, date.min + timedelta(days=1)), date.max - timedelta(days=1))
    return timezone.make_aware(datetime.combine(day, time.min))


def credit_list_search(
    user: Any, filters: CreditListFilters, *, active_dealer_center_id: int | None = None
) -> QuerySet[CreditApplication]:
    """The applications the user sees matching the filters. Dates are whole days
    (inclusive) in the current time zone; the bank is that of any of the application's
    offers (the chosen one among them); ``query`` is an order's number or words of the
    client's name."""
    queryset = applications_visible_to(user)
    if active_dealer_center_id is not None and can_see_dealer_center(
        user, active_dealer_center_id
    ):  # the switcher narrows, never widens
        queryset = queryset.filter(order__dealer_center_id=active_dealer_center_id)
    if filters.dealer_center_id is not None:
        queryset = queryset.filter(order__dealer_center_id=filters.dealer_center_id)
    if filters.stage:
        queryset = queryset.filter(stage=filters.stage)
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.bank_id is not None:
        queryset = queryset.filter(
            Exists(CreditOffer.objects.filter(application=OuterRef("pk"), bank_id=filters.bank_id))
        )
    if filters.created_from is not None:
        queryset = queryset.filter(created_at__gte=_start_of(filters.created_from))
    if filters.created_to is not None and filters.created_to < date.max - timedelta(days=1):
        queryset = queryset.filter(created_at__lt=_start_of(filters.created_to + timedelta(days=1)))
    text = filters.query.strip()[:MAX_QUERY_LENGTH]
    number = text.removeprefix("№").strip()
    if number.isascii() and number.isdigit():
        # The order's number: "000123" as the card shows it, or "123".
        queryset = queryset.filter(order_id=int(number)) if len(number) < 11 else queryset.none()
    elif text:
        condition = Q()
        for word in search_text(text).split():
            condition &= Q(order__client__search_name__contains=word)
        queryset = queryset.filter(condition)
    return queryset


def _rows(queryset: QuerySet[CreditApplication]) -> QuerySet[CreditApplication]:
    """What each row shows, in the page's one query: the order with its client and dealer
    center, and how many offers answer the current version of the questionnaire."""
    current_offers = (
        CreditOffer.objects.filter(application=OuterRef("pk"), version=OuterRef("version"))
        .order_by()
        .values("application")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return (
        queryset.select_related("order__client", "order__dealer_center")
        .annotate(
            current_offer_count=Coalesce(Subquery(current_offers, output_field=IntegerField()), 0)
        )
        .order_by("-created_at", "-pk")
    )


class _CountedPaginator(Paginator):
    """A paginator told its count (the summary's query has it already)."""

    def __init__(self, object_list: Any, per_page: int, *, count: int) -> None:
        super().__init__(object_list, per_page)
        self._known_count = count

    @cached_property
    def count(self) -> int:
        return self._known_count


def _query(request: HttpRequest) -> str:
    query = QueryDict(mutable=True)
    for key in FILTERS:
        value = request.GET.get(key, "")
        if value:
            query[key] = value
    return query.urlencode()


@require_GET
@login_required
@view_permission
def credit_list(request: HttpRequest) -> HttpResponse:
    form = CreditListFilterForm(request.GET or None, user=request.user)
    queryset = credit_list_search(
        request.user,
        form.filters(),
        active_dealer_center_id=getattr(request, "active_dealer_center_id", None),
    )
    summary = queryset.order_by().aggregate(
        count=Count("pk"),
        confirmed_count=Count("pk", filter=Q(status=CreditStatus.CONFIRMED)),
        confirmed_amount=Sum("credit_amount", filter=Q(status=CreditStatus.CONFIRMED)),
    )
    paginator = _CountedPaginator(_rows(queryset), PAGE_SIZE, count=summary["count"])
    page = paginator.get_page(request.GET.get("page"))
    query = _query(request)
    context = {
        "form": form,
        "page": page,
        "applications": page.object_list,
        "query": query,
        "filtered": bool(query),
        "total": summary["count"],
        "confirmed_count": summary["confirmed_count"],
        "confirmed_amount": round_money(summary["confirmed_amount"] or Decimal("0")),
    }
    status = 400 if form.is_bound and not form.is_valid() else 200
    return render(request, "finance/credit/list.html", context, status=status)
