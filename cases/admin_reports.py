"""The suspicious-activity reports' back-office pages (draft, approve, send, PDF and JSON).

Pages need the view permission of reports (`cases.view_suspiciousactivityreport`);
drafting and editing a draft also need `cases.decide_case`, approving and
marking sent `cases.approve_report`. Every page shows the report's document
(`cases.reports.report_document`), the same facts as its PDF and JSON; each
step is one POST to a small view that calls `cases.reports`, which checks the
rules again (four eyes, states) and audits. Downloads are audited too.

URL names (prefix `admin:cases_suspiciousactivityreport_`): `changelist`,
`change` (the report's page), `draft` (case id), `update`, `approve`, `send`,
`pdf`, `json` (report id).
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from cases import reports
from cases.models import Case, SuspiciousActivityReport
from cases.report_pdf import report_display, report_pdf
from cases.reports import ReportError, ReportInvalid, Typology
from sunusav.admin_utils import FrenchTitlesMixin
from sunusav.presenters import sats_and_xof

DRAFTABLE_SHOWN = 20


# --- Forms ---------------------------------------------------------------------------------------


class ReportTextForm(forms.Form):
    typology = forms.ChoiceField(label=_("Typologie"), choices=[("", "—"), *Typology.choices])
    narrative = forms.CharField(
        label=_("Exposé des faits"),
        min_length=reports.NARRATIVE_MIN,
        max_length=reports.NARRATIVE_MAX,
        widget=forms.Textarea(attrs={"rows": 10, "cols": 80}),
        help_text=_(
            "Les motifs du soupçon, en phrases : ce qui a été observé, quand, et pourquoi cela ne s'explique pas. "
            "Jamais communiqué au membre."
        ),
    )


class ApproveForm(forms.Form):
    note = forms.CharField(
        label=_("Note (facultative)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
    )


class SendForm(forms.Form):
    sent_date = forms.DateField(label=_("Date de transmission"), input_formats=["%d/%m/%Y", "%Y-%m-%d"])
    sent_time = forms.TimeField(label=_("Heure (Dakar)"), input_formats=["%H:%M", "%Hh%M", "%H:%M:%S"])
    centif_reference = forms.CharField(label=_("Référence CENTIF"), max_length=reports.REFERENCE_MAX)

    @classmethod
    def initial_now(cls) -> SendForm:
        now = timezone.localtime(timezone.now(), reports.DAKAR)
        return cls(initial={"sent_date": now.strftime("%d/%m/%Y"), "sent_time": now.strftime("%H:%M")})

    def sent_at(self) -> dt.datetime:
        moment = dt.datetime.combine(self.cleaned_data["sent_date"], self.cleaned_data["sent_time"])
        return timezone.make_aware(moment, reports.DAKAR)


# --- The admin -----------------------------------------------------------------------------------


class TypologyFilter(admin.SimpleListFilter):
    """The typologies by their French names (the field holds codes, with no choices of its own)."""

    title = _("typologie")
    parameter_name = "typology"

    def lookups(self, request, model_admin):
        return Typology.choices

    def queryset(self, request, queryset):
        return queryset.filter(typology=self.value()) if self.value() else queryset


@admin.register(SuspiciousActivityReport)
class SuspiciousActivityReportAdmin(FrenchTitlesMixin, admin.ModelAdmin):
    # Seven short columns: the list fits 1366 pixels without sideways scrolling.
    list_display = ["drafted", "subject", "typology_label", "amount", "status", "people", "sent"]
    list_display_links = ["drafted"]
    list_filter = ["status", TypologyFilter]
    list_select_related = ["case__member", "drafted_by", "approved_by"]
    search_fields = ["centif_reference", "case__member__display_name", "=case__member__id"]
    ordering = ["-drafted_at"]
    change_list_template = "admin/cases/report_change_list.html"

    # Reports are drafted from a case and change only through their steps, never through a model form.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def can_draft(self, request) -> bool:
        return self.has_view_permission(request) and request.user.has_perm(reports.DRAFT_PERMISSION)

    def can_approve(self, request) -> bool:
        return self.has_view_permission(request) and request.user.has_perm(reports.APPROVE_PERMISSION)

    @admin.display(description=_("personne"), ordering="case__member__display_name")
    def subject(self, obj):
        return obj.case.member.display_name if obj.case.member_id else "—"

    @admin.display(description=_("typologie"), ordering="typology")
    def typology_label(self, obj):
        try:
            return Typology(obj.typology).label
        except ValueError:
            return obj.typology

    @admin.display(description=_("montant"))
    def amount(self, obj):
        return sats_and_xof(((obj.facts or {}).get("totals") or {}).get("amount_sats"))

    @admin.display(description=_("rédigée le"), ordering="drafted_at")
    def drafted(self, obj):
        return date_format(timezone.localtime(obj.drafted_at), "SHORT_DATETIME_FORMAT")

    @admin.display(description=_("rédigée · approuvée par"))
    def people(self, obj):
        approver = obj.approved_by.get_username() if obj.approved_by_id else "—"
        return f"{obj.drafted_by.get_username()} · {approver}"

    @admin.display(description=_("transmise"), ordering="sent_at")
    def sent(self, obj):
        if obj.sent_at is None:
            return "—"
        when = date_format(timezone.localtime(obj.sent_at), "SHORT_DATE_FORMAT")
        return f"{when} · {obj.centif_reference}"

    # --- URLs ------------------------------------------------------------------------------

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        wrap = self.admin_site.admin_view
        return [
            path("draft/<str:case_id>/", wrap(self.draft_view), name=f"{prefix}_draft"),
            path("<str:object_id>/update/", wrap(require_POST(self.update_view)), name=f"{prefix}_update"),
            path("<str:object_id>/approve/", wrap(require_POST(self.approve_view)), name=f"{prefix}_approve"),
            path("<str:object_id>/send/", wrap(require_POST(self.send_view)), name=f"{prefix}_send"),
            path("<str:object_id>/pdf/", wrap(self.pdf_view), name=f"{prefix}_pdf"),
            path("<str:object_id>/json/", wrap(self.json_view), name=f"{prefix}_json"),
            *super().get_urls(),
        ]

    def _report(self, request, object_id) -> SuspiciousActivityReport:
        if not self.has_view_permission(request):
            raise PermissionDenied
        report = self.get_object(request, unquote(object_id))
        if report is None:
            raise Http404
        return report

    def _page_url(self, report) -> str:
        return reverse("admin:cases_suspiciousactivityreport_change", args=[report.pk])

    # --- Pages -----------------------------------------------------------------------------

    def changelist_view(self, request, extra_context=None):
        extra = dict(extra_context or {})
        if self.can_draft(request):
            draftable = list(reports.cases_reportable()[:DRAFTABLE_SHOWN])
            for case in draftable:
                case.amount_text = sats_and_xof(case.amount_sats)
            extra["draftable_cases"] = draftable
        return super().changelist_view(request, extra_context=extra)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """Show a report's document, its downloads and the steps the user may take (GET only)."""
        if request.method != "GET":
            raise PermissionDenied  # each step has its own view
        return self._report_page(request, self._report(request, object_id))

    def _report_page(self, request, report, *, text_form=None, approve_form=None, send_form=None, status=200):
        Status = SuspiciousActivityReport.Status
        is_draft, is_approved = report.status == Status.DRAFT, report.status == Status.APPROVED
        can_draft, can_approve = self.can_draft(request), self.can_approve(request)
        is_maker = request.user.pk in reports.report_makers(report)
        if is_draft and can_draft and text_form is None:
            text_form = ReportTextForm(initial={"typology": report.typology, "narrative": report.narrative})
        if is_draft and can_approve and not is_maker and approve_form is None:
            approve_form = ApproveForm()
        if is_approved and can_approve and send_form is None:
            send_form = SendForm.initial_now()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": capfirst(self.opts.verbose_name),
            "subtitle": str(report),
            "report": report,
            "shown": report_display(reports.report_document(report)),
            "text_form": text_form if is_draft and can_draft else None,
            "approve_form": approve_form if is_draft and can_approve and not is_maker else None,
            "four_eyes_blocked": is_draft and can_approve and is_maker,
            "send_form": send_form if is_approved and can_approve else None,
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/cases/report_change.html", context, status=status)

    def draft_view(self, request, case_id):
        """Draft a report from a case: GET shows the form and a preview of the facts, POST drafts."""
        if not self.can_draft(request):
            raise PermissionDenied
        try:
            case = Case.objects.select_related("member", "decided_by", "approved_by").filter(pk=case_id).first()
        except ValidationError:
            case = None
        if case is None:
            raise Http404
        form = ReportTextForm(request.POST or None)
        error = None
        if request.method == "POST":
            if form.is_valid():
                try:
                    report = reports.report_draft(
                        case_id=case.pk,
                        actor=request.user,
                        typology=form.cleaned_data["typology"],
                        narrative=form.cleaned_data["narrative"],
                    )
                except ReportError as exc:
                    error = str(exc)
                else:
                    messages.success(
                        request, gettext("Déclaration rédigée : un second utilisateur doit maintenant l'approuver.")
                    )
                    return redirect(self._page_url(report))
            else:
                error = gettext("Corrigez les erreurs ci-dessous : rien n'a été enregistré.")
        preview = None
        reportable = case.kind == Case.Kind.FRAUD and (
            case.status == Case.Status.CLOSED and case.outcome == Case.Outcome.CONFIRMED_FRAUD
        )
        if reportable:
            facts = reports.report_facts_build(
                case=case,
                report_id="—",
                typology=Typology.OTHER,
                narrative="",
                drafted_by=request.user,
                drafted_at=timezone.now(),
            )
            preview = report_display(facts)
        else:
            error = error or gettext(
                "Ce dossier n'est pas clos en fraude confirmée : aucune déclaration CENTIF ne peut en être rédigée."
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Rédiger une déclaration CENTIF"),
            "case": case,
            "form": form if reportable else None,
            "error": error,
            "preview": preview,
        }
        status = 400 if request.method == "POST" or not reportable else 200
        return TemplateResponse(request, "admin/cases/report_draft.html", context, status=status)

    # --- Steps (POST) ----------------------------------------------------------------------

    def _refused(self, request, report, exc: ReportError):
        messages.error(request, str(exc))
        return redirect(self._page_url(report))

    def update_view(self, request, object_id):
        report = self._report(request, object_id)
        if not self.can_draft(request):
            raise PermissionDenied
        form = ReportTextForm(request.POST)
        if not form.is_valid():
            return self._report_page(request, report, text_form=form, status=400)
        try:
            reports.report_update(
                report_id=report.pk,
                actor=request.user,
                typology=form.cleaned_data["typology"],
                narrative=form.cleaned_data["narrative"],
            )
        except ReportInvalid as exc:
            form.add_error(None, str(exc))
            return self._report_page(request, report, text_form=form, status=400)
        except ReportError as exc:
            return self._refused(request, report, exc)
        messages.success(request, gettext("Brouillon enregistré."))
        return redirect(self._page_url(report))

    def approve_view(self, request, object_id):
        report = self._report(request, object_id)
        if not self.can_approve(request):
            raise PermissionDenied
        form = ApproveForm(request.POST)
        if not form.is_valid():
            return self._report_page(request, report, approve_form=form, status=400)
        try:
            reports.report_approve(report_id=report.pk, actor=request.user, note=form.cleaned_data["note"])
        except ReportError as exc:
            return self._refused(request, report, exc)
        messages.success(request, gettext("Déclaration approuvée : elle peut être transmise à la CENTIF."))
        return redirect(self._page_url(report))

    def send_view(self, request, object_id):
        report = self._report(request, object_id)
        if not self.can_approve(request):
            raise PermissionDenied
        form = SendForm(request.POST)
        if not form.is_valid():
            return self._report_page(request, report, send_form=form, status=400)
        try:
            reports.report_send(
                report_id=report.pk,
                actor=request.user,
                sent_at=form.sent_at(),
                centif_reference=form.cleaned_data["centif_reference"],
            )
        except ReportInvalid as exc:
            form.add_error(None, str(exc))
            return self._report_page(request, report, send_form=form, status=400)
        except ReportError as exc:
            return self._refused(request, report, exc)
        messages.success(request, gettext("Transmission à la CENTIF enregistrée."))
        return redirect(self._page_url(report))

    # --- Downloads (audited) ---------------------------------------------------------------

    def _download(self, request, report, *, file_format: str, body: bytes, content_type: str):
        reports.report_download_record(report=report, actor=request.user, file_format=file_format)
        response = HttpResponse(body, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="DOS-{report.pk}.{file_format}"'
        return response

    def pdf_view(self, request, object_id):
        report = self._report(request, object_id)
        body = report_pdf(reports.report_document(report))
        return self._download(request, report, file_format="pdf", body=body, content_type="application/pdf")

    def json_view(self, request, object_id):
        report = self._report(request, object_id)
        return self._download(
            request, report, file_format="json", body=reports.report_json(report), content_type="application/json"
        )
