"""The back-office's django-q2 job: train a model on request ("Réentraîner maintenant").

Thin, like every job: it calls the model's training service. Run twice (a
redelivery after a worker died), it registers one more immutable version,
activated only if it beats the active one, as any training run.
"""

from __future__ import annotations


def model_train(name: str, activated_by: str) -> dict:
    """Train model `name` from the database; return a JSON-able summary of the new version."""
    if name == "credit":
        from credit.training import credit_model_train, dataset_from_db

        data = dataset_from_db()
        result = credit_model_train(data=data, activated_by=activated_by)
        metrics = result.manifest.get("metrics", {})
        return {
            "model": name,
            "version": result.manifest["version"],
            "activated": bool(result.activated),
            "why": result.reason,
            "rows": len(data.y),
            "metrics": {"auc": metrics.get("auc")},
        }
    if name == "fraud":
        from fraud.training import fraud_model_train

        summary = fraud_model_train(activated_by=activated_by)
        metrics = summary.get("metrics", {})
        return {
            "model": name,
            "version": summary["version"],
            "activated": bool(summary["activated"]),
            "why": summary["why"],
            "rows": (summary.get("counts") or {}).get("fit"),
            "metrics": {k: metrics.get(k) for k in ("pr_auc", "fpr") if k in metrics},
        }
    raise ValueError(f"unknown model {name!r}")
