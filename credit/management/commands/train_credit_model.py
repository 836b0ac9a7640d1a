"""Train a credit model from closed loans (or a CSV), write its artifact, maybe activate it."""

import json

from django.core.management.base import BaseCommand, CommandError

from credit.training import TrainingError, credit_model_train, dataset_from_csv, dataset_from_db


class Command(BaseCommand):
    help = (
        "Train the LightGBM credit model on closed loans (or --from-csv FILE with the six features + defaulted), "
        "evaluate it on a held-out split against the rule fallback and a logistic regression, and register it; "
        "it becomes active only if it beats the active model's held-out AUC, or with --activate."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from-csv", metavar="FILE", help="CSV with the six feature columns and defaulted (0/1)")
        parser.add_argument("--activate", action="store_true", help="activate the new model whatever its AUC")
        parser.add_argument("--rounds", type=int, default=400, help="maximum boosting rounds (early-stopped)")

    def handle(self, *args, **options):
        try:
            data = dataset_from_csv(options["from_csv"]) if options["from_csv"] else dataset_from_db()
            result = credit_model_train(
                data=data, activate=options["activate"], activated_by="train_credit_model", rounds=options["rounds"]
            )
        except (TrainingError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        manifest = result.manifest
        self.stdout.write(f"credit {manifest['version']} trained on {data.source} ({len(data.y)} rows)")
        self.stdout.write(json.dumps(manifest["metrics"]["held_out"], indent=2))
        self.stdout.write(("ACTIVATED: " if result.activated else "not activated: ") + result.reason)
