"""Re-encrypt personal data and partner secrets under the current first key of
PII_ENCRYPTION_KEYS (key rotation, docs/deployment.md): put the new key first, keep the
old one after it, run this, then drop the old key."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from autocrm.core.crypto import EncryptedTextField
from autocrm.finance.models import BrokerConnection, CreditApplicant

BATCH = 500


class Command(BaseCommand):
    help = "Re-encrypt applicants' personal data and broker secrets under the current key."

    def handle(self, *args: Any, **options: Any) -> None:
        for model in (CreditApplicant, BrokerConnection):
            names = [
                field.attname
                for field in model._meta.concrete_fields
                if isinstance(field, EncryptedTextField)
            ]
            done = 0
            last_pk = 0
            while True:
                with transaction.atomic():
                    # Read decrypted (any key), written back encrypted with the first key.
                    rows = list(
                        model.objects.select_for_update()
                        .filter(pk__gt=last_pk)
                        .order_by("pk")[:BATCH]
                    )
                    if not rows:
                        break
                    for row in rows:
                        model.objects.filter(pk=row.pk).update(
                            **{name: getattr(row, name) for name in names}
                        )
                    last_pk = rows[-1].pk
                    done += len(rows)
            self.stdout.write(f"{model._meta.label}: {done} rows re-encrypted")
