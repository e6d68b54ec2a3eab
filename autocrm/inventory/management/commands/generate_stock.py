"""Fill the database with synthetic stock, fast: for benchmarks and load tests.

    python manage.py generate_stock --vehicles 1000000 [--batch 10000] [--seed 1]

PostgreSQL gets the rows through COPY, SQLite through executemany in big transactions.
Not for a production database: the cars are invented (stock codes ``GS-000000001`` ...).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from autocrm.inventory.generator import generate_stock


class Command(BaseCommand):
    help = (
        "Insert N synthetic vehicles over the group's sites (creating the demo group's "
        "structure on an empty database), with their first logistics-history rows and some "
        "reservations; then refresh planner statistics."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--vehicles", type=int, required=True, help="how many cars to add")
        parser.add_argument(
            "--batch", type=int, default=10_000, help="rows per transaction (default 10000)"
        )
        parser.add_argument(
            "--seed", type=int, default=1, help="random seed: the same seed, the same cars"
        )
        parser.add_argument(
            "--with-history",
            action="store_true",
            help="also write an audit-history row per car (doubles the time)",
        )
        parser.add_argument(
            "--keep-indexes",
            action="store_true",
            help=(
                "PostgreSQL: keep indexes and foreign keys during a large load (slower; "
                "by default they are dropped and rebuilt in the load's transaction, "
                "which locks the stock tables meanwhile)"
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        vehicles: int = options["vehicles"]
        batch: int = options["batch"]
        if vehicles < 1:
            raise CommandError("--vehicles must be at least 1.")
        if not 1 <= batch <= 1_000_000:
            raise CommandError("--batch must be between 1 and 1000000.")
        verbosity: int = options["verbosity"]
        step = max(vehicles // 10, batch)
        reported = [0]

        def progress(done: int, seconds: float) -> None:
            if verbosity >= 1 and (done - reported[0] >= step or done == vehicles):
                reported[0] = done
                self.stdout.write(f"  {done:>10,} cars  {seconds:7.1f} s  {done / seconds:,.0f}/s")

        result = generate_stock(
            vehicles=vehicles,
            batch_size=batch,
            seed=options["seed"],
            with_history=options["with_history"],
            fast_load=not options["keep_indexes"],
            progress=progress,
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Generated {result.vehicles:,} vehicles ({result.reservations:,} reserved) "
                f"on {connection.vendor} in {result.seconds:.1f} s: "
                f"{result.rows_per_second:,.0f} vehicles/s."
            )
        )
