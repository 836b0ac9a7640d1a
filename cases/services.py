"""Writes of cases: grouping alerts into cases, assignment, comments, the one decision, four eyes.

Grouping. Every fraud alert about a member joins that member's open fraud
case, and every liquidity alert its tontine's open case (`case_item_attach`,
called by the code that raises the alert, in its transaction). The database
holds one open case per member and per tontine (partial unique indexes), so
two checks racing for a new member's first case end with one case. Severity
is the worst item's and only rises; the due time (SLA, `CASE_SLA_HOURS`)
only moves earlier.

Decision. `case_decide` decides every open item in one transaction through
`alerts.services.alert_decide` (a fraud item's held payment is rejected or
released with it), with per-item exceptions. Confirming fraud on more than
`CASE_FOUR_EYES_XOF` at stake makes it a proposal that a second user holding
`cases.approve_case` approves (`case_approve`) or sends back
(`case_proposal_reject`); the proposer never approves their own.

Items acted on elsewhere (a hold released on the held-payment queue, an
expired invoice, an alert resolved on its own page) refresh their case after
their commit (`case_refresh`), which closes a case left without open items.
Refreshing after the commit, not inside it, keeps one lock order for the
decision (case, then payments, then alerts) and none for the single items.

Every step is audited in the analysts' trail (`action_record`, target
"case") in the transaction that makes it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Max, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from alerts.models import AIAlert, AlertType
from alerts.payloads import AlertPayload
from alerts.services import OUTCOMES_BY_TYPE, AlertAlreadyResolved, alert_decide
from cases.models import Case, CaseComment, CaseItem
from sunusav.audit_trail import action_record
from sunusav.models import AnalystAction, Payment, Tontine

logger = logging.getLogger(__name__)

Action = AnalystAction.Action
COMMENT_MAX = 5000
NOTE_MAX = 2000

# The outcome each kind of case may close with, and what it means for each item type.
OUTCOMES_BY_KIND = {
    Case.Kind.FRAUD: (Case.Outcome.CONFIRMED_FRAUD, Case.Outcome.FALSE_POSITIVE),
    Case.Kind.LIQUIDITY: (Case.Outcome.LIQUIDITY_HANDLED,),
}
# Payments whose amount is still at stake in a fraud case.
AT_STAKE = (Payment.Status.HELD, Payment.Status.PENDING)


class CaseError(Exception):
    """A case action that cannot be done as asked: nothing was changed. `str()` is French."""


class CaseClosed(CaseError):
    pass


class CaseNotYours(CaseError):
    pass


class CaseInvalid(CaseError):
    pass


# --- Severity, SLA, amounts -------------------------------------------------------------------


def _xof(sats: int) -> float:
    return float(sats or 0) * settings.CREDIT_XOF_PER_SAT


def item_severity(*, alert: AIAlert, amount_sats: int = 0) -> int:
    """The severity an alert brings to its case: a hold is high, critical above CASE_CRITICAL_XOF."""
    payload = AlertPayload.of(alert)
    if alert.alert_type == AlertType.LIQUIDITY_SHORT:
        share = float(payload.raw.get("risk_share") or 0.0)
        if share >= 0.5:
            return Case.Severity.CRITICAL
        return Case.Severity.HIGH if share >= 0.3 else Case.Severity.MEDIUM
    if payload.decision == "hold":
        if _xof(amount_sats) >= settings.CASE_CRITICAL_XOF:
            return Case.Severity.CRITICAL
        return Case.Severity.HIGH
    if payload.decision == "review":
        return Case.Severity.MEDIUM
    return Case.Severity.LOW


def sla_hours(*, kind: str, severity: int) -> float:
    """Hours a case of this kind and severity has before it is late (settings.CASE_SLA_HOURS)."""
    by_kind = settings.CASE_SLA_HOURS.get(str(kind)) or {}
    return float(by_kind.get(str(int(severity)), by_kind.get(int(severity), 24)))


def _due(case: Case, severity: int):
    return case.opened_at + timedelta(hours=sla_hours(kind=case.kind, severity=severity))


def _reason_code(alert: AIAlert) -> str:
    payload = AlertPayload.of(alert)
    if alert.alert_type == AlertType.LIQUIDITY_SHORT:
        triggers = payload.raw.get("triggers") or []
        return str(triggers[0]) if triggers else "liquidity_short"
    reasons = payload.reasons
    if reasons and isinstance(reasons[0], dict):
        return str(reasons[0].get("id") or "")[:64]
    return str(payload.raw.get("kind") or "")[:64]


def _audit(case: Case, *, actor, action: str, before: dict, after: dict, note: str = "") -> None:
    action_record(actor=actor, action=action, target=case, before=before, after=after, note=note)


def _state(case: Case) -> dict:
    return {
        "status": case.status,
        "owner": case.owner.get_username() if case.owner_id else None,
        "severity": case.severity,
        "outcome": case.outcome or None,
    }


# --- Grouping -------------------------------------------------------------------------------------


def _subject(alert: AIAlert) -> tuple[str, dict] | None:
    """The case an alert belongs to: (kind, lookup), or None for an alert no case takes."""
    if alert.alert_type == AlertType.FRAUD_SUSPECT and alert.user_id:
        return Case.Kind.FRAUD, {"member_id": alert.user_id}
    if alert.alert_type == AlertType.LIQUIDITY_SHORT:
        tontine_id = AlertPayload.of(alert).raw.get("tontine_id")
        if tontine_id and Tontine.objects.filter(pk=tontine_id).exists():
            return Case.Kind.LIQUIDITY, {"tontine_id": tontine_id}
    return None


def _open_case_locked(kind: str, lookup: dict) -> tuple[Case, bool]:
    """The subject's open case, locked; created (and audited) when there is none."""
    case = (
        Case.objects.select_for_update(of=("self",))
        .filter(kind=kind, **lookup)
        .exclude(status=Case.Status.CLOSED)
        .select_related("owner")
        .first()
    )
    if case is not None:
        return case, False
    now = timezone.now()
    try:
        with transaction.atomic():  # a savepoint: the loser of a race for the first case reads the winner's
            case = Case(kind=kind, opened_at=now, due_at=now, **lookup)
            case.due_at = _due(case, Case.Severity.LOW)
            case.save(force_insert=True)
    except IntegrityError:
        case = (
            Case.objects.select_for_update(of=("self",))
            .filter(kind=kind, **lookup)
            .exclude(status=Case.Status.CLOSED)
            .select_related("owner")
            .get()
        )
        return case, False
    return case, True


