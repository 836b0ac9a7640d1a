"""The one place models are stored, verified, activated and loaded.

Each artifact sits in `ML_ARTIFACTS_DIR/<name>/<version>/` beside a
`manifest.json` (its model card): ordered feature list, library versions,
training-data hash, metrics, and the sha256 of every file. A `ModelVersion`
row says which version of each model is active.

Serving processes load the active model lazily, once, never at import time,
and re-read which version is active every `ML_REGISTRY_REFRESH_SECONDS`, so an
activation reaches every worker without a restart. A missing, tampered or
unloadable artifact never raises into a request: `get_active` returns `None`,
the caller falls back to its rules, and `status` says `degraded` with why.

Champion and challenger: beside the active version (the champion) one version
per model may be the `challenger` (`challenger_set`, `challenger_clear`,
`challenger_promote`, each audited). It is loaded the same lazy way, on the
same refresh (one query reads both), and scores the same traffic in shadow
(see `credit.scoring.serve_matrix`, `fraud.detectors.score_rows`); with an
`ab_share` above 0 it serves that share of members for an A/B test. A broken
challenger only empties its own slot: the champion is loaded, refreshed and
served exactly as without it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"

Loader = Callable[[Path, dict], Any]


class ArtifactError(Exception):
    """An artifact is missing, incomplete or does not match its recorded hash."""


class ChallengerError(Exception):
    """A challenger operation that cannot be done (no challenger, the champion itself, bad share)."""


@dataclass(frozen=True)
class LoadedModel:
    """An active model in memory, with the manifest it was loaded from."""

    name: str
    version: str
    manifest: dict
    model: Any
    loaded_at: float = field(default_factory=time.time)
    # Challengers only: the share of members (0-1, by a stable hash of the
    # member id) it serves instead of the champion; 0 is pure shadow.
    ab_share: float = 0.0


# --- Files ---------------------------------------------------------------------


def artifact_path(name: str, version: str) -> Path:
    """Return the folder of one artifact version."""
    return Path(settings.ML_ARTIFACTS_DIR) / name / version


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _combined_sha256(file_hashes: dict[str, str]) -> str:
    lines = "".join(f"{name}:{file_hashes[name]}\n" for name in sorted(file_hashes))
    return _sha256_bytes(lines.encode())


def data_hash(rows: Any) -> str:
    """Return a sha256 of training data (anything numpy can view as bytes)."""
    import numpy as np

    array = np.ascontiguousarray(rows)
    return _sha256_bytes(array.tobytes() + str(array.shape).encode())


def library_versions(*modules: str) -> dict[str, str]:
    """Return the installed version of each named distribution."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for module in modules:
        try:
            found[module] = version(module)
        except PackageNotFoundError:
            found[module] = "missing"
    return found


