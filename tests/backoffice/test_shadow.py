"""Champion and challenger: shadow scoring never changes a served answer, promotion is audited, A/B, comparison."""

import datetime as dt
import hashlib
import json

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from alerts.models import AIAlert, AIMetric, AlertType
from backoffice.shadow import shadow_comparison
from credit import services as credit_services
from credit.scoring import DECISION_THRESHOLD
from sunusav.ml.ab import challenger_arms, member_bucket
from sunusav.ml.lifecycle import challenger_clear, challenger_promote, challenger_set, model_version_register
from sunusav.ml.registry import ChallengerError, artifact_path, artifact_write, registry
from sunusav.models import AnalystAction, Loan, ModelVersion, Payment
from tests.factories import LoanFactory, MemberFactory, PaymentFactory
from tests.fraud.conftest import ORDINARY, SEED_EXAMPLE

pytestmark = pytest.mark.django_db

CREDIT_BODY = {
    "user_id": "test-user",
    "tontine_contributions": 50000,
    "punctuality_rate": 0.9,
    "contributions_count": 10,
    "mobile_tx_volume": 100000,
    "avg_payment_delay_days": 1,
    "community_endorsements": 5,
}
CARD_KEYS = ("files", "sha256", "name", "version")


def _copy_version(name: str, source: dict, version: str, *, files: dict | None = None, **card_changes) -> dict:
    """Write another version of `name` from a written manifest: same files unless given, card changed as asked."""
    folder = artifact_path(name, source["version"])
    data = {filename: (folder / filename).read_bytes() for filename in source["files"]}
    card = {k: v for k, v in source.items() if k not in CARD_KEYS}
    return artifact_write(
        name=name, version=version, files={**data, **(files or {})}, manifest={**card, **card_changes}
    )


@pytest.fixture
def credit_pair(trained_model):
    """(champion, challenger) credit versions: the trained model, and a copy whose calibration says 0.99 to all."""
    champion = trained_model.model_version
    calibration = {"method": "isotonic", "x": [-100.0, 100.0], "y": [0.99, 0.99]}
    manifest = _copy_version(
        "credit",
        trained_model.manifest,
        champion.version + "-optimist",
        files={"calibration.json": json.dumps(calibration).encode()},
    )
    registry.invalidate()
    return ModelVersion.objects.get(pk=champion.pk), model_version_register(manifest=manifest)


@pytest.fixture
def fraud_pair(fraud_artifacts, artifacts_dir):
    """(champion, challenger) fraud versions: the session's model, and a copy whose calibration suspects everything."""
    root, manifest, _ = fraud_artifacts
    folder = root / "fraud" / manifest["version"]
    (artifacts_dir / "fraud").mkdir()
    (artifacts_dir / "fraud" / manifest["version"]).symlink_to(folder, target_is_directory=True)
    champion = model_version_register(manifest=manifest, activate=True, activated_by="test")
    calibration = {**manifest["calibration"], "b": manifest["calibration"]["b"] + 50}
    paranoid = _copy_version("fraud", manifest, manifest["version"] + "-paranoid", calibration=calibration)
    registry.invalidate()
    return champion, model_version_register(manifest=paranoid)


def _set(model_version, actor=None, **kwargs):
    action = challenger_set(model_version=model_version, actor=actor, **kwargs)
    registry.invalidate()
    return action


def _posts(api_client, calls):
    return [api_client.post(url, body, format="json") for url, body in calls]


CREDIT_CALLS = [
    ("/api/credit/predict", CREDIT_BODY),
    ("/api/credit/batch-predict", {"items": [CREDIT_BODY, {**CREDIT_BODY, "user_id": "u2", "punctuality_rate": 0.3}]}),
]
FRAUD_CALLS = [
    ("/api/fraud/check", ORDINARY),
    ("/api/fraud/check", SEED_EXAMPLE),
    ("/api/fraud/batch-check", {"items": [ORDINARY, SEED_EXAMPLE, ORDINARY]}),
]


# --- Shadow scoring never changes a served answer -------------------------------------------


