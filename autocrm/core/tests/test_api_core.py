"""The shared API pieces in core.api, on a model of Django itself (core imports no app)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, Group
from django.test import RequestFactory
from pydantic import ValidationError

from autocrm.core.api import MAX_ID, ListParams, get_or_404, object_id, paginate, require_perm
from autocrm.core.errors import NotAllowed, NotFound


def test_list_params_defaults() -> None:
    assert ListParams.model_validate({}).model_dump() == {"limit": 50, "offset": 0}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"limit": 201}, "limit"),
        ({"limit": 0}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": 10**9 + 1}, "offset"),
    ],
)
def test_list_params_bounds(data: dict[str, int], field: str) -> None:
    with pytest.raises(ValidationError) as error:
        ListParams.model_validate(data)

    assert [e["loc"] for e in error.value.errors()] == [(field,)]


@pytest.mark.django_db
def test_paginate_counts_all_rows_and_orders_ties_by_id() -> None:
    groups = [Group.objects.create(name=name) for name in ("c", "a", "d", "b", "e")]

    page = paginate(
        Group.objects.order_by("name"), ListParams.model_validate({"limit": 2, "offset": 1})
    )

    assert page == {"count": 5, "items": [groups[3], groups[0]]}


@pytest.mark.django_db
def test_paginate_makes_an_unordered_queryset_stable() -> None:
    groups = [Group.objects.create(name=name) for name in ("x", "y", "z")]

    page = paginate(
        Group.objects.all().order_by(), ListParams.model_validate({"limit": 2, "offset": 1})
    )

    assert page == {"count": 3, "items": groups[1:3]}


@pytest.mark.django_db
def test_get_or_404() -> None:
    group = Group.objects.create(name="sales")

    assert get_or_404(Group.objects.all(), pk=group.pk) == group
    with pytest.raises(NotFound) as error:
        get_or_404(Group.objects.exclude(pk=group.pk), pk=group.pk)
    assert error.value.status_code == 404


def test_require_perm_refuses_with_403() -> None:
    request = RequestFactory().get("/")
    request.user = AnonymousUser()

    with pytest.raises(NotAllowed) as error:
        require_perm(request, "accounts.view_structure")

    assert error.value.status_code == 403


def test_object_id_is_bounded_to_64_bits() -> None:
    parameter: Any = object_id()
    constraints = {type(item).__name__: item for item in parameter.metadata}

    assert constraints["Ge"].ge == 1
    assert constraints["Le"].le == MAX_ID == 2**63 - 1
