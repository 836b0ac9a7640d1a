""" "Try the models": the seed's AI demo as an admin page, scoring typed-in features and writing nothing."""

import numpy as np
import pytest
from django.contrib.auth.models import Group, Permission, User

from alerts.models import AIAlert, AIMetric, Notification
from credit import services as credit_services
from credit.training import Dataset, credit_model_train
from fraud import services as fraud_services
from fraud.training import fraud_artifact_write, fraud_model_fit
from sunusav.audit_trail import ADMIN_GROUP, ANALYST_GROUP
from sunusav.ml.lifecycle import model_version_register
from sunusav.ml.registry import registry
from sunusav.models import AnalystAction, Member, ModelVersion, Payment
from tests.fraud.conftest import synthetic_features

pytestmark = pytest.mark.django_db

TRY = "/admin/try-models/"
CREDIT = {
    "tontine_contributions": 50000,
    "punctuality_rate": 0.9,
    "contributions_count": 10,
    "mobile_tx_volume": 100000,
    "avg_payment_delay_days": 1,
    "community_endorsements": 5,
}
WEAK_CREDIT = {**CREDIT, "punctuality_rate": 0.3, "contributions_count": 1, "community_endorsements": 0}
FRAUD = {
    "amount_sats": 1_000_000,
    "time_since_last_sec": 5,
    "invoices_last_min": 10,
    "device_changes": 3,
    "location_changes": 2,
}
ORDINARY = {**FRAUD, "amount_sats": 12_000, "time_since_last_sec": 86_400, "invoices_last_min": 0}
ORDINARY.update(device_changes=0, location_changes=0)


def _post(client, model: str, features: dict):
    return client.post(TRY, {"model": model, **{f"{model}-{k}": v for k, v in features.items()}})


@pytest.fixture
def models(artifacts_dir, django_capture_on_commit_callbacks):
    """A small credit model and a small fraud model, both active."""
    rng = np.random.default_rng(0)
    n = 2000
    punctuality, delay, endorsements = rng.beta(5, 1.5, n), rng.gamma(1.2, 1.5, n), rng.poisson(2.5, n)
    count = rng.integers(0, 30, n)
    X = np.column_stack([count * 10_000, punctuality, count, rng.gamma(2, 60_000, n), delay, endorsements])
    y = (rng.random(n) > 1 / (1 + np.exp(-(2.5 - 5 * punctuality + 0.5 * delay - 0.35 * endorsements)))).astype(int)
    features, labels, members = synthetic_features()
    trained = fraud_model_fit(features=features, labels=labels, member_ids=members, n_estimators=40, compare=False)
    with django_capture_on_commit_callbacks(execute=True):
        credit_model_train(data=Dataset(X=X.astype(float), y=y, times=None, source="test"), activate=True, rounds=30)
        model_version_register(manifest=fraud_artifact_write(trained=trained), activate=True, activated_by="test")
    registry.invalidate()
    return {mv.name: mv for mv in ModelVersion.objects.filter(status="active")}


def _counts() -> dict:
    return {
        model.__name__: model.objects.count()
        for model in (Member, Payment, AIMetric, AIAlert, Notification, AnalystAction, ModelVersion)
    }


@pytest.fixture
def analyst_client(client):
    user = User.objects.create_user("aminata", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=ANALYST_GROUP))
    client.force_login(user)
    return client


def test_page_opens_for_analysts_and_admins_with_the_seed_examples(client, models):
    for name, group in (("aminata", ANALYST_GROUP), ("moussa", ADMIN_GROUP)):
        user = User.objects.create_user(name, password="x", is_staff=True)
        user.groups.add(Group.objects.get(name=group))
        client.force_login(user)
        response = client.get(TRY)
        assert response.status_code == 200
        html = response.content.decode()
        assert 'name="credit-punctuality_rate"' in html and 'name="fraud-invoices_last_min"' in html
        assert models["credit"].version in html and models["fraud"].version in html
        assert response.context["credit_form"]["punctuality_rate"].initial == 0.9


def test_credit_answer_is_the_predict_service_answer_and_nothing_is_written(analyst_client, models):
    before = _counts()
    for features in (CREDIT, WEAK_CREDIT):
        response = _post(analyst_client, "credit", features)
        assert response.status_code == 200
        result = response.context["credit_result"]
        expected = credit_services.credit_predict(features={k: float(v) for k, v in features.items()})
        assert result["score"] == expected.score and result["band"] == expected.band
        assert result["model_version"] == models["credit"].version and result["fallback"] is False
        assert [r["code"] for r in result["reason_texts"]] == [r["code"] for r in expected.reasons]
        html = response.content.decode()
        assert 'id="credit-result"' in html and f'<span class="band">{expected.band}</span>' in html
    assert result["reason_texts"], "a weak member gets reasons"
    assert "Historique de cotisations encore court." in html or "ponctualité" in html.lower() or "retard" in html
    assert _counts() == before


