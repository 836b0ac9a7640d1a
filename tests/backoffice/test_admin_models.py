"""The Models section: versions and cards, activate, roll back, retrain; only Risk admins may act."""

import json
import re

import numpy as np
import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse
from django_q.conf import Conf
from django_q.models import OrmQ, Task
from django_q.tasks import _sync

from credit.training import Dataset, credit_model_train
from sunusav.audit_trail import ADMIN_GROUP, ANALYST_GROUP
from sunusav.ml.registry import registry
from sunusav.models import AnalystAction, ModelVersion
from tests.fraud.synthetic import synthetic_world

pytestmark = pytest.mark.django_db

OVERVIEW = "/admin/sunusav/modelversion/"


def _user(group: str, username: str) -> User:
    user = User.objects.create_user(username, password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def analyst(client):
    user = _user(ANALYST_GROUP, "aminata")
    client.force_login(user)
    return client


@pytest.fixture
def risk_admin(client):
    user = _user(ADMIN_GROUP, "moussa")
    client.force_login(user)
    client.user = user
    return client


def _train(seed: int, n: int = 1500):
    rng = np.random.default_rng(seed)
    punctuality, delay, endorsements = rng.beta(5, 1.5, n), rng.gamma(1.2, 1.5, n), rng.poisson(2.5, n)
    count = rng.integers(0, 30, n)
    X = np.column_stack([count * 10_000, punctuality, count, rng.gamma(2, 60_000, n), delay, endorsements])
    y = (rng.random(n) > 1 / (1 + np.exp(-(2.5 - 5 * punctuality + 0.5 * delay - 0.35 * endorsements)))).astype(int)
    data = Dataset(X=X.astype(float), y=y, times=None, source=f"test seed {seed}")
    return credit_model_train(data=data, activate=True, activated_by="training", rounds=25).model_version


@pytest.fixture
def versions(artifacts_dir, django_capture_on_commit_callbacks):
    """Two credit versions: `old` was active first, `new` replaced it; `never` was never active."""
    with django_capture_on_commit_callbacks(execute=True):
        old = _train(1)
        new = _train(2)
    never = ModelVersion.objects.create(name="credit", version="never-active", sha256=new.sha256, status="inactive")
    old.refresh_from_db()
    assert (old.status, new.status) == ("inactive", "active")
    return {"old": old, "new": new, "never": never}


def _active(name: str = "credit") -> str:
    return ModelVersion.objects.get(name=name, status="active").version


def _confirmed(client, url: str, reason: str = "AUC plus stable", **kwargs):
    """Open the confirmation page, then post it with a reason (as a person does)."""
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    return client.post(url, {**page.context["form"].initial, "reason": reason}, **kwargs)


# --- Pages ----------------------------------------------------------------------------------


def test_overview_lists_versions_with_metrics_sizes_dates_and_who(versions, client):
    for username, group, can_act in (("aminata", ANALYST_GROUP, False), ("moussa", ADMIN_GROUP, True)):
        client.force_login(_user(group, username))
        response = client.get(OVERVIEW)
        assert response.status_code == 200
        html = response.content.decode()
        credit = next(s for s in response.context["sections"] if s["name"] == "credit")
        rows = {v["row"].version: v for v in credit["versions"]}
        new = rows[versions["new"].version]
        assert dict(new["metrics"])["auc"] == versions["new"].metrics["auc"]
        assert new["training_rows"] == 1500 and credit["previous"] == versions["old"]
        assert versions["new"].activated_by in html and versions["old"].version in html
        assert ("Réentraîner maintenant" in html) is can_act
        assert (reverse("admin:sunusav_modelversion_activate", args=[versions["old"].pk]) in html) is can_act
        assert (reverse("admin:sunusav_modelversion_rollback", args=["credit"]) in html) is can_act


def test_version_page_shows_the_card_and_feature_importances(versions, analyst):
    response = analyst.get(reverse("admin:sunusav_modelversion_change", args=[versions["new"].pk]))
    assert response.status_code == 200
    importances = response.context["importances"]
    assert len(importances) == 6 and sum(v for _, v in importances) == pytest.approx(1, abs=0.01)
    assert importances[0][0] == "punctuality_rate"  # the synthetic label is driven by punctuality
    chart = str(response.context["importances_chart"])
    assert chart.count('class="bar"') == 6 and "taux de ponctualité" in chart  # the feature's label, not its code
    html = response.content.decode()
    assert "held_out.model.auc" in html and "lightgbm" in html and response.context["training_rows"] == 1500


def test_a_version_whose_artifact_is_gone_still_opens(versions, analyst):
    response = analyst.get(reverse("admin:sunusav_modelversion_change", args=[versions["never"].pk]))
    assert response.status_code == 200 and response.context["importances"] == []


# --- Permissions ---------------------------------------------------------------------------


def test_an_analyst_cannot_activate_roll_back_or_retrain(versions, analyst, django_capture_on_commit_callbacks):
    before = _active()
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            analyst.post(reverse("admin:sunusav_modelversion_activate", args=[versions["old"].pk])).status_code == 403
        )
        assert analyst.post(reverse("admin:sunusav_modelversion_rollback", args=["credit"])).status_code == 403
        assert analyst.post(reverse("admin:sunusav_modelversion_retrain", args=["credit"])).status_code == 403
    assert _active() == before == versions["new"].version
    assert not AnalystAction.objects.exists() and not OrmQ.objects.exists()


