"""Measurement by typology and honest segment, and the leave-one-segment-out report, on a small demo world."""

from datetime import UTC, datetime

import numpy as np
import pytest

from backoffice.demo.generator import FRAUD_PATTERNS, HONEST_SEGMENTS, world_build
from fraud.measure import decisions_measure, leave_one_segment_out, trained_decisions
from fraud.selectors import labeled_payments
from fraud.training import fraud_model_fit

FAST = {"n_estimators": 30, "max_samples": 2048, "since_clip_sec": 86_400, "compare": False, "seed": 7}


def test_measure_counts_each_decision_where_it_belongs():
    labels = np.array([1, 1, 1, 0, 0, 0, 0, np.nan])
    decisions = np.array(["hold", "review", "allow", "hold", "review", "allow", "allow", "hold"], dtype=object)
    patterns = np.array(["sim_swap", "sim_swap", "mule_chain", "", "", "", "", ""], dtype=object)
    segments = np.array(["", "", "", "vendor", "vendor", "vendor", "", "vendor"], dtype=object)
    report = decisions_measure(labels=labels, decisions=decisions, segments=segments, patterns=patterns)
    assert report["n"] == 7 and report["n_fraud"] == 3  # the unlabelled row is left out
    assert report["hold"] == {"precision": 0.5, "recall": 0.3333, "tp": 1, "fp": 1, "fn": 2}
    assert report["hold_or_review"] == {"precision": 0.5, "recall": 0.6667, "tp": 2, "fp": 2, "fn": 1}
    assert report["by_typology"] == {
        "mule_chain": {"n": 1, "recall_hold": 0.0, "recall_hold_or_review": 0.0},
        "sim_swap": {"n": 2, "recall_hold": 0.5, "recall_hold_or_review": 1.0},
    }
    assert report["by_segment"] == {
        "ordinary": {"n": 1, "fpr_hold": 0.0, "fpr_hold_or_review": 0.0},
        "vendor": {"n": 3, "fpr_hold": 0.3333, "fpr_hold_or_review": 0.6667},
    }


@pytest.mark.django_db
def test_a_small_world_is_measured_by_segment_and_typology_and_left_out_segments_are_reported():
    world_build(members=900, seed=5, anchor=datetime(2026, 11, 1, tzinfo=UTC))
    data = labeled_payments()
    assert set(data.segments) - {""} == set(HONEST_SEGMENTS)
    trained = fraud_model_fit(
        features=data.features,
        labels=data.labels,
        member_ids=data.member_ids,
        patterns=data.patterns,
        times=data.times,
        segments=data.segments,
        **FAST,
    )
    # The card's metrics measure the test half (held-out members) by segment and typology.
    held_out = trained.metrics["by_segment_and_typology"]
    assert held_out["n"] == trained.counts["test"] and held_out["n_fraud"] == trained.metrics["n_fraud"]
    assert held_out["hold"]["tp"] == trained.metrics["confusion"]["tp"]
    assert held_out["hold"]["fp"] == trained.metrics["confusion"]["fp"]
    decisions = trained_decisions(trained, data.features)
    assert set(decisions) <= {"allow", "review", "hold"} and (decisions == "hold").any()
    report = decisions_measure(labels=data.labels, decisions=decisions, segments=data.segments, patterns=data.patterns)
    assert set(report["by_typology"]) == set(FRAUD_PATTERNS)
    assert set(report["by_segment"]) == {*HONEST_SEGMENTS, "ordinary"}
    for rates in report["by_segment"].values():
        assert 0 <= rates["fpr_hold"] <= rates["fpr_hold_or_review"] <= 1
    assert report["hold_or_review"]["recall"] >= report["hold"]["recall"]

    loso = leave_one_segment_out(
        features=data.features,
        labels=data.labels,
        member_ids=data.member_ids,
        segments=data.segments,
        patterns=data.patterns,
        times=data.times,
        context=data.context,
        only=("vendor", "collector"),
        **FAST,
    )
    assert [row["segment"] for row in loso] == ["vendor", "collector"]
    for row in loso:
        # Measured on held-out members only: fewer than the segment's honest payments, never none.
        assert 0 < row["n"] < int(((data.segments == row["segment"]) & (data.labels == 0)).sum())
        assert 0 <= row["fpr_hold_unseen"] <= row["fpr_hold_or_review_unseen"] <= 1
