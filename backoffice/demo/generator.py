"""A realistic, reproducible SunuSàv world for demos, training and benchmarks.

Every member draws a hidden reliability r in (0, 1) (Beta(5, 1.6), never
stored). It drives, with noise:
- contributions: on time with probability r, else late (two thirds) or missed;
  lateness grows as r falls;
- mobile-money activity: more and larger transfers for reliable members;
- endorsements received: weighted by r^3;
- loan outcomes: logit P(default) = -4.8 + 10 (1 - r) + N(0, 0.4), so a model
  of the six credit features can learn it, but not perfectly (knowing r itself
  would give an AUC of about 0.85; the features only estimate r).

Payments follow daily rhythms (quiet nights, peaks at midday and evening)
around each member's typical amount, on one or two usual devices at home,
with some legitimate oddities (a new phone, a Tabaski-sized payment, travel).
Four fraud patterns are injected into about 2 % of payments, labelled in
`is_fraud_label` / `fraud_pattern` for evaluation only:
account takeover, invoice bursts, rapid repeats and structuring.

The same seed and anchor give the same world, ids included. Rows go in with
`executemany` in one transaction: 100,000 members take about a minute on SQLite.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from django.db import connection, transaction

from backoffice.demo import names
from sunusav.hashing import phone_hash
from sunusav.models import Region

DAY = 86400.0
FRAUD_PATTERNS = ("account_takeover", "invoice_burst", "rapid_repeat", "structuring")
STRUCTURING_THRESHOLD_SATS = 100_000
REGIONS = [r.value for r in Region]
REGION_WEIGHTS = np.array([30, 8, 4, 3, 6, 1, 3, 4, 2, 6, 2, 3, 18, 5], dtype=float)
WORLD_TABLES = [
    "notifications_outbox",
    "ai_alerts",
    "ai_metrics",
    "loans",
    "payments",
    "endorsements",
    "mobile_money_transfers",
    "contributions",
    "tontine_memberships",
    "tontines",
    "users",
]


@dataclass
class Summary:
    members: int = 0
    tontines: int = 0
    contributions: int = 0
    late_share: float = 0.0
    missed_share: float = 0.0
    transfers: int = 0
    endorsements: int = 0
    loans: int = 0
    default_rate: float = 0.0
    payments: int = 0
    fraud_rate: float = 0.0
    fraud_by_pattern: dict = field(default_factory=dict)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        patterns = ", ".join(f"{k} {v}" for k, v in sorted(self.fraud_by_pattern.items()))
        return [
            f"members {self.members}, tontines {self.tontines}",
            f"contributions {self.contributions} (late {self.late_share:.1%}, missed {self.missed_share:.1%})",
            f"mobile-money transfers {self.transfers}, endorsements {self.endorsements}",
            f"closed loans {self.loans} (default rate {self.default_rate:.1%})",
            f"payments {self.payments} (fraud {self.fraud_rate:.2%}: {patterns})",
            f"built in {self.seconds:.1f} s",
        ]


class _Writer:
    """Adapt ids and times for the connected database and insert rows in bulk."""

    def __init__(self, progress: Callable[[str], None]):
        self.sqlite = connection.vendor == "sqlite"
        self.progress = progress

    def uuids(self, raw: np.ndarray) -> list:
        ids = [uuid.UUID(bytes=b.tobytes(), version=4) for b in raw]
        return [u.hex for u in ids] if self.sqlite else ids

    def times(self, epoch: np.ndarray) -> list:
        if self.sqlite:
            stamps = np.datetime_as_string((np.asarray(epoch) * 1e6).astype("datetime64[us]"), unit="us")
            return [s.replace("T", " ") for s in stamps]
        return [datetime.fromtimestamp(float(t), UTC) for t in epoch]

    def optional_times(self, epoch: np.ndarray) -> list:
        adapted = self.times(np.nan_to_num(epoch, nan=0.0))
        return [None if np.isnan(t) else a for t, a in zip(epoch, adapted, strict=True)]

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[tuple], chunk: int = 20_000) -> None:
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
        with connection.cursor() as cursor:
            for start in range(0, len(rows), chunk):
                cursor.executemany(sql, rows[start : start + chunk])
        self.progress(f"  {table}: {len(rows)} rows")


def world_exists() -> bool:
    """Return True when the database already holds members."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM users LIMIT 1")
        return cursor.fetchone() is not None


