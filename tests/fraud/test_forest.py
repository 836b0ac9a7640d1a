"""The served forest scores exactly like scikit-learn, in both serving forms."""

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest

from fraud.detectors import load_fraud_model, model_inputs
from fraud.forest import NumpyForest, OnnxForest, forest_arrays, onnx_bytes
from sunusav.ml.registry import artifact_path

ROWS = 100_000


def _rows(seed):
    rng = np.random.default_rng(seed)
    # Spread far beyond the training range and onto exact thresholds' neighbours.
    return rng.lognormal(0, 1.5, size=(ROWS, 5)) * rng.choice([0.1, 1, 10], size=(ROWS, 5))


@pytest.mark.parametrize("max_features", [1.0, 0.6])
def test_onnx_and_numpy_forms_match_sklearn_on_100k_rows(max_features):
    rng = np.random.default_rng(1)
    forest = IsolationForest(n_estimators=100, max_samples=256, max_features=max_features, random_state=3)
    forest.fit(rng.lognormal(size=(5000, 5)))
    arrays = forest_arrays(forest)
    rows = _rows(2)
    # Include the exact float32 split values themselves, where rounding would bite.
    rows[:500, 0] = arrays["threshold"][np.isfinite(arrays["threshold"])][:500].astype(np.float32)
    expected = forest.score_samples(rows)
    onnx_form = OnnxForest(onnx_bytes(arrays), n_features=5, denominator=float(arrays["denominator"]))
    assert np.abs(onnx_form.score_samples(rows) - expected).max() <= 1e-6
    assert np.abs(NumpyForest(arrays).score_samples(rows[:20_000]) - expected[:20_000]).max() <= 1e-12
    served_decision = onnx_form.score_samples(rows[:1000]) - forest.offset_
    assert np.abs(forest.decision_function(rows[:1000]) - served_decision).max() <= 1e-6


def test_shipped_artifact_loads_and_matches_its_forest(fraud_artifacts, settings):
    root, manifest, forest = fraud_artifacts
    settings.ML_ARTIFACTS_DIR = root
    model = load_fraud_model(artifact_path("fraud", manifest["version"]), manifest)
    assert model.serving == "onnx"
    raw = np.abs(_rows(5)) * [1e5, 1e4, 1, 1, 1]
    isolation, probability = model.anomaly(raw)
    assert np.abs(-isolation - forest.score_samples(model_inputs(raw))).max() <= 1e-6
    assert ((probability > 0) & (probability < 1)).all()
