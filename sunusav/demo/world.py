"""The demo world's members, tontines, contributions, mobile money, endorsements and loans.

Every member draws a hidden reliability r ~ Beta(RELIABILITY_A, RELIABILITY_B)
that is never stored. With noise, it drives:

- contributions: on time with probability r (per seat, jittered); otherwise
  missed or late, more often missed and later as r falls;
- mobile-money activity: members with higher r move more money, more often;
- endorsements received: each vouch picks, among a few candidates from the
  endorser's tontine, the one with the best (r + noise) reputation;
- loans: logit P(default) = DEFAULT_BASE_LOGIT - DEFAULT_SLOPE * z(r) + N(0, DEFAULT_SHOCK),
  so the six credit features carry signal without giving the answer away.

Times are int64 microseconds since the epoch (UTC; Dakar is UTC+0), all
before the anchor. Each stage draws from its own generator
(`default_rng([seed, stage])`), so changing one stage leaves the others' draws
alone and the same seed and anchor always give the same world.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from sunusav.demo import names
from sunusav.demo.storage import NULL_TIME, Progress, rows_insert, uuid4_bytes
from sunusav.models import (
    Contribution,
    Endorsement,
    Loan,
    Member,
    Membership,
    MobileMoneyTransfer,
    Tontine,
)
from sunusav.services import phone_hash

SECOND = 1_000_000
HOUR = 3600 * SECOND
DAY = 24 * HOUR

RELIABILITY_A, RELIABILITY_B = 7.5, 1.5
DEFAULT_BASE_LOGIT = -2.6
DEFAULT_SLOPE = 2.3
DEFAULT_SHOCK = 0.5

# Stage numbers for the per-stage generators: never renumber, or worlds change.
STAGE_MEMBERS, STAGE_TONTINES, STAGE_CONTRIBUTIONS, STAGE_MOBILE = 1, 2, 3, 4
STAGE_ENDORSEMENTS, STAGE_LOANS, STAGE_PAYMENTS = 5, 6, 7

REGION_CODES: tuple[str, ...] = tuple(str(r) for r in names.REGION_WEIGHTS)
TOWN_NAMES: tuple[str, ...] = tuple(t for r in REGION_CODES for t in names.TOWNS[r])
TOWN_SLUGS = np.array([names.slug(t) for t in TOWN_NAMES], dtype=object)
TOWN_REGION = np.array([i for i, r in enumerate(REGION_CODES) for _ in names.TOWNS[r]])
TOWN_FIRST = np.array([int(np.flatnonzero(i == TOWN_REGION)[0]) for i in range(len(REGION_CODES))])
TOWN_COUNT = np.bincount(TOWN_REGION, minlength=len(REGION_CODES))
PHONE_PREFIXES = np.array([77, 78, 76, 70, 75])
PHONE_PREFIX_WEIGHTS = np.array([0.42, 0.22, 0.2, 0.1, 0.06])


def stage_rng(seed: int, stage: int) -> np.random.Generator:
    """Return the generator of one stage of the world with this seed."""
    return np.random.default_rng([seed, stage])


def to_micros(moment: datetime) -> int:
    """Return an aware datetime as microseconds since the epoch."""
    return round(moment.timestamp() * SECOND)


def days(values) -> np.ndarray:
    """Return durations in days as int64 microseconds."""
    return np.rint(np.asarray(values, dtype=np.float64) * DAY).astype(np.int64)


def ranks_within(groups: np.ndarray) -> np.ndarray:
    """Return each element's rank (0, 1, ...) within its run of equal values in a grouped array."""
    n = groups.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(groups[1:] != groups[:-1]) + 1]
    return np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))


def repeat_ranks(counts: np.ndarray) -> np.ndarray:
    """Return 0..k-1 for each k in counts, concatenated."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    starts = np.cumsum(counts) - counts
    return np.arange(total) - np.repeat(starts, counts)


def random_town(rng: np.random.Generator, region: np.ndarray) -> np.ndarray:
    """Return a town of each given region; the region's main town (listed first) is twice as likely."""
    count = TOWN_COUNT[region]
    pick = np.floor(rng.random(region.size) * (count + 1)).astype(np.int64) - 1  # -1 and 0 both mean the first
    return TOWN_FIRST[region] + np.maximum(pick, 0)