def test_activate_and_rollback_ask_for_confirmation_first(versions, risk_admin):
    for url in (
        reverse("admin:sunusav_modelversion_activate", args=[versions["old"].pk]),
        reverse("admin:sunusav_modelversion_rollback", args=["credit"]),
    ):
        page = risk_admin.get(url)
        assert page.status_code == 200 and 'id="model-change-form"' in page.content.decode()
    assert _active() == versions["new"].version and not AnalystAction.objects.exists()


# --- Activate and roll back ------------------------------------------------------------------


def test_activate_switches_the_served_version_and_is_audited(versions, risk_admin, django_capture_on_commit_callbacks):
    old, new = versions["old"], versions["new"]
    with django_capture_on_commit_callbacks(execute=True):
        response = _confirmed(risk_admin, reverse("admin:sunusav_modelversion_activate", args=[old.pk]))
    assert response.status_code == 302 and response["Location"] == OVERVIEW
    old.refresh_from_db()
    assert (old.status, old.activated_by) == ("active", "moussa") and _active() == old.version
    assert registry.get_active("credit").version == old.version
    action = AnalystAction.objects.get()
    assert (action.actor, action.action, action.target_id) == (risk_admin.user, "activate", str(old.pk))
    assert action.before == {"model": "credit", "active_version": new.version, "active_id": new.pk}
    assert action.after == {"model": "credit", "active_version": old.version, "active_id": old.pk}
    assert action.note == "AUC plus stable"
    assert "est maintenant en service" in risk_admin.get(OVERVIEW).content.decode()


def test_rollback_returns_to_the_previous_active_version_and_is_audited(versions, risk_admin):
    old, new = versions["old"], versions["new"]
    response = _confirmed(risk_admin, reverse("admin:sunusav_modelversion_rollback", args=["credit"]))
    assert response.status_code == 302
    assert _active() == old.version
    action = AnalystAction.objects.get(action="rollback")
    assert action.before["active_version"] == new.version and action.after["active_version"] == old.version
    assert action.target_id == str(old.pk) and action.actor == risk_admin.user
    # Rolling back again returns to the version just left: the previous one is the last one active.
    _confirmed(risk_admin, reverse("admin:sunusav_modelversion_rollback", args=["credit"]))
    assert _active() == new.version and AnalystAction.objects.filter(action="rollback").count() == 2


