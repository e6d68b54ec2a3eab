"""HTML screens of the stock import: upload, column mapping, progress and the error report."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from rules.contrib.views import permission_required

from autocrm.accounts.models import DealerCenter
from autocrm.accounts.scoping import scope_queryset, visible_dealer_centers
from autocrm.core.errors import DomainError
from autocrm.inventory import imports
from autocrm.inventory.models import ImportStatus, StockImport

ERRORS_SHOWN = 200
RECENT_IMPORTS_SHOWN = 20


def stock_import_queryset(*, user: Any) -> QuerySet[StockImport]:
    """Imports of the dealer centers the user sees (group-wide ones for group-level roles)."""
    return scope_queryset(
        StockImport.objects.select_related("dealer_center", "created_by"), user
    ).order_by("-created_at", "-pk")


def _get_import(request: HttpRequest, pk: int, *, with_errors: bool = False) -> StockImport:
    queryset = stock_import_queryset(user=request.user)
    if not with_errors:
        queryset = queryset.defer("errors")  # polled every second: skip the big column
    stock_import = queryset.filter(pk=pk).first()
    if stock_import is None:
        raise Http404
    return stock_import


class UploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Stock list (CSV or XLSX)"),
        widget=forms.ClearableFileInput(
            attrs={"accept": ".csv,.xlsx,.txt", "class": "form-control"}
        ),
    )
    dealer_center = forms.ModelChoiceField(
        label=gettext_lazy("Dealer center"),
        queryset=DealerCenter.objects.none(),
        widget=forms.Select(attrs={"class": "form-select"}),
    )

    def __init__(self, *args: Any, dealer_centers: QuerySet[DealerCenter], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["dealer_center"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = dealer_centers


class MappingForm(forms.Form):
    """One select per file column: ``column_<index>`` → a vehicle field or nothing."""

    def __init__(self, *args: Any, headers: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices: list[tuple[str, str]] = [("", _("— do not import —"))]
        for key, spec in imports.IMPORT_FIELDS.items():
            label = f"{spec.label} *" if spec.required else str(spec.label)
            choices.append((key, label))
        for index, header in enumerate(headers):
            self.fields[f"column_{index}"] = forms.ChoiceField(
                label=header,
                choices=choices,
                required=False,
                widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
            )

    def mapping(self) -> dict[str, str]:
        return {
            name.removeprefix("column_"): value
            for name, value in self.cleaned_data.items()
            if name.startswith("column_")
        }


def _add_domain_error(form: forms.Form, error: DomainError) -> None:
    field = error.field if error.field in form.fields else None
    form.add_error(field, str(error.message))


@login_required
@permission_required("inventory.import_stock", raise_exception=True)
def import_upload(request: HttpRequest) -> HttpResponse:
    dealer_centers = visible_dealer_centers(request.user).filter(is_active=True)
    active = getattr(request, "active_dealer_center_id", None)
    if active is None:
        only = list(dealer_centers.values_list("pk", flat=True)[:2])
        active = only[0] if len(only) == 1 else None
    form = UploadForm(
        request.POST or None,
        request.FILES or None,
        dealer_centers=dealer_centers,
        initial={"dealer_center": active} if active else None,
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                stock_import = imports.stock_import_upload(
                    actor=request.user,
                    file=form.cleaned_data["file"],
                    dealer_center=form.cleaned_data["dealer_center"],
                )
            except DomainError as error:
                _add_domain_error(form, error)
            else:
                return redirect("inventory:import_mapping", pk=stock_import.pk)
        status = 400
    recent = stock_import_queryset(user=request.user).defer("errors")[:RECENT_IMPORTS_SHOWN]
    return render(
        request,
        "inventory/import_upload.html",
        {
            "form": form,
            "recent_imports": recent,
            "required_fields": [imports.IMPORT_FIELDS[key] for key in imports.REQUIRED_FIELDS],
            "max_size_mb": imports.MAX_FILE_SIZE // (1024 * 1024),
        },
        status=status,
    )


@login_required
@permission_required("inventory.import_stock", raise_exception=True)
def import_mapping(request: HttpRequest, pk: int) -> HttpResponse:
    stock_import = _get_import(request, pk)
    if stock_import.status not in (ImportStatus.UPLOADED, ImportStatus.MAPPED):
        return redirect("inventory:import_detail", pk=stock_import.pk)
    headers: list[str] = list(stock_import.headers)
    initial = {f"column_{index}": key for index, key in stock_import.mapping.items()}
    form = MappingForm(request.POST or None, headers=headers, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                imports.stock_import_set_mapping(
                    actor=request.user, stock_import=stock_import, mapping=form.mapping()
                )
                if request.POST.get("action") != "save":
                    imports.stock_import_run(actor=request.user, stock_import=stock_import)
            except DomainError as error:
                _add_domain_error(form, error)
            else:
                if request.POST.get("action") == "save":
                    messages.success(request, _("The column mapping is saved."))
                    return redirect("inventory:import_mapping", pk=stock_import.pk)
                return redirect("inventory:import_detail", pk=stock_import.pk)
        status = 400
    try:
        preview = imports.stock_import_preview(stock_import=stock_import)
    except DomainError as error:
        preview = []
        messages.error(request, str(error.message))
    # After a refused POST, show what the user chose, not what is saved.
    chosen = form.mapping() if hasattr(form, "cleaned_data") else stock_import.mapping
    mapped = set(chosen.values())
    columns = [
        {
            "index": index,
            "header": header,
            "field": form[f"column_{index}"],
            "samples": [row[index] for row in preview if index < len(row) and row[index]],
        }
        for index, header in enumerate(headers)
    ]
    required = [
        {"label": imports.IMPORT_FIELDS[key].label, "mapped": key in mapped}
        for key in imports.REQUIRED_FIELDS
    ]
    return render(
        request,
        "inventory/import_mapping.html",
        {
            "stock_import": stock_import,
            "form": form,
            "columns": columns,
            "preview": preview,
            "headers": headers,
            "required": required,
        },
        status=status,
    )


def _progress_context(stock_import: StockImport) -> dict[str, Any]:
    finished = stock_import.status in (ImportStatus.DONE, ImportStatus.FAILED)
    unchanged = max(
        stock_import.processed_rows
        - stock_import.created_count
        - stock_import.updated_count
        - stock_import.error_count,
        0,
    )
    return {
        "stock_import": stock_import,
        "finished": finished,
        "polling": stock_import.status == ImportStatus.RUNNING,
        "percent": stock_import.progress_percent,
        "unchanged_count": unchanged,
        "stale": imports.stock_import_is_stale(stock_import, now=timezone.now()),
        "errors": stock_import.errors[:ERRORS_SHOWN] if finished else [],
        "errors_shown": ERRORS_SHOWN,
        "errors_stored": len(stock_import.errors) if finished else 0,
    }


@login_required
@permission_required("inventory.import_stock", raise_exception=True)
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    stock_import = _get_import(request, pk, with_errors=True)
    return render(request, "inventory/import_detail.html", _progress_context(stock_import))


@login_required
@permission_required("inventory.import_stock", raise_exception=True)
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The fragment htmx polls each second while the import runs; the finished fragment has
    no trigger, so polling stops by itself once it is swapped in."""
    stock_import = _get_import(request, pk)
    if stock_import.status in (ImportStatus.DONE, ImportStatus.FAILED):
        stock_import = _get_import(request, pk, with_errors=True)
    return render(request, "inventory/import_progress.html", _progress_context(stock_import))


@login_required
@permission_required("inventory.import_stock", raise_exception=True)
def import_errors(request: HttpRequest, pk: int) -> HttpResponse:
    stock_import = _get_import(request, pk, with_errors=True)
    content = imports.stock_import_errors_csv(stock_import=stock_import)
    response = HttpResponse(content.encode("utf-8-sig"), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="stock-import-{stock_import.pk}-errors.csv"'
    )
    return response


@require_POST
@login_required
@permission_required("inventory.import_stock", raise_exception=True)
def import_run(request: HttpRequest, pk: int) -> HttpResponse:
    """Start a mapped import, or resume a failed one or one whose worker died."""
    stock_import = _get_import(request, pk)
    try:
        imports.stock_import_run(actor=request.user, stock_import=stock_import)
    except DomainError as error:
        messages.error(request, str(error.message))
    return redirect("inventory:import_detail", pk=stock_import.pk)
