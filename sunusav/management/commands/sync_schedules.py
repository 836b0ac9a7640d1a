"""Write the schedules declared in sunusav/schedules.py to django-q2."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule

from sunusav.schedules import PREFIX, schedules


def _first_run(spec: dict) -> datetime:
    now = timezone.now()
    if "first_run" not in spec:
        return now
    hour, minute = map(int, spec["first_run"].split(":"))
    local = now.astimezone(ZoneInfo(settings.TIME_ZONE))
    candidate = datetime.combine(local.date(), time(hour, minute), tzinfo=local.tzinfo)
    return candidate if candidate > local else candidate + timedelta(days=1)


@transaction.atomic
def schedules_sync() -> list[str]:
    """Create or update every declared schedule by name; delete ours no longer declared."""
    changes = []
    declared = set()
    for spec in schedules():
        declared.add(spec["name"])
        defaults = {
            "func": spec["func"],
            "schedule_type": spec["schedule_type"],
            "minutes": spec.get("minutes"),
            "repeats": -1,
            "cluster": settings.Q_SCHEDULE_CLUSTER,
            "kwargs": repr({**spec.get("kwargs", {}), "q_options": {"cluster": spec["queue"], "group": spec["queue"]}}),
        }
        schedule = Schedule.objects.filter(name=spec["name"]).first()
        if schedule is None:
            Schedule.objects.create(name=spec["name"], next_run=_first_run(spec), **defaults)
            changes.append(f"created {spec['name']}")
        elif any(getattr(schedule, k) != v for k, v in defaults.items()):
            Schedule.objects.filter(pk=schedule.pk).update(**defaults)
            changes.append(f"updated {spec['name']}")
    stale = Schedule.objects.filter(name__startswith=PREFIX).exclude(name__in=declared)
    changes += [f"deleted {name}" for name in stale.values_list("name", flat=True)]
    stale.delete()
    return changes


class Command(BaseCommand):
    help = "Create, update or delete django-q2 schedules to match sunusav/schedules.py."

    def handle(self, *args, **options):
        changes = schedules_sync()
        for line in changes or ["schedules already in sync"]:
            self.stdout.write(line)
