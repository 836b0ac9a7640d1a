"""System checks: deployment secrets, the active model artifacts, and Redis's persistence."""

import redis
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


@checks.register("queues")
def check_redis_persistence(app_configs, **kwargs):
    """Warn when the Redis broker runs without its append-only file (REDIS_URL set).

    Without `appendonly yes` a Redis restart empties the queues. The job
    ledger (sunusav/jobs.py) enqueues the lost jobs again within minutes, but
    the product expects Redis to keep them (docs/OPERATIONS.md). A Redis that
    is down, or refuses CONFIG (some managed services), gets a note, never an
    error: the check must not stop a deployment that starts before Redis.
    """
    if not settings.REDIS_URL:
        return []
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        reply = client.config_get("appendonly")
    except redis.ResponseError:
        return [
            checks.Info(
                "Redis refused CONFIG GET: its persistence (appendonly) was not checked.",
                hint="Make sure the append-only file is on (appendonly yes) in the service's settings.",
                id="sunusav.I021",
            )
        ]
    except (redis.RedisError, OSError):
        return [checks.Info("Redis unreachable: its persistence (appendonly) was not checked.", id="sunusav.I022")]
    finally:
        client.close()
    value = reply.get("appendonly", reply.get(b"appendonly", ""))
    value = value.decode() if isinstance(value, bytes) else str(value)
    if value != "yes":
        return [
            checks.Warning(
                f"Redis runs without its append-only file (appendonly {value or 'unknown'}): "
                "a restart empties the queues.",
                hint="Start Redis with --appendonly yes (docker-compose.yml does) or CONFIG SET appendonly yes "
                "plus CONFIG REWRITE; lost jobs are enqueued again by the job ledger meanwhile.",
                id="sunusav.W020",
            )
        ]
    return []
