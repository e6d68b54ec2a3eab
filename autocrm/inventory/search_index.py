"""An in-memory index of the stock for the faceted search, one per process.

Why: plain SQL needs 0.4-1 s for a dozen facet counts over a broad filter on a million
cars; compressed bitmaps (pyroaring) answer the same in milliseconds. docs/architecture.md,
"Stock search", explains the design; in short:

* every searchable attribute keeps one bitmap of vehicle ids per value (make, model, ...,
  year, dealer center); numeric attributes (price, mileage, stock-in date) keep bitmaps per
  value bucket and an array of exact values, so a range is whole buckets plus an exact
  check of the two boundary buckets, and sorting walks the buckets in order;
* VINs sit in one fixed-width byte buffer (17 bytes per id) searched with ``bytes.find``;
* before every search the index reads ``StockChange`` rows it has not seen (one indexed
  query) and reloads just those vehicles, so it answers like the database right after a
  write made by any process. Change ids are assigned at insert but become visible at
  commit, so missing ids are re-checked for ``GAP_TIMEOUT`` seconds; recently seen rows
  are re-read for ``RECENT_WINDOW`` seconds so that a rolled-back write (seen from inside
  its own transaction) is undone; a vanished or rewritten last row means the log was
  rolled back or reset and the index is rebuilt;
* catalog renames are caught by a fingerprint (row count and latest ``updated_at``) of the
  catalog tables, read with the same poll;
* cars inserted without a ``StockChange`` row (bulk loaders) are caught by the maximum
  vehicle id; updates and deletes must go through the services (or call
  ``record_stock_change``), or ``reset()`` must be called.

Items of a page are read from the database by id, so what a user sees is always current.
"""

from __future__ import annotations

import bisect
import datetime
import logging
import math
import threading
import time
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.db import connections, router
from pyroaring import BitMap

from autocrm.accounts.models import Brand, City, Consignor, Site
from autocrm.accounts.scoping import ALL, can_see_dealer_center, visible_dealer_center_ids
from autocrm.inventory.models import (
    BodyType,
    CarModel,
    Color,
    Condition,
    DriveType,
    EngineType,
    LogisticsStatus,
    ReservationStatus,
    StockChange,
    Transmission,
    Trim,
    Vehicle,
)

if TYPE_CHECKING:
    from django.db.models import ForeignKey

logger = logging.getLogger(__name__)

# How long an unseen change id may still show up (a transaction committing late).
GAP_TIMEOUT = 15 * 60.0
# How long seen change rows are re-read to notice a rollback of a write seen too early.
RECENT_WINDOW = 120.0
MAX_RECENT = 2_000
MAX_PENDING = 5_000
# Reloading more vehicles than this at once: rebuild instead.
REBUILD_THRESHOLD = 50_000
# Value buckets of a numeric column (more buckets: smaller boundary checks, more bitmaps).
BUCKETS = 256
# Below this many matches, sorting reads every match instead of walking buckets.
SMALL_RESULT = 4_096
MAX_ID = 2**32 - 1
LOWEST = -(2**62)
HIGHEST = 2**62
# At build, change ids this far below the newest may still be uncommitted: watch them.
BUILD_LOOKBACK = 1_000
LOAD_CHUNK = 20_000
VIN_WIDTH = 17
# Raw SQL below names tables from the models, never from input.
CHANGES = StockChange._meta.db_table

CONDITIONS = tuple(Condition.values)
RESERVATION_STATUSES = tuple(ReservationStatus.values)

# Attribute -> (catalog model, the attribute holding its spelling) for keyed-by-id facets.
CATALOGS: dict[str, tuple[Any, str]] = {
    "make": (Brand, "name"),
    "model": (CarModel, "name"),
    "trim": (Trim, "name"),
    "body": (BodyType, "code"),
    "drive": (DriveType, "code"),
    "engine": (EngineType, "code"),
    "transmission": (Transmission, "code"),
    "color": (Color, "name"),
    "city": (City, "name"),
    "site": (Site, "name"),
    "consignor": (Consignor, "name"),
    "logistics_status": (LogisticsStatus, "code"),
}
# Keyed attributes: catalog ones, the two coded choices, dealer center (scope) and year.
ATTRIBUTES: tuple[str, ...] = (
    *CATALOGS,
    "condition",
    "reservation_status",
    "dealer_center",
    "year",
)
VEHICLE_COLUMNS = (
    "id",
    "make_id",
    "car_model_id",
    "trim_id",
    "body_id",
    "drive_id",
    "engine_id",
    "transmission_id",
    "color_id",
    "city_id",
    "site_id",
    "consignor_id",
    "logistics_status_id",
    "condition",
    "reservation_status",
    "dealer_center_id",
    "model_year",
    "pts_year",
    "price",
    "mileage",
    "stock_in_date",
    "vin",
    "stock_code",
)


