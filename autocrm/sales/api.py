"""HTTP API of the sales app (docs/api.md): requests from every channel, showroom visits."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from autocrm.core.api import (
    DETAIL_ERROR_RESPONSES,
    ERROR_RESPONSES,
    MAX_ID,
    ListParams,
    Page,
    body_schema,
    get_or_404,
    json_body,
    object_id,
    paginate,
    require_perm,
)
from autocrm.sales import selectors
from autocrm.sales.models import Request
from autocrm.sales.visits import visit_register

EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(9000, 12, 31)

router = Router(tags=["sales"])

RequestSourceName = Literal[
    "telegram", "whatsapp", "vk", "email", "webform", "telephony", "visit", "manual"
]


class RequestFilters(ListParams):
    status: Literal["new", "in_progress", "closed"] | None = None
    source: RequestSourceName | None = None
    dealer_center_id: int | None = Field(None, ge=1, le=MAX_ID)
    client_id: int | None = Field(None, ge=1, le=MAX_ID)
    # Bounded so that a far date is a 400 naming the field, not an overflow in the
    # time-zone arithmetic (500).
    opened_from: date | None = Field(
        None, ge=EARLIEST_DATE, le=LATEST_DATE, description="First day, inclusive."
    )
    opened_to: date | None = Field(
        None, ge=EARLIEST_DATE, le=LATEST_DATE, description="Last day, inclusive."
    )


class RequestOut(Schema):
    id: int
    client_id: int
    client_name: str
    source: str
    channel_id: int | None
    topic: str
    dealer_center_id: int | None
    status: str
    responsible_id: int | None
    opened_at: datetime
    last_activity_at: datetime
    touches: int


def _request(request: Request) -> dict[str, Any]:
    return {
        "id": request.pk,
        "client_id": request.client_id,
        "client_name": request.client.display_name,
        "source": request.source,
        "channel_id": request.channel_id,
        "topic": request.topic,
        "dealer_center_id": request.dealer_center_id,
        "status": request.status,
        "responsible_id": request.responsible_id,
        "opened_at": request.opened_at,
        "last_activity_at": request.last_activity_at,
        "touches": request.touches,
    }


@router.get(
    "/requests",
    response={200: Page[RequestOut], **ERROR_RESPONSES},
    summary="List requests",
)
def request_list(request: HttpRequest, filters: Query[RequestFilters]) -> dict[str, Any]:
    """Requests from every channel and visit in the caller's dealer centers, latest
    activity first."""
    require_perm(request, "sales.view_requests")
    queryset = selectors.request_list(
        user=request.user,
        status=filters.status,
        source=filters.source,
        dealer_center_id=filters.dealer_center_id,
        client_id=filters.client_id,
        opened_from=filters.opened_from,
        opened_to=filters.opened_to,
    )
    page = paginate(queryset, filters)
    return {"count": page["count"], "items": [_request(r) for r in page["items"]]}


@router.get(
    "/requests/{request_id}",
    response={200: RequestOut, **DETAIL_ERROR_RESPONSES},
    summary="A request",
)
def request_detail(request: HttpRequest, request_id: int = object_id()) -> dict[str, Any]:
    require_perm(request, "sales.view_requests")
    return _request(get_or_404(selectors.request_list(user=request.user), pk=request_id))


class VisitIn(Schema):
    phone: str = Field(..., max_length=40, description="Any usual format.")
    name: str = Field("", max_length=450, description="Used when the client is new.")
    dealer_center_id: int = Field(..., ge=1, le=MAX_ID)
    purpose: Literal[
        "purchase", "test_drive", "service", "trade_in", "delivery", "documents", "other"
    ]
    manager_id: int | None = Field(None, ge=1, le=MAX_ID)
    note: str = Field("", max_length=2000)


class VisitOut(Schema):
    id: int
    client_id: int
    dealer_center_id: int
    purpose: str
    manager_id: int | None
    note: str
    at: datetime


@router.post(
    "/visits",
    response={201: VisitOut, **ERROR_RESPONSES},
    summary="Register a showroom visit",
    openapi_extra=body_schema(VisitIn),
)
def visit_create(request: HttpRequest) -> Status[dict[str, Any]]:
    """What the hostess form does: find or create the client by phone, record the visit,
    open or continue his request and notify the manager."""
    require_perm(request, "sales.register_visit")
    payload = json_body(request, VisitIn)
    visit = visit_register(actor=request.user, **payload.dict())
    return Status(
        201,
        {
            "id": visit.pk,
            "client_id": visit.client_id,
            "dealer_center_id": visit.dealer_center_id,
            "purpose": visit.purpose,
            "manager_id": visit.manager_id,
            "note": visit.note,
            "at": visit.at,
        },
    )
