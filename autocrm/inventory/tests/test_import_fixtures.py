"""Shared builders for the stock-import tests (no tests here): a small dealer group and files.

Kept as plain functions, not fixtures, so each test module states the fixtures it uses.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from autocrm.accounts.models import Brand, Consignor, DealerCenter, Site, User
from autocrm.accounts.roles import RoleCode
from autocrm.accounts.tests.factories import (
    CityFactory,
    DealerCenterFactory,
    RegionFactory,
    UserFactory,
)

SEED_VIN = "LVVDB21B1PD734288"

HEADERS = [
    "Код автомобиля",
    "VIN",
    "Марка",
    "Модель",
    "Комплектация",
    "Кузов",
    "Привод",
    "Двигатель",
    "Объем двигателя",
    "Мощность (л.с.)",
    "КПП",
    "Салон",
    "Цвет",
    "Модельный год",
    "Год выпуска по ПТС",
    "Пробег",
    "Цена",
    "Дата поступления",
    "Тип авто",
    "Город",
    "Площадка",
    "Консигнатор",
    "Логистический статус",
    "ПТС",
    "Наличие ПТС",
    "Дата выкупа ПТС",
    "Дата получения ПТС",
    "Гарантия от импортера (Н...)",
    "Дата рапорта",
]

SEED_ROW = [
    SEED_VIN,
    SEED_VIN,
    "Chery",
    "Tiggo 7 Pro Max",
    "Ultimate",
    "Внедорожник",
    "Передний",
    "Бензин",
    "1,5",
    "147",
    "Вариатор",
    "Кожа",
    "Red/Black",
    "2023",
    "2023",
    "2",
    "3 119 900,00",
    "18.11.2023",
    "Новый",
    "Мурманск",
    "Мурманск CHERY",
    "Мурманск CHERY",
    "Салон",
    "электронный",
    "Да",
    "23.03.2023",
    "23.03.2023",
    "06.04.2023",
    "29.03.2023",
]

SECOND_VIN = "LVVDB21B2PD734289"
SECOND_ROW = [
    "",
    SECOND_VIN.lower(),
    "CHERY",
    "Tiggo 4",
    "",
    "Кроссовер",
    "fwd",
    "бензин",
    "1498",
    "",
    "CVT",
    "Ткань",
    "Белый",
    "2022",
    "2022",
    "15 300",
    "1899000",
    "2024-01-15",
    "С пробегом",
    "мурманск",
    "мурманск chery",
    "",
    "",
    "бумажный",
    "нет",
    "",
    "",
    "",
    "",
]


@dataclass
class World:
    dealer_center: DealerCenter
    other_dealer_center: DealerCenter
    site: Site
    other_site: Site
    storage: Site
    consignor: Consignor
    chery: Brand
    logistician: User
    manager: User
    other_head: User
    admin: User


def make_world() -> World:
    region = RegionFactory(name="Мурманская область")
    murmansk = CityFactory(name="Мурманск", region=region)
    kazan = CityFactory(name="Казань")
    dealer_center = DealerCenterFactory(name="Chery Мурманск", city=murmansk)
    other = DealerCenterFactory(name="Haval Казань", city=kazan)
    site = Site.objects.create(name="Мурманск CHERY", city=murmansk, dealer_center=dealer_center)
    other_site = Site.objects.create(name="Казань HAVAL", city=kazan, dealer_center=other)
    storage = Site.objects.create(name="Склад Мурманск", city=murmansk, dealer_center=None)
    consignor = Consignor.objects.create(name="Мурманск CHERY", inn="5190000000")
    chery = Brand.objects.create(name="Chery", code="chery")
    Brand.objects.create(name="Haval", code="haval")
    return World(
        dealer_center=dealer_center,
        other_dealer_center=other,
        site=site,
        other_site=other_site,
        storage=storage,
        consignor=consignor,
        chery=chery,
        logistician=UserFactory(
            username="logistician", roles=[RoleCode.LOGISTICIAN], dealer_centers=[dealer_center]
        ),
        manager=UserFactory(
            username="manager", roles=[RoleCode.SALES_MANAGER], dealer_centers=[dealer_center]
        ),
        other_head=UserFactory(username="head", roles=[RoleCode.HEAD], dealer_centers=[other]),
        admin=UserFactory(username="admin", roles=[RoleCode.ADMINISTRATOR]),
    )


def csv_bytes(
    rows: list[list[Any]],
    *,
    headers: list[str] = HEADERS,
    delimiter: str = ";",
    encoding: str = "utf-8",
) -> bytes:
    import csv

    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list[Any]], *, headers: list[str] = HEADERS, title: str = "") -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    if title:
        sheet.append([title])
        sheet.append([])
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def upload(content: bytes, name: str = "stock.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")
