"""Revoke API tokens: ``manage.py revoke_api_token <prefix>`` (the prefix the admin shows)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from autocrm.accounts.services import TOKEN_PREFIX, api_token_revoke_by_prefix
from autocrm.core.errors import DomainError


class Command(BaseCommand):
    help = "Revoke the active API tokens with this prefix (or this whole token)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("prefix", help="Token prefix as listed in the admin, e.g. acrm_AbC123.")

    def handle(self, *args: Any, **options: Any) -> None:
        prefix: str = options["prefix"]
        try:
            count = api_token_revoke_by_prefix(actor=None, prefix=prefix)
        except DomainError as error:
            raise CommandError(error.message) from None
        self.stdout.write(
            f"Revoked {count} token(s) with prefix {prefix[: len(TOKEN_PREFIX) + 6]}."
        )
