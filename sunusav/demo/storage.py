"""Fast bulk writes and deletes for the demo world, on SQLite and PostgreSQL.

`Model.objects.bulk_create` builds a model instance per row and prepares each
value field by field: measured here at ~7k rows/s, far too slow for the ~6
million rows of a 100,000-member world. Instead the generator hands over whole
numpy columns; this module converts each column at once to what Django itself
would store (32 hex digits and naive UTC text on SQLite, ISO strings on
PostgreSQL), then inserts with one `executemany` per chunk on SQLite (~90k
rows/s) and `COPY` on PostgreSQL.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import numpy as np
from django.apps import apps
from django.db import connection, models

from sunusav.models import Member, Tontine

NULL_TIME = np.iinfo(np.int64).min  # "no value" in a microsecond column (NaT for numpy)
CHUNK_ROWS = 100_000
# Big enough for the indexes of a 100k-member world to stay in memory while it is built.
SQLITE_BUILD_CACHE_KIB = 1536 * 1024

Progress = Callable[[str], None]


def uuid4_bytes(rng: np.random.Generator, n: int) -> np.ndarray:
    """Return `n` random version-4 UUIDs drawn from `rng` (so ids are reproducible), in ascending order.

    The result is an (n, 16) uint8 array. Ascending because rows are inserted in
    generation order: then the primary-key index (and the member index of the
    tables written member by member) only ever grows at its end, which keeps
    SQLite's inserts fast on tables of millions of rows.
    """
    raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    high = raw[:, :8].copy().view(">u8").ravel()
    low = raw[:, 8:].copy().view(">u8").ravel()
    return raw[np.lexsort((low, high))]


def _uuid_values(raw: np.ndarray) -> list[str]:
    text = np.ascontiguousarray(raw, dtype=np.uint8).tobytes().hex()
    hexes = [text[i : i + 32] for i in range(0, len(text), 32)]
    if connection.vendor == "sqlite":
        return hexes  # Django's UUIDField on SQLite: char(32) without dashes
    return [f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}" for h in hexes]


def _datetime_values(micros: np.ndarray) -> list[str | None]:
    """Return Django's own storage form of UTC instants given as microseconds since the epoch."""
    micros = np.asarray(micros, dtype=np.int64)
    stamps = micros.astype("datetime64[us]")
    text = np.strings.replace(np.datetime_as_string(stamps, unit="us"), "T", " ")
    # Django writes str(datetime), which drops ".000000": match it so text comparisons agree.
    whole = (micros % 1_000_000 == 0) & (micros != NULL_TIME)
    if whole.any():
        text[whole] = np.strings.replace(np.datetime_as_string(stamps[whole], unit="s"), "T", " ")
    if connection.vendor != "sqlite":
        text = np.strings.add(text, "+00:00")
    values = text.tolist()
    if (micros == NULL_TIME).any():
        for i in np.flatnonzero(micros == NULL_TIME).tolist():
            values[i] = None
    return values


def _converter(field: models.Field) -> Callable[[np.ndarray], list]:
    kind = (field.target_field if field.is_relation else field).get_internal_type()
    if kind == "UUIDField":
        return _uuid_values
    if kind == "DateTimeField":
        return _datetime_values
    if kind == "BooleanField":
        return lambda values: [bool(v) for v in np.asarray(values).tolist()]
    return lambda values: np.asarray(values).tolist()


def rows_insert(*, model: type[models.Model], columns: dict[str, np.ndarray], progress: Progress | None = None) -> int:
    """Insert the rows given column-wise (`{field name: array}`) into `model`'s table; return the row count.

    UUID columns are (n, 16) uint8 arrays, datetime columns int64 microseconds
    since the epoch in UTC (`NULL_TIME` for NULL); other columns hold plain values.
    """
    fields = [model._meta.get_field(name) for name in columns]
    converters = [_converter(f) for f in fields]
    arrays = list(columns.values())
    total = len(arrays[0]) if arrays else 0
    if any(len(a) != total for a in arrays):
        raise ValueError(f"{model.__name__}: columns of different lengths")
    started = time.monotonic()
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with connection.cursor() as cursor:
        for start in range(0, total, CHUNK_ROWS):
            stop = min(start + CHUNK_ROWS, total)
            rows = list(zip(*(c(a[start:stop]) for c, a in zip(converters, arrays, strict=True)), strict=True))
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                placeholders = ", ".join(["%s"] * len(fields))
                cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({placeholders})", rows)
    if progress:
        progress(f"  {model._meta.db_table}: {total:,} rows ({time.monotonic() - started:.1f} s to store)")
    return total


def world_models() -> list[type[models.Model]]:
    """Return every model holding demo-world data, children before parents.

    That is members and tontines and, transitively, whatever points at them in
    any installed app (so a table added later is flushed too), plus the alerts
    and metrics tables, emptied entirely because they describe that world.
    """
    roots = [Member, Tontine, apps.get_model("alerts", "AIAlert"), apps.get_model("alerts", "AIMetric")]
    concrete = [m for m in apps.get_models() if not m._meta.proxy and m._meta.managed]
    found = list(roots)
    changed = True
    while changed:
        changed = False
        for model in concrete:
            if model in found:
                continue
            if any(f.is_relation and f.concrete and f.related_model in found for f in model._meta.get_fields()):
                found.append(model)
                changed = True
    # Children first: a model goes after every model in `found` that points at it.
    ordered: list[type[models.Model]] = []

    def visit(model, trail=()):
        if model in ordered or model in trail:
            return
        for other in found:
            if other is not model and any(
                f.is_relation and f.concrete and f.related_model is model for f in other._meta.get_fields()
            ):
                visit(other, (*trail, model))
        ordered.append(model)

    for model in found:
        visit(model)
    return ordered


def world_flush(*, progress: Progress | None = None) -> None:
    """Delete every row of the demo world with plain `DELETE FROM`, children first.

    The ORM's cascading delete loads and walks millions of objects; a plain
    DELETE per table in dependency order does the same in seconds.
    """
    with connection.cursor() as cursor:
        for model in world_models():
            cursor.execute(f"DELETE FROM {connection.ops.quote_name(model._meta.db_table)}")
            if progress and cursor.rowcount:
                progress(f"  deleted {cursor.rowcount:,} rows from {model._meta.db_table}")


def sequences_reset(*, tables: Iterable[str]) -> None:
    """Restart the id sequences of the given (empty) tables, so auto ids are reproducible too."""
    tables = set(tables)
    sequences = [s for s in connection.introspection.sequence_list() if s["table"] in tables]
    if not sequences:
        return
    from django.core.management.color import no_style

    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_by_name_sql(no_style(), sequences):
            cursor.execute(sql)


class SqliteBuildCache:
    """Give SQLite a large page cache while building, then restore the previous size (no-op elsewhere)."""

    def __enter__(self):
        self.previous = None
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA cache_size")
                self.previous = cursor.fetchone()[0]
                cursor.execute(f"PRAGMA cache_size = -{SQLITE_BUILD_CACHE_KIB}")
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA cache_size = {int(self.previous)}")
        return False
