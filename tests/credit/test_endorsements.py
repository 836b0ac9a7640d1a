"""The endorsement graph: defaults travel along vouches; closed rings are flagged once."""

import datetime as dt
import itertools

import pytest
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.models import AIAlert, AIMetric
from credit.endorsements import (
    endorsement_defaults_propagate,
    endorsement_rings,
    endorsement_rings_flag,
    ring_key,
    rings_of,
    strongly_connected_components,
)
from credit.features import FEATURES, features_for_members
from tests.factories import EndorsementFactory, LoanFactory, MemberFactory

pytestmark = pytest.mark.django_db
E = FEATURES.index("community_endorsements")
NOW = timezone.now()


def _vouch(endorser, endorsee):
    return EndorsementFactory(endorser=endorser, endorsee=endorsee, created_at=NOW - dt.timedelta(days=60))


def _default(member, *, days_ago: float = 10):
    when = NOW - dt.timedelta(days=days_ago)
    return LoanFactory(
        member=member, status="defaulted", offered_at=when - dt.timedelta(days=90), due_at=when, closed_at=when
    )


def test_vouches_from_and_for_defaulters_stop_counting():
    defaulter, endorsee, endorser, bystander = MemberFactory.create_batch(4)
    _vouch(defaulter, endorsee)  # a defaulter's vouch
    _vouch(bystander, endorsee)
    _vouch(endorser, defaulter)  # vouched for a defaulter
    _vouch(bystander, endorser)
    _vouch(MemberFactory(), endorser)
    before = features_for_members([endorsee.pk, endorser.pk, defaulter.pk], as_of=NOW)[:, E].tolist()
    assert before == [2, 2, 1]

    _default(defaulter)
    after = features_for_members([endorsee.pk, endorser.pk, defaulter.pk], as_of=NOW)[:, E].tolist()
    # endorsee: only the bystander's vouch; endorser: 2 received - 1 defaulter vouched for; defaulter keeps its own.
    assert after == [1, 1, 1]


def test_never_below_zero_and_only_defaults_in_the_year_before_as_of():
    endorser = MemberFactory()
    for _ in range(2):
        _default(defaulter := MemberFactory())  # two defaulters vouched for, no vouch received
        _vouch(endorser, defaulter)
    assert features_for_members([endorser.pk], as_of=NOW)[0, E] == 0

    old, future = MemberFactory(), MemberFactory()
    _default(old, days_ago=400)  # more than a year ago: cleared
    _default(future, days_ago=10)
    member = MemberFactory()
    _vouch(old, member)
    _vouch(future, member)
    # Scored now, the recent default counts; as of 30 days ago (a training row), it had not happened yet.
    assert features_for_members([member.pk], as_of=NOW)[0, E] == 1
    assert features_for_members([member.pk], as_of=NOW - dt.timedelta(days=30))[0, E] == 2


def test_a_default_enqueues_credit_checks_of_its_neighbours_once(monkeypatch, django_capture_on_commit_callbacks):
    calls = []
    monkeypatch.setattr("credit.endorsements.credit_checks_enqueue", lambda **k: calls.append(set(k["member_ids"])))
    defaulter, endorser, endorsee, stranger = MemberFactory.create_batch(4)
    _vouch(endorser, defaulter)
    _vouch(defaulter, endorsee)
    _vouch(stranger, endorser)
    loan = _default(defaulter, days_ago=1)
    _default(MemberFactory(), days_ago=30)  # outside the lookback: the nightly scoring sees it already

    assert endorsement_defaults_propagate() == 2
    assert calls == [{endorser.pk, endorsee.pk}]
    assert endorsement_defaults_propagate() == 0  # once per loan
    assert len(calls) == 1
    assert AIMetric.objects.get(metric_key="endorsement_default").meta["loan_id"] == str(loan.pk)


# --- Rings ---------------------------------------------------------------------------------------


def test_rings_are_closed_strongly_connected_groups_of_three_or_more():
    triangle = [("a", "b"), ("b", "c"), ("c", "a")]
    assert rings_of(triangle) == [["a", "b", "c"]]
    assert rings_of([*triangle, ("a", "x")]) == [["a", "b", "c"]]  # vouching outside is allowed
    assert rings_of([*triangle, ("x", "a")]) == []  # an outside vouch opens it
    assert rings_of([("a", "b"), ("b", "a")]) == []  # a pair is not a ring
    assert rings_of([("a", "b"), ("b", "c")]) == []  # a chain is not strongly connected
    square = [("p", "q"), ("q", "r"), ("r", "s"), ("s", "p")]
    assert rings_of([*triangle, *square]) == [["p", "q", "r", "s"], ["a", "b", "c"]]


def _reaches(n, edges):
    reach = [{i} for i in range(n)]
    changed = True
    while changed:
        changed = False
        for u, v in edges:
            if not reach[v] <= reach[u]:
                reach[u] |= reach[v]
                changed = True
    return reach


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 9).flatmap(
        lambda n: st.tuples(st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=25))
    )
)
def test_tarjan_agrees_with_mutual_reachability(graph):
    n, edges = graph
    component = strongly_connected_components(n, edges)
    reach = _reaches(n, edges)
    for u, v in itertools.product(range(n), repeat=2):
        assert (component[u] == component[v]) == (v in reach[u] and u in reach[v])


def test_a_ring_gets_one_review_alert_ever(django_capture_on_commit_callbacks):
    ring = MemberFactory.create_batch(3)
    for a, b in itertools.permutations(ring, 2):
        _vouch(a, b)
    honest = MemberFactory.create_batch(3)
    for a, b in zip(honest, honest[1:] + honest[:1], strict=True):
        _vouch(a, b)
    _vouch(MemberFactory(), honest[0])  # vouched for from outside

    assert endorsement_rings() == [sorted((m.pk for m in ring), key=str)]
    with django_capture_on_commit_callbacks(execute=True):
        assert endorsement_rings_flag() == 1
    alert = AIAlert.objects.get()
    assert alert.alert_type == "fraud_suspect" and alert.user_id is None
    assert alert.payload["kind"] == "endorsement_ring"
    assert alert.payload["member_ids"] == sorted(str(m.pk) for m in ring)
    assert alert.payload["ring_key"] == ring_key(m.pk for m in ring)
    assert alert.payload["endorsements_inside"] == 6 and alert.payload["density"] == 1.0

    assert endorsement_rings_flag() == 0  # idempotent
    AIAlert.objects.filter(pk=alert.pk).update(resolved=True, resolved_at=timezone.now())  # an analyst reviewed it
    assert endorsement_rings_flag() == 0  # reviewed: not raised again
    # A fourth member joins the ring: a different ring, a new alert.
    newcomer = MemberFactory()
    _vouch(newcomer, ring[0])
    _vouch(ring[0], newcomer)
    assert endorsement_rings_flag() == 1
    assert AIAlert.objects.filter(payload__kind="endorsement_ring").count() == 2


def test_every_schedule_names_a_real_task():
    from importlib import import_module

    from sunusav.schedules import SCHEDULES, retrain_schedules

    specs = SCHEDULES + retrain_schedules("weekly")
    daily = {s["name"] for s in specs if s["schedule_type"] == "D" and s["func"].startswith("credit.tasks.")}
    assert {"sunusav:endorsement-defaults", "sunusav:endorsement-rings"} <= daily
    for spec in specs:
        module, name = spec["func"].rsplit(".", 1)
        task = getattr(import_module(module), name)
        assert callable(task), spec["func"]
        if spec["name"] in daily:
            assert task() == 0  # runnable as scheduled, on an empty world
