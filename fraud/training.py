"""Train the fraud model from stored payments, evaluate it honestly, write and register the artifact.

Splits are by member (a member's burst rows are alike, so a row split would
flatter the model): `HOLDOUT_SHARE` of the members with labeled payments form
the holdout, drawn separately from members with and without labeled fraud so
both halves see fraud. The holdout is split in two halves again by member:
*validation* (compare PyOD detectors, fit the score calibration) and *test*
(the reported metrics, seen by nothing else). The forest is fit on every other
payment except labeled fraud.

What the validation half chooses (never the test half):
- the forest's input clip on `time_since_last_sec` and its `max_samples`
  (`FOREST_GRID`, best validation PR-AUC of the anomaly score alone);
- each rule's parameters (`rules_tune`: most validation fraud caught while
  firing on at most `RULE_FALSE_ALARM_BUDGET` of normal fit payments);
- the Platt calibration of the anomaly score.

PyOD candidates are restricted to detectors whose statistics freeze at fit time
(IForest, HBOS, KNN, LOF, PCA); ECOD/COPOD are excluded (a row's score depends
on the rest of its batch). They see the same inputs as the served forest. The
one shipped is the IsolationForest, because it is the only one with an exact
microsecond serving form here (`fraud.forest`); the model card records every
candidate's validation PR-AUC and says when another one ranked higher.

The detectable ceiling (`detectable_at_own_time`): a real-time check sees only
the past, and the first invoice of a burst, the first of a run of rapid repeats
or of structured payments looks like any other payment when it happens. The
card reports the share of test fraud that is detectable at its own time beside
the recall, and the recall on that detectable part.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from fraud.detectors import (
    ARRAYS_FILE,
    MODEL_NAME,
    ONNX_FILE,
    calibrate,
    combine_rows,
    combine_served,
    decide,
    model_inputs,
)
from fraud.features import (
    CHANGE_WINDOW_SEC,
    FEATURES,
    INVOICE_WINDOW_SEC,
    TIME_SINCE_LAST_CAP_SEC,
    features_from_history,
    history_from_rows,
)
from fraud.forest import arrays_to_bytes, forest_arrays, onnx_bytes
from fraud.measure_decisions import decisions_measure
from fraud.member_context import context_from_history
from fraud.rules import DEFAULT_PARAMS, rules_catalogue, rules_fire, structuring_limit
from fraud.ruleset_serving import serving_ruleset
from fraud.selectors import LabeledPayments, epoch_micros, labeled_payments
from fraud.supervised import (
    BOOSTER_FILE,
    SUPERVISED_CONTEXT,
    SupervisedFit,
    input_names,
    learned_rules,
    rule_hits,
    supervised_fit,
    supervised_inputs,
)
from sunusav.ml import lifecycle
from sunusav.ml.drift import reference_distribution
from sunusav.ml.registry import artifact_write, data_hash, library_versions, registry
from sunusav.ml.training import TrainResult, promotion_decide
from sunusav.models import Payment

logger = logging.getLogger(__name__)

HOLDOUT_SHARE = 0.3
COMPARE_ROWS = 20_000
MIN_LABELED_FRAUD = 5
# Candidates for the forest's inputs and subsample size, chosen on validation PR-AUC.
# The clip: None keeps the whole 30-day range of time_since_last_sec.
FOREST_GRID = {"since_clip_sec": (600, 3600, 86_400, None), "max_samples": (2048, 8192)}
# A hold rule may fire on at most this share of normal fit payments (1 in 10,000).
RULE_FALSE_ALARM_BUDGET = 1e-4
# The share of the supervised layer's training rows whose device and place columns are masked (unknown).
CONTEXT_MASKED_SHARE = 0.25


class TrainingError(Exception):
    """Not enough data to train or evaluate."""


@dataclass
class Trained:
    """A trained model and everything its card records."""

    forest: object  # sklearn IsolationForest
    arrays: dict
    calibration: dict
    rule_params: dict
    comparison: list[dict]
    metrics: dict
    data_sha256: str
    counts: dict
    input_params: dict = field(default_factory=dict)
    forest_search: list = field(default_factory=list)
    rule_tuning: list = field(default_factory=list)
    reference: dict | None = None  # training bins of features and score (drift monitoring)
    # The supervised layer (fraud.supervised), when it was fitted; `layers` says which layer serves and why.
    supervised: SupervisedFit | None = None
    layers: dict = field(default_factory=dict)
    # The test half (features, labels): the active version is re-scored on it before a promotion.
    test_features: np.ndarray | None = None
    test_labels: np.ndarray | None = None
    test_context: np.ndarray | None = None
    test_rows: np.ndarray | None = None  # the test half's mask over the training rows (measurement by segment)


# The columns of an exported history (`train_fraud_model --from-csv`), in any order.
CSV_COLUMNS = ("member_id", "timestamp", "kind", "amount_sats", "device", "location", "label")


def _csv_error(name: str, line: int, column: str, problem: str) -> TrainingError:
    return TrainingError(
        _("%(file)s, ligne %(line)s, colonne %(column)s : %(problem)s")
        % {"file": name, "line": line, "column": column, "problem": problem}
    )


def _csv_read(path: Path, kinds: set, rows: list, labels: list) -> None:
    """Append each checked row of an exported history to `rows` and its label to `labels`."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise TrainingError(
                _("%(file)s, ligne 1 : colonnes manquantes : %(columns)s")
                % {"file": path.name, "columns": ", ".join(missing)}
            )
        for row in reader:
            line = reader.line_num

            def cell(column: str, *, required: bool = True, line: int = line, row: dict = row) -> str:
                value = row.get(column)
                if value is None or (required and not value.strip()):
                    raise _csv_error(path.name, line, column, _("valeur manquante"))
                return value.strip()

            member = cell("member_id")
            raw_time = cell("timestamp")
            try:
                when = dt.datetime.fromisoformat(raw_time)
            except ValueError:
                when = None
            if when is None or when.tzinfo is None:
                raise _csv_error(
                    path.name,
                    line,
                    "timestamp",
                    _("date ISO 8601 avec son décalage horaire attendue (ex. 2026-03-01T08:15:00+00:00), lu « %s »")
                    % raw_time,
                )
            kind = cell("kind")
            if kind not in kinds:
                raise _csv_error(
                    path.name,
                    line,
                    "kind",
                    _("type inconnu « %(kind)s » (attendus : %(kinds)s)")
                    % {"kind": kind, "kinds": ", ".join(sorted(kinds))},
                )
            raw_amount = cell("amount_sats")
            try:
                amount = int(raw_amount)
            except ValueError:
                raise _csv_error(
                    path.name, line, "amount_sats", _("nombre entier de sats attendu, lu « %s »") % raw_amount
                ) from None
            if amount <= 0:
                raise _csv_error(
                    path.name, line, "amount_sats", _("le montant doit être supérieur à 0, lu « %s »") % raw_amount
                )
            label = cell("label", required=False)
            if label not in ("", "0", "1"):
                raise _csv_error(path.name, line, "label", _("0, 1 ou vide attendu, lu « %s »") % label)
            rows.append(
                (
                    f"{line:012d}",
                    member,
                    when,
                    kind,
                    cell("device", required=False),
                    cell("location", required=False),
                    amount,
                )
            )
            labels.append(np.nan if label == "" else float(label))


