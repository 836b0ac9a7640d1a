"""The back-office's Models section: model versions per model, their cards, activate, roll back, retrain.

The changelist is replaced by an overview per model (credit, fraud): versions
with their headline metrics, training-data size, dates and who activated
them, the model's health, and the latest retraining requests with their
status. A version's page shows its model card and feature importances.
Actions are POSTs to small views that check `sunusav.activate_modelversion`
or `sunusav.train_modelversion` (the "Risk admin" group) and call
`sunusav.ml.lifecycle`, which audits each change in its transaction.

Activating a version and rolling back go through a confirmation page
(GET): the version proposed and the one in service scored on the same
held-out rows (`backoffice.holdout`), warnings when the proposed one is
worse or its own training had kept the other, and a required reason, which
the audit row keeps as its note (POST).
"""

import logging

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from backoffice import model_cards, selectors
from backoffice.forms import ModelChangeForm, number_from_text
from backoffice.holdout import holdout_comparison
from backoffice.shadow import shadow_comparison
from sunusav import models
from sunusav.admin_utils import FrenchTitlesMixin
from sunusav.charts import hbar_chart
from sunusav.ml import lifecycle
from sunusav.ml.registry import ArtifactError, ChallengerError, active_version_row, challenger_version_row
from sunusav.presenters import label_of, model_label, number_text

logger = logging.getLogger(__name__)

ACTIVATE_PERMISSION = "sunusav.activate_modelversion"
# What a person is told when an artifact does not verify (the registry's English detail goes to the log).
ARTIFACT_INVALID = gettext_lazy("artefact invalide, manquant ou différent de son empreinte enregistrée")
TRAIN_PERMISSION = "sunusav.train_modelversion"

RUN_STATUS_LABELS = {
    "queued": gettext_lazy("en file"),
    "waiting": gettext_lazy("en attente"),
    "running": gettext_lazy("en cours"),
    "success": gettext_lazy("terminé"),
    "failure": gettext_lazy("échec"),
}


def _run_for_display(run: dict) -> dict:
    result = run["result"] or {}
    return {
        **run,
        "status_label": RUN_STATUS_LABELS.get(run["status"], run["status"]),
        "model_label": model_label(run["model"]),
        "result_text": model_cards.retrain_result_text(run["result"]),
        "result_metrics": model_cards.headline_texts(list((result.get("metrics") or {}).items())),
    }


def _history_text(action: models.AnalystAction) -> str:
    """Say what one audited action did to a version: "20261124-… → 20261201-…", "challenger 2026…"."""
    before, after = action.before or {}, action.after or {}
    if action.action == models.AnalystAction.Action.RETRAIN:
        return _("entraînement demandé")
    if after.get("role") == "challenger":
        return _("challenger : %(version)s") % {"version": after.get("challenger_version") or "—"}
    return f"{before.get('active_version') or '—'} → {after.get('active_version') or '—'}"


COMPARISON_DAYS = 7
COMPARISON_LIMIT = 5_000  # newest audit rows per key: a page view stays well under a second


def _challenger_panel(mv: models.ModelVersion) -> dict | None:
    """Champion vs challenger on the same requests of the last week, for the challenger's page."""
    if mv.status != models.ModelVersion.Status.CHALLENGER:
        return None
    from datetime import timedelta

    from django.utils import timezone

    comparison = shadow_comparison(
        mv.name,
        since=timezone.now() - timedelta(days=COMPARISON_DAYS),
        challenger_version=mv.version,
        limit=COMPARISON_LIMIT,
    )
    return {
        "ab_share_percent": round(float((mv.manifest or {}).get("ab_share") or 0) * 100, 2),
        "days": COMPARISON_DAYS,
        "comparison": comparison,
        "labeled_rows": [
            (_("champion"), comparison["labeled"]["champion"]),
            (_("challenger"), comparison["labeled"]["challenger"]),
        ],
    }


