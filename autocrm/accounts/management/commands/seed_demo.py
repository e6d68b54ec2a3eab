"""Load the demo dealer group (idempotent). ``make run`` calls it with ``--if-empty``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from autocrm.accounts import demo
from autocrm.accounts.models import DealerCenter


class Command(BaseCommand):
    help = (
        "Create or update the demo dealer group: cities, brands, dealer centers, sites, "
        "consignors, departments and one login per role, then the demo data other apps "
        "register (core.demo_registry), such as the stock. Safe to run repeatedly."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing when any dealer center already exists (keeps real data untouched).",
        )
        parser.add_argument(
            "--print-logins",
            action="store_true",
            help="Only print the demo logins (username, roles, dealer centers, password); change nothing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["print_logins"]:
            self.print_logins()
            return
        if options["if_empty"] and DealerCenter.objects.exists():
            self.stdout.write("Dealer centers already exist: demo data not loaded (--if-empty).")
            return
        summary = demo.build_demo()
        self.stdout.write(
            self.style.SUCCESS("Demo data is in place: ")
            + ", ".join(f"{name} {count}" for name, count in summary.counts.items())
        )

    def print_logins(self) -> None:
        rows = demo.demo_logins()
        if not rows:
            self.stdout.write("No demo users yet: run `python manage.py seed_demo` first.")
            return
        self.stdout.write(f"Demo logins (password for all: {demo.DEMO_PASSWORD})")
        self.stdout.write(
            demo.format_table(
                ("username", "password", "roles", "dealer centers", "name"),
                (
                    (row.username, demo.DEMO_PASSWORD, row.roles, row.dealer_centers, row.full_name)
                    for row in rows
                ),
            )
        )
