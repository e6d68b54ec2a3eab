"""A trigram index for name search on PostgreSQL (``search_name LIKE '%word%'``).

Without it a name search reads every client (about 0.5 s at a million). SQLite has no
such index; there the search stays a scan. pg_trgm is a trusted extension (PostgreSQL 13+),
so the database owner may create it; where that is refused the index is skipped with a
warning rather than failing the deployment.
"""

import logging

from django.db import migrations

logger = logging.getLogger(__name__)

INDEX = "clients_client_search_name_trgm"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SAVEPOINT trigram")
        try:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except Exception as error:  # noqa: BLE001 - a missing privilege must not stop migrate
            cursor.execute("ROLLBACK TO SAVEPOINT trigram")
            logger.warning("pg_trgm is not available (%s); name search stays a scan", error)
            return
        cursor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON clients_client "
            "USING gin (search_name gin_trgm_ops)"
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("clients", "0002_contacts_identities_consents_merge")]

    operations = [migrations.RunPython(create_index, drop_index)]