def _on_duty_analysts():
    """Active users who may decide cases and logged in within CASE_ON_DUTY_HOURS, by username."""
    since = timezone.now() - timedelta(hours=settings.CASE_ON_DUTY_HOURS)
    users = get_user_model().objects.filter(is_active=True, last_login__gte=since)
    perm = Q(groups__permissions__codename="decide_case", groups__permissions__content_type__app_label="cases")
    perm |= Q(user_permissions__codename="decide_case", user_permissions__content_type__app_label="cases")
    return list(users.filter(perm).distinct().order_by("username"))


def _round_robin_owner():
    """The analyst on duty after the one who was given the last automatically assigned case."""
    duty = _on_duty_analysts()
    if not duty:
        return None
    last = (
        AnalystAction.objects.filter(action=Action.CASE_ASSIGN, actor__isnull=True, after__auto=True)
        .order_by("-created_at", "-id")
        .values_list("after__owner", flat=True)
        .first()
    )
    names = [user.get_username() for user in duty]
    if last in names:
        return duty[(names.index(last) + 1) % len(duty)]
    return duty[0]


def case_item_attach(*, alert: AIAlert, payment: Payment | None = None) -> CaseItem | None:
    """Put an alert (and the payment it is about) into its subject's open case; once per alert.

    Call inside the transaction that raised the alert. Returns None for an
    alert no case takes (a credit offer, a ring alert about no single member).
    """
    subject = _subject(alert)
    if subject is None:
        return None
    existing = CaseItem.objects.filter(alert=alert).first()
    if existing is not None:
        return existing
    kind, lookup = subject
    with transaction.atomic():
        case, created = _open_case_locked(kind, lookup)
        payload = AlertPayload.of(alert)
        if kind == Case.Kind.FRAUD:
            amount = int(payment.amount_sats if payment is not None else (payload.amount_sats or 0))
        else:
            amount = int(payload.raw.get("shortfall_sats") or 0)
        severity = item_severity(alert=alert, amount_sats=amount)
        item = CaseItem.objects.create(case=case, alert=alert, payment=payment, severity=severity, amount_sats=amount)
        if created:
            _audit(case, actor=None, action=Action.CASE_OPEN, before={}, after={**_state(case), "kind": kind})
            if settings.CASE_AUTO_ASSIGN:
                owner = _round_robin_owner()
                if owner is not None:
                    case.owner = owner
                    case.status = Case.Status.ASSIGNED
                    case.save(update_fields=["owner", "status"])
                    _audit(
                        case,
                        actor=None,
                        action=Action.CASE_ASSIGN,
                        before={"status": Case.Status.NEW, "owner": None},
                        after={"status": case.status, "owner": owner.get_username(), "auto": True},
                    )
        if severity > case.severity or not case.top_reason:
            case.top_reason = _reason_code(alert)
        _totals_update(case)
        before = case.severity
        if severity > case.severity:
            case.severity = severity
            case.due_at = min(case.due_at, _due(case, severity))
        case.save(update_fields=["severity", "due_at", "top_reason", "amount_sats", "item_count"])
        if case.severity != before and not created:
            _audit(
                case, actor=None, action=Action.CASE_SEVERITY, before={"severity": before}, after={"severity": severity}
            )
    return item


