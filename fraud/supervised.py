"""The supervised layer of the fraud model (issue 16): gradient boosting over what the unsupervised layer sees.

The forest compares a payment with the whole population and remembers
nothing of the member, so a busy vendor's bursts look like fraud to it. The
supervised layer learns from labels which of these patterns are honest:
LightGBM over

- the forest's inputs (`fraud.detectors.model_inputs`) and its isolation score,
- which of the published version's weight rules fire (`learned_rules`: those
  that read no list),
- the member-relative columns of `SUPERVISED_CONTEXT` when the history gives
  them (how the amount compares with the member's own amounts, whether the
  device and place were seen before, ...),

trained on the labelled payments of the training members (demo ground truth,
overridden by analysts' verdicts `confirmed_fraud` / `false_positive`), its
raw score calibrated with Platt's sigmoid on the validation half and
measured on the test half, like the rest of the model.

It serves only when the model card shows enough labels
(`FRAUD_SUPERVISED_MIN_FRAUD` fraudulent and ten times as many honest ones in
its training rows) and when it beats the anomaly-and-rules score on the
validation half (PR-AUC); otherwise the card says why and the anomaly and
rules decide as before. When it serves, its calibrated probability is the
model's share of the score: the rules it learned from (same id and same
expression as when it was trained) are inputs, so their weights are not
multiplied in again; a rule the team wrote since still adds its weight, and
an outcome rule (hold, review, allow) still decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fraud.features import FEATURES
from fraud.member_context import CONTEXT
from fraud.rules_engine import EFFECT_WEIGHT, lists_used, names_used, to_numpy

BOOSTER_FILE = "supervised.txt"
# The boosting settings: small trees, many rounds stopped early on the validation half.
PARAMS = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.9,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "verbose": -1,
    "num_threads": 1,
    "deterministic": True,
    "force_row_wise": True,
}
ROUNDS = 400
RULE_PREFIX = "rule__"
EARLY_STOP = 40


# The baseline columns the layer reads: the member-relative ones of issue 16 (the first of CONTEXT). The hour and
# day counts and sums, the estimated median and p95 and the credit score are for rules: with them as inputs the
# layer met the honest segments it never saw worse (leave one segment out on the 10,000-member world: collectors
# held or reviewed 30.7 % against 13.0 %, vendors 9.8 % against 4.5 %), for a better score on those it saw.
SUPERVISED_CONTEXT = CONTEXT[: CONTEXT.index("own_payout_days") + 1]


def learned_rules(ruleset) -> list:
    """The rules the layer learns from: a compiled version's weight rules over the payment's features alone.

    A list's members change from day to day, so its hits in stored history are
    not what the check saw then; a rule on the member's context reads what the
    layer reads already (its context inputs). Those rules keep their weight
    beside the layer.
    """
    context = set(CONTEXT)
    return [
        rule
        for rule in ruleset.rules
        if rule.effect == EFFECT_WEIGHT and not lists_used(rule.tree) and not names_used(rule.tree) & context
    ]


def input_names(rule_ids: list[str], context: tuple[str, ...] = ()) -> list[str]:
    """The supervised layer's input columns, in order."""
    return [*FEATURES, "isolation_score", *(f"{RULE_PREFIX}{rule_id}" for rule_id in rule_ids), *context]


def rule_hits(rules: list, features: np.ndarray, reporting_limit: float) -> np.ndarray:
    """(n, len(rules)) 0/1 hits of `rules` on raw feature rows (the vectorised form of the rule engine)."""
    n = len(features)
    if not rules:
        return np.zeros((n, 0))
    columns = {name: features[:, j] for j, name in enumerate(FEATURES)}
    columns["reporting_limit"] = float(reporting_limit)
    with np.errstate(all="ignore"):
        return np.column_stack(
            [np.broadcast_to(np.asarray(to_numpy(rule.tree, columns), dtype=bool), (n,)) for rule in rules]
        ).astype(np.float64)


