"""The credit queue's jobs as the scheduler runs them."""

import datetime as dt

import pytest
from django.utils import timezone
from django_q.models import OrmQ

from credit.tasks import credit_score_members, stale_members_score
from sunusav.models import Member
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def test_nightly_job_enqueues_only_stale_members_and_a_fresh_run_each_night(
    settings, django_capture_on_commit_callbacks
):
    settings.CREDIT_STALE_DAYS = 7
    settings.CREDIT_SCORE_CHUNK = 2
    fresh = MemberFactory(credit_score="0.800", credit_score_updated_at=timezone.now())
    stale = [MemberFactory(credit_score="0.700", credit_score_updated_at=timezone.now() - dt.timedelta(days=9))]
    stale += [MemberFactory() for _ in range(2)]  # never scored
    with django_capture_on_commit_callbacks(execute=True):
        assert stale_members_score() == 3
    assert OrmQ.objects.filter(key="credit").count() == 2  # chunks of 2
    payload_ids = set()
    for row in OrmQ.objects.all():
        payload_ids.update(row.task["args"][0])
    assert payload_ids == {str(m.pk) for m in stale}
    assert str(fresh.pk) not in payload_ids

    # Run the jobs: everyone stale is scored; tomorrow's run finds nobody.
    for row in OrmQ.objects.all():
        args = row.task["args"]
        credit_score_members(*args)
    assert Member.objects.filter(credit_score_updated_at__lt=timezone.now() - dt.timedelta(days=7)).count() == 0
    OrmQ.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        assert stale_members_score() == 0
