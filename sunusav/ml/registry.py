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
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class LoadedModel:
    """An active model in memory, with the manifest it was loaded from."""

    name: str
    version: str
    manifest: dict
    model: Any
    loaded_at: float = field(default_factory=time.time)


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


@dataclass
class _Slot:
    loaded: LoadedModel | None = None
    checked_at: float = float("-inf")
    error: str = ""
    active_version: str = ""


class Registry:
    """Per-process cache of active models, keyed by model name."""

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
        """Forget cached models so the next call re-reads the active version."""
        with self._lock:
            if name is None:
                self._slots.clear()
            else:
                self._slots.pop(name, None)

    def get_active(self, name: str) -> LoadedModel | None:
        """Return the active model of `name`, or None when it is not usable."""
        slot = self._slots.get(name)
        if slot is not None and time.monotonic() - slot.checked_at < settings.ML_REGISTRY_REFRESH_SECONDS:
            return slot.loaded
        with self._lock:
            slot = self._slots.setdefault(name, _Slot())
            if time.monotonic() - slot.checked_at >= settings.ML_REGISTRY_REFRESH_SECONDS:
                self._refresh(name, slot)
            return slot.loaded

    def _refresh(self, name: str, slot: _Slot) -> None:
        try:
            row = active_version_row(name)
        except DatabaseError as exc:
            # Keep serving what is loaded; try again at the next refresh.
            slot.error = f"database: {type(exc).__name__}"
            slot.checked_at = time.monotonic()
            return
        slot.checked_at = time.monotonic()
        if row is None:
            slot.loaded, slot.active_version, slot.error = None, "", "no active version"
            return
        if slot.loaded is not None and slot.loaded.version == row.version and slot.active_version == row.version:
            return
        slot.active_version = row.version
        try:
            manifest = artifact_verify(name=name, version=row.version, expected_sha256=row.sha256)
            model = self._loaders[name](artifact_path(name, row.version), manifest)
        except Exception as exc:
            logger.error("model %s %s unusable: %s", name, row.version, exc)
            slot.loaded, slot.error = None, str(exc) or type(exc).__name__
            return
        slot.loaded, slot.error = (
            LoadedModel(name=name, version=row.version, manifest=manifest, model=model),
            "",
        )
        logger.info("model %s %s loaded", name, row.version)

    def mark_failed(self, name: str, error: str) -> None:
        """Drop a model that failed at predict time; it is retried at the next refresh."""
        with self._lock:
            slot = self._slots.setdefault(name, _Slot())
            slot.loaded, slot.error = None, error
            slot.checked_at = time.monotonic()

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
