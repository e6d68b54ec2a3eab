"""Timeline source of the sales app: requests, shown when they were opened.

Registered from ``SalesConfig.ready``; see ``autocrm.clients.timeline``. Reads through the
``request_timeline`` index ``(client, -opened_at, -id)``.
"""

from __future__ import annotations

from collections.abc import Sequence

from autocrm.clients.timeline import (
    Cursor,
    TimelineItem,
    choice_labels,
    keyset_page,
    register_timeline_source,
)
from autocrm.sales.models import Request, RequestSource, RequestStatus


def request_items(
    *,
    client_ids: Sequence[int],
    limit: int,
    before: Cursor | None = None,
    after: Cursor | None = None,
) -> list[TimelineItem]:
    rows = keyset_page(
        Request.objects.select_related("dealer_center", "responsible").only(
            "client_id",
            "source",
            "channel_id",
            "topic",
            "status",
            "dealer_center_id",
            "responsible_id",
            "opened_at",
            "last_activity_at",
            "touches",
            "dealer_center__name",
            "responsible__username",
            "responsible__first_name",
            "responsible__last_name",
            "responsible__middle_name",
        ),
        kind="request",
        client_ids=client_ids,
        limit=limit,
        before=before,
        after=after,
        at_field="opened_at",
    )
    sources, statuses = choice_labels(RequestSource), choice_labels(RequestStatus)
    return [
        TimelineItem(
            kind="request",
            id=request.pk,
            at=request.opened_at,
            channel=request.source,
            direction=None,
            text=request.topic,
            data={
                "channel_label": sources.get(request.source, request.source),
                "source": request.source,
                "source_label": sources.get(request.source, request.source),
                "topic": request.topic,
                "status": request.status,
                "status_label": statuses.get(request.status, request.status),
                "channel_id": request.channel_id,
                "dealer_center_id": request.dealer_center_id,
                "dealer_center": request.dealer_center.name if request.dealer_center else None,
                "responsible": request.responsible.display_name if request.responsible else None,
                "touches": request.touches,
                "last_activity_at": request.last_activity_at,
            },
        )
        for request in rows
    ]


def register() -> None:
    register_timeline_source("request", request_items)
