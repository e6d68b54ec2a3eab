"""A local stand-in for the dealer's PBX (telephony), plain stdlib.

What it does:

- ``POST /originate`` (click-to-call from the CRM): checks ``X-Signature`` (HMAC-SHA256 of
  the raw body with the signing secret), records the request, answers
  ``{"status": "queued", "call_id": ...}`` and then, in the background, posts the call's
  events ringing → answered → finished → recording (``direction: "out"``) to the CRM's
  webhook, signed, with ``event_delay`` seconds between them.
- ``handle.call(webhook_url, secret, client_number, line, extension, answer=True,
  duration=30)``: an inbound call as the PBX would report it (synchronous; returns each
  event's HTTP status); ``handle.event(webhook_url, secret, **fields)``: one event.
- ``GET /``: a small page with a form "call the dealer as a client" (number, line,
  extension) that does ``call`` against the configured CRM webhook, and the last events.
- ``GET /api/originates`` and ``GET /api/events``: what it received and sent, as JSON.

Used in-process by the tests (``start(port=0)``) and standalone by ``make run``::

    python -m simulators.pbx --port 8093 --crm-url http://127.0.0.1:8000 \\
        --webhook-path /hooks/telephony/<key>/ --secret <signing_secret>
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import html
import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class SentEvent:
    payload: dict[str, Any]
    status: int
    answer: str


@dataclass
class PbxHandle:
    server: ThreadingHTTPServer
    thread: threading.Thread
    crm_url: str | None = None
    webhook_path: str | None = None
    signing_secret: str | None = None
    event_delay: float = 0.05
    # How an originated call goes: answered by the client, talk seconds (simulated).
    originate_answer: bool = True
    originate_duration: int = 42
    originates: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    sent: list[SentEvent] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        host = self.server.server_address[0]
        if isinstance(host, bytes):
            host = host.decode()
        return f"http://{host}:{self.port}"

    @property
    def webhook_url(self) -> str | None:
        if not self.crm_url or not self.webhook_path:
            return None
        return self.crm_url.rstrip("/") + "/" + self.webhook_path.lstrip("/")

    def stop(self) -> None:
        self.wait_idle()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until the background event posts of originated calls are done."""
        deadline = time.monotonic() + timeout
        for worker in list(self._workers):
            worker.join(timeout=max(deadline - time.monotonic(), 0))

    # --- sending events ------------------------------------------------------------------

    def event(
        self,
        webhook_url: str,
        secret: str,
        *,
        signature: str | None = None,
        raw_body: bytes | None = None,
        timestamp_header: bool = True,
        **fields: Any,
    ) -> SentEvent:
        """Post one call event. ``fields`` go into the JSON as given (plus ``timestamp``
        = now unless given); ``signature``/``raw_body`` override, to test refusals."""
        payload = dict(fields)
        payload.setdefault("timestamp", int(time.time()))
        body = raw_body if raw_body is not None else json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Signature": signature if signature is not None else sign(secret, body),
        }
        if timestamp_header and raw_body is None:
            headers["X-Timestamp"] = str(payload["timestamp"])
        if urlsplit(webhook_url).scheme not in ("http", "https"):
            raise ValueError(f"not an http(s) URL: {webhook_url}")
        request = urllib.request.Request(  # noqa: S310 (scheme checked above)
            webhook_url, data=body, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                sent = SentEvent(payload, response.status, response.read().decode(errors="replace"))
        except urllib.error.HTTPError as error:
            sent = SentEvent(payload, error.code, error.read().decode(errors="replace"))
        except OSError as error:
            sent = SentEvent(payload, 0, f"{type(error).__name__}: {error}")
        with self.lock:
            self.sent.append(sent)
        return sent

    def call(
        self,
        webhook_url: str,
        secret: str,
        client_number: str,
        line: str = "",
        extension: str = "",
        *,
        answer: bool = True,
        duration: int = 30,
        direction: str = "in",
        call_id: str | None = None,
        delay: float | None = None,
        ring_seconds: int = 5,
    ) -> list[SentEvent]:
        """A whole call as the PBX reports it: ringing, answered, finished, recording
        (the last two only if answered). Times are simulated; ``delay`` is the real pause
        between posts. Returns each post's outcome."""
        call_id = call_id or f"sim-{uuid.uuid4().hex[:16]}"
        pause = self.event_delay if delay is None else delay
        started = datetime.now(tz=UTC)
        answered = started + timedelta(seconds=ring_seconds)
        ended = (answered + timedelta(seconds=duration)) if answer else answered
        common: dict[str, Any] = {
            "call_id": call_id,
            "direction": direction,
            "client_number": client_number,
            "line": line,
            "operator_extension": extension,
            "started_at": _iso(started),
        }
        steps: list[dict[str, Any]] = [{"event": "ringing"}]
        if answer:
            steps.append({"event": "answered", "answered_at": _iso(answered)})
            steps.append(
                {"event": "finished", "answered_at": _iso(answered), "ended_at": _iso(ended)}
            )
            steps.append(
                {
                    "event": "recording",
                    "answered_at": _iso(answered),
                    "ended_at": _iso(ended),
                    "recording_url": f"{self.url}/recordings/{call_id}.mp3",
                }
            )
        else:
            steps.append({"event": "finished", "ended_at": _iso(ended)})
        results = []
        for index, step in enumerate(steps):
            if index and pause:
                time.sleep(pause)
            results.append(self.event(webhook_url, secret, **common, **step))
        return results

    def _originated(self, request: dict[str, Any], call_id: str) -> None:
        # Like a real PBX: the answer to /originate comes first, the call's events after.
        time.sleep(self.event_delay)
        url, secret = self.webhook_url, self.signing_secret
        if not url or not secret:
            return
        self.call(
            url,
            secret,
            request["number"],
            str(request.get("line") or ""),
            request["extension"],
            answer=self.originate_answer,
            duration=self.originate_duration,
            direction="out",
            call_id=call_id,
        )

    def originate(self, request: dict[str, Any]) -> str:
        call_id = f"out-{uuid.uuid4().hex[:16]}"
        with self.lock:
            self.originates.append({**request, "call_id": call_id})
        worker = threading.Thread(target=self._originated, args=(request, call_id), daemon=True)
        self._workers.append(worker)
        worker.start()
        return call_id


class _Handler(BaseHTTPRequestHandler):
    server_version = "PbxSimulator/1.0"
    pbx: PbxHandle

    def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
        pass

    def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        handle = self.pbx
        if path == "/api/originates":
            with handle.lock:
                self._send(200, list(handle.originates))
        elif path == "/api/events":
            with handle.lock:
                self._send(200, [{**e.payload, "_status": e.status} for e in handle.sent])
        elif path.startswith("/recordings/"):
            self._send(200, b"ID3 simulated recording", "audio/mpeg")
        elif path == "/":
            self._send(
                200, _page(handle, urlsplit(self.path).query).encode(), "text/html; charset=utf-8"
            )
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        body = self._body()
        if path == "/originate":
            self._originate(body)
        elif path == "/ui/call":
            self._ui_call(body)
        else:
            self._send(404, {"error": "not found"})

    def _originate(self, body: bytes) -> None:
        handle = self.pbx
        secret = handle.signing_secret or ""
        given = self.headers.get("X-Signature", "")
        if not secret or not hmac.compare_digest(sign(secret, body), given):
            with handle.lock:
                handle.refused.append(
                    {"body": body.decode(errors="replace"), "reason": "signature"}
                )
            self._send(401, {"error": "bad signature"})
            return
        try:
            request = json.loads(body)
        except ValueError:
            self._send(400, {"error": "not JSON"})
            return
        missing = [
            key
            for key in ("extension", "number", "request_id")
            if not isinstance(request, dict) or not str(request.get(key) or "").strip()
        ]
        if missing:
            self._send(400, {"error": f"missing {', '.join(missing)}"})
            return
        call_id = handle.originate(request)
        self._send(
            200, {"status": "queued", "call_id": call_id, "request_id": request["request_id"]}
        )

    def _ui_call(self, body: bytes) -> None:
        handle = self.pbx
        form = {k: v[0] for k, v in parse_qs(body.decode(errors="replace")).items()}
        url, secret = handle.webhook_url, handle.signing_secret
        if not url or not secret:
            self._redirect(
                "/?error="
                + "The CRM webhook is not configured (--crm-url, --webhook-path, --secret)."
            )
            return
        try:
            duration = max(0, min(int(form.get("duration") or 30), 3600))
        except ValueError:
            duration = 30
        threading.Thread(
            target=handle.call,
            args=(
                url,
                secret,
                form.get("number", ""),
                form.get("line", ""),
                form.get("extension", ""),
            ),
            kwargs={"answer": form.get("answer") == "on", "duration": duration},
            daemon=True,
        ).start()
        self._redirect("/?ok=1")

    def _redirect(self, location: str) -> None:
        from urllib.parse import quote

        self.send_response(303)
        self.send_header("Location", quote(location, safe="/?=&"))
        self.send_header("Content-Length", "0")
        self.end_headers()


def _page(handle: PbxHandle, query: str) -> str:
    params = {k: v[0] for k, v in parse_qs(query).items()}
    with handle.lock:
        events = list(handle.sent[-20:])[::-1]
        originates = list(handle.originates[-10:])[::-1]
    notice = ""
    if params.get("error"):
        notice = f'<p class="error">{html.escape(params["error"])}</p>'
    elif params.get("ok"):
        notice = "<p class=ok>Calling… the events follow one a second.</p>"
    rows = "".join(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>".format(
            *(
                html.escape(str(x))
                for x in (
                    e.payload.get("call_id"),
                    e.payload.get("event"),
                    e.payload.get("direction"),
                    e.payload.get("client_number"),
                    e.status,
                )
            )
        )
        for e in events
    )
    originate_rows = "".join(
        "<li>{} → {} ({})</li>".format(
            *(html.escape(str(o.get(k))) for k in ("extension", "number", "call_id"))
        )
        for o in originates
    )
    target = html.escape(handle.webhook_url or "not configured")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
