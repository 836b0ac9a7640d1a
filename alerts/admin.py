"""Admin pages for alerts and metrics: the analysts' alert work queue.

Open alerts come first, newest first. Each payload is shown readably (score,
band or decision, reasons, amounts in sats and XOF, model version, payment).
Analysts resolve one alert (from its page) or many (the changelist action)
through an intermediate form asking for an outcome fitting the alerts' type and
a note; `alerts.services.alert_decide` does the work, one alert at a time (a fraud alert's held payment is rejected or released with it).
"""

from __future__ import annotations

import json
import uuid

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from alerts.models import AIAlert, AIMetric, AlertType
from alerts.payloads import AlertPayload
from alerts.services import OUTCOMES_BY_TYPE, AlertAlreadyResolved, InvalidResolution, Outcome, alert_decide
from sunusav.admin_queue import WorkQueueAdminMixin
from sunusav.admin_utils import CappedCountPaginator, ConfirmedBulkAction, FrenchTitlesMixin
from sunusav.csv_export import CsvExportMixin
from sunusav.models import Payment
from sunusav.presenters import (
    data_html,
    decision_badge,
    decision_label,
    features_html,
    label_of,
    labels_of,
    member_link,
    note_text,
    number_text,
    payment_url,
    reasons_html,
    reasons_short_html,
    sats_and_xof,
    when_text,
    xof_and_sats,
)
from sunusav.search import AccentInsensitiveSearchMixin

# More than this many alerts in one resolution is a mistake (select-all over the whole queue).
RESOLVE_MAX = 500


# Readable payloads: sunusav.presenters (shared with the held-payments queue and the member page).


def already_resolved_message(exc: AlertAlreadyResolved) -> str:
    return gettext("Alerte %(alert)s déjà résolue par %(who)s %(when)s : rien n'a été modifié.") % {
        "alert": str(exc.alert.pk)[:8],
        "who": exc.resolved_by or gettext("le système"),
        "when": when_text(exc.resolved_at),
    }


def _score(alert: AIAlert):
    payload = AlertPayload.of(alert)
    if alert.alert_type == AlertType.FRAUD_SUSPECT:
        return payload.fraud_score
    if alert.alert_type == AlertType.CREDIT_OFFER:
        return payload.score
    return None  # a liquidity alert has a shortfall, shown with its tontine


def _band(alert: AIAlert) -> str:
    payload = AlertPayload.of(alert)
    if alert.alert_type == AlertType.FRAUD_SUSPECT:
        return decision_label(payload.decision)
    if alert.alert_type == AlertType.CREDIT_OFFER:
        return gettext("bande %(band)s") % {"band": payload.band or "?"}
    share = payload.shortfall_share
    if share is None:
        return payload.tontine_name or ""
    return gettext("%(tontine)s, tour %(round)s : %(share)s %% manquant") % {
        "tontine": payload.tontine_name or "?",
        "round": payload.round or "?",
        "share": number_text(100 * float(share), decimals=1),
    }


def _amount(alert: AIAlert) -> str:
    payload = AlertPayload.of(alert)
    if alert.alert_type == AlertType.FRAUD_SUSPECT:
        return sats_and_xof(payload.amount_sats)
    if alert.alert_type == AlertType.CREDIT_OFFER:
        return xof_and_sats(payload.offered_amount_xof)
    return gettext("déficit %(amount)s") % {"amount": sats_and_xof(payload.shortfall_sats)}


def _fmt_score(value) -> str:
    if value is None:
        return "—"
    try:
        return number_text(float(value), decimals=3)
    except (TypeError, ValueError):
        return str(value)


def alert_title(alert: AIAlert) -> str:
    """Return "Fraude suspectée · 01/12/2026 21:34" (the page's date format, local time)."""
    if alert.created_at is None:
        return str(alert.get_alert_type_display())
    when = date_format(timezone.localtime(alert.created_at), "SHORT_DATETIME_FORMAT")
    return f"{alert.get_alert_type_display()} · {when}"


# --- Filters and forms --------------------------------------------------------------------------


class AlertStatusFilter(admin.SimpleListFilter):
    title = _("statut")
    parameter_name = "statut"

    def lookups(self, request, model_admin):
        return [("open", _("ouvertes")), ("resolved", _("résolues"))]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(Q(resolved=False) | Q(resolved__isnull=True))
        if self.value() == "resolved":
            return queryset.filter(resolved=True)
        return queryset


