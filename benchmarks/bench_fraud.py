"""Fraud figures: the check API through the full stack, batch-check, model latency, holdout quality."""

from __future__ import annotations

import json
import time

import numpy as np

from benchmarks.common import Figure, time_calls

SEED_BODY = {
    "user_id": "test-user",
    "amount_sats": 1_000_000,
    "time_since_last_sec": 5,
    "invoices_last_min": 10,
    "device_changes": 3,
    "location_changes": 2,
}
ORDINARY = {**SEED_BODY, "amount_sats": 12_000, "time_since_last_sec": 86_400, "invoices_last_min": 0}


def _ensure_model():
    """Serve the shipped model; without one, train a small one on a synthetic world (noted in figures)."""
    from sunusav.ml.registry import registry

    loaded = registry.get_active("fraud")
    if loaded is not None:
        return loaded, "shipped"
    import tempfile
    from pathlib import Path

    from django.conf import settings

    from fraud.training import fraud_model_train
    from tests.fraud.synthetic import synthetic_world

    settings.ML_ARTIFACTS_DIR = Path(tempfile.mkdtemp(prefix="fraud-bench-"))
    synthetic_world(members=300, seed=11, fraud_members=60)
    fraud_model_train(activate=True)
    registry.invalidate()
    return registry.get_active("fraud"), "synthetic (no shipped model)"


def _model_latency() -> list[Figure]:
    from sklearn.ensemble import IsolationForest

    from fraud.forest import NumpyForest, OnnxForest, forest_arrays, onnx_bytes

    rng = np.random.default_rng(0)
    x = rng.lognormal(size=(20_000, 5))
    forest = IsolationForest(n_estimators=200, max_samples=256, random_state=0).fit(x)
    arrays = forest_arrays(forest)
    forms = {
        "onnxruntime TreeEnsemble node": OnnxForest(
            onnx_bytes(arrays), n_features=5, denominator=float(arrays["denominator"])
        ).score_samples,
        "numpy arrays, vectorised over trees": NumpyForest(arrays).score_samples,
        "scikit-learn score_samples": forest.score_samples,
    }
    row = x[:1]
    batch = x[:10_000]
    figures = []
    for name, fn in forms.items():
        timing = time_calls(lambda fn=fn: fn(row), n=200 if "scikit" in name else 5000, warmup=20)
        started = time.perf_counter()
        fn(batch)
        rows_per_s = len(batch) / (time.perf_counter() - started)
        figures.append(
            Figure(
                name=f"fraud model, one row: {name}",
                p50=timing["p50"],
                p99=timing["p99"],
                throughput=rows_per_s,
                throughput_unit="rows/s (batch of 10k)",
                n=timing["n"],
                goal="microseconds a row, same scores as scikit-learn (<=1e-6)",
                notes="200 trees, max_samples 256",
            )
        )
    return figures


def run() -> list[Figure]:
    from django.conf import settings
    from django.test import Client

    loaded, origin = _ensure_model()
    client = Client(HTTP_X_INTERNAL_TOKEN=settings.AI_INTERNAL_TOKENS[0])
    body = json.dumps(SEED_BODY)
    errors = 0

    def check():
        nonlocal errors
        response = client.post("/api/fraud/check", data=body, content_type="application/json")
        errors += response.status_code != 200

    single = time_calls(check, n=3000, warmup=200)
    figures = [
        Figure(
            name="POST /api/fraud/check (in-process, full stack + audit write)",
            p50=single["p50"],
            p99=single["p99"],
            throughput=single["throughput"],
            n=single["n"],
            errors=errors,
            goal="p50 <= 1 ms, p99 <= 3 ms",
            seed_target="< 50 ms",
            met=single["p50"] <= 1 and single["p99"] <= 3 and not errors,
            notes=f"model {loaded.version if loaded else None} ({origin}, serving {loaded.model.serving if loaded else '-'})",
        )
    ]
    items = json.dumps({"items": [SEED_BODY if i % 20 == 0 else ORDINARY for i in range(1000)]})
    batch_errors = 0

    def batch():
        nonlocal batch_errors
        response = client.post("/api/fraud/batch-check", data=items, content_type="application/json")
        batch_errors += response.status_code != 200

    timing = time_calls(batch, n=40, warmup=5)
    figures.append(
        Figure(
            name="POST /api/fraud/batch-check, 1000 items (in-process, + 1000 audit rows)",
            p50=timing["p50"],
            p99=timing["p99"],
            throughput=timing["throughput"] * 1000,
            throughput_unit="items/s",
            n=timing["n"],
            errors=batch_errors,
            goal="<= 30 ms",
            met=timing["p50"] <= 30 and not batch_errors,
        )
    )
    figures += _model_latency()
    metrics = (loaded.manifest.get("metrics") or {}) if loaded else {}
    if metrics:
        recall, precision = metrics.get("recall") or 0, metrics.get("precision") or 0
        figures.append(
            Figure(
                name="fraud hold decision on the labeled holdout (test half, by member)",
                unit="",
                value=recall,
                goal="recall >= 0.95 at precision >= 0.90",
                seed_target="95%+ accuracy",
                met=recall >= 0.95 and precision >= 0.90,
                notes=f"recall {recall}, precision {precision}, FPR {metrics.get('fpr')}, PR-AUC {metrics.get('pr_auc')}, "
                f"n={metrics.get('n')} ({metrics.get('n_fraud')} fraud), data: {origin}",
                extra={"per_pattern": metrics.get("per_pattern"), "best": metrics.get("best_recall_at_precision_0_90")},
            )
        )
    return figures