def test_credit_shadow_answer_is_stored_never_served(api_client, credit_pair):
    champion, challenger = credit_pair
    without = _posts(api_client, CREDIT_CALLS)
    _set(challenger)
    assert registry.get_challenger("credit").version == challenger.version
    with_challenger = _posts(api_client, CREDIT_CALLS)
    assert [r.status_code for r in with_challenger] == [200, 200]
    assert [r.content for r in with_challenger] == [r.content for r in without]
    assert json.loads(with_challenger[0].content)["model_version"] == champion.version
    rows = list(AIMetric.objects.filter(metric_key="credit_prediction").order_by("created_at", "id"))
    before, after = rows[:3], rows[3:]
    assert all("shadow" not in row.meta and "arm" not in row.meta for row in before)
    assert len(after) == 3
    for row in after:
        assert row.meta["arm"] == "champion" and row.meta["model_version"] == champion.version
        assert row.meta["shadow"] == {
            "role": "challenger",
            "model_version": challenger.version,
            "score": 0.99,
            "band": "A",
        }


def test_fraud_shadow_answer_is_stored_never_served_nor_acted_on(api_client, fraud_pair):
    champion, challenger = fraud_pair
    without = _posts(api_client, FRAUD_CALLS)
    _set(challenger)
    with_challenger = _posts(api_client, FRAUD_CALLS)
    assert [r.content for r in with_challenger] == [r.content for r in without]
    audited = AIMetric.objects.filter(metric_key="fraud_check", meta__has_key="shadow")
    assert audited.count() == 5
    for row in audited:
        assert row.meta["arm"] == "champion" and row.meta["model_version"] == champion.version
        assert row.meta["shadow"]["model_version"] == challenger.version
        assert row.meta["shadow"]["decision"] == "hold" and row.meta["shadow"]["fraud_score"] > 0.99

    # A stored payment the champion allows and the challenger would hold: no hold, no alert.
    payment = PaymentFactory(status=Payment.Status.PENDING)
    body = {**ORDINARY, "user_id": str(payment.member_id), "payment_id": str(payment.pk)}
    answer = api_client.post("/api/fraud/check", body, format="json").json()
    assert answer["decision"] == "allow" and answer["payment_status"] == "pending"
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING and not AIAlert.objects.exists()
    row = AIMetric.objects.get(metric_key="fraud_check", meta__payment_id=str(payment.pk))
    assert row.meta["shadow"]["decision"] == "hold" and row.meta["decision"] == "allow"


def test_credit_jobs_store_the_shadow_and_offer_only_from_the_champion(credit_pair):
    champion, challenger = credit_pair
    _set(challenger)
    members = [MemberFactory() for _ in range(3)]
    outcomes = credit_services.members_credit_check(member_ids=[m.pk for m in members], run_id="run-1")
    assert set(outcomes.values()) == {"scored"}
    rows = AIMetric.objects.filter(metric_key="credit_score", meta__run_id="run-1")
    assert rows.count() == 3
    for row in rows:
        assert row.metric_value < DECISION_THRESHOLD  # the champion declines these new members
        assert row.meta["model_version"] == champion.version and row.meta["arm"] == "champion"
        assert row.meta["shadow"]["score"] == 0.99 and row.meta["shadow"]["band"] == "A"
    # The challenger would offer: nobody gets an offer or a loan.
    assert not AIAlert.objects.filter(alert_type=AlertType.CREDIT_OFFER).exists() and not Loan.objects.exists()

    scored = credit_services.members_score(member_ids=[m.pk for m in members], cutoff=timezone.now())
    assert scored == 3
    batch_rows = AIMetric.objects.filter(metric_key="credit_score", meta__source="score_users")
    assert {r.meta["shadow"]["model_version"] for r in batch_rows} == {challenger.version}
    assert {r.meta["model_version"] for r in batch_rows} == {champion.version}


def test_a_crashing_challenger_changes_nothing(api_client, credit_pair, monkeypatch):
    champion, challenger = credit_pair
    without = _posts(api_client, CREDIT_CALLS)
    _set(challenger)
    loaded = registry.get_challenger("credit")

    def explode(*args, **kwargs):
        raise RuntimeError("challenger blew up")

    monkeypatch.setattr(loaded.model, "scores", explode)
    monkeypatch.setattr(loaded.model, "contributions", explode)
    first = api_client.post(*CREDIT_CALLS[0], format="json")
    assert first.status_code == 200 and first.content == without[0].content
    row = AIMetric.objects.filter(metric_key="credit_prediction").order_by("-created_at", "-id").first()
    assert row.meta["arm"] == "champion"
    assert row.meta["shadow"] == {"role": "challenger", "model_version": challenger.version, "error": "RuntimeError"}
    # Dropped until the next refresh; the champion keeps serving.
    assert registry.get_challenger("credit") is None
    assert registry.get_active("credit").version == champion.version
    assert [r.content for r in _posts(api_client, CREDIT_CALLS)] == [r.content for r in without]


