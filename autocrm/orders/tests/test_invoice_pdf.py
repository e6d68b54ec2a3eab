"""The printable invoice ("Счёт на оплату"): the sum in words, money formatting, and the PDF
with the supplier's bank details, parties, goods, VAT and the number."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import translation
from django.utils.translation import gettext, ngettext

from autocrm.clients.models import ClientPhone
from autocrm.orders.models import Invoice, Issuer
from autocrm.orders.money_words import format_money, plural_ru
from autocrm.orders.pdf import amount_in_words_ru, render_invoice_html, render_invoice_pdf
from autocrm.orders.tests.factories import order_world
from autocrm.orders.tests.invoice_support import issue


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("1829900.00", "Один миллион восемьсот двадцать девять тысяч девятьсот рублей 00 копеек"),
        ("10000.00", "Десять тысяч рублей 00 копеек"),
        ("0", "Ноль рублей 00 копеек"),
        ("1.01", "Один рубль 01 копейка"),
        ("2.02", "Два рубля 02 копейки"),
        ("5.05", "Пять рублей 05 копеек"),
        ("11.11", "Одиннадцать рублей 11 копеек"),
        ("21.21", "Двадцать один рубль 21 копейка"),
        ("112.14", "Сто двенадцать рублей 14 копеек"),
        ("1000.00", "Одна тысяча рублей 00 копеек"),
        ("2002.00", "Две тысячи два рубля 00 копеек"),
        ("5000.00", "Пять тысяч рублей 00 копеек"),
        ("1001000.00", "Один миллион одна тысяча рублей 00 копеек"),
        ("2000000.00", "Два миллиона рублей 00 копеек"),
        ("1550000.00", "Один миллион пятьсот пятьдесят тысяч рублей 00 копеек"),
        (
            "999999999999.99",
            "Девятьсот девяносто девять миллиардов девятьсот девяносто девять миллионов "
            "девятьсот девяносто девять тысяч девятьсот девяносто девять рублей 99 копеек",
        ),
    ],
)
def test_amount_in_words(amount: str, words: str) -> None:
    assert amount_in_words_ru(Decimal(amount)) == words


def test_amount_in_words_refuses_what_no_invoice_holds() -> None:
    with pytest.raises(ValueError, match="negative"):
        amount_in_words_ru(Decimal("-1.00"))
    with pytest.raises(ValueError, match="too large"):
        amount_in_words_ru(Decimal("1000000000000.00"))
    with pytest.raises(TypeError):
        amount_in_words_ru(1.5)  # type: ignore[arg-type]


def test_plural_forms() -> None:
    forms = ("рубль", "рубля", "рублей")
    assert [plural_ru(n, *forms) for n in (1, 2, 4, 5, 11, 12, 14, 21, 22, 25, 101, 111)] == [
        "рубль", "рубля", "рубля", "рублей", "рублей", "рублей", "рублей",
        "рубль", "рубля", "рублей", "рубль", "рублей",
    ]  # fmt: skip


def test_money_is_printed_with_spaces_and_a_decimal_comma() -> None:
    nbsp = "\u00a0"
    assert format_money(Decimal("1829900")) == f"1{nbsp}829{nbsp}900,00"
    assert format_money(Decimal("10000.5")) == f"10{nbsp}000,50"
    assert format_money(Decimal("999.99")) == "999,99"
    assert format_money(Decimal("0")) == "0,00"


def _layout_text(html: str) -> str:
    """The text WeasyPrint lays out on the PDF's pages (what the PDF paints)."""
    from weasyprint import HTML
    from weasyprint.formatting_structure import boxes

    found: list[str] = []

    def walk(box: object) -> None:
        if isinstance(box, boxes.TextBox):
            found.append(box.text)
        for child in getattr(box, "children", None) or []:
            walk(child)

    document = HTML(string=html).render()
    assert len(document.pages) == 1
    for page in document.pages:
        walk(page._page_box)
    return " ".join(" ".join(found).split())


def _squash(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").split())


@pytest.mark.django_db
def test_the_invoice_pdf_in_the_russian_form() -> None:
    world = order_world()
    Issuer.objects.filter(pk=world.issuer.pk).update(
        next_number=2235, director="Иванов И. И.", accountant="Петрова П. П."
    )
    ClientPhone.objects.create(client=world.client, number="+79211234567", is_primary=True)
    order = world.order()
    invoice = issue(world, order, "1829900.00", kind="final")
    Invoice.objects.filter(pk=invoice.pk).update(issued_on=date(2023, 8, 10))
    invoice = Invoice.objects.select_related("order__client", "issuer").get(pk=invoice.pk)

    pdf = render_invoice_pdf(invoice)
    assert pdf.startswith(b"%PDF-")
    assert b"%%EOF" in pdf[-1024:]

    html = render_invoice_html(invoice)
    with translation.override("ru"):
        title = gettext("Invoice for payment No. %(number)s of %(date)s") % {
            "number": "POC0002235",
            "date": "10 августа 2023",
        }
        vat_line = gettext("Including VAT %(rate)s %%:") % {"rate": "22"}
        summary = ngettext(
            "Total items %(counter)s, in the amount of %(amount)s RUB",
            "Total items %(counter)s, in the amount of %(amount)s RUB",
            1,
        ) % {
            "counter": 1,
            "amount": "1 829 900,00",
        }
    words = "Один миллион восемьсот двадцать девять тысяч девятьсот рублей 00 копеек"
    expected = [
        title,
        words,
        vat_line,
        summary,
        "1 829 900,00",
        "329 981,97",  # 1 829 900 × 22 / 122
        # The supplier's bank details and the parties.
        "ПАО Сбербанк",
        "044525225",
        "30101810400000000225",
        "40702810000000000001",
        world.issuer.inn,
        "519001001",
        world.issuer.legal_name,
        world.client.display_name,
        "+79211234567",
        "Chery Tiggo 7 Pro Max Ultimate",
        world.vehicle.vin,
        "Иванов И. И.",
        "Петрова П. П.",
    ]
    page_text = _squash(_layout_text(html))
    for text in expected:
        assert _squash(text) in page_text, text
    assert _squash(re.sub(r"<[^>]+>", " ", html)).count("POC0002235") >= 1

    # Where poppler's pdftotext is installed, read the PDF itself as well.
    if shutil.which("pdftotext"):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "invoice.pdf"
            path.write_bytes(pdf)
            extracted = subprocess.run(
                ["pdftotext", "-layout", str(path), "-"],
                capture_output=True,
                check=True,
                text=True,
            ).stdout
        assert "POC0002235" in extracted
        assert _squash(words) in _squash(extracted)


@pytest.mark.django_db
def test_an_issuer_without_vat_prints_no_vat_line() -> None:
    world = order_world()
    Issuer.objects.filter(pk=world.issuer.pk).update(vat_rate=Decimal("0"))
    invoice = issue(world, world.order(), "10000.00", description="Бронирование автомобиля")
    html = render_invoice_html(invoice)
    with translation.override("ru"):
        without = gettext("Without VAT:")
        with_vat = gettext("Including VAT %(rate)s %%:") % {"rate": "0"}
    text = _squash(_layout_text(html))
    assert _squash(without) in text
    assert _squash(with_vat) not in text
    assert "Бронирование автомобиля" in text
    assert "Десять тысяч рублей 00 копеек" in text
