"""django-q2 jobs of the core domain (thin: one service call each)."""

from sunusav.liquidity import liquidity_check


def check_liquidity() -> int:
    """Raise liquidity alerts for payouts coming up short; return how many."""
    return len(liquidity_check())