@dataclass
class People:
    """The members as parallel arrays; `reliability` and `reputation` stay hidden (never stored)."""

    ids: np.ndarray  # (n, 16) uint8
    reliability: np.ndarray
    region: np.ndarray  # index into REGION_CODES
    town: np.ndarray  # index into TOWN_NAMES
    display_name: list[str]
    phone_hash: list[str]
    activity: np.ndarray  # economic activity, correlated with reliability
    reputation: np.ndarray  # what others think of the member, correlated with reliability
    created: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def n(self) -> int:
        return self.reliability.size

    def z_reliability(self) -> np.ndarray:
        a, b = RELIABILITY_A, RELIABILITY_B
        mean, var = a / (a + b), a * b / ((a + b) ** 2 * (a + b + 1))
        return (self.reliability - mean) / np.sqrt(var)


@dataclass
class Tontines:
    """Tontines and their seats (memberships) as parallel arrays."""

    ids: np.ndarray
    size: np.ndarray
    cycle_days: np.ndarray
    contribution: np.ndarray
    started: np.ndarray
    completed: np.ndarray
    rounds: np.ndarray  # rounds with contribution rows: all of a completed one, up to the current otherwise
    region: np.ndarray
    name: list[str]
    seat_tontine: np.ndarray
    seat_member: np.ndarray
    seat_position: np.ndarray
    seat_joined: np.ndarray


def people_draw(rng: np.random.Generator, n: int) -> People:
    """Draw `n` members: hidden traits, region and town, a Senegalese name and a unique phone's hash."""
    reliability = rng.beta(RELIABILITY_A, RELIABILITY_B, n)
    weights = np.array(list(names.REGION_WEIGHTS.values()))
    region = rng.choice(len(REGION_CODES), size=n, p=weights / weights.sum())
    town = random_town(rng, region)

    first = np.array(names.FIRST_NAMES, dtype=object)[rng.integers(0, len(names.FIRST_NAMES), n)]
    family = np.array(names.FAMILY_NAMES, dtype=object)[rng.integers(0, len(names.FAMILY_NAMES), n)]
    local = rng.random(n) < 0.5
    for region_code, pool_name in names.REGION_LOCAL_POOL.items():
        pool = np.array(names.LOCAL_FAMILY_NAMES[pool_name], dtype=object)
        mask = local & (region == REGION_CODES.index(region_code))
        family[mask] = pool[rng.integers(0, len(pool), int(mask.sum()))]
    display_name = [f"{a} {b}" for a, b in zip(first.tolist(), family.tolist(), strict=True)]

    numbers = _unique_phone_numbers(rng, n)
    hashes = [phone_hash(f"+221{number}") for number in numbers.tolist()]

    z = (reliability - reliability.mean()) / max(reliability.std(), 1e-9)
    activity = 0.6 * z + 0.8 * rng.standard_normal(n)
    reputation = 1.2 * z + 0.8 * rng.standard_normal(n)
    return People(
        ids=uuid4_bytes(rng, n),
        reliability=reliability,
        region=region,
        town=town,
        display_name=display_name,
        phone_hash=hashes,
        activity=activity,
        reputation=reputation,
    )


def _unique_phone_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """Return `n` distinct 9-digit Senegalese mobile numbers (77/78/76/70/75 + 7 digits)."""
    prefix = PHONE_PREFIXES[rng.choice(len(PHONE_PREFIXES), size=n, p=PHONE_PREFIX_WEIGHTS)]
    numbers = prefix.astype(np.int64) * 10_000_000 + rng.integers(0, 10_000_000, n)
    while True:
        _, first = np.unique(numbers, return_index=True)
        repeated = np.ones(n, dtype=bool)
        repeated[first] = False
        if not repeated.any():
            return numbers
        numbers[repeated] = numbers[repeated] // 10_000_000 * 10_000_000 + rng.integers(
            0, 10_000_000, int(repeated.sum())
        )