def artifact_write(*, name: str, version: str, files: dict[str, bytes], manifest: dict) -> dict:
    """Write an artifact's files and its manifest; return the completed manifest.

    The manifest gains `name`, `version`, `files` (sha256 of each) and
    `sha256` (one hash over all files), which the registry checks on load.
    """
    folder = artifact_path(name, version)
    if folder.exists():
        raise ArtifactError(f"{folder} already exists; versions are immutable.")
    folder.mkdir(parents=True)
    file_hashes = {}
    for filename, data in files.items():
        (folder / filename).write_bytes(data)
        file_hashes[filename] = _sha256_bytes(data)
    manifest = {
        **manifest,
        "name": name,
        "version": version,
        "files": file_hashes,
        "sha256": _combined_sha256(file_hashes),
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
    return manifest


def artifact_verify(*, name: str, version: str, expected_sha256: str | None = None) -> dict:
    """Return the artifact's manifest after checking every file against it.

    Raises `ArtifactError` when the folder, the manifest or a file is missing,
    or when a hash differs from the manifest or from `expected_sha256` (the
    hash recorded in the database when the version was registered).
    """
    folder = artifact_path(name, version)
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError as exc:
        raise ArtifactError(f"{name} {version}: manifest missing in {folder}") from exc
    except ValueError as exc:
        raise ArtifactError(f"{name} {version}: manifest is not valid JSON") from exc
    recorded = manifest.get("files") or {}
    if not recorded:
        raise ArtifactError(f"{name} {version}: manifest lists no files")
    actual = {}
    for filename in recorded:
        path = folder / filename
        if not path.is_file():
            raise ArtifactError(f"{name} {version}: file {filename} missing")
        actual[filename] = _sha256_file(path)
        if actual[filename] != recorded[filename]:
            raise ArtifactError(f"{name} {version}: file {filename} does not match its sha256")
    combined = _combined_sha256(actual)
    if combined != manifest.get("sha256"):
        raise ArtifactError(f"{name} {version}: manifest sha256 does not match its files")
    if expected_sha256 and combined != expected_sha256:
        raise ArtifactError(f"{name} {version}: artifact differs from the registered sha256")
    return manifest


# --- Versions in the database ------------------------------------------------------


def model_version_register(*, manifest: dict, activate: bool = False, activated_by: str = ""):
    """Record a written artifact as a `ModelVersion`, optionally activating it."""
    from sunusav.models import ModelVersion

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
    from sunusav.models import ModelVersion

    # Lock the model's rows so two activations cannot both succeed half-way.
    list(ModelVersion.objects.select_for_update().filter(name=model_version.name))
    ModelVersion.objects.filter(name=model_version.name, status=ModelVersion.Status.ACTIVE).exclude(
        pk=model_version.pk
    ).update(status=ModelVersion.Status.INACTIVE)
    model_version.status = ModelVersion.Status.ACTIVE
    model_version.activated_at = timezone.now()
    model_version.activated_by = activated_by
    model_version.save(update_fields=["status", "activated_at", "activated_by"])
    transaction.on_commit(lambda: registry.invalidate(model_version.name))
    return model_version


def active_version_row(name: str):
    """Return the active `ModelVersion` of a model, or None."""
    from sunusav.models import ModelVersion

    return ModelVersion.objects.filter(name=name, status=ModelVersion.Status.ACTIVE).first()


# --- Champion and challenger ------------------------------------------------------------

# Key of the A/B share on the challenger row's `manifest` (the database copy of
# the model card; the card on disk is never rewritten).
AB_SHARE_KEY = "ab_share"


def challenger_version_row(name: str):
    """Return the challenger `ModelVersion` of a model, or None."""
    from sunusav.models import ModelVersion

    return ModelVersion.objects.filter(name=name, status=ModelVersion.Status.CHALLENGER).first()


def ab_share_of(manifest: dict | None) -> float:
    """Return the A/B share recorded on a challenger's manifest, clamped to [0, 1] (0 when unset or invalid)."""
    try:
        share = float((manifest or {}).get(AB_SHARE_KEY) or 0.0)
    except (TypeError, ValueError):
        return 0.0
    return min(max(share, 0.0), 1.0) if share == share else 0.0  # NaN -> 0


def _actor_name(actor) -> str:
    return actor.get_username() if actor is not None and getattr(actor, "is_authenticated", False) else "system"


def _without_share(manifest: dict | None) -> dict:
    return {k: v for k, v in (manifest or {}).items() if k != AB_SHARE_KEY}


def _locked_roles(name: str):
    """Lock every version of model `name`; return (rows by pk, champion row, challenger row)."""
    from sunusav.models import ModelVersion

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
    from sunusav.analyst import action_record
    from sunusav.models import AnalystAction, ModelVersion

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
    from sunusav.analyst import action_record
    from sunusav.models import AnalystAction, ModelVersion

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
    (`sunusav.backoffice.services.model_version_rollback`) brings it back; the
    `promote` action also names it (`after.previous_version`). Raises
    `ChallengerError` without a challenger and `ArtifactError` when the
    challenger's artifact does not verify; nothing changes then.
    """
    from sunusav.analyst import action_record
    from sunusav.models import AnalystAction

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
    from sunusav.models import ModelVersion

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


# --- In-process serving cache --------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    version: str
    sha256: str
    ab_share: float = 0.0


def serving_rows(name: str) -> tuple[_Row | None, _Row | None]:
    """Return (active, challenger) versions of model `name` from the database, in one query."""
    from sunusav.models import ModelVersion

    active = challenger = None
    rows = ModelVersion.objects.filter(
        name=name, status__in=[ModelVersion.Status.ACTIVE, ModelVersion.Status.CHALLENGER]
    ).values_list("status", "version", "sha256", f"manifest__{AB_SHARE_KEY}")
    for status, version, sha256, share in rows:
        if status == ModelVersion.Status.ACTIVE:
            active = _Row(version, sha256)
        else:
            challenger = _Row(version, sha256, ab_share_of({AB_SHARE_KEY: share}))
    return active, challenger


@dataclass
class _Slot:
    loaded: LoadedModel | None = None
    checked_at: float = float("-inf")
    error: str = ""
    active_version: str = ""
    challenger: LoadedModel | None = None
    challenger_version: str = ""
    challenger_error: str = ""


class Registry:
    """Per-process cache of active models (and their challengers), keyed by model name."""

    def __init__(self):
        self._loaders: dict[str, Loader] = {}
        self._slots: dict[str, _Slot] = {}
        self._lock = threading.Lock()

    def register_loader(self, name: str, loader: Loader) -> None:
        """Declare how to turn an artifact folder of model `name` into an object."""
        self._loaders[name] = loader

    @property
    def names(self) -> list[str]:
        return sorted(self._loaders)

    def invalidate(self, name: str | None = None) -> None:
        """Forget cached models so the next call re-reads the active version and the challenger."""
        with self._lock:
            if name is None:
                self._slots.clear()
            else:
                self._slots.pop(name, None)

    def _slot(self, name: str) -> _Slot:
        slot = self._slots.get(name)
        if slot is not None and time.monotonic() - slot.checked_at < settings.ML_REGISTRY_REFRESH_SECONDS:
            return slot
        with self._lock:
            slot = self._slots.setdefault(name, _Slot())
            if time.monotonic() - slot.checked_at >= settings.ML_REGISTRY_REFRESH_SECONDS:
                self._refresh(name, slot)
            return slot

    def get_active(self, name: str) -> LoadedModel | None:
        """Return the active model of `name`, or None when it is not usable."""
        return self._slot(name).loaded

    def get_challenger(self, name: str) -> LoadedModel | None:
        """Return the challenger of `name` (its `ab_share` set), or None when there is none or it is unusable."""
        return self._slot(name).challenger

    def get_serving(self, name: str) -> tuple[LoadedModel | None, LoadedModel | None]:
        """Return (champion, challenger) of `name` with one cache look-up (the hot paths' call)."""
        slot = self._slot(name)
        return slot.loaded, slot.challenger

    def _load(self, name: str, row: _Row) -> tuple[LoadedModel | None, str]:
        try:
            manifest = artifact_verify(name=name, version=row.version, expected_sha256=row.sha256)
            model = self._loaders[name](artifact_path(name, row.version), manifest)
        except Exception as exc:
            logger.error("model %s %s unusable: %s", name, row.version, exc)
            return None, str(exc) or type(exc).__name__
        logger.info("model %s %s loaded", name, row.version)
        return LoadedModel(name=name, version=row.version, manifest=manifest, model=model, ab_share=row.ab_share), ""

    def _refresh(self, name: str, slot: _Slot) -> None:
        try:
            active, challenger = serving_rows(name)
        except DatabaseError as exc:
            # Keep serving what is loaded; try again at the next refresh.
            slot.error = f"database: {type(exc).__name__}"
            slot.checked_at = time.monotonic()
            return
        slot.checked_at = time.monotonic()
        old_champion, old_challenger = slot.loaded, slot.challenger
        if active is None:
            slot.loaded, slot.active_version, slot.error = None, "", "no active version"
        elif not (slot.loaded is not None and slot.loaded.version == active.version == slot.active_version):
            slot.active_version = active.version
            if old_challenger is not None and old_challenger.version == active.version:
                # A promotion: the challenger in memory becomes the champion, no reload.
                slot.loaded, slot.error = replace(old_challenger, ab_share=0.0), ""
            else:
                slot.loaded, slot.error = self._load(name, active)
        try:
            self._refresh_challenger(name, slot, challenger, old_champion)
        except Exception as exc:  # nothing about a challenger may reach the champion's callers
            logger.exception("challenger of %s: refresh failed", name)
            slot.challenger, slot.challenger_error = None, f"{type(exc).__name__}: {exc}"

    def _refresh_challenger(self, name: str, slot: _Slot, row: _Row | None, old_champion) -> None:
        if row is None:
            slot.challenger, slot.challenger_version, slot.challenger_error = None, "", ""
            return
        current = slot.challenger
        if current is not None and current.version == row.version == slot.challenger_version:
            if current.ab_share != row.ab_share:
                slot.challenger = replace(current, ab_share=row.ab_share)
            return
        slot.challenger_version = row.version
        if old_champion is not None and old_champion.version == row.version:
            # The former champion set as challenger: already in memory.
            slot.challenger, slot.challenger_error = replace(old_champion, ab_share=row.ab_share), ""
            return
        slot.challenger, slot.challenger_error = self._load(name, row)

    def mark_failed(self, name: str, error: str) -> None:
        """Drop a model that failed at predict time; it is retried at the next refresh."""
        with self._lock:
            slot = self._slots.setdefault(name, _Slot())
            slot.loaded, slot.error = None, error
            slot.checked_at = time.monotonic()

    def mark_challenger_failed(self, name: str, error: str) -> None:
        """Drop a challenger that failed at predict time (the champion stays); retried at the next refresh."""
        with self._lock:
            slot = self._slots.get(name)
            if slot is not None:
                slot.challenger, slot.challenger_error = None, error

    def challenger_status(self, name: str) -> dict:
        """Return the challenger's version, A/B share and load error (for the model page)."""
        slot = self._slot(name)
        loaded = slot.challenger
        return {
            "challenger_version": slot.challenger_version or None,
            "loaded": loaded is not None,
            "ab_share": loaded.ab_share if loaded is not None else None,
            "error": slot.challenger_error or None,
        }

    def status(self, name: str) -> dict:
        """Return what a health endpoint shows: version, age, ok/degraded, why."""
        loaded = self.get_active(name)
        slot = self._slots.get(name, _Slot())
        if loaded is None:
            return {
                "status": "degraded",
                "model_version": None,
                "active_version": slot.active_version or None,
                "error": slot.error or "no active version",
            }
        trained_at = loaded.manifest.get("trained_at")
        age_seconds = None
        if trained_at:
            try:
                age_seconds = int((timezone.now() - timezone.datetime.fromisoformat(trained_at)).total_seconds())
            except (TypeError, ValueError):
                age_seconds = None
        return {
            "status": "ok",
            "model_version": loaded.version,
            "trained_at": trained_at,
            "age_seconds": age_seconds,
            "error": None,
        }


registry = Registry()
