"""Admin pages of the fraud rules (issue 15): versions, a version's page, the rule editor, the steps.

The list of versions with state and author; a version's page with its rules,
the readable diff against the published version, the last backtest, and the
buttons its state and the user's permissions allow. Every step (new draft,
submit, send back, approve, publish, roll back, backtest) is a confirmation
page whose POST calls `fraud.ruleset_services`; a refusal is shown in French
and changes nothing. Rules are edited on drafts only; a rule that does not
compile is refused (400) with the rule and the position of the error.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fraud import admin_lists  # noqa: F401  (the lists' pages register with these)
from fraud.backtest import backtest_enqueue
from fraud.backtest_report import backtest_report_view
from fraud.models_rules import Rule, RuleSet
from fraud.rules_engine import LIST_SUBJECTS, NAMES
from fraud.ruleset_selectors import (
    ruleset_diff_against_published,
    ruleset_diff_lines,
    ruleset_makers,
    ruleset_shadow_comparison,
)
from fraud.ruleset_services import (
    RulesetError,
    RulesetInvalid,
    ruleset_approve,
    ruleset_draft_create,
    ruleset_publish,
    ruleset_rollback,
    ruleset_rule_check,
    ruleset_rule_delete,
    ruleset_rule_save,
    ruleset_send_back,
    ruleset_shadow_set,
    ruleset_submit,
)
from sunusav.admin_utils import FrenchTitlesMixin

Status = RuleSet.Status


class RuleForm(forms.ModelForm):
    class Meta:
        model = Rule
        fields = [
            "rule_id",
            "name_fr",
            "name_en",
            "reason_fr",
            "reason_en",
            "expression",
            "effect",
            "weight",
            "priority",
            "enabled",
        ]
        widgets = {"expression": forms.Textarea(attrs={"rows": 3, "cols": 90, "spellcheck": "false"})}

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            self.fields["rule_id"].disabled = True

    def validate_unique(self):
        pass  # the service decides (a new id on this version, or the rule being edited)


class NoteForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("Note"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text=gettext_lazy("Gardée dans le journal des actions."),
    )


class BacktestForm(forms.Form):
    window_days = forms.TypedChoiceField(
        label=gettext_lazy("Fenêtre"),
        choices=[(30, gettext_lazy("30 derniers jours")), (90, gettext_lazy("90 derniers jours"))],
        coerce=int,
        initial=30,
    )


# step -> (service, permission, French title, button, states it starts from, note required)
STEPS = {
    "submit": (
        ruleset_submit,
        "fraud.change_ruleset",
        gettext_lazy("Soumettre la version %(n)s pour approbation"),
        gettext_lazy("Soumettre"),
        (Status.DRAFT,),
        False,
    ),
    "send_back": (
        ruleset_send_back,
        "fraud.approve_ruleset",
        gettext_lazy("Renvoyer la version %(n)s en brouillon"),
        gettext_lazy("Renvoyer"),
        (Status.SUBMITTED,),
        True,
    ),
    "approve": (
        ruleset_approve,
        "fraud.approve_ruleset",
        gettext_lazy("Approuver la version %(n)s"),
        gettext_lazy("Approuver"),
        (Status.SUBMITTED,),
        False,
    ),
    "publish": (
        ruleset_publish,
        "fraud.publish_ruleset",
        gettext_lazy("Publier la version %(n)s"),
        gettext_lazy("Publier"),
        (Status.APPROVED,),
        False,
    ),
    "rollback": (
        None,
        "fraud.publish_ruleset",
        gettext_lazy("Revenir aux règles de la version %(n)s"),
        gettext_lazy("Revenir à cette version"),
        (Status.RETIRED,),
        True,
    ),
    "draft": (
        None,
        "fraud.add_ruleset",
        gettext_lazy("Nouveau brouillon à partir de la version %(n)s"),
        gettext_lazy("Créer le brouillon"),
        (Status.PUBLISHED, Status.RETIRED, Status.APPROVED, Status.SUBMITTED, Status.DRAFT),
        False,
    ),
}
STEP_DONE = {
    "submit": gettext_lazy("Version %(n)s soumise : un autre administrateur doit l'approuver."),
    "send_back": gettext_lazy("Version %(n)s renvoyée en brouillon."),
    "approve": gettext_lazy("Version %(n)s approuvée : elle peut être publiée."),
    "publish": gettext_lazy("Version %(n)s publiée : les contrôles l'appliquent dans les %(seconds)s secondes."),
    "rollback": gettext_lazy("Version %(n)s publiée avec les règles de la version %(from)s."),
    "draft": gettext_lazy("Brouillon %(n)s créé."),
}


def names_catalogue() -> list[dict]:
    """The names a rule reads, then the list subjects (`subject in list("name")`), in French and English."""
    names = [{"name": name, "fr": str(doc["fr"]), "en": doc["en"]} for name, doc in NAMES.items()]
    lists = [
        {"name": f'{subject} in list("…")', "fr": str(doc["fr"]), "en": doc["en"]}
        for subject, doc in LIST_SUBJECTS.items()
    ]
    return names + lists


@admin.register(RuleSet)
class RuleSetAdmin(FrenchTitlesMixin, admin.ModelAdmin):
    list_display = ["number", "status", "created_by", "created_at", "submitted_by", "approved_by", "published_at"]
    list_display_links = ["number"]
    list_filter = ["status"]
    change_list_template = "admin/fraud/ruleset/change_list.html"

    def has_add_permission(self, request):
        return False  # a draft is a copy of a version (the "draft" step)

    def has_delete_permission(self, request, obj=None):
        return False  # versions are history

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/step/<str:step>/", wrap(self.step_view), name="fraud_ruleset_step"),
            path("<int:pk>/rule/new/", wrap(self.rule_view), name="fraud_ruleset_rule_new"),
            path("<int:pk>/rules/check/", wrap(self.rule_check_view), name="fraud_ruleset_rule_check"),
            path("<int:pk>/rule/<slug:rule_id>/", wrap(self.rule_view), name="fraud_ruleset_rule"),
            path("<int:pk>/rule/<slug:rule_id>/delete/", wrap(self.rule_delete_view), name="fraud_ruleset_rule_delete"),
            path("<int:pk>/backtest/", wrap(self.backtest_view), name="fraud_ruleset_backtest"),
            path("<int:pk>/shadow/", wrap(self.shadow_view), name="fraud_ruleset_shadow"),
            *super().get_urls(),
        ]

    def _context(self, request, **extra) -> dict:
        return {**self.admin_site.each_context(request), "opts": self.model._meta, **extra}

    def _version(self, request, pk) -> RuleSet:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        ruleset = RuleSet.objects.filter(pk=pk).first()
        if ruleset is None:
            raise Http404
        return ruleset

    def _page_url(self, ruleset) -> str:
        return reverse("admin:fraud_ruleset_change", args=[ruleset.pk])

    def _allowed_steps(self, request, ruleset) -> list[dict]:
        steps = []
        makers = ruleset_makers(ruleset)
        for step, (_service, perm, _title, button, states, _note) in STEPS.items():
            if ruleset.status not in states or not request.user.has_perm(perm):
                continue
            if step == "rollback" and ruleset.published_at is None:
                continue
            if step == "approve" and request.user.pk in makers:
                continue  # four eyes: not shown to a maker (and refused by the service anyway)
            steps.append(
                {"step": step, "label": button, "url": reverse("admin:fraud_ruleset_step", args=[ruleset.pk, step])}
            )
        return steps

    # --- The version's page -------------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method != "GET":
            raise PermissionDenied  # changes go through the steps and the rule editor
        ruleset = self._version(request, object_id)
        published, diff = ruleset_diff_against_published(ruleset)
        rules = list(ruleset.rules.all())
        is_published = published is not None and published.pk == ruleset.pk
        context = self._context(
            request,
            title=_("Règles de fraude, version %(n)s") % {"n": ruleset.number},
            ruleset=ruleset,
            rules=rules,
            published=published,
            is_published=is_published,
            diff_lines=[] if is_published else ruleset_diff_lines(diff, [r.spec() for r in rules]),
            editable=ruleset.status == Status.DRAFT and request.user.has_perm("fraud.change_rule"),
            steps=self._allowed_steps(request, ruleset),
            can_backtest=request.user.has_perm("fraud.change_ruleset"),
            backtest_form=BacktestForm(),
            backtest=backtest_report_view(ruleset.backtest, rules) if ruleset.backtest else None,
            names=names_catalogue(),
            can_shadow=request.user.has_perm("fraud.change_ruleset")
            and (ruleset.shadow or ruleset.status in (Status.SUBMITTED, Status.APPROVED)),
            shadow=ruleset_shadow_comparison(ruleset) if ruleset.status != Status.DRAFT else None,
        )
        return TemplateResponse(request, "admin/fraud/ruleset/detail.html", context)

    def shadow_view(self, request, pk):
        """Start or stop running a submitted or approved version in shadow on live traffic (POST)."""
        ruleset = self._version(request, pk)
        if request.method != "POST":
            raise PermissionDenied
        on = request.POST.get("on") == "1"
        try:
            ruleset_shadow_set(actor=request.user, ruleset=ruleset, on=on)
        except RulesetError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                (
                    _(
                        "Version %(n)s en observation : ses décisions sont enregistrées à côté des vraies, jamais appliquées."
                    )
                    if on
                    else _("Observation de la version %(n)s arrêtée.")
                )
                % {"n": ruleset.number},
            )
        return redirect(self._page_url(ruleset))

    # --- The rule editor ----------------------------------------------------------------

    def rule_view(self, request, pk, rule_id=None):
        ruleset = self._version(request, pk)
        if ruleset.status != Status.DRAFT or not request.user.has_perm("fraud.change_rule"):
            messages.error(request, _("Seul un brouillon se modifie, par qui en a le droit."))
            return redirect(self._page_url(ruleset))
        rule = ruleset.rules.filter(rule_id=rule_id).first() if rule_id else None
        if rule_id and rule is None:
            raise Http404
        status = 200
        if request.method == "POST":
            form = RuleForm(request.POST, instance=rule, editing=rule is not None)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    ruleset_rule_save(
                        actor=request.user,
                        ruleset=ruleset,
                        rule_id=rule.rule_id if rule else data["rule_id"],
                        **{k: data[k] for k in RuleForm.Meta.fields if k != "rule_id"},
                    )
                except RulesetError as exc:
                    form.add_error("expression", str(exc))
                    status = 400
                else:
                    messages.success(
                        request,
                        _("Règle « %(rule)s » enregistrée.") % {"rule": rule.rule_id if rule else data["rule_id"]},
                    )
                    return redirect(self._page_url(ruleset))
            else:
                status = 400
        else:
            form = RuleForm(instance=rule, editing=rule is not None)
        context = self._context(
            request,
            title=(_("Règle « %(rule)s »") % {"rule": rule.rule_id}) if rule else _("Nouvelle règle"),
            ruleset=ruleset,
            rule=rule,
            form=form,
            names=names_catalogue(),
            check_url=reverse("admin:fraud_ruleset_rule_check", args=[ruleset.pk]),
        )
        return TemplateResponse(request, "admin/fraud/ruleset/rule.html", context, status=status)

    def rule_check_view(self, request, pk):
        """Check an expression as the editor types it (POST, JSON): {ok, position, message}; nothing is saved.

        The expression is cleaned by the form's own field (stripped, required) and
        compiled as a save would compile it, so the message and the position are
        the ones the save would give; a bad expression answers 400.
        """
        ruleset = self._version(request, pk)
        if request.method != "POST":
            return JsonResponse(
                {"ok": False, "position": None, "message": _("Envoyez l'expression en POST.")}, status=405
            )
        if ruleset.status != Status.DRAFT or not request.user.has_perm("fraud.change_rule"):
            message = _("Seul un brouillon se modifie, par qui en a le droit.")
            return JsonResponse({"ok": False, "position": None, "message": message}, status=403)
        rule_id = (request.POST.get("rule_id") or "").strip()[:64] or "?"
        try:
            expression = RuleForm.base_fields["expression"].clean(request.POST.get("expression", ""))
            ruleset_rule_check(rule_id=rule_id, expression=expression)
        except ValidationError as exc:
            return JsonResponse({"ok": False, "position": 1, "message": " ".join(exc.messages)}, status=400)
        except RulesetInvalid as exc:
            return JsonResponse(
                {"ok": False, "position": exc.error.position, "reason": exc.error.reason, "message": str(exc)},
                status=400,
            )
        return JsonResponse({"ok": True, "position": None, "message": _("Expression correcte.")})

    def rule_delete_view(self, request, pk, rule_id):
        ruleset = self._version(request, pk)
        if request.method != "POST":
            raise PermissionDenied
        try:
            ruleset_rule_delete(actor=request.user, ruleset=ruleset, rule_id=rule_id)
        except (RulesetError, PermissionDenied) as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Règle « %(rule)s » retirée du brouillon.") % {"rule": rule_id})
        return redirect(self._page_url(ruleset))

    # --- The steps ------------------------------------------------------------------------

    def step_view(self, request, pk, step):
        ruleset = self._version(request, pk)
        if step not in STEPS:
            raise Http404
        service, perm, title, button, _states, note_required = STEPS[step]
        if not request.user.has_perm(perm):
            raise PermissionDenied
        form = NoteForm(request.POST or None)
        if note_required:
            form.fields["note"].required = True
        status = 200
        if request.method == "POST" and form.is_valid():
            note = form.cleaned_data["note"]
            try:
                if step == "draft":
                    done = ruleset_draft_create(actor=request.user, based_on=ruleset, note=note)
                elif step == "rollback":
                    done = ruleset_rollback(actor=request.user, to=ruleset, note=note)
                else:
                    done = service(actor=request.user, ruleset=ruleset, note=note)
            except RulesetError as exc:
                form.add_error(None, str(exc))
                status = 400
            else:
                messages.success(
                    request,
                    STEP_DONE[step]
                    % {"n": done.number, "from": ruleset.number, "seconds": int(settings.ML_REGISTRY_REFRESH_SECONDS)},
                )
                return redirect(self._page_url(done))
        elif request.method == "POST":
            status = 400
        published, diff = ruleset_diff_against_published(ruleset)
        context = self._context(
            request,
            title=title % {"n": ruleset.number},
            ruleset=ruleset,
            form=form,
            submit=button,
            published=published,
            diff_lines=ruleset_diff_lines(diff, [r.spec() for r in ruleset.rules.all()]),
            action_url=reverse("admin:fraud_ruleset_step", args=[ruleset.pk, step]),
        )
        return TemplateResponse(request, "admin/fraud/ruleset/confirm.html", context, status=status)

    def backtest_view(self, request, pk):
        ruleset = self._version(request, pk)
        if request.method != "POST" or not request.user.has_perm("fraud.change_ruleset"):
            raise PermissionDenied
        form = BacktestForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Fenêtre de rétro-test invalide."))
            return redirect(self._page_url(ruleset))
        backtest_enqueue(ruleset=ruleset, window_days=form.cleaned_data["window_days"], actor=request.user)
        messages.success(
            request,
            _("Rétro-test de la version %(n)s sur %(days)s jours lancé : le résultat s'affiche ici une fois fini.")
            % {"n": ruleset.number, "days": form.cleaned_data["window_days"]},
        )
        return redirect(self._page_url(ruleset))
