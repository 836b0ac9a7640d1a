"""Train the fraud model from the payments in the database."""

import json

from django.core.management.base import BaseCommand, CommandError

from fraud.training import TrainingError, fraud_model_train


class Command(BaseCommand):
    help = (
        "Train the fraud IsolationForest (+ rules) on stored payments, evaluate it on a labeled holdout, "
        "write the artifact to ML_ARTIFACTS_DIR/fraud/<version>/ and register it; it becomes active when its "
        "PR-AUC beats the active version's, or with --activate."
    )

    def add_arguments(self, parser):
        parser.add_argument("--activate", action="store_true", help="Activate the new version whatever its metrics.")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--n-estimators", type=int, default=100)
        parser.add_argument(
            "--max-samples",
            type=int,
            default=None,
            help="Fix the forest's subsample size (default: chosen on validation).",
        )

    def handle(self, *args, **options):
        try:
            result = fraud_model_train(
                activate=options["activate"],
                seed=options["seed"],
                n_estimators=options["n_estimators"],
                max_samples=options["max_samples"],
                activated_by="train_fraud_model",
            )
        except TrainingError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps({**result.summary(), "metrics": result.metrics}, indent=2, default=str))
        state = "activated" if result.activated else "registered (not activated)"
        self.stdout.write(self.style.SUCCESS(f"fraud {result.version} {state}: {result.reason}"))
