"""The demo world's Lightning payments: everyday traffic, legitimate oddities and injected fraud.

Everyday traffic: each member pays and invoices around a typical amount
(log-normal), mostly at midday and in the evening, from one or two usual
devices, at home. Legitimate oddities keep the fraud check honest (precision
below 1): a new phone, travel, a Tabaski/Korité/Magal-sized payment (pilgrims
pay from Touba, some on a borrowed phone), a rent or ceremony payment, a
double tap, a shopkeeper's market rush of invoices.

Fraud incidents, labelled `is_fraud_label=True` with `fraud_pattern`, are what
the five fraud features (fraud/features.py) are meant to reveal:

- `account_takeover`: 1-3 payments from a device and a town the member never
  used, each 10-100x the member's typical amount;
- `invoice_burst`: 8-20 invoices within one minute;
- `rapid_repeat`: the same amount paid 4-10 times, 2-8 seconds apart;
- `structuring`: 4-10 payments each just under the reporting limit
  (settings.FRAUD_STRUCTURING_LIMIT_SATS, which fraud/rules.py watches), minutes apart.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from django.conf import settings

from sunusav.demo import names
from sunusav.demo.storage import Progress, rows_insert, uuid4_bytes
from sunusav.demo.world import (
    DAY,
    HOUR,
    REGION_CODES,
    SECOND,
    STAGE_PAYMENTS,
    TOWN_NAMES,
    TOWN_SLUGS,
    People,
    random_town,
    repeat_ranks,
    stage_rng,
    to_micros,
)
from sunusav.models import Payment

FRAUD_PATTERNS: tuple[str, ...] = ("account_takeover", "invoice_burst", "rapid_repeat", "structuring")
FRAUD_PATTERN_WEIGHTS = (0.35, 0.2, 0.25, 0.2)
MINUTE = 60 * SECOND

# Share of the day's payments in each hour (Dakar time = UTC): quiet nights,
# a midday peak (lunch, market) and a bigger evening one.
HOUR_WEIGHTS = np.array(
    [0.6, 0.3, 0.2, 0.15, 0.2, 0.6, 1.5, 3, 4.5, 5, 5.5, 6.5, 7.5, 7.5, 6, 5, 5, 5.5, 7, 8, 7.5, 5.5, 3.5, 1.5]
)
DEVICE_SLOTS = 4  # per member: usual phone, second phone, new phone, borrowed phone
USUAL, SECOND_PHONE, NEW_PHONE, BORROWED = range(DEVICE_SLOTS)


@dataclass
class Traffic:
    """Payment rows as parallel arrays (devices and towns as codes)."""

    member: np.ndarray
    time: np.ndarray
    amount: np.ndarray
    invoice: np.ndarray  # bool
    device: np.ndarray  # member * DEVICE_SLOTS + slot, or a thief's code past the members' range
    town: np.ndarray
    pattern: np.ndarray  # index into FRAUD_PATTERNS, -1 for normal

    @classmethod
    def concat(cls, parts: list[Traffic]) -> Traffic:
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in cls.__dataclass_fields__))

    @classmethod
    def empty(cls) -> Traffic:
        return cls.rows(np.zeros(0, dtype=np.int64), 0, 0, False, 0, 0)

    @classmethod
    def rows(cls, member, time, amount, invoice, device, town, pattern=-1) -> Traffic:
        n = np.asarray(member).size

        def full(value, dtype):
            return np.broadcast_to(np.asarray(value, dtype=dtype), (n,)).copy()

        return cls(
            member=full(member, np.int64),
            time=full(time, np.int64),
            amount=np.maximum(full(amount, np.int64), 1),
            invoice=full(invoice, bool),
            device=full(device, np.int64),
            town=full(town, np.int64),
            pattern=full(pattern, np.int64),
        )


def _time_of_day(rng: np.random.Generator, n: int, weights: np.ndarray = HOUR_WEIGHTS) -> np.ndarray:
    hours = rng.choice(24, size=n, p=weights / weights.sum())
    return hours * HOUR + (rng.random(n) * HOUR).astype(np.int64)


def _group_cumsum(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Return cumulative sums restarting at each group (groups given by their sizes, in order)."""
    total = np.cumsum(values)
    starts = np.cumsum(counts) - counts
    before = np.where(starts > 0, total[np.maximum(starts - 1, 0)], 0)
    return total - np.repeat(before, counts)