def labeled_payments_from_csv(path: str | Path) -> LabeledPayments:
    """Read an exported payment history; return its features and labels as `labeled_payments` does.

    One row per payment or invoice: `member_id`, `timestamp` (ISO 8601 with its
    UTC offset), `kind` (a `Payment.Kind`: invoice, payment), `amount_sats` (a
    whole number above 0), `device` and `location` (blank = unknown), `label`
    (1 fraud, 0 not fraud, blank unknown). The five features come from the
    rows' own history through `fraud.features.features_from_history`, the same
    derivation as for stored payments (ties at the same instant: file order).

    The whole file is checked before anything is returned: the first bad row
    raises `TrainingError` naming its line (the header is line 1) and column.
    """
    path = Path(path)
    kinds = set(Payment.Kind.values)
    rows, labels = [], []
    try:
        _csv_read(path, kinds, rows, labels)
    except UnicodeDecodeError:
        raise TrainingError(_("%(file)s : le fichier n'est pas en UTF-8") % {"file": path.name}) from None
    except csv.Error as exc:
        raise TrainingError(_("%(file)s : CSV illisible (%(problem)s)") % {"file": path.name, "problem": exc}) from None
    if not rows:
        raise TrainingError(_("%(file)s : aucune ligne de paiement") % {"file": path.name})
    history = history_from_rows(rows)
    return LabeledPayments(
        payment_ids=np.array([row[0] for row in rows], dtype=object),
        member_ids=np.array([row[1] for row in rows], dtype=object),
        features=features_from_history(history),
        context=context_from_history(history, np.array([epoch_micros(row[2]) for row in rows], dtype=np.int64)),
        labels=np.array(labels, dtype=np.float64),
        patterns=np.full(len(rows), "", dtype=object),
        analyst_labels=0,
        times=np.fromiter((row[2].timestamp() for row in rows), dtype=np.float64, count=len(rows)),
    )


