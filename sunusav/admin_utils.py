"""Admin helpers for big tables."""

from django.core.paginator import Paginator
from django.db import connection
from django.utils.functional import cached_property


class CappedCountPaginator(Paginator):
    """A paginator that never runs an exact COUNT(*) over a huge table.

    On PostgreSQL an unfiltered count uses the planner's estimate; filtered
    counts stop at `cap` so the changelist stays fast on millions of rows.
    """

    cap = 10_000

    @cached_property
    def count(self):
        query = self.object_list.query
        if connection.vendor == "postgresql" and not query.where:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [query.model._meta.db_table]
                )
                row = cursor.fetchone()
            if row and row[0] > self.cap:
                return int(row[0])
        return self.object_list[: self.cap + 1].count()


class ReadOnlyAdminMixin:
    """Nobody adds, changes or deletes through this admin: rows come from the product's own actions."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
