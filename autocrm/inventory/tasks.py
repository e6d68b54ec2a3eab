from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import translation
from django_tasks import task

from autocrm.core.scheduling import periodic
from autocrm.inventory.imports import stock_import_process
from autocrm.inventory.services import reservations_release_expired, stock_changes_prune


@periodic(every=timedelta(minutes=5))
@task()
def release_expired_reservations() -> int:
    return reservations_release_expired()


@periodic(every=timedelta(hours=6))
@task()
def prune_stock_changes() -> int:
    return stock_changes_prune()


@task()
def stock_import_process_task(stock_import_id: int, language: str | None = None) -> dict[str, int]:
    """Run a stock import; safe to run again (see ``imports.stock_import_process``)."""
    # Row error messages are stored as text, in the language of whoever started the import.
    with translation.override(language or settings.LANGUAGE_CODE):
        result = stock_import_process(stock_import_id=stock_import_id)
    return {
        "processed": result.processed_rows,
        "created": result.created_count,
        "updated": result.updated_count,
        "errors": result.error_count,
    }
