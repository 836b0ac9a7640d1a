"""The ML registry: artifacts are verified by hash, loaded once, and fail safe."""

import pytest

from sunusav.ml import lifecycle
from sunusav.ml import registry as reg
from sunusav.models import ModelVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def toy_loader():
    loads = []

    def load(path, manifest):
        loads.append(manifest["version"])
        return (path / "model.bin").read_bytes()

    reg.registry.register_loader("toy", load)
    yield loads
    reg.registry._loaders.pop("toy", None)


def _write(version: str, payload: bytes = b"weights", activate: bool = True):
    manifest = reg.artifact_write(
        name="toy", version=version, files={"model.bin": payload}, manifest={"features": ["a", "b"]}
    )
    return lifecycle.model_version_register(manifest=manifest, activate=activate, activated_by="test")


def test_active_model_loads_once_per_process(artifacts_dir, toy_loader):
    _write("v1")
    first = reg.registry.get_active("toy")
    second = reg.registry.get_active("toy")
    assert first.model == b"weights" and first is second
    assert toy_loader == ["v1"]
    assert reg.registry.status("toy")["status"] == "ok"


def test_activation_switches_version_and_keeps_one_active(
    artifacts_dir, toy_loader, django_capture_on_commit_callbacks
):
    _write("v1")
    assert reg.registry.get_active("toy").version == "v1"
    with django_capture_on_commit_callbacks(execute=True):
        _write("v2", b"better")
    assert ModelVersion.objects.filter(name="toy", status="active").count() == 1
    assert reg.registry.get_active("toy").version == "v2"


def test_tampered_artifact_is_not_served(artifacts_dir, toy_loader):
    _write("v1")
    (artifacts_dir / "toy" / "v1" / "model.bin").write_bytes(b"evil")
    assert reg.registry.get_active("toy") is None
    status = reg.registry.status("toy")
    assert status["status"] == "degraded" and "sha256" in status["error"]


def test_missing_artifact_is_degraded_and_reported_by_system_check(artifacts_dir, toy_loader):
    import shutil

    from sunusav.checks import check_active_artifacts

    _write("v1")
    shutil.rmtree(artifacts_dir / "toy" / "v1")
    assert reg.registry.get_active("toy") is None
    assert [w.id for w in check_active_artifacts(None)] == ["sunusav.W010"]


def test_no_active_version_is_degraded(toy_loader):
    assert reg.registry.get_active("toy") is None
    assert reg.registry.status("toy")["status"] == "degraded"


def test_versions_are_immutable(artifacts_dir, toy_loader):
    _write("v1")
    with pytest.raises(reg.ArtifactError):
        _write("v1", b"other")


def test_sync_registers_and_activates_shipped_artifacts(artifacts_dir, toy_loader):
    reg.artifact_write(name="toy", version="2026.01", files={"model.bin": b"a"}, manifest={})
    reg.artifact_write(name="toy", version="2026.02", files={"model.bin": b"b"}, manifest={})
    changes = lifecycle.artifacts_sync()
    assert "activated toy 2026.02" in changes
    assert lifecycle.artifacts_sync() == []  # idempotent
    assert reg.registry.get_active("toy").model == b"b"
