"""The printable invoice: the Russian "Счёт на оплату" form (WeasyPrint).

The form is a Russian document whatever the language of the employee's screen, so it is
rendered in the project's default language (Russian); its words are ordinary msgids.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from autocrm.core.pdf import render_pdf
from autocrm.orders.models import Invoice, InvoiceStatus
from autocrm.orders.money_words import amount_in_words_ru, format_money

__all__ = [
    "amount_in_words_ru",
    "invoice_filename",
    "invoice_pdf_context",
    "render_invoice_html",
    "render_invoice_pdf",
]

TEMPLATE = "orders/invoices/pdf/invoice.html"


def _rate_text(rate: Decimal) -> str:
    """22.00 → "22", 10.50 → "10,5" (as the form prints the VAT rate)."""
    text = f"{rate.normalize():f}"
    return text.replace(".", ",")


def _car(invoice: Invoice) -> str:
    order = invoice.order
    vehicle = order.vehicle
    if vehicle is not None:
        parts = [vehicle.make.name, vehicle.car_model.name]
        if vehicle.trim is not None:
            parts.append(vehicle.trim.name)
        return f"{' '.join(parts)}, VIN {vehicle.vin}"
    importer_order = getattr(order, "importer_order", None)
    if importer_order is not None:
        return f"{importer_order.make.name} {importer_order}"
    return ""


def invoice_line_text(invoice: Invoice) -> str:
    """What the goods table says is paid for: the invoice's own description, else the
    kind of payment, the order and the car."""
    if invoice.description:
        return invoice.description
    text = _("%(kind)s under sales order No. %(order)s") % {
        "kind": invoice.get_kind_display(),
        "order": invoice.order.number,
    }
    car = _car(invoice)
    return f"{text}: {car}" if car else text


def invoice_filename(invoice: Invoice) -> str:
    return f"invoice-{invoice.number}.pdf"


def invoice_pdf_context(invoice: Invoice) -> dict[str, Any]:
    order = invoice.order
    client = order.client
    phone = client.phones.order_by("-is_primary", "pk").first()
    line = {
        "position": 1,
        "name": invoice_line_text(invoice),
        "quantity": 1,
        "unit": _("pcs"),
        "price": format_money(invoice.amount),
        "sum": format_money(invoice.amount),
    }
    return {
        "invoice": invoice,
        "issuer": invoice.issuer,
        "order": order,
        "client": client,
        "client_phone": phone.number if phone is not None else "",
        "lines": [line],
        "line_count": 1,
        "total": format_money(invoice.amount),
        "vat_amount": format_money(invoice.vat_amount),
        "vat_rate": _rate_text(invoice.vat_rate),
        "has_vat": invoice.vat_rate > 0,
        "amount_in_words": amount_in_words_ru(invoice.amount),
        "is_cancelled": invoice.status == InvoiceStatus.CANCELLED,
    }


def render_invoice_html(invoice: Invoice) -> str:
    """The invoice page as HTML (what the PDF is made from)."""
    with translation.override(settings.LANGUAGE_CODE):
        return render_to_string(TEMPLATE, invoice_pdf_context(invoice))


def render_invoice_pdf(invoice: Invoice) -> bytes:
    """The "Счёт на оплату" of the invoice as PDF bytes."""
    with translation.override(settings.LANGUAGE_CODE):
        return render_pdf(TEMPLATE, invoice_pdf_context(invoice))
