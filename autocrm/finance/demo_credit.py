"""Demo data of the credit module: the banks the E-Credit simulator answers for, their
credit programs with the insurance they require, the group's broker connection to the
simulator that ``make run`` starts, and credit applications on the demo orders in stage 1,
stage 2 and confirmed.

Everything goes through the services, as a manager would do it. The confirmed
application's bank decisions are stored as if the broker had called back (its inbox and
the same service that applies real callbacks), and its outbox rows are marked delivered:
seeding never talks to the network, and a worker started later finds nothing to send.

Idempotent: banks, products and programs are found by their natural keys, the connection
is made only when the group has no default one, the applications only once.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from autocrm.finance.demo_broker import (
    DEMO_BROKER_API_KEY,
    DEMO_BROKER_CALLBACK_SECRET,
    DEMO_BROKER_LOGIN,
    DEMO_BROKER_PORT,
)
from autocrm.finance.models import (
    Bank,
    BrokerConnection,
    BrokerSubmission,
    CreditApplication,
    CreditApplicationEvent,
    CreditProgram,
    CreditProgramRate,
    FinancialProduct,
    ProductKind,
)
from autocrm.finance.models.credit import BrokerState, CreditEventKind, SubmissionStatus

# The codes are the simulator's (simulators/ecredit.py, DEFAULT_BANKS).
BANKS: tuple[tuple[str, str], ...] = (
    ("sovcombank", "Совкомбанк"),
    ("alfabank", "Альфа-Банк"),
    ("tbank", "Т-Банк"),
)

# (name, kind, price, commission, broker code): what the banks require with a credit.
CREDIT_PRODUCTS: tuple[tuple[str, str, Decimal, Decimal, str], ...] = (
    ("Страхование жизни", ProductKind.INSURANCE, Decimal("35000.00"), Decimal("14000.00"),
     "life_insurance"),
    ("GAP-страхование", ProductKind.INSURANCE, Decimal("25000.00"), Decimal("9000.00"),
     "gap_insurance"),
)  # fmt: skip


@dataclass(frozen=True)
class ProgramSpec:
    bank: str
    name: str
    rate: Decimal
    min_term: int
    max_term: int
    min_down_payment: Decimal
    casco_required: bool = False
    products: tuple[str, ...] = ()  # broker codes
    brands: tuple[str, ...] = ()
    valid_days: int | None = None  # valid until today + valid_days
    # (from months, to months, down payment from %, rate)
    bands: tuple[tuple[int, int, Decimal, Decimal], ...] = ()


PROGRAMS: tuple[ProgramSpec, ...] = (
    ProgramSpec(
        "sovcombank", "Автокредит Стандарт", Decimal("14.30"), 12, 84, Decimal("10"),
        products=("life_insurance",),
        bands=((12, 36, Decimal("30"), Decimal("13.50")), (37, 84, Decimal("0"), Decimal("15.50"))),
    ),
    ProgramSpec(
        "alfabank", "Автокредит с КАСКО", Decimal("12.90"), 12, 60, Decimal("30"),
        casco_required=True,
        bands=((12, 36, Decimal("50"), Decimal("9.90")),),
    ),
    ProgramSpec(
        "tbank", "Автокредит Онлайн", Decimal("15.90"), 12, 72, Decimal("0"),
        products=("gap_insurance",),
        bands=((12, 36, Decimal("20"), Decimal("14.90")),),
    ),
    ProgramSpec(
        "sovcombank", "CHERY Драйв", Decimal("11.90"), 12, 60, Decimal("20"),
        products=("life_insurance",), brands=("chery",), valid_days=90,
    ),
)  # fmt: skip

DEMO_CONNECTION_NAME = "E-Credit (демо-симулятор)"
DEMO_DEALER_CENTER = "murmansk-chery"
# The seed's calculation: 1 550 000 ₽ of credit at 14.3 % for 36 months.
SEED_CREDIT = Decimal("1550000.00")
SEED_RATE = Decimal("14.30")
SEED_TERM = 36
# A tiny valid PDF for the demo scans.
DEMO_PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def ensure_banks() -> dict[str, Bank]:
    return {
        code: Bank.objects.get_or_create(code=code, defaults={"name": name})[0]
        for code, name in BANKS
    }


def ensure_credit_products() -> dict[str, FinancialProduct]:
    products: dict[str, FinancialProduct] = {}
    for name, kind, price, commission, code in CREDIT_PRODUCTS:
        product = FinancialProduct.objects.filter(broker_code=code).order_by("pk").first()
        if product is None:
            product = FinancialProduct.objects.get_or_create(
                name=name,
                defaults={
                    "kind": kind,
                    "price": price,
                    "commission": commission,
                    "mandatory_for_credit": False,
                    "broker_code": code,
                },
            )[0]
        if not product.broker_code:
            product.broker_code = code
            product.save(update_fields=["broker_code", "updated_at"])
        products[code] = product
    return products


def ensure_programs(banks: dict[str, Bank], products: dict[str, FinancialProduct]) -> int:
    from autocrm.accounts.models import Brand
    from autocrm.core.timezones import local_today

    today = local_today("Europe/Moscow")
    created = 0
    for spec in PROGRAMS:
        bank = banks[spec.bank]
        if CreditProgram.objects.filter(bank=bank, name=spec.name).exists():
            continue
        program = CreditProgram.objects.create(
            bank=bank,
            name=spec.name,
            rate=spec.rate,
            min_term_months=spec.min_term,
            max_term_months=spec.max_term,
            min_down_payment_percent=spec.min_down_payment,
            casco_required=spec.casco_required,
            valid_from=today - timedelta(days=30) if spec.valid_days else None,
            valid_until=today + timedelta(days=spec.valid_days) if spec.valid_days else None,
        )
        program.mandatory_products.set([products[code] for code in spec.products])
        program.brands.set(Brand.objects.filter(code__in=spec.brands))
        CreditProgramRate.objects.bulk_create(
            CreditProgramRate(
                program=program,
                min_term_months=low,
                max_term_months=high,
                min_down_payment_percent=down,
                rate=rate,
            )
            for low, high, down, rate in spec.bands
        )
        created += 1
    return created


def ensure_connection() -> BrokerConnection:
    """The group's default connection, to the simulator of ``make run``; an existing
    default connection (perhaps a real broker's) is left as it is."""
    existing = BrokerConnection.objects.filter(dealer_center__isnull=True, is_active=True).first()
    if existing is not None:
        return existing
    return BrokerConnection.objects.create(
        name=DEMO_CONNECTION_NAME,
        base_url=f"http://127.0.0.1:{DEMO_BROKER_PORT}/api/v1",
        login=DEMO_BROKER_LOGIN,
        api_key=DEMO_BROKER_API_KEY,
        callback_secret=DEMO_BROKER_CALLBACK_SECRET,
    )


# --- applications -------------------------------------------------------------------------


def _questionnaire(order: Any, index: int) -> dict[str, Any]:
    client = order.client
    return {
        "last_name": (getattr(client, "last_name", "") or "Смирнов")[:100],
        "first_name": (getattr(client, "first_name", "") or "Алексей")[:100],
        "patronymic": (getattr(client, "middle_name", "") or "")[:100],
        "birth_date": f"198{index}-03-1{index}",
        "birth_place": "г. Мурманск",
        "passport_number": f"4710 5{index}2846",
        "passport_issued_by": "УМВД России по Мурманской области",
        "passport_issued_on": f"201{index}-06-0{index + 1}",
        "passport_division_code": "510-002",
        "registration_address": f"г. Мурманск, пр. Кольский, д. {12 + index}, кв. {40 + index}",
        "residence_address": f"г. Мурманск, пр. Кольский, д. {12 + index}, кв. {40 + index}",
        "phone": f"+7921555{index:04d}",
        "email": f"credit-demo-{index}@example.com",
        "employer": "АО «Мурманский морской торговый порт»",
        "position": "Ведущий инженер",
        "employment_months": 60 + index,
        "monthly_income": "165000.00",
        "marital_status": "married",
        "dependants": 1,
        "consent_personal_data": True,
        "consent_credit_history": True,
    }


def _mark_delivered(application: CreditApplication) -> str:
    """Record the application's outbox as delivered, as if the broker accepted it."""
    reference = f"EC-DEMO-{application.pk:06d}"
    now = timezone.now()
    for submission in BrokerSubmission.objects.filter(
        application=application, status=SubmissionStatus.QUEUED
    ).order_by("pk"):
        submission.status = SubmissionStatus.SENT
        submission.attempts = 1
        submission.sent_at = now
        submission.broker_reference = (
            reference if submission.document_id is None else f"ED-DEMO-{submission.pk:06d}"
        )
        submission.save()
    moved = (
        CreditApplication.objects.filter(pk=application.pk)
        .exclude(broker_state=BrokerState.SENT)
        .update(broker_state=BrokerState.SENT, broker_reference=reference, updated_at=now)
    )
    if moved:
        CreditApplicationEvent.objects.create(
            application=application,
            kind=CreditEventKind.BROKER,
            from_value=BrokerState.QUEUED,
            to_value=BrokerState.SENT,
            text=_("Version %(version)s accepted by the broker as %(reference)s")
            % {"version": application.version, "reference": reference},
        )
    return reference


def _decisions(application: CreditApplication) -> list[dict[str, Any]]:
    """What the simulator's three banks would answer (simulators/ecredit.py)."""
    from autocrm.finance.calculator import loan_terms

    amount = application.credit_amount
    valid_until = (timezone.now().date() + timedelta(days=14)).isoformat()

    def offer(bank: tuple[str, str], status: str, amount: Decimal, rate: Decimal,
              products: list[str], comment: str) -> dict[str, Any]:  # fmt: skip
        terms = loan_terms(amount, rate, application.term_months)
        return {
            "id": f"DEMO-{application.pk}-{bank[0]}",
            "bank": {"code": bank[0], "name": bank[1]},
            "status": status,
            "amount": f"{terms.credit_amount:.2f}",
            "rate": f"{rate:.2f}",
            "term_months": application.term_months,
            "monthly_payment": f"{terms.monthly_payment:.2f}",
            "required_products": products,
            "valid_until": valid_until,
            "comment": comment,
        }

    return [
        offer(BANKS[0], "approved", amount, application.rate, ["life_insurance"],
              "Одобрено на запрошенных условиях"),
        offer(BANKS[1], "counter_offer",
              (amount * Decimal("0.9")).quantize(Decimal("1"), rounding=ROUND_DOWN),
              application.rate + 2, [], "Встречное предложение: 90 % суммы, ставка +2 п.п."),
        offer(BANKS[2], "approved", amount, application.rate + 1, ["gap_insurance"],
              "Одобрено"),
    ]  # fmt: skip


def _answer_as_the_banks(application: CreditApplication, connection: BrokerConnection) -> None:
    from autocrm.finance.credit_services import broker_callback_process, broker_callback_receive

    reference = _mark_delivered(application)
    for decision in _decisions(application):
        callback, _created = broker_callback_receive(
            connection=connection,
            event_id=f"demo-{decision['id']}",
            payload={
                "event_id": f"demo-{decision['id']}",
                "application_id": reference,
                "external_id": f"autocrm-{application.pk}",
                "version": application.version,
                "decision": decision,
            },
        )
        broker_callback_process(callback_id=callback.pk)


def _demo_orders() -> tuple[list[Any], Any]:
    from autocrm.orders.demo import DEMO_ORDER_COMMENT
    from autocrm.orders.models import Order

    orders = Order.objects.filter(
        comment=DEMO_ORDER_COMMENT,
        dealer_center__code=DEMO_DEALER_CENTER,
        vehicle__isnull=False,
    ).order_by("pk")
    drafts = list(orders.filter(status="draft")[:2])
    # A confirmed order with its reservation paid and no refund.
    confirmed = orders.filter(status="confirmed").exclude(invoices__refunds__isnull=False).first()
    return drafts, confirmed


def build_credit_applications(connection: BrokerConnection) -> int:
    from autocrm.accounts.models import User
    from autocrm.finance.credit_services import (
        credit_application_create,
        credit_application_submit,
        credit_document_upload,
        credit_offer_confirm,
        credit_questionnaire_save,
    )
    from autocrm.orders.demo import DEMO_ORDER_COMMENT

    if CreditApplication.objects.filter(order__comment=DEMO_ORDER_COMMENT).exists():
        return 0
    manager = User.objects.filter(username="manager").first()
    drafts, confirmed = _demo_orders()
    if manager is None:
        return 0
    standard = CreditProgram.objects.get(bank__code="sovcombank", name="Автокредит Стандарт")
    made = 0
    if drafts:
        # Stage 1: a calculation under the Совкомбанк program, 20 % down, 36 months.
        with transaction.atomic():
            credit_application_create(
                actor=manager,
                order=drafts[0],
                program=standard,
                down_payment_percent=Decimal("20"),
                term_months=SEED_TERM,
            )
        made += 1
    if len(drafts) > 1:
        # Stage 2: the seed's calculation by hand, with the questionnaire filled in.
        order = drafts[1]
        down = order.total - SEED_CREDIT
        with transaction.atomic():
            application = credit_application_create(
                actor=manager,
                order=order,
                rate=SEED_RATE,
                term_months=SEED_TERM,
                **(
                    {"down_payment": down}
                    if down >= order.total * Decimal("0.1")
                    else {"down_payment_percent": Decimal("20")}
                ),
            )
            credit_questionnaire_save(
                actor=manager, application=application, data=_questionnaire(order, 1)
            )
        made += 1
    if confirmed is not None:
        # Confirmed: sent, answered by three banks, documents in, Совкомбанк taken.
        with transaction.atomic():
            application = credit_application_create(
                actor=manager,
                order=confirmed,
                program=standard,
                down_payment_percent=Decimal("20"),
                term_months=SEED_TERM,
            )
            credit_questionnaire_save(
                actor=manager, application=application, data=_questionnaire(confirmed, 2)
            )
            credit_application_submit(actor=manager, application=application)
            application.refresh_from_db()
            _answer_as_the_banks(application, connection)
            for kind, filename in (
                ("passport", "Паспорт.pdf"),
                ("signed_questionnaire", "Анкета, подписанная.pdf"),
            ):
                credit_document_upload(
                    actor=manager,
                    application=application,
                    kind=kind,
                    upload=io.BytesIO(DEMO_PDF),
                    filename=filename,
                )
            _mark_delivered(application)
            chosen = application.offers.get(bank__code="sovcombank")
            credit_offer_confirm(actor=manager, application=application, offer_id=chosen.pk)
        made += 1
    return made


def build_credit() -> dict[str, int]:
    with transaction.atomic():
        banks = ensure_banks()
        products = ensure_credit_products()
        ensure_programs(banks, products)
        connection = ensure_connection()
    build_credit_applications(connection)
    return {
        "financial products": FinancialProduct.objects.count(),
        "banks": Bank.objects.count(),
        "credit programs": CreditProgram.objects.count(),
        "credit applications": CreditApplication.objects.count(),
    }
