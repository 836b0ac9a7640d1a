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
with some small legitimate oddities (a trip, a borrowed phone, a big purchase).

Honest segments, each recorded in `Payment.segment` on the honest payments it
shapes (ground truth for measurement, hidden like `fraud_pattern`; blank for
ordinary payments and for fraud), so each segment's false-positive rate can be
measured (`HONEST_SEGMENTS`):
- `vendor`: market vendors (2 % of members); on 6-12 market days, bursts of
  many small invoices (around 1,500 sats) at the market's peak hours
  (8-13 h, 17-20 h), often a minute or less apart.
  All of a vendor's payments carry the segment.
- `collector`: the member who collects a tontine's pot (the round's seat
  holder) when the round is collected through the app (15 % of the rounds in
  the window): one invoice per other seat, of the tontine's contribution,
  minutes apart on the round's day.
- `phone_replacement`: 2 % of members replace their phone once: from then on
  a new device, with ordinary amounts at home (every payment from the change).
- `traveller`: 3 % of members, traders on the road between Dakar, Touba
  (location `diourbel`) and Thiès, staying 1-4 days in each town, buying
  stock (amounts twice their usual). All of a traveller's payments.
- `salary_day`: salaried members (10 %) pay bills, rent and remittances
  (3-5 payments of 2-6x their usual) in the two days after the 28th of a month.
- `feast_day`: on Tabaski (sheep, clothes: 10-40x the usual amount) and on
  the Grand Magal (the trip to Touba: 3-8x, from `diourbel`), a quarter of the
  members each make 1-2 extra payments. The feasts are placed in the 60-day
  window (`FEAST_DAYS`: days before the anchor) so every world has both.

Fraud typologies, labelled in `is_fraud_label` / `fraud_pattern` for
evaluation only, injected into about 1-2 % of payments (`FRAUD_PATTERNS`):
- `account_takeover`: a new device at another location, then 1-3 payments of
  10-100x the usual amount;
- `invoice_burst`: 8-20 invoices 1-4 s apart;
- `rapid_repeat`: 4-8 equal payments 2-15 s apart;
- `structuring`: 6-15 payments just under the reporting threshold
  (`STRUCTURING_THRESHOLD_SATS`), minutes apart;
- `sim_swap`: the SIM is swapped at home: a new device at the usual place, a
  small test payment, then at once (1-5 minutes) one or two transfers of
  20-100x the usual amount;
- `agent_deposit_splitting`: a mobile-money agent splits a large deposit into
  5-12 payments of 80-98 % of the agent's per-operation ceiling
  (`AGENT_CEILING_SATS`), 2-20 minutes apart;
- `mule_chain`: stolen money moves through 3-5 members of one tontine: each
  receives an invoice of the sum and pays it on (less a 2-5 % cut) within
  minutes to the next.

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
FRAUD_PATTERNS = (
    "account_takeover",
    "invoice_burst",
    "rapid_repeat",
    "structuring",
    "sim_swap",
    "agent_deposit_splitting",
    "mule_chain",
)
HONEST_SEGMENTS = ("vendor", "collector", "phone_replacement", "traveller", "salary_day", "feast_day")
STRUCTURING_THRESHOLD_SATS = 100_000
AGENT_CEILING_SATS = 50_000
# Days before the anchor of each feast (placed in the 60-day payment window, whatever the anchor).
FEAST_DAYS = {"tabaski": 38, "magal": 12}
TRAVEL_ROUTE = ("dakar", "diourbel", "thies")  # Dakar, Touba (Diourbel region), Thiès
MARKET_HOURS = (8, 9, 10, 11, 12, 17, 18, 19)
SALARY_DAY = 28
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
    payments_by_segment: dict = field(default_factory=dict)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        patterns = ", ".join(f"{k} {v}" for k, v in sorted(self.fraud_by_pattern.items()))
        return [
            f"members {self.members}, tontines {self.tontines}",
            f"contributions {self.contributions} (late {self.late_share:.1%}, missed {self.missed_share:.1%})",
            f"mobile-money transfers {self.transfers}, endorsements {self.endorsements}",
            f"closed loans {self.loans} (default rate {self.default_rate:.1%})",
            f"payments {self.payments} (fraud {self.fraud_rate:.2%}: {patterns})",
            "honest segments: " + ", ".join(f"{k} {v}" for k, v in sorted(self.payments_by_segment.items())),
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
    tontines = {
        "seat_tontine": seat_tontine,
        "seat_member": seat_member,
        "seat_position": np.array([p for _, _, p in membership_rows], dtype=int),
        "start": tontine_start,
        "cycle_days": cycle_days,
        "contribution": contribution,
    }
    payments = _payments(rng, members=members, now=now, region_idx=region_idx, tontines=tontines)
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
            "segment",
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
                payments["segment"].tolist(),
                strict=True,
            )
        ),
    )
    summary.payments = len(payments["member"])
    is_fraud = payments["pattern"] != ""
    summary.fraud_rate = float(is_fraud.mean()) if summary.payments else 0.0
    summary.fraud_by_pattern = {p: int((payments["pattern"] == p).sum()) for p in FRAUD_PATTERNS}
    summary.payments_by_segment = {s: int((payments["segment"] == s).sum()) for s in HONEST_SEGMENTS}
    summary.seconds = time.monotonic() - started
    return summary


