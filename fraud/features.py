"""The five fraud features, derived from a member's stored payment history.

The API takes the features as the backend computed them; these functions derive
the same five for payments stored in `payments`, for training, batch scoring
and the checks of stored payments. Definitions (also in the model card):

- `amount_sats`: the payment's own amount.
- `time_since_last_sec`: seconds since the member's previous payment or invoice
  (ties broken by id); `TIME_SINCE_LAST_CAP_SEC` (30 days) when there is none
  within that window, and never more than the cap.
- `invoices_last_min`: the member's invoices created in the 60 seconds up to
  and including this payment (this one counts if it is an invoice).
- `device_changes`: among the member's payments in the 24 hours up to and
  including this one, how many have a device different from the member's
  last known one before it (blank devices are unknown: neither a change nor
  a reference; the reference may be older than 24 hours).
- `location_changes`: the same for the location.

Set-based: one query fetches the history of all the payments' members over the
window they need (`HISTORY_WINDOW`), numpy does the rest with sorted keys and
cumulative sums. It runs the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from django.utils.translation import gettext_lazy as _

FEATURES = ["amount_sats", "time_since_last_sec", "invoices_last_min", "device_changes", "location_changes"]
# What the pages call each feature (French; English in locale/en): never the code itself.
FEATURE_LABELS = {
    "amount_sats": _("montant (sats)"),
    "time_since_last_sec": _("secondes depuis le paiement précédent"),
    "invoices_last_min": _("factures dans la dernière minute"),
    "device_changes": _("changements d'appareil (24 h)"),
    "location_changes": _("changements de lieu (24 h)"),
}

TIME_SINCE_LAST_CAP_SEC = 30 * 24 * 3600
INVOICE_WINDOW_SEC = 60
CHANGE_WINDOW_SEC = 24 * 3600
HISTORY_WINDOW = dt.timedelta(seconds=TIME_SINCE_LAST_CAP_SEC)

_MS = 1000
# Sort key = member code * 2**40 + milliseconds since the earliest row: 2**40 ms
# is ~34 years of history, and 2**23 members fit below int64's limit.
_TIME_BITS = 40


@dataclass(frozen=True)
class History:
    """Payments of some members, as parallel arrays (any order)."""

    member: np.ndarray  # member ids (object)
    created_at: np.ndarray  # datetime objects
    is_invoice: np.ndarray  # bool
    device: np.ndarray  # str (object)
    location: np.ndarray  # str (object)
    amount_sats: np.ndarray  # int64
    order: np.ndarray  # tie-breaker for equal timestamps (str(id))


def history_from_rows(rows: Iterable[tuple]) -> History:
    """Build a `History` from `(id, member_id, created_at, kind, device_id, location, amount_sats)` rows."""
    rows = list(rows)
    if not rows:
        empty = np.array([], dtype=object)
        return History(empty, empty, np.array([], dtype=bool), empty, empty, np.array([], dtype=np.int64), empty)
    ids, members, created, kinds, devices, locations, amounts = zip(*rows, strict=True)
    return History(
        member=np.array(members, dtype=object),
        created_at=np.array(created, dtype=object),
        is_invoice=np.array([k == "invoice" for k in kinds], dtype=bool),
        device=np.array(devices, dtype=object),
        location=np.array(locations, dtype=object),
        amount_sats=np.array(amounts, dtype=np.int64),
        order=np.array([str(i) for i in ids], dtype=object),
    )


def features_from_history(history: History) -> np.ndarray:
    """Return the five features (n, 5, float64) of every payment in `history`, in its order.

    Each row only sees the rows of the same member at or before it, so the
    result for a payment does not depend on which other payments are present,
    as long as its member's history over `HISTORY_WINDOW` is.
    """
    n = history.member.size
    out = np.zeros((n, len(FEATURES)), dtype=np.float64)
    if n == 0:
        return out
    _, member_code = np.unique(history.member.astype(str), return_inverse=True)
    epoch = min(history.created_at)
    micros = np.fromiter(
        ((t - epoch) // dt.timedelta(microseconds=1) for t in history.created_at), dtype=np.int64, count=n
    )
    millis = micros // 1000
    if millis.max() >= (1 << _TIME_BITS) - CHANGE_WINDOW_SEC * _MS:
        raise ValueError("history spans more than 34 years")
    key = (member_code.astype(np.int64) << _TIME_BITS) + millis
    order = np.lexsort((history.order, micros, key))  # by member, time (to the µs), then id
    key_s, millis_s, code_s = key[order], millis[order], member_code[order]

    same_member_as_prev = np.zeros(n, dtype=bool)
    same_member_as_prev[1:] = code_s[1:] == code_s[:-1]

    since = np.full(n, float(TIME_SINCE_LAST_CAP_SEC))
    gap = (millis_s[1:] - millis_s[:-1]) / _MS
    since[1:] = np.where(same_member_as_prev[1:], np.minimum(gap, TIME_SINCE_LAST_CAP_SEC), since[1:])

    def window_count(flags: np.ndarray, seconds: int) -> np.ndarray:
        # Rows of the same member in [t - seconds, t] that are flagged, up to this row.
        cumulative = np.cumsum(flags, dtype=np.int64)
        start = np.searchsorted(key_s, key_s - seconds * _MS, side="left")
        before = np.where(start > 0, cumulative[np.maximum(start - 1, 0)], 0)
        return (cumulative - before).astype(np.float64)

    def changes(values: np.ndarray) -> np.ndarray:
        # Compare with the member's last non-blank value: a blank is unknown, not a switch.
        v = values[order]
        known = v != ""
        last_known = np.maximum.accumulate(np.where(known, np.arange(n), -1))
        previous = np.r_[-1, last_known[:-1]]
        has_previous = (previous >= 0) & (code_s[np.maximum(previous, 0)] == code_s)
        return known & has_previous & (v != v[np.maximum(previous, 0)])

    # Keys of one member never reach into another's range (the member code sits
    # in the high bits), so searchsorted stays within the member.
    sorted_features = np.column_stack(
        [
            history.amount_sats[order].astype(np.float64),
            since,
            window_count(history.is_invoice[order], INVOICE_WINDOW_SEC),
            window_count(changes(history.device), CHANGE_WINDOW_SEC),
            window_count(changes(history.location), CHANGE_WINDOW_SEC),
        ]
    )
    out[order] = sorted_features
    return out
