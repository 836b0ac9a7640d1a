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
from dataclasses import dataclass, field, fields

import numpy as np
from django.utils.translation import gettext_lazy as _

FEATURES = ["amount_sats", "time_since_last_sec", "invoices_last_min", "device_changes", "location_changes"]
# The member's own baseline (fraud.member_context computes it): its columns, and what each means in French and
# English (the rule editor shows both: fraud.rules_engine.NAMES reads them by these names too).
CONTEXT_DOCS: dict[str, dict] = {
    "amount_z_90d": {
        "fr": _("Écart du montant aux montants habituels du membre sur 90 jours (en écarts-types des logarithmes)."),
        "en": "How far the amount is from the member's usual amounts over 90 days (standard deviations of the logs).",
    },
    "member_payments_90d": {
        "fr": _("Paiements du membre dans les 90 jours précédents."),
        "en": "The member's payments in the 90 days before.",
    },
    "invoice_rate_hour_90d": {
        "fr": _("Factures du membre par jour à cette heure-ci, sur 90 jours (heure de Dakar)."),
        "en": "The member's invoices per day at this hour, over 90 days (Dakar time).",
    },
    "device_seen_days": {
        "fr": _("Jours depuis la première apparition de cet appareil pour le membre (0 : nouveau)."),
        "en": "Days since this device was first seen for the member (0: new).",
    },
    "location_seen_days": {
        "fr": _("Jours depuis la première apparition de ce lieu pour le membre (0 : nouveau)."),
        "en": "Days since this place was first seen for the member (0: new).",
    },
    "account_age_days": {
        "fr": _("Ancienneté du membre en jours, depuis son premier paiement (90 jours au plus)."),
        "en": "The member's age in days, since their first payment (at most 90 days).",
    },
    "own_payout_days": {
        "fr": _(
            "Jours jusqu'au versement de la cagnotte à une place de tontine du membre (négatif : avant, "
            "positif : après ; proche de 0 : il touche la cagnotte)."
        ),
        "en": "Days to the pot's payout to one of the member's tontine seats (negative: before, positive: after; "
        "near 0: they collect the pot).",
    },
    "payments_1h": {
        "fr": _("Paiements du membre dans l'heure précédente."),
        "en": "The member's payments in the hour before.",
    },
    "sats_1h": {
        "fr": _("Sats des paiements du membre dans l'heure précédente."),
        "en": "Sats of the member's payments in the hour before.",
    },
    "payments_24h": {
        "fr": _("Paiements du membre dans les 24 heures précédentes."),
        "en": "The member's payments in the 24 hours before.",
    },
    "sats_24h": {
        "fr": _("Sats des paiements du membre dans les 24 heures précédentes."),
        "en": "Sats of the member's payments in the 24 hours before.",
    },
    "amount_median_90d": {
        "fr": _("Montant habituel du membre sur 90 jours, en sats (médiane estimée)."),
        "en": "The member's usual amount over 90 days, in sats (estimated median).",
    },
    "amount_p95_90d": {
        "fr": _("Montant élevé du membre sur 90 jours, en sats (95e centile estimé)."),
        "en": "The member's high amount over 90 days, in sats (estimated 95th percentile).",
    },
    "credit_score": {
        "fr": _(
            "Score de crédit actuel du membre, de 0 à 1 (bandes : A dès 0,90, B dès 0,80, C dès 0,65, D dès 0,50, "
            "E en dessous)."
        ),
        "en": "The member's current credit score, 0 to 1 (bands: A from 0.90, B from 0.80, C from 0.65, D from 0.50, "
        "E below).",
    },
}
CONTEXT = tuple(CONTEXT_DOCS)
# The key of a check's row that carries its member baseline (an array of CONTEXT values) to the model and rules.
CONTEXT_KEY = "_member_context"
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
_UNIX_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
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
    if n == 0:
        return np.zeros((0, len(FEATURES)), dtype=np.float64)
    _, member_code = np.unique(history.member.astype(str), return_inverse=True)
    # Microseconds since the Unix epoch, as the backtest reads them: the same clock gives the same features.
    micros = np.fromiter(
        ((t - _UNIX_EPOCH) // dt.timedelta(microseconds=1) for t in history.created_at), dtype=np.int64, count=n
    )
    return features_from_columns(
        member=member_code,
        micros=micros,
        is_invoice=history.is_invoice,
        device=history.device,
        location=history.location,
        amount_sats=history.amount_sats,
        order=history.order,
    )


def features_from_columns(
    *,
    member: np.ndarray,
    micros: np.ndarray,
    is_invoice: np.ndarray,
    device: np.ndarray,
    location: np.ndarray,
    amount_sats: np.ndarray,
    order: np.ndarray,
    blank="",
) -> np.ndarray:
    """`features_from_history` on plain columns: the five features (n, 5) of every row, in the given order.

    `member`: an integer code per member (below 2**23); `micros`: int64
    microseconds from any fixed origin; `device` and `location`: values or
    integer codes, `blank` meaning unknown; `order`: the tie-breaker between
    rows of one member at the same microsecond (str(id); only read for ties).
    """
    n = member.size
    out = np.zeros((n, len(FEATURES)), dtype=np.float64)
    if n == 0:
        return out
    member_code = np.asarray(member, dtype=np.int64)
    micros = np.asarray(micros, dtype=np.int64)
    # Whole milliseconds of the clock, then moved to start at 0: the floor must not depend on which rows
    # came with this one (a backtest chunk and a stored payment's check read different histories).
    millis = micros // 1000
    millis = millis - millis.min()
    micros = micros - micros.min()
    if millis.max() >= (1 << _TIME_BITS) - CHANGE_WINDOW_SEC * _MS:
        raise ValueError("history spans more than 34 years")
    key = (member_code << _TIME_BITS) + millis
    order_s = _sorted_order(member_code, micros, key, order)  # by member, time (to the µs), then id
    key_s, millis_s, code_s = key[order_s], millis[order_s], member_code[order_s]

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
        v = values[order_s]
        known = v != blank
        last_known = np.maximum.accumulate(np.where(known, np.arange(n), -1))
        previous = np.r_[-1, last_known[:-1]]
        has_previous = (previous >= 0) & (code_s[np.maximum(previous, 0)] == code_s)
        return known & has_previous & (v != v[np.maximum(previous, 0)])

    # Keys of one member never reach into another's range (the member code sits
    # in the high bits), so searchsorted stays within the member.
    sorted_features = np.column_stack(
        [
            np.asarray(amount_sats)[order_s].astype(np.float64),
            since,
            window_count(np.asarray(is_invoice, dtype=bool)[order_s], INVOICE_WINDOW_SEC),
            window_count(changes(device), CHANGE_WINDOW_SEC),
            window_count(changes(location), CHANGE_WINDOW_SEC),
        ]
    )
    out[order_s] = sorted_features
    return out


def sorted_by_member_time(member_code: np.ndarray, micros: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Indices sorting rows by member, microsecond, then `order` (read only for ties)."""
    return _sorted_order(member_code, micros, np.asarray(member_code, dtype=np.int64), order)


def _sorted_order(member_code: np.ndarray, micros: np.ndarray, key: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Indices sorting rows by member, microsecond, then `order`: integer sorts, `order` read only for ties."""
    sorted_idx = np.lexsort((micros, key))
    code_s, micros_s = member_code[sorted_idx], micros[sorted_idx]
    tie = (code_s[1:] == code_s[:-1]) & (micros_s[1:] == micros_s[:-1])
    if not tie.any():
        return sorted_idx
    # Runs of rows of one member at one microsecond: sort each run by `order` (stable, as lexsort).
    starts = np.flatnonzero(tie & ~np.r_[False, tie[:-1]])
    for start in starts.tolist():
        end = start + 1
        while end < tie.size and tie[end]:
            end += 1
        run = sorted_idx[start : end + 1]
        sorted_idx[start : end + 1] = run[sorted(range(run.size), key=lambda i: order[run[i]])]
    return sorted_idx


@dataclass
class HistoryCodes:
    """The values behind `HistoryColumns`' integer codes, shared by every block of one read.

    `members[code]` is a member id, `devices[code]` and `locations[code]` a
    stored value; code 0 of devices and locations is the blank (unknown) one.
    """

    members: list = field(default_factory=list)
    devices: list = field(default_factory=lambda: [""])
    locations: list = field(default_factory=lambda: [""])
    _index: dict = field(default_factory=lambda: {"members": {}, "devices": {"": 0}, "locations": {"": 0}})

    def encode(self, kind: str, values) -> np.ndarray:
        """Integer codes of `values` (new ones get the next codes)."""
        index, decoded = self._index[kind], getattr(self, kind)
        get = index.get
        out = []
        for value in values:
            code = get(value)
            if code is None:
                code = index[value] = len(decoded)
                decoded.append(value)
            out.append(code)
        return np.array(out, dtype=np.int64)


@dataclass(frozen=True)
class HistoryColumns:
    """Stored payments as numpy columns in (created_at, id) order, members, devices and places as codes.

    The backtest's form of a history (`fraud.selectors.payment_history_blocks`):
    no Python object a row but the ids.
    """

    ids: np.ndarray  # payment ids as integers (object: `uuid.UUID(int=...)` gives the id)
    member: np.ndarray  # int64 member codes (HistoryCodes.members)
    micros: np.ndarray  # int64 microseconds since the Unix epoch
    is_invoice: np.ndarray  # bool
    device: np.ndarray  # int64 codes, 0 blank (HistoryCodes.devices)
    location: np.ndarray  # int64 codes, 0 blank (HistoryCodes.locations)
    amount_sats: np.ndarray  # int64

    @classmethod
    def empty(cls) -> HistoryColumns:
        ints = np.zeros(0, dtype=np.int64)
        return cls(np.zeros(0, dtype=object), ints, ints, np.zeros(0, dtype=bool), ints, ints, ints)

    def __len__(self) -> int:
        return self.micros.size

    def __getitem__(self, rows) -> HistoryColumns:
        return HistoryColumns(*(getattr(self, f.name)[rows] for f in fields(self)))

    def concat(self, other: HistoryColumns) -> HistoryColumns:
        return HistoryColumns.joined([self, other])

    @classmethod
    def joined(cls, parts: list[HistoryColumns]) -> HistoryColumns:
        """The rows of `parts`, one after another (one copy, however many parts)."""
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)))

    def start_at(self, micros: int) -> int:
        """The position of the first row at or after `micros` (rows are in time order)."""
        return int(np.searchsorted(self.micros, micros, side="left"))

    def features(self) -> np.ndarray:
        """The five features (n, 5) of every row, each from the rows of its member at or before it."""
        return features_from_columns(
            member=self.member,
            micros=self.micros,
            is_invoice=self.is_invoice,
            device=self.device,
            location=self.location,
            amount_sats=self.amount_sats,
            order=self.ids,
            blank=0,
        )
