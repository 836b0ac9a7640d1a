"""Recurring jobs, declared in code; `manage.py sync_schedules` writes them to django-q2.

Schedules are matched by name, so syncing twice changes nothing and renaming
one here removes the old row. `catch_up` is off in Q_CLUSTER: after downtime a
schedule runs once, not once per missed slot.
"""

from django_q.models import Schedule

PREFIX = "sunusav:"

SCHEDULES = [
    {
        "name": "sunusav:credit-nightly-scoring",
        "func": "credit.tasks.stale_members_score",
        "schedule_type": Schedule.DAILY,
        "first_run": "02:00",
        "queue": "credit",
    },
    {
        "name": "sunusav:notifications-deliver",
        "func": "alerts.tasks.notifications_deliver",
        "schedule_type": Schedule.MINUTES,
        "minutes": 1,
        "queue": "credit",
    },
    {
        # Unreviewed holds on expired Lightning invoices take HOLD_EXPIRY_DEFAULT (fraud.holds).
        "name": "sunusav:holds-expire",
        "func": "fraud.tasks.holds_expire",
        "schedule_type": Schedule.MINUTES,
        "minutes": 1,
        "queue": "fraud",
    },
    {
        # A case's totals follow its items after each commit; this catches a refresh lost to a crash.
        "name": "sunusav:cases-refresh",
        "func": "cases.tasks.cases_refresh_open",
        "schedule_type": Schedule.MINUTES,
        "minutes": 10,
        "queue": "fraud",
    },
    {
        "name": "sunusav:liquidity-check",
        "func": "credit.tasks.liquidity_check",
        "schedule_type": Schedule.HOURLY,
        "queue": "credit",
    },
    {
        "name": "sunusav:drift-psi",
        "func": "backoffice.tasks.drift_compute",
        "schedule_type": Schedule.DAILY,
        "first_run": "04:00",
        "queue": "credit",
    },
    {
        "name": "sunusav:endorsement-defaults",
        "func": "credit.tasks.endorsement_defaults_propagate",
        "schedule_type": Schedule.DAILY,
        "first_run": "01:30",
        "queue": "credit",
    },
    {
        "name": "sunusav:endorsement-rings",
        "func": "credit.tasks.endorsement_rings_flag",
        "schedule_type": Schedule.DAILY,
        "first_run": "04:15",
        "queue": "credit",
    },
    {
        # Accepted jobs the broker lost (Redis restarted empty) are enqueued again (sunusav/jobs.py).
        "name": "sunusav:jobs-reconcile",
        "func": "sunusav.tasks.jobs_reconcile",
        "schedule_type": Schedule.MINUTES,
        "minutes": 5,
        "queue": "credit",
    },
    {
        "name": "sunusav:jobs-purge",
        "func": "sunusav.tasks.job_records_purge",
        "schedule_type": Schedule.DAILY,
        "first_run": "03:45",
        "queue": "credit",
    },
    {
        "name": "sunusav:purge-ai-data",
        "func": "alerts.tasks.ai_data_purge",
        "schedule_type": Schedule.DAILY,
        "first_run": "03:30",
        "queue": "credit",
    },
]


def retrain_schedules(frequency: str) -> list[dict]:
    """Retraining of each model on `frequency` ("off", "weekly", "daily"; setting RETRAIN_SCHEDULE)."""
    if frequency == "off":
        return []
    kind = Schedule.WEEKLY if frequency == "weekly" else Schedule.DAILY
    return [
        {
            "name": f"sunusav:retrain-{name}",
            "func": "sunusav.ml.tasks.model_train",
            "kwargs": {"name": name, "activated_by": "schedule"},
            "schedule_type": kind,
            "first_run": first_run,
            # Both on the credit queue: the fraud queue's 60 s timeout would kill a training.
            "queue": "credit",
        }
        for name, first_run in (("credit", "02:00"), ("fraud", "02:30"))
    ]


def schedules() -> list[dict]:
    """Every recurring job under the current settings."""
    from django.conf import settings

    return SCHEDULES + retrain_schedules(settings.RETRAIN_SCHEDULE)
