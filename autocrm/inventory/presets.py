"""Saved stock-search presets: a user's named query strings of the search page.

A preset belongs to one user and is only ever read or changed by him, so there is no
dealer-center scoping here; the search itself scopes the cars when the preset is applied.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils.translation import gettext as _

from autocrm.core.errors import NotFound, ValidationFailed
from autocrm.inventory.models import SavedSearch

# Parameters that describe where the user is in the result, not what he looks for.
_POSITION_PARAMETERS = ("page", "offset", "limit", "csrfmiddlewaretoken")
MAX_PRESETS_PER_USER = 50


def normalize_query(query: str) -> str:
    parsed = QueryDict(query.lstrip("?"), mutable=True)
    for name in _POSITION_PARAMETERS:
        parsed.pop(name, None)
    for name in list(parsed):
        values = [value for value in parsed.getlist(name) if value.strip()]
        if values:
            parsed.setlist(name, values)
        else:
            del parsed[name]
    return parsed.urlencode()


def saved_search_list(*, user: Any) -> QuerySet[SavedSearch]:
    return SavedSearch.objects.filter(user=user).order_by("name")


@transaction.atomic
def saved_search_save(*, actor: Any, name: str, query: str) -> SavedSearch:
    """Save the filters under ``name``; saving under an existing name replaces its filters."""
    name = " ".join(name.split())
    if not name:
        raise ValidationFailed(_("Give the preset a name."), field="name")
    if len(name) > 100:
        raise ValidationFailed(_("The name is too long (100 characters at most)."), field="name")
    query = normalize_query(query)
    if len(query) > 2000:
        raise ValidationFailed(_("Too many filters to save."), field="query")
    existing = SavedSearch.objects.select_for_update().filter(user=actor, name=name).first()
    if existing is not None:
        existing.query = query
        existing.save(update_fields=["query", "updated_at"])
        return existing
    if SavedSearch.objects.filter(user=actor).count() >= MAX_PRESETS_PER_USER:
        raise ValidationFailed(
            _("You have %(count)d presets already; delete one first.")
            % {"count": MAX_PRESETS_PER_USER},
            field="name",
        )
    return SavedSearch.objects.create(user=actor, name=name, query=query)


@transaction.atomic
def saved_search_delete(*, actor: Any, saved_search_id: int) -> None:
    deleted, _by_model = SavedSearch.objects.filter(user=actor, pk=saved_search_id).delete()
    if not deleted:
        raise NotFound(_("No such preset."), field="saved_search")
