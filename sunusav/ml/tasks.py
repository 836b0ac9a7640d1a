"""The model lifecycle's django-q2 job: train a model on request or on schedule ("Réentraîner maintenant").

Thin, like every job: it calls the model's registered trainer. Run twice (a
redelivery after a worker died), it registers one more immutable version,
activated only if it beats the active one on the same held-out rows.
"""

from sunusav.ml.registry import registry


def model_train(name: str, activated_by: str) -> dict:
    """Train model `name` from the database; return a JSON-able summary of the new version."""
    try:
        trainer = registry.trainer(name)
    except KeyError:
        raise ValueError(f"unknown model {name!r}") from None
    return trainer(activated_by=activated_by).summary()
