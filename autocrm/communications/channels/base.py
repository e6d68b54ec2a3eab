"""What every channel adapter provides, and the normalised events adapters produce.

An adapter turns a provider's webhook request into raw events to store (checking the
provider's secret or signature first), turns a stored event into normalised items, and
sends our outbound messages through the provider's API. It never touches the database:
the services around it do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from autocrm.clients.services import ContactInfo

if TYPE_CHECKING:
    from django.http import HttpRequest

    from autocrm.communications.models import Channel, Message


@dataclass
class RawEvent:
    """One provider event to store in the inbox. ``external_id`` makes repeats harmless."""

    external_id: str | None
    body: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class WebhookReply:
    """What to answer the provider, and the events to store before answering."""

    status: int = 200
    body: str = "ok"
    content_type: str = "text/plain"
    events: list[RawEvent] = field(default_factory=list)
    # Extra response headers, e.g. CORS for website forms.
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class AttachmentRef:
    name: str
    content_type: str = ""
    size: int = 0
    external_ref: str = ""
    content: bytes | None = None


@dataclass
class InboundMessage:
    external_id: str
    # Where replies go: chat id, WhatsApp id, VK peer id, e-mail address.
    thread: str
    sender: ContactInfo
    text: str
    at: datetime
    attachments: list[AttachmentRef] = field(default_factory=list)
    subject: str = ""
    message_id_header: str = ""
    in_reply_to: str = ""
    references: str = ""


@dataclass
class StatusUpdate:
    """The provider's news about a message we sent (WhatsApp statuses)."""

    external_id: str
    status: str
    at: datetime
    reason: str = ""


@dataclass
class CallEvent:
    call_id: str
    event: str  # ringing | answered | finished | recording
    direction: str  # in | out
    client_number: str
    at: datetime
    line: str = ""
    operator_extension: str = ""
    started_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    recording_url: str = ""


@dataclass
class FormData:
    sender: ContactInfo
    message: str = ""
    topic: str = ""
    vehicle: str = ""
    utm: dict[str, str] = field(default_factory=dict)
    page_url: str = ""
    at: datetime | None = None


InboundItem = InboundMessage | StatusUpdate | CallEvent | FormData


class SendError(Exception):
    """Sending failed. ``retryable`` errors (network, 5xx, 429) are tried again later."""

    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


@dataclass
class SendResult:
    external_id: str
    # E-mail: the Message-ID we generated, for threading the answer.
    message_id_header: str = ""


class ChannelAdapter(Protocol):
    kind: str

    def clean_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        """Validated settings with defaults; raise ValidationFailed naming
        ``settings.<key>``."""
        ...

    def handle_webhook(self, channel: Channel, request: HttpRequest) -> WebhookReply:
        """Check the request's authenticity and say what to store and answer."""
        ...

    def parse(self, channel: Channel, body: str, headers: dict[str, str]) -> list[InboundItem]:
        """Normalised items of one stored event."""
        ...

    def send(self, channel: Channel, message: Message) -> SendResult:
        """Deliver an outbound message; raise SendError on failure."""
        ...
