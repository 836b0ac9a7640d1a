"""Print waiting / active / completed / failed jobs per queue."""

import json

from django.core.management.base import BaseCommand

from sunusav.queues import get_queue_stats


class Command(BaseCommand):
    help = "Print the credit and fraud queues' statistics (JSON with --json)."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        stats = get_queue_stats()
        if options["json"]:
            self.stdout.write(json.dumps(stats))
            return
        self.stdout.write(f"{'queue':<8} {'waiting':>8} {'active':>8} {'completed':>10} {'failed':>8}")
        for queue, row in stats.items():
            self.stdout.write(
                f"{queue:<8} {row['waiting']:>8} {row['active']:>8} {row['completed']:>10} {row['failed']:>8}"
            )
