"""The back-office's Models section: model versions per model, their cards, activate, roll back, retrain.

The changelist is replaced by an overview per model (credit, fraud): versions
with their headline metrics, training-data size, dates and who activated
them, the model's health, and the latest retraining requests with their
status. A version's page shows its model card and feature importances.
Actions are POSTs to small views that check `sunusav.activate_modelversion`
or `sunusav.train_modelversion` (the "Risk admin" group) and call
`sunusav.ml.lifecycle`, which audits each change in its transaction.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from backoffice import selectors
from backoffice.charts import hbar_chart
from backoffice.shadow import shadow_comparison
from sunusav import models
from sunusav.ml import lifecycle
from sunusav.ml.registry import ArtifactError, ChallengerError

ACTIVATE_PERMISSION = "sunusav.activate_modelversion"
TRAIN_PERMISSION = "sunusav.train_modelversion"

RUN_STATUS_LABELS = {
    "queued": gettext_lazy("en file"),
    "waiting": gettext_lazy("en attente"),
    "running": gettext_lazy("en cours"),
    "success": gettext_lazy("terminé"),
    "failure": gettext_lazy("échec"),
}


def _run_for_display(run: dict) -> dict:
    return {**run, "status_label": RUN_STATUS_LABELS.get(run["status"], run["status"])}


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
class ModelVersionAdmin(admin.ModelAdmin):
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
                    "health": health.get(name),
                    "previous": previous,
                    "versions": [
                        {
                            "row": mv,
                            "metrics": selectors.headline_metrics(mv),
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
                [k for k, _ in importances],
                [v * 100 for _, v in importances],
                title=_("Importance des variables (%)"),
                unit=" %",
            )
            if importances
            else None
        )
        history = models.AnalystAction.objects.filter(target_type="modelversion", target_id=str(mv.pk)).select_related(
            "actor"
        )[:20]
        context = self._context(
            request,
            title=str(mv),
            object=mv,
            card=card,
            metrics_rows=selectors.flatten_metrics(mv.metrics or card.get("metrics") or {}),
            importances=importances,
            importances_chart=chart,
            training_rows=selectors.training_rows(mv),
            training_data=card.get("training_data") or card.get("counts") or {},
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
            share = float(request.POST.get("ab_share_percent") or 0) / 100
        except ValueError:
            share = -1.0
        try:
            lifecycle.challenger_set(model_version=mv, actor=request.user, ab_share=share, note=self._note(request))
        except (ChallengerError, ArtifactError) as exc:
            messages.error(request, _("Challenger refusé : %(error)s") % {"error": exc})
        else:
            messages.success(
                request,
                _("%(version)s est challenger (%(share)s %% des membres servis par lui).")
                % {"version": mv, "share": f"{share * 100:g}"},
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
        except ChallengerError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Plus de challenger pour %(name)s.") % {"name": name})
        return redirect(self._overview_url())

    def challenger_promote_view(self, request, name):
        return require_POST(self._challenger_promote)(request, name)

    def _challenger_promote(self, request, name):
        if not self.has_activate_permission(request):
            raise PermissionDenied
        if name not in selectors.MODEL_NAMES:
            raise Http404
        try:
            action = lifecycle.challenger_promote(name=name, actor=request.user, note=self._note(request))
        except (ChallengerError, ArtifactError) as exc:
            messages.error(request, _("Promotion refusée : %(error)s") % {"error": exc})
        else:
            selectors.dashboard_cache_clear()
            messages.success(
                request,
                _("Le challenger %(version)s de %(name)s est maintenant en service.")
                % {"name": name, "version": action.after.get("active_version") or ""},
            )
        return redirect(self._overview_url())

    # --- Actions (POST) -------------------------------------------------------------------

    @staticmethod
    def _note(request) -> str:
        return (request.POST.get("note") or "").strip()[:2000]

    def activate_view(self, request, pk):
        return require_POST(self._activate)(request, pk)

    def _activate(self, request, pk):
        if not self.has_activate_permission(request):
            raise PermissionDenied
        mv = get_object_or_404(models.ModelVersion, pk=pk)
        if mv.status == models.ModelVersion.Status.ACTIVE:
            messages.info(request, _("%(version)s est déjà en service.") % {"version": mv})
            return redirect(self._overview_url())
        try:
            lifecycle.model_version_activate_by(actor=request.user, model_version=mv, note=self._note(request))
        except ArtifactError as exc:
            messages.error(request, _("Activation refusée : artefact invalide (%(error)s).") % {"error": exc})
        else:
            selectors.dashboard_cache_clear()
            messages.success(request, _("%(version)s est maintenant en service.") % {"version": mv})
        return redirect(self._overview_url())

    def rollback_view(self, request, name):
        return require_POST(self._rollback)(request, name)

    def _rollback(self, request, name):
        if not self.has_activate_permission(request):
            raise PermissionDenied
        if name not in selectors.MODEL_NAMES:
            raise Http404
        try:
            action = lifecycle.model_version_rollback(actor=request.user, name=name, note=self._note(request))
        except lifecycle.NothingToRollBack:
            messages.error(request, _("Aucune version précédente de %(name)s à remettre en service.") % {"name": name})
        except ArtifactError as exc:
            messages.error(request, _("Retour refusé : artefact invalide (%(error)s).") % {"error": exc})
        else:
            selectors.dashboard_cache_clear()
            messages.success(
                request,
                _("Retour à %(name)s %(version)s (remplace %(before)s).")
                % {
                    "name": name,
                    "version": action.after.get("active_version"),
                    "before": action.before.get("active_version") or "—",
                },
            )
        return redirect(self._overview_url())

    def retrain_view(self, request, name):
        return require_POST(self._retrain)(request, name)

    def _retrain(self, request, name):
        if not self.has_train_permission(request):
            raise PermissionDenied
        if name not in selectors.MODEL_NAMES:
            raise Http404
        action = lifecycle.model_retrain_enqueue(actor=request.user, name=name, note=self._note(request))
        messages.success(request, _("Entraînement de %(name)s demandé.") % {"name": name})
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
            title=_("Entraînement de %(name)s") % {"name": run["model"]},
            run=run,
            new_version=version,
            refresh=run["status"] not in ("success", "failure"),
        )
        return TemplateResponse(request, "admin/sunusav/modelversion/run.html", context)