def _payments(rng: np.random.Generator, *, members: int, now: float, region_idx: np.ndarray, tontines: dict) -> dict:
    """Ordinary payments over the last 60 days, the honest segments, then the injected fraud typologies."""
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
    # Small legitimate oddities of ordinary members: a trip, a borrowed phone, a big purchase.
    travel = rng.random(n) < 0.03
    location[travel] = np.array(REGIONS)[rng.integers(0, len(REGIONS), int(travel.sum()))]
    new_phone = rng.random(n) < 0.004
    device[new_phone] = [f"dev-new-{i}" for i in range(int(new_phone.sum()))]
    feast = rng.random(n) < 0.003
    amount[feast] = (amount[feast] * rng.uniform(5, 15, int(feast.sum()))).astype(np.int64)
    pattern = np.full(n, "", dtype=object)
    segment = np.full(n, "", dtype=object)

    # --- Honest segments of members: each member is at most one of these ---------------------
    u = rng.random(members)
    is_vendor = u < 0.02
    is_replacing = (u >= 0.02) & (u < 0.04)
    is_traveller = (u >= 0.04) & (u < 0.07)
    is_salaried = (u >= 0.07) & (u < 0.17)
    segment[is_vendor[p_m]] = "vendor"
    # Phone replacement: every payment from the change is on the new device, amounts as usual.
    change_at = now - rng.uniform(3, 50, members) * DAY
    replaced = is_replacing[p_m] & (p_time >= change_at[p_m])
    device[replaced] = np.array([f"dev-{m:07d}-new" for m in p_m[replaced]], dtype=object)
    location[replaced] = home[p_m[replaced]]
    segment[replaced] = "phone_replacement"
    # Travellers: 1-4 days in each town of the route, in turn; buying stock doubles their amounts.
    on_road = is_traveller[p_m]
    leg = np.floor((now - p_time[on_road]) / (DAY * (1 + p_m[on_road] % 4))).astype(int)
    location[on_road] = np.array(TRAVEL_ROUTE, dtype=object)[(leg + p_m[on_road]) % len(TRAVEL_ROUTE)]
    amount[on_road] = amount[on_road] * 2
    segment[on_road] = "traveller"

    extra = {k: [] for k in ("member", "time", "amount", "kind", "device", "location", "pattern", "segment")}

    def add(m, t, a, k, d, loc, pat="", seg=""):
        extra["member"].append(int(m))
        extra["time"].append(float(t))
        extra["amount"].append(max(int(a), 1))
        extra["kind"].append(k)
        extra["device"].append(d)
        extra["location"].append(loc)
        extra["pattern"].append(pat)
        extra["segment"].append(seg)

    def usual_device(m, t):
        return f"dev-{m:07d}-new" if is_replacing[m] and t >= change_at[m] else f"dev-{m:07d}-a"

    def where(m, t):
        if is_traveller[m]:
            return TRAVEL_ROUTE[(int((now - t) // (DAY * (1 + m % 4))) + m) % len(TRAVEL_ROUTE)]
        return home[m]

    # Vendors: on market days, bursts of small invoices at the market's peak hours.
    for m in np.flatnonzero(is_vendor):
        for d in rng.choice(np.arange(1, 61), size=int(rng.integers(6, 13)), replace=False):
            t = now - d * DAY + (MARKET_HOURS[rng.integers(0, len(MARKET_HOURS))] + rng.random()) * 3600
            gaps = rng.exponential(70, int(rng.integers(6, 16))) + 15
            for when, price in zip(t + np.cumsum(gaps), rng.lognormal(np.log(1_500), 0.5, gaps.size), strict=True):
                add(m, when, price, "invoice", usual_device(m, when), where(m, when), seg="vendor")
    # Collectors: a pot collected through the app, one invoice per other seat on the round's day.
    seats = tontines["seat_tontine"]
    by_tontine = np.argsort(seats, kind="stable")
    tontine_ids, first_seat, n_seats = np.unique(seats[by_tontine], return_index=True, return_counts=True)
    seats_of = {int(t_idx): by_tontine[a : a + c] for t_idx, a, c in zip(tontine_ids, first_seat, n_seats, strict=True)}
    for t_idx, rows in seats_of.items():
        holders = dict(
            zip(tontines["seat_position"][rows].tolist(), tontines["seat_member"][rows].tolist(), strict=True)
        )
        start, cycle = tontines["start"][t_idx], tontines["cycle_days"][t_idx] * DAY
        first_round = max(1, int(np.ceil((now - 60 * DAY - start) / cycle)))
        for round_number in range(first_round, len(holders) + 1):
            pot_day = start + round_number * cycle
            if pot_day >= now - 3600:
                break
            if rng.random() >= 0.15:
                continue
            m = holders[round_number]
            when = pot_day + (9 + 3 * rng.random()) * 3600
            for _ in range(len(holders) - 1):
                when += rng.exponential(300) + 20
                add(
                    m,
                    min(when, now - 120),
                    tontines["contribution"][t_idx],
                    "invoice",
                    usual_device(m, when),
                    where(m, when),
                    seg="collector",
                )
    # Salary day: bills, rent and remittances in the two days after the 28th.
    paydays = []
    day_t = now - 60 * DAY
    while day_t < now - 2 * DAY:
        if datetime.fromtimestamp(day_t, UTC).day == SALARY_DAY:
            paydays.append(day_t - day_t % DAY)
        day_t += DAY
    for m in np.flatnonzero(is_salaried):
        for payday in paydays:
            for _ in range(int(rng.integers(3, 6))):
                when = payday + DAY + rng.uniform(0, 2 * DAY)
                add(
                    m,
                    when,
                    typical[m] * rng.uniform(2, 6),
                    "payment",
                    usual_device(m, when),
                    where(m, when),
                    seg="salary_day",
                )
    # Feast days: Tabaski (sheep, clothes) and the Grand Magal (the trip to Touba).
    for feast_name, days_before in FEAST_DAYS.items():
        feast_day = now - days_before * DAY
        feast_day -= feast_day % DAY
        for m in np.flatnonzero(rng.random(members) < 0.25):
            for _ in range(int(rng.integers(1, 3))):
                when = feast_day - DAY + rng.uniform(8, 44) * 3600  # the eve and the day
                if feast_name == "tabaski":
                    a, loc = typical[m] * rng.uniform(10, 40), where(m, when)
                else:
                    a, loc = typical[m] * rng.uniform(3, 8), "diourbel"
                add(m, when, a, "payment", usual_device(m, when), loc, seg="feast_day")

    # --- Fraud typologies --------------------------------------------------------------------
    victims = rng.choice(members, size=max(len(FRAUD_PATTERNS), int(members * 0.02)), replace=False)
    by_member_tontine = {}
    for t_idx, m in zip(tontines["seat_tontine"].tolist(), tontines["seat_member"].tolist(), strict=True):
        by_member_tontine.setdefault(m, t_idx)
    for i, m in enumerate(victims):
        k = len(FRAUD_PATTERNS)
        pat = FRAUD_PATTERNS[i % k] if i < k else FRAUD_PATTERNS[rng.integers(0, k)]
        t0 = now - rng.uniform(0.1, 59) * DAY
        base = typical[m]
        home_loc = where(m, t0)
        own_device = usual_device(m, t0)
        if pat == "account_takeover":
            device_id = f"dev-ato-{i}"
            elsewhere = [r for r in REGIONS if r != home_loc]
            loc = elsewhere[rng.integers(0, len(elsewhere))]
            for j in range(int(rng.integers(1, 4))):
                add(m, t0 + j * rng.uniform(30, 600), base * rng.uniform(10, 100), "payment", device_id, loc, pat)
        elif pat == "invoice_burst":
            for j in range(int(rng.integers(8, 21))):
                add(m, t0 + j * rng.uniform(1, 4), base * rng.lognormal(0, 0.3), "invoice", own_device, home_loc, pat)
        elif pat == "rapid_repeat":
            repeated = base * rng.uniform(1, 4)
            t = t0
            for _ in range(int(rng.integers(4, 9))):
                t += rng.uniform(2, 15)
                add(m, t, repeated, "payment", own_device, home_loc, pat)
        elif pat == "structuring":  # a large sum cut into amounts just under the reporting threshold
            t = t0
            for _ in range(int(rng.integers(6, 16))):
                t += rng.uniform(60, 240)
                add(m, t, STRUCTURING_THRESHOLD_SATS - rng.integers(100, 2_500), "payment", own_device, home_loc, pat)
        elif pat == "sim_swap":  # a new device at home, a test payment, then at once the large transfers
            device_id = f"dev-sim-{i}"
            add(m, t0, base * rng.uniform(0.05, 0.3), "payment", device_id, home_loc, pat)
            t = t0
            for _ in range(int(rng.integers(1, 3))):
                t += rng.uniform(60, 300)
                add(m, t, base * rng.uniform(20, 100), "payment", device_id, home_loc, pat)
        elif pat == "agent_deposit_splitting":
            t = t0
            for _ in range(int(rng.integers(5, 13))):
                t += rng.uniform(120, 1_200)
                add(m, t, AGENT_CEILING_SATS * rng.uniform(0.80, 0.98), "payment", own_device, home_loc, pat)
        else:  # mule_chain: the sum goes through 3-5 members of one tontine, each keeping a cut
            t_idx = by_member_tontine.get(int(m))
            fellows = [] if t_idx is None else [int(x) for x in tontines["seat_member"][seats_of[t_idx]] if x != m]
            chain = [int(m), *rng.permutation(fellows)[: int(rng.integers(2, 5))].tolist()]
            if len(chain) < 3:  # a tontine too small for a chain: another member's tontine
                chain = [int(x) for x in rng.choice(members, size=3, replace=False)]
            sum_sats, t = base * rng.uniform(30, 80), t0
            for mule in chain:
                add(mule, t, sum_sats, "invoice", usual_device(mule, t), where(mule, t), pat)
                t += rng.uniform(60, 600)
                sum_sats *= 1 - rng.uniform(0.02, 0.05)
                add(mule, t, sum_sats, "payment", usual_device(mule, t), where(mule, t), pat)
                t += rng.uniform(30, 300)
    return {
        "member": np.concatenate([p_m, np.array(extra["member"], dtype=int)]),
        "time": np.concatenate([p_time, np.minimum(np.array(extra["time"]), now - 1)]),
        "amount": np.concatenate([amount, np.array(extra["amount"], dtype=np.int64)]),
        "kind": np.concatenate([kind.astype(object), np.array(extra["kind"], dtype=object)]),
        "device": np.concatenate([device, np.array(extra["device"], dtype=object)]),
        "location": np.concatenate([location, np.array(extra["location"], dtype=object)]),
        "pattern": np.concatenate([pattern, np.array(extra["pattern"], dtype=object)]),
        "segment": np.concatenate([segment, np.array(extra["segment"], dtype=object)]),
    }