def _log_uniform(rng: np.random.Generator, low: float, high: float, n: int) -> np.ndarray:
    return np.exp(rng.uniform(np.log(low), np.log(high), n))


class PaymentWorld:
    """Draw the payments of `people` over the `window_days` before `anchor` with one generator."""

    def __init__(self, rng: np.random.Generator, people: People, anchor: int, *, per_member: float, window_days: int):
        self.rng, self.people, self.anchor = rng, people, anchor
        n = people.n
        self.start = np.minimum(np.maximum(people.created, anchor - window_days * DAY), anchor - HOUR)
        self.span = anchor - self.start
        self.merchant = rng.random(n) < 0.04
        self.typical = rng.lognormal(np.log(6_000) + 0.2 * people.activity, 0.8) * np.where(self.merchant, 1.5, 1)
        rate = per_member * rng.lognormal(-0.1, 0.45, n) * np.where(self.merchant, 2.0, 1.0)
        self.count = rng.poisson(rate * self.span / (window_days * DAY))
        self.has_second_phone = rng.random(n) < 0.4
        # 4% change phones for good at some point (a legit "new device").
        self.switch_at = np.where(
            rng.random(n) < 0.04,
            self.start + (rng.uniform(0.3, 0.95, n) * self.span).astype(np.int64),
            np.iinfo(np.int64).max,
        )

    def _device(self, member: np.ndarray, time: np.ndarray, second_share: float = 0.15) -> np.ndarray:
        slot = np.where(self.has_second_phone[member] & (self.rng.random(member.size) < second_share), 1, 0)
        slot = np.where((slot == USUAL) & (time >= self.switch_at[member]), NEW_PHONE, slot)
        return member * DEVICE_SLOTS + slot

    def _time_in_window(self, member: np.ndarray, weights: np.ndarray = HOUR_WEIGHTS) -> np.ndarray:
        rng = self.rng
        raw = self.start[member] + (rng.random(member.size) * self.span[member]).astype(np.int64)
        midnight = self.anchor - np.ceil((self.anchor - raw) / DAY).astype(np.int64) * DAY
        time = midnight + _time_of_day(rng, member.size, weights)
        time = np.where(time < self.start[member], self.start[member] + (time - midnight) % HOUR, time)
        return np.minimum(time, self.anchor - SECOND)

    def everyday(self) -> Traffic:
        rng, people = self.rng, self.people
        member = np.repeat(np.arange(people.n), self.count)
        n = member.size
        time = self._time_in_window(member)
        amount = np.rint(self.typical[member] * rng.lognormal(0, 0.55, n))
        invoice = rng.random(n) < np.where(self.merchant[member], 0.75, 0.25)
        town = people.town[member].copy()
        away = rng.random(n) < 0.04
        same_region = rng.random(n) < 0.6
        town[away & same_region] = random_town(rng, people.region[member[away & same_region]])
        elsewhere = away & ~same_region
        town[elsewhere] = rng.integers(0, len(TOWN_NAMES), int(elsewhere.sum()))
        return Traffic.rows(member, time, amount, invoice, self._device(member, time), town)

    def oddities(self) -> Traffic:
        """Legitimate payments that look unusual in one or two of the five features."""
        rng, people, anchor = self.rng, self.people, self.anchor
        parts = []
        active = np.flatnonzero(self.count > 0)

        # A double tap: the same amount twice, seconds apart.
        tappers = active[rng.random(active.size) < 0.015]
        t = self._time_in_window(tappers)
        amount = np.rint(self.typical[tappers] * rng.lognormal(0, 0.5, tappers.size))
        for offset in (0, 1):
            when = np.minimum(
                t + offset * (3 * SECOND + (rng.random(tappers.size) * 20 * SECOND).astype(np.int64)), anchor - SECOND
            )
            parts.append(
                Traffic.rows(tappers, when, amount, False, self._device(tappers, when, 0), people.town[tappers])
            )

        # A shopkeeper's market rush: 3-7 invoices within a minute or so, 1-3 times.
        merchants = active[self.merchant[active]]
        rushes = np.repeat(merchants, rng.integers(1, 4, merchants.size))
        size = rng.integers(3, 8, rushes.size)
        rows_member = np.repeat(rushes, size)
        start = np.repeat(self._time_in_window(rushes), size)
        spread = np.repeat(rng.uniform(20, 90, rushes.size), size)
        when = np.minimum(start + (rng.random(rows_member.size) * spread * SECOND).astype(np.int64), anchor - SECOND)
        amount = np.rint(self.typical[rows_member] * rng.lognormal(0, 0.5, rows_member.size))
        parts.append(
            Traffic.rows(rows_member, when, amount, True, self._device(rows_member, when, 0), people.town[rows_member])
        )

        # Rent, school fees, a baptism or a wedding: one big payment at home.
        big = active[rng.random(active.size) < 0.025]
        when = self._time_in_window(big)
        amount = np.rint(self.typical[big] * _log_uniform(rng, 8, 60, big.size))
        parts.append(Traffic.rows(big, when, amount, False, self._device(big, when), people.town[big]))

        parts.extend(self._holidays(active))
        return Traffic.concat(parts)

    def _holidays(self, active: np.ndarray) -> list[Traffic]:
        """Feast-day spending in the days before Korité, Tabaski and the Magal (pilgrims pay from Touba)."""
        rng, people, anchor = self.rng, self.people, self.anchor
        touba = TOWN_NAMES.index(names.MAGAL_TOWN)
        parts = []
        for holiday, day in names.HOLIDAYS:
            noon = to_micros_date(day) + 12 * HOUR
            if not (self.start.min() < noon - 3 * DAY and noon < anchor):
                continue
            there = active[(self.start[active] < noon - 3 * DAY) & (rng.random(active.size) < 0.10)]
            spenders = np.repeat(there, rng.integers(1, 3, there.size))
            when = noon - (rng.uniform(0, 3, spenders.size) * DAY).astype(np.int64)
            when = when - when % DAY + _time_of_day(rng, spenders.size)
            when = np.minimum(when, anchor - SECOND)
            amount = np.rint(self.typical[spenders] * _log_uniform(rng, 5, 40, spenders.size))
            town = people.town[spenders].copy()
            device = self._device(spenders, when)
            if holiday == "magal":
                pilgrim = rng.random(spenders.size) < 0.3
                town[pilgrim] = touba
                borrowed = pilgrim & (rng.random(spenders.size) < 0.05)
                device[borrowed] = spenders[borrowed] * DEVICE_SLOTS + BORROWED
            parts.append(Traffic.rows(spenders, when, amount, False, device, town))
        return parts

    def fraud(self, *, incident_rate: float) -> Traffic:
        """Inject fraud incidents into the accounts of randomly chosen members with some history."""
        rng, people, anchor = self.rng, self.people, self.anchor
        eligible = np.flatnonzero((self.count >= 5) & (self.span > 7 * DAY))
        incidents = min(eligible.size, int(rng.binomial(people.n, incident_rate)))
        if incidents == 0:
            return Traffic.empty()
        victim = rng.choice(eligible, size=incidents, replace=False)
        pattern = rng.choice(len(FRAUD_PATTERNS), size=incidents, p=FRAUD_PATTERN_WEIGHTS)
        pattern[: min(incidents, len(FRAUD_PATTERNS))] = np.arange(min(incidents, len(FRAUD_PATTERNS)))
        begin = self.start[victim] + (rng.uniform(0.25, 1.0, incidents) * self.span[victim]).astype(np.int64)
        begin = np.minimum(begin, anchor - 2 * HOUR)
        # Thieves favour the night; bursts and repeats come from scripts at any hour.
        begin = begin - begin % DAY + _time_of_day(rng, incidents, np.ones(24) + np.r_[np.full(6, 2.0), np.zeros(18)])
        begin = np.minimum(begin, anchor - 2 * HOUR)

        size = np.select(
            [pattern == 0, pattern == 1, pattern == 2],
            [rng.integers(1, 4, incidents), rng.integers(8, 21, incidents), rng.integers(4, 11, incidents)],
            rng.integers(4, 11, incidents),
        )
        inc = np.repeat(np.arange(incidents), size)
        member = victim[inc]
        kind = pattern[inc]
        n = inc.size
        gap_seconds = np.select(
            [kind == 0, kind == 1, kind == 2],
            [rng.uniform(60, 900, n), rng.uniform(0.5, 5.0, n), rng.uniform(2, 8, n)],
            rng.uniform(180, 720, n),
        )
        gap_seconds[repeat_ranks(size) == 0] = 0
        offsets = (_group_cumsum(gap_seconds, size) * SECOND).astype(np.int64)
        # A burst must fit in one minute: squeeze the slow ones.
        squeeze = np.minimum(1.0, 55 * SECOND / np.maximum(_group_max(offsets, size), 1))
        offsets = np.where(kind == 1, (offsets * squeeze).astype(np.int64), offsets)
        time = np.minimum(begin[inc] + offsets, anchor - SECOND)

        typical = self.typical[member]
        repeated = np.rint(self.typical[victim] * _log_uniform(rng, 1, 6, incidents))[inc]
        amount = np.select(
            [kind == 0, kind == 1, kind == 2],
            [
                np.rint(typical * _log_uniform(rng, 10, 100, n)),
                np.rint(typical * rng.lognormal(0, 0.4, n)),
                repeated,
            ],
            np.rint(settings.FRAUD_STRUCTURING_LIMIT_SATS * rng.uniform(0.86, 0.995, n)),
        )
        thief_device = people.n * DEVICE_SLOTS + np.arange(incidents)
        burst_stolen = rng.random(incidents) < 0.3  # some bursts come from a stolen session on a new device
        device = np.where(
            (kind == 0) | ((kind == 1) & burst_stolen[inc]),
            thief_device[inc],
            member * DEVICE_SLOTS + USUAL,
        )
        far_region = (people.region[victim] + rng.integers(1, len(REGION_CODES), incidents)) % len(REGION_CODES)
        far_town = random_town(rng, far_region)
        town = np.where(kind == 0, far_town[inc], people.town[member])
        return Traffic.rows(member, time, amount, kind == 1, device, town, kind)


