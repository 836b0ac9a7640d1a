"""Precision where it matters: by fraud typology, by honest segment, and on segments the model never saw.

The demo world records each fraud's typology (`Payment.fraud_pattern`) and the
honest behaviour that shaped each honest payment (`Payment.segment`: vendor,
collector, phone replacement, ...). A model that holds a busy vendor's
invoices costs as much as one that misses a fraud, so the figures are:

- `decisions_measure`: precision and recall of the hold decision and of
  hold-or-review, recall by typology, and each honest segment's false-positive
  rate (share of its honest payments held, and held or sent to review);
- `leave_one_segment_out`: for each honest segment, a model trained without
  that segment's payments, and that segment's false-positive rate under it:
  how the model meets honest behaviour it has not seen.

Measurement only: nothing here is served, and segments are never model inputs.
"""

from __future__ import annotations

import numpy as np

from fraud.detectors import calibrate, decide, model_inputs
from fraud.measure_decisions import ORDINARY, _ratio, decisions_measure  # noqa: F401  (re-exported)
from fraud.rules import structuring_limit
from fraud.ruleset_serving import serving_ruleset
from fraud.supervised import learned_rules, rule_hits, supervised_inputs
from fraud.training import Trained, _combined_scores, fraud_model_fit


def trained_decisions(trained: Trained, features: np.ndarray, context: np.ndarray | None = None) -> np.ndarray:
    """Return allow / review / hold for feature rows under a freshly trained model (as it would serve).

    `context` holds the rows' member baselines (`fraud.member_context.CONTEXT`
    columns); a supervised layer trained with them needs them, as a check does.
    """
    if not len(features):
        return np.array([], dtype=object)
    x = model_inputs(features, trained.input_params.get("since_clip_sec"))
    isolation = -trained.forest.score_samples(x)
    if trained.layers.get("serving") == "supervised":
        rules = learned_rules(serving_ruleset())
        if {r.id: r.cel_source for r in rules} != trained.supervised.learned:
            raise ValueError("the published rules changed since this model was trained")
        if trained.supervised.uses_context and context is None:
            raise ValueError("this supervised layer reads the member's baseline: pass its context columns")
        hits = rule_hits(rules, features, structuring_limit())
        scores = trained.supervised.probability(
            supervised_inputs(x, isolation, hits, context if trained.supervised.uses_context else None)
        )
    else:
        probability = calibrate(isolation, trained.calibration["a"], trained.calibration["b"])
        scores = _combined_scores(features, probability, isolation, trained.rule_params)
    return np.array([decide(float(s)) for s in scores], dtype=object)


def leave_one_segment_out(
    *,
    features: np.ndarray,
    labels: np.ndarray,
    member_ids: np.ndarray,
    segments: np.ndarray,
    patterns: np.ndarray | None = None,
    times: np.ndarray | None = None,
    context: np.ndarray | None = None,
    only: tuple[str, ...] | None = None,
    **fit_options,
) -> list[dict]:
    """For each honest segment, train without its payments; report its false-positive rate under that model.

    Both rates are measured on held-out members only: the test half of the
    model fitted on everything ("seen": the segment was in its training
    members), whose members the model fitted without the segment never sees
    either ("unseen": it is fitted on the other members, without the
    segment's payments). The measured rows keep the features and member
    baseline (`context`) their full history gives them, as a real check
    sees the member's whole past. `fit_options` go to `fraud_model_fit`
    (seed, n_estimators, max_samples, since_clip_sec, compare).
    """
    patterns = np.full(len(labels), "", dtype=object) if patterns is None else patterns
    fit_options.setdefault("compare", False)

    def fit(keep: np.ndarray) -> Trained:
        return fraud_model_fit(
            features=features[keep],
            labels=labels[keep],
            member_ids=member_ids[keep],
            patterns=patterns[keep],
            times=None if times is None else times[keep],
            context=None if context is None else context[keep],
            **fit_options,
        )

    everything = fit(np.ones(len(labels), dtype=bool))
    held_out = everything.test_rows
    honest = labels == 0
    report = []
    for segment in only or tuple(sorted(set(segments[honest & held_out]) - {""})):
        left_out = segments == segment
        rows = left_out & honest & held_out
        if not rows.any():
            continue
        without = fit(~left_out & ~held_out)
        rows_context = None if context is None else context[rows]
        seen = trained_decisions(everything, features[rows], rows_context)
        unseen = trained_decisions(without, features[rows], rows_context)
        n = int(rows.sum())
        report.append(
            {
                "segment": segment,
                "n": n,
                "fpr_hold_unseen": _ratio(int((unseen == "hold").sum()), n),
                "fpr_hold_or_review_unseen": _ratio(int((unseen != "allow").sum()), n),
                "fpr_hold_seen": _ratio(int((seen == "hold").sum()), n),
                "fpr_hold_or_review_seen": _ratio(int((seen != "allow").sum()), n),
                "serving_seen": everything.layers.get("serving"),
                "serving_unseen": without.layers.get("serving"),
            }
        )
    return report
