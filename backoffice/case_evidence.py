"""What a case's page shows: its items with their facts, and the evidence about its member or tontine.

In the composition layer because the evidence crosses apps: the member's
credit band and history (credit), endorsements and rings, tontine roles and
rotation exposure (credit.exposure), beside the case's own fraud items.
Every read is bounded (items and lists capped, ring alerts through their
partial index), so a case page costs the same on a day-one database and on
one with a million alerts.
"""

from __future__ import annotations

import datetime as dt
from statistics import median

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext

from alerts.models import AIAlert, AlertType
from alerts.payloads import RING_KIND, AlertPayload
from alerts.services import OUTCOMES_BY_TYPE, Outcome
from backoffice.member_page import member_risk
from cases.models import Case, CaseItem
from cases.services import OUTCOMES_BY_KIND, needs_approval, sla_hours
from credit.exposure import rotation_exposures
from sunusav import models
from sunusav.presenters import decision_label, features_text, number_text, reason_texts, sats_and_xof

ITEMS_SHOWN = 100
HISTORY_SHOWN = 10
RINGS_SCANNED = 200


def time_left(case: Case, *, now=None) -> dict:
    """The SLA as the queue shows it: age, time left (negative when late), late or not."""
    now = now or timezone.now()
    end = case.closed_at or now
    left = case.due_at - end
    return {
        "age": end - case.opened_at,
        "left": left,
        "late": left.total_seconds() < 0,
        "due_at": case.due_at,
        "hours": sla_hours(kind=case.kind, severity=case.severity),
    }


