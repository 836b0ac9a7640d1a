"""Train the fraud model from the payments in the database, or from an exported history (--from-csv)."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from fraud.training import CSV_COLUMNS, TrainingError, fraud_model_train, labeled_payments_from_csv


class Command(BaseCommand):
    help = (
        "Train the fraud IsolationForest (+ rules) on stored payments, evaluate it on a labeled holdout, "
        "write the artifact to ML_ARTIFACTS_DIR/fraud/<version>/ and register it; it becomes active when its "
        "PR-AUC beats the active version's, or with --activate. --from-csv FILE trains on an exported history "
        "instead (columns: " + ", ".join(CSV_COLUMNS) + "; label 0/1 or blank)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--from-csv",
            metavar="FILE",
            help="Exported history: " + ", ".join(CSV_COLUMNS) + " (timestamp ISO 8601 with offset, label 0/1/blank).",
        )
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
            path = options["from_csv"]
            data = labeled_payments_from_csv(path) if path else None
            result = fraud_model_train(
                data=data,
                source=f"csv: {Path(path).name}" if path else "database",
                activate=options["activate"],
                seed=options["seed"],
                n_estimators=options["n_estimators"],
                max_samples=options["max_samples"],
                activated_by="train_fraud_model",
            )
        except (TrainingError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps({**result.summary(), "metrics": result.metrics}, indent=2, default=str))
        state = "activated" if result.activated else "registered (not activated)"
        self.stdout.write(self.style.SUCCESS(f"fraud {result.version} {state}: {result.reason}"))
