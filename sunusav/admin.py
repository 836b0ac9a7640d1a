"""Admin pages for the core domain: members (the member risk page), money movements, the held-payments
work queue and the analysts' audit trail."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import numpy as np
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.db.models import Count, F, Q, Sum
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.timesince import timesince
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from sunusav import models
from sunusav.admin_utils import CappedCountPaginator, ReadOnlyAdminMixin

# Bounds on what one click may do or one page may show.
RESCORE_MAX = 200
REVIEW_MAX = 200
PAGE_ROWS = 20
HISTORY_POINTS = 60


# --- The member risk page ------------------------------------------------------------------------


def _member_explanation(member: models.Member) -> dict | None:
    """The member's explanation (as `GET /api/credit/members/<id>/explanation` gives it) in the page's language."""
    from django.utils.translation import get_language

    from credit.explain import member_explanation

    explanation = member_explanation(member_id=member.pk)
    if explanation is None:
        return None
    lang = "en" if (get_language() or "fr").startswith("en") else "fr"
    cf = explanation["counterfactual"]
    return {
        "message": explanation["message"][lang],
        "target_band": explanation["target_band"],
        "changes": [change[lang] for change in cf["changes"]] if cf else [],
        "new_score": cf["new_score"] if cf else None,
        "new_band": cf["new_band"] if cf else None,
    }


def sparkline(values: list[float], *, width: int = 260, height: int = 56, pad: int = 4) -> dict | None:
    """Return the coordinates of an inline SVG sparkline of scores in [0, 1] (drawn by the template)."""
    if not values:
        return None
    from credit.scoring import DECISION_THRESHOLD

    def y(v: float) -> float:
        return pad + (1 - min(max(v, 0.0), 1.0)) * (height - 2 * pad)

    step = (width - 2 * pad) / max(len(values) - 1, 1)
    points = [(pad + i * step, y(v)) for i, v in enumerate(values)]
    return {
        "width": width,
        "height": height,
        "points": " ".join(f"{px:.1f},{py:.1f}" for px, py in points),
        "last_x": f"{points[-1][0]:.1f}",
        "last_y": f"{points[-1][1]:.1f}",
        "threshold_y": f"{y(DECISION_THRESHOLD):.1f}",
        "threshold": DECISION_THRESHOLD,
        "min": min(values),
        "max": max(values),
        "count": len(values),
    }


def _with_amount(payment: models.Payment) -> models.Payment:
    from alerts.admin import sats_and_xof

    payment.amount_display = sats_and_xof(payment.amount_sats)
    return payment


def member_risk(member: models.Member) -> dict:
    """Return what the member risk page shows, in a bounded number of indexed queries."""
    from alerts.admin import reason_texts, sats_and_xof
    from alerts.models import AIAlert, AIMetric
    from credit.features import FEATURES, WINDOW_DAYS, features_for_members
    from credit.scoring import bands_of
    from credit.services import SCORE_KEY

    history = list(
        AIMetric.objects.filter(user=member, metric_key=SCORE_KEY)
        .order_by("-created_at")
        .values_list("created_at", "metric_value", "meta")[:HISTORY_POINTS]
    )
    history.reverse()
    latest = history[-1] if history else None
    meta = (latest[2] or {}) if latest else {}
    score = member.credit_score if member.credit_score is not None else (latest[1] if latest else None)
    band = meta.get("band") or (bands_of(np.array([float(score)]))[0] if score is not None else None)
    values = [float(v) for _, v, _ in history if v is not None]

    features = dict(zip(FEATURES, (float(v) for v in features_for_members([member.pk])[0]), strict=True))
    now = timezone.now()
    totals = models.Contribution.objects.filter(member=member, due_at__lte=now).aggregate(
        due=Count("id"),
        paid=Count("id", filter=Q(paid_at__isnull=False)),
        on_time=Count("id", filter=Q(paid_at__isnull=False, paid_at__lte=F("due_at"))),
        unpaid=Count("id", filter=Q(paid_at__isnull=True)),
        paid_sats=Sum("amount_sats", filter=Q(paid_at__isnull=False)),
    )
    totals["late"] = totals["paid"] - totals["on_time"]
    totals["on_time_share"] = round(100 * totals["on_time"] / totals["due"]) if totals["due"] else None

    return {
        "score": score,
        "band": band,
        "updated_at": member.credit_score_updated_at or (latest[0] if latest else None),
        "model_version": meta.get("model_version"),
        "confidence": meta.get("confidence"),
        "fallback": meta.get("fallback"),
        "reasons": reason_texts(meta.get("reasons")),
        "history": history,
        "sparkline": sparkline(values),
        "window_days": WINDOW_DAYS,
        "features": features,
        "punctuality_pct": round(100 * features["punctuality_rate"]),
        "contributed": sats_and_xof(features["tontine_contributions"]),
        "contributions": totals,
        "paid_all_time": sats_and_xof(totals["paid_sats"] or 0),
        "recent_contributions": list(
            models.Contribution.objects.filter(member=member).select_related("tontine").order_by("-due_at")[:PAGE_ROWS]
        ),
        "open_alerts": list(AIAlert.objects.filter(user=member, resolved=False).order_by("-created_at")[:PAGE_ROWS]),
        "holds": [
            _with_amount(p)
            for p in models.Payment.objects.filter(member=member, status=models.Payment.Status.HELD).order_by(
                "created_at"
            )[:PAGE_ROWS]
        ],
        "endorsements_given": list(
            models.Endorsement.objects.filter(endorser=member)
            .select_related("endorsee")
            .order_by("-created_at")[:PAGE_ROWS]
        ),
        "endorsements_received": list(
            models.Endorsement.objects.filter(endorsee=member)
            .select_related("endorser")
            .order_by("-created_at")[:PAGE_ROWS]
        ),
        "endorsements_given_count": models.Endorsement.objects.filter(endorser=member).count(),
        "endorsements_received_count": models.Endorsement.objects.filter(endorsee=member).count(),
    }


class MembershipInline(admin.TabularInline):
    model = models.Membership
    extra = 0
    raw_id_fields = ["member"]
    ordering = ["position"]


@admin.register(models.Member)
class MemberAdmin(admin.ModelAdmin):
    """The member risk page: score, history, contributions, alerts, holds, endorsements, rescore."""

    list_display = ["display_name", "region", "credit_score", "credit_score_updated_at", "created_at"]
    list_filter = ["region"]
    search_fields = ["display_name", "=id"]
    readonly_fields = ["id", "phone_hash", "credit_score", "credit_score_updated_at", "created_at"]
    paginator = CappedCountPaginator
    show_full_result_count = False
    actions = ["rescore"]
    change_form_template = "admin/sunusav/member/change_form.html"

    def has_rescore_permission(self, request):
        return request.user.has_perm("sunusav.rescore_member")

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["risk"] = member_risk(obj)
            context["explanation"] = _member_explanation(obj)
            context["can_rescore"] = self.has_rescore_permission(request)
            context["action_checkbox_name"] = helpers.ACTION_CHECKBOX_NAME
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    @admin.action(description=_("Recalculer le score (priorité haute)"), permissions=["rescore"])
    def rescore(self, request, queryset):
        members = list(queryset[: RESCORE_MAX + 1])
        if len(members) > RESCORE_MAX:
            self.message_user(
                request,
                gettext("Trop de membres sélectionnés (%(max)s au plus) : utilisez la commande score_users.")
                % {"max": RESCORE_MAX},
                messages.ERROR,
            )
            return None
        from credit.services import member_rescore

        for member in members:
            member_rescore(member=member, actor=request.user)
        self.message_user(
            request,
            ngettext(
                "Nouveau calcul du score demandé pour %(count)d membre (priorité haute).",
                "Nouveau calcul du score demandé pour %(count)d membres (priorité haute).",
                len(members),
            )
            % {"count": len(members)},
            messages.SUCCESS,
        )
        if len(members) == 1 and request.POST.get("_from_page"):
            return HttpResponseRedirect(reverse("admin:sunusav_member_change", args=[members[0].pk]))
        return None


@admin.register(models.Tontine)
class TontineAdmin(admin.ModelAdmin):
    list_display = ["name", "region", "cycle", "contribution_sats", "status", "started_at"]
    list_filter = ["cycle", "status", "region"]
    search_fields = ["name"]
    inlines = [MembershipInline]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            from sunusav.exposure import rotation_exposures

            context["exposure"] = rotation_exposures(tontine_ids=[obj.pk]).get(str(obj.pk))
            context["exposure_threshold"] = settings.LIQUIDITY_SHORTFALL_SHARE
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)


@admin.register(models.Contribution)
class ContributionAdmin(admin.ModelAdmin):
    list_display = ["member", "tontine", "round_number", "amount_sats", "due_at", "paid_at"]
    list_select_related = ["member", "tontine"]
    raw_id_fields = ["member", "tontine"]
    date_hierarchy = "due_at"
    paginator = CappedCountPaginator
    show_full_result_count = False


@admin.register(models.MobileMoneyTransfer)
class MobileMoneyTransferAdmin(admin.ModelAdmin):
    list_display = ["member", "provider", "direction", "amount_xof", "created_at"]
    list_filter = ["provider", "direction"]
    list_select_related = ["member"]
    raw_id_fields = ["member"]
    paginator = CappedCountPaginator
    show_full_result_count = False


@admin.register(models.Endorsement)
class EndorsementAdmin(admin.ModelAdmin):
    list_display = ["endorser", "endorsee", "created_at"]
    list_select_related = ["endorser", "endorsee"]
    raw_id_fields = ["endorser", "endorsee"]
    paginator = CappedCountPaginator
    show_full_result_count = False


@admin.register(models.Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = ["id", "member", "kind", "amount_sats", "status", "created_at"]
    list_filter = ["status", "kind"]
    list_select_related = ["member"]
    search_fields = ["=id", "=member__id"]
    raw_id_fields = ["member"]
    readonly_fields = ["is_fraud_label", "fraud_pattern"]
    paginator = CappedCountPaginator
    show_full_result_count = False


# --- The held-payments work queue --------------------------------------------------------------


class HeldPaymentChangeList(ChangeList):
    """Attach each listed payment's fraud alert (score, reasons, model) in one indexed query per page."""

    def get_results(self, request):
        super().get_results(request)
        attach_fraud_alerts(self.result_list)


