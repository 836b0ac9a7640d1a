"""django-q2 jobs of cases: thin and idempotent."""

from cases import services


def cases_refresh_open() -> int:
    """Recount the open cases whose totals disagree with their items (a refresh lost to a crash)."""
    return services.cases_refresh_open()
