"""Shared pieces of the HTTP API: list envelope, pagination, permission checks, errors.

Every app's ``api.py`` builds on these so that all endpoints page, fail and refuse the
same way (docs/api.md, "Conventions").
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar, overload

import pydantic
from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Path, Schema
from ninja.errors import ValidationError
from pydantic import AfterValidator, PlainValidator, WithJsonSchema

from autocrm.core.errors import NotAllowed, NotFound
from autocrm.core.money import MAX_AMOUNT, round_money

T = TypeVar("T")

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
# Bounded so that a huge number is a 400 naming the field, not a database overflow (500).
MAX_OFFSET = 1_000_000_000
# Primary keys are 64-bit on every supported database.
MAX_ID = 2**63 - 1
# Catalog names (makes, models, trims, cities) are at most this long.
NAME_LENGTH = 100


def no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL: refused as bad input rather than a 500.
    if "\x00" in value:
        raise ValueError("NUL characters are not allowed.")
    return value


def id_or_name(value: Any) -> int | str:
    """A catalog reference: an integer id, or a name (a string, even of digits: models
    such as "3" or "5008" exist)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("Send a name (string) or an id (integer).")
    if isinstance(value, int):
        if not 1 <= value <= MAX_ID:
            raise ValueError(f"An id is between 1 and {MAX_ID}.")
        return value
    name = no_nul(value).strip()
    if not name:
        raise ValueError("The name is empty.")
    if len(name) > NAME_LENGTH:
        raise ValueError(f"A name has at most {NAME_LENGTH} characters.")
    return name


# Field types of request bodies shared by every app's API.
Text = Annotated[str, AfterValidator(no_nul)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
# Roubles and kopecks, zero or more (a money column's range).
Amount = Annotated[Decimal, Field(ge=0, le=MAX_AMOUNT, max_digits=14, decimal_places=2)]


@overload
def money(value: Decimal) -> str: ...
@overload
def money(value: None) -> None: ...
def money(value: Decimal | None) -> str | None:
    """An amount as the API shows it: a decimal string with kopecks ("1829900.00")."""
    return None if value is None else f"{round_money(value):f}"


IdOrName = Annotated[
    int | str,
    PlainValidator(id_or_name),
    WithJsonSchema(
        {
            "anyOf": [{"type": "integer", "minimum": 1}, {"type": "string"}],
            "description": "A name, or an id.",
        }
    ),
]


class ListParams(Schema):
    limit: int = Field(
        DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description=f"Page size, 1 to {MAX_LIMIT}."
    )
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="Rows to skip.")


class Page(Schema, Generic[T]):
    count: int = Field(description="Rows matching the request, on all pages.")
    items: list[T]


class ErrorItem(Schema):
    field: str | None = Field(None, description="The input to blame, when there is one.")
    message: str
    code: str


class ErrorOut(Schema):
    detail: str
    errors: list[ErrorItem] = []


# Responses every authenticated endpoint may give besides its 200.
ERROR_RESPONSES: dict[int, type[Schema]] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut}
DETAIL_ERROR_RESPONSES: dict[int, type[Schema]] = {**ERROR_RESPONSES, 404: ErrorOut}


def object_id(description: str = "Identifier.") -> Any:
    """A path parameter holding a primary key: ``id: int = object_id()``."""
    return Path(..., ge=1, le=MAX_ID, description=description)


def paginate(queryset: QuerySet[Any], params: ListParams) -> dict[str, Any]:
    """The list envelope ``{"count": N, "items": [...]}`` for one page of ``queryset``."""
    # Pages must not overlap or skip rows: make the order total by ending it with pk.
    ordering = list(queryset.query.order_by) or list(queryset.model._meta.ordering)
    if not {"pk", "-pk", "id", "-id"} & set(map(str, ordering)):
        queryset = queryset.order_by(*ordering, "pk")
    return {
        "count": queryset.count(),
        "items": list(queryset[params.offset : params.offset + params.limit]),
    }


def require_perm(request: HttpRequest, permission: str, obj: Any = None) -> None:
    """Refuse with 403 unless the caller has ``permission`` (a ``rules`` permission)."""
    if not request.user.has_perm(permission, obj):
        raise NotAllowed("You do not have permission to perform this action.")


def get_or_404(queryset: QuerySet[Any], **lookup: Any) -> Any:
    """One row of an already scoped ``queryset``; rows out of scope are "not found" (404).

    Out-of-scope rows answer exactly like missing ones so that ids of other dealer
    centers' records cannot be probed.
    """
    row = queryset.filter(**lookup).first()
    if row is None:
        raise NotFound("Not found.")
    return row


def json_body(request: HttpRequest, schema: type[pydantic.BaseModel]) -> Any:
    """Validate the body only after the permission check, so that a caller who may not
    use the endpoint gets 403 whatever he sends; errors name fields as ninja's do."""
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise ValidationError(
            [{"loc": ("body",), "msg": "The body is not JSON.", "type": "json_invalid"}]
        ) from None
    if not isinstance(data, dict):
        raise ValidationError(
            [{"loc": ("body",), "msg": "Send a JSON object.", "type": "dict_type"}]
        )
    try:
        return schema.model_validate(data)
    except pydantic.ValidationError as error:
        raise ValidationError(
            [
                {"loc": ("body", "payload", *item["loc"]), "msg": item["msg"], "type": item["type"]}
                for item in error.errors()
            ]
        ) from None


def body_schema(schema: type[pydantic.BaseModel]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema.model_json_schema()}},
        }
    }