def test_rollback_with_no_previous_version_changes_nothing(
    artifacts_dir, risk_admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        only = _train(1)
    response = risk_admin.get(reverse("admin:sunusav_modelversion_rollback", args=["credit"]), follow=True)
    assert "Aucune version précédente" in response.content.decode()
    assert _active() == only.version and not AnalystAction.objects.exists()


def test_a_tampered_artifact_is_not_activated(versions, risk_admin, artifacts_dir):
    old = versions["old"]
    (artifacts_dir / "credit" / old.version / "model.txt").write_text("tampered")
    response = _confirmed(risk_admin, reverse("admin:sunusav_modelversion_activate", args=[old.pk]), follow=True)
    assert "artefact invalide" in response.content.decode()
    assert _active() == versions["new"].version and not AnalystAction.objects.exists()


# --- Retrain ------------------------------------------------------------------------------------


def _run_queued_job() -> None:
    """Run the one job waiting in the ORM broker here, as a worker would, and acknowledge it."""
    (job,) = OrmQ.objects.all()
    previous = Conf.SYNC
    Conf.SYNC = True  # keep the test's database connection open (django-q2 closes it otherwise)
    try:
        _sync(job.payload)
    finally:
        Conf.SYNC = previous
    job.delete()


def test_retrain_enqueues_one_job_and_shows_its_result(artifacts_dir, risk_admin, django_capture_on_commit_callbacks):
    synthetic_world(members=80, seed=1, fraud_members=24)
    with django_capture_on_commit_callbacks(execute=True):
        response = risk_admin.post(reverse("admin:sunusav_modelversion_retrain", args=["fraud"]))
    action = AnalystAction.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:sunusav_modelversion_run", args=[action.pk])
    assert (action.action, action.actor, action.after["model"]) == ("retrain", risk_admin.user, "fraud")
    (job,) = OrmQ.objects.all()
    assert job.task["func"] == "sunusav.ml.tasks.model_train" and job.task["args"] == ("fraud", "moussa")
    assert job.name() == action.after["task_name"] and job.task["group"] == "credit"

    waiting = risk_admin.get(response["Location"])
    assert waiting.context["run"]["status"] == "waiting" and waiting.context["refresh"] is True
    assert 'http-equiv="refresh"' in waiting.content.decode()

    _run_queued_job()
    done = risk_admin.get(response["Location"])
    run = done.context["run"]
    assert run["status"] == "success" and done.context["refresh"] is False
    new = ModelVersion.objects.get(name="fraud")
    assert run["result"]["version"] == new.version and run["result"]["activated"] is True
    assert new.status == "active" and new.activated_by == "moussa"
    html = done.content.decode()
    assert new.version in html and "Activée." in html
    overview = risk_admin.get(OVERVIEW).content.decode()
    assert "terminé" in overview and new.version in overview


def test_a_failed_training_shows_the_error(artifacts_dir, risk_admin, django_capture_on_commit_callbacks):
    # No closed loans at all: credit training cannot run.
    with django_capture_on_commit_callbacks(execute=True):
        response = risk_admin.post(reverse("admin:sunusav_modelversion_retrain", args=["credit"]))
    _run_queued_job()
    page = risk_admin.get(response["Location"])
    assert page.context["run"]["status"] == "failure" and "TrainingError" in page.context["run"]["error"]
    assert "L'entraînement a échoué" in page.content.decode()
    assert Task.objects.filter(name=AnalystAction.objects.get().after["task_name"], success=False).count() == 1
    assert not ModelVersion.objects.exists()


def test_unknown_model_is_a_404(risk_admin):
    assert risk_admin.post(reverse("admin:sunusav_modelversion_retrain", args=["weather"])).status_code == 404
    assert risk_admin.post(reverse("admin:sunusav_modelversion_rollback", args=["weather"])).status_code == 404
    assert not AnalystAction.objects.exists()


def test_audit_rows_are_plain_json(versions, risk_admin):
    _confirmed(risk_admin, reverse("admin:sunusav_modelversion_activate", args=[versions["old"].pk]))
    action = AnalystAction.objects.get()
    assert json.loads(json.dumps(action.before)) == action.before


# --- Champion and challenger -----------------------------------------------------------------


def test_challenger_set_compared_and_promoted_from_the_model_page(
    versions, risk_admin, api_client, django_capture_on_commit_callbacks
):
    old, new = versions["old"], versions["new"]
    page = reverse("admin:sunusav_modelversion_change", args=[old.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = risk_admin.post(
            reverse("admin:sunusav_modelversion_challenger", args=[old.pk]), {"ab_share_percent": "0"}
        )
    assert response.status_code == 302
    old.refresh_from_db()
    assert old.status == "challenger" and _active() == new.version
    registry.invalidate()
    for punctuality in (0.2, 0.5, 0.9):  # the served answers come from the champion; the challenger shadows them
        body = {
            "user_id": f"m-{punctuality}",
            "tontine_contributions": 50_000,
            "punctuality_rate": punctuality,
            "contributions_count": 10,
            "mobile_tx_volume": 100_000,
            "avg_payment_delay_days": 1,
            "community_endorsements": 5,
        }
        answer = api_client.post("/api/credit/predict", body, format="json").json()
        assert answer["model_version"] == new.version
    text = risk_admin.get(page).content.decode()
    panel = text[text.index('id="shadow-comparison"') :]
    assert re.search(r'class="shadow-count">3\b', panel)
    assert "Promouvoir le challenger" in text

    promote = reverse("admin:sunusav_modelversion_challenger_promote", args=["credit"])
    # Promoting puts the challenger in service: a confirmation page first, and a reason, as an activation.
    confirm = risk_admin.get(promote)
    assert confirm.status_code == 200 and 'id="holdout-comparison"' in confirm.content.decode()
    assert 'id="model-change-form"' in confirm.content.decode()
    refused = risk_admin.post(promote, {**confirm.context["form"].initial, "reason": ""})
    assert refused.status_code == 200
    assert "Indiquez la raison de ce changement" in refused.content.decode()
    assert _active() == new.version  # nothing changed
    with django_capture_on_commit_callbacks(execute=True):
        response = _confirmed(risk_admin, promote, reason="Meilleur en ombre sur 3 demandes")
    assert response.status_code == 302
    assert _active() == old.version
    actions = list(AnalystAction.objects.order_by("created_at").values_list("action", "target_id", "note"))
    assert actions[-1] == ("promote", str(old.pk), "Meilleur en ombre sur 3 demandes")
    assert ("activate", str(old.pk)) in [a[:2] for a in actions]


def test_an_analyst_cannot_set_clear_or_promote_a_challenger(versions, analyst):
    old = versions["old"]
    for url in (
        reverse("admin:sunusav_modelversion_challenger", args=[old.pk]),
        reverse("admin:sunusav_modelversion_challenger_clear", args=["credit"]),
        reverse("admin:sunusav_modelversion_challenger_promote", args=["credit"]),
    ):
        assert analyst.post(url).status_code == 403
    old.refresh_from_db()
    assert old.status == "inactive" and not AnalystAction.objects.exists()


def test_a_bad_ab_share_is_refused_and_changes_nothing(versions, risk_admin):
    old = versions["old"]
    response = risk_admin.post(
        reverse("admin:sunusav_modelversion_challenger", args=[old.pk]), {"ab_share_percent": "150"}, follow=True
    )
    assert "Challenger refusé" in response.content.decode()
    old.refresh_from_db()
    assert old.status == "inactive" and not AnalystAction.objects.exists()