def test_a_crashing_fraud_challenger_changes_nothing(api_client, fraud_pair, monkeypatch):
    champion, challenger = fraud_pair
    without = _posts(api_client, FRAUD_CALLS)
    _set(challenger, ab_share=1.0)  # even where it should serve, a crash leaves the champion's answer
    monkeypatch.setattr(registry.get_challenger("fraud").model, "anomaly", lambda rows: 1 / 0)
    response = api_client.post(*FRAUD_CALLS[0], format="json")
    assert response.content == without[0].content
    row = AIMetric.objects.filter(metric_key="fraud_check").order_by("-created_at", "-id").first()
    assert row.meta["arm"] == "champion" and row.meta["shadow"]["error"] == "ZeroDivisionError"
    assert [r.content for r in _posts(api_client, FRAUD_CALLS)] == [r.content for r in without]


def test_a_broken_challenger_artifact_never_touches_the_champion(api_client, credit_pair):
    champion, challenger = credit_pair
    without = _posts(api_client, CREDIT_CALLS)
    _set(challenger)
    (artifact_path("credit", challenger.version) / "model.txt").write_text("tampered")
    registry.invalidate()
    assert registry.get_challenger("credit") is None
    assert registry.get_active("credit").version == champion.version
    assert [r.content for r in _posts(api_client, CREDIT_CALLS)] == [r.content for r in without]
    assert registry.status("credit")["status"] == "ok"


# --- Promotion, rollback, one challenger -------------------------------------------------------


def test_promotion_and_rollback_are_audited_and_switch_what_is_served(api_client, credit_pair, risk_admin_user):
    from sunusav.ml.lifecycle import model_version_rollback

    champion, challenger = credit_pair
    set_action = _set(challenger, risk_admin_user, ab_share=0.25, note="try the optimist")
    assert set_action.action == AnalystAction.Action.ACTIVATE and set_action.actor == risk_admin_user
    assert set_action.after == {
        "model": "credit",
        "active_version": champion.version,
        "challenger_version": challenger.version,
        "ab_share": 0.25,
        "role": "challenger",
        "replaced_challenger": None,
    }
    assert set_action.before["challenger_version"] is None

    promote = challenger_promote(name="credit", actor=risk_admin_user, note="better on shadow")
    registry.invalidate()
    assert promote.action == AnalystAction.Action.PROMOTE and promote.target_id == str(challenger.pk)
    assert promote.before["active_version"] == champion.version
    assert promote.before["challenger_version"] == challenger.version
    assert promote.after["active_version"] == challenger.version
    assert promote.after["previous_version"] == champion.version and promote.after["challenger_version"] is None
    champion.refresh_from_db()
    challenger.refresh_from_db()
    assert (champion.status, challenger.status) == ("inactive", "active")
    assert "ab_share" not in challenger.manifest
    assert registry.get_challenger("credit") is None
    served = api_client.post(*CREDIT_CALLS[0], format="json").json()
    assert served["model_version"] == challenger.version and served["score"] == 0.99

    rollback = model_version_rollback(actor=risk_admin_user, name="credit", note="back")
    registry.invalidate()
    assert rollback.action == AnalystAction.Action.ROLLBACK
    assert (rollback.before["active_version"], rollback.after["active_version"]) == (
        challenger.version,
        champion.version,
    )
    assert api_client.post(*CREDIT_CALLS[0], format="json").json()["model_version"] == champion.version
    assert list(AnalystAction.objects.order_by("created_at", "id").values_list("action", flat=True)) == [
        "activate",
        "promote",
        "rollback",
    ]


