"""Credit test helpers: synthetic feature rows and a small trained model."""

import csv

import numpy as np
import pytest

from credit.features import FEATURES


def synthetic_rows(n: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return (X, defaulted) where punctual, endorsed, prompt members default less."""
    rng = np.random.default_rng(seed)
    punctuality = rng.beta(5, 1.5, n)
    count = rng.integers(0, 30, n)
    sats = count * rng.integers(5_000, 20_000, n)
    mobile = rng.gamma(2.0, 60_000, n)
    delay = rng.gamma(1.2, 1.5, n) * (1.5 - punctuality)
    endorsements = rng.poisson(2.5, n)
    logit = 2.5 - 5.0 * punctuality + 0.5 * delay - 0.35 * endorsements - 0.04 * count - mobile / 400_000
    defaulted = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    X = np.column_stack([sats, punctuality, count, mobile, delay, endorsements]).astype(float)
    return X, defaulted


def write_csv(path, X, defaulted) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([*FEATURES, "defaulted"])
        for row, label in zip(X, defaulted, strict=True):
            writer.writerow([*row.tolist(), int(label)])


@pytest.fixture
def trained_model(artifacts_dir, tmp_path, django_capture_on_commit_callbacks):
    """Train and activate a small model (2,000 synthetic rows); return its TrainResult."""
    from credit.training import credit_model_train, dataset_from_csv

    X, y = synthetic_rows(2000)
    path = tmp_path / "train.csv"
    write_csv(path, X, y)
    with django_capture_on_commit_callbacks(execute=True):
        return credit_model_train(data=dataset_from_csv(path), activate=True, activated_by="test", rounds=60)
