"""Suspicious-activity reports to CENTIF ("déclarations d'opérations suspectes", DOS): draft, approve, send.

A report is drafted from a fraud case closed as confirmed fraud. Drafting
takes a snapshot of the platform's facts (`report_facts_build`: the member
under a pseudonymous id, the operations, the typology, the narrative, the
case's history) into `SuspiciousActivityReport.facts`; the PDF
(`cases.report_pdf`) and the JSON (`report_json`) are both made from that
snapshot through `report_document`, so what the compliance user approves is
exactly what is sent. Field names and the reasons for them: docs/CENTIF.md.

States: draft → approved → sent. Approving needs `cases.approve_report` and
a user who neither drafted nor edited the draft (four eyes); sending needs
the same permission and records the date and CENTIF's reference. Each step
locks the report row and is audited (`sunusav.audit_trail.action_record`) in
its transaction, so two approvers at once give exactly one approval.

No tipping-off: nothing here writes a member-facing notification, and a
report is never mentioned to the member.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from alerts.payloads import AlertPayload
from cases.models import Case, CaseComment, CaseItem, SuspiciousActivityReport
from sunusav.audit_trail import action_record
from sunusav.models import AnalystAction, Membership
from sunusav.presenters import reason_texts

SCHEMA = "sunusav-dos/1"
DAKAR = ZoneInfo("Africa/Dakar")

DRAFT_PERMISSION = "cases.decide_case"
APPROVE_PERMISSION = "cases.approve_report"
VIEW_PERMISSION = "cases.view_suspiciousactivityreport"

NARRATIVE_MIN = 20
NARRATIVE_MAX = 10_000
REFERENCE_MAX = SuspiciousActivityReport._meta.get_field("centif_reference").max_length
REASONS_PER_OPERATION = 3
# A "sent" date may be a few minutes ahead of this server's clock (the sender's own clock), never more.
SENT_CLOCK_SKEW = timedelta(minutes=5)

# The top-level keys of a report's document, in the order the JSON export writes them.
DOCUMENT_KEYS = (
    "schema",
    "report_id",
    "declaration",
    "declarant",
    "subject",
    "case",
    "operations",
    "totals",
    "typology",
    "narrative",
    "history",
    "conversion",
    "drafted_at",
)


class Typology(models.TextChoices):
    """The West-African fraud and laundering patterns a SunuSàv report names (GAFI / GIABA typologies)."""

    INVOICE_BURST = "invoice_burst", _("rafale de factures")
    STRUCTURING = "structuring", _("structuration / fractionnement")
    ACCOUNT_TAKEOVER = "account_takeover", _("prise de contrôle de compte (SIM swap)")
    MONEY_MULE = "money_mule", _("compte mule")
    OTHER = "other", _("autre")


# --- Errors: each one a French sentence for the person who acted -------------------------------


class ReportError(Exception):
    """A report action refused; `str(exc)` says why, in the language of the request."""


class ReportPermissionDenied(ReportError):
    """The user may not take this step (missing permission, or four eyes)."""


class ReportStateError(ReportError):
    """The case or the report is not in the state this step needs (someone else may have acted)."""


class ReportInvalid(ReportError):
    """The input is not acceptable (empty narrative, unknown typology, bad date or reference)."""


# --- Small helpers ---------------------------------------------------------------------------------


def _iso(moment) -> str | None:
    """Return a moment in ISO 8601, in Dakar's time (UTC+0, no daylight saving): "2026-12-07T13:05:00+00:00"."""
    return timezone.localtime(moment, DAKAR).isoformat() if moment else None


def xof_of(sats: int, rate: float | None = None) -> int:
    """Return sats in XOF at the configured rate, rounded to the franc (the presenters' conversion)."""
    rate = settings.CREDIT_XOF_PER_SAT if rate is None else rate
    return round(float(sats) * rate)


def _username(user) -> str | None:
    return user.get_username() if user is not None else None


