"""Synthetic but believable clients, fast: for benchmarks and load tests.

``generate_clients(count=N)`` adds N clients spread over the group's dealer centers, with
Russian names (patronymics, feminine surnames), 1-2 mobile phones in E.164, e-mails for
about a third, Telegram identities for about a fifth and a few companies. Rows go
straight into the tables (COPY on PostgreSQL, executemany on SQLite), one transaction per
batch; nothing is validated, the rows are consistent by construction.

Phones are ``+79`` followed by nine digits that a bijection scrambles from the client's
id, so the first phone of every generated client is unique and repeated runs never
collide; the second phone is drawn from the same space and may, rarely, be another
client's (a family sharing a number happens in real data too). Telegram ids derive from
the client id, so they never break the identity's unique constraint.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Max
from django.db.models.fields import NOT_PROVIDED
from django.utils import timezone

from autocrm.accounts.models import DealerCenter
from autocrm.clients.models import (
    Client,
    ClientEmail,
    ClientIdentity,
    ClientKind,
    ClientPhone,
    IdentityKind,
    PhoneKind,
)
from autocrm.clients.services import search_text

MALE_FIRST = (
    "Александр", "Дмитрий", "Максим", "Сергей", "Андрей", "Алексей", "Артём", "Илья",
    "Кирилл", "Михаил", "Никита", "Матвей", "Роман", "Егор", "Арсений", "Иван", "Денис",
    "Евгений", "Даниил", "Тимофей", "Владислав", "Игорь", "Владимир", "Павел", "Руслан",
    "Марк", "Константин", "Тимур", "Олег", "Ярослав", "Антон", "Николай", "Глеб", "Данил",
    "Савелий", "Вадим", "Степан", "Юрий", "Богдан", "Виктор",
)  # fmt: skip
FEMALE_FIRST = (
    "Анна", "Мария", "Елена", "Дарья", "Алина", "Ирина", "Екатерина", "Арина", "Полина",
    "Ольга", "Юлия", "Татьяна", "Наталья", "Виктория", "Елизавета", "Ксения", "Милана",
    "Вероника", "Алиса", "Валерия", "Александра", "Ульяна", "Кристина", "София", "Марина",
    "Светлана", "Варвара", "Софья", "Диана", "Яна",
)  # fmt: skip
# Masculine forms; feminine ones are derived (Иванов → Иванова, Толстой → Толстая).
LAST_NAMES = (
    "Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов",
    "Новиков", "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров",
    "Павлов", "Козлов", "Степанов", "Николаев", "Орлов", "Андреев", "Макаров", "Никитин",
    "Захаров", "Зайцев", "Соловьёв", "Борисов", "Яковлев", "Григорьев", "Романов",
    "Воробьёв", "Сергеев", "Кузьмин", "Фролов", "Александров", "Дмитриев", "Королёв",
    "Гусев", "Киселёв", "Ильин", "Максимов", "Поляков", "Сорокин", "Виноградов", "Ковалёв",
    "Белов", "Медведев", "Антонов", "Тарасов", "Жуков", "Баранов", "Филиппов", "Комаров",
    "Давыдов", "Беляев", "Герасимов", "Богданов", "Осипов", "Сидоров", "Матвеев", "Титов",
    "Марков", "Миронов", "Крылов", "Куликов", "Карпов", "Власов", "Мельников", "Денисов",
    "Гаврилов", "Тихонов", "Казаков", "Афанасьев", "Данилов", "Савельев", "Тимофеев",
    "Фомин", "Чернов", "Абрамов", "Мартынов", "Ефимов", "Федотов", "Щербаков", "Назаров",
    "Калинин", "Исаев", "Чернышёв", "Быков", "Маслов", "Родионов", "Коновалов", "Лазарев",
    "Воронин", "Климов", "Филатов", "Пономарёв", "Голубев", "Кудрявцев", "Прохоров",
    "Наумов", "Потапов", "Журавлёв", "Овчинников", "Трофимов", "Леонов", "Соболев",
    "Ермаков", "Колесников", "Гончаров", "Емельянов", "Никифоров", "Грачёв", "Котов",
    "Гришин", "Ефремов", "Архипов", "Громов", "Кириллов", "Малышев", "Панов", "Моисеев",
    "Румянцев", "Акимов", "Кондратьев", "Бирюков", "Горбунов", "Анисимов", "Еремин",
    "Толстой", "Островский", "Шевченко", "Бондаренко", "Ким", "Мамедов", "Ахмедов",
    "Гарипов", "Сафин", "Хабибуллин",
)  # fmt: skip
# Patronymics as (male, female).
PATRONYMICS = (
    ("Александрович", "Александровна"), ("Дмитриевич", "Дмитриевна"),
    ("Сергеевич", "Сергеевна"), ("Андреевич", "Андреевна"), ("Алексеевич", "Алексеевна"),
    ("Михайлович", "Михайловна"), ("Иванович", "Ивановна"), ("Владимирович", "Владимировна"),
    ("Николаевич", "Николаевна"), ("Евгеньевич", "Евгеньевна"), ("Викторович", "Викторовна"),
    ("Игоревич", "Игоревна"), ("Юрьевич", "Юрьевна"), ("Павлович", "Павловна"),
    ("Олегович", "Олеговна"), ("Анатольевич", "Анатольевна"), ("Валерьевич", "Валерьевна"),
    ("Петрович", "Петровна"), ("Геннадьевич", "Геннадьевна"), ("Васильевич", "Васильевна"),
)  # fmt: skip
COMPANY_WORDS = (
    "Автотранс", "Логистик", "СтройИнвест", "ТехноСервис", "Агроресурс", "Северный ветер",
    "Восток-Трейд", "Промснаб", "Меридиан", "Гелиос", "Вектор", "Альфа-Строй", "Энергия",
    "Сибирь-Авто", "Волга-Лизинг", "Урал-Транзит", "Кристалл", "Горизонт",
)  # fmt: skip
COMPANY_FORMS = ("ООО", "ООО", "ООО", "АО", "ИП")
EMAIL_DOMAINS = (
    "mail.ru", "mail.ru", "yandex.ru", "yandex.ru", "gmail.com", "bk.ru", "inbox.ru",
    "list.ru", "rambler.ru", "ya.ru",
)  # fmt: skip
_TRANSLIT = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        ("a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p",
         "r", "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya"),
        strict=True,
    )
)  # fmt: skip

# A bijection of 0..10^9-1 (the multiplier is coprime with 10^9): distinct ids, distinct
# subscriber numbers; the second phone uses another one.
_PHONE_SPACE = 1_000_000_000
_PHONE_MULTIPLIERS = ((387_420_489, 123_456_789), (282_475_249, 987_654_321))
# Telegram user ids of generated clients: far above those of the demo and the tests.
TELEGRAM_ID_BASE = 6_000_000_000


def transliterate(text: str) -> str:
    return "".join(_TRANSLIT.get(char, char) for char in text.lower() if char.isalnum())


def feminine(last_name: str) -> str:
    if last_name.endswith(("ов", "ев", "ёв", "ин", "ын")):
        return last_name + "а"
    if last_name.endswith("ский"):
        return last_name[:-2] + "ая"
    if last_name.endswith("ой"):
        return last_name[:-2] + "ая"
    return last_name  # Шевченко, Ким: the same for women


def generated_phone(client_id: int, which: int = 0) -> str:
    multiplier, offset = _PHONE_MULTIPLIERS[which]
    return f"+79{(client_id * multiplier + offset) % _PHONE_SPACE:09d}"


class _Loader:
    """Writes rows of one table the fastest way the database offers."""

    def __init__(self, model: Any, known: Sequence[str]) -> None:
        self.model = model
        self.defaults = _column_defaults(model, set(known))
        by_attname = {f.attname: f.column for f in model._meta.concrete_fields}
        self.columns = [by_attname[name] for name in (*known, *self.defaults)]
        self.default_values = tuple(self.defaults.values())

    def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        quote = connection.ops.quote_name
        table = quote(self.model._meta.db_table)
        names = ", ".join(quote(column) for column in self.columns)
        extra = self.default_values
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                raw = cursor.cursor  # the psycopg 3 cursor under Django's wrapper
                with raw.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row + extra)
            else:
                placeholders = ", ".join(["%s"] * len(self.columns))
                # Table and column names come from model metadata; values are bound.
                statement = f"INSERT INTO {table} ({names}) VALUES ({placeholders})"  # noqa: S608
                cursor.executemany(statement, [row + extra for row in rows])


def _column_defaults(model: Any, known: set[str]) -> dict[str, Any]:
    """Values for columns this generator does not know (added by later migrations)."""
    defaults: dict[str, Any] = {}
    for model_field in model._meta.concrete_fields:
        if model_field.attname in known or model_field.primary_key:
            continue
        if model_field.has_default():
            value = model_field.get_default()
        elif getattr(model_field, "db_default", NOT_PROVIDED) is not NOT_PROVIDED:
            continue
        elif model_field.null:
            value = None
        elif model_field.blank and model_field.get_internal_type() in ("CharField", "TextField"):
            value = ""
        else:
            raise RuntimeError(
                f"generate_clients cannot fill {model._meta.db_table}.{model_field.column}: "
                "it has no default; teach autocrm/clients/generator.py about it."
            )
        defaults[model_field.attname] = model_field.get_db_prep_save(value, connection)
    return defaults


def _allocate_ids(model: Any, count: int, next_ids: dict[str, int]) -> list[int]:
    """Primary keys for new rows: the sequence on PostgreSQL, after the maximum on SQLite."""
    table = model._meta.db_table
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, count],
            )
            return [row[0] for row in cursor.fetchall()]
    if table not in next_ids:
        next_ids[table] = (model._default_manager.aggregate(top=Max("pk"))["top"] or 0) + 1
    start = next_ids[table]
    next_ids[table] += count
    return list(range(start, start + count))


@dataclass
class ClientGenerationResult:
    clients: int
    phones: int
    emails: int
    identities: int
    seconds: float
    first_id: int | None
    last_id: int | None

    @property
    def rows_per_second(self) -> float:
        return self.clients / self.seconds if self.seconds else 0.0


@dataclass
class _Batch:
    clients: list[tuple[Any, ...]]
    phones: list[tuple[Any, ...]]
    emails: list[tuple[Any, ...]]
    identities: list[tuple[Any, ...]]


class ClientSynthesizer:
    """Rows of one batch; ids are given, everything else drawn from the seeded ``rng``."""

    def __init__(
        self,
        rng: random.Random,
        dealer_center_ids: Sequence[int | None],
        *,
        second_phone_share: float,
        email_share: float,
        telegram_share: float,
        company_share: float,
    ) -> None:
        self.rng = rng
        self.dealer_center_ids = list(dealer_center_ids) or [None]
        self.second_phone_share = second_phone_share
        self.email_share = email_share
        self.telegram_share = telegram_share
        self.company_share = company_share
        self.now = timezone.now()
        self.sqlite = connection.vendor == "sqlite"

    def _stamp(self, moment: datetime) -> Any:
        # What Django stores: naive UTC text on SQLite, timestamptz elsewhere.
        return moment.astimezone(UTC).replace(tzinfo=None) if self.sqlite else moment

    def batch(self, ids: Sequence[int], extra_ids: dict[str, list[int]]) -> _Batch:
        rng = self.rng
        result = _Batch([], [], [], [])
        phone_ids, email_ids, identity_ids = (
            iter(extra_ids["phones"]),
            iter(extra_ids["emails"]),
            iter(extra_ids["identities"]),
        )
        for client_id in ids:
            created = self._stamp(self.now - timedelta(seconds=rng.randrange(5 * 365 * 86400)))
            female = rng.random() < 0.42
            last = rng.choice(LAST_NAMES)
            if female:
                last, first = feminine(last), rng.choice(FEMALE_FIRST)
                middle = rng.choice(PATRONYMICS)[1] if rng.random() < 0.8 else ""
            else:
                first = rng.choice(MALE_FIRST)
                middle = rng.choice(PATRONYMICS)[0] if rng.random() < 0.8 else ""
            company = inn = ""
            kind = ClientKind.PERSON
            if rng.random() < self.company_share:
                kind = ClientKind.COMPANY
                company = f"{rng.choice(COMPANY_FORMS)} «{rng.choice(COMPANY_WORDS)}»"
                inn = f"{rng.randrange(10**9, 10**10)}"
            result.clients.append(
                (client_id, created, created, kind, last, first, middle, company, inn,
                 search_text(last, first, middle, company, inn), rng.choice(self.dealer_center_ids))
            )  # fmt: skip
            result.phones.append(
                (next(phone_ids), client_id, generated_phone(client_id), PhoneKind.MOBILE, True,
                 created)
            )  # fmt: skip
            if rng.random() < self.second_phone_share:
                result.phones.append(
                    (next(phone_ids), client_id, generated_phone(client_id, 1),
                     rng.choice((PhoneKind.WORK, PhoneKind.HOME, PhoneKind.MOBILE)), False, created)
                )  # fmt: skip
            if rng.random() < self.email_share:
                local = f"{transliterate(first)}.{transliterate(last)}{client_id}"
                result.emails.append(
                    (next(email_ids), client_id, f"{local}@{rng.choice(EMAIL_DOMAINS)}", True,
                     created)
                )  # fmt: skip
            if rng.random() < self.telegram_share:
                result.identities.append(
                    (next(identity_ids), client_id, IdentityKind.TELEGRAM,
                     str(TELEGRAM_ID_BASE + client_id), f"{transliterate(first)}_{client_id}",
                     f"{first} {last}", created)
                )  # fmt: skip
        return result


def generate_clients(
    *,
    count: int,
    batch_size: int = 20_000,
    seed: int = 1,
    second_phone_share: float = 0.3,
    email_share: float = 0.35,
    telegram_share: float = 0.2,
    company_share: float = 0.03,
    progress: Callable[[int, float], None] | None = None,
) -> ClientGenerationResult:
    """Insert ``count`` synthetic clients with their contacts, one transaction per batch;
    refresh the planner statistics afterwards. Adds to what is there (run it again for more)."""
    started = time.perf_counter()
    dealer_center_ids: list[int | None] = list(
        DealerCenter.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True)
    )
    # A different stream per run, so a second run does not repeat the first one's names.
    top = Client.objects.aggregate(top=Max("pk"))["top"] or 0
    synthesizer = ClientSynthesizer(
        random.Random(f"{seed}:{top}"),  # noqa: S311 - test data, not secrets
        dealer_center_ids,
        second_phone_share=second_phone_share,
        email_share=email_share,
        telegram_share=telegram_share,
        company_share=company_share,
    )
    loaders = {
        "clients": _Loader(
            Client,
            ("id", "created_at", "updated_at", "kind", "last_name", "first_name", "middle_name",
             "company_name", "inn", "search_name", "dealer_center_id"),
        ),
        "phones": _Loader(
            ClientPhone, ("id", "client_id", "number", "kind", "is_primary", "created_at")
        ),
        "emails": _Loader(ClientEmail, ("id", "client_id", "address", "is_primary", "created_at")),
        "identities": _Loader(
            ClientIdentity,
            ("id", "client_id", "kind", "external_id", "username", "display_name", "created_at"),
        ),
    }  # fmt: skip
    next_ids: dict[str, int] = {}
    totals = {"phones": 0, "emails": 0, "identities": 0}
    first_id: int | None = None
    last_id: int | None = None
    done = 0
    while done < count:
        size = min(batch_size, count - done)
        with transaction.atomic():
            ids = _allocate_ids(Client, size, next_ids)
            # Upper bounds of the contact rows; unused ids are gaps, as after rollbacks.
            extra = {
                "phones": _allocate_ids(ClientPhone, 2 * size, next_ids),
                "emails": _allocate_ids(ClientEmail, size, next_ids),
                "identities": _allocate_ids(ClientIdentity, size, next_ids),
            }
            batch = synthesizer.batch(ids, extra)
            loaders["clients"].write(batch.clients)
            loaders["phones"].write(batch.phones)
            loaders["emails"].write(batch.emails)
            loaders["identities"].write(batch.identities)
        totals["phones"] += len(batch.phones)
        totals["emails"] += len(batch.emails)
        totals["identities"] += len(batch.identities)
        first_id = ids[0] if first_id is None else first_id
        last_id = ids[-1]
        done += size
        if progress is not None:
            progress(done, time.perf_counter() - started)
    analyze()
    return ClientGenerationResult(
        clients=done,
        seconds=time.perf_counter() - started,
        first_id=first_id,
        last_id=last_id,
        **totals,
    )


def analyze() -> None:
    """Fresh planner statistics after a bulk load."""
    with connection.cursor() as cursor:
        for model in (Client, ClientPhone, ClientEmail, ClientIdentity):
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
