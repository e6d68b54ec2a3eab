"""Public webhook endpoint of every channel: check, store raw, answer; process later."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from autocrm.communications.channels import get_adapter
from autocrm.communications.models import Channel, ChannelKind
from autocrm.communications.services import inbox_store


@csrf_exempt
def webhook(request: HttpRequest, kind: str, key: str) -> HttpResponse:
    if kind not in ChannelKind.values:
        return JsonResponse({"detail": "Unknown channel."}, status=404)
    channel = Channel.objects.filter(kind=kind, webhook_key=key, is_active=True).first()
    if channel is None:
        return JsonResponse({"detail": "Unknown channel."}, status=404)
    reply = get_adapter(kind).handle_webhook(channel, request)
    if reply.events:
        # Stored before we answer: once the provider hears 2xx, the event is ours to keep.
        with transaction.atomic():
            inbox_store(channel=channel, events=reply.events)
    response = HttpResponse(reply.body, status=reply.status, content_type=reply.content_type)
    for name, value in reply.headers.items():
        response[name] = value
    return response
