"""Precision and recall of fraud decisions by honest segment and typology (no model code: training reads it)."""

from __future__ import annotations

import numpy as np

ORDINARY = "ordinary"  # the name of the blank segment in reports


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def decisions_measure(*, labels: np.ndarray, decisions: np.ndarray, segments: np.ndarray, patterns: np.ndarray) -> dict:
    """Return precision/recall on hold and on hold-or-review, recall by typology, false-positive rate by segment.

    Rows without a label (nan) are left out. A fraud row's typology is its
    pattern; an honest row's segment is its `segment` ("" is `ordinary`).
    """
    labels = np.asarray(labels, dtype=np.float64)
    known = ~np.isnan(labels)
    fraud = known & (labels == 1)
    honest = known & (labels == 0)
    held = decisions == "hold"
    flagged = decisions != "allow"

    def precision_recall(chosen: np.ndarray) -> dict:
        tp, fp = int((chosen & fraud).sum()), int((chosen & honest).sum())
        return {
            "precision": _ratio(tp, tp + fp),
            "recall": _ratio(tp, int(fraud.sum())),
            "tp": tp,
            "fp": fp,
            "fn": int((~chosen & fraud).sum()),
        }

    typologies = {}
    for pattern in sorted(set(patterns[fraud])):
        rows = fraud & (patterns == pattern)
        typologies[pattern or "unlabelled"] = {
            "n": int(rows.sum()),
            "recall_hold": _ratio(int((held & rows).sum()), int(rows.sum())),
            "recall_hold_or_review": _ratio(int((flagged & rows).sum()), int(rows.sum())),
        }
    segment_rates = {}
    for segment in sorted(set(segments[honest])):
        rows = honest & (segments == segment)
        segment_rates[segment or ORDINARY] = {
            "n": int(rows.sum()),
            "fpr_hold": _ratio(int((held & rows).sum()), int(rows.sum())),
            "fpr_hold_or_review": _ratio(int((flagged & rows).sum()), int(rows.sum())),
        }
    return {
        "n": int(known.sum()),
        "n_fraud": int(fraud.sum()),
        "hold": precision_recall(held),
        "hold_or_review": precision_recall(flagged),
        "by_typology": typologies,
        "by_segment": segment_rates,
    }
