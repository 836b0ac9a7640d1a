"""System checks: deployment secrets and the active model artifacts."""

from django.conf import settings
from django.core import checks

from sunusav.ml.registry import ArtifactError, artifact_verify
from sunusav.models import ModelVersion


@checks.register(checks.Tags.security, deploy=True)
def check_internal_tokens(app_configs, **kwargs):
    """Report development tokens in a deployment."""
    if settings.DEV_INTERNAL_TOKEN in settings.AI_INTERNAL_TOKENS:
        return [checks.Warning("The development internal token is accepted.", id="sunusav.W001")]
    return []


@checks.register("ml_artifacts")
def check_active_artifacts(app_configs, **kwargs):
    """Report an active model whose artifact is missing or does not match its hash.

    A warning, not an error: the service keeps answering with its rule
    fallback, and /health says `degraded`.
    """
    from django.db import DatabaseError

    try:
        active = list(ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE))
    except DatabaseError:
        return []  # not migrated yet: nothing is active
    problems = []
    for row in active:
        try:
            artifact_verify(name=row.name, version=row.version, expected_sha256=row.sha256)
        except ArtifactError as exc:
            problems.append(
                checks.Warning(
                    f"Active model artifact unusable: {exc}",
                    hint="Retrain, restore the folder, or activate another version; the rule fallback serves meanwhile.",
                    id="sunusav.W010",
                )
            )
    return problems