@admin.register(models.ModelVersion)
class ModelVersionAdmin(FrenchTitlesMixin, admin.ModelAdmin):
    list_display = ["name", "version", "status", "created_at", "activated_at", "activated_by"]
    list_filter = ["name", "status"]
    readonly_fields = [f.name for f in models.ModelVersion._meta.fields]

    def has_add_permission(self, request):
        return False  # versions come from training, never typed in

    def has_activate_permission(self, request) -> bool:
        return request.user.has_perm(ACTIVATE_PERMISSION)

    def has_train_permission(self, request) -> bool:
        return request.user.has_perm(TRAIN_PERMISSION)

    # --- URLs -------------------------------------------------------------------------

    def get_urls(self):
        opts = self.model._meta
        prefix = f"{opts.app_label}_{opts.model_name}"
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/activate/", wrap(self.activate_view), name=f"{prefix}_activate"),
            path("rollback/<str:name>/", wrap(self.rollback_view), name=f"{prefix}_rollback"),
            path("retrain/<str:name>/", wrap(self.retrain_view), name=f"{prefix}_retrain"),
            path("runs/<int:action_id>/", wrap(self.run_view), name=f"{prefix}_run"),
            path("<int:pk>/challenger/", wrap(self.challenger_view), name=f"{prefix}_challenger"),
            path("challenger/<str:name>/clear/", wrap(self.challenger_clear_view), name=f"{prefix}_challenger_clear"),
            path(
                "challenger/<str:name>/promote/",
                wrap(self.challenger_promote_view),
                name=f"{prefix}_challenger_promote",
            ),
            *super().get_urls(),
        ]

    def _overview_url(self) -> str:
        return reverse("admin:sunusav_modelversion_changelist")

    def _context(self, request, **extra) -> dict:
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "can_activate": self.has_activate_permission(request),
            "can_train": self.has_train_permission(request),
            **extra,
        }

    # --- Pages --------------------------------------------------------------------------

    def changelist_view(self, request, extra_context=None):
        """Show each model's versions, health and retraining runs (replaces the plain list)."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        health = {h["name"]: h for h in selectors.model_health()}
        sections = []
        for name in selectors.MODEL_NAMES:
            versions = list(models.ModelVersion.objects.filter(name=name).order_by("-created_at"))
            previous = lifecycle.previous_active_version(name=name)
            sections.append(
                {
                    "name": name,
                    "label": model_label(name),
                    "health": health.get(name),
                    "previous": previous,
                    "versions": [
                        {
                            "row": mv,
                            "metrics": selectors.headline_metrics(mv),
                            "metric_texts": model_cards.headline_texts(selectors.headline_metrics(mv)),
                            "training_rows": selectors.training_rows(mv),
                        }
                        for mv in versions
                    ],
                    "runs": [_run_for_display(r) for r in selectors.retrain_runs(name=name, limit=5)],
                }
            )
        context = self._context(request, title=_("Modèles"), sections=sections, **(extra_context or {}))
        return TemplateResponse(request, "admin/sunusav/modelversion/overview.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """Show one version's model card, metrics, feature importances and audit history."""
        if request.method != "GET":
            raise PermissionDenied  # versions are immutable; actions have their own views
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        mv = self.get_object(request, object_id)
        if mv is None:
            raise Http404
        card = mv.manifest or {}
        importances = selectors.feature_importances(mv)
        chart = (
            hbar_chart(
                [label_of("feature", k) for k, _ in importances],
                [v * 100 for _, v in importances],
                title=_("Importance des variables (%)"),
                unit=" %",
                width=520,
                label_width=250,  # the features' French labels are longer than their codes
            )
            if importances
            else None
        )
        history = [
            {"action": a, "text": _history_text(a)}
            for a in models.AnalystAction.objects.filter(
                target_type="modelversion", target_id=str(mv.pk)
            ).select_related("actor")[:20]
        ]
        flat = selectors.flatten_metrics(mv.metrics or card.get("metrics") or {})
        context = self._context(
            request,
            title=model_cards.version_title(mv),
            object=mv,
            card=card,
            card_text=model_cards.card_for_display(mv),
            metrics_rows=flat,
            metric_rows=model_cards.metric_rows(flat),
            importances=importances,
            importances_chart=chart,
            training_rows=selectors.training_rows(mv),
            training_data=card.get("training_data") or card.get("counts") or {},
            training_data_rows=model_cards.training_data_rows(card.get("training_data") or card.get("counts") or {}),
            library_versions=card.get("library_versions") or {},
            history=history,
            challenger=_challenger_panel(mv),
            **(extra_context or {}),
        )
        return TemplateResponse(request, "admin/sunusav/modelversion/detail.html", context)

    # --- Champion and challenger (POST) ---------------------------------------------------

    def challenger_view(self, request, pk):
        return require_POST(self._challenger_set)(request, pk)

    def _challenger_set(self, request, pk):
        if not self.has_activate_permission(request):
            raise PermissionDenied
        mv = get_object_or_404(models.ModelVersion, pk=pk)
        try:
            share = float(number_from_text(request.POST.get("ab_share_percent") or "0")) / 100
        except ValueError:
            share = -1.0
        if not 0.0 <= share <= 1.0:
            messages.error(
                request,
                _("Challenger refusé : %(error)s") % {"error": _("la part A/B doit être entre 0 et 100 %%") % {}},
            )
            return redirect(reverse("admin:sunusav_modelversion_change", args=[mv.pk]))
        try:
            lifecycle.challenger_set(model_version=mv, actor=request.user, ab_share=share, note=self._note(request))
        except ArtifactError as exc:
            logger.warning("challenger refused: %s", exc)
            messages.error(request, _("Challenger refusé : %(error)s") % {"error": ARTIFACT_INVALID})
        except ChallengerError as exc:  # the page offers no such case (active or retired version): kept as said
            messages.error(request, _("Challenger refusé : %(error)s") % {"error": exc})
        else:
            messages.success(
                request,
                _("%(version)s est challenger (%(share)s %% des membres servis par lui).")
                % {"version": model_cards.version_title(mv), "share": number_text(share * 100, max_decimals=2)},
            )
        return redirect(reverse("admin:sunusav_modelversion_change", args=[mv.pk]))

    def challenger_clear_view(self, request, name):
        return require_POST(self._challenger_clear)(request, name)

    def _challenger_clear(self, request, name):
        if not self.has_activate_permission(request):
            raise PermissionDenied
        if name not in selectors.MODEL_NAMES:
            raise Http404
        try:
            lifecycle.challenger_clear(name=name, actor=request.user, note=self._note(request))
        except ChallengerError:  # the only case: no challenger (someone cleared it meanwhile)
            messages.error(request, _("Le modèle de %(name)s n'a pas de challenger.") % {"name": model_label(name)})
        else:
            messages.success(request, _("Plus de challenger pour le modèle de %(name)s.") % {"name": model_label(name)})
        return redirect(self._overview_url())

    def challenger_promote_view(self, request, name):
        """Confirm (GET: the challenger against the champion on the same held-out rows, reason asked) then promote.

        Promoting puts the challenger in service for every member: the same
        confirmation as an activation, not one click.
        """
        if not self.has_activate_permission(request):
            raise PermissionDenied
        if name not in selectors.MODEL_NAMES:
            raise Http404
        challenger = challenger_version_row(name)
        if challenger is None:
            messages.error(request, _("Le modèle de %(name)s n'a pas de challenger.") % {"name": model_label(name)})
            return redirect(self._overview_url())
        active = active_version_row(name)
        state = {"compared_with": active.version if active else "", "candidate": challenger.version}
        form = ModelChangeForm(request.POST or None, initial=state)
        if request.method == "POST" and form.is_valid():
            if self._changed_meanwhile(request, form, state):
                form = ModelChangeForm(initial={**state, "reason": form.cleaned_data["reason"]})
                return self._confirm_page(request, form, candidate=challenger, active=active, kind="promote")
            return self._challenger_promote(request, name, note=form.cleaned_data["reason"])
        return self._confirm_page(request, form, candidate=challenger, active=active, kind="promote")

    def _challenger_promote(self, request, name, *, note: str):
        try:
            action = lifecycle.challenger_promote(name=name, actor=request.user, note=note)
        except ArtifactError as exc:
            logger.warning("promotion refused: %s", exc)
            messages.error(request, _("Promotion refusée : %(error)s") % {"error": ARTIFACT_INVALID})
        except ChallengerError:  # the only case: no challenger (someone cleared it meanwhile)
            messages.error(request, _("Le modèle de %(name)s n'a pas de challenger.") % {"name": model_label(name)})
        else:
            selectors.dashboard_cache_clear()
            messages.success(
                request,
                _("Le challenger %(version)s du modèle de %(name)s est maintenant en service.")
                % {"name": model_label(name), "version": action.after.get("active_version") or ""},
            )
        return redirect(self._overview_url())

    # --- Actions (POST) -------------------------------------------------------------------

    @staticmethod
    def _note(request) -> str:
        return (request.POST.get("note") or "").strip()[:2000]

    def activate_view(self, request, pk):
        """Confirm (GET: comparison on the same held-out rows, reason asked) then activate (POST) one version."""
        if not self.has_activate_permission(request):
            raise PermissionDenied
        mv = get_object_or_404(models.ModelVersion, pk=pk)
        if mv.status == models.ModelVersion.Status.ACTIVE:
            messages.info(request, _("%(version)s est déjà en service.") % {"version": model_cards.version_title(mv)})
            return redirect(self._overview_url())
        active = active_version_row(mv.name)
        state = {"compared_with": active.version if active else "", "candidate": mv.version}
        form = ModelChangeForm(request.POST or None, initial=state)
        if request.method == "POST" and form.is_valid():
            if self._changed_meanwhile(request, form, state):
                form = ModelChangeForm(initial={**state, "reason": form.cleaned_data["reason"]})
                return self._confirm_page(request, form, candidate=mv, active=active, kind="activate")
            try:
                lifecycle.model_version_activate_by(
                    actor=request.user, model_version=mv, note=form.cleaned_data["reason"]
                )
            except ArtifactError as exc:
                logger.warning("activation refused: %s", exc)
                messages.error(request, _("Activation refusée : %(error)s.") % {"error": ARTIFACT_INVALID})
            else:
                selectors.dashboard_cache_clear()
                messages.success(
                    request, _("%(version)s est maintenant en service.") % {"version": model_cards.version_title(mv)}
                )
            return redirect(self._overview_url())
        return self._confirm_page(request, form, candidate=mv, active=active, kind="activate")

    def rollback_view(self, request, name):
        """Confirm (GET: the previous version against the active one, reason asked) then roll back (POST)."""
        if not self.has_activate_permission(request):
            raise PermissionDenied
        if name not in selectors.MODEL_NAMES:
            raise Http404
        nothing = _("Aucune version précédente du modèle de %(name)s à remettre en service.") % {
            "name": model_label(name)
        }
        previous = lifecycle.previous_active_version(name=name)
        if previous is None:
            messages.error(request, nothing)
            return redirect(self._overview_url())
        active = active_version_row(name)
        state = {"compared_with": active.version if active else "", "candidate": previous.version}
        form = ModelChangeForm(request.POST or None, initial=state)
        if request.method == "POST" and form.is_valid():
            if self._changed_meanwhile(request, form, state):
                form = ModelChangeForm(initial={**state, "reason": form.cleaned_data["reason"]})
                return self._confirm_page(request, form, candidate=previous, active=active, kind="rollback")
            try:
                action = lifecycle.model_version_rollback(
                    actor=request.user, name=name, note=form.cleaned_data["reason"]
                )
            except lifecycle.NothingToRollBack:
                messages.error(request, nothing)
            except ArtifactError as exc:
                logger.warning("rollback refused: %s", exc)
                messages.error(request, _("Retour refusé : %(error)s.") % {"error": ARTIFACT_INVALID})
            else:
                selectors.dashboard_cache_clear()
                messages.success(
                    request,
                    _("Retour du modèle de %(name)s à %(version)s (remplace %(before)s).")
                    % {
                        "name": model_label(name),
                        "version": action.after.get("active_version"),
                        "before": action.before.get("active_version") or "—",
                    },
                )
            return redirect(self._overview_url())
        return self._confirm_page(request, form, candidate=previous, active=active, kind="rollback")

    @staticmethod
    def _changed_meanwhile(request, form, state: dict) -> bool:
        """Whether the versions compared on the page are no longer the ones at stake (then: compare again)."""
        if all(form.cleaned_data[key] == value for key, value in state.items()):
            return False
        messages.warning(request, _("Les versions en jeu ont changé entre-temps : voici la nouvelle comparaison."))
        return True

    def _confirm_page(self, request, form, *, candidate, active, kind: str):
        comparison = holdout_comparison(candidate=candidate, active=active)
        if kind == "activate":
            title = _("Mettre en service : %(version)s") % {"version": model_cards.version_title(candidate)}
            submit = _("Mettre cette version en service")
            action_url = reverse("admin:sunusav_modelversion_activate", args=[candidate.pk])
        elif kind == "promote":
            title = _("Promouvoir le challenger : %(version)s") % {"version": model_cards.version_title(candidate)}
            submit = _("Promouvoir le challenger")
            action_url = reverse("admin:sunusav_modelversion_challenger_promote", args=[candidate.name])
        else:
            title = _("Revenir à la version précédente : %(version)s") % {
                "version": model_cards.version_title(candidate)
            }
            submit = _("Revenir à cette version")
            action_url = reverse("admin:sunusav_modelversion_rollback", args=[candidate.name])
        context = self._context(
            request,
            title=title,
            kind=kind,
            candidate=candidate,
            active=active,
            comparison=comparison,
            form=form,
            submit=submit,
            action_url=action_url,
            model_name_label=model_label(candidate.name),
        )
        return TemplateResponse(request, "admin/sunusav/modelversion/confirm.html", context)

    def retrain_view(self, request, name):
        return require_POST(self._retrain)(request, name)

    def _retrain(self, request, name):
        if not self.has_train_permission(request):
            raise PermissionDenied
        if name not in selectors.MODEL_NAMES:
            raise Http404
        action = lifecycle.model_retrain_enqueue(actor=request.user, name=name, note=self._note(request))
        messages.success(request, _("Entraînement du modèle de %(name)s demandé.") % {"name": model_label(name)})
        return redirect(reverse("admin:sunusav_modelversion_run", args=[action.pk]))

    def run_view(self, request, action_id):
        """Show one retraining request: waiting, running, or its result (refreshes itself until done)."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        action = get_object_or_404(
            models.AnalystAction.objects.select_related("actor"),
            pk=action_id,
            action=models.AnalystAction.Action.RETRAIN,
        )
        run = _run_for_display(selectors.retrain_run(action))
        version = None
        if run["result"] and run["result"].get("version"):
            version = models.ModelVersion.objects.filter(
                name=run["result"].get("model"), version=run["result"]["version"]
            ).first()
        context = self._context(
            request,
            title=_("Entraînement du modèle de %(name)s") % {"name": model_label(run["model"])},
            run=run,
            new_version=version,
            refresh=run["status"] not in ("success", "failure"),
        )
        return TemplateResponse(request, "admin/sunusav/modelversion/run.html", context)
