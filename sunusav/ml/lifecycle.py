"""Every change to a model's life: register, activate, roll back, challenger set / clear / promote, retrain.

The one module that writes `ModelVersion` rows. A change an analyst makes
(`actor` given) commits with its `AnalystAction` row in the same transaction
(`sunusav.audit_trail`), so no model changes without its audit row; training
and `models_sync` register and activate as the system. Reads (which version
serves, the artifacts on disk) stay in `sunusav.ml.registry`. Every serving
process sees a change within ML_REGISTRY_REFRESH_SECONDS (at once in this one:
the registry is invalidated on commit).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from types import SimpleNamespace

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from sunusav.audit_trail import action_record
from sunusav.ml.registry import (
    AB_SHARE_KEY,
    MANIFEST,
    ArtifactError,
    ChallengerError,
    ab_share_of,
    active_version_row,
    artifact_verify,
    registry,
)
from sunusav.models import AnalystAction, ModelVersion
from sunusav.queues import NORMAL, enqueue

# Training runs on the `credit` cluster, whichever model it trains: that
# cluster's timeout (Q_CREDIT_TIMEOUT, 10 min) is sized for batch work, while
# the fraud cluster's (1 min) is sized for real-time checks and would kill a
# training run, then hand it out again after its retry delay.
TRAINING_QUEUE = "credit"
TRAINING_TASK = "sunusav.ml.tasks.model_train"


class NothingToRollBack(Exception):
    """No other version of this model has ever been active."""


def model_version_register(*, manifest: dict, activate: bool = False, activated_by: str = ""):
    """Record a written artifact as a `ModelVersion`, optionally activating it."""

    model_version, _ = ModelVersion.objects.update_or_create(
        name=manifest["name"],
        version=manifest["version"],
        defaults={
            "sha256": manifest["sha256"],
            "metrics": manifest.get("metrics", {}),
            "manifest": manifest,
        },
    )
    if activate:
        model_version_activate(model_version=model_version, activated_by=activated_by)
    return model_version


@transaction.atomic
def model_version_activate(*, model_version, activated_by: str = ""):
    """Make one version the active one of its model; the previous one goes inactive."""

    # Lock the model's rows so two activations cannot both succeed half-way.
    list(ModelVersion.objects.select_for_update().filter(name=model_version.name))
    ModelVersion.objects.filter(name=model_version.name, status=ModelVersion.Status.ACTIVE).exclude(
        pk=model_version.pk
    ).update(status=ModelVersion.Status.INACTIVE)
    model_version.status = ModelVersion.Status.ACTIVE
    model_version.activated_at = timezone.now()
    model_version.activated_by = activated_by
    model_version.save(update_fields=["status", "activated_at", "activated_by"])
    # Now for this process (which may already have cached the old state in this transaction),
    # and again once committed, so no reload in between keeps the old version.
    registry.invalidate(model_version.name)
    transaction.on_commit(lambda: registry.invalidate(model_version.name))
    return model_version


# --- Champion and challenger ------------------------------------------------------------


def _actor_name(actor) -> str:
    return actor.get_username() if actor is not None and getattr(actor, "is_authenticated", False) else "system"


def _without_share(manifest: dict | None) -> dict:
    return {k: v for k, v in (manifest or {}).items() if k != AB_SHARE_KEY}


def _locked_roles(name: str):
    """Lock every version of model `name`; return (rows by pk, champion row, challenger row)."""

    rows = {row.pk: row for row in ModelVersion.objects.select_for_update().filter(name=name).order_by("pk")}
    champion = next((r for r in rows.values() if r.status == ModelVersion.Status.ACTIVE), None)
    challenger = next((r for r in rows.values() if r.status == ModelVersion.Status.CHALLENGER), None)
    return rows, champion, challenger


def _roles(name: str, champion, challenger) -> dict:
    return {
        "model": name,
        "active_version": champion.version if champion else None,
        "challenger_version": challenger.version if challenger else None,
        "ab_share": ab_share_of(challenger.manifest) if challenger else None,
    }


@transaction.atomic
def challenger_set(*, model_version, actor, ab_share: float = 0.0, note: str = ""):
    """Make `model_version` its model's challenger (replacing any other); return the audit row.

    The challenger scores the same traffic as the champion in shadow; with
    `ab_share` > 0 that share of members (stable by member id) is served by
    it instead. Raises `ChallengerError` for the active version, a retired
    one or a share outside [0, 1], and `ArtifactError` when its artifact does
    not verify; nothing changes then. Recorded as an `activate` action whose
    `after` names the challenger (`role: challenger`).
    """

    try:
        share = float(ab_share)
    except (TypeError, ValueError) as exc:
        raise ChallengerError(f"ab_share must be a number in [0, 1], not {ab_share!r}") from exc
    if not 0.0 <= share <= 1.0:
        raise ChallengerError(f"ab_share must be in [0, 1], not {ab_share!r}")
    name = model_version.name
    rows, champion, previous = _locked_roles(name)
    row = rows.get(model_version.pk)
    if row is None:
        raise ChallengerError(f"{model_version} no longer exists")
    if row.status == ModelVersion.Status.ACTIVE:
        raise ChallengerError(f"{row} is the active version (the champion)")
    if row.status == ModelVersion.Status.RETIRED:
        raise ChallengerError(f"{row} is retired")
    artifact_verify(name=name, version=row.version, expected_sha256=row.sha256)
    before = _roles(name, champion, previous)
    if previous is not None and previous.pk != row.pk:
        previous.status = ModelVersion.Status.INACTIVE
        previous.manifest = _without_share(previous.manifest)
        previous.save(update_fields=["status", "manifest"])
    row.status = ModelVersion.Status.CHALLENGER
    row.manifest = {**(row.manifest or {}), AB_SHARE_KEY: share}
    row.save(update_fields=["status", "manifest"])
    transaction.on_commit(lambda: registry.invalidate(name))
    return action_record(
        actor=actor,
        action=AnalystAction.Action.ACTIVATE,
        target=row,
        before=before,
        after={
            **_roles(name, champion, row),
            "role": "challenger",
            "replaced_challenger": previous.version if previous is not None and previous.pk != row.pk else None,
        },
        note=note,
    )


@transaction.atomic
def challenger_clear(*, name: str, actor, note: str = ""):
    """Stop model `name`'s challenger (it goes inactive); return the audit row (`activate`, `role: challenger`).

    Raises `ChallengerError` when the model has no challenger.
    """

    _, champion, challenger = _locked_roles(name)
    if challenger is None:
        raise ChallengerError(f"model {name!r} has no challenger")
    before = _roles(name, champion, challenger)
    challenger.status = ModelVersion.Status.INACTIVE
    challenger.manifest = _without_share(challenger.manifest)
    challenger.save(update_fields=["status", "manifest"])
    transaction.on_commit(lambda: registry.invalidate(name))
    return action_record(
        actor=actor,
        action=AnalystAction.Action.ACTIVATE,
        target=challenger,
        before=before,
        after={**_roles(name, champion, None), "role": "challenger", "cleared_challenger": challenger.version},
        note=note,
    )


@transaction.atomic
def challenger_promote(*, name: str, actor, note: str = ""):
    """Make model `name`'s challenger the active version; the old champion goes inactive. Return the audit row.

    The old champion keeps its `activated_at`, so a rollback
    (`backoffice.services.model_version_rollback`) brings it back; the
    `promote` action also names it (`after.previous_version`). Raises
    `ChallengerError` without a challenger and `ArtifactError` when the
    challenger's artifact does not verify; nothing changes then.
    """

    _, champion, challenger = _locked_roles(name)
    if challenger is None:
        raise ChallengerError(f"model {name!r} has no challenger")
    artifact_verify(name=name, version=challenger.version, expected_sha256=challenger.sha256)
    before = _roles(name, champion, challenger)
    challenger.manifest = _without_share(challenger.manifest)
    challenger.save(update_fields=["manifest"])
    model_version_activate(model_version=challenger, activated_by=_actor_name(actor))
    return action_record(
        actor=actor,
        action=AnalystAction.Action.PROMOTE,
        target=challenger,
        before=before,
        after={
            **_roles(name, challenger, None),
            "active_id": challenger.pk,
            "previous_version": champion.version if champion else None,
            "previous_id": champion.pk if champion else None,
        },
        note=note,
    )


def artifacts_sync(*, activated_by: str = "artifacts_sync") -> list[str]:
    """Register every artifact on disk; activate each model's newest if none is active.

    Lets a fresh database serve the models shipped in `ml_artifacts/`.
    Returns one line per change, for the command's output.
    """

    changes = []
    root = Path(settings.ML_ARTIFACTS_DIR)
    for model_dir in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        newest = None
        for version_dir in sorted(p for p in model_dir.iterdir() if (p / MANIFEST).is_file()):
            try:
                manifest = artifact_verify(name=model_dir.name, version=version_dir.name)
            except ArtifactError as exc:
                changes.append(f"skipped: {exc}")
                continue
            existing = ModelVersion.objects.filter(name=model_dir.name, version=version_dir.name).first()
            if existing is None:
                model_version_register(manifest=manifest)
                changes.append(f"registered {model_dir.name} {version_dir.name}")
            newest = manifest
        if newest and active_version_row(model_dir.name) is None:
            row = ModelVersion.objects.get(name=newest["name"], version=newest["version"])
            model_version_activate(model_version=row, activated_by=activated_by)
            changes.append(f"activated {row.name} {row.version}")
    return changes


# --- Analysts' changes (the Models section) ----------------------------------------------


def previous_active_version(*, name: str) -> ModelVersion | None:
    """Return the version of model `name` most recently active before the current one (None if none)."""
    return (
        ModelVersion.objects.filter(name=name, activated_at__isnull=False)
        .exclude(status=ModelVersion.Status.ACTIVE)
        .order_by("-activated_at")
        .first()
    )


def _state(model_version: ModelVersion | None) -> dict:
    if model_version is None:
        return {"active_version": None}
    return {"active_version": model_version.version, "active_id": model_version.pk}


@transaction.atomic
def model_version_activate_by(*, actor, model_version: ModelVersion, note: str = "") -> AnalystAction:
    """Activate `model_version` for `actor` after checking its artifact; record who and what it replaced.

    Raises `sunusav.ml.registry.ArtifactError` (and changes nothing) when the
    artifact is missing or does not match its recorded sha256.
    """
    artifact_verify(name=model_version.name, version=model_version.version, expected_sha256=model_version.sha256)
    before = active_version_row(model_version.name)
    model_version_activate(model_version=model_version, activated_by=actor.get_username())
    return action_record(
        actor=actor,
        action=AnalystAction.Action.ACTIVATE,
        target=model_version,
        before={"model": model_version.name, **_state(before)},
        after={"model": model_version.name, **_state(model_version)},
        note=note,
    )


@transaction.atomic
def model_version_rollback(*, actor, name: str, note: str = "") -> AnalystAction:
    """Reactivate the version of model `name` that was active before the current one.

    The previous version is the most recently activated of the others
    (`activated_at` survives deactivation, whoever activated it: an analyst,
    training or `models_sync`). Raises `NothingToRollBack` if there is none.
    """
    list(ModelVersion.objects.select_for_update().filter(name=name))  # one rollback at a time
    previous = previous_active_version(name=name)
    if previous is None:
        raise NothingToRollBack(name)
    artifact_verify(name=previous.name, version=previous.version, expected_sha256=previous.sha256)
    before = active_version_row(name)
    model_version_activate(model_version=previous, activated_by=actor.get_username())
    return action_record(
        actor=actor,
        action=AnalystAction.Action.ROLLBACK,
        target=previous,
        before={"model": name, **_state(before)},
        after={"model": name, **_state(previous)},
        note=note,
    )


@transaction.atomic
def model_retrain_enqueue(*, actor, name: str, note: str = "") -> AnalystAction:
    """Enqueue a training run of model `name` (after commit) and record it; return the audit row.

    The django-q2 task is named after the action (`after.task_name`), so the
    Models section finds its status and result in django-q2's tables.
    """
    if name not in registry.names:
        raise ValueError(f"unknown model {name!r}")
    task_name = f"retrain-{name}-{uuid.uuid4().hex[:12]}"
    current = active_version_row(name)
    # The action concerns the model as a whole: its active version when there is one.
    target = current or SimpleNamespace(_meta=ModelVersion._meta, pk=name)
    action = action_record(
        actor=actor,
        action=AnalystAction.Action.RETRAIN,
        target=target,
        before={"model": name, **_state(current)},
        after={"model": name, "task_name": task_name, "queue": TRAINING_QUEUE},
        note=note,
    )
    enqueue(
        TRAINING_TASK,
        name,
        actor.get_username(),
        queue=TRAINING_QUEUE,
        priority=NORMAL,
        task_name=task_name,
    )
    return action
