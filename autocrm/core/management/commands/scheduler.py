"""Enqueue periodic jobs. Safe to run on several machines at once (see core.scheduling)."""

from __future__ import annotations

import signal
import time
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from autocrm.core.scheduling import enqueue_due_jobs, registered_jobs


class Command(BaseCommand):
    help = "Enqueue due periodic jobs every --interval seconds (or once with --once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=15.0, help="Seconds between ticks.")
        parser.add_argument("--once", action="store_true", help="One tick, then exit.")

    def handle(self, *args: Any, **options: Any) -> None:
        self._running = True

        def stop(signum: int, frame: FrameType | None) -> None:
            self._running = False

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        jobs = registered_jobs()
        self.stdout.write(f"scheduler: {len(jobs)} periodic jobs: {', '.join(sorted(jobs))}")
        while self._running:
            close_old_connections()
            for name in enqueue_due_jobs():
                self.stdout.write(f"enqueued {name}")
            if options["once"]:
                break
            deadline = time.monotonic() + options["interval"]
            while self._running and time.monotonic() < deadline:
                time.sleep(0.2)