def _group_max(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Return, for each element, the maximum of its group (groups given by their sizes, in order)."""
    if values.size == 0:
        return values
    starts = np.cumsum(counts) - counts
    return np.repeat(np.maximum.reduceat(values, starts[counts > 0]), counts[counts > 0])


def to_micros_date(day: dt.date) -> int:
    """Return midnight UTC (= Dakar) of a date as microseconds since the epoch."""
    return to_micros(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC))


def payments_build(
    *,
    seed: int,
    people: People,
    anchor: int,
    per_member: float,
    window_days: int,
    fraud_incident_rate: float,
    progress: Progress | None = None,
) -> int:
    """Draw and store the payments of the world; return how many."""
    rng = stage_rng(seed, STAGE_PAYMENTS)
    world = PaymentWorld(rng, people, anchor, per_member=per_member, window_days=window_days)
    traffic = Traffic.concat([world.everyday(), world.oddities(), world.fraud(incident_rate=fraud_incident_rate)])
    order = np.lexsort((traffic.time, traffic.member))
    traffic = Traffic(*(getattr(traffic, f)[order] for f in Traffic.__dataclass_fields__))
    n = traffic.member.size

    device_codes = max(people.n * DEVICE_SLOTS, int(traffic.device.max(initial=0)) + 1)
    device_hex = rng.bytes(6 * device_codes).hex()
    device_names = np.array([f"dev-{device_hex[i : i + 12]}" for i in range(0, 12 * device_codes, 12)], dtype=object)
    patterns = np.array(("", *FRAUD_PATTERNS), dtype=object)
    return rows_insert(
        model=Payment,
        columns={
            "id": uuid4_bytes(rng, n),
            "member": people.ids[traffic.member],
            "kind": np.where(traffic.invoice, Payment.Kind.INVOICE, Payment.Kind.PAYMENT).astype(object),
            "amount_sats": traffic.amount,
            "device_id": device_names[traffic.device],
            "location": TOWN_SLUGS[traffic.town],
            "status": np.where(
                traffic.time >= anchor - 10 * 60 * SECOND, Payment.Status.PENDING, Payment.Status.SETTLED
            ).astype(object),
            "created_at": traffic.time,
            "is_fraud_label": traffic.pattern >= 0,
            "fraud_pattern": patterns[traffic.pattern + 1],
        },
        progress=progress,
    )