def test_clear_is_audited_and_stops_the_shadow(api_client, credit_pair, risk_admin_user):
    _, challenger = credit_pair
    _set(challenger, risk_admin_user)
    action = challenger_clear(name="credit", actor=risk_admin_user)
    registry.invalidate()
    assert action.action == AnalystAction.Action.ACTIVATE
    assert action.after["challenger_version"] is None and action.after["cleared_challenger"] == challenger.version
    challenger.refresh_from_db()
    assert challenger.status == "inactive" and registry.get_challenger("credit") is None
    api_client.post(*CREDIT_CALLS[0], format="json")
    assert "shadow" not in AIMetric.objects.get(metric_key="credit_prediction").meta
    with pytest.raises(ChallengerError):
        challenger_clear(name="credit", actor=risk_admin_user)
    with pytest.raises(ChallengerError):
        challenger_promote(name="credit", actor=risk_admin_user)


def test_only_one_challenger_per_model(credit_pair, risk_admin_user):
    champion, first = credit_pair
    second = model_version_register(
        manifest=_copy_version("credit", first.manifest, first.version + "-2"),
    )
    _set(first, risk_admin_user)
    action = _set(second, risk_admin_user)
    assert action.before["challenger_version"] == first.version
    assert action.after["replaced_challenger"] == first.version
    assert list(ModelVersion.objects.filter(name="credit", status="challenger").values_list("version", flat=True)) == [
        second.version
    ]
    assert registry.get_challenger("credit").version == second.version
    # The database refuses a second challenger whoever writes it.
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=first.pk).update(status="challenger")
    # The champion cannot be its own challenger; a share must be in [0, 1].
    with pytest.raises(ChallengerError):
        challenger_set(model_version=champion, actor=risk_admin_user)
    with pytest.raises(ChallengerError):
        challenger_set(model_version=first, actor=risk_admin_user, ab_share=1.5)
    assert AnalystAction.objects.count() == 2


# --- A/B -----------------------------------------------------------------------------------------


def test_member_bucket_is_a_stable_sha256():
    expected = int.from_bytes(hashlib.sha256(b"credit:member-7").digest()[:8], "big") / 2**64
    assert member_bucket("credit", "member-7") == expected
    upper = "6C0A3F7E-1B1E-4C4E-9A55-3D0B7C1F2A10"
    assert member_bucket("fraud", upper) == member_bucket("fraud", upper.lower())
    assert not challenger_arms("credit", ["a", "b"], 0.0, 2).any()
    assert challenger_arms("credit", ["a", "b", None], 1.0, 3).tolist() == [True, True, False]


def test_ab_share_serves_a_stable_set_of_members_and_records_the_arm(api_client, credit_pair):
    champion, challenger = credit_pair
    _set(challenger, ab_share=0.5)
    users = [f"member-{i}" for i in range(40)]
    expected = {u: member_bucket("credit", u) < 0.5 for u in users}
    assert 5 < sum(expected.values()) < 35
    items = [{**CREDIT_BODY, "user_id": u} for u in users]
    for _ in range(2):  # the same members land in the same arm each time
        results = api_client.post("/api/credit/batch-predict", {"items": items}, format="json").json()["results"]
        served = {r["user_id"]: r["model_version"] == challenger.version for r in results}
        assert served == expected
    single = api_client.post("/api/credit/predict", items[0], format="json").json()
    assert (single["model_version"] == challenger.version) == expected[users[0]]
    for row in AIMetric.objects.filter(metric_key="credit_prediction"):
        on = expected[row.meta["user_id"]]
        assert row.meta["arm"] == ("challenger" if on else "champion")
        assert row.meta["model_version"] == (challenger.version if on else champion.version)
        assert row.meta["shadow"]["role"] == ("champion" if on else "challenger")
        assert row.meta["shadow"]["model_version"] == (champion.version if on else challenger.version)


def test_fraud_ab_share_acts_on_the_challenger_answer_for_its_members(api_client, fraud_pair):
    champion, challenger = fraud_pair
    _set(challenger, ab_share=0.5)
    payments = [PaymentFactory(status=Payment.Status.PENDING) for _ in range(12)]
    for payment in payments:
        body = {**ORDINARY, "user_id": str(payment.member_id), "payment_id": str(payment.pk)}
        answer = api_client.post("/api/fraud/check", body, format="json").json()
        on = member_bucket("fraud", payment.member_id) < 0.5
        assert answer["decision"] == ("hold" if on else "allow")
        assert answer["model_version"] == (challenger.version if on else champion.version)
        payment.refresh_from_db()
        assert payment.status == (Payment.Status.HELD if on else Payment.Status.PENDING)
        row = AIMetric.objects.get(metric_key="fraud_check", meta__payment_id=str(payment.pk))
        assert row.meta["arm"] == ("challenger" if on else "champion")
    held = sum(member_bucket("fraud", p.member_id) < 0.5 for p in payments)
    assert 0 < held < len(payments)
    assert AIAlert.objects.count() == held


