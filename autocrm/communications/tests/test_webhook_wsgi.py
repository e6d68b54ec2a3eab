"""Production serves /hooks/ through a handler without middleware (config.wsgi): it must
store and answer exactly like the full stack, and every other path keeps the stack."""

from __future__ import annotations

import io
import json

import pytest

from autocrm.communications.models import InboundEvent
from autocrm.communications.services import channel_create
from autocrm.config.wsgi import application

pytestmark = pytest.mark.django_db(transaction=True)


def _call(path: str, body: bytes = b"", method: str = "POST", **headers: str):
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": headers.pop("host", "testserver"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/json",
        "REMOTE_ADDR": "127.0.0.1",
        **{f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()},
    }
    answer: dict = {}

    def start_response(status: str, response_headers: list) -> None:
        answer["status"] = int(status.split()[0])
        answer["headers"] = dict(response_headers)

    answer["body"] = b"".join(application(environ, start_response))
    return answer


def test_webhooks_are_stored_without_the_middleware_stack():
    channel = channel_create(
        kind="telegram",
        name="bot",
        settings={
            "bot_token": "1:A",
            "secret_token": "wsgi-secret",
            "api_base_url": "http://127.0.0.1:9",
        },
    )
    update = {"update_id": 7, "message": {"message_id": 1, "chat": {"id": 5}, "text": "hi"}}

    refused = _call(
        channel.webhook_path, json.dumps(update).encode(), x_telegram_bot_api_secret_token="nope"
    )
    accepted = _call(
        channel.webhook_path,
        json.dumps(update).encode(),
        x_telegram_bot_api_secret_token="wsgi-secret",
    )
    foreign_host = _call(channel.webhook_path, b"{}", host="evil.example")

    assert refused["status"] == 401
    assert accepted["status"] == 200
    assert accepted["headers"]["X-Content-Type-Options"] == "nosniff"
    # No session cookie, no CSP: the stack did not run.
    assert "Set-Cookie" not in accepted["headers"]
    assert "Content-Security-Policy" not in accepted["headers"]
    assert foreign_host["status"] == 400
    assert list(InboundEvent.objects.values_list("external_id", flat=True)) == ["7"]


def test_other_paths_keep_the_middleware_stack():
    answer = _call("/accounts/login/", method="GET")
    assert answer["status"] == 200
    assert "Content-Security-Policy" in answer["headers"]
    assert "csrftoken" in answer["headers"].get("Set-Cookie", "")
