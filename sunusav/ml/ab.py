"""Champion and challenger at serving time: which model answers a member (a stable A/B split).

While a challenger is set (`sunusav.ml.lifecycle.challenger_set`) every credit
and fraud decision scores the same input with both models; the served answer
is the champion's except for the members an A/B share sends to the
challenger. The split is by sha256 of the member id, never Python's hash, so
a member stays on one arm across processes and restarts. How the two compare
afterwards is the back-office's (`backoffice.shadow.shadow_comparison`).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence

import numpy as np

CHAMPION, CHALLENGER = "champion", "challenger"


def member_key(member) -> str:
    """Return the canonical text of a member reference (a UUID in any spelling reads the same)."""
    if member is None:
        return ""
    if isinstance(member, uuid.UUID):
        return str(member)
    text = str(member)
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return text


def member_bucket(name: str, member) -> float:
    """Return the member's stable place in [0, 1) for model `name`: sha256 of `name:member`, never Python's hash."""
    digest = hashlib.sha256(f"{name}:{member_key(member)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def challenger_arms(name: str, members: Sequence | None, share: float, n: int) -> np.ndarray:
    """Return, per row, whether the challenger serves it: members whose bucket falls under `share`.

    Rows with no member reference, and every row when `share` is 0, stay with the champion.
    """
    if share <= 0.0 or members is None:
        return np.zeros(n, dtype=bool)
    return np.fromiter(
        (bool(m) and member_bucket(name, m) < share for m in members),
        dtype=bool,
        count=n,
    )
