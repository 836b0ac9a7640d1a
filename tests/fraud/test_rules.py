"""Each rule fires on its pattern and stays quiet on ordinary traffic."""

import pytest

from fraud.rules import RULES, rules_catalogue, rules_evaluate
from tests.fraud.conftest import ORDINARY, SEED_EXAMPLE


def test_rule_ids_are_unique_and_explained_in_french_and_english():
    ids = [rule["id"] for rule in rules_catalogue()]
    assert len(ids) == len(set(ids)) == len(RULES)
    for rule in rules_catalogue():
        assert rule["fr"] and rule["en"] and rule["fr"] != rule["en"]


def test_ordinary_payment_fires_nothing():
    assert rules_evaluate(ORDINARY) == []


@pytest.mark.parametrize(
    ("change", "rule_id"),
    [
        ({"invoices_last_min": 6}, "invoice_burst"),
        ({"device_changes": 1, "location_changes": 1, "amount_sats": 400_000}, "new_device_location_unusual_amount"),
        ({"time_since_last_sec": 3}, "rapid_repeat"),
        ({"amount_sats": 99_000, "time_since_last_sec": 600}, "structuring"),
        ({"amount_sats": 99_000}, "near_reporting_limit"),
        ({"amount_sats": 9_000_000}, "very_large_amount"),
    ],
)
def test_each_rule_fires_on_its_pattern(change, rule_id):
    assert [rule.id for rule in rules_evaluate({**ORDINARY, **change})] == [rule_id]


def test_new_device_alone_or_small_amount_is_not_takeover():
    assert rules_evaluate({**ORDINARY, "device_changes": 2}) == []
    assert rules_evaluate({**ORDINARY, "device_changes": 1, "location_changes": 1}) == []


def test_seed_example_fires_burst_takeover_and_rapid_repeat():
    fired = {rule.id for rule in rules_evaluate(SEED_EXAMPLE)}
    assert {"invoice_burst", "new_device_location_unusual_amount", "rapid_repeat"} <= fired


def test_trained_parameters_override_defaults():
    big = {**ORDINARY, "amount_sats": 60_000, "device_changes": 1, "location_changes": 1}
    assert rules_evaluate(big) == []
    assert [r.id for r in rules_evaluate(big, {"unusual_amount_sats": 50_000})] == [
        "new_device_location_unusual_amount"
    ]


def test_structuring_watches_the_limit_in_settings(settings):
    settings.FRAUD_STRUCTURING_LIMIT_SATS = 1_000_000
    assert [r.id for r in rules_evaluate({**ORDINARY, "amount_sats": 99_000, "time_since_last_sec": 600})] == []
    fired = rules_evaluate({**ORDINARY, "amount_sats": 990_000, "time_since_last_sec": 600})
    assert "structuring" in {r.id for r in fired}


def test_limit_defaults_to_the_demo_worlds_reporting_threshold():
    from django.conf import settings

    from backoffice.demo.generator import STRUCTURING_THRESHOLD_SATS

    assert settings.FRAUD_STRUCTURING_LIMIT_SATS == STRUCTURING_THRESHOLD_SATS == 100_000


def test_rapid_repeat_of_a_tiny_amount_is_not_fraud():
    assert rules_evaluate({**ORDINARY, "amount_sats": 50, "time_since_last_sec": 3}) == []


def test_vectorised_scores_and_reasons_equal_one_row_at_a_time():
    import numpy as np

    from fraud.detectors import combine_rows
    from fraud.features import FEATURES

    rng = np.random.default_rng(3)
    n = 400
    matrix = np.column_stack(
        [
            rng.choice([50, 12_000, 90_000, 98_000, 99_500, 400_000, 9_000_000], n),
            rng.choice([1.0, 3.0, 14.9, 15.0, 300.0, 86_400.0], n),
            rng.integers(0, 6, n),
            rng.integers(0, 3, n),
            rng.integers(0, 3, n),
        ]
    ).astype(np.float64)
    rows = [dict(zip(FEATURES, r, strict=True)) for r in matrix.tolist()]
    probability, isolation = rng.uniform(0, 1, n), rng.uniform(0.3, 0.8, n)
    scores, reasons = combine_rows(matrix, rows, probability, isolation, {})
    for i in range(n):
        one_score, one_reasons = combine_rows(
            matrix[i : i + 1], rows[i : i + 1], probability[i : i + 1], isolation[i : i + 1], {}
        )
        assert one_score[0] == scores[i] and one_reasons[0] == reasons[i]
    assert len({len(r) for r in reasons}) > 2  # the sample fires various rules