def _totals_update(case: Case) -> None:
    """Set the open items' count and the amount still at stake from the items (no save)."""
    items = CaseItem.objects.filter(case=case, alert__resolved=False)
    if case.kind == Case.Kind.FRAUD:
        totals = items.aggregate(
            n=Count("pk"),
            amount=Sum("amount_sats", filter=Q(payment__isnull=True) | Q(payment__status__in=AT_STAKE)),
        )
        case.amount_sats = totals["amount"] or 0
    else:
        totals = items.aggregate(n=Count("pk"), amount=Max("amount_sats"))
        case.amount_sats = totals["amount"] or 0
    case.item_count = totals["n"] or 0


# --- Items acted on outside the case ------------------------------------------------------------


def alert_resolved_listener(alert: AIAlert) -> None:
    """After an alert's resolution commits, refresh its case (registered in cases.apps)."""
    case_id = CaseItem.objects.filter(alert_id=alert.pk).values_list("case_id", flat=True).first()
    if case_id is not None:
        transaction.on_commit(lambda: case_refresh(case_id=case_id))


@transaction.atomic
def case_refresh(*, case_id) -> Case | None:
    """Recount an open case's items and amount; close it when none is left open (system, audited).

    Idempotent and derived only from the items, so running it late or twice
    (the every-ten-minutes sweep, `cases_refresh_open`) changes nothing more.
    """
    case = Case.objects.select_for_update(of=("self",)).filter(pk=case_id).select_related("owner").first()
    if case is None or not case.is_open:
        return case
    _totals_update(case)
    fields = ["amount_sats", "item_count"]
    if case.item_count == 0 and case.status != Case.Status.PENDING_APPROVAL:
        before = _state(case)
        outcomes = {
            AlertPayload.of(item.alert).outcome for item in case.items.select_related("alert") if item.alert.resolved
        }
        if Case.Outcome.CONFIRMED_FRAUD in outcomes:
            case.outcome = Case.Outcome.CONFIRMED_FRAUD
        elif case.kind == Case.Kind.LIQUIDITY:
            case.outcome = Case.Outcome.LIQUIDITY_HANDLED
        else:
            case.outcome = Case.Outcome.FALSE_POSITIVE
        case.status = Case.Status.CLOSED
        case.closed_at = timezone.now()
        fields += ["status", "closed_at", "outcome"]
        case.save(update_fields=fields)
        _audit(
            case,
            actor=None,
            action=Action.CASE_CLOSE,
            before=before,
            after={**_state(case), "by": "items"},
            note="items_resolved",
        )
        return case
    case.save(update_fields=fields)
    return case


