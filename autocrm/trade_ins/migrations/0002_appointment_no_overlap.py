"""No appraiser is booked twice at once: the database refuses it, whatever the code does.

On PostgreSQL an exclusion constraint over the appraiser (``=``) and the busy interval
``tstzrange(starts_at, blocked_until)`` (``&&``) of booked appointments; comparing the
appraiser id in a GiST index needs the btree_gist extension (trusted since PostgreSQL 13,
so the database owner may create it). A failure here must stop the deployment: without
the constraint the guarantee is gone.

It is raw SQL rather than ``ExclusionConstraint`` in the model's Meta because that class
exists only for PostgreSQL and the suite also runs on SQLite, where the booking service's
lock-and-check is the only guard. The constraint is therefore not part of the migration
state: a later migration that changes ``appraiser``, ``starts_at``, ``blocked_until`` or
``status`` on PostgreSQL must drop and re-create it (the SQL is below).
"""

from typing import Any

from django.contrib.postgres.operations import BtreeGistExtension
from django.db import migrations

TABLE = "trade_ins_appraisalappointment"
CONSTRAINT = "trade_ins_appointment_no_overlap"


class BtreeGistOnPostgres(BtreeGistExtension):
    """Created on PostgreSQL only (the parent already skips other engines going forward);
    never dropped going back: other apps' indexes may rely on the extension by then."""

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        return None


def add_constraint(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"ALTER TABLE {TABLE} ADD CONSTRAINT {CONSTRAINT} EXCLUDE USING gist "
        "(appraiser_id WITH =, tstzrange(starts_at, blocked_until, '[)') WITH &&) "
        "WHERE (status = 'booked')"
    )


def drop_constraint(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"ALTER TABLE {TABLE} DROP CONSTRAINT IF EXISTS {CONSTRAINT}")


class Migration(migrations.Migration):
    dependencies = [("trade_ins", "0001_initial")]

    operations = [
        BtreeGistOnPostgres(),
        migrations.RunPython(add_constraint, drop_constraint),
    ]