def supervised_inputs(
    x: np.ndarray, isolation: np.ndarray, hits: np.ndarray, context: np.ndarray | None = None
) -> np.ndarray:
    """Rows for the booster: forest inputs `x`, isolation, the learned rules' hits, `SUPERVISED_CONTEXT` columns.

    `context`: the rows' whole baseline (n, len(CONTEXT)); the layer reads its `SUPERVISED_CONTEXT` part.
    """
    parts = [x, isolation[:, None], hits]
    if context is not None and context.shape[1]:
        parts.append(context[:, : len(SUPERVISED_CONTEXT)])
    return np.column_stack(parts)


@dataclass
class SupervisedFit:
    """A fitted booster, its calibration and what the card records."""

    booster: object  # lightgbm.Booster
    calibration: dict
    names: list[str]
    rounds: int
    importance: dict
    # {rule id: canonical CEL} of the rules whose hits are inputs (their weights are inside the layer).
    learned: dict = field(default_factory=dict)

    @property
    def rule_ids(self) -> list[str]:
        """The learned rules in the order of the inputs (the card's JSON keeps `learned` in its own key order)."""
        return [name[len(RULE_PREFIX) :] for name in self.names if name.startswith(RULE_PREFIX)]

    @property
    def uses_context(self) -> bool:
        """Whether the member's baseline (`SUPERVISED_CONTEXT`) is among the inputs."""
        return bool(self.names) and self.names[-1] == SUPERVISED_CONTEXT[-1]

    def probability(self, inputs: np.ndarray) -> np.ndarray:
        raw = self.booster.predict(inputs, raw_score=True, num_threads=1)
        return _sigmoid(self.calibration["a"] * raw + self.calibration["b"])


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def supervised_fit(
    *,
    train_x: np.ndarray,
    train_y: np.ndarray,
    val_x: np.ndarray,
    val_y: np.ndarray,
    names: list[str],
    learned: dict,
    seed: int = 7,
) -> SupervisedFit:
    """Fit the booster on the training rows, stop and calibrate on the validation half."""
    import lightgbm as lgb
    from sklearn.linear_model import LogisticRegression

    params = {**PARAMS, "seed": seed}
    train = lgb.Dataset(train_x, label=train_y, feature_name=names, free_raw_data=False)
    val = lgb.Dataset(val_x, label=val_y, reference=train, feature_name=names, free_raw_data=False)
    booster = lgb.train(
        params,
        train,
        num_boost_round=ROUNDS,
        valid_sets=[val],
        callbacks=[lgb.early_stopping(EARLY_STOP, verbose=False)],
    )
    rounds = int(booster.best_iteration or booster.current_iteration())
    booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=rounds))
    raw = booster.predict(val_x, raw_score=True, num_threads=1)
    platt = LogisticRegression(C=100.0).fit(raw[:, None], val_y.astype(int))
    gains = booster.feature_importance(importance_type="gain")
    total = float(gains.sum()) or 1.0
    return SupervisedFit(
        booster=booster,
        calibration={
            "method": "platt",
            "a": float(platt.coef_[0, 0]),
            "b": float(platt.intercept_[0]),
            "fitted_on": "validation half of the labeled holdout",
        },
        names=names,
        learned=learned,
        rounds=rounds,
        importance={
            n: round(float(g) / total, 4) for n, g in sorted(zip(names, gains, strict=True), key=lambda t: -t[1])
        },
    )


def supervised_load(text: str, card: dict) -> SupervisedFit:
    """The served layer from its booster file and its card section."""
    import lightgbm as lgb

    booster = lgb.Booster(model_str=text)
    return SupervisedFit(
        booster=booster,
        calibration=card["calibration"],
        names=list(card["inputs"]),
        learned=dict(card["learned_rules"]),
        rounds=int(card["rounds"]),
        importance=card.get("importance", {}),
    )
