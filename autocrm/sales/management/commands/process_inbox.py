"""The inbox worker: turns stored inbound events into messages, calls and requests.

Runs in a loop, polling the inbox; several may run at once (on PostgreSQL they share the
inbox with SKIP LOCKED). ``--once`` drains what is due and exits.
"""

from __future__ import annotations

import signal
import time
from typing import Any

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from autocrm.sales.intake import inbox_drain


class Command(BaseCommand):
    help = "Process the inbox of inbound channel events."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="Drain what is due and exit.")
        parser.add_argument(
            "--interval", type=float, default=0.2, help="Seconds between polls when idle."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stopping = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        if options["once"]:
            counts = inbox_drain()
            self.stdout.write(f"processed: {counts}")
            return
        self.stdout.write("Inbox worker started.")
        while not stopping:
            close_old_connections()
            counts = inbox_drain(max_seconds=5)
            if not any(counts.values()):
                time.sleep(options["interval"])
