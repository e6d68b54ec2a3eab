"""Typed access to environment variables.

Every helper fails loudly: a malformed value raises ``ImproperlyConfigured`` naming the
variable, so a typo in a deployment never silently falls back to a default.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_MISSING = object()


class Env:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ

    def _raw(self, name: builtins.str) -> builtins.str | None:
        value = self.environ.get(name)
        return None if value is None else value.strip()

    def str(self, name: str, default: str | object = _MISSING) -> str:
        value = self._raw(name)
        if value is None or value == "":
            if default is _MISSING:
                raise ImproperlyConfigured(f"Environment variable {name} is required.")
            assert isinstance(default, str)
            return default
        return value

    def bool(self, name: builtins.str, default: builtins.bool) -> builtins.bool:
        value = self._raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ImproperlyConfigured(
            f"Environment variable {name} must be a boolean (1/0, true/false, yes/no, on/off), got {value!r}."
        )

    def int(
        self, name: builtins.str, default: builtins.int, *, minimum: builtins.int | None = None
    ) -> builtins.int:
        value = self._raw(name)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except ValueError:
            raise ImproperlyConfigured(
                f"Environment variable {name} must be an integer, got {value!r}."
            ) from None
        if minimum is not None and number < minimum:
            raise ImproperlyConfigured(
                f"Environment variable {name} must be >= {minimum}, got {number}."
            )
        return number

    def list(
        self, name: builtins.str, default: builtins.list[builtins.str] | None = None
    ) -> builtins.list[builtins.str]:
        value = self._raw(name)
        if value is None or value == "":
            return list(default or [])
        return [item.strip() for item in value.split(",") if item.strip()]


def load_env_file(path: os.PathLike[builtins.str] | builtins.str) -> None:
    """Read ``NAME=value`` lines into the environment without overriding what is set.

    Used for the developer checkout's ``.env`` (written by ``make setup-dev``) so that
    ``manage.py`` works there without exporting DEBUG=1; production sets real variables
    and has no such file.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        return
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, separator, value = line.partition("=")
        if not separator or not name.strip().isidentifier():
            raise ImproperlyConfigured(f"{path}, line {number}: expected NAME=value.")
        os.environ.setdefault(name.strip(), value.strip().strip("'\""))


def database_config(url: str, *, conn_max_age: int = 60) -> dict[str, object]:
    """Translate ``DATABASE_URL`` into Django's DATABASES entry (SQLite or PostgreSQL only)."""
    import dj_database_url

    if not url.startswith(("sqlite://", "postgres://", "postgresql://")):
        raise ImproperlyConfigured(
            f"DATABASE_URL must start with sqlite:/// or postgres://, got {url.split(':', 1)[0]!r}."
        )
    config: dict[str, object] = dict(dj_database_url.parse(url))
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # The web server and the task worker share one SQLite file: WAL lets readers proceed
        # while the other process writes, and IMMEDIATE transactions take the write lock up
        # front so two writers queue on the busy timeout instead of failing mid-transaction.
        config["OPTIONS"] = {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        config["CONN_MAX_AGE"] = 0
    else:
        config["CONN_MAX_AGE"] = conn_max_age
        config["CONN_HEALTH_CHECKS"] = True
    return config
