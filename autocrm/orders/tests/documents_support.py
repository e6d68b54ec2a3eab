"""Test helpers for order documents and deal passports: files of each type, the parts an
order's economics are made of, and reading the text objects out of a PDF."""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.test import override_settings
from django.utils import timezone
from PIL import Image

from autocrm.core.storage import private_storage
from autocrm.finance.models import FinancialProduct, OrderProduct, ProductKind
from autocrm.orders.models import (
    Document,
    EquipmentItem,
    EquipmentPackage,
    Order,
    OrderEquipment,
    OrderPromotion,
    Promotion,
)
from autocrm.orders.services.orders import order_recalculate


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (30, 30, 200)).save(buffer, format="JPEG")
    return buffer.getvalue()


PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def pdf_strings(pdf: bytes) -> bytes:
    """The PDF's bytes with every Flate stream inflated: metadata (WeasyPrint writes the
    ``<meta name=keywords>`` into the document info) becomes searchable."""
    parts = [pdf]
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            parts.append(zlib.decompress(match.group(1)))
        except zlib.error:
            continue
    return b"\n".join(parts)


def add_equipment(
    order: Order, *, price: str = "60000.00", cost: str = "35000.00", name: str = "Комфорт"
) -> OrderEquipment:
    package = EquipmentPackage.objects.create(
        code=f"pkg-{EquipmentPackage.objects.count() + 1}",
        name=name,
        price=Decimal(price),
        cost=Decimal(cost),
    )
    EquipmentItem.objects.create(package=package, name="Коврики салона", quantity=1)
    EquipmentItem.objects.create(package=package, name="Защита картера", quantity=1)
    row = OrderEquipment.objects.create(
        order=order, package=package, price=Decimal(price), cost=Decimal(cost)
    )
    order_recalculate(order)
    return row


def add_promotion(
    order: Order, *, discount: str = "100000.00", bonus: str = "50000.00"
) -> OrderPromotion:
    today = timezone.localdate()
    promotion = Promotion.objects.create(
        name="Весенняя выгода",
        valid_from=today - timedelta(days=1),
        valid_to=today + timedelta(days=30),
        discount_amount=Decimal(discount),
        importer_bonus=Decimal(bonus),
    )
    row = OrderPromotion.objects.create(
        order=order, promotion=promotion, discount=Decimal(discount), importer_bonus=Decimal(bonus)
    )
    order_recalculate(order)
    return row


def add_product(
    order: Order, *, price: str = "49900.00", commission: str = "43146.00", **fields: Any
) -> OrderProduct:
    fields.setdefault("name", "САР 12 мес.")
    product = FinancialProduct.objects.create(
        kind=ProductKind.ASSISTANCE,
        term_months=12,
        price=Decimal(price),
        commission=Decimal(commission),
        **fields,
    )
    row = OrderProduct.objects.create(
        order=order, product=product, price=Decimal(price), commission=Decimal(commission)
    )
    order_recalculate(order)
    return row


@contextmanager
def private_media(root: Path) -> Iterator[Path]:
    """Private storage (and the public media root, to prove nothing lands there) under
    ``root``. The storage of ``Document.file`` is built once when the model loads, so it is
    rebuilt here while the settings are overridden (see the note in the report on
    ``core.storage``)."""
    field = Document._meta.get_field("file")
    previous = field.storage
    private, media = root / "private", root / "media"
    with override_settings(PRIVATE_MEDIA_ROOT=private, MEDIA_ROOT=media):
        field.storage = private_storage()
        try:
            yield private
        finally:
            field.storage = previous


def files_under(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []
