"""Admin pages of the rules' lists (issue 15): a list's entries, add or remove one, import a CSV; all audited."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fraud.list_services import (
    rule_list_create,
    rule_list_entry_add,
    rule_list_entry_remove,
    rule_list_import_csv,
    rule_suppression_add,
    rule_suppression_end,
)
from fraud.models_lists import RuleList, RuleListEntry, RuleSuppression
from fraud.ruleset_services import RulesetError
from sunusav.admin_utils import FrenchTitlesMixin


class EntryForm(forms.Form):
    value = forms.CharField(label=gettext_lazy("Valeur"), max_length=128)
    reason = forms.CharField(label=gettext_lazy("Motif"), max_length=400)
    expires_at = forms.DateTimeField(label=gettext_lazy("Expire le"), required=False)


class ImportForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Fichier CSV"),
        help_text=gettext_lazy("Une ligne par valeur : valeur,motif,expiration (AAAA-MM-JJ, facultative)."),
    )
    default_reason = forms.CharField(label=gettext_lazy("Motif par défaut"), max_length=400, required=False)


class EntryInline(admin.TabularInline):
    model = RuleListEntry
    fields = ["value", "reason", "expires_at", "created_by", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    max_num = 0

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(RuleList)
class RuleListAdmin(FrenchTitlesMixin, admin.ModelAdmin):
    list_display = ["name", "kind", "subject", "created_at"]
    list_filter = ["kind", "subject"]
    fields = ["name", "kind", "subject", "description"]
    inlines = [EntryInline]
    change_form_template = "admin/fraud/rulelist/change_form.html"

    def get_readonly_fields(self, request, obj=None):
        return self.fields if obj is not None else []

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:
            raise PermissionDenied
        created = rule_list_create(
            actor=request.user, name=obj.name, kind=obj.kind, subject=obj.subject, description=obj.description
        )
        obj.pk = created.pk

    def save_related(self, request, form, formsets, change):
        pass  # entries go through their own forms

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/entry/", wrap(self.entry_view), name="fraud_rulelist_entry"),
            path("<int:pk>/remove/", wrap(self.remove_view), name="fraud_rulelist_remove"),
            path("<int:pk>/import/", wrap(self.import_view), name="fraud_rulelist_import"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {
            "entry_form": EntryForm(),
            "import_form": ImportForm(),
            "can_edit_entries": request.user.has_perm("fraud.change_rulelistentry"),
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def _list(self, request, pk) -> RuleList:
        if request.method != "POST" or not request.user.has_perm("fraud.change_rulelistentry"):
            raise PermissionDenied
        return get_object_or_404(RuleList, pk=pk)

    def _back(self, rule_list):
        return redirect(reverse("admin:fraud_rulelist_change", args=[rule_list.pk]))

    def entry_view(self, request, pk):
        rule_list = self._list(request, pk)
        form = EntryForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Entrée refusée : valeur et motif sont obligatoires, la date lisible."))
            return self._back(rule_list)
        try:
            rule_list_entry_add(actor=request.user, rule_list=rule_list, **form.cleaned_data)
        except RulesetError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Entrée ajoutée à la liste « %(name)s ».") % {"name": rule_list.name})
        return self._back(rule_list)

    def remove_view(self, request, pk):
        rule_list = self._list(request, pk)
        try:
            rule_list_entry_remove(actor=request.user, rule_list=rule_list, value=request.POST.get("value", ""))
        except RulesetError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Entrée retirée de la liste « %(name)s ».") % {"name": rule_list.name})
        return self._back(rule_list)

    def import_view(self, request, pk):
        rule_list = self._list(request, pk)
        form = ImportForm(request.POST, request.FILES)
        if not form.is_valid():
            messages.error(request, _("Choisissez un fichier CSV."))
            return self._back(rule_list)
        try:
            content = form.cleaned_data["file"].read().decode("utf-8-sig")
            summary = rule_list_import_csv(
                actor=request.user,
                rule_list=rule_list,
                content=content,
                default_reason=form.cleaned_data["default_reason"],
            )
        except UnicodeDecodeError:
            messages.error(request, _("Le fichier doit être en UTF-8 : rien n'a été importé."))
        except RulesetError as exc:
            messages.error(request, _("%(error)s Rien n'a été importé.") % {"error": exc})
        else:
            messages.success(request, _("Import : %(added)s entrées ajoutées, %(updated)s mises à jour.") % summary)
        return self._back(rule_list)


class SuppressionForm(forms.ModelForm):
    class Meta:
        model = RuleSuppression
        fields = ["member_ref", "rule_id", "until", "reason"]

    def clean_until(self):
        from django.utils import timezone

        until = self.cleaned_data["until"]
        if until <= timezone.now():
            raise forms.ValidationError(_("La date de fin doit être à venir."))
        return until


@admin.register(RuleSuppression)
class RuleSuppressionAdmin(FrenchTitlesMixin, admin.ModelAdmin):
    """Snoozes: an analyst adds one (member, rule, until, reason); ending one sets its end to now. Audited."""

    form = SuppressionForm
    list_display = ["member_ref", "rule_id", "until", "reason", "created_by"]
    search_fields = ["member_ref", "rule_id"]
    fields = ["member_ref", "rule_id", "until", "reason"]
    actions = ["end_now"]

    def get_readonly_fields(self, request, obj=None):
        return self.fields if obj is not None else []

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:
            raise PermissionDenied
        created = rule_suppression_add(
            actor=request.user, member_ref=obj.member_ref, rule_id=obj.rule_id, until=obj.until, reason=obj.reason
        )
        obj.pk = created.pk

    @admin.action(description=gettext_lazy("Mettre fin maintenant"), permissions=["change"])
    def end_now(self, request, queryset):
        for suppression in queryset:
            rule_suppression_end(actor=request.user, suppression=suppression)
        messages.success(request, _("Mise en sourdine terminée."))
