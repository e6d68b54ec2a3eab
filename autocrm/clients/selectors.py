"""Reads of the client base: scoped lists, search, one client's card data and duplicates.

Every function here starts from ``client_list(user=...)``: a user sees the clients of his
dealer centers plus those not routed to any dealer center yet; group-level roles see all.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.db.models.functions import Lower

from autocrm.accounts.scoping import scope_queryset
from autocrm.clients.models import (
    Client,
    ClientEmail,
    ClientIdentity,
    ClientMerge,
    ClientPhone,
    Consent,
    IdentityKind,
)
from autocrm.clients.services import search_text, try_normalize_phone

# Longer queries are not a name anybody types; cut rather than scan with a huge pattern.
MAX_QUERY_LENGTH = 200
# A query of digits (and the signs people write phone numbers with) is a phone number or
# a messenger's numeric id: looked up exactly, never with LIKE over the whole table.
_PHONE_LIKE = re.compile(r"[\d\s()+\-.]*\d[\d\s()+\-.]*")


def client_list(
    *, user: Any, include_merged: bool = True, active_dealer_center_id: int | None = None
) -> QuerySet[Client]:
    """Clients of the dealer centers the user sees, plus clients not yet routed anywhere.

    Merged clients (folded into another card) are included by default, so that an old
    link to one still resolves and leads to the survivor; lists and searches pass
    ``include_merged=False`` (``client_search`` does).
    """
    queryset = Client.objects.all()
    if not include_merged:
        queryset = queryset.filter(merged_into__isnull=True)
    return scope_queryset(
        queryset, user, include_unassigned=True, active_dealer_center_id=active_dealer_center_id
    )


def _with_contacts(queryset: QuerySet[Client]) -> QuerySet[Client]:
    return queryset.prefetch_related("phones", "emails", "identities")


def _ids_by_phone(text: str) -> set[int]:
    ids: set[int] = set()
    number = try_normalize_phone(text)
    if number:
        ids.update(ClientPhone.objects.filter(number=number).values_list("client_id", flat=True))
    digits = re.sub(r"\D", "", text)
    # Telegram and VK ids are digits too. ``kind IN (...)`` lets the (kind, external_id)
    # unique index answer instead of a scan.
    ids.update(
        ClientIdentity.objects.filter(kind__in=IdentityKind.values, external_id=digits).values_list(
            "client_id", flat=True
        )
    )
    return ids


def client_search(
    *, user: Any, q: str = "", active_dealer_center_id: int | None = None
) -> QuerySet[Client]:
    """Visible, unmerged clients matching ``q``, with phones, e-mails and identities.

    ``q`` is a phone number in any usual notation (matched exactly on the normalised
    number), an e-mail address (case-insensitive, exact), a messenger username with or
    without "@" (exact), or parts of a name (every word must occur in the case-folded
    name, Cyrillic included).
    """
    queryset = client_list(
        user=user, include_merged=False, active_dealer_center_id=active_dealer_center_id
    )
    text = (q or "").strip()[:MAX_QUERY_LENGTH]
    if not text:
        return _with_contacts(queryset)
    if _PHONE_LIKE.fullmatch(text):
        return _with_contacts(queryset.filter(pk__in=_ids_by_phone(text)))
    if "@" in text[1:]:
        address = text.lower()
        ids = set(ClientEmail.objects.filter(address=address).values_list("client_id", flat=True))
        return _with_contacts(queryset.filter(pk__in=ids))
    ids = set()
    username = text.lstrip("@").lower()
    if username and not any(ch.isspace() for ch in username):
        ids.update(
            ClientIdentity.objects.filter(username=username).values_list("client_id", flat=True)
        )
    if text.startswith("@"):
        return _with_contacts(queryset.filter(pk__in=ids))
    name_matches = Q()
    for word in search_text(text).split():
        name_matches &= Q(search_name__contains=word)
    return _with_contacts(queryset.filter(Q(pk__in=ids) | name_matches))


def client_detail(*, user: Any, client_id: int) -> Client | None:
    """One visible client (merged ones included, they show where they went) or None."""
    return (
        _with_contacts(client_list(user=user))
        .select_related("dealer_center", "responsible", "merged_into")
        .prefetch_related(
            Prefetch("consents", queryset=Consent.objects.order_by("purpose", "-at", "-pk"))
        )
        .filter(pk=client_id)
        .first()
    )


def latest_consents(client: Client) -> dict[str, Consent]:
    """The consent statement that holds now, per purpose: the latest one wins."""
    latest: dict[str, Consent] = {}
    for consent in client.consents.all():
        current = latest.get(consent.purpose)
        if current is None or (consent.at, consent.pk) > (current.at, current.pk):
            latest[consent.purpose] = consent
    return latest


def client_by_phone(*, user: Any, phone: str) -> Client | None:
    """The visible, unmerged client with this (already normalised) number, oldest first."""
    return (
        client_list(user=user, include_merged=False)
        .filter(phones__number=phone)
        .order_by("pk")
        .first()
    )


def client_by_email(*, user: Any, email: str) -> Client | None:
    """The visible, unmerged client with this (lower-case) address, oldest first."""
    return (
        client_list(user=user, include_merged=False)
        .filter(emails__address=email)
        .order_by("pk")
        .first()
    )


# --- duplicates ------------------------------------------------------------------------

DEFAULT_DUPLICATES_LIMIT = 50
MAX_DUPLICATES_LIMIT = 200
# A phone, e-mail or name shared by more clients than this is a switchboard, a shared
# family mailbox or a common name, not a duplicate: such groups are skipped.
MAX_GROUP_SIZE = 10
# The similar-name search compares only the newest clients, in blocks of the same dealer
# center and the same first three letters, each block cut to its newest members: enough
# to catch duplicates as they are made, and bounded whatever the size of the base.
SIMILARITY_SCAN = 2000
SIMILARITY_BLOCK = 40
SIMILARITY_THRESHOLD = 0.85


class Reason:
    PHONE = "phone"
    EMAIL = "email"
    NAME = "name"
    SIMILAR_NAME = "similar_name"


# Stronger evidence first when the pairs are ordered.
_STRENGTH = {Reason.PHONE: 3, Reason.EMAIL: 3, Reason.NAME: 2, Reason.SIMILAR_NAME: 1}


@dataclass
class DuplicatePair:
    """Two visible, unmerged clients that may be one person; ``first`` is the older one."""

    first: Client
    second: Client
    reasons: list[str] = field(default_factory=list)
    # The phone numbers and e-mail addresses both have.
    shared: list[str] = field(default_factory=list)
    # 1.0 for a shared contact or the same name, else the names' similarity.
    score: float = 1.0

    @property
    def strength(self) -> int:
        return max((_STRENGTH[reason] for reason in self.reasons), default=0)


@dataclass
class _Draft:
    reasons: list[str] = field(default_factory=list)
    shared: list[str] = field(default_factory=list)
    similarity: float = 0.0

    def add(self, reason: str, shared: str = "", similarity: float = 0.0) -> None:
        if reason not in self.reasons:
            self.reasons.append(reason)
        if shared and shared not in self.shared:
            self.shared.append(shared)
        self.similarity = max(self.similarity, similarity)

    @property
    def score(self) -> float:
        return 1.0 if set(self.reasons) - {Reason.SIMILAR_NAME} else self.similarity


def _pair_key(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def _shared_contact_pairs(
    rows: QuerySet[Any], value_field: str, reason: str, limit: int, drafts: dict[Any, _Draft]
) -> None:
    """Pairs of clients sharing a value, found by GROUP BY value HAVING > 1 client."""
    values = list(
        rows.values(value_field)
        .annotate(clients=Count("client_id", distinct=True))
        .filter(clients__gt=1, clients__lte=MAX_GROUP_SIZE)
        .order_by(value_field)
        .values_list(value_field, flat=True)[:limit]
    )
    if not values:
        return
    members: dict[str, set[int]] = defaultdict(set)
    for value, client_id in rows.filter(**{f"{value_field}__in": values}).values_list(
        value_field, "client_id"
    ):
        members[value].add(client_id)
    for value, client_ids in members.items():
        for a, b in combinations(sorted(client_ids), 2):
            drafts.setdefault(_pair_key(a, b), _Draft()).add(reason, shared=value)


def _same_name_pairs(visible: QuerySet[Client], limit: int, drafts: dict[Any, _Draft]) -> None:
    """Same last and first name (case-folded by the database), and the same dealer center
    or one of the two without any phone.

    Two namesakes in different dealer centers who both left phones (which differ, or
    they would be paired by phone) are most likely two people.
    """
    named = (
        visible.exclude(last_name="")
        .exclude(first_name="")
        .annotate(last=Lower("last_name"), first=Lower("first_name"))
    )
    groups = list(
        named.values("last", "first")
        .annotate(clients=Count("pk"))
        .filter(clients__gt=1, clients__lte=MAX_GROUP_SIZE)
        .order_by("last", "first")
        .values_list("last", "first")[:limit]
    )
    if not groups:
        return
    wanted = set(groups)
    members: dict[tuple[str, str], list[tuple[int, int | None, bool]]] = defaultdict(list)
    rows = (
        named.filter(last__in={g[0] for g in groups}, first__in={g[1] for g in groups})
        .annotate(has_phone=Exists(ClientPhone.objects.filter(client=OuterRef("pk"))))
        .values_list("last", "first", "pk", "dealer_center_id", "has_phone")
    )
    for last, first, pk, dealer_center_id, has_phone in rows:
        if (last, first) in wanted:
            members[(last, first)].append((pk, dealer_center_id, has_phone))
    for group in members.values():
        for (a, dc_a, phone_a), (b, dc_b, phone_b) in combinations(group, 2):
            if dc_a == dc_b or not phone_a or not phone_b:
                drafts.setdefault(_pair_key(a, b), _Draft()).add(Reason.NAME)


def _similar_name_pairs(visible: QuerySet[Client], limit: int, drafts: dict[Any, _Draft]) -> None:
    """Names alike (difflib ratio on the case-folded name) within a dealer center."""
    newest = visible.exclude(search_name="").order_by("-created_at", "-pk")
    blocks: dict[tuple[int | None, str], list[tuple[int, str]]] = defaultdict(list)
    for pk, dealer_center_id, name in newest.values_list("pk", "dealer_center_id", "search_name")[
        :SIMILARITY_SCAN
    ]:
        if len(name) < 3:
            continue
        block = blocks[(dealer_center_id, name[:3])]
        if len(block) < SIMILARITY_BLOCK:
            block.append((pk, name))
    found = 0
    for block in blocks.values():
        for (a, name_a), (b, name_b) in combinations(block, 2):
            key = _pair_key(a, b)
            if Reason.NAME in getattr(drafts.get(key), "reasons", ()):
                continue
            matcher = difflib.SequenceMatcher(None, name_a, name_b, autojunk=False)
            if matcher.real_quick_ratio() < SIMILARITY_THRESHOLD:
                continue
            if matcher.quick_ratio() < SIMILARITY_THRESHOLD:
                continue
            ratio = matcher.ratio()
            if ratio < SIMILARITY_THRESHOLD:
                continue
            drafts.setdefault(key, _Draft()).add(Reason.SIMILAR_NAME, similarity=round(ratio, 3))
            found += 1
            if found >= limit:
                return


def duplicate_pairs(*, user: Any, limit: int = DEFAULT_DUPLICATES_LIMIT) -> list[DuplicatePair]:
    """Likely duplicates among the clients the user sees, strongest evidence first.

    Pairs share a phone number or an e-mail, or have the same name (see
    ``_same_name_pairs``), or names alike within a dealer center. Each search is a
    grouped query or a bounded scan, never a comparison of every client with every other.
    """
    limit = max(1, min(limit, MAX_DUPLICATES_LIMIT))
    visible = client_list(user=user, include_merged=False)
    drafts: dict[tuple[int, int], _Draft] = {}
    phones = scope_queryset(
        ClientPhone.objects.filter(client__merged_into__isnull=True),
        user,
        field="client__dealer_center",
        include_unassigned=True,
    )
    emails = scope_queryset(
        ClientEmail.objects.filter(client__merged_into__isnull=True),
        user,
        field="client__dealer_center",
        include_unassigned=True,
    )
    _shared_contact_pairs(phones, "number", Reason.PHONE, limit, drafts)
    _shared_contact_pairs(emails, "address", Reason.EMAIL, limit, drafts)
    _same_name_pairs(visible, limit, drafts)
    _similar_name_pairs(visible, limit, drafts)
    if not drafts:
        return []
    ids = {pk for key in drafts for pk in key}
    clients = {
        client.pk: client
        for client in visible.filter(pk__in=ids)
        .select_related("dealer_center")
        .prefetch_related("phones", "emails", "identities")
    }
    pairs: list[DuplicatePair] = []
    for (a, b), draft in drafts.items():
        if a not in clients or b not in clients:
            continue
        first, second = sorted((clients[a], clients[b]), key=lambda c: (c.created_at, c.pk))
        pairs.append(
            DuplicatePair(
                first=first,
                second=second,
                reasons=sorted(draft.reasons, key=lambda r: -_STRENGTH[r]),
                shared=draft.shared,
                score=draft.score,
            )
        )
    pairs.sort(
        key=lambda p: (-p.strength, -p.score, -p.second.created_at.timestamp(), -p.second.pk)
    )
    return pairs[:limit]


def client_history_counts(client: Client) -> list[tuple[str, str, int]]:
    """What hangs on the client in every app (messages, calls, requests ...), for the merge
    confirmation: ``(model label, plural name, rows)`` for each kind of row a merge moves."""
    counts: list[tuple[str, str, int]] = []
    for relation in Client._meta.related_objects:
        model = relation.related_model
        if not isinstance(model, type) or model in (Client, ClientMerge):
            continue
        if not (relation.one_to_many or relation.one_to_one):
            continue
        count = model._default_manager.filter(**{relation.field.name: client}).count()
        if count:
            counts.append((model._meta.label_lower, str(model._meta.verbose_name_plural), count))
    return counts


def client_ids_by_identity(refs: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Clients owning these messenger accounts, for the inbox worker's bulk path: one
    query for a whole batch. Accounts of merged clients are left out (the slow path
    follows the merge)."""
    found: dict[tuple[str, str], int] = {}
    by_kind: dict[str, set[str]] = defaultdict(set)
    for kind, external_id in refs:
        by_kind[kind].add(external_id)
    for kind, external_ids in by_kind.items():
        for external_id, client_id in ClientIdentity.objects.filter(
            kind=kind, external_id__in=external_ids, client__merged_into__isnull=True
        ).values_list("external_id", "client_id"):
            found[(kind, external_id)] = client_id
    return found


def known_client_phones(pairs: set[tuple[int, str]]) -> set[tuple[int, str]]:
    """Which of these (client id, E.164 number) pairs are already on record."""
    if not pairs:
        return set()
    return set(
        ClientPhone.objects.filter(
            client_id__in={client_id for client_id, _ in pairs},
            number__in={number for _, number in pairs},
        ).values_list("client_id", "number")
    )
