"""The rule language: parsing, French errors with positions, and the scalar (CEL) and vectorised (numpy) forms."""

import math
import random

import numpy as np
import pytest
from django.test import override_settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from fraud.features import CONTEXT, CONTEXT_KEY, FEATURES
from fraud.rules import DEFAULT_PARAMS, RULES
from fraud.rules_engine import (
    RuleExpressionError,
    compile_rule,
    compile_ruleset,
    default_rule_specs,
    parse,
    to_cel,
)

# The five features, the limit and the member context (fraud.member_context: NaN when unknown).
NUMERIC_NAMES = [*FEATURES, "reporting_limit", *CONTEXT]


def spec(expression, rule_id="r1", **extra):
    return {"rule_id": rule_id, "expression": expression, "reason_fr": "", "reason_en": "", **extra}


def test_canonical_cel_writes_every_number_as_a_double():
    tree = parse("amount_sats >= 3 && 0.975 * reporting_limit > -1", rule_id="r")
    assert to_cel(tree) == "((amount_sats >= 3.0) && ((0.975 * reporting_limit) > (-1.0)))"


@pytest.mark.parametrize(
    ("text", "position", "words"),
    [
        ("amount_sats >= ", 16, "incomplète"),
        ("amount_sats >= 3 &&& x", 20, "inattendu"),
        ("(amount_sats > 3", 17, "« ) » manquant"),
        ("montant > 3", 1, "nom inconnu « montant »"),
        ("amount_sats + 3", 1, "vrai ou faux"),
        ("amount_sats && true", 1, "« && » relie"),
        ("amount_sats > true", 15, "compare des nombres"),
        ("1 < amount_sats < 5", 17, "enchaînées"),
        ("amount_sats > 3 # x", 17, "caractère inattendu « # »"),
        ("amount_sats > 1e999", 15, "trop grand"),
        ("amount_sats > 1e16", 15, "trop grand"),
        ("amount_sats / device_changes > 1", 13, "non nul"),
        ("amount_sats / 0 > 1", 13, "non nul"),
        ("amount_sats / 2 * 3 / (1 - 1) > 1", 21, "non nul"),
    ],
)
def test_bad_expressions_name_the_rule_and_the_position_in_french(text, position, words):
    with pytest.raises(RuleExpressionError) as error:
        compile_rule(spec(text, rule_id="ma_regle"))
    assert error.value.rule_id == "ma_regle"
    assert error.value.position == position
    assert words in error.value.reason
    assert str(error.value).startswith(f"Règle « ma_regle », position {position} :")


def test_python_is_not_the_language():
    for text in ("__import__('os').system('true')", "amount_sats.__class__ == 1", "[1][0] == 1", "'a' == 'a'"):
        with pytest.raises(RuleExpressionError):
            compile_rule(spec(text))


def test_reason_sentences_take_only_known_names_with_number_formats():
    compile_rule(spec("true", reason_fr="Montant {amount_sats:,.0f} sats", reason_en="{amount_sats}"))
    for bad in ("{amount_sats.__class__}", "{amount_sats!r}", "{0}", "{montant}", "{amount_sats:>99999}", "{"):
        with pytest.raises(RuleExpressionError):
            compile_rule(spec("true", reason_fr=bad))


def test_weights_and_effects_are_checked():
    with pytest.raises(RuleExpressionError):
        compile_rule(spec("true", effect="weight", weight=1.5))
    with pytest.raises(RuleExpressionError):
        compile_rule(spec("true", effect="block"))
    with pytest.raises(RuleExpressionError, match="double"):
        compile_ruleset([spec("true"), spec("false")])


def test_disabled_rules_are_left_out_and_the_rest_run_in_priority_order():
    ruleset = compile_ruleset(
        [
            spec("true", "b", priority=2),
            spec("true", "a", priority=2),
            spec("true", "z", priority=1),
            spec("true", "off", enabled=False),
        ]
    )
    assert [r.id for r in ruleset.rules] == ["z", "a", "b"]


# --- Random expressions over random payments: the two forms agree ------------------------------

numbers = st.one_of(
    st.integers(min_value=0, max_value=2_000_000).map(float),
    st.sampled_from([0.0, 0.5, 0.975, 1.0, 3.0, 15.0, 97_500.0, 100_000.0, 1e-3]),
)


def _literal(x: float) -> str:
    return str(int(x)) if x.is_integer() else repr(x)


