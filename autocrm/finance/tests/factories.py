"""Financial products of the seed's order card: САР 12 мес. 49 900 / 43 146 (mandatory
for credit), Продукты банка 19 900 without commission (mandatory), Юр. помощь 180 000 /
152 000 (voluntary)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from autocrm.finance.models import FinancialProduct, ProductKind


def make_product(**fields: Any) -> FinancialProduct:
    count = FinancialProduct.objects.count() + 1
    fields.setdefault("name", f"Product {count}")
    fields.setdefault("kind", ProductKind.OTHER)
    fields.setdefault("price", Decimal("10000.00"))
    return FinancialProduct.objects.create(**fields)


@dataclass
class SeedProducts:
    assistance: FinancialProduct  # САР
    bank: FinancialProduct  # Продукты банка
    legal: FinancialProduct  # Юр. помощь


def seed_products() -> SeedProducts:
    return SeedProducts(
        assistance=make_product(
            name="САР",
            kind=ProductKind.ASSISTANCE,
            term_months=12,
            price=Decimal("49900.00"),
            commission=Decimal("43146.00"),
            mandatory_for_credit=True,
            counterparty="ООО «Помощь на дорогах»",
        ),
        bank=make_product(
            name="Продукты банка",
            kind=ProductKind.BANK,
            price=Decimal("19900.00"),
            mandatory_for_credit=True,
        ),
        legal=make_product(
            name="Юр. помощь",
            kind=ProductKind.LEGAL,
            price=Decimal("180000.00"),
            commission=Decimal("152000.00"),
        ),
    )
