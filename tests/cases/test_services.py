"""Cases: grouping, severity and SLA, assignment, one decision for all items, four eyes, items acted on elsewhere."""

import datetime as dt
import threading

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.utils import timezone

from alerts import payloads
from alerts.models import AIAlert, Notification
from alerts.services import alert_create, alert_decide
from cases.models import Case, CaseComment
from cases.services import (
    CaseClosed,
    CaseInvalid,
    CaseNotYours,
    case_approve,
    case_assign,
    case_comment_add,
    case_decide,
    case_escalate,
    case_item_attach,
    case_proposal_reject,
    cases_backfill,
)
from fraud.services import payment_check, payment_review
from sunusav.audit_trail import ADMIN_GROUP, ANALYST_GROUP, COMPLIANCE_GROUP, groups_ensure
from sunusav.models import AnalystAction, Payment
from tests.factories import MemberFactory, PaymentFactory, TontineFactory
from tests.fraud.conftest import SEED_EXAMPLE

pytestmark = pytest.mark.django_db

HOLD = {k: v for k, v in SEED_EXAMPLE.items() if k != "user_id"}
REVIEW_REASONS = [{"id": "new_device", "kind": "rule", "weight": 0.2, "fr": "Nouvel appareil", "en": "New device"}]


def user(name: str, group: str) -> User:
    account = User.objects.create_user(name, password=f"pw-{name}-2026", is_staff=True)
    account.groups.add(Group.objects.get(name=group))
    return User.objects.get(pk=account.pk)


@pytest.fixture
def analysts(db):
    return user("awa", ANALYST_GROUP), user("moussa", ANALYST_GROUP), user("conformite", COMPLIANCE_GROUP)


def burst(member, *, n: int = 15, amount: int = 2_000) -> list[Payment]:
    """One invoice burst: n payments held by the real fraud check."""
    held = []
    for _ in range(n):
        payment = PaymentFactory(member=member, kind="invoice", amount_sats=amount, status=Payment.Status.PENDING)
        assert payment_check(payment=payment, features={**HOLD, "user_id": str(member.pk)}).result.decision == "hold"
        held.append(payment)
    return held


def review_alert(member, *, amount: int = 3_000) -> AIAlert:
    """A review (not held) fraud alert on a settled payment, through the ordinary alert writer."""
    payment = PaymentFactory(member=member, amount_sats=amount, status=Payment.Status.SETTLED)
    alert = alert_create(
        member=member,
        alert_type="fraud_suspect",
        payload=payloads.fraud_suspect(
            payment_id=payment.pk,
            features={k: HOLD[k] for k in HOLD},
            fraud_score=0.55,
            decision="review",
            is_fraud=False,
            reasons=REVIEW_REASONS,
            model_version="fraud-test",
            fallback=False,
            default_action_applied=False,
            isolation_score=0.1,
            amount_sats=amount,
            request_id=None,
        ),
    )
    case_item_attach(alert=alert, payment=payment)
    return alert


def test_a_burst_becomes_one_case_with_its_amount_severity_and_sla(fraud_model):
    member = MemberFactory(display_name="Diégane Sène")
    payments = burst(member)
    case = Case.objects.get(member=member)
    assert (case.kind, case.status, case.item_count) == ("fraud", "new", 15)
    assert case.items.filter(payment__status="held").count() == 15
    assert case.amount_sats == 15 * 2_000
    assert case.severity == Case.Severity.HIGH
    assert case.top_reason  # the first reason's id, shown as a label in the queue
    assert case.due_at == case.opened_at + dt.timedelta(hours=4)  # CASE_SLA_HOURS fraud, high
    assert {item.payment_id for item in case.items.all()} == {p.pk for p in payments}
    opened = AnalystAction.objects.filter(target_type="case", target_id=str(case.pk), action="case_open")
    assert opened.count() == 1 and opened.get().actor is None


def test_severity_only_rises_and_the_due_time_only_moves_earlier(fraud_model):
    member = MemberFactory()
    review_alert(member)
    case = Case.objects.get(member=member)
    assert case.severity == Case.Severity.MEDIUM
    medium_due = case.due_at
    assert medium_due == case.opened_at + dt.timedelta(hours=24)
    burst(member, n=1)
    case.refresh_from_db()
    assert case.severity == Case.Severity.HIGH and case.due_at < medium_due
    review_alert(member)
    case.refresh_from_db()
    assert (case.severity, case.item_count) == (Case.Severity.HIGH, 3)
    assert AnalystAction.objects.filter(target_id=str(case.pk), action="case_severity").count() == 1


