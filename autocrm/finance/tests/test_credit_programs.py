"""Which credit programs fit an order and at what rate and payment (stage 1's
"предварительный расчёт"): rate bands, brands and models, validity in the dealer center's
own date, term, down payment, CASCO, inactive banks and programs, the mandatory products
financed by the bank, the order of the list, and exact monthly payments."""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

import pytest

from autocrm.accounts.models import Brand
from autocrm.core.timezones import local_today
from autocrm.finance.credit_selectors import program_rate, programs_for_order
from autocrm.finance.models import (
    Bank,
    CreditProgram,
    CreditProgramRate,
    FinancialProduct,
)
from autocrm.finance.services import product_add
from autocrm.finance.tests.factories import make_product
from autocrm.inventory.tests.factories import CarModelFactory
from autocrm.orders.models import Order
from autocrm.orders.tests.factories import OrderWorld, order_world

pytestmark = pytest.mark.django_db

KOPECK = Decimal("0.01")
ORDER_AMOUNT = Decimal("1829900.00")


def annuity(amount: Decimal, rate: Decimal, term: int) -> Decimal:
    """The annuity payment, independently of the calculator under test."""
    with localcontext() as context:
        context.prec = 60
        if rate == 0:
            return (amount / term).quantize(KOPECK, ROUND_HALF_UP)
        monthly = rate / Decimal(1200)
        factor = (1 + monthly) ** term
        return (amount * monthly * factor / (factor - 1)).quantize(KOPECK, ROUND_HALF_UP)


def bank(code: str, name: str, **fields: Any) -> Bank:
    return Bank.objects.get_or_create(code=code, defaults={"name": name, **fields})[0]


def program(name: str, rate: str, *, of: Bank | None = None, **fields: Any) -> CreditProgram:
    brands = fields.pop("brands", ())
    car_models = fields.pop("car_models", ())
    products = fields.pop("products", ())
    created = CreditProgram.objects.create(
        bank=of or bank("sovcombank", "Совкомбанк"), name=name, rate=Decimal(rate), **fields
    )
    created.brands.set(brands)
    created.car_models.set(car_models)
    created.mandatory_products.set(products)
    return created


def band(of: CreditProgram, terms: tuple[int, int], down_from: str, rate: str) -> None:
    CreditProgramRate.objects.create(
        program=of,
        min_term_months=terms[0],
        max_term_months=terms[1],
        min_down_payment_percent=Decimal(down_from),
        rate=Decimal(rate),
    )


def names(order: Order, **kwargs: Any) -> list[str]:
    return [quote.program.name for quote in programs_for_order(order, **kwargs)]


@pytest.fixture
def world() -> OrderWorld:
    return order_world()


def test_the_band_with_the_highest_down_payment_threshold_reached_wins() -> None:
    tiered = program("Ступени", "15.00")
    band(tiered, (12, 36), "0", "14.00")
    band(tiered, (12, 36), "20", "12.00")
    band(tiered, (12, 36), "50", "10.00")
    band(tiered, (37, 60), "0", "16.00")

    tiered = CreditProgram.objects.prefetch_related("rates").get(pk=tiered.pk)
    assert program_rate(tiered, 36, Decimal("0")) == Decimal("14.00")
    assert program_rate(tiered, 36, Decimal("19.99")) == Decimal("14.00")
    assert program_rate(tiered, 36, Decimal("20")) == Decimal("12.00")
    assert program_rate(tiered, 12, Decimal("49.99")) == Decimal("12.00")
    assert program_rate(tiered, 24, Decimal("50")) == Decimal("10.00")
    assert program_rate(tiered, 36, Decimal("90")) == Decimal("10.00")
    assert program_rate(tiered, 37, Decimal("90")) == Decimal("16.00")
    assert program_rate(tiered, 60, Decimal("0")) == Decimal("16.00")
    # No band for 61–84 months or under 12: the program's own rate.
    assert program_rate(tiered, 72, Decimal("50")) == Decimal("15.00")
    assert program_rate(tiered, 6, Decimal("50")) == Decimal("15.00")


def test_a_band_the_client_does_not_reach_leaves_the_program_rate() -> None:
    only_rich = program("Только с большим взносом", "17.50")
    band(only_rich, (12, 84), "40", "11.00")
    assert program_rate(only_rich, 36, Decimal("39.99")) == Decimal("17.50")
    assert program_rate(only_rich, 36, Decimal("40")) == Decimal("11.00")


def test_the_quote_uses_the_band_rate(world: OrderWorld) -> None:
    tiered = program("Ступени", "15.00")
    band(tiered, (12, 36), "20", "12.00")
    order = world.order()

    [quote] = programs_for_order(order, term_months=36, down_payment_percent=Decimal("25"))
    assert quote.rate == Decimal("12.00")
    # 1 829 900 − 25 % (457 475) = 1 372 425.
    assert quote.terms.credit_amount == Decimal("1372425.00")
    assert quote.terms.monthly_payment == annuity(Decimal("1372425"), Decimal("12"), 36)

    [quote] = programs_for_order(order, term_months=48, down_payment_percent=Decimal("25"))
    assert quote.rate == Decimal("15.00")


