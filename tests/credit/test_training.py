"""Training: CSV and database loans give loadable models judged on held-out rows only."""

import datetime as dt

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from credit.training import TrainingError, credit_model_train, dataset_from_csv, dataset_from_db, split_indices
from sunusav.ml.registry import artifact_verify, registry
from sunusav.models import ModelVersion
from tests.credit.conftest import synthetic_rows, write_csv
from tests.factories import ContributionFactory, LoanFactory, MemberFactory, TontineFactory

pytestmark = pytest.mark.django_db


def test_csv_training_writes_a_loadable_activatable_model_with_held_out_metrics(trained_model, artifacts_dir):
    manifest = trained_model.manifest
    assert trained_model.activated
    assert artifact_verify(name="credit", version=manifest["version"])["sha256"] == manifest["sha256"]
    held_out = manifest["metrics"]["held_out"]
    assert set(held_out) == {"model", "rules", "logistic_regression"}
    for metrics in held_out.values():
        assert set(metrics) >= {"auc", "accuracy", "brier", "ks"}
    assert held_out["model"]["auc"] > 0.7  # the synthetic signal is learnable
    assert manifest["metrics"]["n_test"] == 400 and manifest["metrics"]["split"] == "stratified"
    assert manifest["features"][1] == "punctuality_rate" and manifest["library_versions"]["lightgbm"]
    assert manifest["training_data_hash"] and manifest["feature_definitions"]["punctuality_rate"]
    row = ModelVersion.objects.get(name="credit", version=manifest["version"])
    assert row.status == "active" and row.metrics["held_out"] == held_out
    assert registry.get_active("credit").version == manifest["version"]


def test_a_worse_model_is_not_activated_unless_asked(trained_model, tmp_path, django_capture_on_commit_callbacks):
    # Same population, but a single boosting round: judged on its own held-out
    # rows, the active model (60 rounds) ranks them better.
    X, defaulted = synthetic_rows(3000, seed=9)
    path = tmp_path / "weak.csv"
    write_csv(path, X, defaulted)
    with django_capture_on_commit_callbacks(execute=True):
        result = credit_model_train(data=dataset_from_csv(path), rounds=1)
    before = result.manifest["metrics"]["active_before"]["auc_on_this_held_out"]
    assert before > result.manifest["metrics"]["held_out"]["model"]["auc"]
    assert not result.activated and "kept" in result.reason
    assert result.manifest["metrics"]["active_before"]["version"] == trained_model.manifest["version"]
    assert ModelVersion.objects.get(status="active").version == trained_model.manifest["version"]
    with django_capture_on_commit_callbacks(execute=True):
        forced = credit_model_train(data=dataset_from_csv(path), activate=True, rounds=1)
    assert forced.activated and registry.get_active("credit").version == forced.manifest["version"]


def test_bad_csv_is_refused(tmp_path, artifacts_dir):
    path = tmp_path / "bad.csv"
    path.write_text("tontine_contributions,defaulted\n1,0\n")
    with pytest.raises(TrainingError, match="missing columns"):
        dataset_from_csv(path)
    with pytest.raises(CommandError):
        call_command("train_credit_model", "--from-csv", str(path))


def test_database_training_uses_features_as_of_the_offer_and_splits_by_time(
    artifacts_dir, django_capture_on_commit_callbacks
):
    rng = np.random.default_rng(1)
    tontine = TontineFactory()
    now = timezone.now()
    expected_paid = []
    for i in range(80):
        member = MemberFactory()
        good = i % 4 != 0
        offered = now - dt.timedelta(days=200 - i)
        paid_before_offer = 0
        for r in range(6):
            due = offered - dt.timedelta(days=7 * (r + 1))
            late = 0 if good else float(rng.integers(3, 15))
            ContributionFactory(member=member, tontine=tontine, due_at=due, paid_at=due + dt.timedelta(days=late))
            paid_before_offer += due + dt.timedelta(days=late) < offered
        expected_paid.append(paid_before_offer)
        # Paid after the offer: must not count in the features as of the offer.
        ContributionFactory(member=member, tontine=tontine, due_at=offered + dt.timedelta(days=3))
        LoanFactory(member=member, offered_at=offered, status="repaid" if good else "defaulted")
    LoanFactory(status="accepted")  # still open: no outcome, left out
    data = dataset_from_db()
    assert len(data.y) == 80 and data.y.mean() == 0.75
    # Only what was paid before each offer counts (never the contribution due after it).
    assert data.X[:, 2].tolist() == expected_paid and min(expected_paid) < 6
    train, calib, test, split = split_indices(data)
    assert split == "time" and data.times[train].max() <= data.times[test].min()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("train_credit_model", "--activate", "--rounds", "30")
    assert registry.get_active("credit") is not None
