"""``manage.py check --deploy`` stays clean for the production profile (as `make check-deploy`)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def deploy_env(**overrides: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "SECRET_KEY",
            "PII_ENCRYPTION_KEYS",
            "DEBUG",
            "ALLOWED_HOSTS",
            "PYTEST_XDIST_WORKER",
        }
        and not key.startswith(("SECURE_", "DJANGO_"))
    }
    env |= {
        "DJANGO_SETTINGS_MODULE": "autocrm.config.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "crm.example.com",
        "PII_ENCRYPTION_KEYS": "Y3JlZGl0LXBpaS10ZXN0LWtleS0wMTIzNDU2Nzg5YWI=",
    }
    # DATABASE_URL is inherited: the check runs against the engine this suite runs on.
    env |= overrides
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_passes_at_warning_level(tmp_path):
    env = deploy_env(AUTOCRM_VAR_DIR=str(tmp_path))
    assert len(env["SECRET_KEY"]) >= 50

    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_notices_a_weakened_configuration(tmp_path):
    # Guards the guard: switching HSTS off must make the same command fail.
    env = deploy_env(
        AUTOCRM_VAR_DIR=str(tmp_path), SECURE_HSTS_SECONDS="0", SECURE_SSL_REDIRECT="0"
    )

    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)

    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout
    assert "security.W008" in result.stderr + result.stdout