def test_brands_and_models_filter_programs_empty_means_any(world: OrderWorld) -> None:
    haval = Brand.objects.create(code="haval", name="Haval")
    other_model = CarModelFactory.create(make=world.make, name="Tiggo 4")
    program("Любая машина", "15.00")
    program("Только Chery", "15.10", brands=[world.make])
    program("Chery или Haval", "15.20", brands=[world.make, haval])
    program("Только Haval", "15.30", brands=[haval])
    program("Только Tiggo 7 Pro Max", "15.40", car_models=[world.car_model])
    program("Только Tiggo 4", "15.50", car_models=[other_model])
    program("Chery, но Tiggo 4", "15.60", brands=[world.make], car_models=[other_model])

    assert names(world.order()) == [
        "Любая машина",
        "Только Chery",
        "Chery или Haval",
        "Только Tiggo 7 Pro Max",
    ]


def test_validity_is_judged_on_the_dealer_centers_own_date(world: OrderWorld) -> None:
    """Kiritimati (UTC+14) is always one or two dates ahead of Pago Pago (UTC−11): a
    program that starts "today" on Kiritimati has not started in Pago Pago yet."""
    kiritimati_today = local_today("Pacific/Kiritimati")
    program("С сегодняшнего дня на Киритимати", "15.00", valid_from=kiritimati_today)
    order = world.order()

    world.dealer_center.time_zone = "Pacific/Kiritimati"
    world.dealer_center.save(update_fields=["time_zone"])
    order = Order.objects.select_related("dealer_center").get(pk=order.pk)
    assert names(order) == ["С сегодняшнего дня на Киритимати"]

    world.dealer_center.time_zone = "Pacific/Pago_Pago"
    world.dealer_center.save(update_fields=["time_zone"])
    order = Order.objects.select_related("dealer_center").get(pk=order.pk)
    assert local_today("Pacific/Pago_Pago") < kiritimati_today
    assert names(order) == []


def test_validity_dates_are_inclusive(world: OrderWorld) -> None:
    today = local_today(world.dealer_center.time_zone)
    program("Без срока", "15.00")
    program("Закончилась вчера", "15.10", valid_until=today - timedelta(days=1))
    program("Последний день", "15.20", valid_until=today)
    program("Первый день", "15.30", valid_from=today)
    program("С завтрашнего дня", "15.40", valid_from=today + timedelta(days=1))
    program("Идёт", "15.50", valid_from=today - timedelta(days=10), valid_until=today)
    order = world.order()

    assert names(order) == ["Без срока", "Последний день", "Первый день", "Идёт"]
    assert names(order, today=today + timedelta(days=1)) == [
        "Без срока",
        "Первый день",
        "С завтрашнего дня",
    ]


def test_the_term_range_and_the_minimum_down_payment(world: OrderWorld) -> None:
    program("12–60 мес., от 30 %", "15.00", min_term_months=12, max_term_months=60,
            min_down_payment_percent=Decimal("30"))  # fmt: skip
    order = world.order()

    def fits(**kwargs: Any) -> bool:
        return names(order, **kwargs) == ["12–60 мес., от 30 %"]

    assert fits(term_months=12, down_payment_percent=Decimal("30"))
    assert fits(term_months=60, down_payment_percent=Decimal("30"))
    assert not fits(term_months=11, down_payment_percent=Decimal("30"))
    assert not fits(term_months=61, down_payment_percent=Decimal("30"))
    assert not fits(term_months=36, down_payment_percent=Decimal("29.99"))
    # In roubles: 30 % of 1 829 900 is 548 970.
    assert fits(term_months=36, down_payment=Decimal("548970"))
    assert not fits(term_months=36, down_payment=Decimal("548969"))
    # Without a down payment the quote assumes 20 %: below this program's minimum.
    assert not fits(term_months=36)


def test_casco_false_excludes_programs_that_require_it_none_includes_them(
    world: OrderWorld,
) -> None:
    program("Без КАСКО", "15.00")
    program("С КАСКО", "12.00", of=bank("alfabank", "Альфа-Банк"), casco_required=True)
    order = world.order()

    assert names(order, casco=False) == ["Без КАСКО"]
    assert names(order, casco=True) == ["С КАСКО", "Без КАСКО"]
    assert names(order, casco=None) == ["С КАСКО", "Без КАСКО"]
    assert names(order) == ["С КАСКО", "Без КАСКО"]


def test_inactive_banks_and_programs_are_left_out(world: OrderWorld) -> None:
    program("Действующая", "15.00")
    program("Закрытая программа", "14.00", is_active=False)
    program("Банк ушёл", "13.00", of=bank("gone", "Ушедший банк", is_active=False))
    assert names(world.order()) == ["Действующая"]