def test_fraud_batch_mixes_the_arms_row_by_row(api_client, fraud_pair):
    champion, challenger = fraud_pair
    _set(challenger, ab_share=0.5)
    items = [{**ORDINARY, "user_id": f"member-{i}"} for i in range(30)]
    results = api_client.post("/api/fraud/batch-check", {"items": items}, format="json").json()["results"]
    for item, result in zip(items, results, strict=True):
        on = member_bucket("fraud", item["user_id"]) < 0.5
        assert result["model_version"] == (challenger.version if on else champion.version)
        assert result["decision"] == ("hold" if on else "allow")
        assert any(reason["id"] == "anomaly" for reason in result["reasons"])  # a full answer, reasons included
    rows = {r.meta["user_id"]: r.meta for r in AIMetric.objects.filter(metric_key="fraud_check")}
    assert {u: m["arm"] for u, m in rows.items()} == {
        i["user_id"]: "challenger" if member_bucket("fraud", i["user_id"]) < 0.5 else "champion" for i in items
    }
    assert {m["shadow"]["decision"] for m in rows.values() if m["arm"] == "challenger"} == {"allow"}


# --- Comparison ------------------------------------------------------------------------------------


def _audit(key, value, meta, *, member=None, at=None):
    row = AIMetric.objects.create(user=member, metric_key=key, metric_value=value, meta=meta)
    AIMetric.objects.filter(pk=row.pk).update(created_at=at or timezone.now() - dt.timedelta(minutes=5))
    return row


def test_fraud_comparison_on_a_hand_built_example(db):
    # Four payments both models answered; labels: 2 frauds (one by an analyst's verdict), 2 legit.
    payments = [PaymentFactory(is_fraud_label=label) for label in (True, False, False, None)]
    AIAlert.objects.create(
        user=payments[3].member,
        alert_type=AlertType.FRAUD_SUSPECT,
        resolved=True,
        payload={"payment_id": str(payments[3].pk), "outcome": "confirmed_fraud"},
    )
    #            champion (score, decision)   challenger (score, decision)    label
    answers = [
        ((0.90, "hold"), (0.95, "hold")),  # fraud
        ((0.20, "allow"), (0.60, "review")),  # legit
        ((0.70, "hold"), (0.10, "allow")),  # legit
        ((0.40, "allow"), (0.92, "hold")),  # fraud (analyst)
    ]
    for payment, ((s1, d1), (s2, d2)), arm in zip(
        payments, answers, ["champion", "champion", "champion", "challenger"], strict=True
    ):
        served, shadow = ((s1, d1, "v1"), (s2, d2, "v2")) if arm == "champion" else ((s2, d2, "v2"), (s1, d1, "v1"))
        _audit(
            "fraud_check",
            served[0],
            {
                "decision": served[1],
                "model_version": served[2],
                "payment_id": str(payment.pk),
                "arm": arm,
                "shadow": {
                    "role": "challenger" if arm == "champion" else "champion",
                    "model_version": shadow[2],
                    "fraud_score": shadow[0],
                    "decision": shadow[1],
                },
            },
            member=payment.member,
        )
    # Left out: a challenger error, a row without shadow, a row before `since`, another challenger.
    _audit("fraud_check", 0.5, {"decision": "allow", "shadow": {"model_version": "v2", "error": "ValueError"}})
    _audit("fraud_check", 0.5, {"decision": "allow", "model_version": "v1"})
    old = {"decision": "hold", "model_version": "v1", "shadow": {"model_version": "v2", "fraud_score": 0.1}}
    _audit("fraud_check", 0.9, old, at=timezone.now() - dt.timedelta(days=3))
    other = {"decision": "hold", "model_version": "v1", "shadow": {"model_version": "v0", "fraud_score": 0.9}}
    _audit("fraud_check", 0.9, {**other, "shadow": {**other["shadow"], "decision": "hold"}})

    report = shadow_comparison("fraud", since=timezone.now() - dt.timedelta(days=1), challenger_version="v2")
    assert report["count"] == 4 and report["shadow_errors"] == 1 and report["truncated"] is False
    assert report["arms"] == {"champion": 3, "challenger": 1}
    assert report["champion_versions"] == ["v1"]
    assert report["agreement"] == 0.25 and report["agreement_count"] == 1
    shifts = sorted([0.05, 0.40, 0.60, 0.52])
    assert report["score_shift"]["mean"] == pytest.approx(sum(shifts) / 4, abs=1e-6)
    # numpy's linear p95 of [0.05, 0.40, 0.52, 0.60]: position 0.95 * 3 = 2.85.
    assert report["score_shift"]["p95"] == pytest.approx(0.52 + 0.85 * (0.60 - 0.52), abs=1e-6)
    assert report["flagged"] == {"decision": "hold", "champion": 2, "challenger": 2}
    labeled = report["labeled"]
    assert (labeled["count"], labeled["positives"]) == (4, 2)
    # Champion: frauds scored 0.90, 0.40; legit 0.20, 0.70 -> 3 of 4 pairs ranked right. Holds: one fraud, one legit.
    assert labeled["champion"] == {"auc": 0.75, "precision": 0.5, "recall": 0.5, "flagged": 2, "true_positives": 1}
    # Challenger: frauds 0.95, 0.92 above legit 0.60, 0.10. Holds: both frauds.
    assert labeled["challenger"] == {"auc": 1.0, "precision": 1.0, "recall": 1.0, "flagged": 2, "true_positives": 2}