def test_a_critical_amount_makes_a_critical_case(fraud_model, settings):
    settings.CASE_CRITICAL_XOF = 1_000
    member = MemberFactory()
    burst(member, n=1, amount=10_000)  # 6 000 XOF
    assert Case.objects.get(member=member).severity == Case.Severity.CRITICAL


def test_only_the_owner_decides_and_the_decision_decides_every_item_once(
    fraud_model, analysts, django_capture_on_commit_callbacks
):
    awa, moussa, _ = analysts
    member = MemberFactory()
    payments = burst(member)
    case = Case.objects.get(member=member)
    with pytest.raises(CaseNotYours):
        case_decide(case=case, actor=awa, outcome="false_positive", note="vendeuse du marché")
    case = case_assign(case=case, actor=awa, owner=awa)
    assert (case.status, case.owner) == ("assigned", awa)
    with pytest.raises(CaseNotYours):
        case_decide(case=case, actor=moussa, outcome="false_positive", note="pas à moi")
    with pytest.raises(CaseNotYours):
        case_assign(case=case, actor=moussa, owner=moussa)  # only the owner (or a supervisor) hands it over
    with pytest.raises(CaseInvalid):
        case_decide(case=case, actor=awa, outcome="liquidity_handled", note="mauvaise issue")
    with pytest.raises(CaseInvalid):
        case_decide(case=case, actor=awa, outcome="false_positive", note="  ")
    assert Payment.objects.filter(pk__in=[p.pk for p in payments], status="held").count() == 15

    rejected = payments[3]
    exceptions = {str(AIAlert.objects.get(payload__payment_id=str(rejected.pk)).pk): "confirmed_fraud"}
    with django_capture_on_commit_callbacks(execute=True):
        case = case_decide(
            case=case, actor=awa, outcome="false_positive", note="Vendeuse du marché de Tilène", exceptions=exceptions
        )
    assert (case.status, case.outcome, case.decided_by, case.item_count) == ("closed", "false_positive", awa, 0)
    statuses = dict(Payment.objects.filter(member=member).values_list("pk", "status"))
    assert statuses.pop(rejected.pk) == "rejected"
    assert set(statuses.values()) == {"released"}
    alerts = AIAlert.objects.filter(user=member)
    assert alerts.filter(resolved=False).count() == 0
    assert alerts.filter(payload__outcome="confirmed_fraud").count() == 1
    assert alerts.filter(payload__outcome="false_positive").count() == 14
    kinds = list(Notification.objects.filter(member=member).values_list("kind", flat=True))
    assert kinds.count("payment_released") == 14 and kinds.count("payment_rejected") == 1
    decided = AnalystAction.objects.get(target_id=str(case.pk), action="case_decide")
    assert decided.actor == awa and len(decided.after["decided"]) == 15
    assert AnalystAction.objects.filter(target_id=str(case.pk), action="case_close").count() == 0
    with pytest.raises(CaseClosed):
        case_decide(case=case, actor=awa, outcome="false_positive", note="encore")


def test_confirming_fraud_on_a_large_amount_needs_a_second_pair_of_eyes(fraud_model, analysts, settings):
    settings.CASE_FOUR_EYES_XOF = 10_000
    awa, moussa, compliance = analysts
    member = MemberFactory()
    payments = burst(member, n=3, amount=100_000)  # 180 000 XOF
    case = case_assign(case=Case.objects.get(member=member), actor=awa, owner=awa)
    case = case_decide(case=case, actor=awa, outcome="confirmed_fraud", note="Prise de contrôle du compte")
    assert (case.status, case.proposed_outcome, case.proposed_by) == ("pending_approval", "confirmed_fraud", awa)
    assert Payment.objects.filter(pk__in=[p.pk for p in payments], status="held").count() == 3
    with pytest.raises(CaseNotYours):
        case_approve(case=case, actor=awa)  # maker ≠ checker, even holding the permission
    with pytest.raises(CaseNotYours):
        case_approve(case=case, actor=moussa)  # an analyst holds no approve_case
    case = case_approve(case=case, actor=compliance, note="Vu, d'accord")
    assert (case.status, case.outcome, case.decided_by, case.approved_by) == (
        "closed",
        "confirmed_fraud",
        awa,
        compliance,
    )
    assert Payment.objects.filter(pk__in=[p.pk for p in payments], status="rejected").count() == 3
    approve = AnalystAction.objects.get(target_id=str(case.pk), action="case_approve")
    assert approve.actor == compliance and approve.after["proposed_by"] == "awa"


