"""score_users: everyone scored once per run, resumable, selectable, enqueueable."""

import datetime as dt
from collections import Counter

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from alerts.models import AIMetric
from credit import selectors, services, tasks
from credit.management.commands.score_users import score_all
from sunusav.models import Member
from tests.factories import ContributionFactory, MemberFactory

pytestmark = pytest.mark.django_db


def _scored_counts() -> Counter:
    return Counter(AIMetric.objects.filter(metric_key="credit_score").values_list("user_id", flat=True))


def test_score_all_scores_everyone_once_in_chunks(trained_model):
    members = MemberFactory.create_batch(23)
    for m in members[:10]:
        ContributionFactory(member=m, due_at=timezone.now() - dt.timedelta(days=10))
    call_command("score_users", "--all", "--chunk", "5", "--no-progress")
    assert not Member.objects.filter(credit_score__isnull=True).exists()
    assert _scored_counts() == Counter({m.id: 1 for m in members})
    versions = set(AIMetric.objects.filter(metric_key="credit_score").values_list("meta__model_version", flat=True))
    assert versions == {trained_model.manifest["version"]}
    run = AIMetric.objects.get(metric_key="credit_score_run")
    assert run.meta["status"] == "finished" and run.metric_value == 23


def test_an_interrupted_run_resumes_without_scoring_anyone_twice():
    members = MemberFactory.create_batch(12)
    run = services.score_run_start(selection="all", cutoff=timezone.now())
    first = selectors.members_to_score(cutoff=run.cutoff, limit=5)
    services.members_score_chunk(rows=first, run_id=run.run_id)  # then the process dies
    call_command("score_users", "--all", "--chunk", "4", "--no-progress")
    assert _scored_counts() == Counter({m.id: 1 for m in members})
    assert set(AIMetric.objects.filter(metric_key="credit_score").values_list("meta__run_id", flat=True)) == {
        run.run_id
    }
    # A finished run is not resumed: the next --all is a new run and rescores.
    call_command("score_users", "--all", "--no-progress")
    assert set(_scored_counts().values()) == {2}


def test_ids_and_stale_days_select_members():
    fresh, stale, never = MemberFactory.create_batch(3)
    Member.objects.filter(pk=fresh.pk).update(credit_score="0.5", credit_score_updated_at=timezone.now())
    Member.objects.filter(pk=stale.pk).update(
        credit_score="0.5", credit_score_updated_at=timezone.now() - dt.timedelta(days=40)
    )
    call_command("score_users", "--stale-days", "30", "--no-progress")
    assert set(_scored_counts()) == {stale.id, never.id}
    call_command("score_users", "--ids", str(fresh.id), "--no-progress")
    assert _scored_counts()[fresh.id] == 1
    with pytest.raises(CommandError):
        call_command("score_users", "--ids", "not-a-uuid")


def test_enqueue_splits_into_idempotent_credit_tasks(django_capture_on_commit_callbacks):
    members = MemberFactory.create_batch(7)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("score_users", "--all", "--chunk", "3", "--enqueue", "--no-progress")
    queued = [SignedPackage.loads(task.payload) for task in OrmQ.objects.order_by("id")]
    assert [len(t["args"][0]) for t in queued] == [3, 3, 1]
    assert {t["func"] for t in queued} == {"credit.tasks.credit_score_members"}
    assert {t["group"] for t in queued} == {"credit"}
    for task in queued:
        assert tasks.credit_score_members(*task["args"]) == len(task["args"][0])
        assert tasks.credit_score_members(*task["args"]) == 0  # delivered twice: no second score
    assert _scored_counts() == Counter({m.id: 1 for m in members})


def test_score_all_function_counts_what_it_scored():
    MemberFactory.create_batch(4)
    run = services.score_run_start(selection="all", cutoff=timezone.now())
    assert score_all(run=run, chunk=3) == 4
    assert score_all(run=run, chunk=3) == 0