def test_fraud_answer_is_the_check_service_answer_and_nothing_is_written(analyst_client, models):
    before = _counts()
    response = _post(analyst_client, "fraud", FRAUD)
    result = response.context["fraud_result"]
    expected = fraud_services.transaction_check(features={"user_id": "x", **FRAUD})
    assert (result["fraud_score"], result["decision"]) == (expected.fraud_score, expected.decision)
    assert result["decision"] == "hold" and result["model_version"] == models["fraud"].version
    assert "invoice_burst" in [r["id"] for r in result["reason_texts"]]
    assert "Rafale de factures" in response.content.decode()
    calm = _post(analyst_client, "fraud", ORDINARY).context["fraud_result"]
    assert calm["decision"] == "allow" and calm["fraud_score"] < result["fraud_score"]
    assert _counts() == before


def test_without_models_the_rules_answer_and_say_so(analyst_client, artifacts_dir):
    credit = _post(analyst_client, "credit", CREDIT).context["credit_result"]
    assert credit["model_version"] == "rules-v1" and credit["fallback"] is True
    fraud = _post(analyst_client, "fraud", FRAUD)
    assert fraud.context["fraud_result"]["fallback"] is True
    assert "règles de secours" in fraud.content.decode()


@pytest.mark.parametrize(
    ("model", "features", "field"),
    [
        ("credit", {**CREDIT, "punctuality_rate": 1.5}, "punctuality_rate"),
        ("credit", {**CREDIT, "mobile_tx_volume": "nan"}, "mobile_tx_volume"),
        ("credit", {**CREDIT, "contributions_count": -1}, "contributions_count"),
        ("fraud", {**FRAUD, "amount_sats": 0}, "amount_sats"),
        ("fraud", {**FRAUD, "time_since_last_sec": "inf"}, "time_since_last_sec"),
    ],
)
def test_bad_input_is_a_form_error_not_a_score(analyst_client, model, features, field):
    before = _counts()
    response = _post(analyst_client, model, features)
    assert response.status_code == 200
    assert response.context[f"{model}_result"] is None
    assert field in response.context[f"{model}_form"].errors
    assert _counts() == before


def test_staff_without_view_permission_is_refused(client):
    user = User.objects.create_user("stagiaire", password="x", is_staff=True)
    client.force_login(user)
    assert client.get(TRY).status_code == 403
    assert _post(client, "credit", CREDIT).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="view_modelversion"))
    client.force_login(User.objects.get(pk=user.pk))
    assert client.get(TRY).status_code == 200


# --- Numbers typed the French way --------------------------------------------------------------


@pytest.mark.parametrize(
    "typed, expected",
    [("0,85", 0.85), ("0.85", 0.85), (" 0,85 ", 0.85), ("1", 1.0), ("0,5", 0.5)],
)
def test_a_decimal_comma_is_a_decimal_comma(analyst_client, artifacts_dir, typed, expected):
    response = _post(analyst_client, "credit", {**CREDIT, "punctuality_rate": typed})
    form = response.context["credit_form"]
    assert form.is_valid(), form.errors
    assert form.cleaned_data["punctuality_rate"] == pytest.approx(expected)  # never 85
    assert response.context["credit_result"] is not None


def test_the_answer_for_0_comma_85_is_the_answer_for_0_85(analyst_client, artifacts_dir):
    comma = _post(analyst_client, "credit", {**CREDIT, "punctuality_rate": "0,85"}).context["credit_result"]
    point = _post(analyst_client, "credit", {**CREDIT, "punctuality_rate": 0.85}).context["credit_result"]
    assert comma["score"] == point["score"]


@pytest.mark.parametrize(
    "field, typed, expected",
    [
        ("tontine_contributions", "50 000", 50_000.0),
        ("tontine_contributions", "50\u00a0000,5", 50_000.5),
        ("tontine_contributions", "50,000.5", 50_000.5),
        ("contributions_count", "1 000", 1000),
        ("contributions_count", "12,0", 12),
    ],
)
def test_grouping_spaces_and_both_separators_are_understood(analyst_client, artifacts_dir, field, typed, expected):
    form = _post(analyst_client, "credit", {**CREDIT, field: typed}).context["credit_form"]
    assert form.is_valid(), form.errors
    assert form.cleaned_data[field] == expected


def test_an_ambiguous_whole_number_is_refused_rather_than_guessed(analyst_client, artifacts_dir):
    response = _post(analyst_client, "fraud", {**FRAUD, "amount_sats": "5,000"})
    form = response.context["fraud_form"]
    assert not form.is_valid() and response.context["fraud_result"] is None
    assert "Nombre ambigu" in str(form.errors["amount_sats"])


def test_the_form_shows_its_numbers_the_page_language_way(analyst_client, artifacts_dir):
    html = analyst_client.get(TRY).content.decode()
    assert 'name="credit-punctuality_rate" value="0,9"' in html and 'inputmode="decimal"' in html
    analyst_client.post("/i18n/setlang/", {"language": "en", "next": TRY})
    html = analyst_client.get(TRY).content.decode()
    assert 'name="credit-punctuality_rate" value="0.9"' in html
    form = _post(analyst_client, "credit", {**CREDIT, "punctuality_rate": "0,85"}).context["credit_form"]
    assert form.is_valid() and form.cleaned_data["punctuality_rate"] == pytest.approx(0.85)
