"""The demo world's honest segments and fraud typologies: each appears, with the behaviour that defines it."""

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from backoffice.demo.generator import (
    AGENT_CEILING_SATS,
    FEAST_DAYS,
    FRAUD_PATTERNS,
    HONEST_SEGMENTS,
    TRAVEL_ROUTE,
    world_build,
)
from sunusav.models import Membership, Payment, Tontine

pytestmark = pytest.mark.django_db

ANCHOR = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def world():
    world_build(members=800, seed=11, anchor=ANCHOR)
    rows = list(
        Payment.objects.order_by("created_at", "id").values_list(
            "member_id",
            "created_at",
            "kind",
            "amount_sats",
            "device_id",
            "location",
            "fraud_pattern",
            "segment",
            "is_fraud_label",
        )
    )
    by_member = defaultdict(list)
    for row in rows:
        by_member[row[0]].append(row)
    return rows, by_member


def _ordinary_median(history):
    return float(np.median([r[3] for r in history if r[7] == "" and r[6] == ""] or [r[3] for r in history]))


def test_every_segment_and_typology_appears_and_the_truths_never_mix(world):
    rows, _ = world
    assert {r[7] for r in rows} - {""} == set(HONEST_SEGMENTS)
    assert {r[6] for r in rows} - {""} == set(FRAUD_PATTERNS)
    assert not [r for r in rows if r[7] and r[8]]  # a segment is honest behaviour, never fraud
    assert all(bool(r[6]) == bool(r[8]) for r in rows)


def test_vendors_invoice_more_at_peak_hours_and_in_quick_succession(world):
    rows, by_member = world
    peak = {8, 9, 10, 11, 12, 17, 18, 19, 20}

    def peak_invoice_rate(selected):
        return sum(1 for r in selected if r[2] == "invoice" and r[1].hour in peak) / len(selected)

    vendors = [r for r in rows if r[7] == "vendor"]
    assert peak_invoice_rate(vendors) > 2 * peak_invoice_rate(rows)
    gaps = []
    for member in {r[0] for r in vendors}:
        times = [r[1] for r in by_member[member] if r[2] == "invoice"]
        gaps += [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    assert np.median(gaps) < 180
    assert np.median([r[3] for r in vendors if r[2] == "invoice"]) < np.median([r[3] for r in rows])


def test_collectors_receive_their_tontines_contributions(world):
    rows, _ = world
    collected = defaultdict(list)
    for r in rows:
        if r[7] == "collector":
            collected[(r[0], r[1].date())].append(r[3])
    assert collected
    contribution_of = dict(Tontine.objects.values_list("id", "contribution_sats"))
    tontines_of = defaultdict(set)
    for tontine_id, member_id in Membership.objects.values_list("tontine_id", "member_id"):
        tontines_of[member_id].add(contribution_of[tontine_id])
    for (member, _), amounts in collected.items():
        assert len(amounts) >= 3  # one invoice per other seat
        assert set(amounts) <= tontines_of[member]  # the tontine's own contribution


def test_a_replaced_phone_is_a_new_device_with_ordinary_amounts(world):
    _, by_member = world
    replaced = [m for m, history in by_member.items() if any(r[7] == "phone_replacement" for r in history)]
    assert replaced
    ratios = []
    for member in replaced:
        history = by_member[member]
        (new_device,) = {r[4] for r in history if r[7] == "phone_replacement"}
        first = next(i for i, r in enumerate(history) if r[4] == new_device)
        # From the change on, every honest payment is on the new phone, which was never seen before.
        assert {r[4] for r in history[first:] if not r[6]} == {new_device}
        assert all(r[7] != "phone_replacement" for r in history[:first])
        before = [r[3] for r in history[:first] if not r[6] and not r[7]]
        after = [r[3] for r in history[first:] if r[7] == "phone_replacement"]
        if before:
            ratios.append(np.median(after) / np.median(before))
    assert 0.5 < np.median(ratios) < 2


def test_travellers_move_between_dakar_touba_and_thies(world):
    rows, by_member = world
    travellers = {r[0] for r in rows if r[7] == "traveller"}
    assert travellers
    for member in travellers:
        places = {r[5] for r in by_member[member] if r[7] == "traveller"}
        assert places <= set(TRAVEL_ROUTE) and len(places) >= 2


def test_salary_and_feast_days_are_peaks_of_larger_payments(world):
    rows, by_member = world
    salary = [r for r in rows if r[7] == "salary_day"]
    assert salary and {r[1].day for r in salary} <= {29, 30, 31, 1}
    assert np.median([r[3] / _ordinary_median(by_member[r[0]]) for r in salary]) > 1.5
    feasts = [r for r in rows if r[7] == "feast_day"]
    feast_dates = set()
    for days_before in FEAST_DAYS.values():
        day = (ANCHOR - timedelta(days=days_before)).date()
        feast_dates |= {day, day - timedelta(days=1)}
    assert {r[1].date() for r in feasts} <= feast_dates
    assert np.median([r[3] / _ordinary_median(by_member[r[0]]) for r in feasts]) > 2
    on_feast = sum(1 for r in rows if r[1].date() in feast_dates) / len(feast_dates)
    assert on_feast > 1.4 * len(rows) / 60  # a peak: well above an average day


def test_a_sim_swap_is_a_new_device_then_at_once_a_large_transfer(world):
    _, by_member = world
    swapped = [m for m, history in by_member.items() if any(r[6] == "sim_swap" for r in history)]
    assert swapped
    for member in swapped:
        history = by_member[member]
        first = next(i for i, r in enumerate(history) if r[6] == "sim_swap")
        assert history[first][4] not in {r[4] for r in history[:first]}  # a device never seen before
        assert history[first][5] in {r[5] for r in history[:first]} or first == 0  # at the usual place
        usual = _ordinary_median(history)
        large = [r for r in history[first + 1 :] if r[6] == "sim_swap"]
        assert large and (large[0][1] - history[first][1]).total_seconds() <= 300
        assert large[0][3] >= 10 * usual


def test_agent_deposits_are_split_under_the_ceiling(world):
    rows, _ = world
    split = defaultdict(list)
    for r in rows:
        if r[6] == "agent_deposit_splitting":
            split[r[0]].append(r[3])
    assert split
    for amounts in split.values():
        assert len(amounts) >= 5
        assert all(0.8 * AGENT_CEILING_SATS <= a < AGENT_CEILING_SATS for a in amounts)


def test_a_mule_chain_passes_the_sum_on_through_tontine_members(world):
    rows, _ = world
    mule_rows = [r for r in rows if r[6] == "mule_chain"]
    assert mule_rows
    tontines_of = defaultdict(set)
    for tontine_id, member_id in Membership.objects.values_list("tontine_id", "member_id"):
        tontines_of[member_id].add(tontine_id)
    mules = defaultdict(list)
    for r in mule_rows:
        mules[r[0]].append(r)
    chained = 0
    for member, own in mules.items():
        own.sort(key=lambda r: r[1])
        received, passed = own[0], own[1]
        assert (received[2], passed[2]) == ("invoice", "payment")
        assert 0.9 * received[3] <= passed[3] < received[3]  # passed on, less a cut
        others = [m for m in mules if m != member and abs((mules[m][0][1] - received[1]).total_seconds()) < 3 * 3600]
        chained += any(tontines_of[member] & tontines_of[m] for m in others)
    assert chained >= 3  # mules of one chain share a tontine
