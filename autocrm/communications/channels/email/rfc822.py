"""Reading and storing RFC 822 messages: the raw bytes kept in the inbox, the parts of a
message the CRM keeps (sender, text, threading ids, attachments), and HTML made plain."""

from __future__ import annotations

import base64
import hashlib
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

# What one message may bring in attachments; the rest is listed by name and size only.
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
# The inbox keeps raw messages in a text column: UTF-8 as it is, anything else (8-bit
# charsets, NUL bytes that PostgreSQL text refuses) base64-encoded.
ENCODING_HEADER = "encoding"
# Set by the poller on a message too large to download: its size; only headers are kept.
TRUNCATED_HEADER = "truncated"
MESSAGE_ID_RE = re.compile(r"<[^<>\s]+>")
MAX_EXTERNAL_ID = 200  # InboundEvent.external_id


def raw_to_stored(raw: bytes) -> tuple[str, dict[str, str]]:
    """(body, headers) for an InboundEvent holding ``raw``."""
    if b"\x00" not in raw:
        try:
            return raw.decode("utf-8"), {}
        except UnicodeDecodeError:
            pass
    return base64.b64encode(raw).decode("ascii"), {ENCODING_HEADER: "base64"}


def stored_to_raw(body: str, headers: dict[str, str]) -> bytes:
    if headers.get(ENCODING_HEADER) == "base64":
        return base64.b64decode(body)
    return body.encode("utf-8")


def external_id_for(raw: bytes) -> str:
    """The Message-ID (what makes a repeat delivery harmless), or a digest of the bytes."""
    header_end = raw.find(b"\r\n\r\n")
    if header_end < 0:
        header_end = raw.find(b"\n\n")
    head = raw if header_end < 0 else raw[:header_end]
    parsed = message_from_bytes(head + b"\r\n\r\n", policy=policy.compat32)
    message_id = first_message_id(str(parsed.get("Message-ID") or ""))
    if message_id and len(message_id) <= MAX_EXTERNAL_ID:
        return message_id
    if message_id:
        return "sha256:" + hashlib.sha256(message_id.encode()).hexdigest()
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def first_message_id(value: str) -> str:
    match = MESSAGE_ID_RE.search(value or "")
    return match.group(0) if match else ""


def message_ids(value: str) -> list[str]:
    return MESSAGE_ID_RE.findall(value or "")


class _TextExtractor(HTMLParser):
    """Visible text of an HTML body: scripts and styles dropped, blocks on their own lines."""

    BLOCKS = {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
        "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5",
        "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table",
        "tr", "ul",
    }  # fmt: skip
    HIDDEN = {"script", "style", "head", "title", "template", "noscript"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HIDDEN:
            self.hidden_depth += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self.hidden_depth = max(self.hidden_depth - 1, 0)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden_depth:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    extractor = _TextExtractor()
    extractor.feed(markup)
    extractor.close()
    lines = [
        re.sub(r"[ \t\r\f\v\xa0]+", " ", line).strip()
        for line in "".join(extractor.parts).split("\n")
    ]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


@dataclass
class ParsedAttachment:
    name: str
    content_type: str
    size: int
    content: bytes | None


@dataclass
class ParsedMail:
    sender_name: str
    sender_address: str
    to: list[str]
    subject: str
    text: str
    at: datetime | None
    message_id: str
    in_reply_to: str
    references: str
    is_report: bool
    auto_submitted: str
    attachments: list[ParsedAttachment] = field(default_factory=list)


def _header(message: Message, name: str) -> str:
    try:
        value = message.get(name)
    except Exception:  # a malformed header must not lose the message
        value = None
    return re.sub(r"\s+", " ", str(value or "")).strip()


def _part_text(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            return content
    except (LookupError, KeyError, ValueError, AssertionError):
        pass  # an unknown charset: decode what we can
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload.decode(part.get_content_charset() or "utf-8", errors="replace")
    return ""


def safe_filename(name: str, fallback: str) -> str:
    name = os.path.basename(name.replace("\\", "/"))
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip().lstrip(".")
    return name[-200:] or fallback


def _leaves(part: Message) -> list[Message]:
    """Leaf parts in order; an attached message (message/rfc822) counts as one leaf."""
    if part.get_content_type() == "message/rfc822" or not part.is_multipart():
        return [part]
    leaves: list[Message] = []
    payload = part.get_payload()
    if isinstance(payload, list):
        for sub in payload:
            if isinstance(sub, Message):
                leaves.extend(_leaves(sub))
    return leaves


def parse_mail(raw: bytes) -> ParsedMail:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    sender_name, sender_address = parseaddr(_header(message, "From"))
    body = message.get_body(preferencelist=("plain", "html"))
    text = ""
    if body is not None:
        text = _part_text(body)
        if body.get_content_subtype() == "html":
            text = html_to_text(text)
    text = text.replace("\r\n", "\n").strip()
    if not text:
        # Some clients send only HTML parts in odd structures: take any text part found.
        for part in _leaves(message):
            if (
                part.get_content_maintype() == "text"
                and part.get_content_disposition() != "attachment"
            ):
                candidate = _part_text(part)
                text = (
                    html_to_text(candidate) if part.get_content_subtype() == "html" else candidate
                ).strip()
                if text:
                    break
    attachments: list[ParsedAttachment] = []
    budget = MAX_ATTACHMENT_BYTES
    for index, part in enumerate(_leaves(message), 1):
        if part is body:
            continue
        disposition = part.get_content_disposition()
        filename = part.get_filename() or ""
        content_type = part.get_content_type()
        if part.get_content_maintype() == "text" and disposition != "attachment" and not filename:
            continue  # the other alternative of the body
        if content_type == "message/rfc822":
            inner = part.get_payload()
            inner_message = inner[0] if isinstance(inner, list) and inner else None
            content = inner_message.as_bytes() if isinstance(inner_message, Message) else b""
            filename = filename or "message.eml"
        else:
            decoded = part.get_payload(decode=True)
            content = decoded if isinstance(decoded, bytes) else b""
        extension = {"message/rfc822": ".eml", "text/plain": ".txt", "text/html": ".html"}.get(
            content_type, ""
        )
        name = safe_filename(filename, f"attachment-{index}{extension}")
        keep = len(content) <= budget
        if keep:
            budget -= len(content)
        attachments.append(
            ParsedAttachment(
                name=name,
                content_type=content_type,
                size=len(content),
                content=content if keep else None,
            )
        )
    at: datetime | None = None
    try:
        date_header = message.get("Date")
        parsed_date = getattr(date_header, "datetime", None)
        if isinstance(parsed_date, datetime):
            at = parsed_date if parsed_date.tzinfo else parsed_date.replace(tzinfo=UTC)
    except Exception:
        at = None
    references = " ".join(message_ids(_header(message, "References")))
    return ParsedMail(
        sender_name=sender_name.strip(),
        sender_address=sender_address.strip().lower(),
        to=[
            address.lower()
            for _, address in getaddresses([_header(message, "To"), _header(message, "Cc")])
            if address
        ],
        subject=_header(message, "Subject"),
        text=text,
        at=at,
        message_id=first_message_id(_header(message, "Message-ID")),
        in_reply_to=first_message_id(_header(message, "In-Reply-To")),
        references=references,
        is_report=message.get_content_type() == "multipart/report",
        auto_submitted=_header(message, "Auto-Submitted").lower(),
        attachments=attachments,
    )
