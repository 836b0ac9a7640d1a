"""Register the model artifacts on disk and activate shipped defaults."""

from django.core.management.base import BaseCommand

from sunusav.ml.lifecycle import artifacts_sync


class Command(BaseCommand):
    help = "Register every artifact in ML_ARTIFACTS_DIR; activate each model's newest when none is active."

    def handle(self, *args, **options):
        changes = artifacts_sync()
        for line in changes:
            self.stdout.write(line)
        if not changes:
            self.stdout.write("models already in sync")
