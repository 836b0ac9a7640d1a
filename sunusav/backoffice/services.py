"""Writes of the back-office's Models section: activate, roll back, retrain.

Each runs in one transaction with its `AnalystAction` row (sunusav.analyst),
so a model change is never made without its audit row. Permissions are the
caller's job (the admin views check `sunusav.activate_modelversion` and
`sunusav.train_modelversion`); these functions trust their caller.
"""

from __future__ import annotations

import uuid
from types import SimpleNamespace

from django.db import transaction

from sunusav.analyst import action_record
from sunusav.backoffice.selectors import MODEL_NAMES, previous_active_version
from sunusav.ml.registry import active_version_row, artifact_verify, model_version_activate
from sunusav.models import AnalystAction, ModelVersion
from sunusav.queues import NORMAL, enqueue

# Training runs on the `credit` cluster, whichever model it trains: that
# cluster's timeout (Q_CREDIT_TIMEOUT, 10 min) is sized for batch work, while
# the fraud cluster's (1 min) is sized for real-time checks and would kill a
# training run, then hand it out again after its retry delay.
TRAINING_QUEUE = "credit"
TRAINING_TASK = "sunusav.backoffice.tasks.model_train"


class NothingToRollBack(Exception):
    """No other version of this model has ever been active."""


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
    if name not in MODEL_NAMES:
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
