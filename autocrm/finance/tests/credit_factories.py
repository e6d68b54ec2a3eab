"""A credit world: the orders' test world, financial products with broker codes, two
banks with programs for the world's car, and a broker connection."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from autocrm.finance.models import (
    Bank,
    BrokerConnection,
    CreditProgram,
    CreditProgramRate,
    FinancialProduct,
)
from autocrm.finance.tests.factories import make_product
from autocrm.orders.tests.factories import OrderWorld, order_world

API_KEY = "test-ecredit-key"
LOGIN = "dealer-test"
CALLBACK_SECRET = "test-ecredit-callback-secret"

# A questionnaire that passes every check (the passport number is made up).
QUESTIONNAIRE: dict[str, Any] = {
    "last_name": "Иванов",
    "first_name": "Иван",
    "patronymic": "Иванович",
    "birth_date": "1985-04-12",
    "birth_place": "г. Мурманск",
    "passport_number": "4510 123456",
    "passport_issued_by": "ОВД района Ленинский г. Мурманска",
    "passport_issued_on": "2015-05-20",
    "passport_division_code": "510-001",
    "registration_address": "г. Мурманск, ул. Ленина, д. 1, кв. 2",
    "residence_address": "г. Мурманск, ул. Ленина, д. 1, кв. 2",
    "phone": "+79001234567",
    "email": "ivanov@example.com",
    "employer": "ООО «Северный порт»",
    "position": "Инженер",
    "employment_months": 48,
    "monthly_income": "150000.00",
    "marital_status": "married",
    "dependants": 1,
    "consent_personal_data": True,
    "consent_credit_history": True,
}


@dataclass
class CreditWorld:
    world: OrderWorld
    life_insurance: FinancialProduct
    sovcombank: Bank
    alfabank: Bank
    standard: CreditProgram  # Совкомбанк, 14.3 %, 12–84 months, from 10 %, life insurance
    casco_program: CreditProgram  # Альфа-Банк, 12.9 %, CASCO required, from 30 %

    def connection(self, base_url: str = "http://127.0.0.1:9/api/v1") -> BrokerConnection:
        return BrokerConnection.objects.create(
            name="E-Credit",
            base_url=base_url,
            login=LOGIN,
            api_key=API_KEY,
            callback_secret=CALLBACK_SECRET,
        )


def credit_world(**world_fields: Any) -> CreditWorld:
    world = order_world(**world_fields)
    life = make_product(
        name="Страхование жизни",
        price=Decimal("35000.00"),
        commission=Decimal("14000.00"),
        mandatory_for_credit=True,
        broker_code="life_insurance",
    )
    sovcombank = Bank.objects.get_or_create(code="sovcombank", defaults={"name": "Совкомбанк"})[0]
    alfabank = Bank.objects.get_or_create(code="alfabank", defaults={"name": "Альфа-Банк"})[0]
    standard = CreditProgram.objects.create(
        bank=sovcombank,
        name="Автокредит Стандарт",
        rate=Decimal("14.30"),
        min_term_months=12,
        max_term_months=84,
        min_down_payment_percent=Decimal("10"),
    )
    standard.mandatory_products.add(life)
    standard.brands.add(world.make)
    casco_program = CreditProgram.objects.create(
        bank=alfabank,
        name="Автокредит КАСКО",
        rate=Decimal("12.90"),
        min_term_months=12,
        max_term_months=60,
        min_down_payment_percent=Decimal("30"),
        casco_required=True,
    )
    CreditProgramRate.objects.create(
        program=casco_program,
        min_term_months=12,
        max_term_months=36,
        min_down_payment_percent=Decimal("50"),
        rate=Decimal("9.90"),
    )
    return CreditWorld(world, life, sovcombank, alfabank, standard, casco_program)
