"""The demo world engine (sunusav.demo.world_seed): reproducible, plausible, learnable, never doubled."""

import datetime as dt
import hashlib
import uuid
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.db import connection
from django.db.models import Count, F

from sunusav.demo import WorldExists, world_seed
from sunusav.demo.payments import FRAUD_PATTERNS
from sunusav.demo.storage import rows_insert, uuid4_bytes, world_models
from sunusav.models import Contribution, Endorsement, Loan, Member, Membership, Payment, Tontine
from sunusav.services import phone_hash

pytestmark = pytest.mark.django_db

ANCHOR = dt.datetime(2026, 11, 1, tzinfo=ZoneInfo("Africa/Dakar"))
MEMBERS = 600


def _seed(members=MEMBERS, seed=3, **kwargs):
    return world_seed(members=members, seed=seed, anchor=ANCHOR, **kwargs)


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for queryset in (
        Member.objects.order_by("id").values_list("id", "display_name", "phone_hash", "region", "created_at"),
        Tontine.objects.order_by("id").values_list("id", "name", "contribution_sats", "cycle", "started_at"),
        Contribution.objects.order_by("id").values_list(
            "id", "tontine_id", "member_id", "round_number", "amount_sats", "due_at", "paid_at"
        ),
        Payment.objects.order_by("id").values_list(
            "id", "member_id", "kind", "amount_sats", "device_id", "location", "created_at", "fraud_pattern"
        ),
        Loan.objects.order_by("id").values_list("id", "member_id", "status", "offered_at", "due_at", "closed_at"),
    ):
        for row in queryset:
            digest.update(repr(row).encode())
    return digest.hexdigest()


def test_same_seed_and_anchor_give_the_same_world_ids_included():
    _seed()
    first = _fingerprint()
    _seed(flush=True)
    assert _fingerprint() == first
    _seed(seed=4, flush=True)
    assert _fingerprint() != first


def test_a_second_run_without_flush_is_refused_and_changes_nothing():
    _seed(members=200)
    counts = [m.objects.count() for m in (Member, Contribution, Payment, Loan)]
    with pytest.raises(WorldExists, match="200 members"):
        _seed(members=200)
    assert [m.objects.count() for m in (Member, Contribution, Payment, Loan)] == counts


def test_flush_replaces_the_world_and_what_hangs_off_it():
    from alerts.models import AIAlert, AIMetric

    _seed(members=200)
    member = Member.objects.first()
    AIAlert.objects.create(user=member, alert_type="credit_offer", payload={})
    AIMetric.objects.create(user=member, metric_key="credit_score", metric_value=0.5)
    summary = _seed(members=300, seed=9, flush=True)
    assert summary.members == Member.objects.count() == 300
    assert not AIAlert.objects.exists() and not AIMetric.objects.exists()
    assert not Payment.objects.exclude(member__in=Member.objects.all()).exists()


def test_distributions_are_plausible():
    s = _seed()
    assert s.members == MEMBERS
    assert Member.objects.filter(phone_hash__regex=r"^[0-9a-f]{64}$").count() == MEMBERS
    assert Member.objects.filter(region="dakar").count() > Member.objects.filter(region="matam").count()

    sizes = list(Membership.objects.values("tontine").annotate(n=Count("id")).values_list("n", flat=True))
    assert min(sizes) >= 5 and max(sizes) <= 30
    positions = Membership.objects.values("tontine").annotate(n=Count("id"), top=Count("position", distinct=True))
    assert all(row["n"] == row["top"] for row in positions)
    assert s.multi_tontine_members > 0.2 * MEMBERS
    assert set(Tontine.objects.values_list("cycle", flat=True)) == {"weekly", "monthly"}
    assert 10 <= s.contributions / MEMBERS <= 30

    assert 0.08 < s.late_share < 0.3
    assert 0.01 < s.missed_share < 0.1
    assert 0.15 < s.late_payer_share < 0.6

    assert 0.3 <= s.borrower_share <= 0.5
    assert 0.08 < s.default_rate < 0.25
    assert {"repaid", "defaulted", "accepted", "offered", "declined"} <= set(s.loans_by_status)

    assert 20 <= s.payments / MEMBERS <= 40
    assert 0.01 < s.fraud_rate < 0.03
    assert set(s.fraud_by_pattern) == set(FRAUD_PATTERNS)
    assert not Payment.objects.filter(is_fraud_label=False).exclude(fraud_pattern="").exists()
    assert not Payment.objects.filter(is_fraud_label=True, fraud_pattern="").exists()
    assert not Payment.objects.filter(is_fraud_label__isnull=True).exists()
    assert Payment.objects.filter(created_at__gte=ANCHOR).count() == 0
    assert Contribution.objects.filter(paid_at__gte=ANCHOR).count() == 0


def test_payments_follow_a_daily_rhythm():
    _seed(members=300)
    hours = np.array(
        [t.hour for t in Payment.objects.filter(is_fraud_label=False).values_list("created_at", flat=True)]
    )
    night = np.isin(hours, [1, 2, 3, 4]).mean()
    midday = np.isin(hours, [12, 13]).mean()
    assert night < 0.03 < 0.1 < midday


