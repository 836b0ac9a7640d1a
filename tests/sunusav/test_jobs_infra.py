"""Schedules, queue statistics, liquidity alerts and retention."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule

from alerts.models import AIAlert, AIMetric, Notification
from alerts.services import notification_enqueue, retention_purge
from credit.liquidity import liquidity_check, liquidity_projections
from sunusav.schedules import SCHEDULES
from tests.factories import ContributionFactory, MemberFactory, MembershipFactory, TontineFactory

pytestmark = pytest.mark.django_db


def test_sync_schedules_is_idempotent_and_removes_stale_ones():
    Schedule.objects.create(name="sunusav:old-job", func="x.y", schedule_type=Schedule.HOURLY)
    Schedule.objects.create(name="someone-else", func="x.y", schedule_type=Schedule.HOURLY)
    call_command("sync_schedules")
    call_command("sync_schedules")
    names = set(Schedule.objects.values_list("name", flat=True))
    assert names == {s["name"] for s in SCHEDULES} | {"someone-else"}
    assert Schedule.objects.filter(name__startswith="sunusav:").count() == len(SCHEDULES)


def test_queue_stats_api_needs_a_token_and_has_the_seed_shape(api_client, anon_client):
    assert anon_client.get("/api/queues/stats").status_code == 401
    body = api_client.get("/api/queues/stats").json()
    assert set(body) == {"credit", "fraud"}
    assert set(body["credit"]) == {"waiting", "active", "completed", "failed"}


def _tontine_with_round_in_progress(members: int, *, payers: int, reliable: bool):
    """A weekly tontine 2.5 weeks in: round 3 pays out in 3.5 days."""
    now = timezone.now()
    tontine = TontineFactory(started_at=now - dt.timedelta(days=17.5), contribution_sats=10_000)
    people = [MembershipFactory(tontine=tontine, position=i + 1).member for i in range(members)]
    for round_number in (1, 2):
        due = tontine.started_at + dt.timedelta(days=7 * round_number - 1)
        for member in people:
            ContributionFactory(
                tontine=tontine,
                member=member,
                round_number=round_number,
                due_at=due,
                paid_at=due if reliable else None,
            )
    for member in people[:payers]:
        ContributionFactory(
            tontine=tontine, member=member, round_number=3, due_at=now + dt.timedelta(days=2), paid_at=now
        )
    return tontine, people


def test_unreliable_round_raises_one_liquidity_alert_per_round(settings):
    settings.LIQUIDITY_LOOKAHEAD_DAYS = 4
    tontine, people = _tontine_with_round_in_progress(6, payers=1, reliable=False)
    [projection] = liquidity_projections()
    assert projection["round"] == 3 and projection["paid_sats"] == 10_000
    assert projection["expected_sats"] == 60_000
    assert projection["shortfall_share"] > settings.LIQUIDITY_SHORTFALL_SHARE
    raised = liquidity_check()
    assert len(raised) == 1
    assert raised[0].user_id == people[2].pk  # position 3 takes round 3's pot
    assert liquidity_check() == []  # once per tontine round, however often it runs
    assert AIAlert.objects.filter(alert_type="liquidity_short").count() == 1


def test_reliable_round_raises_nothing(settings):
    settings.LIQUIDITY_LOOKAHEAD_DAYS = 4
    _tontine_with_round_in_progress(6, payers=1, reliable=True)
    assert liquidity_projections()[0]["shortfall_share"] < settings.LIQUIDITY_SHORTFALL_SHARE
    assert liquidity_check() == []


def test_payout_beyond_the_lookahead_waits(settings):
    settings.LIQUIDITY_LOOKAHEAD_DAYS = 1
    _tontine_with_round_in_progress(6, payers=1, reliable=False)
    assert liquidity_check() == []


def test_retention_purges_only_what_is_past_its_period(settings):
    member = MemberFactory()
    old = timezone.now() - dt.timedelta(days=settings.METRICS_RETENTION_DAYS + 1)
    AIMetric.objects.create(metric_key="credit_score", metric_value=0.5, created_at=old)
    AIMetric.objects.create(metric_key="credit_score", metric_value=0.6)
    pending = notification_enqueue(member=member, kind="loan_offer", dedupe_key="a", context={"amount_xof": 1})
    sent = notification_enqueue(member=member, kind="loan_offer", dedupe_key="b", context={"amount_xof": 1})
    ancient = timezone.now() - dt.timedelta(days=settings.NOTIFICATIONS_RETENTION_DAYS + 1)
    Notification.objects.filter(pk__in=[pending.pk, sent.pk]).update(created_at=ancient)
    Notification.objects.filter(pk=sent.pk).update(status="sent")
    assert retention_purge() == {"ai_metrics": 1, "ai_alerts": 0, "notifications": 1}
    assert AIMetric.objects.count() == 1
    assert list(Notification.objects.values_list("pk", flat=True)) == [pending.pk]  # never drop unsent


def test_purge_command_removes_resolved_alerts_only(settings):
    from io import StringIO

    old = timezone.now() - dt.timedelta(days=40)
    AIAlert.objects.create(alert_type="liquidity_short", resolved=True, resolved_at=old)
    AIAlert.objects.create(alert_type="liquidity_short", resolved=False, created_at=old)
    AIMetric.objects.create(metric_key="fraud_check", metric_value=0.1, created_at=old)
    out = StringIO()
    call_command("purge_ai_data", "--older-than", "30", stdout=out)
    assert "ai_alerts: 1 rows deleted" in out.getvalue()
    assert "ai_metrics: 1 rows deleted" in out.getvalue()
    assert AIAlert.objects.filter(resolved=False).count() == 1 and AIAlert.objects.count() == 1


@pytest.mark.parametrize("frequency", ["weekly", "daily"])
def test_retraining_can_be_scheduled(settings, frequency):
    import ast
    import inspect

    from django.utils.module_loading import import_string

    settings.RETRAIN_SCHEDULE = frequency
    call_command("sync_schedules")
    retrain = {s.name: s for s in Schedule.objects.filter(name__startswith="sunusav:retrain-")}
    assert set(retrain) == {"sunusav:retrain-credit", "sunusav:retrain-fraud"}
    kind = Schedule.WEEKLY if frequency == "weekly" else Schedule.DAILY
    for name, schedule in retrain.items():
        kwargs = ast.literal_eval(schedule.kwargs)
        assert schedule.schedule_type == kind and kwargs["q_options"]["cluster"] == "credit"
        kwargs.pop("q_options")
        assert kwargs == {"name": name.removeprefix("sunusav:retrain-"), "activated_by": "schedule"}
        inspect.signature(import_string(schedule.func)).bind(**kwargs)  # the task takes exactly these
    settings.RETRAIN_SCHEDULE = "off"
    call_command("sync_schedules")
    assert not Schedule.objects.filter(name__startswith="sunusav:retrain-").exists()
