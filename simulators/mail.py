"""A local mail server for tests and the demo: real SMTP and a minimal IMAP4rev1 on one store.

Everything accepted over SMTP is kept in ``handle.sent`` and delivered into the mailbox of
each recipient (any address gets a mailbox on first delivery); ``handle.deliver()`` puts a
message into a mailbox as if a client had sent it. IMAP serves each user's mailbox as
``INBOX`` with the commands an ``imaplib`` client needs to poll it: LOGIN, CAPABILITY,
SELECT/EXAMINE, SEARCH, FETCH, STORE, EXPUNGE, CLOSE, their UID forms, NOOP, LOGOUT.

In-process::

    handle = start(users={"crm@dealer.test": "password"})
    handle.deliver("crm@dealer.test", email_message)
    ... handle.mailbox("client@example.com")[0]["Subject"] ...
    handle.stop()

Standalone (``make run``)::

    python -m simulators.mail --smtp-port 2525 --imap-port 1143 --http-port 8025 \
        --user crm@demo.autocrm.test:password

With ``--http-port`` a small page lists the mailboxes and sends an e-mail "as a client".
No TLS: this server is for 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import logging
import re
import signal
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

# aiosmtpd logs every SMTP command at INFO, and warns on every successful AUTH about a
# legacy attribute it sets itself.
logging.getLogger("mail.log").setLevel(logging.WARNING)
logging.getLogger("mail.log").addFilter(
    lambda record: "login_data is deprecated" not in record.getMessage()
)

SYSTEM_FLAGS = {
    flag.lower(): flag for flag in ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft")
}
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _crlf(raw: bytes) -> bytes:
    """Mail on the wire has CRLF line ends, whatever the caller built."""
    return re.sub(rb"\r?\n", b"\r\n", raw)


def _as_bytes(message: bytes | str | EmailMessage) -> bytes:
    if isinstance(message, EmailMessage):
        return message.as_bytes(policy=policy.SMTP)
    if isinstance(message, str):
        return _crlf(message.encode())
    return _crlf(message)


def _parse(raw: bytes) -> EmailMessage:
    """The message as Python reads it (local line ends, so text parts end in "\n")."""
    parsed = message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


@dataclass
class StoredMessage:
    uid: int
    raw: bytes
    flags: set[str] = field(default_factory=set)
    internal_date: datetime = field(default_factory=lambda: datetime.now(tz=UTC))

    @property
    def message(self) -> EmailMessage:
        return _parse(self.raw)

    @property
    def seen(self) -> bool:
        return "\\Seen" in self.flags


@dataclass
class SentMail:
    """One message accepted over SMTP, with its envelope."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    authenticated_as: str = ""

    @property
    def message(self) -> EmailMessage:
        return _parse(self.raw)


@dataclass
class Mailbox:
    uidvalidity: int
    messages: list[StoredMessage] = field(default_factory=list)
    next_uid: int = 1


class MailStore:
    """Mailboxes by address (lower case), shared by the SMTP and IMAP servers."""

    def __init__(self, users: dict[str, str]) -> None:
        self.lock = threading.RLock()
        self.users = {address.lower(): password for address, password in users.items()}
        self.mailboxes: dict[str, Mailbox] = {}
        self.sent: list[SentMail] = []
        # Recipient address → (SMTP code, text) the server answers to RCPT TO.
        self.refusals: dict[str, tuple[int, str]] = {}
        for address in self.users:
            self.box(address)

    def box(self, address: str) -> Mailbox:
        with self.lock:
            key = address.lower()
            if key not in self.mailboxes:
                self.mailboxes[key] = Mailbox(uidvalidity=int(time.time()))
            return self.mailboxes[key]

    def append(self, address: str, raw: bytes) -> int:
        with self.lock:
            box = self.box(address)
            stored = StoredMessage(uid=box.next_uid, raw=_crlf(raw))
            box.next_uid += 1
            box.messages.append(stored)
            return stored.uid


class _SmtpHandler:
    def __init__(self, store: MailStore) -> None:
        self.store = store

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        refusal = self.store.refusals.get(address.lower())
        if refusal is not None:
            return f"{refusal[0]} {refusal[1]}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        if isinstance(envelope.content, bytes):
            raw = envelope.content
        auth = session.auth_data
        sent = SentMail(
            mail_from=envelope.mail_from or "",
            rcpt_tos=list(envelope.rcpt_tos),
            raw=_crlf(raw),
            authenticated_as=auth.login.decode() if isinstance(auth, LoginPassword) else "",
        )
        with self.store.lock:
            self.store.sent.append(sent)
            for address in envelope.rcpt_tos:
                self.store.append(address, raw)
        return "250 Message accepted for delivery"


