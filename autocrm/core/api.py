"""Shared pieces of the HTTP API: list envelope, pagination, permission checks, errors."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Schema

from autocrm.core.errors import NotAllowed

T = TypeVar("T")

MAX_LIMIT = 200
DEFAULT_LIMIT = 50


class ListParams(Schema):
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Page size, at most 200.")
    offset: int = Field(0, ge=0, description="Rows to skip.")


class Page(Schema, Generic[T]):
    count: int
    items: list[T]


class ErrorItem(Schema):
    field: str | None = None
    message: str
    code: str


class ErrorOut(Schema):
    detail: str
    errors: list[ErrorItem] = []


def paginate(queryset: QuerySet[Any], params: ListParams) -> dict[str, Any]:
    return {
        "count": queryset.count(),
        "items": list(queryset[params.offset : params.offset + params.limit]),
    }


def require_perm(request: HttpRequest, permission: str, obj: Any = None) -> None:
    if not request.user.has_perm(permission, obj):
        raise NotAllowed("You do not have permission to perform this action.")
