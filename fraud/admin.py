"""Admin pages of fraud: payments and the held-payments work queue (release or reject, `fraud.services.payment_review`)."""

from __future__ import annotations

import datetime as dt
import uuid

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.db.models import Q, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.timesince import timesince
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from alerts import payloads
from alerts.models import AIAlert, AlertType
from alerts.payloads import AlertPayload
from fraud.services import PaymentNotHeld, payment_review
from sunusav import models, presenters
from sunusav.admin_queue import WorkQueueAdminMixin
from sunusav.admin_utils import (
    CappedCountPaginator,
    ConfirmedBulkAction,
    FrenchTitlesMixin,
    ReadableFieldsMixin,
    ReadOnlyAdminMixin,
)
from sunusav.csv_export import CsvExportMixin
from sunusav.presenters import (
    decision_badge,
    decision_label,
    features_text,
    label_of,
    number_text,
    reason_texts,
    reasons_short_html,
    sats_and_xof,
    when_text,
)
from sunusav.search import AccentInsensitiveSearchMixin

REVIEW_MAX = 200
PAGE_ROWS = 20


def _with_amount(payment: models.Payment) -> models.Payment:
    payment.amount_display = sats_and_xof(payment.amount_sats)
    return payment


# The demo world's ground truth (`Payment.is_fraud_label`, `fraud_pattern`) is for evaluating the
# models, never for deciding on a payment: an analyst who saw it would be judging with the answer.
GROUND_TRUTH_FIELDS = ("is_fraud_label", "fraud_pattern", "segment")
GROUND_TRUTH_DISPLAY = ["ground_truth_label", "ground_truth_pattern"]


def ground_truth_visible(request) -> bool:
    """Whether this request may see the demo's ground truth: DEBUG on and a superuser, nobody else."""
    user = getattr(request, "user", None)
    return bool(settings.DEBUG and user is not None and user.is_active and user.is_superuser)


def payment_title(payment: models.Payment) -> str:
    """Return "7 371 sats (4 423 XOF) · retenu"."""
    return f"{sats_and_xof(payment.amount_sats)} · {payment.get_status_display()}"


class GroundTruthMixin:
    """Show the demo's ground truth read-only to superusers with DEBUG on; to nobody else, anywhere."""

    def get_exclude(self, request, obj=None):
        return [*(super().get_exclude(request, obj) or []), *GROUND_TRUTH_FIELDS]  # never typed in

    def get_fields(self, request, obj=None):
        fields = [f for f in super().get_fields(request, obj) if f not in (*GROUND_TRUTH_FIELDS, *GROUND_TRUTH_DISPLAY)]
        return [*fields, *GROUND_TRUTH_DISPLAY] if ground_truth_visible(request) else fields

    def get_readonly_fields(self, request, obj=None):
        fields = [f for f in super().get_readonly_fields(request, obj) if f not in GROUND_TRUTH_DISPLAY]
        return [*fields, *GROUND_TRUTH_DISPLAY] if ground_truth_visible(request) else fields

    def lookup_allowed(self, lookup, value, request=None):
        # Django lets any local field be filtered from the address bar (?is_fraud_label__exact=1):
        # that would sort the queue by the answer key. Refused (400) to whoever may not see it.
        if lookup.split("__", 1)[0] in GROUND_TRUTH_FIELDS and not ground_truth_visible(request):
            return False
        return super().lookup_allowed(lookup, value, request)

    @admin.display(description=_("fraude (vérité terrain)"), boolean=True)
    def ground_truth_label(self, obj):
        return obj.is_fraud_label

    @admin.display(description=_("motif de fraude (démo)"))
    def ground_truth_pattern(self, obj):
        return label_of("fraud_pattern", obj.fraud_pattern) if obj.fraud_pattern else "—"


@admin.register(models.Payment)
class PaymentAdmin(
    AccentInsensitiveSearchMixin, GroundTruthMixin, FrenchTitlesMixin, ReadableFieldsMixin, admin.ModelAdmin
):
    list_display = ["id", "member", "kind", "amount", "status", "created_at"]
    readable_fields = {"amount_sats": "amount"}
    list_filter = ["status", "kind"]
    list_select_related = ["member"]
    search_fields = ["=id", "=member__id", "member__display_name"]
    raw_id_fields = ["member"]
    paginator = CappedCountPaginator
    show_full_result_count = False

    def object_subtitle(self, obj):
        return payment_title(obj)

    @admin.display(description=_("montant"), ordering="amount_sats")
    def amount(self, obj):
        return sats_and_xof(obj.amount_sats)


# --- The held-payments work queue --------------------------------------------------------------


class HeldPaymentChangeList(ChangeList):
    """Attach each listed payment's fraud alert (score, reasons, model) in one indexed query per page."""

    def get_results(self, request):
        super().get_results(request)
        attach_fraud_alerts(self.result_list)


