"""Pieces the benchmarks share: the scratch PostgreSQL database, the production-like
server environment, a free port, percentiles. Imported by the bench scripts, which run
as ``python bench/<name>.py`` (so this folder is on ``sys.path``)."""

from __future__ import annotations

import os
import secrets
import socket
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

DEFAULT_POSTGRES_URL = "postgres://autocrm:autocrm@127.0.0.1:5432/autocrm"
# Shared by the bench process and the servers it starts: session cookies must verify.
SECRET_KEY = secrets.token_urlsafe(50)


def postgres_url(database: str) -> str:
    """``DATABASE_URL`` (when it is PostgreSQL) or the default, pointed at ``database``."""
    configured = os.environ.get("DATABASE_URL", "")
    is_postgres = configured.startswith(("postgres://", "postgresql://"))
    parts = urlsplit(configured if is_postgres else DEFAULT_POSTGRES_URL)
    return urlunsplit(parts._replace(path=f"/{database}"))


def recreate_postgres_database(url: str) -> None:
    import psycopg

    database = urlsplit(url).path.lstrip("/")
    admin_url = urlunsplit(urlsplit(url)._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{database}"')


def server_environment(url: str, var_dir: Path) -> dict[str, str]:
    """The production profile (DEBUG off) against the scratch database."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "autocrm.config.settings",
        "DATABASE_URL": url,
        "DEBUG": "0",
        "SECRET_KEY": SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "LOG_LEVEL": "WARNING",
        "DATABASE_CONN_MAX_AGE": "600",
        "AUTOCRM_VAR_DIR": str(var_dir),
    }


def configure_django(url: str, var_dir: Path) -> None:
    """Set Django up in the bench process itself (data generation, counting)."""
    os.environ.update(server_environment(url, var_dir))
    import django
    from django.conf import settings

    django.setup()
    settings.DEBUG = False  # no query log


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def percentile(values: list[float], fraction: float) -> float:
    """Linear interpolation between closest ranks; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