def _smtp_authenticator(store: MailStore) -> Any:
    def authenticate(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode(errors="replace").lower()
        password = auth_data.password.decode(errors="replace")
        ok = login in store.users and store.users[login] == password
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    return authenticate


# --- IMAP ----------------------------------------------------------------------------------


class ImapBad(Exception):
    """A command the server does not understand: answered BAD."""


class ImapNo(Exception):
    """A command refused: answered NO."""


Token = str | list[Any]


def _tokenize(text: str) -> list[Token]:
    """IMAP arguments: atoms (``BODY[...]`` kept whole), quoted strings, parenthesized lists."""
    stack: list[list[Token]] = [[]]
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char == " ":
            pos += 1
        elif char == "(":
            stack.append([])
            pos += 1
        elif char == ")":
            if len(stack) == 1:
                raise ImapBad("unbalanced parenthesis")
            inner = stack.pop()
            stack[-1].append(inner)
            pos += 1
        elif char == '"':
            pos += 1
            value = []
            while pos < len(text) and text[pos] != '"':
                if text[pos] == "\\" and pos + 1 < len(text):
                    pos += 1
                value.append(text[pos])
                pos += 1
            if pos >= len(text):
                raise ImapBad("unterminated string")
            pos += 1
            stack[-1].append("".join(value))
        else:
            start = pos
            depth = 0
            while pos < len(text):
                char = text[pos]
                if char == "[":
                    depth += 1
                elif char == "]":
                    depth -= 1
                elif depth == 0 and char in " ()":
                    break
                pos += 1
            stack[-1].append(text[start:pos])
    if len(stack) != 1:
        raise ImapBad("unbalanced parenthesis")
    return stack[0]


def _parse_set(spec: str, largest: int) -> set[int]:
    """``1,3:5,7:*`` with ``*`` = the largest number in use."""
    numbers: set[int] = set()
    for part in spec.split(","):
        bounds = part.split(":")
        if len(bounds) > 2 or not all(bounds):
            raise ImapBad(f"bad set {spec}")
        try:
            values = [largest if b == "*" else int(b) for b in bounds]
        except ValueError:
            raise ImapBad(f"bad set {spec}") from None
        low, high = min(values), max(values)
        numbers.update(range(low, high + 1))
    return numbers


def _internal_date(moment: datetime) -> str:
    return f"{moment.day:02d}-{MONTHS[moment.month - 1]}-{moment.year} {moment:%H:%M:%S} +0000"


def _split_message(raw: bytes) -> tuple[bytes, bytes]:
    index = raw.find(b"\r\n\r\n")
    if index < 0:
        return raw, b""
    return raw[: index + 4], raw[index + 4 :]


def _flag(name: str) -> str:
    return SYSTEM_FLAGS.get(name.lower(), name)


def _flags_text(flags: Iterable[str]) -> str:
    return "(" + " ".join(sorted(flags)) + ")"


class ImapSession:
    def __init__(
        self, store: MailStore, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.store = store
        self.reader = reader
        self.writer = writer
        self.user: str | None = None
        self.selected: Mailbox | None = None
        self.read_only = False

    def send(self, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode()
        self.writer.write(data if data.endswith(b"\r\n") else data + b"\r\n")

    async def read_command(self) -> str | None:
        """One command line, with literals ``{n}`` folded in as quoted strings."""
        parts: list[str] = []
        while True:
            line = await self.reader.readline()
            if not line:
                return None
            text = line.decode("utf-8", errors="replace").rstrip("\r\n")
            match = re.search(r"\{(\d+)(\+?)\}$", text)
            if not match:
                parts.append(text)
                return "".join(parts)
            size = int(match.group(1))
            if size > 50_000_000:
                raise ImapBad("literal too large")
            if not match.group(2):
                self.send("+ Ready for literal data")
                await self.writer.drain()
            data = await self.reader.readexactly(size)
            literal = data.decode("utf-8", errors="replace")
            escaped = literal.replace("\\", "\\\\").replace('"', '\\"')
            parts.append(text[: match.start()] + '"' + escaped + '"')

    async def run(self) -> None:
        self.send("* OK [CAPABILITY IMAP4rev1 IDLE UIDPLUS] AutoCRM mail simulator ready")
        try:
            while True:
                await self.writer.drain()
                try:
                    line = await self.read_command()
                except ImapBad as error:
                    self.send(f"* BAD {error}")
                    continue
                if line is None:
                    break
                if not line.strip():
                    continue
                tag, _, rest = line.partition(" ")
                try:
                    tokens = _tokenize(rest)
                    if not tokens or not isinstance(tokens[0], str):
                        raise ImapBad("command expected")
                    name = tokens[0].upper()
                    keep_going = self.dispatch(tag, name, tokens[1:])
                except ImapBad as error:
                    self.send(f"{tag} BAD {error}")
                    continue
                except ImapNo as error:
                    self.send(f"{tag} NO {error}")
                    continue
                if not keep_going:
                    break
            await self.writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.writer.close()

    def need_auth(self) -> str:
        if self.user is None:
            raise ImapBad("log in first")
        return self.user

    def need_selected(self) -> Mailbox:
        self.need_auth()
        if self.selected is None:
            raise ImapBad("select a mailbox first")
        return self.selected

    def dispatch(self, tag: str, name: str, args: list[Token]) -> bool:
        if name == "CAPABILITY":
            self.send("* CAPABILITY IMAP4rev1 IDLE UIDPLUS")
        elif name == "NOOP" or name == "CHECK":
            if self.selected is not None:
                self.send(f"* {len(self.selected.messages)} EXISTS")
        elif name == "LOGOUT":
            self.send("* BYE AutoCRM mail simulator logging out")
            self.send(f"{tag} OK LOGOUT completed")
            return False
        elif name == "LOGIN":
            if len(args) != 2 or not all(isinstance(a, str) for a in args):
                raise ImapBad("LOGIN user password")
            user, password = str(args[0]).lower(), str(args[1])
            if self.store.users.get(user) != password:
                raise ImapNo("[AUTHENTICATIONFAILED] Invalid credentials")
            self.user = user
            self.send(f"{tag} OK [CAPABILITY IMAP4rev1 IDLE UIDPLUS] LOGIN completed")
            return True
        elif name == "AUTHENTICATE":
            raise ImapNo("use LOGIN")
        elif name in ("SELECT", "EXAMINE"):
            user = self.need_auth()
            if len(args) != 1 or str(args[0]).upper() != "INBOX":
                self.selected = None
                raise ImapNo("[NONEXISTENT] only INBOX exists here")
            box = self.store.box(user)
            self.selected = box
            self.read_only = name == "EXAMINE"
            with self.store.lock:
                unseen = [i for i, m in enumerate(box.messages, 1) if not m.seen]
                self.send("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)")
                self.send("* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)]")
                self.send(f"* {len(box.messages)} EXISTS")
                self.send("* 0 RECENT")
                if unseen:
                    self.send(f"* OK [UNSEEN {unseen[0]}] first unseen")
                self.send(f"* OK [UIDVALIDITY {box.uidvalidity}] UIDs valid")
                self.send(f"* OK [UIDNEXT {box.next_uid}] predicted next UID")
            mode = "READ-ONLY" if self.read_only else "READ-WRITE"
            self.send(f"{tag} OK [{mode}] {name} completed")
            return True
        elif name in ("LIST", "LSUB"):
            self.need_auth()
            self.send(f'* {name} (\\HasNoChildren) "/" INBOX')
        elif name == "STATUS":
            user = self.need_auth()
            box = self.store.box(user)
            with self.store.lock:
                unseen_count = sum(1 for m in box.messages if not m.seen)
                self.send(
                    f"* STATUS INBOX (MESSAGES {len(box.messages)} RECENT 0 "
                    f"UIDNEXT {box.next_uid} UIDVALIDITY {box.uidvalidity} "
                    f"UNSEEN {unseen_count})"
                )
        elif name in ("CLOSE", "UNSELECT"):
            box = self.need_selected()
            if name == "CLOSE" and not self.read_only:
                with self.store.lock:
                    box.messages = [m for m in box.messages if "\\Deleted" not in m.flags]
            self.selected = None
        elif name == "EXPUNGE":
            self.expunge(self.need_selected())
        elif name == "SEARCH":
            self.search(args, by_uid=False)
        elif name == "FETCH":
            self.fetch(args, by_uid=False)
        elif name == "STORE":
            self.store_flags(args, by_uid=False)
        elif name == "UID":
            if not args or not isinstance(args[0], str):
                raise ImapBad("UID what?")
            sub = args[0].upper()
            if sub == "SEARCH":
                self.search(args[1:], by_uid=True)
            elif sub == "FETCH":
                self.fetch(args[1:], by_uid=True)
            elif sub == "STORE":
                self.store_flags(args[1:], by_uid=True)
            else:
                raise ImapBad(f"UID {sub} is not supported")
            name = f"UID {sub}"
        else:
            raise ImapBad(f"{name} is not supported")
        self.send(f"{tag} OK {name} completed")
        return True

    def expunge(self, box: Mailbox) -> None:
        if self.read_only:
            raise ImapNo("mailbox is read-only")
        with self.store.lock:
            for seq in range(len(box.messages), 0, -1):
                if "\\Deleted" in box.messages[seq - 1].flags:
                    del box.messages[seq - 1]
                    self.send(f"* {seq} EXPUNGE")

    def targets(
        self, box: Mailbox, spec: Token, *, by_uid: bool
    ) -> list[tuple[int, StoredMessage]]:
        """(sequence number, message) pairs a set names, in mailbox order."""
        if not isinstance(spec, str):
            raise ImapBad("a message set is expected")
        if by_uid:
            largest = box.messages[-1].uid if box.messages else 0
            uids = _parse_set(spec, largest)
            return [(i, m) for i, m in enumerate(box.messages, 1) if m.uid in uids]
        numbers = _parse_set(spec, len(box.messages))
        return [(i, m) for i, m in enumerate(box.messages, 1) if i in numbers]

    def search(self, args: list[Token], *, by_uid: bool) -> None:
        box = self.need_selected()
        with self.store.lock:
            found = [(i, m) for i, m in enumerate(box.messages, 1)]
            keys = list(args)
            while keys:
                key = keys.pop(0)
                if isinstance(key, list):
                    keys = key + keys
                    continue
                upper = key.upper()
                if upper == "CHARSET":
                    keys.pop(0)
                elif upper == "ALL":
                    pass
                elif upper in ("UNSEEN", "NEW"):
                    found = [(i, m) for i, m in found if not m.seen]
                elif upper == "SEEN":
                    found = [(i, m) for i, m in found if m.seen]
                elif upper in ("DELETED", "UNDELETED", "FLAGGED", "UNFLAGGED"):
                    flag = "\\Deleted" if "DELETED" in upper else "\\Flagged"
                    want = not upper.startswith("UN")
                    found = [(i, m) for i, m in found if (flag in m.flags) == want]
                elif upper == "UID":
                    chosen = {m.uid for _, m in self.targets(box, keys.pop(0), by_uid=True)}
                    found = [(i, m) for i, m in found if m.uid in chosen]
                elif re.fullmatch(r"[\d:*,]+", upper):
                    chosen_seq = {i for i, _ in self.targets(box, key, by_uid=False)}
                    found = [(i, m) for i, m in found if i in chosen_seq]
                else:
                    raise ImapBad(f"search key {key} is not supported")
            numbers = [str(m.uid if by_uid else i) for i, m in found]
        self.send("* SEARCH" + "".join(f" {n}" for n in numbers))

    def fetch(self, args: list[Token], *, by_uid: bool) -> None:
        box = self.need_selected()
        if len(args) != 2:
            raise ImapBad("FETCH set items")
        items = args[1] if isinstance(args[1], list) else [args[1]]
        names: list[str] = []
        for item in items:
            if not isinstance(item, str):
                raise ImapBad("bad fetch item")
            upper = item.upper()
            macros = {
                "ALL": ["FLAGS", "INTERNALDATE", "RFC822.SIZE"],
                "FAST": ["FLAGS", "INTERNALDATE", "RFC822.SIZE"],
                "FULL": ["FLAGS", "INTERNALDATE", "RFC822.SIZE"],
            }
            names.extend(macros.get(upper, [upper]))
        if by_uid and "UID" not in names:
            names.insert(0, "UID")
        with self.store.lock:
            for seq, stored in self.targets(box, args[0], by_uid=by_uid):
                self.send_fetch(seq, stored, names)

    def send_fetch(self, seq: int, stored: StoredMessage, names: list[str]) -> None:
        plain: list[str] = []
        literals: list[tuple[str, bytes]] = []
        marks_seen = False
        header, text = _split_message(stored.raw)
        for name in names:
            if name == "UID":
                plain.append(f"UID {stored.uid}")
            elif name == "FLAGS":
                continue  # added last, after any \Seen this fetch sets
            elif name == "INTERNALDATE":
                plain.append(f'INTERNALDATE "{_internal_date(stored.internal_date)}"')
            elif name == "RFC822.SIZE":
                plain.append(f"RFC822.SIZE {len(stored.raw)}")
            elif name == "RFC822":
                literals.append(("RFC822", stored.raw))
                marks_seen = True
            elif name == "RFC822.HEADER":
                literals.append(("RFC822.HEADER", header))
            elif name == "RFC822.TEXT":
                literals.append(("RFC822.TEXT", text))
                marks_seen = True
            else:
                match = re.fullmatch(r"BODY(\.PEEK)?\[(HEADER|TEXT)?\]", name)
                if not match:
                    raise ImapBad(f"fetch item {name} is not supported")
                section = match.group(2) or ""
                data = {"": stored.raw, "HEADER": header, "TEXT": text}[section]
                literals.append((f"BODY[{section}]", data))
                marks_seen = marks_seen or not match.group(1)
        if marks_seen and not self.read_only and not stored.seen:
            stored.flags.add("\\Seen")
            if "FLAGS" not in names:
                names.append("FLAGS")
        if "FLAGS" in names:
            plain.append(f"FLAGS {_flags_text(stored.flags)}")
        out = f"* {seq} FETCH (" + " ".join(plain)
        if not literals:
            self.send(out + ")")
            return
        chunks = [out.encode()]
        for index, (label, data) in enumerate(literals):
            sep = b" " if plain or index else b""
            chunks.append(sep + f"{label} {{{len(data)}}}\r\n".encode() + data)
        chunks.append(b")\r\n")
        self.writer.write(b"".join(chunks))

    def store_flags(self, args: list[Token], *, by_uid: bool) -> None:
        box = self.need_selected()
        if self.read_only:
            raise ImapNo("mailbox is read-only")
        if len(args) < 3 or not isinstance(args[1], str):
            raise ImapBad("STORE set [+|-]FLAGS[.SILENT] flags")
        action = args[1].upper()
        match = re.fullmatch(r"([+-]?)FLAGS(\.SILENT)?", action)
        if not match:
            raise ImapBad(f"STORE {action} is not supported")
        raw_flags = args[2] if isinstance(args[2], list) else args[2:]
        flags = {_flag(str(f)) for f in raw_flags}
        with self.store.lock:
            for seq, stored in self.targets(box, args[0], by_uid=by_uid):
                if match.group(1) == "+":
                    stored.flags |= flags
                elif match.group(1) == "-":
                    stored.flags -= flags
                else:
                    stored.flags = set(flags)
                if not match.group(2):
                    uid = f"UID {stored.uid} " if by_uid else ""
                    self.send(f"* {seq} FETCH ({uid}FLAGS {_flags_text(stored.flags)})")


# --- the demo page -------------------------------------------------------------------------


def _page_handler(sim: MailSimulator) -> type[BaseHTTPRequestHandler]:
    class Page(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def answer(self, status: int, body: str, content_type: str = "text/html") -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", f"{content_type}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/api/mailboxes":
                self.answer(200, json.dumps(sim.summary(), ensure_ascii=False), "application/json")
            elif url.path == "/":
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                self.answer(200, sim.render_page(query))
            else:
                self.answer(404, "not found", "text/plain")

        def do_POST(self) -> None:
            if urlsplit(self.path).path != "/send":
                self.answer(404, "not found", "text/plain")
                return
            length = min(int(self.headers.get("Content-Length") or 0), 1_000_000)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            sender = form.get("from", "").strip()
            to = form.get("to", "").strip()
            if "@" not in parseaddr(sender)[1] or "@" not in parseaddr(to)[1]:
                self.answer(400, "from and to must be e-mail addresses", "text/plain")
                return
            message = EmailMessage()
            message["From"] = formataddr((form.get("name", "").strip(), sender))
            message["To"] = to
            message["Subject"] = form.get("subject", "").strip()
            message["Date"] = format_datetime(datetime.now(tz=UTC))
            message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "client.test")
            if form.get("in_reply_to", "").strip():
                message["In-Reply-To"] = form["in_reply_to"].strip()
                message["References"] = (
                    form.get("references", "") + " " + form["in_reply_to"]
                ).strip()
            message.set_content(form.get("text", ""))
            sim.deliver(to, message)
            self.send_response(303)
            self.send_header(
                "Location", "/?" + urlencode({"from": sender, "name": form.get("name", "")})
            )
            self.end_headers()

    return Page


class MailSimulator:
    """The running servers; ``start()`` returns one."""

    def __init__(self, host: str, users: dict[str, str]) -> None:
        self.host = host
        self.store = MailStore(users)
        self.smtp_port = 0
        self.imap_port = 0
        self.http_port: int | None = None
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._servers: list[asyncio.AbstractServer] = []
        self._sessions: set[asyncio.StreamWriter] = set()
        self._http: ThreadingHTTPServer | None = None

    # -- inspection and delivery --

    @property
    def port(self) -> int:
        return self.smtp_port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.http_port}" if self.http_port else ""

    @property
    def sent(self) -> list[SentMail]:
        with self.store.lock:
            return list(self.store.sent)

    def messages(self, address: str) -> list[StoredMessage]:
        with self.store.lock:
            box = self.store.mailboxes.get(address.lower())
            return list(box.messages) if box else []

    def mailbox(self, address: str) -> list[EmailMessage]:
        return [m.message for m in self.messages(address)]

    def deliver(self, to: str, message: bytes | str | EmailMessage) -> int:
        """Put a message into ``to``'s mailbox as if a client had sent it; returns its UID."""
        return self.store.append(to, _as_bytes(message))

    def refuse(self, address: str, code: int = 550, text: str = "5.1.1 No such user") -> None:
        """Answer RCPT TO for this address with ``code`` (4xx: try later, 5xx: never)."""
        self.store.refusals[address.lower()] = (code, text)

    def add_user(self, address: str, password: str) -> None:
        with self.store.lock:
            self.store.users[address.lower()] = password
            self.store.box(address)

    def summary(self) -> dict[str, list[dict[str, Any]]]:
        result: dict[str, list[dict[str, Any]]] = {}
        with self.store.lock:
            for address, box in sorted(self.store.mailboxes.items()):
                result[address] = [
                    {
                        "uid": m.uid,
                        "from": str(m.message["From"] or ""),
                        "to": str(m.message["To"] or ""),
                        "subject": str(m.message["Subject"] or ""),
                        "message_id": str(m.message["Message-ID"] or ""),
                        "flags": sorted(m.flags),
                    }
                    for m in box.messages
                ]
        return result

    def render_page(self, query: dict[str, str]) -> str:
        esc = html.escape
        users = sorted(self.store.users)
        rows = []
        for address, items in self.summary().items():
            stored = {m.uid: m for m in self.messages(address)}
            rows.append(f"<h2>{esc(address)}</h2>")
            if not items:
                rows.append("<p><em>empty</em></p>")
            for item in reversed(items):
                message = stored[item["uid"]].message
                body = message.get_body(preferencelist=("plain", "html"))
                text = body.get_content() if body is not None else ""
                reply = urlencode(
                    {
                        "from": address,
                        "to": parseaddr(item["from"])[1],
                        "subject": "Re: " + item["subject"].removeprefix("Re: "),
                        "in_reply_to": item["message_id"],
                        "references": str(message["References"] or ""),
                    }
                )
                reply_link = (
                    f' <a href="/?{esc(reply)}">reply as {esc(address)}</a>'
                    if address not in users
                    else ""
                )
                rows.append(
                    "<div class=m><b>"
                    + esc(item["subject"] or "(no subject)")
                    + f"</b> <small>from {esc(item['from'])} to {esc(item['to'])} "
                    + f"{esc(' '.join(item['flags']))}</small>{reply_link}"
                    + f"<pre>{esc(str(text)[:4000])}</pre></div>"
                )
        default_to = users[0] if users else ""

        def value(key: str, default: str = "") -> str:
            return esc(query.get(key, default), quote=True)

        return f"""<!doctype html><html><head><meta charset="utf-8">
<title>Mail simulator</title><style>body{{font-family:sans-serif;max-width:60em;margin:1em auto}}
label{{display:block;margin:.3em 0}}input,textarea{{width:100%}}.m{{border-top:1px solid #ccc;padding:.3em 0}}
pre{{white-space:pre-wrap}}</style></head><body>
<h1>Mail simulator</h1>
<p>SMTP {esc(self.host)}:{self.smtp_port} · IMAP {esc(self.host)}:{self.imap_port}</p>
<form method="post" action="/send"><fieldset><legend>Send an e-mail as a client</legend>
<label>From <input name="from" value="{value("from", "client@example.com")}" required></label>
<label>Name <input name="name" value="{value("name")}"></label>
<label>To <input name="to" value="{value("to", default_to)}" required></label>
<label>Subject <input name="subject" value="{value("subject")}"></label>
<input type="hidden" name="in_reply_to" value="{value("in_reply_to")}">
<input type="hidden" name="references" value="{value("references")}">
<label>Text <textarea name="text" rows="5"></textarea></label>
<button type="submit">Send</button></fieldset></form>
{"".join(rows)}
</body></html>"""

    # -- lifecycle --

    def _start(self, smtp_port: int, imap_port: int, http_port: int | None) -> None:
        ready = threading.Event()
        errors: list[BaseException] = []

        async def open_servers() -> None:
            handler = _SmtpHandler(self.store)
            authenticator = _smtp_authenticator(self.store)
            smtp = await self._loop.create_server(
                lambda: SMTP(
                    handler,
                    hostname="mail.simulator.test",
                    auth_require_tls=False,
                    authenticator=authenticator,
                    loop=self._loop,
                ),
                self.host,
                smtp_port,
            )
            imap = await asyncio.start_server(self._imap_client, self.host, imap_port)
            self._servers = [smtp, imap]
            self.smtp_port = smtp.sockets[0].getsockname()[1]
            self.imap_port = imap.sockets[0].getsockname()[1]

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(open_servers())
            except BaseException as error:
                errors.append(error)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="mail-simulator", daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            raise errors[0]
        if http_port is not None:
            self._http = ThreadingHTTPServer((self.host, http_port), _page_handler(self))
            self.http_port = self._http.server_address[1]
            threading.Thread(target=self._http.serve_forever, daemon=True).start()

    async def _imap_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._sessions.add(writer)
        try:
            await ImapSession(self.store, reader, writer).run()
        finally:
            self._sessions.discard(writer)

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None

        async def close() -> None:
            for server in self._servers:
                server.close()
            # Closing the connections ends each session's read loop.
            for writer in list(self._sessions):
                writer.close()
            for _ in range(100):
                if not self._sessions:
                    break
                await asyncio.sleep(0.01)

        if self._thread is not None and self._loop.is_running():
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._thread = None
            self._loop.close()

    def __enter__(self) -> MailSimulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(
    host: str = "127.0.0.1",
    smtp_port: int = 0,
    imap_port: int = 0,
    users: dict[str, str] | None = None,
    http_port: int | None = None,
) -> MailSimulator:
    """Start SMTP and IMAP (and the page when ``http_port`` is given; 0 = any free port)."""
    simulator = MailSimulator(host, users if users is not None else {"crm@dealer.test": "password"})
    simulator._start(smtp_port, imap_port, http_port)
    return simulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Local SMTP + IMAP mail simulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--smtp-port", type=int, default=2525)
    parser.add_argument("--imap-port", type=int, default=1143)
    parser.add_argument("--http-port", type=int, default=None)
    parser.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="ADDRESS:PASSWORD",
        help="a mailbox that may log in over IMAP/SMTP (repeatable)",
    )
    args = parser.parse_args(argv)
    users: dict[str, str] = {}
    for item in args.user or ["crm@demo.autocrm.test:password"]:
        address, sep, password = item.partition(":")
        if not sep or "@" not in address:
            parser.error(f"--user wants ADDRESS:PASSWORD, got {item!r}")
        users[address] = password
    simulator = start(args.host, args.smtp_port, args.imap_port, users, args.http_port)
    print(
        f"mail simulator: SMTP {args.host}:{simulator.smtp_port}, "
        f"IMAP {args.host}:{simulator.imap_port}"
        + (f", page {simulator.url}/" if simulator.url else "")
        + f"; users: {', '.join(users)}",
        flush=True,
    )
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    while not stopping.wait(0.5):
        pass
    simulator.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