class ResolveForm(forms.Form):
    """An outcome (among those valid for every selected alert's type) and a required note."""

    outcome = forms.ChoiceField(label=_("Issue"))
    note = forms.CharField(
        label=_("Note"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Obligatoire : ce qui a été vérifié et pourquoi."),
    )

    def __init__(self, *args, outcomes: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        labels = dict(Outcome.choices)
        self.fields["outcome"].choices = [("", "---------")] + [(o, labels[o]) for o in outcomes]


RESOLVE_ACTION = ConfirmedBulkAction(
    name="resolve",
    cap=RESOLVE_MAX,
    too_many=_("Trop d'alertes sélectionnées (%(max)s au plus) : affinez les filtres."),
    form_class=ResolveForm,
    columns=[_("créée le"), _("type"), _("membre")],
    form_css="risk-resolve-form",
)


def outcomes_for(alert_types) -> list[str]:
    """Return the outcomes valid for every given alert type, in a stable order."""
    allowed = [o for o in Outcome.values if all(o in OUTCOMES_BY_TYPE.get(t, ()) for t in alert_types)]
    return allowed if alert_types else []


# --- The alert queue ------------------------------------------------------------------------------


@admin.register(AIAlert)
class AIAlertAdmin(
    CsvExportMixin, WorkQueueAdminMixin, AccentInsensitiveSearchMixin, FrenchTitlesMixin, admin.ModelAdmin
):
    csv_fields = [
        (_("identifiant"), "id"),
        (_("date de création"), "created_at"),
        (_("type d'alerte"), "alert_type"),
        (_("résolue"), "resolved"),
        (_("résolue le"), "resolved_at"),
        (_("membre"), "user__display_name"),
        (_("identifiant du membre"), "user_id"),
        (_("score"), _score),
        (_("décision"), lambda alert: AlertPayload.of(alert).decision),
        (_("montant (sats)"), lambda alert: AlertPayload.of(alert).amount_sats),
        (_("issue"), lambda alert: AlertPayload.of(alert).outcome),
    ]
    # One line per alert at 1366 px: a number, a badge, one short reason (the sentences and the
    # model version are on the alert's page).
    list_display = [
        "created",
        "status",
        "member",
        "score_number",
        "decision",
        "amount",
        "reason_short",
    ]
    list_display_links = ["created"]
    list_filter = ["alert_type", AlertStatusFilter, "created_at"]
    list_select_related = ["user"]
    search_fields = ["user__display_name"]
    search_help_text = _("Nom du membre, identifiant du membre ou de l'alerte.")
    ordering = ["resolved", "-created_at"]
    paginator = CappedCountPaginator
    show_full_result_count = False
    list_per_page = 50
    actions = ["resolve"]
    change_form_template = "admin/alerts/aialert/change_form.html"
    change_list_template = "admin/alerts/aialert/change_list.html"
    fieldsets = [
        (None, {"fields": ["alert_type", "member", "created_at", "state", "resolved_at"]}),
        (
            _("Détail"),
            {"fields": ["score", "band_or_decision", "amount", "reasons", "model_version", "payment", "features"]},
        ),
        (_("Résolution"), {"fields": ["outcome", "resolved_by", "resolution_note"]}),
        (_("Contenu brut"), {"classes": ["collapse"], "fields": ["payload_json"]}),
    ]
    readonly_fields = [
        "alert_type",
        "member",
        "created_at",
        "state",
        "resolved_at",
        "score",
        "band_or_decision",
        "amount",
        "reasons",
        "model_version",
        "payment",
        "features",
        "outcome",
        "resolved_by",
        "resolution_note",
        "payload_json",
    ]

    # Alerts come from the models and their payloads are the seed's columns:
    # nobody adds or edits them here; resolving goes through the action.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_resolve_permission(self, request):
        return request.user.has_perm("alerts.resolve_aialert")

    def object_subtitle(self, obj):
        return alert_title(obj)

    def get_search_results(self, request, queryset, search_term):
        # An id (of the alert or of its member) is an exact, indexed lookup;
        # anything else searches members' display names, accents and case ignored.
        try:
            ident = uuid.UUID(search_term.strip())
        except ValueError:
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(Q(pk=ident) | Q(user_id=ident)), False

    # --- columns

    @admin.display(description=_("créée le"), ordering="created_at")
    def created(self, obj):
        if obj.created_at is None:
            return "—"
        return date_format(timezone.localtime(obj.created_at), "SHORT_DATETIME_FORMAT")

    @admin.display(description=_("membre"), ordering="user__display_name")
    def member(self, obj):
        return member_link(obj.user)

    @admin.display(description=_("score"))
    def score_number(self, obj):
        return _fmt_score(_score(obj))

    @admin.display(description=_("décision / bande"))
    def decision(self, obj):
        if obj.alert_type == AlertType.FRAUD_SUSPECT:
            return decision_badge(AlertPayload.of(obj).decision)
        return format_html('<span class="risk-badge">{}</span>', _band(obj) or "—")

    @admin.display(description=_("motif"))
    def reason_short(self, obj):
        return reasons_short_html(AlertPayload.of(obj).reasons)

    @admin.display(description=_("score"))
    def score(self, obj):
        return _fmt_score(_score(obj))

    @admin.display(description=_("bande / décision"))
    def band_or_decision(self, obj):
        return _band(obj) or "—"

    @admin.display(description=_("montant"))
    def amount(self, obj):
        return _amount(obj)

    @admin.display(description=_("motifs"))
    def reasons(self, obj):
        return reasons_html(AlertPayload.of(obj).reasons)

    @admin.display(description=_("modèle"))
    def model_version(self, obj):
        payload = AlertPayload.of(obj)
        version = payload.model_version or "—"
        if payload.fallback:
            return format_html("{} <em>({})</em>", version, gettext("règles de secours"))
        return version

    @admin.display(description=_("statut"), ordering="resolved")
    def state(self, obj):
        if not obj.resolved:
            return format_html('<strong class="risk-open">{}</strong>', gettext("ouverte"))
        outcome = AlertPayload.of(obj).outcome
        label = dict(Outcome.choices).get(outcome, outcome) if outcome else gettext("résolue")
        return format_html('<span class="risk-resolved">{}</span>', label)

    @admin.display(description=_("statut / type"), ordering="resolved")
    def status(self, obj):
        return format_html("{} <small>{}</small>", self.state(obj), obj.get_alert_type_display())

    @admin.display(description=_("paiement"))
    def payment(self, obj):
        payment_id = AlertPayload.of(obj).payment_id
        if not payment_id:
            return "—"
        status = Payment.objects.filter(pk=payment_id).values_list("status", flat=True).first()
        if status == Payment.Status.HELD:
            url = reverse("admin:sunusav_heldpayment_change", args=[payment_id])
        else:
            url = payment_url(payment_id)
        label = dict(Payment.Status.choices).get(status, gettext("inconnu"))
        return format_html('<a href="{}">{}</a> ({})', url, payment_id, label)

    @admin.display(description=_("variables"))
    def features(self, obj):
        return features_html(AlertPayload.of(obj).features)

    @admin.display(description=_("issue"))
    def outcome(self, obj):
        outcome = AlertPayload.of(obj).outcome
        return dict(Outcome.choices).get(outcome, outcome) if outcome else "—"

    @admin.display(description=_("résolue par"))
    def resolved_by(self, obj):
        return AlertPayload.of(obj).resolved_by or "—"

    @admin.display(description=_("note"))
    def resolution_note(self, obj):
        return note_text(AlertPayload.of(obj).resolution_note) or "—"

    @admin.display(description=_("contenu (JSON)"))
    def payload_json(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, ensure_ascii=False, sort_keys=True))

    # --- the detail page's resolve form

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and not obj.resolved and self.has_resolve_permission(request):
            context["resolve_form"] = ResolveForm(outcomes=outcomes_for([obj.alert_type]))
            context["action_checkbox_name"] = helpers.ACTION_CHECKBOX_NAME
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    # --- resolving

    @admin.action(description=_("Résoudre les alertes sélectionnées…"), permissions=["resolve"])
    def resolve(self, request, queryset):
        alerts = RESOLVE_ACTION.selection(
            self,
            request,
            queryset.select_related("user"),
            ticked_from=self.get_queryset(request).select_related("user"),
            order_by=("-created_at",),
        )
        if not alerts:
            return None
        for alert in alerts:
            if alert.resolved:
                self.message_user(request, already_resolved_message(AlertAlreadyResolved(alert)), messages.WARNING)
        open_alerts = [alert for alert in alerts if not alert.resolved]
        if not open_alerts:
            return None
        outcomes = outcomes_for({alert.alert_type for alert in open_alerts})
        if not outcomes:
            self.message_user(
                request,
                gettext("Ces alertes sont de types différents sans issue commune : résolvez-les type par type."),
                messages.ERROR,
            )
            return None
        return RESOLVE_ACTION.confirm(
            self,
            request,
            open_alerts,
            cells=lambda alert: [
                format_html(
                    '<a href="{}">{}</a>',
                    reverse("admin:alerts_aialert_change", args=[alert.pk]),
                    date_format(timezone.localtime(alert.created_at), "SHORT_DATETIME_FORMAT"),
                ),
                alert.get_alert_type_display(),
                alert.user.display_name if alert.user else "—",
            ],
            apply=lambda rows, data: self._resolve_all(request, rows, data),
            title=gettext("Résoudre des alertes"),
            intro=ngettext(
                "Vous allez résoudre %(count)d alerte :", "Vous allez résoudre %(count)d alertes :", len(open_alerts)
            )
            % {"count": len(open_alerts)},
            submit=gettext("Résoudre"),
            form_kwargs={"outcomes": outcomes},
        )

    def _resolve_all(self, request, alerts, data) -> None:
        done = 0
        for alert in alerts:
            try:
                alert_decide(alert=alert, actor=request.user, outcome=data["outcome"], note=data["note"])
            except AlertAlreadyResolved as exc:
                self.message_user(request, already_resolved_message(exc), messages.WARNING)
            except InvalidResolution:
                self.message_user(
                    request,
                    gettext("Alerte %(alert)s : cette issue ne convient pas à son type, rien n'a été modifié.")
                    % {"alert": str(alert.pk)[:8]},
                    messages.ERROR,
                )
            else:
                done += 1
        if done:
            self.message_user(
                request,
                ngettext("%(count)d alerte résolue.", "%(count)d alertes résolues.", done) % {"count": done},
                messages.SUCCESS,
            )


class MetricKeyFilter(admin.SimpleListFilter):
    """The metric keys by their labels (`backoffice.labels.METRIC_LABELS`), never as codes."""

    title = _("clé")
    parameter_name = "metric_key"

    def lookups(self, request, model_admin):
        # The registered keys, not a DISTINCT over a table of millions of rows.
        return sorted(labels_of("metric").items(), key=lambda kv: kv[1])

    def queryset(self, request, queryset):
        return queryset.filter(metric_key=self.value()) if self.value() else queryset


@admin.register(AIMetric)
class AIMetricAdmin(FrenchTitlesMixin, admin.ModelAdmin):
    list_display = ["key", "value", "user", "created_at"]
    list_filter = [MetricKeyFilter]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    paginator = CappedCountPaginator
    show_full_result_count = False

    # The page: the key and value by their labels, the details as "label : value" lines, the raw JSON folded away.
    fieldsets = [
        (None, {"fields": ["key", "value", "user", "created_at", "details"]}),
        (_("Contenu brut"), {"classes": ["collapse"], "fields": ["meta_json"]}),
    ]
    readonly_fields = ["key", "value", "user", "created_at", "details", "meta_json"]

    def has_add_permission(self, request):
        return False  # an audit trail is written by services only

    def has_change_permission(self, request, obj=None):
        return False

    def object_subtitle(self, obj):
        return str(obj)

    @admin.display(description=_("détails"))
    def details(self, obj):
        return data_html(obj.meta)

    @admin.display(description=_("contenu (JSON)"))
    def meta_json(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.meta, indent=2, ensure_ascii=False, sort_keys=True))

    @admin.display(description=_("clé"), ordering="metric_key")
    def key(self, obj):
        return label_of("metric", obj.metric_key)

    @admin.display(description=_("valeur"), ordering="metric_value")
    def value(self, obj):
        return number_text(obj.metric_value)