def attach_fraud_alerts(payments) -> None:
    ids = [str(p.pk) for p in payments]
    alerts = (
        AIAlert.objects.annotate(alert_payment_id=Cast(KeyTextTransform(payloads.PAYMENT_ID, "payload"), TextField()))
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


REVIEW_ACTIONS = {
    action: ConfirmedBulkAction(
        name=action,
        cap=REVIEW_MAX,
        too_many=_("Trop de paiements sélectionnés (%(max)s au plus)."),
        form_class=ReviewForm,
        columns=[_("date"), _("membre"), _("montant"), _("statut"), _("score de fraude"), _("motifs")],
        form_css="risk-review-form",
    )
    for action in REVIEW_VERBS
}


def not_held_message(payment_id, exc) -> str:
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
class HeldPaymentAdmin(
    CsvExportMixin,
    WorkQueueAdminMixin,
    AccentInsensitiveSearchMixin,
    GroundTruthMixin,
    FrenchTitlesMixin,
    ReadOnlyAdminMixin,
    admin.ModelAdmin,
):
    """Held payments, oldest first: release or reject each with a reason (`fraud.services.payment_review`)."""

    csv_fields = [
        (_("identifiant"), "id"),
        (_("date"), "created_at"),
        (_("expire le"), "expires_at"),
        (_("membre"), "member__display_name"),
        (_("identifiant du membre"), "member_id"),
        (_("montant (sats)"), "amount_sats"),
        (_("type"), "kind"),
        (_("statut"), "status"),
        (_("appareil"), "device_id"),
        (_("lieu"), "location"),
    ]

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

    def object_subtitle(self, obj):
        return payment_title(obj)

    def get_changelist(self, request, **kwargs):
        return HeldPaymentChangeList

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            ident = uuid.UUID(term)
        except ValueError:
            return super().get_search_results(request, queryset, term)
        return queryset.filter(Q(pk=ident) | Q(member_id=ident)), False

    # --- columns

    @admin.display(description=_("date"), ordering="created_at")
    def created(self, obj):
        # The wait in the title: the expiry column says what is urgent, and the row stays one line.
        return format_html(
            '<span title="{}">{}</span>',
            gettext("depuis %(duration)s") % {"duration": timesince(obj.created_at)},
            date_format(timezone.localtime(obj.created_at), "SHORT_DATETIME_FORMAT"),
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
        return presenters.member_link(obj.member)

    @admin.display(description=_("montant"), ordering="amount_sats")
    def amount(self, obj):
        return sats_and_xof(obj.amount_sats)

    def _alert(self, obj):
        if not hasattr(obj, "fraud_alert"):
            attach_fraud_alerts([obj])
        return obj.fraud_alert

    # The list fits 1366 px: the score as a number and the decision as a badge (the model version is
    # on the payment's page), one short reason with every sentence in its title.
    @admin.display(description=_("score de fraude"))
    def fraud_score(self, obj):
        alert = self._alert(obj)
        payload = AlertPayload.of(alert.payload if alert else None)
        if payload.fraud_score is None:
            return "—"
        return format_html(
            '<a href="{}"><strong>{}</strong></a> {}',
            reverse("admin:alerts_aialert_change", args=[alert.pk]),
            number_text(float(payload.fraud_score), decimals=3),
            decision_badge(payload.decision),
        )

    @admin.display(description=_("motifs"))
    def reasons(self, obj):
        alert = self._alert(obj)
        return reasons_short_html(AlertPayload.of(alert).reasons) if alert else "—"

    @admin.display(description=_("modèle"))
    def model_version(self, obj):
        alert = self._alert(obj)
        return (AlertPayload.of(alert).model_version if alert else None) or "—"

    # --- the detail page

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "GET" and self.get_object(request, unquote(object_id)) is None:
            # No longer held: say who acted on it rather than "does not exist".
            try:
                payment = models.Payment.objects.filter(pk=unquote(object_id)).first()
            except ValidationError:
                payment = None
            if payment is not None and self.has_view_permission(request):
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
                return HttpResponseRedirect(self.queue_list_url(request))
        return super().change_view(request, object_id, form_url, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            alert = self._alert(obj)
            payload = AlertPayload.of(alert.payload if alert else None)
            context["fraud_alert"] = alert
            context["fraud"] = {
                "score": payload.fraud_score,
                "decision": decision_label(payload.decision),
                "reasons": reason_texts(payload.reasons),
                "model_version": payload.model_version,
                "fallback": payload.fallback,
                "features": features_text(payload.features),
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
        # Ticked payments are taken from all payments: one released meanwhile left the queue, and is reported.
        payments = REVIEW_ACTIONS[action].selection(
            self,
            request,
            queryset.select_related("member"),
            ticked_from=models.Payment.objects.select_related("member"),
            order_by=("created_at",),
        )
        if not payments:
            return None
        attach_fraud_alerts(payments)
        for payment in payments:
            _with_amount(payment)
            payload = AlertPayload.of(payment.fraud_alert.payload if payment.fraud_alert else None)
            payment.fraud_score_value = payload.fraud_score
            payment.reason_list = reason_texts(payload.reasons)
        verb = REVIEW_VERBS[action]
        return REVIEW_ACTIONS[action].confirm(
            self,
            request,
            payments,
            cells=lambda p: [
                date_format(timezone.localtime(p.created_at), "SHORT_DATETIME_FORMAT"),
                p.member.display_name,
                p.amount_display,
                p.get_status_display(),
                "—" if p.fraud_score_value is None else number_text(float(p.fraud_score_value), decimals=3),
                " ; ".join(p.reason_list),
            ],
            apply=lambda rows, data: self._review_all(request, rows, action, data["reason"]),
            title=gettext("%(verb)s des paiements retenus") % {"verb": verb},
            submit=verb,
        )

    def _review_all(self, request, payments, action: str, reason: str):
        done = 0
        for payment in payments:
            try:
                payment_review(payment_id=payment.pk, action=action, actor=request.user, reason=reason)
            except PaymentNotHeld as exc:
                self.message_user(request, not_held_message(payment.pk, exc), messages.WARNING)
            else:
                done += 1
        if done:
            self.message_user(request, REVIEW_DONE[action](done) % {"count": done}, messages.SUCCESS)
        # Back to the list as it was filtered (the page's form and the bulk action both post to it).
        return HttpResponseRedirect(request.get_full_path())


from fraud import admin_rules  # noqa: E402,F401  (the fraud rules' and lists' pages, issue 15)