def world_flush() -> None:
    """Delete the whole world (members and everything hanging off them)."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            # One foreign-key check at commit instead of one per deleted row (~10x faster).
            cursor.execute("PRAGMA defer_foreign_keys = ON")
        for table in WORLD_TABLES:
            cursor.execute(f"DELETE FROM {table}")


def _rhythm_hours(rng: np.random.Generator, n: int) -> np.ndarray:
    """Hours of day with quiet nights and peaks at midday and in the evening."""
    weights = np.array([1, 0.5, 0.3, 0.3, 0.5, 1, 3, 5, 6, 6, 7, 8, 10, 10, 8, 7, 7, 8, 10, 11, 10, 7, 4, 2.0])
    hours = rng.choice(24, size=n, p=weights / weights.sum())
    return hours + rng.random(n)


@transaction.atomic
def world_build(
    *, members: int, seed: int, anchor: datetime, progress: Callable[[str], None] = lambda _: None
) -> Summary:
    """Build a world of `members` members whose history ends at `anchor`."""
    started = time.monotonic()
    rng = np.random.default_rng(seed)
    out = _Writer(progress)
    now = anchor.timestamp()
    summary = Summary(members=members)

    # --- Members ------------------------------------------------------------------
    reliability = rng.beta(5.0, 1.6, members)
    member_raw = np.frombuffer(rng.bytes(16 * members), dtype="V16")
    member_ids = out.uuids(member_raw)
    joined = now - rng.uniform(60, 900, members) * DAY
    female = rng.random(members) < 0.55
    first = np.where(
        female,
        np.array(names.FEMALE)[rng.integers(0, len(names.FEMALE), members)],
        np.array(names.MALE)[rng.integers(0, len(names.MALE), members)],
    )
    last = np.array(names.FAMILY)[rng.integers(0, len(names.FAMILY), members)]
    region_idx = rng.choice(len(REGIONS), size=members, p=REGION_WEIGHTS / REGION_WEIGHTS.sum())
    prefixes = np.array(["77", "78", "76", "70", "75"])[rng.integers(0, 5, members)]
    numbers = rng.integers(0, 10_000_000, members)
    phones = [phone_hash(f"+221{p}{n:07d}") for p, n in zip(prefixes, numbers, strict=True)]
    # Two draws can collide on a phone: keep the first member's hash only.
    seen: set[str] = set()
    phones = [None if h in seen or seen.add(h) else h for h in phones]
    out.insert(
        "users",
        ["id", "display_name", "phone_hash", "region", "created_at"],
        list(
            zip(
                member_ids,
                [f"{a} {b}" for a, b in zip(first, last, strict=True)],
                phones,
                [REGIONS[i] for i in region_idx],
                out.times(joined),
                strict=True,
            )
        ),
    )

    # --- Tontines and memberships -----------------------------------------------------
    seats = np.concatenate([rng.permutation(members), rng.choice(members, size=int(members * 0.3))])
    sizes = []
    while sum(sizes) < len(seats):
        sizes.append(int(rng.integers(5, 31)))
    n_tontines = len(sizes)
    weekly = rng.random(n_tontines) < 0.6
    cycle_days = np.where(weekly, 7, 30)
    contribution = np.where(
        weekly,
        np.round(rng.lognormal(np.log(10_000), 0.6, n_tontines), -2),
        np.round(rng.lognormal(np.log(40_000), 0.6, n_tontines), -2),
    ).astype(np.int64)
    contribution = np.maximum(contribution, 1_000)
    tontine_start = now - rng.uniform(30, 540, n_tontines) * DAY
    rounds_total = np.array(sizes)
    rounds_elapsed = np.floor((now - tontine_start) / (cycle_days * DAY)).astype(int)
    completed = rounds_elapsed >= rounds_total
    tontine_raw = np.frombuffer(rng.bytes(16 * n_tontines), dtype="V16")
    tontine_ids = out.uuids(tontine_raw)
    tontine_region = rng.choice(len(REGIONS), size=n_tontines, p=REGION_WEIGHTS / REGION_WEIGHTS.sum())
    out.insert(
        "tontines",
        ["id", "name", "region", "contribution_sats", "cycle", "started_at", "status", "created_at"],
        list(
            zip(
                tontine_ids,
                [f"Natt {names.TONTINE_NAMES[i % len(names.TONTINE_NAMES)]} {i + 1}" for i in range(n_tontines)],
                [REGIONS[i] for i in tontine_region],
                contribution.tolist(),
                ["weekly" if w else "monthly" for w in weekly],
                out.times(tontine_start),
                ["completed" if c else "active" for c in completed],
                out.times(tontine_start - DAY),
                strict=True,
            )
        ),
    )
    membership_rows, seat_tontine, seat_member = [], [], []
    offset = 0
    for t, size in enumerate(sizes):
        chunk = seats[offset : offset + size]
        offset += size
        _, first_idx = np.unique(chunk, return_index=True)
        chunk = chunk[np.sort(first_idx)]
        for position, m in enumerate(chunk, start=1):
            seat_tontine.append(t)
            seat_member.append(int(m))
            membership_rows.append((tontine_ids[t], member_ids[m], position))
    seat_tontine = np.array(seat_tontine)
    seat_member = np.array(seat_member)
    out.insert(
        "tontine_memberships",
        ["tontine_id", "member_id", "position", "joined_at"],
        [(t, m, p, j) for (t, m, p), j in zip(membership_rows, out.times(tontine_start[seat_tontine]), strict=True)],
    )
    summary.tontines = n_tontines

    # --- Contributions: one per seat and round, up to the round in progress -----------
    rounds_due = np.minimum(rounds_elapsed + 1, rounds_total)[seat_tontine]  # incl. the current round
    c_seat = np.repeat(np.arange(len(seat_member)), rounds_due)
    c_round = np.concatenate([np.arange(1, k + 1) for k in rounds_due]) if len(rounds_due) else np.array([], int)
    c_t = seat_tontine[c_seat]
    c_m = seat_member[c_seat]
    due = tontine_start[c_t] + c_round * cycle_days[c_t] * DAY - 2 * DAY
    r = reliability[c_m]
    u = rng.random(len(c_m))
    on_time = u < r
    missed = (~on_time) & (u > r + (1 - r) * 0.67)
    delay = np.where(on_time, -rng.uniform(0, 3, len(c_m)), 2.05 + rng.exponential(2 + 12 * (1 - r)))
    paid = due + delay * DAY
    paid[missed | (paid > now)] = np.nan
    out.insert(
        "contributions",
        ["tontine_id", "member_id", "round_number", "amount_sats", "due_at", "paid_at"],
        list(
            zip(
                [tontine_ids[t] for t in c_t],
                [member_ids[m] for m in c_m],
                c_round.tolist(),
                contribution[c_t].tolist(),
                out.times(due),
                out.optional_times(paid),
                strict=True,
            )
        ),
    )
    fallen_due = due + 2 * DAY < now
    summary.contributions = len(c_m)
    summary.late_share = float((~on_time & ~missed)[fallen_due].mean()) if fallen_due.any() else 0.0
    summary.missed_share = float(missed[fallen_due].mean()) if fallen_due.any() else 0.0

    # --- Mobile money ------------------------------------------------------------------
    n_tx = rng.poisson(3 + 9 * reliability)
    tx_m = np.repeat(np.arange(members), n_tx)
    tx_amount = np.round(rng.lognormal(np.log(4_000 + 25_000 * reliability[tx_m]), 0.7), -1).astype(np.int64)
    tx_amount = np.maximum(tx_amount, 100)
    tx_time = now - rng.uniform(1, 360, len(tx_m)) * DAY
    providers = np.array(["wave", "orange_money", "free_money"])[rng.choice(3, size=len(tx_m), p=[0.55, 0.35, 0.1])]
    out.insert(
        "mobile_money_transfers",
        ["member_id", "provider", "amount_xof", "direction", "created_at"],
        list(
            zip(
                [member_ids[m] for m in tx_m],
                providers.tolist(),
                tx_amount.tolist(),
                np.where(rng.random(len(tx_m)) < 0.5, "in", "out").tolist(),
                out.times(tx_time),
                strict=True,
            )
        ),
    )
    summary.transfers = len(tx_m)

    # --- Endorsements ------------------------------------------------------------------
    n_given = rng.poisson(1.5, members)
    giver = np.repeat(np.arange(members), n_given)
    weights = reliability**3
    receiver = rng.choice(members, size=len(giver), p=weights / weights.sum())
    pairs = {(int(g), int(e)) for g, e in zip(giver, receiver, strict=True) if g != e}
    pairs_sorted = sorted(pairs)
    endorsed_at = now - rng.uniform(1, 600, len(pairs_sorted)) * DAY
    out.insert(
        "endorsements",
        ["endorser_id", "endorsee_id", "created_at"],
        [(member_ids[g], member_ids[e], t) for (g, e), t in zip(pairs_sorted, out.times(endorsed_at), strict=True)],
    )
    summary.endorsements = len(pairs_sorted)

    # --- Loans -------------------------------------------------------------------------
    first_start = np.full(members, np.inf)
    np.minimum.at(first_start, seat_member, tontine_start[seat_tontine])
    has_loans = (rng.random(members) < 0.45) & (first_start < now - 70 * DAY)
    n_loans = np.where(has_loans, rng.integers(1, 4, members), 0)
    l_m = np.repeat(np.arange(members), n_loans)
    earliest = first_start[l_m] + 56 * DAY
    offered = earliest + rng.random(len(l_m)) * (now - 5 * DAY - earliest)
    loan_due = offered + 60 * DAY
    logit = -4.8 + 10.0 * (1 - reliability[l_m]) + rng.normal(0, 0.4, len(l_m))
    p_default = 1 / (1 + np.exp(-logit))
    defaulted = rng.random(len(l_m)) < p_default
    closed = loan_due < now
    recent_status = np.array(["offered", "accepted", "declined"])[rng.choice(3, size=len(l_m), p=[0.3, 0.55, 0.15])]
    status = np.where(closed, np.where(defaulted, "defaulted", "repaid"), recent_status)
    closed_at = np.where(closed, loan_due + rng.uniform(-20, 10, len(l_m)) * DAY, np.nan)
    closed_at = np.where(closed & defaulted, loan_due + 30 * DAY, closed_at)
    closed_at[closed_at > now] = np.nan
    loan_raw = np.frombuffer(rng.bytes(16 * len(l_m)), dtype="V16")
    amounts = (np.round(rng.lognormal(np.log(40_000), 0.6, len(l_m)), -3)).astype(np.int64)
    out.insert(
        "loans",
        ["id", "member_id", "offered_amount_xof", "status", "offered_at", "due_at", "closed_at"],
        list(
            zip(
                out.uuids(loan_raw),
                [member_ids[m] for m in l_m],
                np.maximum(amounts, 5_000).tolist(),
                status.tolist(),
                out.times(offered),
                out.times(loan_due),
                out.optional_times(closed_at),
                strict=True,
            )
        ),
    )
    summary.loans = int(closed.sum())
    summary.default_rate = float(defaulted[closed].mean()) if closed.any() else 0.0

    # --- Payments ------------------------------------------------------------------------
    payments = _payments(rng, members=members, now=now, region_idx=region_idx)
    pay_raw = np.frombuffer(rng.bytes(16 * len(payments["member"])), dtype="V16")
    out.insert(
        "payments",
        [
            "id",
            "member_id",
            "kind",
            "amount_sats",
            "device_id",
            "location",
            "status",
            "created_at",
            "is_fraud_label",
            "fraud_pattern",
        ],
        list(
            zip(
                out.uuids(pay_raw),
                [member_ids[m] for m in payments["member"]],
                payments["kind"].tolist(),
                payments["amount"].tolist(),
                payments["device"].tolist(),
                payments["location"].tolist(),
                ["settled"] * len(payments["member"]),
                out.times(payments["time"]),
                [bool(x) for x in payments["pattern"] != ""],
                payments["pattern"].tolist(),
                strict=True,
            )
        ),
    )
    summary.payments = len(payments["member"])
    is_fraud = payments["pattern"] != ""
    summary.fraud_rate = float(is_fraud.mean()) if summary.payments else 0.0
    summary.fraud_by_pattern = {p: int((payments["pattern"] == p).sum()) for p in FRAUD_PATTERNS}
    summary.seconds = time.monotonic() - started
    return summary


def _payments(rng: np.random.Generator, *, members: int, now: float, region_idx: np.ndarray) -> dict:
    """Normal payments over the last 60 days, then the four injected fraud patterns."""
    typical = rng.lognormal(np.log(6_000), 0.8, members)
    n_pay = rng.poisson(14, members)
    p_m = np.repeat(np.arange(members), n_pay)
    n = len(p_m)
    day = rng.integers(1, 61, n)
    p_time = now - day * DAY + _rhythm_hours(rng, n) * 3600
    p_time = np.minimum(p_time, now - 60)
    amount = np.maximum(np.round(typical[p_m] * rng.lognormal(0, 0.6, n)), 10).astype(np.int64)
    kind = np.where(rng.random(n) < 0.4, "invoice", "payment")
    second_device = rng.random(members) < 0.35
    use_second = second_device[p_m] & (rng.random(n) < 0.15)
    device = np.array([f"dev-{m:07d}-{'b' if s else 'a'}" for m, s in zip(p_m, use_second, strict=True)], dtype=object)
    home = np.array(REGIONS)[region_idx]
    location = home[p_m].astype(object)
    # Legitimate oddities: travel, a new phone, a feast-day payment.
    travel = rng.random(n) < 0.03
    location[travel] = np.array(REGIONS)[rng.integers(0, len(REGIONS), int(travel.sum()))]
    new_phone = rng.random(n) < 0.004
    device[new_phone] = [f"dev-new-{i}" for i in range(int(new_phone.sum()))]
    feast = rng.random(n) < 0.003
    amount[feast] = (amount[feast] * rng.uniform(5, 15, int(feast.sum()))).astype(np.int64)
    pattern = np.full(n, "", dtype=object)

    extra = {k: [] for k in ("member", "time", "amount", "kind", "device", "location", "pattern")}

    def add(m, t, a, k, d, loc, pat):
        extra["member"].append(m)
        extra["time"].append(t)
        extra["amount"].append(int(a))
        extra["kind"].append(k)
        extra["device"].append(d)
        extra["location"].append(loc)
        extra["pattern"].append(pat)

    victims = rng.choice(members, size=max(4, int(members * 0.02)), replace=False)
    for i, m in enumerate(victims):
        pat = FRAUD_PATTERNS[i % len(FRAUD_PATTERNS)] if i < 4 else FRAUD_PATTERNS[rng.integers(0, 4)]
        t0 = now - rng.uniform(0.1, 59) * DAY
        base = typical[m]
        usual_device = f"dev-{m:07d}-a"
        home_loc = home[m]
        if pat == "account_takeover":
            device_id = f"dev-ato-{i}"
            elsewhere = [r for r in REGIONS if r != home_loc]
            loc = elsewhere[rng.integers(0, len(elsewhere))]
            for j in range(int(rng.integers(1, 4))):
                add(m, t0 + j * rng.uniform(30, 600), base * rng.uniform(10, 100), "payment", device_id, loc, pat)
        elif pat == "invoice_burst":
            for j in range(int(rng.integers(8, 21))):
                add(m, t0 + j * rng.uniform(1, 4), base * rng.lognormal(0, 0.3), "invoice", usual_device, home_loc, pat)
        elif pat == "rapid_repeat":
            repeated = base * rng.uniform(1, 4)
            t = t0
            for _ in range(int(rng.integers(4, 9))):
                t += rng.uniform(2, 15)
                add(m, t, repeated, "payment", usual_device, home_loc, pat)
        else:  # structuring: a large sum cut into amounts just under the reporting threshold
            t = t0
            for _ in range(int(rng.integers(6, 16))):
                t += rng.uniform(60, 240)
                add(m, t, STRUCTURING_THRESHOLD_SATS - rng.integers(100, 2_500), "payment", usual_device, home_loc, pat)
    return {
        "member": np.concatenate([p_m, np.array(extra["member"], dtype=int)]),
        "time": np.concatenate([p_time, np.minimum(np.array(extra["time"]), now - 1)]),
        "amount": np.concatenate([amount, np.array(extra["amount"], dtype=np.int64)]),
        "kind": np.concatenate([kind.astype(object), np.array(extra["kind"], dtype=object)]),
        "device": np.concatenate([device, np.array(extra["device"], dtype=object)]),
        "location": np.concatenate([location, np.array(extra["location"], dtype=object)]),
        "pattern": np.concatenate([pattern, np.array(extra["pattern"], dtype=object)]),
    }
