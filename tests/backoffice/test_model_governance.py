"""Activating a model version or rolling back: both versions on the same held-out rows, a reason, an audit row."""

import datetime as dt
import html
import re

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone
from sklearn.metrics import average_precision_score, roc_auc_score

from backoffice.holdout import holdout_comparison, training_refusal
from credit.training import Dataset, credit_model_train, dataset_from_db, split_indices
from fraud import training as fraud_training
from fraud.selectors import labeled_payments
from fraud.training import fraud_model_train
from sunusav.ml.registry import registry
from sunusav.models import AnalystAction, ModelVersion
from tests.backoffice.test_admin_models import _train, _user
from tests.factories import ContributionFactory, LoanFactory, MemberFactory, TontineFactory
from tests.fraud.synthetic import synthetic_world

pytestmark = pytest.mark.django_db


def _text(response) -> str:
    return re.sub(r"[\u00a0\u202f]", " ", html.unescape(response.content.decode()))


def _active(name: str = "credit") -> str:
    return ModelVersion.objects.get(name=name, status="active").version


@pytest.fixture
def risk_admin(client):
    from sunusav.audit_trail import ADMIN_GROUP, groups_ensure

    groups_ensure()
    user = _user(ADMIN_GROUP, "moussa")
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def analyst(client):
    from sunusav.audit_trail import ANALYST_GROUP, groups_ensure

    groups_ensure()
    client.force_login(_user(ANALYST_GROUP, "aminata"))
    return client


@pytest.fixture
def credit_versions(artifacts_dir, django_capture_on_commit_callbacks):
    """`old` was active first, `new` replaced it (both trained on synthetic rows, not the database)."""
    with django_capture_on_commit_callbacks(execute=True):
        old = _train(1)
        new = _train(2)
    old.refresh_from_db()
    return {"old": old, "new": new}


@pytest.fixture
def closed_loans():
    """100 members with six contributions each and a closed loan: punctual ones repaid, one in four defaulted."""
    rng = np.random.default_rng(3)
    now = timezone.now()
    tontine = TontineFactory(started_at=now - dt.timedelta(days=400))
    for i in range(100):
        member = MemberFactory()
        good = i % 4 != 0
        offered = now - dt.timedelta(days=250 - 2 * i)
        for r in range(6):
            due = offered - dt.timedelta(days=7 * (r + 1))
            late = 0 if good else float(rng.integers(3, 15))
            ContributionFactory(member=member, tontine=tontine, due_at=due, paid_at=due + dt.timedelta(days=late))
        LoanFactory(member=member, offered_at=offered, status="repaid" if good else "defaulted")


def _credit_auc_on_holdout(version: ModelVersion) -> tuple[float, int]:
    data = dataset_from_db()
    _, _, test, _ = split_indices(data)
    model = registry.load_version("credit", version.version, expected_sha256=version.sha256).model
    return round(float(roc_auc_score(data.y[test], model.scores(data.X[test]))), 4), len(test)


# --- The confirmation page --------------------------------------------------------------------


def test_the_activation_page_scores_both_versions_on_the_same_held_out_rows(credit_versions, closed_loans, risk_admin):
    old, new = credit_versions["old"], credit_versions["new"]
    response = risk_admin.get(reverse("admin:sunusav_modelversion_activate", args=[old.pk]))
    assert response.status_code == 200
    comparison = response.context["comparison"]
    expected_old, rows = _credit_auc_on_holdout(old)
    expected_new, _ = _credit_auc_on_holdout(new)
    assert comparison.rows == rows == 20  # the newest 20 % of the 100 closed loans
    assert (comparison.candidate.version, comparison.active.version) == (old.version, new.version)
    assert (comparison.candidate.score, comparison.active.score) == (expected_old, expected_new)
    assert all(isinstance(s, float) and 0 <= s <= 1 for s in (expected_old, expected_new))
    page = _text(response)
    assert "20 lignes" in page and "AUC" in page
    for score in (expected_old, expected_new):
        assert f"{score:.4f}".rstrip("0").replace(".", ",") in page  # French decimal comma
    assert 'name="reason"' in page and "Mettre cette version en service" in page
    assert _active() == new.version and not AnalystAction.objects.exists()  # a GET changes nothing


