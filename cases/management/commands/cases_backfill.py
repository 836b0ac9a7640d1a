"""Put every open fraud and liquidity alert that has no case yet into its case (idempotent)."""

from django.core.management.base import BaseCommand

from cases.services import cases_backfill, cases_refresh_open


class Command(BaseCommand):
    help = "Met chaque alerte ouverte de fraude ou de liquidité sans dossier dans le sien (sans effet la 2e fois)."

    def handle(self, *args, **options):
        attached = cases_backfill()
        refreshed = cases_refresh_open(limit=100_000)
        if attached or refreshed:
            self.stdout.write(f"cases: {attached} alert(s) put into cases, {refreshed} case(s) recounted")
