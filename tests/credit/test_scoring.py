"""The model and its fallback: good members score well, monotone, batch = single, fallback flagged."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credit import scoring
from credit.features import FEATURES
from credit.scoring import RULES_VERSION, bands_of, rules_score, score_matrix
from sunusav.ml.registry import registry

pytestmark = pytest.mark.django_db

SEED_MEMBER = {
    "tontine_contributions": 50_000,
    "punctuality_rate": 0.9,
    "contributions_count": 10,
    "mobile_tx_volume": 100_000,
    "avg_payment_delay_days": 1,
    "community_endorsements": 5,
}


def _row(features: dict) -> np.ndarray:
    return np.array([[features[name] for name in FEATURES]], dtype=float)


def test_seed_member_scores_in_a_good_band_with_the_model(trained_model):
    prediction = score_matrix(_row(SEED_MEMBER)).prediction(0)
    assert prediction.fallback is False
    assert prediction.model_version == trained_model.manifest["version"]
    assert prediction.band in {"A", "B"}
    assert 0 <= prediction.score <= 1 and prediction.score == round(prediction.score, 3)
    assert 0 <= prediction.confidence <= 1


def test_seed_member_scores_in_a_good_band_with_the_rules():
    prediction = score_matrix(_row(SEED_MEMBER)).prediction(0)
    assert prediction.fallback is True and prediction.model_version == RULES_VERSION
    assert prediction.band in {"A", "B"}


def test_a_poor_record_scores_low_with_reasons(trained_model):
    poor = {**SEED_MEMBER, "punctuality_rate": 0.2, "avg_payment_delay_days": 9, "community_endorsements": 0}
    prediction = score_matrix(_row(poor)).prediction(0)
    assert prediction.band in {"D", "E"}
    codes = [r["code"] for r in prediction.reasons]
    assert "LOW_PUNCTUALITY" in codes
    assert all(r["impact"] < 0 and r["fr"] and r["en"] for r in prediction.reasons)


def test_bands_cover_the_scale():
    assert bands_of(np.array([0.95, 0.85, 0.7, 0.55, 0.1, 0.9, 0.5])) == ["A", "B", "C", "D", "E", "A", "D"]


def test_few_and_many_rows_get_the_same_bands():
    scores = np.array([1.0, 0.9, 0.899, 0.8, 0.799, 0.65, 0.649, 0.5, 0.499, 0.0])
    many = bands_of(scores)  # the numpy path
    assert [bands_of(scores[i : i + 1])[0] for i in range(len(scores))] == many  # the few-rows path


rows = st.fixed_dictionaries(
    {
        "tontine_contributions": st.floats(0, 500_000),
        "punctuality_rate": st.floats(0, 1),
        "contributions_count": st.integers(0, 60),
        "mobile_tx_volume": st.floats(0, 2_000_000),
        "avg_payment_delay_days": st.floats(0, 60),
        "community_endorsements": st.integers(0, 20),
    }
)


@pytest.fixture(scope="module")
def module_model(django_db_setup, django_db_blocker, tmp_path_factory):
    """Load one small model straight from its files (no database) for the property test."""
    import json

    from credit.training import Dataset, fit_booster, fit_calibration, split_indices
    from tests.credit.conftest import synthetic_rows

    X, defaulted = synthetic_rows(1500, seed=3)
    data = Dataset(X=X, y=1 - defaulted, times=None, source="test")
    train, calib, _, _ = split_indices(data)
    booster, _ = fit_booster(X[train], data.y[train], X[calib], data.y[calib], rounds=60)
    calibration = fit_calibration(booster.predict(X[calib], raw_score=True), data.y[calib])
    json.dumps(calibration)
    return scoring.CreditModel(booster=booster, calibration=calibration, features=FEATURES, version="t")


@settings(max_examples=150, deadline=None)
@given(row=rows, step=st.floats(0.01, 1.0))
def test_more_punctuality_or_endorsements_never_lower_and_more_delay_never_raises(module_model, row, step):
    for model_scores in (module_model.scores, rules_score):
        base = model_scores(_row(row))[0]
        better_punctuality = {**row, "punctuality_rate": min(1.0, row["punctuality_rate"] + step)}
        more_endorsements = {**row, "community_endorsements": row["community_endorsements"] + 1}
        more_delay = {**row, "avg_payment_delay_days": row["avg_payment_delay_days"] + step * 10}
        assert model_scores(_row(better_punctuality))[0] >= base - 1e-12
        assert model_scores(_row(more_endorsements))[0] >= base - 1e-12
        assert model_scores(_row(more_delay))[0] <= base + 1e-12


def test_batch_and_single_agree(trained_model):
    from tests.credit.conftest import synthetic_rows

    X, _ = synthetic_rows(200, seed=11)
    batch = score_matrix(X, reasons=True)
    for i in range(0, 200, 17):
        single = score_matrix(X[i : i + 1]).prediction(0)
        assert single == batch.prediction(i)


def test_scores_from_contributions_equal_the_predicted_margin(trained_model):
    # With reasons for every row, the score comes from the sum of TreeSHAP
    # contributions (one LightGBM call); it must equal the margin's score.
    from tests.credit.conftest import synthetic_rows

    X, _ = synthetic_rows(500, seed=12)
    model = registry.get_active(scoring.MODEL_NAME).model
    combined, contrib = model.scores_and_contributions(X)
    np.testing.assert_allclose(combined, model.scores(X), rtol=0, atol=1e-9)
    np.testing.assert_array_equal(score_matrix(X, reasons=True).scores, score_matrix(X, reasons=False).scores)
    assert contrib.shape == (500, len(FEATURES) + 1)


def test_missing_artifact_falls_back_and_health_is_degraded(trained_model, artifacts_dir):
    import shutil

    shutil.rmtree(artifacts_dir / "credit" / trained_model.manifest["version"])
    registry.invalidate()
    prediction = score_matrix(_row(SEED_MEMBER)).prediction(0)
    assert prediction.fallback is True and prediction.model_version == RULES_VERSION
    assert registry.status("credit")["status"] == "degraded"


def test_corrupt_model_file_falls_back(trained_model, artifacts_dir):
    (artifacts_dir / "credit" / trained_model.manifest["version"] / "model.txt").write_text("not a model")
    registry.invalidate()
    assert score_matrix(_row(SEED_MEMBER)).prediction(0).fallback is True
    assert registry.status("credit")["status"] == "degraded"


def test_model_that_fails_at_predict_is_marked_failed_and_rules_answer(trained_model):
    loaded = registry.get_active("credit")
    loaded.model.calibration["method"] = "broken"  # what a bad artifact does at predict time
    prediction = score_matrix(_row(SEED_MEMBER)).prediction(0)
    assert prediction.fallback is True
    status = registry.status("credit")
    assert status["status"] == "degraded" and "predict failed" in status["error"]