def _require(actor, permission: str, message: str) -> None:
    if actor is None or not actor.is_authenticated or not actor.has_perm(permission):
        raise ReportPermissionDenied(message)


def facts_fingerprint(facts: dict) -> str:
    """Return the sha256 of the facts in canonical JSON: the same facts give the same print, whatever the key order."""
    canonical = json.dumps(facts, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _typology_clean(typology) -> str:
    typology = (typology or "").strip()
    if typology not in Typology.values:
        raise ReportInvalid(gettext("Typologie inconnue : choisissez-en une dans la liste."))
    return typology


def _narrative_clean(narrative) -> str:
    narrative = (narrative or "").strip()
    if len(narrative) < NARRATIVE_MIN:
        raise ReportInvalid(
            gettext("L'exposé des faits est obligatoire (%(min)d caractères au moins).") % {"min": NARRATIVE_MIN}
        )
    if len(narrative) > NARRATIVE_MAX:
        raise ReportInvalid(
            gettext("L'exposé des faits est trop long (%(max)d caractères au plus).") % {"max": NARRATIVE_MAX}
        )
    return narrative


def _typology_fact(code: str) -> dict:
    with translation.override("fr"):
        return {"code": code, "label": str(Typology(code).label)}


# --- The facts snapshot ----------------------------------------------------------------------------


def _subject_facts(member) -> dict:
    memberships = Membership.objects.filter(member=member).select_related("tontine").order_by("joined_at", "pk")
    return {
        # The member's UUID is the pseudonymous id: CENTIF may ask SunuSàv for the person behind it.
        "member_id": str(member.pk),
        "display_name": member.display_name,
        "region": member.region or None,
        "region_label": str(member.get_region_display()) if member.region else None,
        "account_created_at": _iso(member.created_at),
        # The platform holds no phone number: only its keyed hash (HMAC-SHA256), which the operator can match.
        "phone_hash": member.phone_hash or None,
        "tontines": [
            {
                "tontine_id": str(m.tontine.pk),
                "name": m.tontine.name,
                "region": m.tontine.region or None,
                "cycle": m.tontine.cycle,
                "cycle_label": str(m.tontine.get_cycle_display()),
                "status": m.tontine.status,
                "status_label": str(m.tontine.get_status_display()),
                "contribution_sats": m.tontine.contribution_sats,
                "contribution_xof": xof_of(m.tontine.contribution_sats),
                "position": m.position,
                "joined_at": _iso(m.joined_at),
            }
            for m in memberships
        ],
    }


def _operation_facts(items) -> list[dict]:
    operations = []
    for item in items:
        payment = item.payment
        payload = AlertPayload.of(item.alert)
        score = payload.fraud_score
        operations.append(
            {
                "payment_id": str(payment.pk),
                "alert_id": str(item.alert_id),
                "created_at": _iso(payment.created_at),
                "kind": payment.kind,
                "kind_label": str(payment.get_kind_display()),
                "status": payment.status,
                "status_label": str(payment.get_status_display()),
                "amount_sats": payment.amount_sats,
                "amount_xof": xof_of(payment.amount_sats),
                "device_id": payment.device_id or None,
                "location": payment.location or None,
                "fraud_score": float(score) if score is not None else None,
                "reasons": reason_texts(payload.reasons)[:REASONS_PER_OPERATION],
            }
        )
    return operations


def _history_facts(case: Case) -> list[dict]:
    actions = AnalystAction.objects.filter(target_type="case", target_id=str(case.pk)).select_related("actor")
    entries = [
        {
            "at": _iso(a.created_at),
            "type": "action",
            "actor": _username(a.actor),
            "action": a.action,
            "action_label": str(a.get_action_display()),
            "note": a.note,
            "before": a.before,
            "after": a.after,
        }
        for a in actions
    ]
    entries += [
        {
            "at": _iso(c.created_at),
            "type": "comment",
            "actor": _username(c.author),
            "action": "comment",
            "action_label": gettext("commentaire"),
            "note": c.body,
            "before": {},
            "after": {},
        }
        for c in CaseComment.objects.filter(case=case).select_related("author")
    ]
    # ISO strings of one offset sort as the moments do.
    return sorted(entries, key=lambda e: e["at"] or "")


def report_facts_build(
    *, case: Case, report_id, typology: str, narrative: str, drafted_by, drafted_at: datetime
) -> dict:
    """Return the facts a report states (schema "sunusav-dos/1"), read from the database now, in French.

    Everything the PDF and the JSON show comes from here; the key names are
    documented in docs/CENTIF.md.
    """
    with translation.override("fr"):
        items = (
            CaseItem.objects.filter(case=case, payment__isnull=False)
            .select_related("payment", "alert")
            .order_by("payment__created_at", "payment__pk")
        )
        operations = _operation_facts(items)
        facts = {
            "schema": SCHEMA,
            "report_id": str(report_id),
            "drafted_at": _iso(drafted_at),
            "declarant": {
                "name": getattr(settings, "CENTIF_DECLARANT_NAME", "SunuSàv"),
                "activity": getattr(
                    settings,
                    "CENTIF_DECLARANT_ACTIVITY",
                    "plateforme de tontines et de paiements (Lightning, mobile money)",
                ),
                "country": "SN",
                "drafted_by": _username(drafted_by),
            },
            "subject": _subject_facts(case.member),
            "case": {
                "case_id": str(case.pk),
                "kind": case.kind,
                "opened_at": _iso(case.opened_at),
                "closed_at": _iso(case.closed_at),
                "outcome": case.outcome,
                "outcome_label": str(case.get_outcome_display()),
                "decided_by": _username(case.decided_by),
                "approved_by": _username(case.approved_by),
                "decision_note": case.decision_note,
                "severity": case.severity,
                "severity_label": str(case.get_severity_display()),
                "item_count": case.item_count,
            },
            "operations": operations,
            "totals": {
                "operations": len(operations),
                "amount_sats": sum(o["amount_sats"] for o in operations),
                # The sum of the rounded lines, so the PDF's column adds up.
                "amount_xof": sum(o["amount_xof"] for o in operations),
            },
            "typology": _typology_fact(typology),
            "narrative": narrative,
            "history": _history_facts(case),
            "conversion": {"xof_per_sat": settings.CREDIT_XOF_PER_SAT, "rounding": "franc le plus proche"},
        }
    return facts


def report_document(report: SuspiciousActivityReport) -> dict:
    """Return what the PDF and the JSON show: the facts snapshot and the declaration's state (`declaration`).

    `declaration` is the envelope (status, who drafted and approved it, when it
    was sent and CENTIF's reference, the facts' fingerprint); every other key is
    the snapshot as drafted (typology and narrative as last edited in draft).
    """
    facts = report.facts or {}
    declaration = {
        "status": report.status,
        "status_label": _status_label(report.status),
        "drafted_by": _username(report.drafted_by),
        "drafted_at": _iso(report.drafted_at),
        "approved_by": _username(report.approved_by),
        "approved_at": _iso(report.approved_at),
        "sent_at": _iso(report.sent_at),
        "centif_reference": report.centif_reference or None,
        "facts_sha256": facts_fingerprint(facts),
    }
    document = {"schema": facts.get("schema", SCHEMA), "report_id": str(report.pk), "declaration": declaration}
    ordered = [k for k in DOCUMENT_KEYS if k in facts] + sorted(k for k in facts if k not in DOCUMENT_KEYS)
    for key in ordered:
        document.setdefault(key, facts[key])
    return document


def _status_label(status: str) -> str:
    with translation.override("fr"):
        return str(SuspiciousActivityReport.Status(status).label)


def report_json(report: SuspiciousActivityReport) -> bytes:
    """Return the report's document as UTF-8 JSON (indented, accents kept)."""
    return json.dumps(report_document(report), ensure_ascii=False, indent=2).encode("utf-8")


def report_makers(report: SuspiciousActivityReport) -> set[int]:
    """Return the ids of the users who wrote the report: its drafter and whoever edited the draft."""
    editors = AnalystAction.objects.filter(
        target_type=SuspiciousActivityReport._meta.model_name,
        target_id=str(report.pk),
        action__in=[AnalystAction.Action.REPORT_DRAFT, AnalystAction.Action.REPORT_UPDATE],
        actor__isnull=False,
    ).values_list("actor_id", flat=True)
    return {report.drafted_by_id, *editors}


def cases_reportable():
    """Return the fraud cases closed as confirmed fraud with no report in progress, newest first (the draft list)."""
    in_progress = SuspiciousActivityReport.objects.filter(case=models.OuterRef("pk")).exclude(
        status=SuspiciousActivityReport.Status.SENT
    )
    return (
        Case.objects.filter(kind=Case.Kind.FRAUD, status=Case.Status.CLOSED, outcome=Case.Outcome.CONFIRMED_FRAUD)
        .exclude(models.Exists(in_progress))
        .select_related("member")
        .order_by("-closed_at")
    )


def _locked_report(report_id) -> SuspiciousActivityReport:
    try:
        return (
            SuspiciousActivityReport.objects.select_for_update(of=("self",))
            .select_related("drafted_by", "approved_by")
            .get(pk=report_id)
        )
    except (SuspiciousActivityReport.DoesNotExist, ValidationError, ValueError) as exc:
        raise ReportInvalid(gettext("Déclaration introuvable.")) from exc


def _state_refusal(report: SuspiciousActivityReport, wanted: str) -> ReportStateError:
    if report.status == SuspiciousActivityReport.Status.APPROVED:
        said = gettext("Cette déclaration est déjà approuvée (par %(user)s le %(when)s).") % {
            "user": _username(report.approved_by) or "—",
            "when": _local_text(report.approved_at),
        }
    elif report.status == SuspiciousActivityReport.Status.SENT:
        said = gettext("Cette déclaration est déjà transmise à la CENTIF (le %(when)s, référence %(ref)s).") % {
            "when": _local_text(report.sent_at),
            "ref": report.centif_reference or "—",
        }
    else:
        said = gettext("Cette déclaration est encore un brouillon : elle doit d'abord être approuvée.")
    return ReportStateError(f"{wanted} {said}")


def _local_text(moment) -> str:
    if moment is None:
        return "—"
    return timezone.localtime(moment, DAKAR).strftime("%d/%m/%Y %H:%M")


# --- Services -------------------------------------------------------------------------------------


@transaction.atomic
def report_draft(*, case_id, actor, typology: str, narrative: str) -> SuspiciousActivityReport:
    """Draft a report from a fraud case closed as confirmed fraud, snapshotting its facts; audit it.

    Needs `cases.decide_case`. Refused (`ReportStateError`) when the case is
    not closed as confirmed fraud or already has a report in progress.
    """
    _require(actor, DRAFT_PERMISSION, gettext("Vous n'avez pas le droit de rédiger une déclaration CENTIF."))
    typology = _typology_clean(typology)
    narrative = _narrative_clean(narrative)
    try:
        case = (
            Case.objects.select_for_update(of=("self",))
            .select_related("member", "decided_by", "approved_by")
            .get(pk=case_id)
        )
    except (Case.DoesNotExist, ValidationError, ValueError) as exc:
        raise ReportInvalid(gettext("Dossier introuvable.")) from exc
    if case.kind != Case.Kind.FRAUD or case.member_id is None:
        raise ReportStateError(gettext("Une déclaration CENTIF ne se rédige que depuis un dossier de fraude."))
    if case.status != Case.Status.CLOSED or case.outcome != Case.Outcome.CONFIRMED_FRAUD:
        raise ReportStateError(
            gettext(
                "Une déclaration CENTIF ne se rédige que depuis un dossier clos en fraude confirmée "
                "(ce dossier : %(status)s%(outcome)s)."
            )
            % {
                "status": case.get_status_display(),
                "outcome": f", {case.get_outcome_display()}" if case.outcome else "",
            }
        )
    current = case.reports.exclude(status=SuspiciousActivityReport.Status.SENT).first()
    if current is not None:
        raise ReportStateError(
            gettext("Une déclaration est déjà en cours pour ce dossier (%(status)s).")
            % {"status": current.get_status_display()}
        )
    report_id = uuid.uuid4()
    drafted_at = timezone.now()
    facts = report_facts_build(
        case=case,
        report_id=report_id,
        typology=typology,
        narrative=narrative,
        drafted_by=actor,
        drafted_at=drafted_at,
    )
    try:
        with transaction.atomic():
            report = SuspiciousActivityReport.objects.create(
                id=report_id,
                case=case,
                typology=typology,
                narrative=narrative,
                facts=facts,
                drafted_by=actor,
                drafted_at=drafted_at,
            )
    except IntegrityError as exc:  # a colleague's draft committed meanwhile (one unsent report per case)
        raise ReportStateError(gettext("Une déclaration est déjà en cours pour ce dossier.")) from exc
    action_record(
        actor=actor,
        action=AnalystAction.Action.REPORT_DRAFT,
        target=report,
        after={
            "status": report.status,
            "case_id": str(case.pk),
            "typology": typology,
            "operations": len(facts["operations"]),
            "facts_sha256": facts_fingerprint(facts),
        },
    )
    return report


@transaction.atomic
def report_update(*, report_id, actor, typology: str, narrative: str) -> SuspiciousActivityReport:
    """Change a draft's typology and narrative (the rest of the snapshot stays as drafted); audit it.

    Needs `cases.decide_case`; only a draft changes. Whoever edits a draft
    becomes one of its makers and may no longer approve it.
    """
    _require(actor, DRAFT_PERMISSION, gettext("Vous n'avez pas le droit de modifier une déclaration CENTIF."))
    typology = _typology_clean(typology)
    narrative = _narrative_clean(narrative)
    report = _locked_report(report_id)
    if report.status != SuspiciousActivityReport.Status.DRAFT:
        raise _state_refusal(report, gettext("Seul un brouillon se modifie."))
    before = {"typology": report.typology, "narrative": report.narrative}
    if before == {"typology": typology, "narrative": narrative}:
        return report  # nothing changed: no audit row, and the user does not become a maker
    report.typology = typology
    report.narrative = narrative
    report.facts = {**report.facts, "typology": _typology_fact(typology), "narrative": narrative}
    report.save(update_fields=["typology", "narrative", "facts"])
    action_record(
        actor=actor,
        action=AnalystAction.Action.REPORT_UPDATE,
        target=report,
        before=before,
        after={"typology": typology, "narrative": narrative, "facts_sha256": facts_fingerprint(report.facts)},
    )
    return report


@transaction.atomic
def report_approve(*, report_id, actor, note: str = "") -> SuspiciousActivityReport:
    """Approve a draft as a second user holding `cases.approve_report` (four eyes); audit it.

    Refused when the approver drafted or edited it (`ReportPermissionDenied`),
    or when it is no longer a draft (`ReportStateError`, naming who acted):
    two approvers at once give exactly one approval.
    """
    _require(actor, APPROVE_PERMISSION, gettext("Vous n'avez pas le droit d'approuver une déclaration CENTIF."))
    report = _locked_report(report_id)
    if report.status != SuspiciousActivityReport.Status.DRAFT:
        raise _state_refusal(report, gettext("Approbation impossible."))
    if actor.pk in report_makers(report):
        raise ReportPermissionDenied(
            gettext(
                "Quatre yeux : vous avez rédigé ou modifié cette déclaration, un second utilisateur doit l'approuver."
            )
        )
    report.status = SuspiciousActivityReport.Status.APPROVED
    report.approved_by = actor
    report.approved_at = timezone.now()
    report.save(update_fields=["status", "approved_by", "approved_at"])
    action_record(
        actor=actor,
        action=AnalystAction.Action.REPORT_APPROVE,
        target=report,
        before={"status": SuspiciousActivityReport.Status.DRAFT},
        after={"status": report.status, "facts_sha256": facts_fingerprint(report.facts)},
        note=(note or "").strip(),
    )
    return report


def _reference_clean(reference) -> str:
    reference = " ".join((reference or "").split())
    if not reference:
        raise ReportInvalid(gettext("La référence CENTIF est obligatoire."))
    if len(reference) > REFERENCE_MAX:
        raise ReportInvalid(
            gettext("La référence CENTIF est trop longue (%(max)d caractères au plus).") % {"max": REFERENCE_MAX}
        )
    if not reference.isprintable():
        raise ReportInvalid(gettext("La référence CENTIF contient des caractères non imprimables."))
    return reference


@transaction.atomic
def report_send(*, report_id, actor, sent_at: datetime, centif_reference: str) -> SuspiciousActivityReport:
    """Record that an approved report was sent to CENTIF (when, and CENTIF's reference); audit it.

    Needs `cases.approve_report`. `sent_at` may not be in the future nor on a
    day before the approval; a reference names one report only.
    """
    _require(actor, APPROVE_PERMISSION, gettext("Vous n'avez pas le droit de transmettre une déclaration CENTIF."))
    reference = _reference_clean(centif_reference)
    if not isinstance(sent_at, datetime):
        raise ReportInvalid(gettext("La date de transmission est obligatoire."))
    if timezone.is_naive(sent_at):
        sent_at = timezone.make_aware(sent_at, DAKAR)
    report = _locked_report(report_id)
    if report.status != SuspiciousActivityReport.Status.APPROVED:
        raise _state_refusal(report, gettext("Transmission impossible."))
    if sent_at > timezone.now() + SENT_CLOCK_SKEW:
        raise ReportInvalid(gettext("La date de transmission ne peut pas être dans le futur."))
    if timezone.localtime(sent_at, DAKAR).date() < timezone.localtime(report.approved_at, DAKAR).date():
        raise ReportInvalid(
            gettext("La date de transmission ne peut pas précéder l'approbation (%(when)s).")
            % {"when": _local_text(report.approved_at)}
        )
    if SuspiciousActivityReport.objects.filter(centif_reference=reference).exclude(pk=report.pk).exists():
        raise ReportInvalid(
            gettext("La référence CENTIF %(ref)s est déjà celle d'une autre déclaration.") % {"ref": reference}
        )
    report.status = SuspiciousActivityReport.Status.SENT
    report.sent_at = sent_at
    report.centif_reference = reference
    report.save(update_fields=["status", "sent_at", "centif_reference"])
    action_record(
        actor=actor,
        action=AnalystAction.Action.REPORT_SEND,
        target=report,
        before={"status": SuspiciousActivityReport.Status.APPROVED},
        after={
            "status": report.status,
            "sent_at": _iso(sent_at),
            "centif_reference": reference,
            "facts_sha256": facts_fingerprint(report.facts),
        },
    )
    return report


DOWNLOAD_FORMATS = ("pdf", "json")


@transaction.atomic
def report_download_record(*, report: SuspiciousActivityReport, actor, file_format: str) -> AnalystAction:
    """Audit that `actor` downloaded the report as PDF or JSON (who read a report is a compliance fact)."""
    if file_format not in DOWNLOAD_FORMATS:
        raise ValueError(f"file_format must be one of {DOWNLOAD_FORMATS}, not {file_format!r}")
    return action_record(
        actor=actor,
        action=AnalystAction.Action.REPORT_DOWNLOAD,
        target=report,
        after={"format": file_format, "status": report.status, "facts_sha256": facts_fingerprint(report.facts)},
    )
