"""The six credit features of the seed, computed set-based from the database.

Definitions (also written into every model card, see `FEATURE_DEFINITIONS`),
all "as of" a moment `as_of` (now for scoring, the loan's `offered_at` for
training, so nothing that happened after the decision leaks into it):

- window: contributions *due* and mobile-money transfers *made* in the
  `WINDOW_DAYS` (365) days before `as_of`.
- `tontine_contributions`: sats paid (before `as_of`) for contributions due in
  the window.
- `contributions_count`: number of those paid contributions.
- `punctuality_rate`: among contributions due in the window whose grace period
  (`GRACE_DAYS` = 2 days after `due_at`) has ended by `as_of`, the share paid
  within the grace period; a contribution still unpaid after its grace is late.
  0 when nothing has fallen due yet (no track record is not a good record).
- `avg_payment_delay_days`: over the same contributions, the mean of
  max(0, paid − due) in days, an unpaid one counting until `as_of`; each delay
  is capped at `DELAY_CAP_DAYS` (60) so one old default does not swamp a year.
- `mobile_tx_volume`: XOF moved (in and out) by mobile money in the window.
- `community_endorsements`: endorsements received before `as_of` (no window:
  a vouch stands until withdrawn), net of the endorsement graph's defaults
  (see `credit.endorsements`): a vouch from a member *in default* does not
  count, and each member in default the member vouched for takes one away;
  never below 0. A member is in default at `as_of` when one of their loans has
  status `defaulted` with its default date (`closed_at`, else `due_at`, else
  `offered_at`) in the `WINDOW_DAYS` before `as_of`: a year of good standing
  clears it, and a default after `as_of` never leaks into training rows.

Each chunk costs three aggregate queries whatever its size: the targets
(member, as_of) go to the database as one parameter (a JSON array on SQLite,
arrays unnested on PostgreSQL) and are joined to the fact tables.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

FEATURES: tuple[str, ...] = (
    "tontine_contributions",
    "punctuality_rate",
    "contributions_count",
    "mobile_tx_volume",
    "avg_payment_delay_days",
    "community_endorsements",
)
# What the pages call each feature (French; English in locale/en): never the code itself.
FEATURE_LABELS = {
    "tontine_contributions": _("cotisations aux tontines (sats, 12 mois)"),
    "punctuality_rate": _("taux de ponctualité (0 à 1)"),
    "contributions_count": _("nombre de cotisations payées"),
    "mobile_tx_volume": _("volume mobile money (XOF, 12 mois)"),
    "avg_payment_delay_days": _("retard moyen de paiement (jours)"),
    "community_endorsements": _("recommandations reçues"),
}
WINDOW_DAYS = 365
GRACE_DAYS = 2
DELAY_CAP_DAYS = 60

FEATURE_DEFINITIONS: dict[str, str] = {
    "tontine_contributions": f"Sats paid before as_of for contributions due in the {WINDOW_DAYS} days before as_of.",
    "punctuality_rate": (
        f"Share of contributions due in the window whose {GRACE_DAYS}-day grace ended before as_of that were paid "
        "within the grace; unpaid after grace = late; 0 when none has fallen due."
    ),
    "contributions_count": "Number of contributions due in the window and paid before as_of.",
    "mobile_tx_volume": f"XOF moved by mobile money (in + out) in the {WINDOW_DAYS} days before as_of.",
    "avg_payment_delay_days": (
        f"Mean of max(0, paid - due) in days over contributions whose grace ended, unpaid counted until as_of, "
        f"each capped at {DELAY_CAP_DAYS} days; 0 when none has fallen due."
    ),
    "community_endorsements": (
        "Endorsements received before as_of (no window) from members not in default, minus members in default "
        f"the member endorsed, floored at 0; in default = a loan defaulted in the {WINDOW_DAYS} days before as_of "
        "(default date: closed_at, else due_at, else offered_at)."
    ),
}


@dataclass(frozen=True)
class Target:
    """One row to compute: a member as of a moment (`key` identifies the row)."""

    key: int
    member_id: uuid.UUID
    as_of: datetime


def _seconds_between(later: str, earlier: str) -> str:
    if connection.vendor == "postgresql":
        return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"
    return f"((julianday({later}) - julianday({earlier})) * 86400.0)"


def _clamp(expr: str, low: float, high: float) -> str:
    if connection.vendor == "postgresql":
        return f"LEAST(GREATEST({expr}, {low}), {high})"
    return f"min(max({expr}, {low}), {high})"


def _targets_cte(targets: Sequence[Target]) -> tuple[str, list]:
    """Return a CTE `t(tid, member_id, start_at, grace_at, as_of)` and its parameters."""
    window, grace = timedelta(days=WINDOW_DAYS), timedelta(days=GRACE_DAYS)
    ops = connection.ops
    if connection.vendor == "postgresql":
        sql = (
            "t(tid, member_id, start_at, grace_at, as_of) AS (SELECT * FROM unnest("
            "%s::bigint[], %s::uuid[], %s::timestamptz[], %s::timestamptz[], %s::timestamptz[]))"
        )
        params = [
            [t.key for t in targets],
            [t.member_id for t in targets],
            [t.as_of - window for t in targets],
            [t.as_of - grace for t in targets],
            [t.as_of for t in targets],
        ]
        return sql, params
    # SQLite stores UUIDs as 32 hex digits and datetimes as naive UTC text.
    rows = [
        [
            t.key,
            t.member_id.hex,
            ops.adapt_datetimefield_value(t.as_of - window),
            ops.adapt_datetimefield_value(t.as_of - grace),
            ops.adapt_datetimefield_value(t.as_of),
        ]
        for t in targets
    ]
    sql = (
        "t(tid, member_id, start_at, grace_at, as_of) AS (SELECT json_extract(value, '$[0]'), "
        "json_extract(value, '$[1]'), json_extract(value, '$[2]'), json_extract(value, '$[3]'), "
        "json_extract(value, '$[4]') FROM json_each(%s))"
    )
    return sql, [json.dumps(rows)]


def _contribution_sql() -> str:
    paid_in_time = "(c.paid_at IS NOT NULL AND c.paid_at < t.as_of)"
    settled_at = f"(CASE WHEN {paid_in_time} THEN c.paid_at ELSE t.as_of END)"
    delay_days = _clamp(f"{_seconds_between(settled_at, 'c.due_at')} / 86400.0", 0, DELAY_CAP_DAYS)
    on_time = f"{paid_in_time} AND {_seconds_between('c.paid_at', 'c.due_at')} <= {GRACE_DAYS * 86400}"
    return f"""
        SELECT t.tid,
               COALESCE(SUM(CASE WHEN {paid_in_time} THEN c.amount_sats END), 0),
               COUNT(CASE WHEN {paid_in_time} THEN 1 END),
               COUNT(CASE WHEN c.due_at < t.grace_at THEN 1 END),
               COUNT(CASE WHEN c.due_at < t.grace_at AND {on_time} THEN 1 END),
               COALESCE(SUM(CASE WHEN c.due_at < t.grace_at THEN {delay_days} END), 0)
        FROM t JOIN contributions c
          ON c.member_id = t.member_id AND c.due_at >= t.start_at AND c.due_at < t.as_of
        GROUP BY t.tid
    """


def _in_default(member_column: str) -> str:
    """SQL condition: the member in `member_column` has a loan defaulted in the window before t.as_of."""
    default_at = "COALESCE(l.closed_at, l.due_at, l.offered_at)"
    # SQLite would otherwise scan every defaulted loan (status index) for each endorsement;
    # unary + keeps it on the member's loans (loan_member_offered_idx).
    status = "+l.status" if connection.vendor == "sqlite" else "l.status"
    return (
        f"EXISTS (SELECT 1 FROM loans l WHERE l.member_id = {member_column} AND {status} = 'defaulted' "
        f"AND {default_at} < t.as_of AND {default_at} >= t.start_at)"
    )


def _endorsement_sql() -> str:
    """Per target: vouches received from members not in default, and members in default it vouched for."""
    return f"""
        SELECT x.tid, SUM(x.good), SUM(x.bad)
        FROM (
            SELECT t.tid AS tid, 1 AS good, 0 AS bad
            FROM t JOIN endorsements e ON e.endorsee_id = t.member_id AND e.created_at < t.as_of
            WHERE NOT {_in_default("e.endorser_id")}
            UNION ALL
            SELECT t.tid AS tid, 0 AS good, 1 AS bad
            FROM t JOIN endorsements e ON e.endorser_id = t.member_id AND e.created_at < t.as_of
            WHERE {_in_default("e.endorsee_id")}
        ) x
        GROUP BY x.tid
    """


def features_for_targets(targets: Sequence[Target]) -> np.ndarray:
    """Return a float64 matrix (len(targets) x 6, columns in `FEATURES` order)."""
    matrix = np.zeros((len(targets), len(FEATURES)), dtype=np.float64)
    if not targets:
        return matrix
    row_of = {t.key: i for i, t in enumerate(targets)}
    if len(row_of) != len(targets):
        raise ValueError("target keys must be unique")
    cte, params = _targets_cte(targets)
    mobile_sql = """
        SELECT t.tid, COALESCE(SUM(m.amount_xof), 0)
        FROM t JOIN mobile_money_transfers m
          ON m.member_id = t.member_id AND m.created_at >= t.start_at AND m.created_at < t.as_of
        GROUP BY t.tid
    """
    endorsement_sql = _endorsement_sql()
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {cte} {_contribution_sql()}", params)
        for tid, sats, paid, due, on_time, delay in cursor.fetchall():
            i = row_of[int(tid)]
            matrix[i, 0] = float(sats)
            matrix[i, 2] = paid
            if due:
                matrix[i, 1] = on_time / due
                matrix[i, 4] = float(delay) / due
        cursor.execute(f"WITH {cte} {mobile_sql}", params)
        for tid, volume in cursor.fetchall():
            matrix[row_of[int(tid)], 3] = float(volume)
        cursor.execute(f"WITH {cte} {endorsement_sql}", params)
        for tid, good_vouches, defaulters_vouched in cursor.fetchall():
            matrix[row_of[int(tid)], 5] = max(0, int(good_vouches or 0) - int(defaulters_vouched or 0))
    return matrix


def features_for_members(member_ids: Iterable[uuid.UUID | str], *, as_of: datetime | None = None) -> np.ndarray:
    """Return the feature matrix of members as of one moment (now by default), rows in input order."""
    as_of = as_of or timezone.now()
    targets = [
        Target(key=i, member_id=m if isinstance(m, uuid.UUID) else uuid.UUID(str(m)), as_of=as_of)
        for i, m in enumerate(member_ids)
    ]
    return features_for_targets(targets)


def features_as_dict(row: np.ndarray) -> dict[str, float]:
    """Return one feature row as a `{name: value}` dict."""
    return {name: float(value) for name, value in zip(FEATURES, row, strict=True)}
