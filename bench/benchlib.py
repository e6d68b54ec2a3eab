"""Pieces the benchmarks share: the scratch PostgreSQL database, the production-like
server environment, a free port, percentiles. Imported by the bench scripts, which run
as ``python bench/<name>.py`` (so this folder is on ``sys.path``)."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
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


REPO = Path(__file__).resolve().parent.parent


class ServerProcesses:
    """granian (the production profile) against a scratch database, and the helper
    processes beside it (a task worker, inbox workers), each in its own session."""

    def __init__(
        self,
        url: str,
        *,
        name: str,
        workers: int = 1,
        blocking_threads: int = 1,
        helpers: Sequence[Sequence[str]] = (),
        collect_static: bool = False,
    ) -> None:
        self.var_dir = Path(tempfile.mkdtemp(prefix=f"autocrm-bench-{name}-"))
        (self.var_dir / "static").mkdir()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = server_environment(url, self.var_dir)
        if collect_static:  # HTML pages need the static manifest of the production storage
            subprocess.run(
                [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
                cwd=REPO,
                env=env,
                check=True,
            )
        granian = Path(sys.executable).with_name("granian")
        self.server = subprocess.Popen(  # noqa: S603 - fixed arguments
            [
                str(granian), "--interface", "wsgi", "--host", "127.0.0.1",
                "--port", str(self.port), "--workers", str(workers),
                "--blocking-threads", str(blocking_threads), "--log-level", "warning",
                "autocrm.config.wsgi:application",
            ],
            cwd=REPO, env=env, start_new_session=True,
        )  # fmt: skip
        self.helpers = [
            subprocess.Popen(  # noqa: S603 - fixed arguments
                [sys.executable, *command],
                cwd=REPO,
                env=env,
                start_new_session=True,
                stdout=subprocess.DEVNULL,
            )
            for command in helpers
        ]

    def wait_ready(self, timeout: float = 60.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise RuntimeError(f"granian exited with {self.server.returncode}")
            for helper in self.helpers:
                if helper.poll() is not None:  # args: python manage.py <command> ...
                    raise RuntimeError(f"{helper.args[2]} exited with {helper.returncode}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("granian did not answer /healthz in time")

    def stop(self) -> None:
        processes = (self.server, *self.helpers)
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(self.var_dir, ignore_errors=True)