def _member_split(
    member_ids: np.ndarray, labeled: np.ndarray, seed: int, labels: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Hold out whole members, stratified by whether a member has labeled fraud.

    Members with fraud and members without are shuffled and split apart, each
    contributing `HOLDOUT_SHARE` to the holdout, half to validation and half to
    test. An unstratified draw on a small world can leave one half with no
    fraud at all, which makes the evaluation impossible for no good reason.
    """
    rng = np.random.default_rng(seed)
    fraudulent = set(member_ids[labeled & (labels == 1)]) if labels is not None else set()
    validation: set = set()
    test: set = set()
    for group in (
        np.array(sorted(fraudulent), dtype=object),
        np.array(sorted(set(member_ids[labeled]) - fraudulent), dtype=object),
    ):
        if not group.size:
            continue
        rng.shuffle(group)
        n_holdout = min(group.size, max(2, int(round(group.size * HOLDOUT_SHARE))))
        validation.update(group[: (n_holdout + 1) // 2])
        test.update(group[(n_holdout + 1) // 2 : n_holdout])
    in_validation = np.fromiter((m in validation for m in member_ids), dtype=bool, count=member_ids.size)
    in_test = np.fromiter((m in test for m in member_ids), dtype=bool, count=member_ids.size)
    return in_validation & labeled, in_test & labeled


def _columns(features: np.ndarray) -> dict:
    return {name: features[:, j] for j, name in enumerate(FEATURES)}


def _percentiles(values: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    return sorted({float(round(v)) for v in np.percentile(values, qs)}) if values.size else []


def rules_tune(*, fit_normal: np.ndarray, val_features: np.ndarray, val_labels: np.ndarray) -> tuple[dict, list[dict]]:
    """Choose each hold rule's parameters on data; return (rule params, the tuning table for the card).

    Coordinate ascent, two passes over the hold rules: for each rule, every
    candidate in its grid is scored by its own firing rate on normal fit
    payments (false alarms) and by the share of validation fraud that the hold
    rules together catch with it (recall: what the rule adds, not what it
    repeats). The chosen candidate has the best recall among those within
    `RULE_FALSE_ALARM_BUDGET`; ties go to the fewer false alarms, then to the
    most fraud the rule catches on its own (rules overlap on purpose: a burst
    spaced out past the rapid-repeat window must still hold), then to the
    stricter candidate. Grids are listed strict to loose; amounts are
    percentiles of normal fit amounts, so they follow the traffic's scale.
    """
    amounts = fit_normal[:, 0]
    params = dict(DEFAULT_PARAMS)
    if amounts.size >= 100:
        params["very_large_amount_sats"] = float(5 * np.percentile(amounts, 99.9))
    grids = {
        "invoice_burst": {"burst_invoices": (8, 6, 5, 4, 3, 2)},
        "rapid_repeat": {
            "rapid_repeat_sec": (5, 10, 15, 20, 30, 60),
            "rapid_repeat_min_sats": tuple(reversed([0.0, *_percentiles(amounts, (0.5, 1, 2, 5))])),
        },
        "new_device_location_unusual_amount": {
            "unusual_amount_sats": tuple(reversed(_percentiles(amounts, (90, 95, 97.5, 99, 99.5, 99.9))))
            or (DEFAULT_PARAMS["unusual_amount_sats"],)
        },
        "structuring": {
            "structuring_floor_ratio": (0.975, 0.95, 0.9, 0.85, 0.8),
            "structuring_window_sec": (600, 1800, 3600, 7200, 21_600),
        },
    }
    normal_columns, val_columns = _columns(fit_normal), _columns(val_features)
    fraud = val_labels == 1
    table = {}
    for _pass in range(2):
        for rule_id, grid in grids.items():
            names = list(grid)
            others = [r for r in grids if r != rule_id]
            fired_now = rules_fire(val_columns, params)
            caught_by_others = np.zeros(len(val_labels), dtype=bool)
            for other in others:
                caught_by_others |= fired_now[other]
            best = None
            for values in itertools.product(*(grid[name] for name in names)):
                candidate = {**params, **dict(zip(names, values, strict=True))}
                own = rules_fire(normal_columns, candidate)[rule_id]
                false_alarms = float(np.mean(own)) if len(fit_normal) else 0.0
                fires = rules_fire(val_columns, candidate)[rule_id]
                recall = float(np.mean((caught_by_others | fires)[fraud])) if fraud.any() else 0.0
                own_recall = float(np.mean(fires[fraud])) if fraud.any() else 0.0
                within = false_alarms <= RULE_FALSE_ALARM_BUDGET
                key = (within, recall if within else -false_alarms, -false_alarms, own_recall)
                if best is None or key > best[0]:
                    best = (key, dict(zip(names, values, strict=True)), false_alarms, recall, own_recall)
            _, chosen, false_alarms, recall, own_recall = best
            params.update(chosen)
            table[rule_id] = {
                "rule": rule_id,
                "chosen": chosen,
                "normal_fit_false_alarm_rate": round(false_alarms, 6),
                "validation_recall_of_hold_rules": round(recall, 4),
                "validation_recall_of_this_rule": round(own_recall, 4),
                "within_budget": false_alarms <= RULE_FALSE_ALARM_BUDGET,
                "grid": {name: list(grid[name]) for name in names},
            }
    return params, list(table.values())


def detectable_at_own_time(
    *, features: np.ndarray, patterns: np.ndarray, member_ids: np.ndarray, times: np.ndarray | None
) -> np.ndarray:
    """Return which payments a real-time check could flag when they happen (for fraud rows).

    A burst, rapid-repeat or structuring run shows itself from its second
    payment: the first (the member's earliest payment of that pattern) looks
    like ordinary traffic at its own time. An account takeover shows itself
    when the member had a known device or location before it (a change is
    visible; so does a SIM swap). Rows without a pattern (analyst labels) count as detectable.
    Needs `times`; without them every row counts as detectable.
    """
    n = len(patterns)
    detectable = np.ones(n, dtype=bool)
    if times is None:
        return detectable
    patterned = np.flatnonzero(patterns != "")
    order = patterned[np.lexsort((times[patterned], patterns[patterned], member_ids[patterned].astype(str)))]
    previous = None
    for i in order:
        key = (member_ids[i], patterns[i])
        if patterns[i] in ("account_takeover", "sim_swap"):
            detectable[i] = features[i, 3] >= 1 or features[i, 4] >= 1
        else:
            detectable[i] = key == previous
        previous = key
    return detectable


def detectors_compare(
    *, fit_x: np.ndarray, val_x: np.ndarray, val_y: np.ndarray, seed: int, max_samples: int = 256
) -> list[dict]:
    """Fit PyOD's frozen-statistics detectors on normal traffic; return validation PR-AUC of each."""
    from pyod.models.hbos import HBOS
    from pyod.models.iforest import IForest
    from pyod.models.knn import KNN
    from pyod.models.lof import LOF
    from pyod.models.pca import PCA
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(seed)
    sample = fit_x[rng.choice(len(fit_x), size=min(COMPARE_ROWS, len(fit_x)), replace=False)]
    mean, std = sample.mean(axis=0), sample.std(axis=0) + 1e-9  # distance-based ones need scaled inputs
    candidates = {
        "iforest": (
            lambda: IForest(n_estimators=100, max_samples=min(max_samples, len(sample)), random_state=seed),
            False,
        ),
        "hbos": (lambda: HBOS(n_bins=20), False),
        "knn": (lambda: KNN(n_neighbors=10), True),
        "lof": (lambda: LOF(n_neighbors=20), True),
        "pca": (lambda: PCA(random_state=seed), False),  # standardises by itself
    }
    rows = []
    for name, (make, scaled) in candidates.items():
        started = time.perf_counter()
        try:
            with np.errstate(all="ignore"):  # PCA/HBOS divide by zero-variance columns
                detector = make()
                detector.fit((sample - mean) / std if scaled else sample)
                scores = detector.decision_function((val_x - mean) / std if scaled else val_x)
                pr_auc = float(average_precision_score(val_y, scores))
        except Exception as exc:  # one broken candidate must not stop training
            rows.append({"detector": name, "pr_auc": None, "error": f"{type(exc).__name__}: {exc}"})
            continue
        rows.append({"detector": name, "pr_auc": round(pr_auc, 4), "seconds": round(time.perf_counter() - started, 2)})
    return rows


def _combined_scores(features: np.ndarray, probability: np.ndarray, isolation: np.ndarray, params: dict) -> np.ndarray:
    scores, _ = combine_rows(features, None, probability, isolation, params)
    return scores


def evaluate(
    *,
    scores: np.ndarray,
    labels: np.ndarray,
    anomaly: np.ndarray,
    patterns: np.ndarray,
    detectable: np.ndarray | None = None,
) -> dict:
    """Return holdout metrics of combined scores at the configured thresholds, beside the detectable ceiling."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    detectable = np.ones(len(labels), dtype=bool) if detectable is None else detectable
    decisions = np.array([decide(s) for s in scores])
    held = decisions == "hold"
    positives = labels == 1
    tp, fp = int((held & positives).sum()), int((held & ~positives).sum())
    fn, tn = int((~held & positives).sum()), int((~held & ~positives).sum())
    precision_curve, recall_curve, thresholds = precision_recall_curve(labels, scores)
    ok = precision_curve[:-1] >= 0.90
    best = int(np.argmax(np.where(ok, recall_curve[:-1], -1))) if ok.any() else None
    per_pattern = {}
    for pattern in sorted(set(patterns[positives]) - {""}):
        rows = positives & (patterns == pattern)
        per_pattern[pattern] = {
            "n": int(rows.sum()),
            "recall_hold": round(float(held[rows].mean()), 4),
            "recall_review_or_hold": round(float((decisions[rows] != "allow").mean()), 4),
            "detectable_ceiling": round(float(detectable[rows].mean()), 4),
        }
    visible = positives & detectable
    return {
        "n": int(labels.size),
        "n_fraud": int(positives.sum()),
        "hold_threshold": settings.FRAUD_HOLD_THRESHOLD,
        "review_threshold": settings.FRAUD_REVIEW_THRESHOLD,
        "precision": round(tp / (tp + fp), 4) if tp + fp else None,
        "recall": round(tp / (tp + fn), 4) if tp + fn else None,
        "fpr": round(fp / (fp + tn), 6) if fp + tn else None,
        "detectable_ceiling": round(float(visible.sum() / positives.sum()), 4) if positives.any() else None,
        "recall_of_detectable": round(float(held[visible].mean()), 4) if visible.any() else None,
        "review_or_hold_recall": round(float((decisions[positives] != "allow").mean()), 4) if tp + fn else None,
        "review_rate": round(float((decisions == "review").mean()), 4),
        "pr_auc": round(float(average_precision_score(labels, scores)), 4),
        "pr_auc_anomaly_only": round(float(average_precision_score(labels, anomaly)), 4),
        "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
        "best_recall_at_precision_0_90": None
        if best is None
        else {
            "threshold": round(float(thresholds[best]), 4),
            "recall": round(float(recall_curve[best]), 4),
            "precision": round(float(precision_curve[best]), 4),
        },
        "per_pattern": per_pattern,
    }


def _forest_search(
    *,
    features: np.ndarray,
    fit_rows: np.ndarray,
    val_rows: np.ndarray,
    labels: np.ndarray,
    grid: dict,
    seed: int,
    n_estimators: int,
) -> tuple[object, dict, list[dict]]:
    """Fit one forest per grid point on normal fit rows; keep the best validation PR-AUC (anomaly alone)."""
    from sklearn.ensemble import IsolationForest
    from sklearn.metrics import average_precision_score

    n_fit = int(fit_rows.sum())
    best, rows, seen = None, [], set()
    for clip, max_samples in itertools.product(grid["since_clip_sec"], grid["max_samples"]):
        max_samples = min(int(max_samples), n_fit)
        if (clip, max_samples) in seen:
            continue
        seen.add((clip, max_samples))
        x = model_inputs(features, clip)
        forest = IsolationForest(n_estimators=n_estimators, max_samples=max_samples, random_state=seed).fit(x[fit_rows])
        pr_auc = float(average_precision_score(labels[val_rows], -forest.score_samples(x[val_rows])))
        rows.append({"since_clip_sec": clip, "max_samples": max_samples, "validation_pr_auc": round(pr_auc, 4)})
        if best is None or pr_auc > best[0]:
            best = (pr_auc, forest, {"since_clip_sec": clip, "max_samples": max_samples})
    return best[1], best[2], rows


def fraud_model_fit(
    *,
    features: np.ndarray,
    labels: np.ndarray,
    member_ids: np.ndarray,
    patterns: np.ndarray | None = None,
    times: np.ndarray | None = None,
    seed: int = 7,
    n_estimators: int = 100,
    max_samples: int | None = None,
    since_clip_sec: float | None | str = "search",
    compare: bool = True,
    segments: np.ndarray | None = None,
    ruleset=None,
    context: np.ndarray | None = None,
) -> Trained:
    """Fit the forest on normal traffic, tune rules and calibration on validation, evaluate on the test half.

    `max_samples` and `since_clip_sec` fix the forest's settings; left at their
    defaults they are searched in `FOREST_GRID` on validation. With the demo's
    honest `segments`, the test half is also measured by segment and typology
    (`fraud.measure_decisions.decisions_measure`, in `metrics["by_segment_and_typology"]`).
    The supervised layer (`fraud.supervised`) learns from the weight rules of
    `ruleset` (a compiled version; by default the published one, as served),
    and from the member's baseline before each payment (`context`:
    `fraud.member_context.CONTEXT` columns) when given.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score

    patterns = np.full(len(labels), "", dtype=object) if patterns is None else patterns
    labeled = ~np.isnan(labels)
    if int((labels == 1).sum()) < MIN_LABELED_FRAUD:
        raise TrainingError(f"need at least {MIN_LABELED_FRAUD} labeled fraudulent payments to evaluate")
    in_val, in_test = _member_split(member_ids, labeled, seed, labels)
    fit_rows = ~(in_val | in_test) & (labels != 1)
    for name, rows in (("validation", in_val), ("test", in_test)):
        if len(set(labels[rows])) < 2:
            raise TrainingError(f"the {name} half needs both fraud and normal labeled payments")
    grid = {
        "since_clip_sec": FOREST_GRID["since_clip_sec"] if since_clip_sec == "search" else (since_clip_sec,),
        "max_samples": FOREST_GRID["max_samples"] if max_samples is None else (max_samples,),
    }
    forest, input_params, search = _forest_search(
        features=features,
        fit_rows=fit_rows,
        val_rows=in_val,
        labels=labels,
        grid=grid,
        seed=seed,
        n_estimators=n_estimators,
    )
    x = model_inputs(features, input_params["since_clip_sec"])
    comparison = (
        detectors_compare(
            fit_x=x[fit_rows],
            val_x=x[in_val],
            val_y=labels[in_val],
            seed=seed,
            max_samples=input_params["max_samples"],
        )
        if compare
        else []
    )
    arrays = forest_arrays(forest)

    isolation = -forest.score_samples(x)
    platt = LogisticRegression(C=100.0).fit(isolation[in_val, None], labels[in_val].astype(int))
    calibration = {
        "method": "platt",
        "a": float(platt.coef_[0, 0]),
        "b": float(platt.intercept_[0]),
        "fitted_on": "validation half of the labeled holdout",
    }
    probability = calibrate(isolation, calibration["a"], calibration["b"])
    normal_fit = fit_rows & (labels == 0) if labeled[fit_rows].any() else fit_rows
    rule_params, rule_tuning = rules_tune(
        fit_normal=features[normal_fit], val_features=features[in_val], val_labels=labels[in_val]
    )
    detectable = detectable_at_own_time(features=features, patterns=patterns, member_ids=member_ids, times=times)
    test_scores = _combined_scores(features[in_test], probability[in_test], isolation[in_test], rule_params)
    val_scores = _combined_scores(features[in_val], probability[in_val], isolation[in_val], rule_params)
    train_rows = ~(in_val | in_test) & labeled
    supervised, layers, supervised_scores = _supervised_layer(
        x=x,
        features=features,
        isolation=isolation,
        labels=labels,
        train_rows=train_rows,
        in_val=in_val,
        in_test=in_test,
        val_scores=val_scores,
        seed=seed,
        ruleset=serving_ruleset() if ruleset is None else ruleset,
        context=context,
    )
    if supervised_scores is not None:
        layers["anomaly_rules"]["test"] = _layer_summary(
            evaluate(scores=test_scores, labels=labels[in_test], anomaly=isolation[in_test], patterns=patterns[in_test])
        )
        if layers["serving"] == "supervised":
            test_scores, val_scores = supervised_scores[in_test], supervised_scores[in_val]
    metrics = evaluate(
        scores=test_scores,
        labels=labels[in_test],
        anomaly=isolation[in_test],
        patterns=patterns[in_test],
        detectable=detectable[in_test],
    )
    if supervised_scores is not None:
        layers["supervised"]["test"] = _layer_summary(
            evaluate(
                scores=supervised_scores[in_test],
                labels=labels[in_test],
                anomaly=isolation[in_test],
                patterns=patterns[in_test],
            )
        )
    validation = evaluate(
        scores=val_scores,
        labels=labels[in_val],
        anomaly=isolation[in_val],
        patterns=patterns[in_val],
        detectable=detectable[in_val],
    )
    served_scores = (
        supervised_scores
        if layers.get("serving") == "supervised"
        else _combined_scores(features, probability, isolation, rule_params)
    )
    reference = reference_distribution(features, FEATURES, served_scores)
    metrics["validation_pr_auc"] = round(float(average_precision_score(labels[in_val], val_scores)), 4)
    if segments is not None:
        metrics["by_segment_and_typology"] = decisions_measure(
            labels=labels[in_test],
            decisions=np.array([decide(float(s)) for s in test_scores], dtype=object),
            segments=segments[in_test],
            patterns=patterns[in_test],
        )
    metrics["validation"] = {k: validation[k] for k in ("precision", "recall", "fpr", "pr_auc", "detectable_ceiling")}
    return Trained(
        forest=forest,
        arrays=arrays,
        calibration=calibration,
        rule_params=rule_params,
        comparison=comparison,
        metrics=metrics,
        data_sha256=data_hash(np.column_stack([features, np.nan_to_num(labels, nan=-1)])),
        counts={
            "payments": int(len(labels)),
            "fit": int(fit_rows.sum()),
            "validation": int(in_val.sum()),
            "test": int(in_test.sum()),
            "labeled": int(labeled.sum()),
            "labeled_fraud": int((labels == 1).sum()),
            "fraud_excluded_from_fit": int((~(in_val | in_test) & (labels == 1)).sum()),
        },
        input_params=input_params,
        forest_search=search,
        rule_tuning=rule_tuning,
        reference=reference,
        test_features=features[in_test],
        test_labels=labels[in_test],
        test_context=None if context is None else context[in_test],
        test_rows=in_test,
        supervised=supervised,
        layers=layers,
    )


def _layer_summary(metrics: dict) -> dict:
    keys = ("precision", "recall", "review_or_hold_recall", "fpr", "pr_auc", "review_rate", "confusion")
    return {key: metrics[key] for key in keys}


def _supervised_layer(
    *, x, features, isolation, labels, train_rows, in_val, in_test, val_scores, seed, ruleset, context
) -> tuple[SupervisedFit | None, dict, np.ndarray | None]:
    """Fit the supervised layer when there are enough labels; say which layer serves and why (the card's `layers`)."""
    from sklearn.metrics import average_precision_score

    minimum = settings.FRAUD_SUPERVISED_MIN_FRAUD
    fraud, honest = int((labels[train_rows] == 1).sum()), int((labels[train_rows] == 0).sum())
    layers = {
        "anomaly_rules": {"validation_pr_auc": round(float(average_precision_score(labels[in_val], val_scores)), 4)},
        "supervised": {
            "labels": {"fraud": fraud, "honest": honest},
            "minimum": {"fraud": minimum, "honest": 10 * minimum},
        },
        "serving": "anomaly_rules",
    }
    if fraud < minimum or honest < 10 * minimum:
        layers["why"] = (
            f"not enough labels to train the supervised layer: {fraud} fraudulent and {honest} honest payments "
            f"among the training members, {minimum} and {10 * minimum} needed (FRAUD_SUPERVISED_MIN_FRAUD)"
        )
        return None, layers, None
    rules = learned_rules(ruleset)
    names = input_names([rule.id for rule in rules], SUPERVISED_CONTEXT if context is not None else ())
    inputs = supervised_inputs(x, isolation, rule_hits(rules, features, structuring_limit()), context)
    train_x = inputs[train_rows]
    if context is not None:
        # Checks through the API name no device or place: a share of the training rows learns that case.
        masked = np.random.default_rng(seed).random(len(train_x)) < CONTEXT_MASKED_SHARE
        for name in ("device_seen_days", "location_seen_days"):
            train_x[masked, names.index(name)] = np.nan
    fit = supervised_fit(
        train_x=train_x,
        train_y=labels[train_rows],
        val_x=inputs[in_val],
        val_y=labels[in_val],
        names=names,
        learned={rule.id: rule.cel_source for rule in rules},
        seed=seed,
    )
    scores = fit.probability(inputs)
    sup_val = round(float(average_precision_score(labels[in_val], scores[in_val])), 4)
    layers["supervised"].update(
        {
            "validation_pr_auc": sup_val,
            "rounds": fit.rounds,
            "inputs": names,
            "learned_rules": fit.learned,
            "learned_from": ruleset.version,
            "importance": fit.importance,
            "calibration": fit.calibration,
        }
    )
    base = layers["anomaly_rules"]["validation_pr_auc"]
    if sup_val > base:
        layers["serving"] = "supervised"
        layers["why"] = f"the supervised layer's validation PR-AUC {sup_val} beats the anomaly and rules' {base}"
    else:
        layers["why"] = (
            f"the supervised layer's validation PR-AUC {sup_val} does not beat the anomaly and rules' {base}"
        )
    return fit, layers, scores


def _card(trained: Trained, *, analyst_labels: int, params: dict) -> dict:
    ranked = sorted((r for r in trained.comparison if r.get("pr_auc") is not None), key=lambda r: -r["pr_auc"])
    best = ranked[0]["detector"] if ranked else None
    return {
        "model": "IsolationForest (scikit-learn, via PyOD IForest settings) + rules, noisy-OR",
        "features": FEATURES,
        "feature_windows": {
            "time_since_last_sec": f"seconds since the member's previous payment, capped at {TIME_SINCE_LAST_CAP_SEC}",
            "invoices_last_min": f"member's invoices in the {INVOICE_WINDOW_SEC} s up to and including this one",
            "device_changes": f"device switches between consecutive payments in the last {CHANGE_WINDOW_SEC} s",
            "location_changes": f"location switches between consecutive payments in the last {CHANGE_WINDOW_SEC} s",
        },
        "model_inputs": "log1p(amount_sats), log1p(min(time_since_last_sec, since_clip_sec)), "
        "the three counts as they are",
        "model_input_params": {"since_clip_sec": trained.input_params.get("since_clip_sec")},
        "forest_search": {
            "metric": "PR-AUC of the anomaly score alone on the validation half",
            "candidates": trained.forest_search,
            "chosen": trained.input_params,
        },
        "params": params,
        "serving": {
            "form": "onnx",
            "files": {ONNX_FILE: "one ai.onnx.ml TreeEnsembleRegressor node", ARRAYS_FILE: "the forest's arrays"},
            "why": "onnxruntime scores one row in tens of microseconds with the same scores as scikit-learn "
            "(max abs difference ~2e-8); the numpy walk of the same arrays is exact but ~3x slower a row.",
        },
        "calibration": trained.calibration,
        "score_mapping": "p = sigmoid(a * isolation + b), isolation = -score_samples; "
        "fraud_score = 1 - (1 - p) * prod(1 - rule weight)",
        "rules": rules_catalogue(),
        "rule_params": trained.rule_params,
        "structuring_limit_sats": settings.FRAUD_STRUCTURING_LIMIT_SATS,
        "rule_tuning": {
            "method": "per rule, the candidate with the best validation recall among those firing on at most "
            f"{RULE_FALSE_ALARM_BUDGET} of normal fit payments, recall of the hold rules together "
            "(ties: fewer false alarms, then the rule's own recall, then stricter); two passes",
            "false_alarm_budget": RULE_FALSE_ALARM_BUDGET,
            "rules": trained.rule_tuning,
        },
        "thresholds": {
            "review": settings.FRAUD_REVIEW_THRESHOLD,
            "hold": settings.FRAUD_HOLD_THRESHOLD,
            "default_action": settings.FRAUD_DEFAULT_ACTION,
        },
        "detector_comparison": {
            "metric": "PR-AUC on the validation half of the labeled holdout (anomaly score alone)",
            "candidates": trained.comparison,
            "best": best,
            "shipped": "iforest",
            "note": ""
            if best in (None, "iforest")
            else f"{best} ranked higher; iforest is shipped because only it has an exact microsecond serving form.",
        },
        "metrics": trained.metrics,
        "layers": trained.layers,
        "reference_distribution": trained.reference,
        "counts": {**trained.counts, "analyst_labels": analyst_labels},
        "data_sha256": trained.data_sha256,
        "library_versions": library_versions("scikit-learn", "pyod", "numpy", "onnx", "onnxruntime"),
        "trained_at": timezone.now().isoformat(),
        "split": "by member: 30% of labeled members held out, halved into validation and test",
        "detectable_ceiling": "share of test fraud a real-time check can see at its own time: not the first "
        "payment of a burst, rapid-repeat or structuring run; an account takeover showing a device or "
        "location change (fraud.training.detectable_at_own_time)",
    }


def fraud_artifact_write(*, trained: Trained, analyst_labels: int = 0, params: dict | None = None) -> dict:
    """Write a trained model's ONNX file, arrays and model card to `ML_ARTIFACTS_DIR/fraud/<version>/`."""
    version = timezone.now().strftime("%Y%m%d-%H%M%S-%f") + f"-{trained.data_sha256[:8]}"
    return artifact_write(
        name=MODEL_NAME,
        version=version,
        files={
            ONNX_FILE: onnx_bytes(trained.arrays),
            ARRAYS_FILE: arrays_to_bytes(trained.arrays),
            # The supervised layer's booster, kept even when it does not serve (the card says why).
            **({BOOSTER_FILE: trained.supervised.booster.model_to_string().encode()} if trained.supervised else {}),
        },
        manifest=_card(trained, analyst_labels=analyst_labels, params=params or {}),
    )


def _active_pr_auc_on(
    features: np.ndarray, labels: np.ndarray, context: np.ndarray | None = None
) -> tuple[str | None, float | None]:
    """Return the active model's version and PR-AUC on these held-out rows (None if none is usable)."""
    from sklearn.metrics import average_precision_score

    loaded = registry.get_active(MODEL_NAME)
    if loaded is None:
        return None, None
    try:
        isolation, probability = loaded.model.anomaly(features)
        if loaded.model.supervised is not None:  # its layer, over the published rules' hits (as it serves)
            scores, _, _, _ = combine_served(
                features, None, probability, isolation, serving_ruleset(), model=loaded.model, context=context
            )
        else:  # anomaly and its own tuned rules, as this run's anomaly-and-rules layer is measured
            scores = _combined_scores(features, probability, isolation, loaded.model.rule_params)
        return loaded.version, round(float(average_precision_score(labels, scores)), 4)
    except Exception:  # an active model that cannot score is beaten by any that can
        logger.exception("active fraud model failed on the held-out rows")
        return loaded.version, None


def fraud_model_train(
    *,
    activate: bool = False,
    seed: int = 7,
    n_estimators: int = 100,
    max_samples: int | None = None,
    activated_by: str = "",
    data: LabeledPayments | None = None,
    source: str = "database",
) -> TrainResult:
    """Train from the database (or `data`), write the artifact, register it; activate when better, or asked.

    The active version is re-scored on this run's test half: both PR-AUCs come
    from the same payments. `data` is an exported history already read
    (`labeled_payments_from_csv`); `source` says where it came from in the card.
    """
    data = labeled_payments() if data is None else data
    trained = fraud_model_fit(
        features=data.features,
        labels=data.labels,
        member_ids=data.member_ids,
        patterns=data.patterns,
        times=data.times,
        seed=seed,
        n_estimators=n_estimators,
        max_samples=max_samples,
        segments=data.segments if data.segments is not None and (data.segments != "").any() else None,
        context=data.context,
    )
    active_version, active_pr_auc = _active_pr_auc_on(trained.test_features, trained.test_labels, trained.test_context)
    trained.metrics["active_before"] = {"version": active_version, "pr_auc_on_this_test": active_pr_auc}
    manifest = fraud_artifact_write(
        trained=trained,
        analyst_labels=data.analyst_labels,
        params={"n_estimators": n_estimators, **trained.input_params, "seed": seed, "source": source},
    )
    activate, why = promotion_decide(
        metric="pr_auc",
        score=trained.metrics["pr_auc"],
        active_version=active_version,
        active_score=active_pr_auc,
        forced=activate,
    )
    model_version = lifecycle.model_version_register(
        manifest=manifest, activate=activate, activated_by=activated_by or "training"
    )
    return TrainResult(
        name=MODEL_NAME,
        manifest=manifest,
        model_version=model_version,
        activated=activate,
        reason=why,
        metric="pr_auc",
        score=trained.metrics["pr_auc"],
        active_version=active_version,
        active_score=active_pr_auc,
        rows=trained.counts["fit"],
        metrics={**trained.metrics, "counts": trained.counts, "comparison": trained.comparison},
    )


def fraud_model_trainer(*, activated_by: str = "") -> TrainResult:
    """Train from the database's payments and verdicts (the registry's trainer for `fraud`)."""
    return fraud_model_train(activated_by=activated_by)