def cases_refresh_open(*, limit: int = 500) -> int:
    """Refresh the open cases whose counts disagree with their items (a refresh lost to a crash)."""
    stale = (
        Case.objects.exclude(status=Case.Status.CLOSED)
        .annotate(open_items=Count("items", filter=Q(items__alert__resolved=False)))
        .exclude(open_items=F("item_count"))
        .values_list("pk", flat=True)[:limit]
    )
    ids = list(stale)
    for case_id in ids:
        case_refresh(case_id=case_id)
    return len(ids)


def cases_backfill() -> int:
    """Put every open fraud and liquidity alert that has no case into one (idempotent); return how many."""
    done = 0
    alerts = (
        AIAlert.objects.filter(
            resolved=False, alert_type__in=[AlertType.FRAUD_SUSPECT, AlertType.LIQUIDITY_SHORT], case_item__isnull=True
        )
        .order_by("created_at")
        .iterator(chunk_size=500)
    )
    for alert in alerts:
        payment = None
        payment_id = AlertPayload.of(alert).payment_id
        if payment_id:
            payment = Payment.objects.filter(pk=payment_id).first()
        if case_item_attach(alert=alert, payment=payment) is not None:
            done += 1
    return done


# --- Assignment, escalation, comments ---------------------------------------------------------


def _locked(case: Case) -> Case:
    locked = Case.objects.select_for_update(of=("self",)).select_related("owner").get(pk=case.pk)
    if not locked.is_open:
        raise CaseClosed(_("Ce dossier est clos : rien n'a été modifié."))
    return locked


def _may_decide(user) -> bool:
    return user is not None and user.is_active and user.has_perm("cases.decide_case")


@transaction.atomic
def case_assign(*, case: Case, actor, owner, note: str = "") -> Case:
    """Give a case to `owner` (a claim when owner is the actor); audited.

    Anyone who may decide cases claims an unowned case; the owner, or a
    supervisor holding `cases.approve_case`, hands it to a colleague who may
    decide cases. A case waiting for approval keeps its owner.
    """
    locked = _locked(case)
    if not _may_decide(owner):
        raise CaseInvalid(_("Ce collègue ne peut pas prendre de dossier en charge."))
    if locked.status == Case.Status.PENDING_APPROVAL:
        raise CaseInvalid(_("Une décision attend son approbation : le dossier ne change pas de main."))
    if locked.owner_id == owner.pk:
        raise CaseInvalid(_("Ce dossier est déjà à %(name)s.") % {"name": owner.get_username()})
    if locked.owner_id is not None and actor.pk != locked.owner_id and not actor.has_perm("cases.approve_case"):
        raise CaseNotYours(
            _("Ce dossier est à %(name)s : seul son responsable ou un superviseur le réattribue.")
            % {"name": locked.owner.get_username()}
        )
    if locked.owner_id is None and actor.pk != owner.pk and not _may_decide(actor):
        raise CaseNotYours(_("Vous ne pouvez pas attribuer de dossier."))
    before = _state(locked)
    locked.owner = owner
    if locked.status == Case.Status.NEW:
        locked.status = Case.Status.ASSIGNED
    locked.save(update_fields=["owner", "status"])
    _audit(locked, actor=actor, action=Action.CASE_ASSIGN, before=before, after=_state(locked), note=note[:NOTE_MAX])
    return locked


@transaction.atomic
def case_escalate(*, case: Case, actor, note: str) -> Case:
    """Mark a case escalated (its owner asks for senior eyes), with a note; audited."""
    note = (note or "").strip()
    if not note:
        raise CaseInvalid(_("Dites pourquoi vous escaladez ce dossier."))
    locked = _locked(case)
    if locked.owner_id != actor.pk:
        raise CaseNotYours(_("Seul le responsable du dossier peut l'escalader."))
    if locked.status != Case.Status.ASSIGNED:
        raise CaseInvalid(_("Seul un dossier attribué peut être escaladé."))
    before = _state(locked)
    locked.status = Case.Status.ESCALATED
    locked.save(update_fields=["status"])
    _audit(locked, actor=actor, action=Action.CASE_ESCALATE, before=before, after=_state(locked), note=note[:NOTE_MAX])
    return locked


