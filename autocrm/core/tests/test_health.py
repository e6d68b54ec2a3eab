"""/healthz: what load balancers see when the database answers and when it does not."""

from __future__ import annotations

import socket

import pytest
from django.db import OperationalError, connection, connections
from django.db.utils import ConnectionHandler

from autocrm.core import health


@pytest.mark.django_db
def test_healthy_database_answers_200_with_json(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == connection.vendor
    assert isinstance(body["database_ms"], float)
    assert body["database_ms"] >= 0
    assert "no-cache" in response["Cache-Control"]


def test_probe_needs_no_login_and_no_session(client, django_db_blocker):
    # Anonymous, no cookies: the probe must not depend on sessions or authentication.
    with django_db_blocker.unblock():
        response = client.get("/healthz")
    assert response.status_code == 200
    assert "Set-Cookie" not in response


@pytest.mark.django_db
def test_only_get_is_allowed(client):
    assert client.post("/healthz").status_code == 405


class _BrokenCursor:
    def __enter__(self):
        raise OperationalError("connection to server at 10.0.0.5 failed: Connection refused")

    def __exit__(self, *exc_info):
        return False


@pytest.mark.django_db
def test_database_error_answers_503(client, monkeypatch):
    # Break only cursors of the default connection (an instance attribute, removed again
    # afterwards); nothing else in the probe's request touches the database.
    monkeypatch.setitem(vars(connections["default"]), "cursor", lambda: _BrokenCursor())

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "error",
        "database": "unavailable",
        "detail": "OperationalError",
    }


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends


def test_unreachable_postgresql_answers_503(client, monkeypatch, django_db_blocker):
    # A real PostgreSQL connection to a port nobody listens on: psycopg's own failure.
    handler = ConnectionHandler(
        {
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": "autocrm",
                "USER": "autocrm",
                "PASSWORD": "autocrm",
                "HOST": "127.0.0.1",
                "PORT": _closed_port(),
                "OPTIONS": {"connect_timeout": 2},
            }
        }
    )
    unreachable = handler["default"]
    monkeypatch.setattr(health, "connection", unreachable)

    try:
        with django_db_blocker.unblock():
            response = client.get("/healthz")
    finally:
        unreachable.close()

    assert response.status_code == 503
    assert response.json()["database"] == "unavailable"
    assert response.json()["detail"] == "OperationalError"