def test_a_refused_proposal_goes_back_to_its_owner_and_decides_nothing(fraud_model, analysts, settings):
    settings.CASE_FOUR_EYES_XOF = 10_000
    awa, _, compliance = analysts
    member = MemberFactory()
    burst(member, n=2, amount=100_000)
    case = case_assign(case=Case.objects.get(member=member), actor=awa, owner=awa)
    case = case_decide(case=case, actor=awa, outcome="confirmed_fraud", note="fraude")
    with pytest.raises(CaseInvalid):
        case_proposal_reject(case=case, actor=compliance, note="")
    case = case_proposal_reject(case=case, actor=compliance, note="Les preuves ne suffisent pas")
    assert (case.status, case.owner, case.proposed_outcome) == ("assigned", awa, "")
    assert Payment.objects.filter(member=member, status="held").count() == 2
    # A false alert puts nothing at stake under four eyes: decided at once.
    case = case_decide(case=case, actor=awa, outcome="false_positive", note="client habituel")
    assert case.status == "closed"


def test_the_alert_and_its_hold_are_linked_both_ways(fraud_model, analysts, django_capture_on_commit_callbacks):
    awa, _, _ = analysts
    member = MemberFactory()
    first, second = burst(member, n=2)
    alert = AIAlert.objects.get(payload__payment_id=str(first.pk))
    # From the alert queue: confirming fraud on the alert rejects its hold.
    with django_capture_on_commit_callbacks(execute=True):
        alert_decide(alert=alert, actor=awa, outcome="confirmed_fraud", note="confirmé par appel")
    first.refresh_from_db()
    assert first.status == "rejected"
    case = Case.objects.get(member=member)
    assert (case.status, case.item_count, case.amount_sats) == ("new", 1, 2_000)
    # From the held-payment queue: releasing the last hold resolves its alert and closes the emptied case.
    with django_capture_on_commit_callbacks(execute=True):
        payment_review(payment_id=second.pk, action="release", actor=awa, reason="client connu")
    case.refresh_from_db()
    assert (case.status, case.outcome, case.item_count) == ("closed", "confirmed_fraud", 0)
    closed = AnalystAction.objects.get(target_id=str(case.pk), action="case_close")
    assert closed.actor is None and closed.after["by"] == "items"
    # The member's next alert opens a new case.
    burst(member, n=1)
    assert Case.objects.filter(member=member).exclude(status="closed").count() == 1


def test_a_liquidity_alert_joins_its_tontine_case():
    tontine = TontineFactory()
    projection = {"tontine_id": str(tontine.pk), "round": 3, "shortfall_sats": 40_000, "risk_share": 0.35}
    for round_number in (3, 4):
        alert = alert_create(
            alert_type="liquidity_short",
            payload=payloads.liquidity_short(
                projection={**projection, "round": round_number}, threshold_share=0.15, triggers=["round_shortfall"]
            ),
        )
        case_item_attach(alert=alert)
    case = Case.objects.get(tontine=tontine)
    assert (case.kind, case.item_count, case.amount_sats, case.severity) == ("liquidity", 2, 40_000, 3)
    assert case.top_reason == "round_shortfall"


def test_escalation_comments_and_reassignment(fraud_model, analysts):
    awa, moussa, compliance = analysts
    member = MemberFactory()
    burst(member, n=1)
    case = case_assign(case=Case.objects.get(member=member), actor=awa, owner=awa)
    with pytest.raises(CaseInvalid):
        case_escalate(case=case, actor=awa, note="")
    with pytest.raises(CaseNotYours):
        case_escalate(case=case, actor=moussa, note="pas le mien")
    case = case_escalate(case=case, actor=awa, note="Montant inhabituel, avis d'un senior")
    assert case.status == "escalated"
    comment = case_comment_add(case=case, author=compliance, body="  Je regarde ce soir.  ")
    assert (comment.body, comment.author) == ("Je regarde ce soir.", compliance)
    with pytest.raises(CaseInvalid):
        case_comment_add(case=case, author=awa, body=" ")
    assert CaseComment.objects.filter(case=case).count() == 1
    with pytest.raises(CaseInvalid):
        case_assign(case=case, actor=awa, owner=compliance)  # compliance decides nothing
    case = case_assign(case=case, actor=awa, owner=moussa, note="Moussa connaît ce marché")
    assert case.owner == moussa
    steps = list(
        AnalystAction.objects.filter(target_id=str(case.pk))
        .order_by("created_at", "id")
        .values_list("action", flat=True)
    )
    assert steps == ["case_open", "case_assign", "case_escalate", "case_comment", "case_assign"]