def test_financed_products_are_the_mandatory_products_not_yet_on_the_order(
    world: OrderWorld,
) -> None:
    life = make_product(name="Страхование жизни", price=Decimal("35000.00"),
                        broker_code="life_insurance", mandatory_for_credit=True)  # fmt: skip
    gap = make_product(name="GAP-страхование", price=Decimal("25000.00"),
                       broker_code="gap_insurance")  # fmt: skip
    retired = make_product(name="Старая страховка", price=Decimal("10000.00"), is_active=False)
    program("С продуктами", "14.30", products=[life, gap, retired])
    order = world.order()

    [quote] = programs_for_order(order, term_months=36, down_payment_percent=Decimal("20"))
    assert [p.name for p in quote.mandatory_products] == ["GAP-страхование", "Страхование жизни"]
    assert quote.financed_products == Decimal("60000.00")
    # 1 829 900 − 365 980 + 60 000.
    assert quote.terms.credit_amount == Decimal("1523920.00")

    product_add(actor=world.manager, order=order, product=life)
    order.refresh_from_db()
    assert order.total == Decimal("1864900.00")
    [quote] = programs_for_order(order, term_months=36, down_payment_percent=Decimal("20"))
    assert quote.financed_products == Decimal("25000.00")  # only GAP is still missing
    # The order's total now includes the life insurance: 1 864 900 − 372 980 + 25 000.
    assert quote.terms.down_payment == Decimal("372980.00")
    assert quote.terms.credit_amount == Decimal("1516920.00")
    assert FinancialProduct.objects.filter(is_active=False).count() == 1


def test_quotes_are_ordered_by_monthly_payment(world: OrderWorld) -> None:
    life = make_product(name="Страхование жизни", price=Decimal("35000.00"))
    expensive_extra = make_product(name="Дорогой пакет", price=Decimal("400000.00"))
    program("Дорогая", "18.00")
    program("Дешёвая", "9.90", of=bank("alfabank", "Альфа-Банк"))
    program("Средняя со страховкой", "14.30", products=[life])
    # The lowest rate, but the bank finances a 400 000 package.
    program(
        "Низкая ставка с пакетом", "9.00", of=bank("tbank", "Т-Банк"), products=[expensive_extra]
    )

    quotes = programs_for_order(world.order(), term_months=36, down_payment_percent=Decimal("20"))

    assert [q.program.name for q in quotes] == [
        "Дешёвая",
        "Средняя со страховкой",
        "Дорогая",
        "Низкая ставка с пакетом",  # the lowest rate comes last
    ]
    payments = [q.terms.monthly_payment for q in quotes]
    assert payments == sorted(payments)
    assert payments == [
        annuity(Decimal("1463920"), Decimal("9.9"), 36),
        annuity(Decimal("1498920"), Decimal("14.3"), 36),
        annuity(Decimal("1463920"), Decimal("18"), 36),
        annuity(Decimal("1863920"), Decimal("9"), 36),
    ]


def test_exact_figures_of_the_sovcombank_program(world: OrderWorld) -> None:
    life = make_product(name="Страхование жизни", price=Decimal("35000.00"))
    sovcombank = program("Автокредит Стандарт", "14.30", products=[life],
                         min_down_payment_percent=Decimal("10"))  # fmt: skip
    order = world.order()

    [quote] = programs_for_order(order, term_months=36, down_payment_percent=Decimal("20"))

    assert quote.program == sovcombank
    assert (quote.rate, quote.term_months) == (Decimal("14.30"), 36)
    # 20 % of 1 829 900 = 365 980; 1 829 900 − 365 980 + 35 000 = 1 498 920.
    credit = Decimal("1498920.00")
    monthly = annuity(credit, Decimal("14.3"), 36)
    assert quote.terms.down_payment == Decimal("365980.00")
    assert quote.terms.down_payment_percent == Decimal("20")
    assert quote.terms.order_amount == ORDER_AMOUNT
    assert quote.terms.credit_amount == credit
    assert quote.terms.monthly_payment == monthly
    assert quote.terms.total_paid == monthly * 36
    assert quote.terms.overpayment == monthly * 36 - credit

    # Without a term or down payment: 36 months and 20 %, the same figures.
    [default] = programs_for_order(order)
    assert default.terms == quote.terms

    # 84 months, 50 % down.
    [long] = programs_for_order(order, term_months=84, down_payment_percent=Decimal("50"))
    assert long.terms.credit_amount == Decimal("949950.00")  # 914 950 + 35 000
    assert long.terms.monthly_payment == annuity(Decimal("949950"), Decimal("14.3"), 84)


def test_a_zero_rate_program_divides_evenly(world: OrderWorld) -> None:
    program("Рассрочка 0 %", "0.00", max_term_months=24)
    [quote] = programs_for_order(world.order(), term_months=24, down_payment_percent=Decimal("50"))
    # 914 950 / 24 = 38 122.9166...
    assert quote.terms.monthly_payment == Decimal("38122.92")
    assert quote.terms.credit_amount == Decimal("914950.00")