def attach_fraud_alerts(payments) -> None:
    from django.db.models import TextField
    from django.db.models.fields.json import KeyTextTransform
    from django.db.models.functions import Cast

    from alerts.models import AIAlert, AlertType

    ids = [str(p.pk) for p in payments]
    alerts = (
        AIAlert.objects.annotate(alert_payment_id=Cast(KeyTextTransform("payment_id", "payload"), TextField()))
        .filter(alert_type=AlertType.FRAUD_SUSPECT, alert_payment_id__in=ids)
        .only("id", "payload", "resolved", "resolved_at")
    )
    by_payment = {alert.alert_payment_id: alert for alert in alerts}
    for payment in payments:
        payment.fraud_alert = by_payment.get(str(payment.pk))


class ReviewForm(forms.Form):
    reason = forms.CharField(
        label=_("Motif"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Obligatoire : pourquoi ce paiement est libéré ou rejeté."),
    )


REVIEW_VERBS = {"release": _("Libérer"), "reject": _("Rejeter")}
REVIEW_DONE = {
    "release": lambda n: ngettext("%(count)d paiement libéré.", "%(count)d paiements libérés.", n),
    "reject": lambda n: ngettext("%(count)d paiement rejeté.", "%(count)d paiements rejetés.", n),
}


def not_held_message(payment_id, exc) -> str:
    from alerts.admin import when_text

    status = dict(models.Payment.Status.choices).get(exc.status, exc.status)
    if exc.reviewed_by:
        return gettext("Paiement %(payment)s déjà %(status)s par %(who)s %(when)s : rien n'a été modifié.") % {
            "payment": str(payment_id)[:8],
            "status": status,
            "who": exc.reviewed_by,
            "when": when_text(exc.reviewed_at),
        }
    return gettext("Paiement %(payment)s n'est plus retenu (%(status)s) : rien n'a été modifié.") % {
        "payment": str(payment_id)[:8],
        "status": status,
    }


EXPIRY_SOON = dt.timedelta(minutes=5)


def expiry_text(expires_at, *, now=None) -> str:
    """Return "expire dans 12 min", "expiré", or "—" for a payment without an expiry (not an invoice)."""
    if expires_at is None:
        return "—"
    seconds = (expires_at - (now or timezone.now())).total_seconds()
    if seconds <= 0:
        return gettext("expiré")
    minutes = int(seconds // 60)
    if minutes < 1:
        return gettext("expire dans moins d'une minute")
    if minutes < 60:
        return gettext("expire dans %(minutes)s min") % {"minutes": minutes}
    if minutes < 48 * 60:
        return gettext("expire dans %(hours)s h %(minutes)02d") % {"hours": minutes // 60, "minutes": minutes % 60}
    return gettext("expire dans %(days)s j") % {"days": minutes // (24 * 60)}


@admin.register(models.HeldPayment)
class HeldPaymentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Held payments, oldest first: release or reject each with a reason (`fraud.services.payment_review`)."""

    list_display = ["created", "expiry", "member_link", "amount", "kind", "fraud_score", "reasons"]
    list_display_links = ["created"]
    list_select_related = ["member"]
    list_filter = ["kind", "created_at"]
    search_fields = ["member__display_name"]  # and ids: get_search_results
    search_help_text = _("Nom du membre, identifiant du membre ou du paiement.")
    ordering = ["created_at"]
    paginator = CappedCountPaginator
    show_full_result_count = False
    list_per_page = 50
    actions = ["release", "reject"]
    change_form_template = "admin/sunusav/heldpayment/change_form.html"
    change_list_template = "admin/sunusav/heldpayment/change_list.html"
    fields = ["id", "member_link", "amount", "kind", "status", "created_at", "expiry", "device_id", "location"]
    readonly_fields = fields

    # A held payment is a payment: seeing one takes `view_payment`, acting `review_payment`.
    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("sunusav.view_payment") or request.user.has_perm("sunusav.review_payment")

    def has_review_permission(self, request):
        return request.user.has_perm("sunusav.review_payment")

    def get_changelist(self, request, **kwargs):
        return HeldPaymentChangeList

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            ident = uuid.UUID(term)
        except ValueError:
            return queryset.filter(member__display_name__icontains=term), False
        return queryset.filter(Q(pk=ident) | Q(member_id=ident)), False

    # --- columns

    @admin.display(description=_("date / attente"), ordering="created_at")
    def created(self, obj):
        return format_html(
            "{}<br><small>{}</small>",
            date_format(timezone.localtime(obj.created_at), "SHORT_DATETIME_FORMAT"),
            gettext("depuis %(duration)s") % {"duration": timesince(obj.created_at)},
        )

    @admin.display(description=_("expiration"), ordering="expires_at")
    def expiry(self, obj):
        """Time left before the invoice (and so the hold) expires; highlighted under 5 minutes."""
        text = expiry_text(obj.expires_at)
        if obj.expires_at is None:
            return text
        left = obj.expires_at - timezone.now()
        css = "risk-expiry-past" if left.total_seconds() <= 0 else "risk-expiry-soon" if left < EXPIRY_SOON else ""
        when = date_format(timezone.localtime(obj.expires_at), "SHORT_DATETIME_FORMAT")
        return format_html('<span class="risk-expiry {}" title="{}">{}</span>', css, when, text)

    @admin.display(description=_("en attente depuis"))
    def waiting(self, obj):
        return timesince(obj.created_at)

    @admin.display(description=_("membre"), ordering="member__display_name")
    def member_link(self, obj):
        from alerts.admin import member_link

        return member_link(obj.member)

    @admin.display(description=_("montant"), ordering="amount_sats")
    def amount(self, obj):
        from alerts.admin import sats_and_xof

        return sats_and_xof(obj.amount_sats)

    def _alert(self, obj):
        if not hasattr(obj, "fraud_alert"):
            attach_fraud_alerts([obj])
        return obj.fraud_alert

    @admin.display(description=_("score de fraude / modèle"))
    def fraud_score(self, obj):
        alert = self._alert(obj)
        payload = (alert.payload or {}) if alert else {}
        if payload.get("fraud_score") is None:
            return "—"
        return format_html(
            '<a href="{}"><strong>{}</strong></a><br><small>{}</small>',
            reverse("admin:alerts_aialert_change", args=[alert.pk]),
            f"{float(payload['fraud_score']):.3f}",
            payload.get("model_version") or "—",
        )

    @admin.display(description=_("motifs"))
    def reasons(self, obj):
        from alerts.admin import reasons_html

        alert = self._alert(obj)
        return reasons_html((alert.payload or {}).get("reasons")) if alert else "—"

    @admin.display(description=_("modèle"))
    def model_version(self, obj):
        alert = self._alert(obj)
        return ((alert.payload or {}).get("model_version") if alert else None) or "—"

    # --- the detail page

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "GET" and self.get_object(request, unquote(object_id)) is None:
            # No longer held: say who acted on it rather than "does not exist".
            try:
                payment = models.Payment.objects.filter(pk=unquote(object_id)).first()
            except ValidationError:
                payment = None
            if payment is not None and self.has_view_permission(request):
                from fraud.services import PaymentNotHeld

                last = (
                    models.AnalystAction.objects.filter(
                        target_type="payment", target_id=str(payment.pk), action__in=["release", "reject"]
                    )
                    .select_related("actor")
                    .first()
                )
                exc = PaymentNotHeld(
                    status=payment.status,
                    reviewed_by=last.actor.get_username() if last and last.actor else "",
                    reviewed_at=last.created_at if last else None,
                )
                self.message_user(request, not_held_message(payment.pk, exc), messages.WARNING)
                return HttpResponseRedirect(reverse("admin:sunusav_heldpayment_changelist"))
        return super().change_view(request, object_id, form_url, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            from alerts.admin import decision_label, reason_texts

            alert = self._alert(obj)
            payload = (alert.payload or {}) if alert else {}
            context["fraud_alert"] = alert
            context["fraud"] = {
                "score": payload.get("fraud_score"),
                "decision": decision_label(payload.get("decision")),
                "reasons": reason_texts(payload.get("reasons")),
                "model_version": payload.get("model_version"),
                "fallback": payload.get("fallback"),
                "features": sorted((payload.get("features") or {}).items()),
            }
            context["recent_payments"] = [
                _with_amount(p)
                for p in models.Payment.objects.filter(member_id=obj.member_id)
                .exclude(pk=obj.pk)
                .order_by("-created_at")[:PAGE_ROWS]
            ]
            if self.has_review_permission(request):
                context["review_form"] = ReviewForm()
                context["action_checkbox_name"] = helpers.ACTION_CHECKBOX_NAME
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    # --- release / reject

    @admin.action(description=_("Libérer les paiements sélectionnés…"), permissions=["review"])
    def release(self, request, queryset):
        return self._review(request, queryset, "release")

    @admin.action(description=_("Rejeter les paiements sélectionnés…"), permissions=["review"])
    def reject(self, request, queryset):
        return self._review(request, queryset, "reject")

    def _review(self, request, queryset, action: str):
        from fraud.services import PaymentNotHeld, payment_review

        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        if selected and request.POST.get("select_across") not in ("1", "True", "on"):
            # The analyst's own choice, including payments someone released
            # meanwhile (they left the queue): those are reported, never redone.
            try:
                ids = list(
                    models.Payment.objects.filter(pk__in=selected).order_by("created_at").values_list("pk", flat=True)
                )
            except ValidationError:
                ids = []
        else:
            ids = list(queryset.order_by("created_at").values_list("pk", flat=True)[: REVIEW_MAX + 1])
        if len(ids) > REVIEW_MAX:
            self.message_user(
                request,
                gettext("Trop de paiements sélectionnés (%(max)s au plus).") % {"max": REVIEW_MAX},
                messages.ERROR,
            )
            return None
        if not ids:
            return None
        verb = REVIEW_VERBS[action]
        if "apply" in request.POST:
            form = ReviewForm(request.POST)
            if form.is_valid():
                done = 0
                for payment_id in ids:
                    try:
                        payment_review(
                            payment_id=payment_id, action=action, actor=request.user, reason=form.cleaned_data["reason"]
                        )
                    except PaymentNotHeld as exc:
                        self.message_user(request, not_held_message(payment_id, exc), messages.WARNING)
                    else:
                        done += 1
                if done:
                    self.message_user(request, REVIEW_DONE[action](done) % {"count": done}, messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:sunusav_heldpayment_changelist"))
        else:
            form = ReviewForm()
        payments = [_with_amount(p) for p in models.Payment.objects.filter(pk__in=ids).select_related("member")]
        attach_fraud_alerts(payments)
        from alerts.admin import reason_texts

        for payment in payments:
            payload = (payment.fraud_alert.payload or {}) if payment.fraud_alert else {}
            payment.fraud_score_value = payload.get("fraud_score")
            payment.reason_list = reason_texts(payload.get("reasons"))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("%(verb)s des paiements retenus") % {"verb": verb},
            "subtitle": None,
            "opts": self.opts,
            "payments": payments,
            "form": form,
            "verb": verb,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action_name": action,
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/sunusav/heldpayment/review_confirmation.html", context)


@admin.register(models.Loan)
class LoanAdmin(admin.ModelAdmin):
    list_display = ["member", "offered_amount_xof", "status", "offered_at", "closed_at"]
    list_filter = ["status"]
    list_select_related = ["member"]
    raw_id_fields = ["member"]
    paginator = CappedCountPaginator
    show_full_result_count = False


# --- The analysts' audit trail ------------------------------------------------------------------


def _admin_url_of(target_type: str, target_id: str) -> str | None:
    from django.apps import apps
    from django.urls import NoReverseMatch

    for model in apps.get_models():
        if model._meta.model_name == target_type:
            try:
                return reverse(f"admin:{model._meta.app_label}_{target_type}_change", args=[target_id])
            except NoReverseMatch:
                return None
    return None


@admin.register(models.AnalystAction)
class AnalystActionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Who did what, when, before and after: read-only for everyone, written only by services."""

    list_display = ["created_at", "actor", "action", "target", "short_note", "request_id"]
    list_filter = ["action", ("actor", admin.RelatedOnlyFieldListFilter), "created_at", "target_type"]
    list_select_related = ["actor"]
    search_fields = ["=target_id", "=request_id", "actor__username"]
    search_help_text = _("Identifiant de l'objet ou de la requête, nom de l'analyste.")
    date_hierarchy = "created_at"
    paginator = CappedCountPaginator
    show_full_result_count = False
    fields = ["created_at", "actor", "action", "target", "before_json", "after_json", "note", "request_id"]
    readonly_fields = fields

    @admin.display(description=_("objet"), ordering="target_type")
    def target(self, obj):
        url = _admin_url_of(obj.target_type, obj.target_id)
        label = f"{obj.target_type} {obj.target_id}"
        return format_html('<a href="{}">{}</a>', url, label) if url else label

    @admin.display(description=_("note"))
    def short_note(self, obj):
        return obj.note if len(obj.note) <= 80 else obj.note[:79] + "…"

    @admin.display(description=_("avant"))
    def before_json(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.before, indent=2, ensure_ascii=False, sort_keys=True))

    @admin.display(description=_("après"))
    def after_json(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.after, indent=2, ensure_ascii=False, sort_keys=True))


admin.site.site_header = _("SunuSàv · Risques")
admin.site.site_title = _("SunuSàv Risques")
admin.site.index_title = _("Back-office des risques")

from sunusav import admin_models  # noqa: E402,F401  (registers the model-version pages)