def test_round_robin_assigns_new_cases_to_analysts_on_duty(fraud_model, analysts, settings):
    settings.CASE_AUTO_ASSIGN = True
    awa, moussa, compliance = analysts
    User.objects.filter(pk__in=[awa.pk, moussa.pk, compliance.pk]).update(last_login=timezone.now())
    off_duty = user("absent", ANALYST_GROUP)
    User.objects.filter(pk=off_duty.pk).update(last_login=timezone.now() - dt.timedelta(days=3))
    admin = user("admin-risque", ADMIN_GROUP)
    User.objects.filter(pk=admin.pk).update(last_login=timezone.now())
    owners = []
    for _ in range(4):
        member = MemberFactory()
        burst(member, n=1)
        owners.append(Case.objects.get(member=member).owner.username)
    assert owners == ["admin-risque", "awa", "moussa", "admin-risque"]


def test_backfill_puts_open_alerts_without_a_case_into_one(fraud_model):
    member = MemberFactory()
    payment = PaymentFactory(member=member, status=Payment.Status.HELD)
    AIAlert.objects.create(
        user=member,
        alert_type="fraud_suspect",
        payload={"payment_id": str(payment.pk), "decision": "hold", "reasons": REVIEW_REASONS},
    )
    assert cases_backfill() == 1
    assert cases_backfill() == 0
    assert Case.objects.get(member=member).item_count == 1


@pytest.mark.django_db(transaction=True)
def test_two_checks_racing_for_a_members_first_case_make_one_case(fraud_model):
    if connection.vendor != "postgresql":
        pytest.skip("row locks and concurrent writers: PostgreSQL (CI runs the suite there too)")
    member = MemberFactory()
    payments = [PaymentFactory(member=member, amount_sats=2_000, status=Payment.Status.PENDING) for _ in range(4)]
    barrier = threading.Barrier(len(payments))
    errors = []

    def check(payment):
        try:
            barrier.wait(timeout=10)
            payment_check(payment=payment, features={**HOLD, "user_id": str(member.pk)})
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=check, args=(p,)) for p in payments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    case = Case.objects.get(member=member)
    assert (case.item_count, case.amount_sats) == (4, 8_000)


@pytest.mark.django_db(transaction=True)
def test_two_decisions_of_one_case_at_once_act_exactly_once(fraud_model):
    if connection.vendor != "postgresql":
        pytest.skip("row locks and concurrent writers: PostgreSQL (CI runs the suite there too)")
    groups_ensure()  # a transactional test starts from an emptied database
    owner = User.objects.create_user("awa", password="x", is_staff=True)
    owner.groups.add(Group.objects.get(name=ANALYST_GROUP))
    member = MemberFactory()
    payments = burst(member, n=5)
    case = case_assign(case=Case.objects.get(member=member), actor=owner, owner=owner)
    barrier = threading.Barrier(2)
    outcomes, errors = [], []

    def decide(outcome):
        try:
            actor = User.objects.get(pk=owner.pk)  # a fresh user per request, as two browser tabs
            barrier.wait(timeout=10)
            case_decide(case=case, actor=actor, outcome=outcome, note=f"décidé {outcome}")
            outcomes.append(outcome)
        except CaseClosed:
            errors.append("closed")
        finally:
            connection.close()

    threads = [threading.Thread(target=decide, args=(o,)) for o in ("confirmed_fraud", "false_positive")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == 1 and errors == ["closed"]
    expected = "rejected" if outcomes[0] == "confirmed_fraud" else "released"
    assert set(Payment.objects.filter(pk__in=[p.pk for p in payments]).values_list("status", flat=True)) == {expected}
    assert AnalystAction.objects.filter(target_id=str(case.pk), action="case_decide").count() == 1
    kind = "payment_rejected" if expected == "rejected" else "payment_released"
    assert Notification.objects.filter(member=member, kind=kind).count() == 5
