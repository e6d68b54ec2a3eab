"""Issue an API token: ``manage.py create_api_token <username> [--name] [--expires-days]``.

The token is shown once, as the last line of the output (scripts take ``| tail -n 1``);
only its SHA-256 digest is stored.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from autocrm.accounts.models import User
from autocrm.accounts.services import api_token_create
from autocrm.core.errors import DomainError

# Ten years: beyond that "never expires" (leave --expires-days out) is what is meant.
MAX_EXPIRES_DAYS = 3650


class Command(BaseCommand):
    help = "Issue an API token for a user; the token is printed once, as the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="The user the integration acts as.")
        parser.add_argument(
            "--name", default="", help="What the token is for, e.g. 'website forms'."
        )
        parser.add_argument(
            "--expires-days",
            type=int,
            default=None,
            help=f"Days until the token expires (1-{MAX_EXPIRES_DAYS}); never by default.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        username: str = options["username"]
        name: str = options["name"]
        expires_days: int | None = options["expires_days"]
        if len(name) > 100:
            raise CommandError("--name: at most 100 characters.")
        expires_at = None
        if expires_days is not None:
            if not 1 <= expires_days <= MAX_EXPIRES_DAYS:
                raise CommandError(f"--expires-days: must be between 1 and {MAX_EXPIRES_DAYS}.")
            expires_at = timezone.now() + timedelta(days=expires_days)
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        try:
            issued = api_token_create(actor=None, user=user, name=name, expires_at=expires_at)
        except DomainError as error:
            raise CommandError(error.message) from None
        record = issued.record
        expiry = (
            f"expires {record.expires_at:%Y-%m-%d %H:%M %Z}"
            if record.expires_at
            else "never expires"
        )
        self.stdout.write(
            f"Token {record.prefix}… for {user.username} ({expiry}). "
            "Store it now: it is not shown again. Revoke with "
            f"`manage.py revoke_api_token {record.prefix}`."
        )
        self.stdout.write(issued.token)
