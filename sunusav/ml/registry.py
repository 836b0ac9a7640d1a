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
from django.db import DatabaseError
from django.utils import timezone

from sunusav.models import ModelVersion

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"

Loader = Callable[[Path, dict], Any]
Trainer = Callable[..., Any]  # (*, activated_by: str) -> sunusav.ml.training.TrainResult


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


# --- Versions in the database (reads; every write is in sunusav.ml.lifecycle) --------------


def active_version_row(name: str):
    """Return the active `ModelVersion` of a model, or None."""
    return ModelVersion.objects.filter(name=name, status=ModelVersion.Status.ACTIVE).first()


def challenger_version_row(name: str):
    """Return the challenger `ModelVersion` of a model, or None."""
    return ModelVersion.objects.filter(name=name, status=ModelVersion.Status.CHALLENGER).first()


def ab_share_of(manifest: dict | None) -> float:
    """Return the A/B share recorded on a challenger's manifest, clamped to [0, 1] (0 when unset or invalid)."""
    try:
        share = float((manifest or {}).get(AB_SHARE_KEY) or 0.0)
    except (TypeError, ValueError):
        return 0.0
    return min(max(share, 0.0), 1.0) if share == share else 0.0  # NaN -> 0


# Key of the A/B share on the challenger row's `manifest` (the database copy of
# the model card; the card on disk is never rewritten).


AB_SHARE_KEY = "ab_share"


# --- In-process serving cache --------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    version: str
    sha256: str
    ab_share: float = 0.0


def serving_rows(name: str) -> tuple[_Row | None, _Row | None]:
    """Return (active, challenger) versions of model `name` from the database, in one query."""
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
        self._trainers: dict[str, Trainer] = {}
        self._slots: dict[str, _Slot] = {}
        self._lock = threading.Lock()

    def register_loader(self, name: str, loader: Loader) -> None:
        """Declare how to turn an artifact folder of model `name` into an object."""
        self._loaders[name] = loader

    def register_trainer(self, name: str, trainer: Trainer) -> None:
        """Declare how to train model `name` from the database (`trainer(activated_by=...)` -> TrainResult)."""
        self._trainers[name] = trainer

    def trainer(self, name: str) -> Trainer:
        """Return the trainer of model `name`; KeyError for an unknown model."""
        return self._trainers[name]

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

    def load_version(self, name: str, version: str, *, expected_sha256: str | None = None) -> LoadedModel:
        """Return one version of model `name` loaded afresh, for comparing versions; never cached nor served.

        Raises `ArtifactError` when its artifact is missing or does not match
        (its manifest, or `expected_sha256`), KeyError for a model with no loader.
        """
        loader = self._loaders[name]
        manifest = artifact_verify(name=name, version=version, expected_sha256=expected_sha256)
        return LoadedModel(
            name=name, version=version, manifest=manifest, model=loader(artifact_path(name, version), manifest)
        )

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