def test_with_too_few_closed_loans_the_page_says_so_and_shows_no_figure(credit_versions, risk_admin):
    response = risk_admin.get(reverse("admin:sunusav_modelversion_activate", args=[credit_versions["old"].pk]))
    comparison = response.context["comparison"]
    assert comparison.not_enough_data and comparison.rows == 0
    assert comparison.candidate.score is None and comparison.active.score is None
    page = _text(response)
    assert "Pas assez de prêts clos" in page and 'id="comparison-table"' not in page
    assert 'name="reason"' in page  # the decision stays possible, on the person's own judgement


def test_a_post_without_a_reason_is_refused_in_french_and_changes_nothing(credit_versions, risk_admin):
    old, new = credit_versions["old"], credit_versions["new"]
    url = reverse("admin:sunusav_modelversion_activate", args=[old.pk])
    initial = risk_admin.get(url).context["form"].initial
    for reason in ("", "   "):
        response = risk_admin.post(url, {**initial, "reason": reason})
        assert response.status_code == 200
        assert "Indiquez la raison de ce changement" in _text(response)
    assert _active() == new.version and not AnalystAction.objects.exists()


def test_a_post_with_a_reason_activates_and_the_audit_row_keeps_the_reason(
    credit_versions, closed_loans, risk_admin, django_capture_on_commit_callbacks
):
    old, new = credit_versions["old"], credit_versions["new"]
    url = reverse("admin:sunusav_modelversion_activate", args=[old.pk])
    initial = risk_admin.get(url).context["form"].initial
    assert initial == {"compared_with": new.version, "candidate": old.version}
    reason = "Meilleure AUC sur les mêmes prêts clos ; la nouvelle version sur-ajuste."
    with django_capture_on_commit_callbacks(execute=True):
        response = risk_admin.post(url, {**initial, "reason": reason})
    assert response.status_code == 302
    assert _active() == old.version and registry.get_active("credit").version == old.version
    action = AnalystAction.objects.get()
    assert (action.action, action.actor, action.note) == ("activate", risk_admin.user, reason)
    assert action.before["active_version"] == new.version and action.after["active_version"] == old.version


def test_a_post_for_versions_that_changed_meanwhile_shows_the_new_comparison(credit_versions, risk_admin):
    old, new = credit_versions["old"], credit_versions["new"]
    url = reverse("admin:sunusav_modelversion_activate", args=[old.pk])
    response = risk_admin.post(url, {"candidate": old.version, "compared_with": "someone-else", "reason": "ok"})
    assert response.status_code == 200 and "ont changé entre-temps" in _text(response)
    assert response.context["form"].initial["compared_with"] == new.version
    assert _active() == new.version and not AnalystAction.objects.exists()


def test_rollback_is_confirmed_with_the_same_comparison_and_a_reason(
    credit_versions, closed_loans, risk_admin, django_capture_on_commit_callbacks
):
    old, new = credit_versions["old"], credit_versions["new"]
    url = reverse("admin:sunusav_modelversion_rollback", args=["credit"])
    page = risk_admin.get(url)
    comparison = page.context["comparison"]
    assert (comparison.candidate.version, comparison.active.version) == (old.version, new.version)
    assert comparison.rows == 20 and comparison.candidate.score == _credit_auc_on_holdout(old)[0]
    assert "Revenir à cette version" in _text(page)
    initial = page.context["form"].initial
    refused = risk_admin.post(url, {**initial, "reason": ""})
    assert refused.status_code == 200 and "Indiquez la raison de ce changement" in _text(refused)
    assert _active() == new.version and not AnalystAction.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        done = risk_admin.post(url, {**initial, "reason": "Incident : la nouvelle version bloque trop."})
    assert done.status_code == 302 and _active() == old.version
    action = AnalystAction.objects.get()
    assert (action.action, action.note) == ("rollback", "Incident : la nouvelle version bloque trop.")


def test_only_risk_admins_see_and_use_the_confirmation_pages(credit_versions, analyst):
    for url in (
        reverse("admin:sunusav_modelversion_activate", args=[credit_versions["old"].pk]),
        reverse("admin:sunusav_modelversion_rollback", args=["credit"]),
    ):
        assert analyst.get(url).status_code == 403
        assert analyst.post(url, {"reason": "x"}).status_code == 403
    assert _active() == credit_versions["new"].version and not AnalystAction.objects.exists()


