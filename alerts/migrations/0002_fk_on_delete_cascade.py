"""Give the seed tables' user_id foreign keys a database-level ON DELETE CASCADE.

The seed declares `user_id UUID REFERENCES users(id) ON DELETE CASCADE`, and
SunuSàv's main backend deletes users outside Django, so the cascade must live in
PostgreSQL, not only in the ORM. SQLite (the embedded default) keeps Django's
ORM-side cascade: rebuilding its tables to change a constraint buys nothing there.
"""

from django.db import migrations

TABLES = ("ai_alerts", "ai_metrics")


def _fk_names(cursor, table):
    cursor.execute(
        """
        SELECT con.conname FROM pg_constraint con
        JOIN pg_class rel ON rel.oid = con.conrelid
        JOIN pg_attribute att ON att.attrelid = rel.oid AND att.attnum = ANY(con.conkey)
        WHERE con.contype = 'f' AND rel.relname = %s AND att.attname = 'user_id'
        """,
        [table],
    )
    return [row[0] for row in cursor.fetchall()]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for table in TABLES:
            for name in _fk_names(cursor, table):
                cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
                cursor.execute(
                    f'ALTER TABLE {table} ADD CONSTRAINT "{name}" FOREIGN KEY (user_id) '
                    "REFERENCES users(id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED"
                )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for table in TABLES:
            for name in _fk_names(cursor, table):
                cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
                cursor.execute(
                    f'ALTER TABLE {table} ADD CONSTRAINT "{name}" FOREIGN KEY (user_id) '
                    "REFERENCES users(id) DEFERRABLE INITIALLY DEFERRED"
                )


class Migration(migrations.Migration):
    dependencies = [("alerts", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