num_expr = st.recursive(
    st.one_of(st.sampled_from(NUMERIC_NAMES), numbers.map(_literal)),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(inner, st.sampled_from([0.5, 2.0, 3.0, 1e-3, 1000.0])).map(lambda t: f"({t[0]} / {_literal(t[1])})"),
        inner.map(lambda e: f"-{e}"),
    ),
    max_leaves=4,
)
comparison = st.tuples(num_expr, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), num_expr).map(
    lambda t: f"{t[0]} {t[1]} {t[2]}"
)
bool_expr = st.recursive(
    st.one_of(comparison, st.sampled_from(["true", "false"])),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["&&", "||"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda e: f"!({e})"),
        st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} ? {t[1]} : {t[2]})"),
    ),
    max_leaves=5,
)


def random_payments(seed: int, n: int, *, context: bool = False) -> list[dict]:
    rng = random.Random(seed)
    edges = [0, 1, 3, 15, 787, 86_349, 97_500, 99_999, 100_000, 823_782, 21_600, 2_592_000]
    rows = []
    for _ in range(n):
        rows.append(
            {
                "amount_sats": rng.choice([rng.randint(0, 1_200_000), rng.choice(edges), rng.randint(97_000, 100_001)]),
                "time_since_last_sec": rng.choice([rng.randint(0, 40), rng.randint(0, 2_592_000), rng.choice(edges)]),
                "invoices_last_min": rng.randint(0, 12),
                "device_changes": rng.randint(0, 3),
                "location_changes": rng.randint(0, 3),
            }
        )
        if context:  # the member's baseline: ordinary values, edges, and unknowns (an unknown member, a short one)
            rows[-1][CONTEXT_KEY] = np.array(
                [rng.choice([math.nan, 0.0, 1.0, rng.uniform(-5, 5), rng.uniform(0, 200_000)]) for _ in CONTEXT]
            )
    return rows


def _both_forms(ruleset, rows, limit=100_000):
    facts = [ruleset.facts(row, limit) for row in rows]
    scalar = np.array([ruleset.fired(f) for f in facts], dtype=bool).reshape(len(rows), len(ruleset.rules))
    columns = {name: np.array([f[name] for f in facts], dtype=np.float64) for name in FEATURES}
    columns["reporting_limit"] = float(limit)
    if ruleset.context_names:
        unknown = np.full(len(CONTEXT), np.nan)
        columns.update(ruleset.context_columns(np.array([row.get(CONTEXT_KEY, unknown) for row in rows])))
    fired = ruleset.fire_columns(columns, len(rows))
    vector = np.column_stack([fired[r.id] for r in ruleset.rules])
    return scalar, vector


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions=st.lists(bool_expr, min_size=1, max_size=4), seed=st.integers(0, 10_000))
def test_scalar_and_vectorised_forms_agree_on_random_expressions_and_payments(expressions, seed):
    ruleset = compile_ruleset([spec(e, f"r{i}") for i, e in enumerate(expressions)])
    scalar, vector = _both_forms(ruleset, random_payments(seed, 40, context=True))
    assert (scalar == vector).all(), [r.cel_source for r in ruleset.rules]


def test_v1_specs_fire_exactly_as_todays_lambdas_in_both_forms():
    ruleset = compile_ruleset(default_rule_specs())
    assert [r.id for r in ruleset.rules] == [r.id for r in RULES]
    rows = random_payments(3, 3000)
    scalar, vector = _both_forms(ruleset, rows)
    with override_settings(FRAUD_STRUCTURING_LIMIT_SATS=100_000):
        old = np.array([[rule.test(row, DEFAULT_PARAMS) for rule in RULES] for row in rows], dtype=bool)
    assert (scalar == old).all() and (vector == old).all()
    assert old.any(axis=0).all(), "every rule fires on some of the random payments"


def test_a_reason_has_todays_format():
    ruleset = compile_ruleset(default_rule_specs())
    rule = ruleset.rules[0]
    facts = ruleset.facts({**dict.fromkeys(FEATURES, 0), "invoices_last_min": 4}, 100_000)
    assert rule.reason(facts) == {
        "id": "invoice_burst",
        "kind": "rule",
        "weight": 0.9,
        "fr": "Rafale de factures : 4 factures en une minute.",
        "en": "Invoice burst: 4 invoices within one minute.",
    }
