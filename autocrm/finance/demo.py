"""Demo data of financial products: the three products of the seed's order card
(``products_install_seed``); the demo seeding of orders calls it. Then, after the demo
orders (500), the credit module's banks, programs, broker connection and applications
(``demo_credit``)."""

from __future__ import annotations

from decimal import Decimal

from autocrm.core.demo_registry import register_demo_step
from autocrm.finance.models import FinancialProduct, ProductKind

# (name, kind, term in months, price, commission incl. VAT, mandatory for credit), as the
# seed's "Обязательные и добровольные фин. продукты" shows them.
SEED_PRODUCTS: tuple[tuple[str, str, int, Decimal, Decimal, bool], ...] = (
    ("САР", ProductKind.ASSISTANCE, 12, Decimal("49900.00"), Decimal("43146.00"), True),
    ("Продукты банка", ProductKind.BANK, 0, Decimal("19900.00"), Decimal("0.00"), True),
    ("Юр. помощь", ProductKind.LEGAL, 0, Decimal("180000.00"), Decimal("152000.00"), False),
)


def products_install_seed() -> dict[str, int]:
    """Create the seed's products once; running it again changes nothing (by name)."""
    created = 0
    for name, kind, term, price, commission, mandatory in SEED_PRODUCTS:
        _, is_new = FinancialProduct.objects.get_or_create(
            name=name,
            defaults={
                "kind": kind,
                "term_months": term,
                "price": price,
                "commission": commission,
                "mandatory_for_credit": mandatory,
            },
        )
        created += is_new
    return {
        "financial_products": FinancialProduct.objects.count(),
        "financial_products_new": created,
    }


def build_financial_products() -> dict[str, int]:
    return {"financial products": products_install_seed()["financial_products"]}


register_demo_step(410, build_financial_products, name="finance.products")


def build_credit_demo() -> dict[str, int]:
    from autocrm.finance.demo_credit import build_credit

    return build_credit()


# After the demo orders (orders.orders, 500): the applications are made on them.
register_demo_step(510, build_credit_demo, name="finance.credit")
