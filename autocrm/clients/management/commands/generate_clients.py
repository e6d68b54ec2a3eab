"""Fill the database with synthetic clients, fast: for benchmarks and load tests.

    python manage.py generate_clients --clients 1000000 [--batch 20000] [--seed 1]

PostgreSQL gets the rows through COPY, SQLite through executemany in big transactions.
Each run adds N more clients. Not for a production database: the people are invented.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from autocrm.clients.generator import generate_clients


class Command(BaseCommand):
    help = (
        "Insert N synthetic clients (Russian names, 1-2 mobile phones, some e-mails and "
        "Telegram identities) spread over the active dealer centers; then refresh planner "
        "statistics."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--clients", type=int, required=True, help="how many clients to add")
        parser.add_argument(
            "--batch", type=int, default=20_000, help="rows per transaction (default 20000)"
        )
        parser.add_argument("--seed", type=int, default=1, help="random seed")

    def handle(self, *args: Any, **options: Any) -> None:
        count: int = options["clients"]
        batch: int = options["batch"]
        if count < 1:
            raise CommandError("--clients must be at least 1.")
        if not 1 <= batch <= 1_000_000:
            raise CommandError("--batch must be between 1 and 1000000.")
        verbosity: int = options["verbosity"]
        step = max(count // 10, batch)
        reported = [0]

        def progress(done: int, seconds: float) -> None:
            if verbosity >= 1 and (done - reported[0] >= step or done == count):
                reported[0] = done
                self.stdout.write(
                    f"  {done:>10,} clients  {seconds:7.1f} s  {done / seconds:,.0f}/s"
                )

        result = generate_clients(
            count=count, batch_size=batch, seed=options["seed"], progress=progress
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Generated {result.clients:,} clients ({result.phones:,} phones, "
                f"{result.emails:,} e-mails, {result.identities:,} Telegram identities) on "
                f"{connection.vendor} in {result.seconds:.1f} s: "
                f"{result.rows_per_second:,.0f} clients/s."
            )
        )
