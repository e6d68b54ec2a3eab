"""API of the client's timeline: every message, call, form, visit and request, newest first.

A router of its own (mounted next to ``clients.api``) so that the card's API and the
client list/merge API can grow independently.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from pydantic import BaseModel, ConfigDict

from autocrm.clients import timeline
from autocrm.clients.selectors import client_list
from autocrm.clients.services import client_survivor
from autocrm.core.api import DETAIL_ERROR_RESPONSES, object_id, require_perm
from autocrm.core.errors import NotFound

router = Router(tags=["clients"])


class TimelineParams(Schema):
    limit: int = Field(
        timeline.DEFAULT_LIMIT,
        ge=1,
        le=timeline.MAX_LIMIT,
        description=f"Items per page, 1 to {timeline.MAX_LIMIT}.",
    )
    before: str | None = Field(
        None,
        max_length=200,
        description="The next_before of the previous page, unchanged; omit for the newest.",
    )


class TimelineItemOut(BaseModel):
    """One timeline item; besides the fields below each kind has its own (message:
    status, status_reason, author, attachments; call: status, duration_seconds,
    recording_url; form: topic, utm; visit: purpose, manager; request: source, topic,
    status)."""

    # A plain pydantic model: ninja's Schema drops the keys it does not declare.
    model_config = ConfigDict(extra="allow")

    kind: str = Field(description="message, call, form, visit or request.")
    id: int = Field(description="The id of the message, call ... (unique within its kind).")
    channel: str = Field(
        description="Channel kind (telegram, whatsapp, vk, email, webform, telephony), "
        "visit, or for a request its source."
    )
    direction: str | None = Field(description="in or out; null for requests.")
    text: str
    at: datetime


class TimelineOut(Schema):
    items: list[TimelineItemOut]
    next_before: str | None = Field(
        description="Pass as before for the next (older) page; null on the last page."
    )


@router.get(
    "/clients/{client_id}/timeline",
    response={200: TimelineOut, **DETAIL_ERROR_RESPONSES},
    summary="The client's timeline across channels",
)
def client_timeline(
    request: HttpRequest,
    params: Query[TimelineParams],
    client_id: int = object_id("The client."),
) -> dict[str, Any]:
    """Messages, calls, form submissions, visits and requests of the client, newest first,
    ordered by (at, kind, id) so that pages never overlap or skip. A client merged into
    another answers with the survivor's timeline. Clients the caller does not see: 404."""
    require_perm(request, "clients.view_client")
    visible = client_list(user=request.user)
    client = visible.filter(pk=client_id).first()
    if client is not None and client.merged_into_id is not None:
        survivor = client_survivor(client)
        client = visible.filter(pk=survivor.pk).first()
    if client is None:
        raise NotFound("Not found.")
    items, next_before = timeline.client_timeline(
        client=client, limit=params.limit, before=params.before
    )
    return {"items": [item.as_dict() for item in items], "next_before": next_before}