def test_credit_comparison_labels_from_loans(db):
    now = timezone.now()
    repaid, defaulted, open_loan, nobody = (MemberFactory() for _ in range(4))
    at = now - dt.timedelta(days=20)
    for member, status in ((repaid, Loan.Status.REPAID), (defaulted, Loan.Status.DEFAULTED)):
        LoanFactory(member=member, status=status, offered_at=at + dt.timedelta(days=1))
    LoanFactory(member=open_loan, status=Loan.Status.ACCEPTED, offered_at=at + dt.timedelta(days=1))
    #                   champion (score, band)   challenger (score, band)
    cases = [
        (repaid, (0.70, "C"), (0.85, "B")),
        (defaulted, (0.80, "B"), (0.55, "D")),
        (open_loan, (0.60, "D"), (0.62, "D")),
        (nobody, (0.95, "A"), (0.91, "A")),
    ]
    for member, (s1, b1), (s2, b2) in cases:
        meta = {
            "band": b1,
            "model_version": "c1",
            "arm": "champion",
            "shadow": {"role": "challenger", "model_version": "c2", "score": s2, "band": b2},
        }
        _audit("credit_score", s1, meta, member=member, at=at)
    report = shadow_comparison("credit", since=now - dt.timedelta(days=30))
    assert report["challenger_version"] == "c2" and report["count"] == 4
    assert report["agreement"] == 0.5
    assert report["score_shift"]["mean"] == pytest.approx((0.15 + 0.25 + 0.02 + 0.04) / 4)
    assert report["flagged"] == {"decision": "offer", "champion": 3, "challenger": 2}
    labeled = report["labeled"]
    assert (labeled["positive"], labeled["count"], labeled["positives"]) == ("repaid", 2, 1)
    assert labeled["champion"] == {"auc": 0.0, "precision": 0.5, "recall": 1.0, "flagged": 2, "true_positives": 1}
    assert labeled["challenger"] == {"auc": 1.0, "precision": 1.0, "recall": 1.0, "flagged": 1, "true_positives": 1}


def test_comparison_queries_are_bounded(db, django_assert_max_num_queries):
    for i in range(30):
        _audit(
            "fraud_check",
            0.1,
            {"decision": "allow", "model_version": "v1", "shadow": {"model_version": "v2", "fraud_score": 0.2}},
            member=PaymentFactory().member if i < 3 else None,
        )
    with django_assert_max_num_queries(4):
        report = shadow_comparison("fraud", since=timezone.now() - dt.timedelta(hours=1), limit=10)
    assert report["count"] == 10 and report["truncated"] is True