def test_fraud_patterns_show_in_the_fraud_features_but_not_perfectly():
    """Each pattern stands out in the features fraud/features.py derives; a few normal payments do too."""
    from fraud.features import FEATURES, features_from_history, history_from_rows

    _seed()
    rows = list(
        Payment.objects.values_list(
            "id", "member_id", "created_at", "kind", "device_id", "location", "amount_sats", "fraud_pattern"
        )
    )
    features = features_from_history(history_from_rows([r[:7] for r in rows]))
    f = {name: features[:, i] for i, name in enumerate(FEATURES)}
    pattern = np.array([r[7] for r in rows], dtype=object)
    normal = pattern == ""

    ato = pattern == "account_takeover"
    assert (f["device_changes"][ato] >= 1).mean() > 0.9 and (f["location_changes"][ato] >= 1).mean() > 0.9
    assert np.median(f["amount_sats"][ato]) > 5 * np.median(f["amount_sats"][normal])
    assert np.percentile(f["invoices_last_min"][pattern == "invoice_burst"], 75) >= 8
    assert np.median(f["time_since_last_sec"][pattern == "rapid_repeat"]) < 10
    assert np.median(f["time_since_last_sec"][pattern == "structuring"]) < 3600

    # Legitimate look-alikes exist, so no feature separates perfectly.
    assert (normal & (f["device_changes"] >= 1) & (f["location_changes"] >= 1)).sum() > 0
    assert (normal & (f["time_since_last_sec"] < 30)).sum() > 0
    assert (normal & (f["invoices_last_min"] >= 3)).sum() > 0


def test_reliable_behaviour_defaults_less_so_credit_has_something_to_learn():
    """Borrowers in the top punctuality quartile default far less often than those in the bottom one."""
    _seed(members=1500)
    on_time, due = {}, {}
    for member_id, due_at, paid_at in Contribution.objects.filter(due_at__lt=ANCHOR).values_list(
        "member_id", "due_at", "paid_at"
    ):
        due[member_id] = due.get(member_id, 0) + 1
        on_time[member_id] = on_time.get(member_id, 0) + (paid_at is not None and paid_at - due_at <= dt.timedelta(2))
    loans = list(Loan.objects.filter(status__in=["repaid", "defaulted"]).values_list("member_id", "status"))
    scored = [(on_time[m] / due[m], s == "defaulted") for m, s in loans if due.get(m)]
    punctuality = np.array([p for p, _ in scored])
    defaulted = np.array([d for _, d in scored])
    low, high = np.quantile(punctuality, [0.25, 0.75])
    bottom, top = defaulted[punctuality <= low].mean(), defaulted[punctuality >= high].mean()
    assert bottom > 2.5 * top
    # Learnable, not given away: the punctual still default sometimes.
    assert top > 0


def test_endorsements_go_to_reliable_members_more_often():
    _seed(members=1500)
    received = dict(Endorsement.objects.values("endorsee").annotate(n=Count("id")).values_list("endorsee", "n"))
    assert not Endorsement.objects.filter(endorser=F("endorsee")).exists()
    missed = dict(
        Contribution.objects.filter(due_at__lt=ANCHOR, paid_at__isnull=True)
        .values("member")
        .annotate(n=Count("id"))
        .values_list("member", "n")
    )
    members = list(Member.objects.values_list("id", flat=True))
    never_missed = [received.get(m, 0) for m in members if missed.get(m, 0) == 0]
    often_missed = [received.get(m, 0) for m in members if missed.get(m, 0) >= 3]
    assert np.mean(never_missed) > 1.2 * np.mean(often_missed)


def test_bulk_rows_are_stored_exactly_as_django_stores_them():
    """Raw inserts must match the ORM's storage form, or text comparisons of dates would drift on SQLite."""
    ids = uuid4_bytes(np.random.default_rng(0), 3)
    moments = [
        dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC),
        dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),  # whole second: Django writes no fraction
        dt.datetime(2025, 12, 31, 23, 59, 59, 1, tzinfo=dt.UTC),
    ]
    micros = np.array([round(m.timestamp() * 1_000_000) for m in moments], dtype=np.int64)
    rows_insert(
        model=Member,
        columns={
            "id": ids,
            "display_name": list("abc"),
            "phone_hash": list("xyz"),
            "region": [""] * 3,
            "created_at": micros,
        },
    )
    Member.objects.create(display_name="orm-a", created_at=moments[0])
    Member.objects.create(display_name="orm-b", created_at=moments[1])
    with connection.cursor() as cursor:
        cursor.execute("SELECT display_name, CAST(id AS TEXT), CAST(created_at AS TEXT) FROM users")
        raw = {name: (pk, at) for name, pk, at in cursor.fetchall()}
    assert raw["a"][1] == raw["orm-a"][1] and raw["b"][1] == raw["orm-b"][1]
    assert len(raw["a"][0]) == len(raw["orm-a"][0])
    stored = dict(Member.objects.values_list("display_name", "created_at"))
    assert [stored[k] for k in "abc"] == moments
    by_name = dict(Member.objects.values_list("display_name", "id"))
    assert [by_name[k] for k in "abc"] == [uuid.UUID(bytes=b.tobytes()) for b in ids]
    assert all(by_name[k].version == 4 for k in "abc") and by_name["a"] < by_name["b"] < by_name["c"]


def test_flush_covers_every_table_that_points_at_members():
    tables = {m._meta.db_table for m in world_models()}
    assert {"users", "tontines", "contributions", "payments", "loans", "ai_alerts", "ai_metrics"} <= tables
    order = [m._meta.db_table for m in world_models()]
    assert order.index("payments") < order.index("users") and order.index("contributions") < order.index("tontines")


def test_phone_hash_is_keyed(settings):
    settings.PHONE_HASH_KEY = "k1"
    first = phone_hash("+221771234567")
    settings.PHONE_HASH_KEY = "k2"
    assert phone_hash("+221771234567") != first and len(first) == 64
