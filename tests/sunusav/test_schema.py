"""The seed's tables exist with the seed's columns, types and defaults (by introspection)."""

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

# The seed's SQL, column by column: PostgreSQL type, nullability, default.
SEED_COLUMNS = {
    "users": {
        "id": ("uuid", False, "gen_random_uuid()"),
        "credit_score": ("numeric(4,3)", True, None),
        "credit_score_updated_at": ("timestamp with time zone", True, None),
    },
    "ai_alerts": {
        "id": ("uuid", False, "gen_random_uuid()"),
        "user_id": ("uuid", True, None),
        "alert_type": ("text", False, None),
        "payload": ("jsonb", True, None),
        "created_at": ("timestamp with time zone", True, "now()"),
        "resolved": ("boolean", True, "false"),
        "resolved_at": ("timestamp with time zone", True, None),
    },
    "ai_metrics": {
        "id": ("uuid", False, "gen_random_uuid()"),
        "user_id": ("uuid", True, None),
        "metric_key": ("text", False, None),
        "metric_value": ("numeric", True, None),
        "meta": ("jsonb", True, None),
        "created_at": ("timestamp with time zone", True, "now()"),
    },
}

# SQLite has no such types: Django maps them to these declared types.
SQLITE_TYPES = {
    "uuid": "char(32)",
    "numeric(4,3)": "decimal",
    "timestamp with time zone": "datetime",
    "text": "text",
    "jsonb": "text",
    "boolean": "bool",
    "numeric": "numeric",
}


def _pg_columns(table):
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
                   pg_get_expr(d.adbin, d.adrelid)
            FROM pg_attribute a
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
            """,
            [table],
        )
        return {name: (typ, nullable, default) for name, typ, nullable, default in cursor.fetchall()}


def _sqlite_columns(table):
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA table_info({table})")
        return {row[1]: (row[2].lower(), not row[3], row[4]) for row in cursor.fetchall()}


@pytest.mark.parametrize("table", sorted(SEED_COLUMNS))
def test_seed_table_has_seed_columns(table):
    if connection.vendor == "postgresql":
        actual = _pg_columns(table)
        for column, (typ, nullable, default) in SEED_COLUMNS[table].items():
            assert column in actual, f"{table}.{column} missing"
            assert actual[column][0] == typ, f"{table}.{column} type"
            assert actual[column][1] == nullable, f"{table}.{column} nullability"
            assert actual[column][2] == default, f"{table}.{column} default"
    else:
        actual = _sqlite_columns(table)
        for column, (typ, nullable, default) in SEED_COLUMNS[table].items():
            assert column in actual, f"{table}.{column} missing"
            assert actual[column][0].startswith(SQLITE_TYPES[typ]), f"{table}.{column} type {actual[column][0]}"
            assert actual[column][1] == nullable, f"{table}.{column} nullability"
            assert (actual[column][2] is None) == (default is None), f"{table}.{column} default"


@pytest.mark.parametrize("table", ["ai_alerts", "ai_metrics"])
def test_seed_tables_have_exactly_the_seed_columns(table):
    columns = _pg_columns(table) if connection.vendor == "postgresql" else _sqlite_columns(table)
    assert set(columns) == set(SEED_COLUMNS[table])


def test_user_fk_cascades_in_the_database():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite keeps Django's ORM-side cascade (see alerts/migrations/0002)")
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT rel.relname, con.confdeltype FROM pg_constraint con
            JOIN pg_class rel ON rel.oid = con.conrelid
            WHERE con.contype = 'f' AND rel.relname IN ('ai_alerts', 'ai_metrics')
            """
        )
        rows = dict(cursor.fetchall())
    assert rows == {"ai_alerts": "c", "ai_metrics": "c"}


def test_database_defaults_fill_rows_inserted_outside_the_orm():
    """The main backend inserts with plain SQL; the seed's defaults must apply."""
    from alerts.models import AIAlert

    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO ai_alerts (alert_type) VALUES ('liquidity_short')")
    alert = AIAlert.objects.get()
    assert alert.id is not None
    assert alert.created_at is not None
    assert alert.resolved is False


def test_alert_type_is_limited_to_the_seed_types():
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("INSERT INTO ai_alerts (alert_type) VALUES ('something_else')")


def test_work_queue_indexes_exist():
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "ai_alerts")
        metric_constraints = connection.introspection.get_constraints(cursor, "ai_metrics")
    index_columns = [c["columns"] for c in constraints.values() if c["index"]]
    assert ["alert_type", "resolved", "created_at"] in index_columns
    assert ["user_id", "created_at"] in index_columns
    metric_index_columns = [c["columns"] for c in metric_constraints.values() if c["index"]]
    assert ["metric_key", "created_at"] in metric_index_columns
