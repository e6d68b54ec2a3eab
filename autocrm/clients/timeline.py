"""The client's timeline: messages, calls, forms, visits and requests in one list.

``clients`` sits below the apps that own those rows (layer rule), so it cannot query them;
each app registers a *source* instead (``register_timeline_source``, called from its
``AppConfig.ready``). A source returns its newest rows of a set of clients that come
before a keyset cursor, read through its ``(client, -at, -id)`` index; the selector here
merges the sources newest first.

The order is total: ``(at, kind, id)`` descending. Ties on ``at`` are common (rows written
in one transaction, providers with second-resolution clocks), and ordering by ``at``
alone would let a page boundary skip or repeat rows. The cursor is opaque to callers: a
page's ``next_before`` is passed back as ``before``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from django.db.models import Model, Q, QuerySet
from django.utils.translation import gettext as _

from autocrm.core.errors import ValidationFailed

DEFAULT_LIMIT = 30
MAX_LIMIT = 100

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Cursors are short; anything much longer is not one of ours.
_MAX_CURSOR_LENGTH = 200


@dataclass(frozen=True, order=True)
class Cursor:
    """A position in the timeline: the ``(at, kind, id)`` of an item."""

    at: datetime
    kind: str
    id: int

    def encode(self) -> str:
        micros = (self.at - _EPOCH) // timedelta(microseconds=1)
        raw = f"{micros}:{self.kind}:{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str, *, field_name: str = "before") -> Cursor:
        """The cursor in ``value``, or ValidationFailed naming ``field_name``."""
        invalid = ValidationFailed(
            _("Not a timeline position: pass back a next_before value unchanged."),
            field=field_name,
        )
        text = (value or "").strip()
        if not text or len(text) > _MAX_CURSOR_LENGTH:
            raise invalid
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
            micros_text, kind, id_text = raw.split(":")
            micros, item_id = int(micros_text), int(id_text)
            at = _EPOCH + timedelta(microseconds=micros)
        except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError):
            raise invalid from None
        if not kind.isidentifier() or item_id < 1 or item_id >= 2**63:
            raise invalid
        return cls(at=at, kind=kind, id=item_id)


@dataclass
class TimelineItem:
    """One row of the timeline, whatever app it comes from.

    ``data`` holds the kind's own fields (JSON-friendly values: the API returns them as
    they are); ``links`` holds URLs the HTML card needs (attachment downloads, the status
    badge that refreshes itself) and is not part of the API.
    """

    kind: str
    id: int
    at: datetime
    channel: str
    direction: str | None
    text: str
    data: dict[str, Any] = field(default_factory=dict)
    links: dict[str, Any] = field(default_factory=dict)

    @property
    def cursor(self) -> Cursor:
        return Cursor(at=self.at, kind=self.kind, id=self.id)

    @property
    def sort_key(self) -> tuple[datetime, str, int]:
        return (self.at, self.kind, self.id)

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.data,
            "kind": self.kind,
            "id": self.id,
            "at": self.at,
            "channel": self.channel,
            "direction": self.direction,
            "text": self.text,
        }


class TimelineSource(Protocol):
    def __call__(
        self,
        *,
        client_ids: Sequence[int],
        limit: int,
        before: Cursor | None = None,
        after: Cursor | None = None,
    ) -> list[TimelineItem]:
        """Up to ``limit`` items of ``client_ids`` beyond the cursor: with ``before`` (or
        no cursor) the newest ones older than it, with ``after`` the oldest ones newer
        than it. The order of the returned list does not matter."""
        ...


_SOURCES: dict[str, Callable[..., list[TimelineItem]]] = {}


def register_timeline_source(kind: str, fetch: Callable[..., list[TimelineItem]]) -> None:
    """Add (or replace) the source of one kind of timeline item; see ``TimelineSource``."""
    if not kind.isidentifier():
        raise ValueError(f"timeline kind must be an identifier: {kind!r}")
    _SOURCES[kind] = fetch


def timeline_sources() -> dict[str, Callable[..., list[TimelineItem]]]:
    return dict(_SOURCES)


# Parts of the card that higher apps serve (the reply box): key -> URL for a client.
# The card loads each with htmx, so this app needs neither their views nor their URLs.
_CARD_PANELS: dict[str, Callable[[Any], str]] = {}


def register_card_panel(key: str, url: Callable[[Any], str]) -> None:
    _CARD_PANELS[key] = url


def card_panels() -> dict[str, Callable[[Any], str]]:
    return dict(_CARD_PANELS)


M = TypeVar("M", bound=Model)


def keyset_page(
    queryset: QuerySet[M],
    *,
    kind: str,
    client_ids: Sequence[int],
    limit: int,
    before: Cursor | None = None,
    after: Cursor | None = None,
    at_field: str = "at",
    client_field: str = "client",
) -> list[M]:
    """Rows of one source beyond the cursor, read through its ``(client, -at, -id)`` index.

    A row ``(at, kind, id)`` comes before the cursor ``(c_at, c_kind, c_id)`` when it is
    lexicographically smaller: older, or as old and of a smaller kind, or as old, of the
    same kind and with a smaller id. Within one source the kind is fixed, so the test
    reduces to a condition on ``at`` and ``id`` that the index answers.
    """
    ids = list(dict.fromkeys(client_ids))
    if not ids or limit < 1:
        return []
    if len(ids) == 1:
        queryset = queryset.filter(**{f"{client_field}_id": ids[0]})
    else:
        queryset = queryset.filter(**{f"{client_field}_id__in": ids})
    if after is not None:
        queryset = queryset.filter(_beyond(after, kind, at_field, newer=True))
        return list(queryset.order_by(at_field, "id")[:limit])
    if before is not None:
        queryset = queryset.filter(_beyond(before, kind, at_field, newer=False))
    return list(queryset.order_by(f"-{at_field}", "-id")[:limit])


def _beyond(cursor: Cursor, kind: str, at_field: str, *, newer: bool) -> Q:
    strictly = f"{at_field}__gt" if newer else f"{at_field}__lt"
    or_equal = f"{at_field}__gte" if newer else f"{at_field}__lte"
    id_beyond = "id__gt" if newer else "id__lt"
    if kind == cursor.kind:
        return Q(**{strictly: cursor.at}) | Q(**{at_field: cursor.at, id_beyond: cursor.id})
    # Another kind at the same instant sorts by the kind's name.
    kind_beyond = kind > cursor.kind if newer else kind < cursor.kind
    return Q(**{or_equal if kind_beyond else strictly: cursor.at})


def choice_labels(choices: Any) -> dict[str, str]:
    """``{value: label}`` of a TextChoices class in the active language.

    Built once per page: a model's ``get_FOO_display`` hashes every lazy label of the
    field's choices on each call (a translation lookup per label), which on a page of a
    hundred rows costs more than the queries.
    """
    return {str(value): str(label) for value, label in choices.choices}


def clamp_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    return max(1, min(int(limit), MAX_LIMIT))


def _parse(cursor: str | Cursor | None, field_name: str) -> Cursor | None:
    if cursor is None or isinstance(cursor, Cursor):
        return cursor
    if cursor == "":
        return None
    return Cursor.decode(cursor, field_name=field_name)


def timeline_client_ids(client: Any) -> list[int]:
    """The clients whose rows make up this client's timeline.

    A merge moves every row to the survivor, so that is the client alone; kept as a list
    so that the sources' contract does not change if merges one day stop moving rows.
    """
    return [client.pk]


def client_timeline(
    *, client: Any, limit: int | None = DEFAULT_LIMIT, before: str | Cursor | None = None
) -> tuple[list[TimelineItem], str | None]:
    """One page of the client's timeline, newest first, and the ``before`` of the next page
    (``None`` on the last page). A malformed ``before`` is a ValidationFailed on "before"."""
    size = clamp_limit(limit)
    cursor = _parse(before, "before")
    client_ids = timeline_client_ids(client)
    gathered: list[TimelineItem] = []
    # One more than the page from each source: if the merged list is longer than the page,
    # there is a next page, and the page itself is exact (each source's share of the page
    # is among its own first ``size`` rows).
    for fetch in _SOURCES.values():
        gathered.extend(fetch(client_ids=client_ids, limit=size + 1, before=cursor))
    gathered.sort(key=lambda item: item.sort_key, reverse=True)
    page = gathered[:size]
    next_before = page[-1].cursor.encode() if len(gathered) > size and page else None
    return page, next_before


def client_timeline_newer(
    *, client: Any, after: str | Cursor | None, limit: int | None = DEFAULT_LIMIT
) -> tuple[list[TimelineItem], bool]:
    """Items newer than ``after`` (the newest one the page shows), newest first, and
    whether there were more than ``limit`` of them (then the page should reload)."""
    size = clamp_limit(limit)
    cursor = _parse(after, "after")
    if cursor is None:
        items, next_before = client_timeline(client=client, limit=size)
        return items, next_before is not None
    client_ids = timeline_client_ids(client)
    gathered: list[TimelineItem] = []
    for fetch in _SOURCES.values():
        gathered.extend(fetch(client_ids=client_ids, limit=size + 1, after=cursor))
    gathered.sort(key=lambda item: item.sort_key)
    overflow = len(gathered) > size
    return list(reversed(gathered[:size])), overflow


__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "Cursor",
    "TimelineItem",
    "TimelineSource",
    "card_panels",
    "choice_labels",
    "client_timeline",
    "client_timeline_newer",
    "keyset_page",
    "register_card_panel",
    "register_timeline_source",
    "timeline_sources",
]