<title>PBX simulator</title>
<style>body{{font-family:sans-serif;max-width:52rem;margin:2rem auto}}
label{{display:block;margin:.4rem 0}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.2rem .5rem}}.error{{color:#b00}}.ok{{color:#070}}</style>
</head><body>
<h1>PBX simulator</h1>
<p>Events go to <code>{target}</code>.</p>
{notice}
<h2>Call the dealer as a client</h2>
<form method="post" action="/ui/call">
<label>Client number <input name="number" value="+79123456789" required></label>
<label>Line (dialled number) <input name="line" value="+78152000000"></label>
<label>Operator extension <input name="extension" value="101"></label>
<label>Talk seconds <input name="duration" type="number" value="30" min="0" max="3600"></label>
<label><input type="checkbox" name="answer" checked> the operator answers</label>
<button type="submit">Call</button>
</form>
<h2>Click-to-call requests received</h2><ul>{originate_rows or "<li>none yet</li>"}</ul>
<h2>Events sent</h2>
<table><tr><th>call</th><th>event</th><th>dir</th><th>number</th><th>CRM answered</th></tr>{rows}</table>
</body></html>"""


def start(
    host: str = "127.0.0.1",
    port: int = 0,
    crm_url: str | None = None,
    webhook_path: str | None = None,
    signing_secret: str | None = None,
    event_delay: float = 0.05,
) -> PbxHandle:
    handler = type("Handler", (_Handler,), {})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    handle = PbxHandle(
        server=server,
        thread=thread,
        crm_url=crm_url,
        webhook_path=webhook_path,
        signing_secret=signing_secret,
        event_delay=event_delay,
    )
    handler.pbx = handle  # type: ignore[attr-defined]
    thread.start()
    return handle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="PBX simulator for AutoCRM")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8093)
    parser.add_argument("--crm-url", default=None, help="e.g. http://127.0.0.1:8000")
    parser.add_argument(
        "--webhook-path", default=None, help="the channel's /hooks/telephony/<key>/"
    )
    parser.add_argument("--secret", default=None, help="the channel's signing_secret")
    parser.add_argument("--delay", type=float, default=1.0, help="seconds between call events")
    args = parser.parse_args(argv)
    handle = start(
        host=args.host,
        port=args.port,
        crm_url=args.crm_url,
        webhook_path=args.webhook_path,
        signing_secret=args.secret,
        event_delay=args.delay,
    )
    print(f"PBX simulator on {handle.url} → {handle.webhook_url or 'no CRM webhook'}", flush=True)
    try:
        handle.thread.join()
    except KeyboardInterrupt:
        handle.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
