"""Delete AI metrics, resolved alerts and sent notifications past their retention."""

from django.core.management.base import BaseCommand, CommandError

from alerts.services import retention_purge


class Command(BaseCommand):
    help = (
        "Delete ai_metrics rows and resolved alerts older than --older-than DAYS (default: the configured "
        "METRICS_RETENTION_DAYS / ALERTS_RETENTION_DAYS), and delivered notifications past theirs."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=int, dest="days", metavar="DAYS")

    def handle(self, *args, days=None, **options):
        if days is not None and days < 1:
            raise CommandError("--older-than must be at least 1 day")
        counts = retention_purge(older_than_days=days)
        for table, count in counts.items():
            self.stdout.write(f"{table}: {count} rows deleted")