# --- Warnings ---------------------------------------------------------------------------------------


def test_a_version_its_own_training_refused_is_flagged(artifacts_dir, closed_loans, risk_admin):
    good = _train(1)
    # Oldest 80 % with shuffled outcomes, newest 20 % (training's held-out rows) with the real relation:
    # the new version learns noise, the active one scores those rows far better, so training keeps it.
    rng = np.random.default_rng(1)
    n = 1500
    punctuality, delay, endorsements = rng.beta(5, 1.5, n), rng.gamma(1.2, 1.5, n), rng.poisson(2.5, n)
    count = rng.integers(0, 30, n)
    X = np.column_stack([count * 10_000, punctuality, count, rng.gamma(2, 60_000, n), delay, endorsements])
    y = (rng.random(n) > 1 / (1 + np.exp(-(2.5 - 5 * punctuality + 0.5 * delay - 0.35 * endorsements)))).astype(int)
    y[: int(n * 0.8)] = rng.permutation(y[: int(n * 0.8)])
    data = Dataset(X=X.astype(float), y=y, times=np.arange(n, dtype=float), source="noise then signal")
    result = credit_model_train(data=data, rounds=25)
    refused = result.model_version
    assert not result.activated and refused.status == "inactive" and _active() == good.version
    assert "n'a pas été mise en service" in training_refusal(refused)
    page = _text(risk_admin.get(reverse("admin:sunusav_modelversion_activate", args=[refused.pk])))
    assert "À son entraînement, cette version n'a pas été mise en service" in page
    assert training_refusal(good) == ""


def test_a_worse_candidate_is_warned_about(credit_versions, closed_loans):
    old, new = credit_versions["old"], credit_versions["new"]
    comparison = holdout_comparison(candidate=old, active=new)
    worse = comparison.candidate.score < comparison.active.score
    assert any("fait moins bien" in w for w in comparison.warnings) is worse


# --- Fraud: PR-AUC on the test half of training's by-member split ------------------------------------


def test_fraud_versions_are_compared_on_the_training_test_half(
    artifacts_dir, risk_admin, django_capture_on_commit_callbacks
):
    synthetic_world(members=80, seed=1, fraud_members=24)
    with django_capture_on_commit_callbacks(execute=True):
        first = fraud_model_train(activate=True, n_estimators=30, activated_by="training").model_version
        second = fraud_model_train(activate=True, n_estimators=30, seed=3, activated_by="training").model_version
    first.refresh_from_db()
    assert (first.status, _active("fraud")) == ("inactive", second.version)
    response = risk_admin.get(reverse("admin:sunusav_modelversion_activate", args=[first.pk]))
    comparison = response.context["comparison"]
    data = labeled_payments()
    _, in_test = fraud_training._member_split(data.member_ids, ~np.isnan(data.labels), 7, data.labels)
    X, y = data.features[in_test], data.labels[in_test]
    expected = {}
    for version in (first, second):
        model = registry.load_version("fraud", version.version).model
        isolation, probability = model.anomaly(X)
        scores = fraud_training._combined_scores(X, probability, isolation, model.rule_params)
        expected[version.version] = round(float(average_precision_score(y, scores)), 4)
    assert comparison.metric == "pr_auc" and comparison.rows == int(in_test.sum()) > 0
    assert comparison.positives == int((y == 1).sum()) > 0
    assert comparison.candidate.score == expected[first.version]
    assert comparison.active.score == expected[second.version]
    assert "PR-AUC" in _text(response)


def test_fraud_without_labelled_fraud_says_there_is_not_enough_data(fraud_model, risk_admin):
    candidate = ModelVersion.objects.create(
        name="fraud", version="candidate", sha256=fraud_model.sha256, manifest=fraud_model.manifest
    )
    page = _text(risk_admin.get(reverse("admin:sunusav_modelversion_activate", args=[candidate.pk])))
    assert "Pas assez de paiements étiquetés" in page and 'id="comparison-table"' not in page