def tontines_draw(rng: np.random.Generator, people: People, anchor: int) -> Tontines:
    """Group members into tontines of 5-30, mostly within a region; some members sit in several."""
    seats_per_member = rng.choice(5, size=people.n, p=[0.04, 0.5, 0.3, 0.12, 0.04])
    seat_member = np.repeat(np.arange(people.n), seats_per_member)
    # Sorting on region plus a little more than one unit of noise keeps groups
    # regional while letting neighbours in the list mix, as in real life.
    order = np.argsort(people.region[seat_member] + rng.random(seat_member.size) * 1.2, kind="stable")
    seat_member = seat_member[order]
    total = seat_member.size
    sizes = 5 + np.minimum(25, np.rint(rng.gamma(2.0, 4.5, total // 5 + 10))).astype(np.int64)
    cut = int(np.searchsorted(np.cumsum(sizes), total))
    sizes = sizes[: cut + 1]
    sizes[-1] -= int(sizes.sum()) - total
    seat_tontine = np.repeat(np.arange(sizes.size), sizes)

    # A member drawn twice into one group keeps one seat; groups left under 5 are dropped.
    _, first = np.unique(seat_tontine.astype(np.int64) * people.n + seat_member, return_index=True)
    keep = np.zeros(total, dtype=bool)
    keep[first] = True
    valid = np.bincount(seat_tontine[keep], minlength=sizes.size) >= 5
    keep &= valid[seat_tontine]
    new_index = np.cumsum(valid) - 1
    seat_tontine, seat_member = new_index[seat_tontine[keep]], seat_member[keep]
    count = int(valid.sum())
    size = np.bincount(seat_tontine, minlength=count)
    region = people.region[seat_member[np.r_[0, np.cumsum(size)[:-1]]]]

    # The payout rotation: a random order of the seats of each tontine.
    order = np.lexsort((rng.random(seat_member.size), seat_tontine))
    seat_tontine, seat_member = seat_tontine[order], seat_member[order]
    seat_position = ranks_within(seat_tontine) + 1

    weekly = rng.random(count) < 0.55
    cycle_days = np.where(weekly, 7, 30)
    low, high = np.where(weekly, 5_000, 20_000), np.where(weekly, 50_000, 200_000)
    contribution = np.exp(rng.uniform(np.log(low), np.log(high)))
    contribution = (np.rint(contribution / np.where(weekly, 500, 1000)) * np.where(weekly, 500, 1000)).astype(np.int64)

    completed = rng.random(count) < 0.35
    elapsed_rounds = rng.uniform(0.3, 1.0, count) * size  # active: part of the rotation done
    ended_days_ago = rng.uniform(1, 420, count)
    started = np.where(
        completed,
        anchor - days(size * cycle_days + ended_days_ago),
        anchor - days(elapsed_rounds * cycle_days),
    )
    rounds = np.where(completed, size, np.minimum(np.floor(elapsed_rounds).astype(np.int64) + 1, size))
    seat_joined = started[seat_tontine] - days(rng.uniform(0, 10, seat_member.size))

    kinds = np.array(names.TONTINE_KINDS, dtype=object)[rng.integers(0, len(names.TONTINE_KINDS), count)]
    wishes = np.array(names.TONTINE_WISHES, dtype=object)[rng.integers(0, len(names.TONTINE_WISHES), count)]
    towns = random_town(rng, region)
    name = [
        f"{k} {w} {TOWN_NAMES[t]} {i + 1}"
        for i, (k, w, t) in enumerate(zip(kinds.tolist(), wishes.tolist(), towns.tolist(), strict=True))
    ]
    return Tontines(
        ids=uuid4_bytes(rng, count),
        size=size,
        cycle_days=cycle_days,
        contribution=contribution,
        started=started,
        completed=completed,
        rounds=rounds,
        region=region,
        name=name,
        seat_tontine=seat_tontine,
        seat_member=seat_member,
        seat_position=seat_position,
        seat_joined=seat_joined,
    )


def member_created_draw(rng: np.random.Generator, people: People, tontines: Tontines, anchor: int) -> np.ndarray:
    """Return when each member joined SunuSàv: a little before their first tontine, else recently."""
    first_join = np.full(people.n, anchor, dtype=np.int64)
    np.minimum.at(first_join, tontines.seat_member, tontines.seat_joined)
    has_seat = np.bincount(tontines.seat_member, minlength=people.n) > 0
    return np.where(
        has_seat,
        first_join - days(rng.uniform(0, 45, people.n)),
        anchor - days(rng.uniform(3, 200, people.n)),
    )


def members_insert(people: People, progress: Progress | None) -> None:
    rows_insert(
        model=Member,
        columns={
            "id": people.ids,
            "display_name": people.display_name,
            "phone_hash": people.phone_hash,
            "region": np.array(REGION_CODES, dtype=object)[people.region],
            "created_at": people.created,
        },
        progress=progress,
    )


def tontines_insert(tontines: Tontines, people: People, progress: Progress | None) -> None:
    rows_insert(
        model=Tontine,
        columns={
            "id": tontines.ids,
            "name": tontines.name,
            "region": np.array(REGION_CODES, dtype=object)[tontines.region],
            "contribution_sats": tontines.contribution,
            "cycle": np.where(tontines.cycle_days == 7, Tontine.Cycle.WEEKLY, Tontine.Cycle.MONTHLY).astype(object),
            "started_at": tontines.started,
            "status": np.where(tontines.completed, Tontine.Status.COMPLETED, Tontine.Status.ACTIVE).astype(object),
            "created_at": tontines.started - 3 * DAY,
        },
        progress=progress,
    )
    rows_insert(
        model=Membership,
        columns={
            "tontine": tontines.ids[tontines.seat_tontine],
            "member": people.ids[tontines.seat_member],
            "position": tontines.seat_position,
            "joined_at": tontines.seat_joined,
        },
        progress=progress,
    )


@dataclass
class Contributions:
    """Contribution rows (with the on-time/late/missed outcome each was drawn with)."""

    tontine: np.ndarray
    member: np.ndarray
    round_number: np.ndarray
    due: np.ndarray
    paid: np.ndarray  # NULL_TIME when unpaid


def contributions_draw(rng: np.random.Generator, people: People, tontines: Tontines, anchor: int) -> Contributions:
    """Draw one contribution per seat and round up to the round in progress, paid by each member's habits.

    Round r pays out at `started + r x cycle` (as sunusav.liquidity reads it)
    and is due the day before. On time (by the due date or within the 2-day
    grace) with the seat's reliability; otherwise missed or late by days to
    weeks, both worse as reliability falls. Nothing is paid after the anchor.
    """
    seat_rounds = tontines.rounds[tontines.seat_tontine]
    seat = np.repeat(np.arange(seat_rounds.size), seat_rounds)
    round_number = repeat_ranks(seat_rounds) + 1
    t = tontines.seat_tontine[seat]
    m = tontines.seat_member[seat]
    due = tontines.started[t] + days(round_number * tontines.cycle_days[t] - 1)

    # A member's commitment differs a little from one group to another.
    seat_reliability = np.clip(
        people.reliability[tontines.seat_member] + rng.normal(0, 0.05, tontines.seat_member.size), 0.02, 0.995
    )
    r = seat_reliability[seat]
    u = rng.random(seat.size)
    on_time = u < r
    missed = ~on_time & (rng.random(seat.size) < 0.15 + 0.45 * (1 - r))
    early_days = np.clip(rng.normal(-0.8, 1.0, seat.size), -(tontines.cycle_days[t] - 1), 1.9)
    late_days = np.minimum(2.1 + rng.exponential(2 + 18 * (1 - r)), 120)
    paid = due + days(np.where(on_time, early_days, late_days))
    paid = np.where(missed | (paid >= anchor), NULL_TIME, paid)
    # Stored member by member (member ids ascend with the index), so the member indexes grow at their end.
    order = np.lexsort((due, m))
    return Contributions(
        tontine=t[order], member=m[order], round_number=round_number[order], due=due[order], paid=paid[order]
    )


def contributions_insert(
    contributions: Contributions, people: People, tontines: Tontines, progress: Progress | None
) -> None:
    rows_insert(
        model=Contribution,
        columns={
            "tontine": tontines.ids[contributions.tontine],
            "member": people.ids[contributions.member],
            "round_number": contributions.round_number,
            "amount_sats": tontines.contribution[contributions.tontine],
            "due_at": contributions.due,
            "paid_at": contributions.paid,
        },
        progress=progress,
    )


def mobile_money_draw(rng: np.random.Generator, people: People, anchor: int, *, window_days: int = 450) -> dict:
    """Draw mobile-money transfers over the last `window_days`: more and larger for more active members."""
    start = np.maximum(people.created, anchor - window_days * DAY)
    share = (anchor - start) / (window_days * DAY)
    count = rng.poisson(np.exp(2.0 + 0.35 * people.activity) * share)
    m = np.repeat(np.arange(people.n), count)
    created = start[m] + (rng.random(m.size) * (anchor - start[m])).astype(np.int64)
    amount = rng.lognormal(np.log(12_000) + 0.35 * people.activity[m], 0.9)
    amount = np.maximum(np.rint(amount / 25) * 25, 100).astype(np.int64)  # XOF: multiples of 25
    providers = np.array(MobileMoneyTransfer.Provider.values, dtype=object)  # wave, orange_money, free_money
    favourite = rng.choice(3, size=people.n, p=[0.55, 0.35, 0.10])
    provider = np.where(rng.random(m.size) < 0.8, favourite[m], rng.integers(0, 3, m.size))
    direction = np.where(rng.random(m.size) < 0.5, "in", "out").astype(object)
    order = np.lexsort((created, m))
    return {
        "member": people.ids[m[order]],
        "provider": providers[provider[order]],
        "amount_xof": amount[order],
        "direction": direction[order],
        "created_at": created[order],
    }


def endorsements_draw(rng: np.random.Generator, people: People, tontines: Tontines, anchor: int) -> dict:
    """Draw vouches: each picks the best-reputed of three candidates from a tontine of the endorser."""
    given = rng.poisson(1.6, people.n)
    endorser = np.repeat(np.arange(people.n), given)
    k = endorser.size
    candidates = 3
    seats_of = np.bincount(tontines.seat_member, minlength=people.n)
    by_member = np.argsort(tontines.seat_member, kind="stable")
    first_seat = np.cumsum(seats_of) - seats_of
    tontine_first_seat = np.cumsum(tontines.size) - tontines.size
    # One of the endorser's seats, then random seats of that tontine (members with none pick at random).
    own = seats_of[endorser] > 0
    pick = first_seat[endorser] + np.floor(rng.random(k) * np.maximum(seats_of[endorser], 1)).astype(np.int64)
    tontine = tontines.seat_tontine[by_member[np.where(own, pick, 0)]]
    offsets = np.floor(rng.random((k, candidates)) * tontines.size[tontine][:, None]).astype(np.int64)
    chosen_seats = tontine_first_seat[tontine][:, None] + offsets
    candidate = np.where(own[:, None], tontines.seat_member[chosen_seats], rng.integers(0, people.n, (k, candidates)))
    score = people.reputation[candidate] + rng.gumbel(0, 1, (k, candidates))
    score[candidate == endorser[:, None]] = -np.inf
    endorsee = candidate[np.arange(k), np.argmax(score, axis=1)]
    keep = endorsee != endorser
    endorser, endorsee = endorser[keep], endorsee[keep]
    _, first = np.unique(endorser.astype(np.int64) * people.n + endorsee, return_index=True)
    endorser, endorsee = endorser[np.sort(first)], endorsee[np.sort(first)]
    since = np.maximum(people.created[endorser], people.created[endorsee])
    created = since + (rng.random(endorser.size) * (anchor - since)).astype(np.int64)
    return {"endorser": people.ids[endorser], "endorsee": people.ids[endorsee], "created_at": created}


def loans_draw(rng: np.random.Generator, people: People, has_seat: np.ndarray, anchor: int) -> dict:
    """Draw past loans (repaid or defaulted by hidden reliability plus shocks) and a few recent open ones."""
    eligible = people.created < anchor - 60 * DAY
    p_borrow = np.where(has_seat, 0.42, 0.08)
    borrower = eligible & (rng.random(people.n) < p_borrow)
    count = np.where(borrower, rng.choice([1, 2, 3], size=people.n, p=[0.72, 0.22, 0.06]), 0)
    m = np.repeat(np.arange(people.n), count)
    n = m.size
    earliest = np.maximum(people.created[m] + 45 * DAY, anchor - 365 * DAY)
    offered = earliest + (rng.random(n) * (anchor - DAY - earliest)).astype(np.int64)
    term_days = rng.choice([30, 60, 90], size=n, p=[0.5, 0.3, 0.2])
    due = offered + days(term_days)
    amount = np.clip(np.rint(rng.lognormal(np.log(60_000), 0.7, n) / 500) * 500, 5_000, 500_000).astype(np.int64)

    logit = DEFAULT_BASE_LOGIT - DEFAULT_SLOPE * people.z_reliability()[m] + rng.normal(0, DEFAULT_SHOCK, n)
    defaults = rng.random(n) < 1 / (1 + np.exp(-logit))
    declined = rng.random(n) < 0.05
    # Repaid around the due date (reliable ones early); defaulted is declared 30 days past due.
    repaid_at = due + days(np.where(rng.random(n) < 0.8, -rng.uniform(0, 0.6, n) * term_days, rng.uniform(0, 20, n)))
    closed = np.where(defaults, due + 30 * DAY, np.maximum(repaid_at, offered + DAY))
    status = np.where(defaults, Loan.Status.DEFAULTED, Loan.Status.REPAID).astype(object)
    still_open = closed >= anchor
    status[still_open] = Loan.Status.ACCEPTED
    recent = offered >= anchor - 7 * DAY
    status[recent & (rng.random(n) < 0.6)] = Loan.Status.OFFERED
    status[declined] = Loan.Status.DECLINED
    closed = np.where(still_open | (status == Loan.Status.OFFERED), NULL_TIME, closed)
    decided = np.minimum(offered + days(rng.uniform(0.05, 3, n)), anchor - SECOND)
    closed = np.where(declined, decided, closed)
    due = np.where(np.isin(status, [Loan.Status.OFFERED, Loan.Status.DECLINED]), NULL_TIME, due)
    order = np.lexsort((offered, m))
    return {
        "id": uuid4_bytes(rng, n),
        "member": people.ids[m[order]],
        "offered_amount_xof": amount[order],
        "status": status[order],
        "offered_at": offered[order],
        "due_at": due[order],
        "closed_at": closed[order],
    }


def credit_history_build(
    *, seed: int, members: int, anchor: int, progress: Progress | None = None
) -> tuple[People, Tontines]:
    """Draw and store members, tontines, contributions, mobile money, endorsements and loans."""
    people = people_draw(stage_rng(seed, STAGE_MEMBERS), members)
    tontines = tontines_draw(stage_rng(seed, STAGE_TONTINES), people, anchor)
    people.created = member_created_draw(stage_rng(seed, STAGE_TONTINES + 100), people, tontines, anchor)
    members_insert(people, progress)
    tontines_insert(tontines, people, progress)

    contributions = contributions_draw(stage_rng(seed, STAGE_CONTRIBUTIONS), people, tontines, anchor)
    contributions_insert(contributions, people, tontines, progress)
    del contributions

    rows_insert(
        model=MobileMoneyTransfer,
        columns=mobile_money_draw(stage_rng(seed, STAGE_MOBILE), people, anchor),
        progress=progress,
    )
    rows_insert(
        model=Endorsement,
        columns=endorsements_draw(stage_rng(seed, STAGE_ENDORSEMENTS), people, tontines, anchor),
        progress=progress,
    )
    has_seat = np.bincount(tontines.seat_member, minlength=people.n) > 0
    rows_insert(
        model=Loan,
        columns=loans_draw(stage_rng(seed, STAGE_LOANS), people, has_seat, anchor),
        progress=progress,
    )
    return people, tontines