@transaction.atomic
def case_comment_add(*, case: Case, author, body: str) -> CaseComment:
    """Add a message to the case's thread (open or closed: a closed case may still be annotated)."""
    body = (body or "").strip()
    if not body:
        raise CaseInvalid(_("Le commentaire est vide."))
    if len(body) > COMMENT_MAX:
        raise CaseInvalid(_("Le commentaire dépasse %(max)d caractères.") % {"max": COMMENT_MAX})
    comment = CaseComment.objects.create(case=case, author=author, body=body)
    _audit(case, actor=author, action=Action.CASE_COMMENT, before={}, after={"comment": comment.pk})
    return comment


# --- The decision ----------------------------------------------------------------------------------


def _open_items(case: Case) -> list[CaseItem]:
    return list(case.items.filter(alert__resolved=False).select_related("alert", "payment").order_by("added_at", "pk"))


def _check_outcomes(case: Case, items: list[CaseItem], outcome: str, exceptions: dict) -> dict[str, str]:
    """Each open item's outcome (the case's, or its exception); raise CaseInvalid on any misfit."""
    if outcome not in OUTCOMES_BY_KIND[case.kind]:
        raise CaseInvalid(_("Cette issue ne convient pas à ce type de dossier."))
    by_alert = {str(item.alert_id): item for item in items}
    unknown = [key for key in exceptions if key not in by_alert]
    if unknown:
        raise CaseInvalid(_("Une exception vise un élément qui n'est pas ouvert dans ce dossier."))
    chosen = {}
    for key, item in by_alert.items():
        item_outcome = exceptions.get(key) or outcome
        if item_outcome not in OUTCOMES_BY_TYPE.get(item.alert.alert_type, ()):
            raise CaseInvalid(_("Une exception donne une issue qui ne convient pas à son alerte."))
        chosen[key] = str(item_outcome)
    return chosen


def needs_approval(*, case: Case, outcome: str, exceptions: dict) -> bool:
    """Whether confirming fraud here puts more than CASE_FOUR_EYES_XOF at stake (four eyes)."""
    confirms = outcome == Case.Outcome.CONFIRMED_FRAUD or Case.Outcome.CONFIRMED_FRAUD in exceptions.values()
    return confirms and _xof(case.amount_sats) > settings.CASE_FOUR_EYES_XOF


def _apply(case: Case, *, items: list[CaseItem], chosen: dict[str, str], actor, note: str) -> dict:
    """Decide every open item with its outcome; return what happened to each."""
    done = {"decided": [], "already": []}
    for item in items:
        try:
            alert_decide(alert=item.alert, actor=actor, outcome=chosen[str(item.alert_id)], note=note)
            done["decided"].append(str(item.alert_id))
        except AlertAlreadyResolved:
            done["already"].append(str(item.alert_id))
    return done


def _close(case: Case, *, outcome: str, decided_by, approved_by=None, note: str) -> None:
    case.status = Case.Status.CLOSED
    case.outcome = outcome
    case.closed_at = timezone.now()
    case.decided_by = decided_by
    case.approved_by = approved_by
    case.decision_note = note
    _totals_update(case)
    case.save(
        update_fields=[
            "status",
            "outcome",
            "closed_at",
            "decided_by",
            "approved_by",
            "decision_note",
            "amount_sats",
            "item_count",
            "proposed_outcome",
            "proposed_by",
            "proposed_exceptions",
        ]
    )


