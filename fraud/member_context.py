"""A member's own baseline, from their stored payments of the last 90 days (issue 16).

The five features and the forest compare a payment with the whole
population; these columns compare it with the member's own past, so a busy
vendor's hundredth small invoice of the morning is ordinary *for them*. Each
one looks at the member's payments in the `CONTEXT_DAYS` days strictly
before this payment (the payment itself never counts):

- `amount_z_90d`: how far the amount is from the member's usual amounts:
  (ln amount - mean) / max(std, `MIN_LOG_STD`) over the ln of their previous
  amounts; unknown (NaN) with fewer than `MIN_BASELINE` previous payments;
- `member_payments_90d`: how many previous payments there are (how much the
  baseline can be trusted);
- `invoice_rate_hour_90d`: the member's invoices per day created in the same
  hour of the day (Dakar time), the member's usual invoice rate at this hour;
- `device_seen_days`, `location_seen_days`: days since this device (this
  place) was first seen for the member within the window; 0 when it is new;
  unknown (NaN) when the payment names none;
- `account_age_days`: days since the member's first payment within the
  window (at most `CONTEXT_DAYS`); 0 for a first payment.

Unknown members (a check whose `user_id` is not a stored member) get NaN in
every column: the population's default, which the supervised layer learned
(a quarter of its training rows have device and place masked, as checks
through the API that name neither). The answer says which applied
(`member_context`: `member_history` or `population_defaults`).

Two forms, one meaning: `context_from_columns` (numpy, every stored payment
at once: training and backtests) and `member_context_at` (one ORM aggregate
query over the member's window: the check's hot path, its cost independent of
how many payments the member has). A test checks they agree on random
histories.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
from django.db.models import Count, F, FloatField, Min, Q, Sum
from django.db.models.functions import ExtractHour, Ln
from django.utils import timezone

from fraud.features import sorted_by_member_time
from sunusav.models import Payment

CONTEXT = (
    "amount_z_90d",
    "member_payments_90d",
    "invoice_rate_hour_90d",
    "device_seen_days",
    "location_seen_days",
    "account_age_days",
)
CONTEXT_DAYS = 90
MIN_BASELINE = 3
MIN_LOG_STD = 0.25
_DAY_US = 86_400 * 1_000_000
_HOUR_US = 3_600 * 1_000_000
_TIME_BITS = 40  # milliseconds in a key's low bits (as fraud.features)
# The key of a check's row that carries its member baseline (an array of CONTEXT values) to the model.
CONTEXT_KEY = "_member_context"
SOURCE_HISTORY = "member_history"
SOURCE_DEFAULTS = "population_defaults"


def unknown_context(n: int = 1) -> np.ndarray:
    """The population defaults: every column unknown."""
    return np.full((n, len(CONTEXT)), np.nan)


def _hour_of_day(micros: np.ndarray) -> np.ndarray:
    """Hour of the day in the site's time zone (a fixed offset: Dakar keeps UTC all year)."""
    offset = timezone.get_current_timezone().utcoffset(dt.datetime(2026, 1, 1)) or dt.timedelta(0)
    offset_us = offset // dt.timedelta(microseconds=1)
    return ((micros + offset_us) // _HOUR_US) % 24


def context_from_columns(
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
    """The context columns (n, len(CONTEXT)) of every row, in the given order.

    `micros`: int64 microseconds since the Unix epoch (the hour of the day
    reads them); the other arguments as `fraud.features.features_from_columns`.
    Each row sees the rows of the same member strictly before it in
    (time, `order`) order, at most `CONTEXT_DAYS` days earlier.
    """
    n = member.size
    out = np.full((n, len(CONTEXT)), np.nan)
    if n == 0:
        return out
    member = np.asarray(member, dtype=np.int64)
    micros = np.asarray(micros, dtype=np.int64)
    s = sorted_by_member_time(member, micros, order)
    code_s, us_s = member[s], micros[s]
    millis_s = (us_s - us_s.min()) // 1000
    if millis_s.max() >= 1 << _TIME_BITS:
        raise ValueError("history spans more than 34 years")
    position = np.arange(n)

    def window_start(group: np.ndarray, index: np.ndarray) -> np.ndarray:
        # For rows `index` (sorted by group, then time), the position in `index` of the first row of the same
        # group at most CONTEXT_DAYS earlier: the group's dense code sits in the key's high bits.
        _, dense = np.unique(group, return_inverse=True)
        key = (dense.astype(np.int64) << _TIME_BITS) + millis_s[index]
        return np.searchsorted(key, key - CONTEXT_DAYS * 86_400_000, side="left")

    start = window_start(code_s, position)
    previous = (position - start).astype(np.float64)  # the member's rows strictly before, in the window

    log_amount = np.log(np.maximum(np.asarray(amount_sats, dtype=np.float64)[s], 1.0))
    c1 = np.r_[0.0, np.cumsum(log_amount)]
    c2 = np.r_[0.0, np.cumsum(log_amount**2)]
    total, squares = c1[position] - c1[start], c2[position] - c2[start]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / previous
        std = np.sqrt(np.maximum(squares / previous - mean**2, 0.0))
        z = (log_amount - mean) / np.maximum(std, MIN_LOG_STD)
    z[previous < MIN_BASELINE] = np.nan
    account_age = (us_s - us_s[start]) / _DAY_US

    # The member's invoices at this hour of the day: rows grouped by (member, hour), in time order inside.
    hour = _hour_of_day(us_s)
    invoices = np.asarray(is_invoice, dtype=bool)[s]
    by_hour = np.lexsort((position, hour, code_s))
    h_start = window_start(code_s[by_hour] * 24 + hour[by_hour], by_hour)
    counted = np.r_[0, np.cumsum(invoices[by_hour])]
    rate = np.empty(n)
    rate[by_hour] = (counted[position] - counted[h_start]) / CONTEXT_DAYS

    def seen_days(values: np.ndarray) -> np.ndarray:
        # Rows grouped by (member, value), in time order inside: days since the group's first row in the window.
        v = np.asarray(values)[s]
        _, value_code = np.unique(v.astype(str), return_inverse=True)
        by_value = np.lexsort((position, value_code, code_s))
        g_start = window_start(code_s[by_value] * (int(value_code.max()) + 1) + value_code[by_value], by_value)
        t = us_s[by_value]
        days = np.empty(n)
        days[by_value] = (t - t[g_start]) / _DAY_US
        days[v == blank] = np.nan
        return days

    out[s] = np.column_stack([z, previous, rate, seen_days(device), seen_days(location), account_age])
    return out


def context_from_history(history, micros: np.ndarray) -> np.ndarray:
    """`context_from_columns` of a `fraud.features.History` (`micros`: its epoch microseconds)."""
    _, member_code = np.unique(history.member.astype(str), return_inverse=True)
    return context_from_columns(
        member=member_code,
        micros=micros,
        is_invoice=history.is_invoice,
        device=history.device,
        location=history.location,
        amount_sats=history.amount_sats,
        order=history.order,
    )


def member_context_at(
    *, member_id, at: dt.datetime, amount_sats: float, device: str = "", location: str = "", exclude=None
) -> np.ndarray:
    """The context columns (len(CONTEXT),) of a payment of `member_id` at `at`, from one aggregate query.

    The member's payments in [at - CONTEXT_DAYS, at) (`exclude`: a stored
    payment's own id, left out); blank `device` / `location`: unknown (NaN).
    """
    local_hour = int(_hour_of_day(np.array([int(at.timestamp() * 1_000_000)]))[0])
    window = Payment.objects.filter(member_id=member_id, created_at__gte=at - dt.timedelta(days=CONTEXT_DAYS))
    window = window.filter(created_at__lt=at)
    if exclude is not None:
        window = window.exclude(pk=exclude)
    log_amount = Ln(F("amount_sats"), output_field=FloatField())
    aggregates = {
        "n": Count("pk"),
        "s1": Sum(log_amount),
        "s2": Sum(log_amount * log_amount),
        "first": Min("created_at"),
        "invoices": Count("pk", filter=Q(kind=Payment.Kind.INVOICE, hour=local_hour)),
        "device_first": Min("created_at", filter=Q(device_id=device)) if device else Min("created_at"),
        "location_first": Min("created_at", filter=Q(location=location)) if location else Min("created_at"),
    }
    row = window.annotate(hour=ExtractHour("created_at", tzinfo=timezone.get_current_timezone())).aggregate(
        **aggregates
    )
    n = int(row["n"])
    out = np.full(len(CONTEXT), np.nan)
    out[1] = float(n)
    if n >= MIN_BASELINE:
        mean = row["s1"] / n
        std = math.sqrt(max(row["s2"] / n - mean * mean, 0.0))
        out[0] = (math.log(max(float(amount_sats), 1.0)) - mean) / max(std, MIN_LOG_STD)
    out[2] = int(row["invoices"]) / CONTEXT_DAYS

    def days_since(first) -> float:
        return 0.0 if first is None else (at - first) / dt.timedelta(days=1)

    out[3] = days_since(row["device_first"]) if device else np.nan
    out[4] = days_since(row["location_first"]) if location else np.nan
    out[5] = days_since(row["first"])
    return out
