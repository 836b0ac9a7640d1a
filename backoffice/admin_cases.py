"""The analysts' case queue and case page (cases.services does every write).

The queue: open cases, worst and oldest first, with the amount at stake, the
top reason, the owner, the age and the time left before the SLA (late ones in
red); "Mes dossiers", unowned and late filters, and a header with the counts.
The case page: the items with their facts and short reasons, the evidence
(backoffice.case_evidence), the comments thread, and one form per step the
user may take (claim, assign, escalate, decide with per-item exceptions,
approve or send back a proposal, draft a CENTIF report). Each step is one POST
to `<case>/act/`, which calls one service and comes back to the page; a
refused step shows the service's French reason and changes nothing. After a
decision the analyst lands on the next case of the queue they came from.
"""

from __future__ import annotations

import copy
import uuid

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404, HttpResponseRedirect, QueryDict
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from backoffice.case_evidence import (
    case_evidence,
    case_outcomes,
    duration_text,
    four_eyes_applies,
    item_rows,
    queue_counts,
    time_left,
)
from cases import services
from cases.models import Case, CaseComment
from cases.services import CaseError
from sunusav.admin_utils import FrenchTitlesMixin
from sunusav.csv_export import CsvExportMixin
from sunusav.presenters import label_of, member_link, sats_and_xof
from sunusav.search import AccentInsensitiveSearchMixin

DECIDE = "cases.decide_case"
NEIGHBOURS_SCANNED = 500
APPROVE = "cases.approve_case"


# --- Filters ---------------------------------------------------------------------------------------


