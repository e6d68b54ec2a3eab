"""Set-based writes for the hot paths, where Django's ``bulk_update`` costs too much.

``QuerySet.bulk_update`` builds a ``CASE WHEN pk = ... THEN ...`` expression per field and
row; for the inbox worker's batches that construction took most of the worker's time.
``update_rows`` sends one ``WITH v AS (VALUES ...) UPDATE ... FROM v`` instead, which PostgreSQL and
SQLite (3.33+) both understand.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from django.db import connection
from django.db.models import Field, Model


def update_rows(model: type[Model], objects: Iterable[Model], fields: list[str]) -> None:
    """Write ``fields`` of ``objects`` (already changed in memory) in one statement."""
    rows = list(objects)
    if not rows:
        return
    meta = model._meta
    quote = connection.ops.quote_name
    pk = meta.pk
    assert pk is not None
    columns = [pk] + [cast("Field[Any, Any]", meta.get_field(name)) for name in fields]
    postgres = connection.vendor == "postgresql"

    def placeholder(field: Field[Any, Any]) -> str:
        # PostgreSQL types a VALUES list from its literals: say what each column is.
        return f"CAST(%s AS {field.db_type(connection)})" if postgres else "%s"

    row_sql = "(" + ", ".join(placeholder(field) for field in columns) + ")"
    params: list[Any] = []
    for obj in rows:
        params.extend(
            field.get_db_prep_save(getattr(obj, field.attname), connection) for field in columns
        )
    names = [quote(field.column) for field in columns]
    table = quote(meta.db_table)
    assignments = ", ".join(f"{name} = v.{name}" for name in names[1:])
    # Table and column names come from the model's metadata; values are parameters.
    # The VALUES list is a named CTE: SQLite has no column list on a VALUES alias.
    sql = (
        f"WITH v({', '.join(names)}) AS (VALUES "  # noqa: S608
        + ", ".join([row_sql] * len(rows))
        + f") UPDATE {table} SET {assignments} FROM v "  # noqa: S608
        + f"WHERE {table}.{names[0]} = v.{names[0]}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
