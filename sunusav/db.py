"""Database pieces shared by the apps: portable column defaults and types.

The seed's SQL gives its tables database-side defaults (`gen_random_uuid()`,
`now()`); these helpers express them so they hold on PostgreSQL and SQLite,
and so rows inserted by SunuSàv's main backend outside the ORM get them too.
"""

from django.db import connection, models
from django.db.models.functions import Now


class GenRandomUUID(models.Func):
    """Database-side random UUID: `gen_random_uuid()` on PostgreSQL."""

    template = "gen_random_uuid()"
    output_field = models.UUIDField()

    def as_sqlite(self, compiler, connection, **extra_context):
        # Django stores UUIDs on SQLite as 32 hex characters without dashes.
        return "lower(hex(randomblob(16)))", []


class DbNow(Now):
    """Database-side current time: the seed's `now()` on PostgreSQL."""

    def as_postgresql(self, compiler, connection, **extra_context):
        return "now()", []


class NumericField(models.FloatField):
    """An unconstrained SQL `NUMERIC` column read and written as a Python float.

    The seed declares `metric_value NUMERIC` with no precision; Django's
    DecimalField insists on one, so this keeps the column type exact.
    """

    description = "Unconstrained NUMERIC"

    def db_type(self, connection):
        return "numeric"

    def from_db_value(self, value, expression, connection):
        return None if value is None else float(value)


def audit_commit_async() -> None:
    """Let the current transaction commit without waiting for the disk, if it is the outermost one.

    For transactions that hold nothing but audit rows (`ai_metrics`): on
    PostgreSQL `SET LOCAL synchronous_commit TO OFF` makes the commit return
    before the WAL flush, so a crash in the next ~0.2 s (3 x wal_writer_delay)
    may lose the row, never corrupt anything. Inside an outer transaction (a
    hold, an alert) it does nothing: that transaction's writes must be durable
    before the answer. SQLite's WAL with synchronous=NORMAL already makes the
    same trade (settings).
    """
    if connection.vendor == "postgresql" and len(connection.atomic_blocks) == 1:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