class StatusFilter(admin.SimpleListFilter):
    """Open cases by default; closed ones and each status a click away."""

    title = _("statut")
    parameter_name = "etat"

    def lookups(self, request, model_admin):
        return [
            ("all", _("tous")),
            ("closed", _("clos")),
            *[(s, label) for s, label in Case.Status.choices if s != "closed"],
        ]

    def choices(self, changelist):
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": gettext("ouverts"),
        }
        for value, label in self.lookup_choices:
            yield {
                "selected": self.value() == str(value),
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset.exclude(status=Case.Status.CLOSED)
        if value == "all":
            return queryset
        return queryset.filter(status=value)


class OwnerFilter(admin.SimpleListFilter):
    title = _("responsable")
    parameter_name = "responsable"

    def lookups(self, request, model_admin):
        return [
            ("moi", _("Mes dossiers")),
            ("personne", _("sans responsable")),
            ("approbation", _("à approuver par moi")),
        ]

    def queryset(self, request, queryset):
        if self.value() == "moi":
            return queryset.filter(owner=request.user)
        if self.value() == "personne":
            return queryset.filter(owner__isnull=True)
        if self.value() == "approbation":
            return queryset.filter(status=Case.Status.PENDING_APPROVAL).exclude(proposed_by=request.user)
        return queryset


class SlaFilter(admin.SimpleListFilter):
    title = _("délai")
    parameter_name = "delai"

    def lookups(self, request, model_admin):
        return [("retard", _("en retard")), ("bientot", _("échéance sous 1 h"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "retard":
            return queryset.filter(due_at__lt=now)
        if self.value() == "bientot":
            return queryset.filter(due_at__gte=now, due_at__lt=now + timezone.timedelta(hours=1))
        return queryset


# --- Forms -------------------------------------------------------------------------------------------


class NoteForm(forms.Form):
    note = forms.CharField(label=_("Note"), max_length=services.NOTE_MAX, widget=forms.Textarea(attrs={"rows": 2}))


class ApproveForm(forms.Form):
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=services.NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Facultative pour approuver, obligatoire pour renvoyer la décision à son auteur."),
    )


class CommentForm(forms.Form):
    body = forms.CharField(
        label=_("Commentaire"), max_length=services.COMMENT_MAX, widget=forms.Textarea(attrs={"rows": 3})
    )


class AssignForm(forms.Form):
    owner = forms.ModelChoiceField(label=_("Attribuer à"), queryset=get_user_model().objects.none())
    note = forms.CharField(label=_("Note (facultative)"), required=False, max_length=services.NOTE_MAX)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        perm = Q(groups__permissions__codename="decide_case") | Q(user_permissions__codename="decide_case")
        self.fields["owner"].queryset = (
            get_user_model().objects.filter(is_active=True).filter(perm).distinct().order_by("username")
        )
        self.fields["owner"].label_from_instance = lambda user: user.get_full_name() or user.get_username()


class DecideForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Issue du dossier"))
    note = forms.CharField(
        label=_("Motivation"),
        max_length=services.NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Ce qui a été vérifié et pourquoi : elle devient la note de chaque alerte du dossier."),
    )

    def __init__(self, *args, case: Case, rows: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["outcome"].choices = case_outcomes(case)
        self.exception_fields = []
        for row in rows:
            if not row["open"]:
                continue
            name = f"exception_{row['alert'].pk}"
            self.fields[name] = forms.ChoiceField(
                label=str(row["alert"].pk)[:8],
                required=False,
                choices=[("", gettext("comme le dossier")), *row["outcomes"]],
            )
            row["exception_field"] = name
            self.exception_fields.append(name)

    def exceptions(self) -> dict[str, str]:
        return {
            name.removeprefix("exception_"): value
            for name in self.exception_fields
            if (value := self.cleaned_data.get(name))
        }


# --- The admin ---------------------------------------------------------------------------------------


@admin.register(Case)
class CaseAdmin(CsvExportMixin, AccentInsensitiveSearchMixin, FrenchTitlesMixin, admin.ModelAdmin):
    csv_fields = [
        (_("identifiant"), "id"),
        (_("type de dossier"), "kind"),
        (_("statut"), "status"),
        (_("gravité"), "severity"),
        (_("membre"), "member__display_name"),
        (_("identifiant du membre"), "member_id"),
        (_("tontine"), "tontine__name"),
        (_("éléments"), "item_count"),
        (_("montant en jeu (sats)"), "amount_sats"),
        (_("motif principal"), lambda case: label_of("reason", case.top_reason) if case.top_reason else ""),
        (_("responsable"), "owner__username"),
        (_("ouvert le"), "opened_at"),
        (_("échéance"), "due_at"),
        (_("clos le"), "closed_at"),
        (_("issue"), "outcome"),
    ]
    list_display = [
        "severity_badge",
        "subject",
        "items",
        "amount",
        "reason",
        "owner_name",
        "age",
        "sla",
        "state",
    ]
    list_display_links = ["subject"]
    list_filter = [StatusFilter, OwnerFilter, SlaFilter, "kind", "severity"]
    list_select_related = ["member", "tontine", "owner"]
    search_fields = ["member__display_name", "tontine__name"]
    search_help_text = _("Nom du membre ou de la tontine, ou identifiant du dossier.")
    ordering = ["-severity", "opened_at"]
    list_per_page = 50
    show_full_result_count = False
    change_list_template = "admin/cases/case/change_list.html"
    actions = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_search_results(self, request, queryset, search_term):
        try:
            return queryset.filter(pk=uuid.UUID(search_term.strip())), False
        except ValueError:
            return super().get_search_results(request, queryset, search_term)

    # --- columns

    @admin.display(description=_("gravité"), ordering="-severity")
    def severity_badge(self, obj):
        return format_html('<span class="case-sev case-sev-{}">{}</span>', obj.severity, obj.get_severity_display())

    @admin.display(description=_("dossier"))
    def subject(self, obj):
        # The kind in a word only for a tontine's case: most cases are a member's fraud case.
        if obj.member_id:
            return obj.member.display_name
        if obj.tontine_id:
            return format_html("{} <small>({})</small>", obj.tontine.name, gettext("tontine"))
        return "—"

    @admin.display(description=_("éléments"), ordering="item_count")
    def items(self, obj):
        return obj.item_count

    @admin.display(description=_("en jeu"), ordering="amount_sats")
    def amount(self, obj):
        return format_html('<span class="nowrap">{}</span>', sats_and_xof(obj.amount_sats))

    @admin.display(description=_("motif principal"))
    def reason(self, obj):
        text = label_of("reason", obj.top_reason) if obj.top_reason else "—"
        return format_html('<span class="case-reason" title="{}">{}</span>', text, text)

    @admin.display(description=_("responsable"), ordering="owner__username")
    def owner_name(self, obj):
        return obj.owner.get_username() if obj.owner_id else format_html("<em>{}</em>", gettext("personne"))

    @admin.display(description=_("âge"), ordering="opened_at")
    def age(self, obj):
        return duration_text(time_left(obj)["age"])

    @admin.display(description=_("échéance"), ordering="due_at")
    def sla(self, obj):
        sla = time_left(obj)
        if obj.status == Case.Status.CLOSED:
            text = gettext("clos en retard") if sla["late"] else gettext("clos à temps")
            return format_html('<span class="{}">{}</span>', "case-late" if sla["late"] else "", text)
        if sla["late"]:
            return format_html(
                '<span class="case-late">{}</span>',
                gettext("en retard de %(duration)s") % {"duration": duration_text(sla["left"])},
            )
        return gettext("reste %(duration)s") % {"duration": duration_text(sla["left"])}

    @admin.display(description=_("statut"), ordering="status")
    def state(self, obj):
        return obj.get_status_display()

    # --- the queue

    def changelist_view(self, request, extra_context=None):
        # The queue takes the screen's width (no navigation sidebar): one line per case at 1366 px.
        context = {"case_counts": queue_counts(request.user), "is_nav_sidebar_enabled": False, **(extra_context or {})}
        return super().changelist_view(request, extra_context=context)

    # --- the case page

    def get_urls(self):
        return [
            path("<path:object_id>/act/", self.admin_site.admin_view(self.act_view), name="cases_case_act"),
            *super().get_urls(),
        ]

    def _case(self, request, object_id) -> Case:
        if not self.has_view_permission(request):
            raise Http404
        try:
            return get_object_or_404(Case.objects.select_related("member", "tontine", "owner"), pk=unquote(object_id))
        except (ValueError, forms.ValidationError) as exc:
            raise Http404 from exc

    def change_view(self, request, object_id, form_url="", extra_context=None):
        case = self._case(request, object_id)
        return self._page(request, case)

    def _page(self, request, case: Case, *, forms_in=None, rows=None, status=200):
        forms_in = forms_in or {}
        rows = item_rows(case) if rows is None else rows  # a refused decision's form named these rows' fields
        user = request.user
        preserved = request.GET.get("_changelist_filters", "") or request.POST.get("_changelist_filters", "")
        previous_case, next_case = self._neighbours(request, case, preserved)
        can_decide = user.has_perm(DECIDE)
        is_owner = case.owner_id == user.pk
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": capfirst(self.opts.verbose_name),
            "subtitle": str(case),
            "case": case,
            "rows": rows,
            "evidence": case_evidence(case),
            "comments": CaseComment.objects.filter(case=case).select_related("author").order_by("created_at"),
            "member_link": member_link(case.member) if case.member_id else "",
            "amount": sats_and_xof(case.amount_sats),
            "top_reason": label_of("reason", case.top_reason) if case.top_reason else "",
            "preserved": preserved,
            "previous_case": previous_case,
            "next_case": next_case,
            "may": {
                "claim": case.is_open and can_decide and not is_owner and case.owner_id is None,
                "assign": case.is_open
                and case.status != Case.Status.PENDING_APPROVAL
                and (is_owner or (case.owner_id is None and can_decide) or user.has_perm(APPROVE)),
                "escalate": is_owner and case.status == Case.Status.ASSIGNED,
                "decide": is_owner and can_decide and case.status in (Case.Status.ASSIGNED, Case.Status.ESCALATED),
                "approve": case.status == Case.Status.PENDING_APPROVAL
                and user.has_perm(APPROVE)
                and case.proposed_by_id != user.pk,
                "comment": user.has_perm("cases.add_casecomment"),
                "report": case.status == Case.Status.CLOSED
                and case.outcome == Case.Outcome.CONFIRMED_FRAUD
                and user.has_perm("cases.decide_case"),
            },
            "four_eyes": case.is_open and four_eyes_applies(case),
            "proposed_outcome": dict(case_outcomes(case)).get(case.proposed_outcome, ""),
        }
        context["assign_form"] = forms_in.get("assign") or AssignForm()
        context["note_form"] = forms_in.get("escalate") or NoteForm()
        context["approve_form"] = forms_in.get("approve") or ApproveForm(prefix="approve")
        context["comment_form"] = forms_in.get("comment") or CommentForm()
        context["decide_form"] = forms_in.get("decide") or DecideForm(case=case, rows=rows)
        return TemplateResponse(request, "admin/cases/case/change_form.html", context, status=status)

    def _queue_url(self, preserved: str) -> str:
        url = reverse("admin:cases_case_changelist")
        return f"{url}?{preserved}" if preserved else url

    def _page_url(self, case: Case, preserved: str) -> str:
        url = reverse("admin:cases_case_change", args=[case.pk])
        return f"{url}?{urlencode({'_changelist_filters': preserved})}" if preserved else url

    def _neighbours(self, request, case: Case, preserved: str) -> tuple[Case | None, Case | None]:
        """The cases before and after this one in the queue the analyst came from (same filters, search, order).

        A case no longer in that queue (just decided) is followed by the first
        one still in it. Without a queue to come back to: the analyst's own
        open cases, then the unowned ones.
        """
        queue = copy.copy(request)
        queue.GET = QueryDict(preserved)
        try:
            changelist = self.get_changelist_instance(queue)
            ids = list(changelist.get_queryset(queue).values_list("pk", flat=True)[:NEIGHBOURS_SCANNED])
        except (IncorrectLookupParameters, ValidationError, ValueError):
            ids = list(
                Case.objects.exclude(status=Case.Status.CLOSED)
                .order_by("-severity", "opened_at")
                .values_list("pk", flat=True)[:NEIGHBOURS_SCANNED]
            )
        if not preserved:
            open_cases = Case.objects.exclude(status=Case.Status.CLOSED).order_by("-severity", "opened_at")
            mine = list(open_cases.filter(owner=request.user).values_list("pk", flat=True)[:NEIGHBOURS_SCANNED])
            ids = mine + list(open_cases.filter(owner__isnull=True).values_list("pk", flat=True)[:NEIGHBOURS_SCANNED])
        before = after = None
        if case.pk in ids:
            at = ids.index(case.pk)
            before = ids[at - 1] if at > 0 else None
            after = ids[at + 1] if at + 1 < len(ids) else None
        else:
            after = ids[0] if ids else None
        by_id = Case.objects.in_bulk([pk for pk in (before, after) if pk is not None])
        return by_id.get(before), by_id.get(after)

    @staticmethod
    def _op_forms(op: str, data, case: Case, rows):
        if op == "assign":
            return AssignForm(data)
        if op == "escalate":
            return NoteForm(data)
        if op in ("approve", "send_back"):
            return ApproveForm(data, prefix="approve")
        if op == "comment":
            return CommentForm(data)
        if op == "decide":
            return DecideForm(data, case=case, rows=rows)
        return None

    def act_view(self, request, object_id):
        return require_POST(self._act)(request, object_id)

    def _act(self, request, object_id):
        case = self._case(request, object_id)
        op = request.POST.get("op", "")
        preserved = request.POST.get("_changelist_filters", "")
        user = request.user
        rows = item_rows(case)
        form = self._op_forms(op, request.POST, case, rows)
        if op != "claim" and form is None:
            messages.error(request, gettext("Action inconnue : rien n'a été modifié."))
            return HttpResponseRedirect(self._page_url(case, preserved))
        if form is not None and not form.is_valid():
            messages.error(request, gettext("Le formulaire contient des erreurs : rien n'a été modifié."))
            return self._page(
                request, case, forms_in={"approve" if op == "send_back" else op: form}, rows=rows, status=400
            )
        try:
            if op == "claim":
                services.case_assign(case=case, actor=user, owner=user)
                messages.success(request, gettext("Dossier pris en charge."))
            elif op == "assign":
                owner = form.cleaned_data["owner"]
                services.case_assign(case=case, actor=user, owner=owner, note=form.cleaned_data["note"])
                messages.success(request, gettext("Dossier attribué à %(name)s.") % {"name": owner.get_username()})
            elif op == "escalate":
                services.case_escalate(case=case, actor=user, note=form.cleaned_data["note"])
                messages.success(request, gettext("Dossier escaladé."))
            elif op == "comment":
                services.case_comment_add(case=case, author=user, body=form.cleaned_data["body"])
                messages.success(request, gettext("Commentaire ajouté."))
            elif op == "approve":
                services.case_approve(case=case, actor=user, note=form.cleaned_data["note"])
                messages.success(request, gettext("Décision approuvée et appliquée à tous les éléments."))
            elif op == "send_back":
                services.case_proposal_reject(case=case, actor=user, note=form.cleaned_data["note"])
                messages.success(request, gettext("Décision renvoyée à son auteur."))
            elif op == "decide":
                _, following = self._neighbours(request, case, preserved)
                decided = services.case_decide(
                    case=case,
                    actor=user,
                    outcome=form.cleaned_data["outcome"],
                    note=form.cleaned_data["note"],
                    exceptions=form.exceptions(),
                )
                if decided.status == Case.Status.PENDING_APPROVAL:
                    messages.success(
                        request,
                        gettext("Décision proposée : un second utilisateur doit l'approuver (quatre yeux)."),
                    )
                else:
                    messages.success(request, gettext("Dossier clos : tous ses éléments sont décidés."))
                    if following is not None:
                        return HttpResponseRedirect(self._page_url(following, preserved))
                    return HttpResponseRedirect(self._queue_url(preserved))
        except CaseError as exc:
            messages.error(request, str(exc))
            return self._page(
                request, Case.objects.select_related("member", "tontine", "owner").get(pk=case.pk), status=400
            )
        return HttpResponseRedirect(self._page_url(case, preserved))
