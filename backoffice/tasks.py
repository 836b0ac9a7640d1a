"""django-q2 jobs of the composition layer (thin: one service call each)."""

from backoffice import drift


def drift_compute() -> dict[str, str]:
    """Store today's PSI of every served model's features and score (once per model version and day)."""
    return drift.drift_compute()
