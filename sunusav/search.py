"""Accent- and case-insensitive admin search on names: "Diegane", "diégane" and "DIÉGANE" find Diégane.

Names are typed the way a keyboard allows: an analyst on a phone or an
English keyboard writes "Diegane", "Ndeye", "Thies". `AccentInsensitiveSearchMixin`
makes every plain `search_fields` entry of an admin (no `=`, `^` or `@` prefix)
compare both sides without accents and without case:

- the column through the `unaccent` transform registered here on text fields
  (`display_name__unaccent__icontains`): `UNACCENT(col)` in SQL. PostgreSQL
  has it from its `unaccent` extension (created by migration
  `sunusav.0012_day_unaccent`); on SQLite `unaccent_connection_prepare`
  registers a Python function of that name on each new connection;
- the typed words through `unaccented` in Python, the same letters folded.

No index: a name search is a substring search (`%diegane%`), which no B-tree
serves either way, and the queues narrow it by their own filters first.
"""

from __future__ import annotations

import unicodedata

from django.db.backends.signals import connection_created
from django.db.models import CharField, TextField, Transform

# Letters that are not a base letter plus a combining accent, folded by hand as PostgreSQL's unaccent does.
_FOLDS = str.maketrans({"ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D"})


def unaccented(text):
    """Return `text` without its accents: "Diégane Ndèye Çà" -> "Diegane Ndeye Ca" (None stays None)."""
    if text is None:
        return None
    decomposed = unicodedata.normalize("NFKD", str(text).translate(_FOLDS))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


class Unaccent(Transform):
    """`field__unaccent`: the column without its accents (SQL `UNACCENT(col)` on both engines)."""

    lookup_name = "unaccent"
    function = "UNACCENT"
    output_field = TextField()


CharField.register_lookup(Unaccent)
TextField.register_lookup(Unaccent)


def unaccent_connection_prepare(sender=None, connection=None, **kwargs) -> None:
    """Give a new SQLite connection the UNACCENT function PostgreSQL's extension provides."""
    if connection is None or connection.vendor != "sqlite":
        return
    connection.connection.create_function("UNACCENT", 1, unaccented, deterministic=True)


def unaccent_signals_connect() -> None:
    """Prepare every future connection, and any already open (called from `SunusavConfig.ready`)."""
    from django.db import connections

    connection_created.connect(unaccent_connection_prepare, dispatch_uid="sunusav.search.unaccent")
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None:
            unaccent_connection_prepare(connection=conn)


_PREFIXES = ("=", "^", "@")


class AccentInsensitiveSearchMixin:
    """Admin search where each plain `search_fields` entry ignores accents and case (module docstring).

    Fields with a prefix keep Django's meaning (`=id` an exact id); an admin
    that searches ids itself calls `super().get_search_results` for the rest.
    """

    def get_search_fields(self, request):
        fields = []
        for field in super().get_search_fields(request):
            if field.startswith(_PREFIXES) or field.endswith("__unaccent"):
                fields.append(field)
            else:
                fields.append(f"{field}__unaccent")
        return fields

    def get_search_results(self, request, queryset, search_term):
        return super().get_search_results(request, queryset, unaccented(search_term or ""))
