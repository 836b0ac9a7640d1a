"""Services: scores stored exactly, offers follow band and history, never two open offers."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from alerts.models import AIAlert, AIMetric, Notification
from credit import services
from tests.factories import ContributionFactory, MemberFactory, TontineFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("score", [0.0, 0.001, 0.5, 0.8765, 0.999, 1.0])
def test_save_score_round_trips_numeric_4_3(score):
    member = MemberFactory()
    metric = services.score_save(member=member, score=score, confidence=0.71234, model_version="v-test")
    member.refresh_from_db()
    assert member.credit_score == Decimal(f"{round(score, 3):.3f}")
    assert member.credit_score_updated_at is not None
    metric.refresh_from_db()
    assert metric.metric_key == "credit_score" and metric.user_id == member.id
    assert metric.metric_value == pytest.approx(round(score, 3))
    assert metric.meta == {"model_version": "v-test", "confidence": 0.712}


def test_save_score_rejects_out_of_range_and_writes_nothing():
    member = MemberFactory()
    with pytest.raises(ValueError):
        services.score_save(member=member, score=1.2, confidence=0.5, model_version="v")
    member.refresh_from_db()
    assert member.credit_score is None and not AIMetric.objects.exists()


def _history(member, paid_sats: int, rounds: int = 10):
    tontine = TontineFactory()
    for r in range(rounds):
        due = timezone.now() - dt.timedelta(days=7 * (r + 1))
        ContributionFactory(member=member, tontine=tontine, amount_sats=paid_sats // rounds, due_at=due, paid_at=due)


def test_offer_amount_follows_band_and_history(settings):
    assert services.offer_amount_xof(band="A", tontine_contributions_sats=500_000) == 150_000
    assert services.offer_amount_xof(band="C", tontine_contributions_sats=500_000) == 60_000
    assert services.offer_amount_xof(band="A", tontine_contributions_sats=0) == settings.CREDIT_OFFER_MIN_XOF
    assert services.offer_amount_xof(band="A", tontine_contributions_sats=10**9) == settings.CREDIT_OFFER_MAX_XOF
    assert services.offer_amount_xof(band="D", tontine_contributions_sats=500_000) == 0


def test_credit_alert_carries_score_amount_version_and_is_never_duplicated(django_capture_on_commit_callbacks):
    member = MemberFactory()
    _history(member, 500_000)
    alert = services.credit_alert_create(member=member, score=0.93, loan_amount=100_000, model_version="v1")
    assert alert.alert_type == "credit_offer"
    assert alert.payload["score"] == 0.93 and alert.payload["band"] == "A"
    assert alert.payload["offered_amount_xof"] == 100_000 and alert.payload["limit_xof"] == 150_000
    assert alert.payload["model_version"] == "v1"
    again = services.credit_alert_create(member=member, score=0.95, loan_amount=10_000, model_version="v2")
    assert again.pk == alert.pk
    assert AIAlert.objects.filter(user=member, alert_type="credit_offer").count() == 1
    assert Notification.objects.filter(member=member, kind="loan_offer").count() == 1


def test_offer_is_capped_by_history_and_refused_below_band_c():
    member = MemberFactory()
    _history(member, 100_000)
    assert services.credit_alert_create(member=member, score=0.55, loan_amount=10_000) is None
    alert = services.credit_alert_create(member=member, score=0.85, loan_amount=1_000_000)
    assert alert.payload["offered_amount_xof"] == 21_000  # 100,000 sats x 0.6 XOF x 0.35
    assert alert.payload["model_version"] == "rules-v1"


def test_database_refuses_a_second_open_offer_and_the_service_returns_the_winner():
    member = MemberFactory()
    _history(member, 100_000)
    first = services.credit_alert_create(member=member, score=0.9)
    with pytest.raises(IntegrityError), transaction.atomic():
        AIAlert.objects.create(user=member, alert_type="credit_offer", payload={})
    # A resolved offer frees the slot for a new one.
    AIAlert.objects.filter(pk=first.pk).update(resolved=True)
    second = services.credit_alert_create(member=member, score=0.9)
    assert second.pk != first.pk


def test_members_score_writes_scores_and_metrics_and_skips_the_already_scored():
    members = MemberFactory.create_batch(5)
    for m in members[:3]:
        _history(m, 200_000, rounds=5)
    cutoff = timezone.now()
    assert services.members_score(member_ids=[m.id for m in members], cutoff=cutoff, run_id="r1") == 5
    assert services.members_score(member_ids=[m.id for m in members], cutoff=cutoff, run_id="r1") == 0
    scores = {m.id: m.credit_score for m in type(members[0]).objects.all()}
    assert all(s is not None for s in scores.values())
    assert scores[members[0].id] > scores[members[4].id]  # history beats none
    metrics = AIMetric.objects.filter(metric_key="credit_score")
    assert metrics.count() == 5
    assert {m.meta["run_id"] for m in metrics} == {"r1"}
    assert all(m.meta["model_version"] == "rules-v1" and m.meta["fallback"] for m in metrics)
