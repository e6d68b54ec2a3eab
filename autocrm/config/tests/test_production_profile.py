"""The production profile (DEBUG=0), exercised in fresh interpreters.

pytest-django has already imported the development profile in this process, so every test
here starts ``python`` in a subprocess with a controlled environment instead of overriding
settings: that is what a production machine really loads.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "SECRET_KEY",
            "PII_ENCRYPTION_KEYS",
            "DEBUG",
            "ALLOWED_HOSTS",
            "DATABASE_URL",
            "PYTEST_XDIST_WORKER",
        }
        and not key.startswith(("SECURE_", "DJANGO_"))
    }
    env |= {
        "DJANGO_SETTINGS_MODULE": "autocrm.config.settings",
        "DEBUG": "0",
        "AUTOCRM_VAR_DIR": str(tmp_path),
        "PII_ENCRYPTION_KEYS": "Y3JlZGl0LXBpaS10ZXN0LWtleS0wMTIzNDU2Nzg5YWI=",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'production.sqlite3'}",
    }
    env |= overrides
    return env


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_refuses_to_start_without_secret_key(tmp_path):
    result = run_python("import django; django.setup()", production_env(tmp_path))

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY is required when DEBUG is off" in result.stderr


def test_refuses_to_start_without_a_personal_data_key(tmp_path):
    env = production_env(tmp_path, SECRET_KEY="x" * 60, ALLOWED_HOSTS="crm.example.com")
    del env["PII_ENCRYPTION_KEYS"]
    result = run_python("import django; django.setup()", env)

    assert result.returncode != 0
    assert "PII_ENCRYPTION_KEYS is required when DEBUG is off" in result.stderr


def test_manage_py_check_refuses_without_secret_key(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=REPO,
        env=production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_refuses_the_development_key_in_production(tmp_path):
    from autocrm.config import settings as loaded

    env = production_env(tmp_path, SECRET_KEY=loaded._DEV_SECRET_KEY)
    result = run_python("import django; django.setup()", env)

    assert result.returncode != 0
    assert "SECRET_KEY must not be the development key" in result.stderr


def test_malformed_variable_stops_startup_naming_it(tmp_path):
    env = production_env(tmp_path, SECRET_KEY=secrets.token_urlsafe(50), EMAIL_PORT="smtp")
    result = run_python("import django; django.setup()", env)

    assert result.returncode != 0
    assert "EMAIL_PORT must be an integer" in result.stderr


def test_mysql_database_url_is_refused(tmp_path):
    env = production_env(
        tmp_path, SECRET_KEY=secrets.token_urlsafe(50), DATABASE_URL="mysql://u:p@localhost/crm"
    )
    result = run_python("import django; django.setup()", env)

    assert result.returncode != 0
    assert "DATABASE_URL must start with sqlite:/// or postgres://" in result.stderr


# Runs the whole middleware stack (Django's WSGI handler via the test client) in the
# production profile and reports what a browser would receive.
PROBE = """
    import json
    import django
    django.setup()
    from django.conf import settings
    from django.contrib.sessions.middleware import SessionMiddleware
    from django.contrib.sessions.models import Session
    from django.db import connection
    from django.http import HttpResponse
    from django.test import Client, RequestFactory

    client = Client(HTTP_HOST="crm.example.com")
    secure = client.get("/healthz", secure=True)
    plain = client.get("/accounts/login/")
    plain_health = client.get("/healthz")

    # A real session cookie as SessionMiddleware writes it (only its table is needed).
    with connection.schema_editor() as editor:
        editor.create_model(Session)

    def view(request):
        request.session["seen"] = True
        return HttpResponse("ok")

    request = RequestFactory().get("/", secure=True, HTTP_HOST="crm.example.com")
    cookie = SessionMiddleware(view)(request).cookies[settings.SESSION_COOKIE_NAME]

    print(json.dumps({
        "status": secure.status_code,
        "headers": dict(secure.headers),
        "plain_status": plain.status_code,
        "plain_location": plain.headers.get("Location"),
        "plain_health_status": plain_health.status_code,
        "session_cookie": {
            "secure": bool(cookie["secure"]),
            "httponly": bool(cookie["httponly"]),
            "samesite": cookie["samesite"],
        },
        "csrf_cookie_secure": settings.CSRF_COOKIE_SECURE,
        "debug": settings.DEBUG,
    }))
"""


@pytest.fixture(scope="module")
def production_response(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp_path = tmp_path_factory.mktemp("production")
    env = production_env(
        tmp_path, SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="crm.example.com"
    )
    result = run_python(PROBE, env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_response_carries_security_headers(production_response):
    headers = production_response["headers"]
    assert production_response["debug"] is False
    assert production_response["status"] == 200
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "object-src 'none'" in headers["Content-Security-Policy"]
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"


def test_production_redirects_plain_http_except_the_health_probe(production_response):
    assert production_response["plain_status"] == 301
    assert production_response["plain_location"] == "https://crm.example.com/accounts/login/"
    # Load balancers probe /healthz over plain HTTP inside the network.
    assert production_response["plain_health_status"] == 200


def test_production_cookies_are_secure(production_response):
    assert production_response["session_cookie"] == {
        "secure": True,
        "httponly": True,
        "samesite": "Lax",
    }
    assert production_response["csrf_cookie_secure"] is True