@transaction.atomic
def case_decide(*, case: Case, actor, outcome: str, note: str, exceptions: dict | None = None) -> Case:
    """Decide a case once: every open item gets the outcome (or its exception), in one transaction.

    Only the owner decides. Confirming fraud above CASE_FOUR_EYES_XOF makes
    the decision a proposal (status pending_approval) that `case_approve`
    carries out. Raises CaseError (nothing changed) on any misfit.
    """
    exceptions = {str(k): str(v) for k, v in (exceptions or {}).items() if v}
    note = (note or "").strip()
    if not note:
        raise CaseInvalid(_("Motivez la décision : la note est obligatoire."))
    locked = _locked(case)
    if locked.owner_id != getattr(actor, "pk", None):
        raise CaseNotYours(_("Seul le responsable du dossier le décide : prenez-le en charge d'abord."))
    if not _may_decide(actor):
        raise CaseNotYours(_("Vous ne pouvez pas décider de dossier."))
    if locked.status == Case.Status.PENDING_APPROVAL:
        raise CaseInvalid(_("Une décision attend déjà son approbation."))
    items = _open_items(locked)
    chosen = _check_outcomes(locked, items, outcome, exceptions)
    _totals_update(locked)
    before = _state(locked)
    if needs_approval(case=locked, outcome=outcome, exceptions=exceptions):
        locked.status = Case.Status.PENDING_APPROVAL
        locked.proposed_outcome = outcome
        locked.proposed_by = actor
        locked.proposed_exceptions = exceptions
        locked.decision_note = note[:NOTE_MAX]
        locked.save(update_fields=["status", "proposed_outcome", "proposed_by", "proposed_exceptions", "decision_note"])
        _audit(
            locked,
            actor=actor,
            action=Action.CASE_PROPOSE,
            before=before,
            after={**_state(locked), "proposed_outcome": outcome, "exceptions": exceptions},
            note=note,
        )
        return locked
    done = _apply(locked, items=items, chosen=chosen, actor=actor, note=note)
    _close(locked, outcome=outcome, decided_by=actor, note=note[:NOTE_MAX])
    _audit(
        locked,
        actor=actor,
        action=Action.CASE_DECIDE,
        before=before,
        after={**_state(locked), "exceptions": exceptions, **done},
        note=note,
    )
    return locked


@transaction.atomic
def case_approve(*, case: Case, actor, note: str = "") -> Case:
    """Carry out a proposed decision as its second pair of eyes (not its proposer); audited."""
    locked = _locked(case)
    if locked.status != Case.Status.PENDING_APPROVAL:
        raise CaseInvalid(_("Aucune décision n'attend d'approbation dans ce dossier."))
    if not actor.has_perm("cases.approve_case"):
        raise CaseNotYours(_("Vous ne pouvez pas approuver de décision."))
    if locked.proposed_by_id == actor.pk:
        raise CaseNotYours(_("Quatre yeux : vous ne pouvez pas approuver votre propre décision."))
    proposer = locked.proposed_by
    outcome = locked.proposed_outcome
    exceptions = dict(locked.proposed_exceptions or {})
    items = _open_items(locked)
    # Items decided elsewhere meanwhile simply drop out; exceptions about them too.
    live = {str(item.alert_id) for item in items}
    chosen = _check_outcomes(locked, items, outcome, {k: v for k, v in exceptions.items() if k in live})
    before = _state(locked)
    decision_note = locked.decision_note
    done = _apply(locked, items=items, chosen=chosen, actor=proposer, note=decision_note)
    _close(locked, outcome=outcome, decided_by=proposer, approved_by=actor, note=decision_note)
    _audit(
        locked,
        actor=actor,
        action=Action.CASE_APPROVE,
        before=before,
        after={**_state(locked), "proposed_by": proposer.get_username(), "exceptions": exceptions, **done},
        note=(note or "").strip()[:NOTE_MAX],
    )
    return locked


@transaction.atomic
def case_proposal_reject(*, case: Case, actor, note: str) -> Case:
    """Send a proposed decision back to its owner, with the reason; nothing is decided."""
    note = (note or "").strip()
    if not note:
        raise CaseInvalid(_("Dites pourquoi vous refusez cette décision."))
    locked = _locked(case)
    if locked.status != Case.Status.PENDING_APPROVAL:
        raise CaseInvalid(_("Aucune décision n'attend d'approbation dans ce dossier."))
    if not actor.has_perm("cases.approve_case"):
        raise CaseNotYours(_("Vous ne pouvez pas approuver de décision."))
    if locked.proposed_by_id == actor.pk:
        raise CaseNotYours(_("Quatre yeux : vous ne pouvez pas juger votre propre décision."))
    before = {**_state(locked), "proposed_outcome": locked.proposed_outcome}
    locked.status = Case.Status.ASSIGNED
    locked.proposed_outcome = ""
    locked.proposed_by = None
    locked.proposed_exceptions = {}
    locked.save(update_fields=["status", "proposed_outcome", "proposed_by", "proposed_exceptions"])
    _audit(locked, actor=actor, action=Action.CASE_SEND_BACK, before=before, after=_state(locked), note=note)
    case_refresh(case_id=locked.pk)  # items decided elsewhere meanwhile may have emptied it
    return locked