class IndexUnavailable(Exception):
    """The data does not fit the index (e.g. ids beyond 32 bits); search in SQL instead."""


class BucketedColumn:
    """Exact values of one numeric attribute by id, plus a bitmap per value bucket.

    While building, ``store`` only records values; ``finish`` then picks bucket bounds at
    quantiles of the data and fills the buckets.
    """

    def __init__(self) -> None:
        self.bounds: list[int] = [LOWEST]  # lower bound of each bucket, ascending
        self.buckets: list[BitMap] = [BitMap()]
        self.values = array("q")
        # Per bucket, made on first use and dropped when the bucket changes: its values
        # ascending and the ids in that order, so a boundary bucket is two bisections.
        self.ordered: list[tuple[list[int], array[int]] | None] = [None]

    def store(self, vehicle_id: int, value: int) -> None:
        _grow(self.values, vehicle_id, 0)
        self.values[vehicle_id] = value

    def finish(self, ids: BitMap) -> None:
        values = self.values
        ordered = sorted(values[vehicle_id] for vehicle_id in ids)
        bounds = [LOWEST]
        step = max(len(ordered) // BUCKETS, 1)
        for position in range(step, len(ordered), step):
            if ordered[position] > bounds[-1]:
                bounds.append(ordered[position])
        self.bounds = bounds
        members: list[list[int]] = [[] for _ in bounds]
        for vehicle_id in ids:
            members[self.bucket_of(values[vehicle_id])].append(vehicle_id)
        self.buckets = [BitMap(bucket) for bucket in members]
        self.ordered = [None] * len(self.buckets)

    def bucket_of(self, value: int) -> int:
        return bisect.bisect_right(self.bounds, value) - 1

    def upper_of(self, bucket: int) -> int:
        """The largest value bucket ``bucket`` can hold."""
        return self.bounds[bucket + 1] - 1 if bucket + 1 < len(self.bounds) else HIGHEST

    def set(self, vehicle_id: int, value: int) -> None:
        self.store(vehicle_id, value)
        bucket = self.bucket_of(value)
        self.buckets[bucket].add(vehicle_id)
        self.ordered[bucket] = None

    def remove(self, vehicle_id: int) -> None:
        bucket = self.bucket_of(self.values[vehicle_id])
        self.buckets[bucket].discard(vehicle_id)
        self.ordered[bucket] = None

    def ordered_bucket(self, bucket: int) -> tuple[list[int], array[int]]:
        """The bucket's values ascending and its ids in the same order."""
        ordered = self.ordered[bucket]
        if ordered is None:
            values = self.values
            pairs = sorted((values[vehicle_id], vehicle_id) for vehicle_id in self.buckets[bucket])
            ordered = ([value for value, _id in pairs], array("I", [pk for _value, pk in pairs]))
            self.ordered[bucket] = ordered
        return ordered

    def range(self, low: int | None, high: int | None) -> BitMap:
        """Ids whose value lies in [low, high] (both inclusive, ``None`` open)."""
        lowest = LOWEST if low is None else low
        highest = HIGHEST if high is None else high
        if highest < lowest:
            return BitMap()
        first, last = self.bucket_of(lowest), self.bucket_of(highest)
        result = BitMap.union(*self.buckets[first + 1 : last]) if last > first + 1 else BitMap()
        for bucket in {first, last}:
            if lowest <= self.bounds[bucket] and self.upper_of(bucket) <= highest:
                result |= self.buckets[bucket]
            else:
                values, ids = self.ordered_bucket(bucket)
                start = bisect.bisect_left(values, lowest)
                end = bisect.bisect_right(values, highest)
                result |= BitMap(ids[start:end])
        return result


def _grow(values: array[int], index: int, filler: int) -> None:
    if index >= len(values):
        values.extend([filler] * (max(index + 1, len(values) * 2) - len(values)))


@dataclass
class Catalog:
    """Spelling of each catalog id, the ids behind each spelling, and every catalog row.

    The rows (all columns, as read from the database) let a result page attach its
    make, model, city, ... without joining 12 tables: PostgreSQL spends ~14 ms just
    planning that join, and the rows are exact as long as the fingerprint is.
    """

    spelling: dict[str, dict[int, str]] = field(default_factory=dict)
    ids: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    rows: dict[str, dict[int, tuple[Any, ...]]] = field(default_factory=dict)
    fingerprint: tuple[Any, ...] = ()

    @classmethod
    def load(cls, using: str, fingerprint: tuple[Any, ...]) -> Catalog:
        catalog = cls(fingerprint=fingerprint)
        for attribute, (model, column) in CATALOGS.items():
            names = _attnames(model)
            rows = {row[0]: row for row in model.objects.using(using).values_list(*names)}
            position = names.index(model._meta.get_field(column).attname)
            spelling = {pk: row[position] for pk, row in rows.items()}
            catalog.rows[attribute] = rows
            catalog.spelling[attribute] = spelling
            by_value: dict[str, list[int]] = {}
            for pk, value in spelling.items():
                by_value.setdefault(value, []).append(pk)
            catalog.ids[attribute] = by_value
        return catalog

    def instance(self, attribute: str, pk: int, using: str) -> Any | None:
        """A fresh model instance of catalog row ``pk`` (``None`` if not loaded)."""
        row = self.rows[attribute].get(pk)
        if row is None:
            return None
        model = CATALOGS[attribute][0]
        return model.from_db(using, _attnames(model), row)


def _attnames(model: Any) -> list[str]:
    """Concrete columns of ``model``, primary key first (the order ``from_db`` wants)."""
    names = [item.attname for item in model._meta.concrete_fields]
    if names[0] != model._meta.pk.attname:
        raise IndexUnavailable(f"{model.__name__}: the primary key is not the first column")
    return names


def _year(model_year: int | None, pts_year: int | None) -> int:
    year = model_year if model_year is not None else pts_year
    return year or 0


class StockIndex:
    """The index of one database. Use through ``search()``; not thread-safe by itself."""

    def __init__(self, using: str) -> None:
        self.using = using
        self._clear()

    def _clear(self) -> None:
        self.keys: dict[str, dict[int, BitMap]] = {name: {} for name in ATTRIBUTES}
        self.key_of: dict[str, array[int]] = {name: array("q") for name in ATTRIBUTES}
        self.all_ids = BitMap()
        self.price = BucketedColumn()
        self.mileage = BucketedColumn()
        self.stock_in = BucketedColumn()
        self.vins = bytearray()
        # Stock codes that differ from the VIN (the usual code is the VIN itself).
        self.stock_codes: dict[int, str] = {}
        self._stock_blob: tuple[str, list[int], list[int]] | None = None
        self.catalog = Catalog()
        self.last_change_id = 0
        # change id -> (vehicle id, changed at, when we first saw it)
        self.recent: dict[int, tuple[int, Any, float]] = {}
        # change ids not (yet) visible -> when we noticed the gap
        self.pending: dict[int, float] = {}
        self.max_vehicle_id = 0
        self._building = False

    # --- loading ----------------------------------------------------------------------

    def build(self) -> None:
        started = time.monotonic()
        self._clear()
        # The fingerprint is read before the catalog is: a rename in between only makes
        # the next search reload the catalog once more.
        changes, _max_vehicle_id, fingerprint = self._poll(
            f"id >= (SELECT MAX(id) FROM {CHANGES}) - %s",  # noqa: S608
            [BUILD_LOOKBACK],
        )
        tail = sorted((change_id, *change) for change_id, change in changes.items())
        self._building = True
        for row in self._vehicle_rows(None):
            self._add(row)
            self.max_vehicle_id = max(self.max_vehicle_id, row[0])
        self._building = False
        for column in (self.price, self.mileage, self.stock_in):
            column.finish(self.all_ids)
        now = time.monotonic()
        if tail:
            # Rows below the newest that are not visible yet may belong to transactions
            # still running: their vehicles are re-read when the rows show up.
            seen = {row[0] for row in tail}
            self.last_change_id = tail[-1][0]
            self.recent[tail[-1][0]] = (tail[-1][1], tail[-1][2], now)
            for change_id in range(tail[0][0], self.last_change_id):
                if change_id not in seen:
                    self.pending[change_id] = now
        self.catalog = Catalog.load(self.using, fingerprint)
        logger.info(
            "Stock search index built: %s vehicles in %.2f s",
            len(self.all_ids),
            time.monotonic() - started,
        )

    def _vehicle_rows(self, ids: Iterable[int] | None, after: int | None = None) -> Iterator[Any]:
        queryset = Vehicle.objects.using(self.using).filter(in_stock=True).order_by("id")
        if after is not None:
            queryset = queryset.filter(id__gt=after)
        if ids is None:
            yield from queryset.values_list(*VEHICLE_COLUMNS).iterator(chunk_size=LOAD_CHUNK)
            return
        wanted = sorted(ids)
        for start in range(0, len(wanted), 1000):
            yield from queryset.filter(id__in=wanted[start : start + 1000]).values_list(
                *VEHICLE_COLUMNS
            )

    def _add(self, row: tuple[Any, ...]) -> None:
        vehicle_id = row[0]
        if vehicle_id > MAX_ID:
            raise IndexUnavailable("vehicle ids beyond 32 bits")
        keys = (
            *(value or 0 for value in row[1:13]),
            CONDITIONS.index(row[13]) + 1 if row[13] in CONDITIONS else 0,
            RESERVATION_STATUSES.index(row[14]) + 1 if row[14] in RESERVATION_STATUSES else 0,
            row[15] or 0,
            _year(row[16], row[17]),
        )
        for name, key in zip(ATTRIBUTES, keys, strict=True):
            positions = self.key_of[name]
            _grow(positions, vehicle_id, 0)
            positions[vehicle_id] = key
            bitmap = self.keys[name].get(key)
            if bitmap is None:
                bitmap = self.keys[name][key] = BitMap()
            bitmap.add(vehicle_id)
        for column, value in (
            (self.price, _kopecks(row[18])),
            (self.mileage, row[19]),
            (self.stock_in, row[20].toordinal()),
        ):
            if self._building:
                column.store(vehicle_id, value)
            else:
                column.set(vehicle_id, value)
        vin = row[21].upper().encode("ascii", "replace")[:VIN_WIDTH].ljust(VIN_WIDTH, b"\0")
        end = (vehicle_id + 1) * VIN_WIDTH
        if len(self.vins) < end:
            self.vins.extend(bytes(max(end, len(self.vins) * 2) - len(self.vins)))
        self.vins[end - VIN_WIDTH : end] = vin
        code = row[22].upper()
        if code != row[21].upper():
            self.stock_codes[vehicle_id] = code
            self._stock_blob = None
        elif self.stock_codes.pop(vehicle_id, None) is not None:
            self._stock_blob = None
        self.all_ids.add(vehicle_id)

    def _remove(self, vehicle_id: int) -> None:
        if vehicle_id not in self.all_ids:
            return
        for name in ATTRIBUTES:
            key = self.key_of[name][vehicle_id]
            bitmap = self.keys[name].get(key)
            if bitmap is not None:
                bitmap.discard(vehicle_id)
                if not bitmap:
                    del self.keys[name][key]
        self.price.remove(vehicle_id)
        self.mileage.remove(vehicle_id)
        self.stock_in.remove(vehicle_id)
        self.vins[vehicle_id * VIN_WIDTH : (vehicle_id + 1) * VIN_WIDTH] = bytes(VIN_WIDTH)
        if self.stock_codes.pop(vehicle_id, None) is not None:
            self._stock_blob = None
        self.all_ids.discard(vehicle_id)

    def reload(self, vehicle_ids: set[int]) -> None:
        for vehicle_id in vehicle_ids:
            self._remove(vehicle_id)
        for row in self._vehicle_rows(vehicle_ids):
            self._add(row)
            self.max_vehicle_id = max(self.max_vehicle_id, row[0])

    # --- staying exact ----------------------------------------------------------------

    def _poll(
        self, where: str, arguments: list[Any]
    ) -> tuple[dict[int, tuple[Any, Any]], int | None, tuple[Any, ...]]:
        """One statement (one round trip, one snapshot): the change rows ``where`` selects
        (id -> (vehicle id, changed at)), the largest vehicle id and the catalog tables'
        (count, latest update). Build and sync both read through it, so the values they
        compare always come back in the same shape."""
        # Table names come from the models, never from input; ``where`` is ours too.
        parts = [
            f"SELECT 'change', id, vehicle_id, changed_at FROM {CHANGES} WHERE {where}",  # noqa: S608
            f"SELECT 'vehicle', MAX(id), NULL, NULL FROM {Vehicle._meta.db_table}",  # noqa: S608
        ]
        for model, _column in CATALOGS.values():
            parts.append(
                f"SELECT '{model._meta.db_table}', COUNT(*), NULL, MAX(updated_at) "  # noqa: S608
                f"FROM {model._meta.db_table}"
            )
        with connections[self.using].cursor() as cursor:
            cursor.execute(" UNION ALL ".join(parts), arguments)
            rows = cursor.fetchall()
        changes = {row[1]: (row[2], row[3]) for row in rows if row[0] == "change"}
        max_vehicle_id = next((row[1] for row in rows if row[0] == "vehicle"), None)
        catalog = tuple(
            sorted(
                (str(row[0]), row[1], str(row[3]))
                for row in rows
                if row[0] not in {"change", "vehicle"}
            )
        )
        return changes, max_vehicle_id, catalog

    def sync(self) -> None:
        """Catch up with every write committed (or made in this transaction) since the
        last call. Rebuilds when the change log went backwards or too much changed."""
        now = time.monotonic()
        window_start = min(self.recent, default=self.last_change_id + 1)
        window_start = min(window_start, self.last_change_id + 1)
        pending = sorted(self.pending)
        where = "id >= %s"
        arguments: list[Any] = [window_start]
        if pending:
            where = f"({where} OR id IN ({', '.join(['%s'] * len(pending))}))"
            arguments.extend(pending)
        fetched, max_vehicle_id, fingerprint = self._poll(where, arguments)
        anchor = self.recent.get(self.last_change_id)
        if anchor is not None and fetched.get(self.last_change_id) != anchor[:2]:
            # The newest row we saw is gone or different: a rollback or a reset log.
            self.build()
            return
        touched: set[int] = set()
        for change_id, (vehicle_id, changed_at, _seen) in list(self.recent.items()):
            current = fetched.get(change_id)
            if current is None:
                touched.add(vehicle_id)  # rolled back after we saw it
                del self.recent[change_id]
            elif current != (vehicle_id, changed_at):
                touched.update((vehicle_id, current[0]))
                self.recent[change_id] = (*current, now)
        highest = self.last_change_id
        for change_id, (vehicle_id, changed_at) in fetched.items():
            if change_id not in self.recent:
                touched.add(vehicle_id)
                self.recent[change_id] = (vehicle_id, changed_at, now)
                self.pending.pop(change_id, None)
            highest = max(highest, change_id)
        for missing in range(self.last_change_id + 1, highest):
            if missing not in fetched:
                self.pending.setdefault(missing, now)
        self.last_change_id = highest
        for change_id, noticed in list(self.pending.items()):
            if now - noticed > GAP_TIMEOUT:
                del self.pending[change_id]
        for change_id, (_vehicle_id, _changed_at, seen) in list(self.recent.items()):
            if change_id != highest and now - seen > RECENT_WINDOW:
                del self.recent[change_id]
        if len(self.recent) > MAX_RECENT:
            for change_id in sorted(self.recent)[: len(self.recent) - MAX_RECENT]:
                if change_id != highest:
                    del self.recent[change_id]
        if len(touched) > REBUILD_THRESHOLD or len(self.pending) > MAX_PENDING:
            self.build()
            return
        if max_vehicle_id is not None and max_vehicle_id > self.max_vehicle_id:
            # Cars inserted without a change row (bulk loaders): load them too.
            new_rows = list(self._vehicle_rows(None, after=self.max_vehicle_id))
            if len(new_rows) > REBUILD_THRESHOLD:
                self.build()
                return
            touched.difference_update(row[0] for row in new_rows)
            for row in new_rows:
                self._remove(row[0])
                self._add(row)
            self.max_vehicle_id = max_vehicle_id
        if touched:
            self.reload(touched)
        if fingerprint != self.catalog.fingerprint:
            self.catalog = Catalog.load(self.using, fingerprint)

    # --- querying ---------------------------------------------------------------------

    def union_of(self, attribute: str, keys: Iterable[int]) -> BitMap:
        bitmaps = [self.keys[attribute][key] for key in keys if key in self.keys[attribute]]
        return BitMap.union(*bitmaps) if bitmaps else BitMap()

    def scope(self, user: Any, active_dealer_center_id: int | None = None) -> BitMap | None:
        """Cars the user may see (None: all); key 0 is group stock with no dealer center.

        Mirrors accounts.scoping.scope_queryset(include_unassigned=True): the switcher's
        dealer center narrows to it plus group stock, and only if the user may see it.
        """
        if active_dealer_center_id is not None and can_see_dealer_center(
            user, active_dealer_center_id
        ):
            return self.union_of("dealer_center", [0, active_dealer_center_id])
        visible = visible_dealer_center_ids(user)
        if visible is ALL:
            return None
        return self.union_of("dealer_center", [0, *visible])

    def list_filter(self, attribute: str, values: Iterable[str]) -> BitMap:
        if attribute == "condition":
            keys = [CONDITIONS.index(value) + 1 for value in values if value in CONDITIONS]
        elif attribute == "reservation_status":
            keys = [
                RESERVATION_STATUSES.index(value) + 1
                for value in values
                if value in RESERVATION_STATUSES
            ]
        else:
            ids = self.catalog.ids[attribute]
            keys = [pk for value in values for pk in ids.get(value, ())]
        return self.union_of(attribute, keys)

    def year_range(self, low: int | None, high: int | None) -> BitMap:
        keys = [
            year
            for year in self.keys["year"]
            if year and (low is None or year >= low) and (high is None or year <= high)
        ]
        return self.union_of("year", keys)

    def vin_tail(self, tail: str) -> BitMap:
        """Ids whose VIN ends with ``tail``."""
        found = BitMap()
        needle = tail.encode("ascii", "replace")
        buffer = self.vins
        position = buffer.find(needle)
        while position != -1:
            end = position + len(needle)
            if end % VIN_WIDTH == 0:
                found.add(end // VIN_WIDTH - 1)
            position = buffer.find(needle, position + 1)
        return found

    def vin_contains(self, word: str) -> BitMap:
        found = BitMap()
        try:
            needle = word.encode("ascii")
        except UnicodeEncodeError:
            return found
        buffer = self.vins
        position = buffer.find(needle)
        while position != -1:
            if position // VIN_WIDTH == (position + len(needle) - 1) // VIN_WIDTH:
                found.add(position // VIN_WIDTH)
            position = buffer.find(needle, position + 1)
        return found

    def stock_code_contains(self, word: str) -> BitMap:
        if self._stock_blob is None:
            ids = sorted(self.stock_codes)
            offsets: list[int] = []
            parts: list[str] = []
            offset = 0
            for vehicle_id in ids:
                offsets.append(offset)
                parts.append(self.stock_codes[vehicle_id])
                offset += len(self.stock_codes[vehicle_id]) + 1
            self._stock_blob = ("\n".join(parts), offsets, ids)
        blob, offsets, ids = self._stock_blob
        found = BitMap()
        position = blob.find(word)
        while position != -1:
            found.add(ids[bisect.bisect_right(offsets, position) - 1])
            position = blob.find(word, position + 1)
        return found

    def text(self, vin: str | None, words: list[str]) -> BitMap:
        result: BitMap | None = self.vin_tail(vin) if vin else None
        for word in words:
            matches = self.vin_contains(word) | self.stock_code_contains(word)
            for attribute in ("make", "model"):
                keys = [
                    pk
                    for pk, name in self.catalog.spelling[attribute].items()
                    if word in name.upper()
                ]
                matches |= self.union_of(attribute, keys)
            result = matches if result is None else result & matches
        return result if result is not None else BitMap(self.all_ids)

    def facet_counts(self, attribute: str, base: BitMap) -> dict[str | int, int]:
        counts: dict[str | int, int] = {}
        if not base:
            return counts
        if attribute == "condition":
            names: Any = dict(enumerate(CONDITIONS, start=1))
        elif attribute == "reservation_status":
            names = dict(enumerate(RESERVATION_STATUSES, start=1))
        elif attribute == "year":
            names = None
        else:
            names = self.catalog.spelling[attribute]
        for key, bitmap in self.keys[attribute].items():
            if not key:
                continue
            number = base.intersection_cardinality(bitmap)
            if number:
                value = key if names is None else names.get(key)
                if value is not None:
                    counts[value] = counts.get(value, 0) + number
        return counts

    def sorted_page(
        self,
        matches: BitMap,
        sort_key: str,
        descending: bool,
        today: datetime.date,
        offset: int,
        limit: int,
    ) -> list[int]:
        """Ids ``offset`` to ``offset + limit`` of ``matches`` in sort order, ties by id."""
        need = offset + limit
        if need <= 0 or not matches:
            return []
        if sort_key == "year":
            # Cars without a year come last in both directions; ids ascend within a year.
            years = sorted((year for year in self.keys["year"] if year), reverse=descending)
            if 0 in self.keys["year"]:
                years.append(0)
            chosen: list[int] = []
            for year in years:
                chosen.extend(matches & self.keys["year"][year])
                if len(chosen) >= need:
                    break
            return chosen[offset:need]
        column = {"price": self.price, "mileage": self.mileage, "days_in_stock": self.stock_in}[
            sort_key
        ]
        values = column.values
        today_ordinal = today.toordinal()
        days = sort_key == "days_in_stock"
        direction = -1 if descending else 1
        # More days = an earlier date: ascending days walk the buckets downwards.
        buckets_upward = descending if days else not descending

        def order_of(raw: int) -> int:
            # days = max(today - date, 0): every date from today on counts as 0 days.
            return direction * (max(today_ordinal - raw, 0) if days else raw)

        def decorate(ids: Iterable[int]) -> list[tuple[int, int]]:
            """(sort key, id) pairs: plain tuples sort in C, no key function per id."""
            members = list(ids)
            orders = [values[vehicle_id] for vehicle_id in members]
            if days:
                orders = [today_ordinal - raw if raw < today_ordinal else 0 for raw in orders]
            if descending:
                orders = [-order for order in orders]
            return list(zip(orders, members, strict=True))

        if len(matches) <= SMALL_RESULT:
            return [vehicle_id for _order, vehicle_id in sorted(decorate(matches))[offset:need]]
        count = len(column.bounds)
        order = range(count) if buckets_upward else range(count - 1, -1, -1)
        candidates: list[tuple[int, int]] = []
        kth: int | None = None
        for bucket in order:
            if kth is not None:
                # The best key this bucket could hold: once it sorts after the kth, stop.
                best = min(order_of(column.bounds[bucket]), order_of(column.upper_of(bucket)))
                if best > kth:
                    break
            part = matches & column.buckets[bucket]
            if not part:
                continue
            candidates.extend(decorate(part))
            if len(candidates) >= need:
                candidates.sort()
                del candidates[need:]
                kth = candidates[-1][0]
        candidates.sort()
        return [vehicle_id for _order, vehicle_id in candidates[offset:need]]


def _kopecks(price: Decimal) -> int:
    return int(Decimal(price) * 100)


# --- the per-process registry -----------------------------------------------------------

_lock = threading.RLock()
_indexes: dict[tuple[str, str], StockIndex] = {}


def enabled() -> bool:
    return bool(getattr(settings, "INVENTORY_SEARCH_INDEX", True))


def reset() -> None:
    """Forget every index of this process (the next search rebuilds)."""
    with _lock:
        _indexes.clear()


def get_index(using: str | None = None) -> StockIndex:
    """The current index of the database, synchronised with it. Hold ``_lock`` while
    using the returned object."""
    using = using or router.db_for_read(Vehicle)
    name = str(connections[using].settings_dict.get("NAME"))
    index = _indexes.get((using, name))
    if index is None:
        index = StockIndex(using)
        index.build()
        _indexes[(using, name)] = index
    else:
        index.sync()
    return index


def search(
    *,
    user: Any,
    params: Any,
    today: datetime.date,
    with_facets: bool = True,
    active_dealer_center_id: int | None = None,
) -> Any:
    """The search on the index, or ``None`` when the index cannot answer (then SQL does)."""
    from autocrm.inventory.search import (
        FACETS,
        LIST_FILTERS,
        RANGE_FILTERS,
        SearchResult,
        facet_values,
        text_words,
    )

    if not enabled():
        return None
    with _lock:
        try:
            index = get_index()
        except IndexUnavailable:
            return None
        scope = index.scope(user, active_dealer_center_id)
        filters: dict[str, BitMap] = {}
        for name in LIST_FILTERS:
            values = params.list_filter(name)
            if values:
                filters[name] = index.list_filter(name, values)
        for name in RANGE_FILTERS:
            low, high = params.range_filter(name)
            if low is None and high is None:
                continue
            if name == "year":
                filters[name] = index.year_range(low, high)
            elif name == "price":
                filters[name] = index.price.range(
                    None if low is None else math.ceil(low * 100),
                    None if high is None else math.floor(high * 100),
                )
            elif name == "mileage":
                filters[name] = index.mileage.range(low, high)
            else:
                today_ordinal = today.toordinal()
                # days = max(today - date, 0) -> a range of stock-in dates.
                latest = today_ordinal - low if low is not None and low > 0 else None
                earliest = today_ordinal - high if high is not None else None
                filters[name] = index.stock_in.range(earliest, latest)
        if params.vin or params.q:
            filters["text"] = index.text(params.vin, text_words(params.q or ""))

        def combine(skip: str | None) -> BitMap:
            parts = [bitmap for name, bitmap in filters.items() if name != skip]
            if scope is not None:
                parts.append(scope)
            if not parts:
                return index.all_ids
            parts.sort(key=len)
            result = parts[0] & parts[1] if len(parts) > 1 else BitMap(parts[0])
            for part in parts[2:]:
                result &= part
            return result

        matches = combine(None)
        page_ids = index.sorted_page(
            matches, params.sort_key, params.sort_descending, today, params.offset, params.limit
        )
        facets: dict[str, Any] = {}
        if with_facets:
            for facet in FACETS:
                base = combine(facet) if facet in filters else matches
                facets[facet] = facet_values(facet, index.facet_counts(facet, base), params)
        count = len(matches)
        catalog, using = index.catalog, index.using
    return SearchResult(
        count=count,
        items=page_vehicles(page_ids, catalog, using),
        facets=facets,
        today=today,
        engine="index",
    )


# Foreign keys of a vehicle that a result page shows -> the catalog attribute they name.
PAGE_RELATIONS: dict[str, str] = {
    "make": "make",
    "car_model": "model",
    "trim": "trim",
    "body": "body",
    "drive": "drive",
    "engine": "engine",
    "transmission": "transmission",
    "color": "color",
    "city": "city",
    "site": "site",
    "consignor": "consignor",
    "logistics_status": "logistics_status",
}


def page_vehicles(ids: list[int], catalog: Catalog, using: str) -> list[Any]:
    """Rows for ``ids`` in that order, read from the vehicle table alone (one query), with
    their catalog relations taken from the index's catalog rows, which the search has just
    checked against the database. A relation the catalog does not hold yet (a catalog row
    newer than the check): the page is read with the 12-table join instead."""
    from autocrm.inventory.search import vehicles_by_ids

    if not ids:
        return []
    rows = Vehicle.objects.using(using).in_bulk(ids)
    # One instance per catalog row and page (like prefetch_related), never shared between
    # pages: a caller may change what it got.
    made: dict[tuple[str, int], Any] = {}
    relations = [
        (cast("ForeignKey[Any, Any]", Vehicle._meta.get_field(name)), attribute)
        for name, attribute in PAGE_RELATIONS.items()
    ]
    for vehicle in rows.values():
        for relation, attribute in relations:
            pk = getattr(vehicle, relation.attname)
            if pk is None:
                continue
            related = made.get((attribute, pk))
            if related is None:
                related = catalog.instance(attribute, pk, using)
                if related is None:
                    return list(vehicles_by_ids(ids))
                made[(attribute, pk)] = related
            relation.set_cached_value(vehicle, related)
    return [rows[pk] for pk in ids if pk in rows]