def duration_text(delta: dt.timedelta) -> str:
    """ "2 j 4 h", "3 h 05", "12 min", whatever the sign (the caller says late or left)."""
    minutes = int(abs(delta.total_seconds()) // 60)
    if minutes >= 48 * 60:
        return gettext("%(days)d j %(hours)d h") % {"days": minutes // 1440, "hours": minutes % 1440 // 60}
    if minutes >= 60:
        return gettext("%(hours)d h %(minutes)02d") % {"hours": minutes // 60, "minutes": minutes % 60}
    return gettext("%(minutes)d min") % {"minutes": minutes}


def item_rows(case: Case) -> list[dict]:
    """The case's items, open first then by time: what each is, its money, decision and short reasons."""
    items = (
        CaseItem.objects.filter(case=case)
        .select_related("alert", "payment")
        .order_by("alert__resolved", "added_at", "pk")[:ITEMS_SHOWN]
    )
    rows = []
    for item in items:
        payload = AlertPayload.of(item.alert)
        payment = item.payment
        rows.append(
            {
                "item": item,
                "alert": item.alert,
                "payment": payment,
                "open": not item.alert.resolved,
                "amount": sats_and_xof(item.amount_sats),
                "payment_status": payment.get_status_display() if payment else "—",
                "held": payment is not None and payment.status == models.Payment.Status.HELD,
                "decision": decision_label(payload.decision)
                if item.alert.alert_type != AlertType.LIQUIDITY_SHORT
                else "—",
                "score": None if payload.fraud_score is None else number_text(float(payload.fraud_score), decimals=2),
                "reasons": reason_texts(payload.reasons),
                "features": features_text(payload.features),
                "outcome": outcome_label(payload.outcome) if payload.outcome else "",
                "outcomes": [(o, outcome_label(o)) for o in _item_outcomes(item.alert)],
                "created_at": payment.created_at if payment else item.alert.created_at,
                "device": payment.device_id if payment else "",
                "location": payment.location if payment else "",
            }
        )
    return rows


def outcome_label(outcome) -> str:
    """An alert's or a case's outcome in the page's language."""
    return str(dict(Outcome.choices).get(outcome, outcome))


def _item_outcomes(alert: AIAlert) -> tuple[str, ...]:
    return tuple(str(o) for o in OUTCOMES_BY_TYPE.get(alert.alert_type, ()))


def _rings_of(member_id) -> list[dict]:
    """Endorsement rings the member is in, from the ring alerts (no member of their own: a partial index)."""
    rings = []
    for alert in AIAlert.objects.filter(alert_type=AlertType.FRAUD_SUSPECT, user__isnull=True).order_by("-created_at")[
        :RINGS_SCANNED
    ]:
        payload = AlertPayload.of(alert).raw
        if payload.get("kind") == RING_KIND and str(member_id) in (payload.get("member_ids") or []):
            rings.append({"alert": alert, "size": payload.get("size"), "open": not alert.resolved})
    return rings


def _memberships(member: models.Member) -> list[dict]:
    """The member's tontines: seat, this round's recipient or not, and the tontine's rotation exposure."""
    now = timezone.now()
    seats = list(models.Membership.objects.filter(member=member).select_related("tontine").order_by("position"))
    exposures = rotation_exposures(now=now, tontine_ids=[s.tontine_id for s in seats]) if seats else {}
    sizes = dict(
        models.Membership.objects.filter(tontine_id__in=[s.tontine_id for s in seats])
        .values("tontine_id")
        .annotate(n=Count("pk"))
        .values_list("tontine_id", "n")
    )
    rows = []
    for seat in seats:
        tontine = seat.tontine
        size = sizes.get(tontine.pk) or 0
        round_number, _ = tontine.current_round(now)
        recipient_position = (round_number - 1) % size + 1 if size else None
        exposure = exposures.get(str(tontine.pk)) or {}
        owed = next((r for r in exposure.get("recipients", []) if r["member_id"] == str(member.pk)), None)
        rows.append(
            {
                "tontine": tontine,
                "position": seat.position,
                "size": size,
                "round": round_number,
                "collects_now": recipient_position == seat.position,
                "already_paid_out": owed is not None,
                "owed": sats_and_xof(owed["owed_sats"]) if owed else None,
                "exposure": sats_and_xof(exposure.get("exposure_sats")) if exposure else "—",
                "exposure_share": exposure.get("exposure_share"),
            }
        )
    return rows


def _history(case: Case) -> list[Case]:
    subject = {"member_id": case.member_id} if case.kind == Case.Kind.FRAUD else {"tontine_id": case.tontine_id}
    return list(
        Case.objects.filter(kind=case.kind, **subject)
        .exclude(pk=case.pk)
        .select_related("decided_by")
        .order_by("-opened_at")[:HISTORY_SHOWN]
    )


def case_evidence(case: Case) -> dict:
    """Everything the case page shows beside its items, in a bounded number of queries."""
    evidence = {"history": _history(case), "sla": time_left(case)}
    if case.kind == Case.Kind.FRAUD and case.member_id:
        member = case.member
        risk = member_risk(member)
        evidence.update(
            {
                "member": member,
                "credit": {
                    "band": risk["band"],
                    "score": risk["score"],
                    "updated_at": risk["updated_at"],
                    "reasons": risk["reasons"][:3],
                    "punctuality_pct": risk["punctuality_pct"],
                    "contributions": risk["contributions"],
                    "contributed": risk["contributed"],
                },
                "endorsements_given": risk["endorsements_given_count"],
                "endorsements_received": risk["endorsements_received_count"],
                "rings": _rings_of(member.pk),
                "memberships": _memberships(member),
                "account_age_days": (timezone.now() - member.created_at).days if member.created_at else None,
            }
        )
    elif case.tontine_id:
        latest = CaseItem.objects.filter(case=case).select_related("alert").order_by("-added_at").first()
        projection = AlertPayload.of(latest.alert).raw if latest else {}
        exposure = rotation_exposures(tontine_ids=[case.tontine_id]).get(str(case.tontine_id)) or {}
        evidence.update(
            {
                "tontine": case.tontine,
                "projection": {
                    "round": projection.get("round"),
                    "payout_at": projection.get("payout_at"),
                    "expected": sats_and_xof(projection.get("expected_sats")),
                    "projected": sats_and_xof(projection.get("projected_sats")),
                    "shortfall": sats_and_xof(projection.get("shortfall_sats")),
                    "members_unpaid": projection.get("members_unpaid"),
                    "members": projection.get("members"),
                },
                "exposure": {
                    "exposure": sats_and_xof(exposure.get("exposure_sats")),
                    "owed": sats_and_xof(exposure.get("owed_by_recipients_sats")),
                    "share": exposure.get("exposure_share"),
                },
            }
        )
    return evidence


def case_outcomes(case: Case) -> list[tuple[str, str]]:
    return [(str(o), outcome_label(o)) for o in OUTCOMES_BY_KIND[case.kind]]


def four_eyes_applies(case: Case) -> bool:
    """Whether confirming fraud now would need approval (said on the decision form before it is sent)."""
    return needs_approval(case=case, outcome=Case.Outcome.CONFIRMED_FRAUD, exceptions={})


def cases_sla_summary(*, days: int = 14, now=None) -> dict:
    """The dashboard's figures: median time to decision and SLA breaches per day, over `days` days."""
    now = now or timezone.now()
    since = now - dt.timedelta(days=days)
    closed = list(
        Case.objects.filter(closed_at__gte=since, decided_by__isnull=False).values_list(
            "opened_at", "closed_at", "due_at"
        )
    )
    durations = [(c - o).total_seconds() for o, c, _ in closed]
    per_day: dict = {}
    for _, closed_at, due_at in closed:
        day = timezone.localtime(closed_at).date()
        per_day.setdefault(day, [0, 0])
        per_day[day][0] += 1
        per_day[day][1] += closed_at > due_at
    open_late = Case.objects.exclude(status=Case.Status.CLOSED).filter(due_at__lt=now).count()
    open_count = Case.objects.exclude(status=Case.Status.CLOSED).count()
    unowned = Case.objects.filter(status=Case.Status.NEW).count()
    days_rows = [
        {"day": day, "decided": decided, "late": late} for day, (decided, late) in sorted(per_day.items(), reverse=True)
    ]
    return {
        "median": duration_text(dt.timedelta(seconds=median(durations))) if durations else None,
        "decided": len(durations),
        "late_decisions": sum(1 for o, c, d in closed if c > d),
        "open": open_count,
        "open_late": open_late,
        "unowned": unowned,
        "days": days_rows,
        "window_days": days,
    }


def queue_counts(user) -> dict:
    """The queue header: open cases, mine, late, waiting for my approval."""
    open_cases = Case.objects.exclude(status=Case.Status.CLOSED)
    now = timezone.now()
    return open_cases.aggregate(
        open=Count("pk"),
        mine=Count("pk", filter=Q(owner=user)),
        late=Count("pk", filter=Q(due_at__lt=now)),
        approvals=Count("pk", filter=Q(status=Case.Status.PENDING_APPROVAL) & ~Q(proposed_by=user)),
        unowned=Count("pk", filter=Q(owner__isnull=True)),
    )
