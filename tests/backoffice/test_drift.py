"""PSI against hand-computed numbers, training references, the daily job, and alert volume vs capacity."""

import datetime as dt

import numpy as np
import pytest
from django.utils import timezone

from alerts.models import AIAlert, AIMetric
from backoffice.drift import alert_capacity_summary, drift_compute, drift_summary
from credit.features import FEATURES as CREDIT_FEATURES
from fraud.features import FEATURES as FRAUD_FEATURES
from sunusav.ml.drift import PSI_EPSILON, bin_counts, psi, reference_of
from tests.credit.conftest import synthetic_rows

pytestmark = pytest.mark.django_db


def test_psi_matches_a_hand_computed_example():
    # expected 25 % / 25 % / 50 %, actual 50 % / 25 % / 25 %:
    # (0.50 - 0.25) ln(0.50 / 0.25) + 0 + (0.25 - 0.50) ln(0.25 / 0.50)
    # = 0.25 x 0.693147 + 0.25 x 0.693147 = 0.346574
    assert psi([0.25, 0.25, 0.5], [0.5, 0.25, 0.25]) == pytest.approx(0.346574, abs=1e-6)
    # Counts work as well as shares (each divided by its own total).
    assert psi([25, 25, 50], [10, 5, 5]) == pytest.approx(0.346574, abs=1e-6)
    assert psi([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0.0


def test_psi_floors_an_empty_bin_at_epsilon():
    # expected 50 / 50 / 0 (floored to 0.0001), actual 40 / 40 / 20:
    # 2 x (0.4 - 0.5) ln(0.4 / 0.5) = 2 x 0.0223144 = 0.0446287
    # (0.2 - 0.0001) ln(0.2 / 0.0001) = 0.1999 x 7.600902 = 1.519420
    # total 1.564049
    assert PSI_EPSILON == 1e-4
    assert psi([0.5, 0.5, 0.0], [0.4, 0.4, 0.2]) == pytest.approx(1.564049, abs=1e-5)


def test_reference_bins_are_training_deciles_and_merge_repeated_edges():
    ref = reference_of(np.arange(1, 101, dtype=float))
    assert len(ref["edges"]) == 9 and ref["n"] == 100
    assert ref["proportions"] == [0.1] * 10
    # A feature with three values gets three bins, not ten.
    few = reference_of(np.array([0.0] * 50 + [1.0] * 30 + [2.0] * 20))
    assert few["edges"] == [0.0, 1.0, 2.0]
    assert few["proportions"] == [0.0, 0.5, 0.3, 0.2]
    assert bin_counts([-1, 0, 0.5, 1, 5], few["edges"]).tolist() == [1, 2, 1, 1]


def test_training_writes_reference_distributions_in_both_model_cards(trained_model, fraud_artifacts):
    credit_ref = trained_model.manifest["reference_distribution"]
    assert set(credit_ref["features"]) == set(CREDIT_FEATURES)
    assert credit_ref["score"]["n"] == trained_model.manifest["training_data"]["rows"]
    fraud_ref = fraud_artifacts[1]["reference_distribution"]
    assert set(fraud_ref["features"]) == set(FRAUD_FEATURES)
    for ref in [*credit_ref["features"].values(), credit_ref["score"], *fraud_ref["features"].values()]:
        assert sum(ref["proportions"]) == pytest.approx(1.0, abs=1e-4)
        assert len(ref["proportions"]) == len(ref["edges"]) + 1


def _prediction_rows(rows: np.ndarray, version: str, *, when=None):
    when = when or timezone.now() - dt.timedelta(hours=2)
    AIMetric.objects.bulk_create(
        [
            AIMetric(
                metric_key="credit_prediction",
                metric_value=0.7,
                meta={"features": dict(zip(CREDIT_FEATURES, map(float, row), strict=True)), "model_version": version},
                created_at=when,
            )
            for row in rows
        ]
    )


def test_daily_job_stores_psi_per_feature_and_window_and_warns_above_025(trained_model):
    version = trained_model.manifest["version"]
    reference = trained_model.manifest["reference_distribution"]
    X, _ = synthetic_rows(400, seed=3)
    shifted = X.copy()
    shifted[:, CREDIT_FEATURES.index("punctuality_rate")] = 0.1  # the whole day's traffic is late payers
    _prediction_rows(shifted, version)  # within the last day (and week)
    _prediction_rows(X, version, when=timezone.now() - dt.timedelta(days=3))  # only in the week

    assert drift_compute()["credit"] == "computed"
    assert drift_compute()["credit"] == "already-done"  # once per model version and day
    rows = list(AIMetric.objects.filter(metric_key="psi", meta__model="credit"))
    assert len(rows) == 2 * (len(CREDIT_FEATURES) + 1)  # each feature and the score, day and week

    def stored(feature, window):
        [row] = [r for r in rows if r.meta["feature"] == feature and r.meta["window"] == window]
        return row

    for feature in CREDIT_FEATURES:
        ref = reference["features"][feature]
        i = CREDIT_FEATURES.index(feature)
        day = psi(ref["proportions"], bin_counts(shifted[:, i], ref["edges"]))
        week = psi(ref["proportions"], bin_counts(np.r_[shifted[:, i], X[:, i]], ref["edges"]))
        assert float(stored(feature, "day").metric_value) == pytest.approx(day, abs=1e-3)
        assert float(stored(feature, "week").metric_value) == pytest.approx(week, abs=1e-3)
        assert stored(feature, "day").meta["n"] == 400 and stored(feature, "week").meta["n"] == 800
    # Every score row says 0.7: one bin holds it all.
    score_ref = reference["score"]
    assert float(stored("score", "day").metric_value) == pytest.approx(
        psi(score_ref["proportions"], bin_counts(np.full(400, 0.7), score_ref["edges"])), abs=1e-3
    )

    summary = drift_summary()
    assert summary["threshold"] == 0.25
    credit = summary["models"]["credit"]
    assert credit["status"] == "ok" and credit["model_version"] == version
    assert set(credit["values"]) == {*CREDIT_FEATURES, "score"}
    warned = {(w["feature"], w["window"]) for w in summary["warnings"] if w["model"] == "credit"}
    assert ("punctuality_rate", "day") in warned
    assert ("tontine_contributions", "day") not in warned  # same population as training
    assert all(w["value"] > 0.25 for w in summary["warnings"])
    assert summary["models"]["fraud"]["status"] == "no_model"


def test_fraud_checks_are_compared_with_the_fraud_reference(fraud_model, fraud_artifacts, api_client):
    from tests.fraud.conftest import ORDINARY

    for amount in (5_000, 12_000, 30_000):
        assert (
            api_client.post("/api/fraud/check", {**ORDINARY, "amount_sats": amount}, format="json").status_code == 200
        )
    assert drift_compute()["fraud"] == "computed"
    fraud = drift_summary()["models"]["fraud"]
    assert fraud["n"]["amount_sats"] == {"day": 3, "week": 3}
    assert fraud["n"]["score"]["day"] == 3
    assert all(v is not None for window in fraud["values"].values() for v in window.values())


def test_artifacts_without_reference_say_so(settings):
    # The shipped credit model was trained before reference distributions existed; the fraud model since.
    from django.conf import settings as django_settings

    from sunusav.ml.lifecycle import artifacts_sync

    settings.ML_ARTIFACTS_DIR = django_settings.BASE_DIR / "ml_artifacts"
    artifacts_sync()
    assert drift_compute() == {"credit": "no_reference", "fraud": "computed"}
    summary = drift_summary()
    assert summary["models"]["credit"]["status"] == "no_reference"
    assert summary["warnings"] == []


def test_no_traffic_is_a_state_not_a_value(trained_model):
    drift_compute()
    credit = drift_summary()["models"]["credit"]
    assert credit["status"] == "no_traffic"
    assert all(v is None for window in credit["values"].values() for v in window.values())


def test_alert_volume_against_analyst_capacity(settings):
    settings.ANALYST_DAILY_CAPACITY = 2
    for _ in range(3):
        AIAlert.objects.create(alert_type="fraud_suspect", payload={})
    now = timezone.now()
    AIAlert.objects.create(alert_type="credit_offer", payload={}, created_at=now - dt.timedelta(days=1))
    AIAlert.objects.create(alert_type="credit_offer", payload={}, created_at=now - dt.timedelta(days=30))

    summary = alert_capacity_summary(days=7, now=now)
    assert summary["capacity"] == 2 and summary["total"] == 4
    assert [d["alerts"] for d in summary["days"]][-2:] == [1, 3]
    assert summary["days"][-1]["by_type"] == {"fraud_suspect": 3}
    assert summary["days"][-1]["over_capacity"] and summary["days_over_capacity"] == 1
    assert not summary["over_capacity"]  # 4 alerts in 7 days: under 2 a day on average
    assert "1 jour(s) sur 7" in summary["message"]

    settings.ANALYST_DAILY_CAPACITY = 0
    assert alert_capacity_summary(days=1, now=now)["over_capacity"]
