"""The judged in-process figures of the tree in the current directory, quickly, as one JSON line.

Fraud check, credit predict and their 1,000-item batches through Django's WSGI
handler (DEBUG off, a fresh SQLite database, the shipped models), p50 and p99
in ms. Run it from two checkouts in turn to compare them on one machine:

    cd old-tree && python /path/to/benchmarks/inprocess_quick.py
    cd new-tree && python benchmarks/inprocess_quick.py
"""

import json
import os
import sys
import tempfile

sys.path.insert(0, os.getcwd())  # the tree being measured, not this file's
os.environ["VAR_DIR"] = tempfile.mkdtemp(prefix="inprocess-quick-")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sunusav.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

from benchmarks.common import time_calls, wsgi_caller  # noqa: E402

FRAUD = {
    "user_id": "test-user",
    "amount_sats": 1000000,
    "time_since_last_sec": 5,
    "invoices_last_min": 10,
    "device_changes": 3,
    "location_changes": 2,
}
CREDIT = {
    "user_id": "test-user",
    "tontine_contributions": 50000,
    "punctuality_rate": 0.9,
    "contributions_count": 10,
    "mobile_tx_volume": 100000,
    "avg_payment_delay_days": 1,
    "community_endorsements": 5,
}
CASES = [
    ("fraud_check", "/api/fraud/check", FRAUD, 2000),
    ("credit_predict", "/api/credit/predict", CREDIT, 2000),
    ("fraud_batch_1000", "/api/fraud/batch-check", {"items": [FRAUD] * 1000}, 40),
    ("credit_batch_1000", "/api/credit/batch-predict", {"items": [CREDIT] * 1000}, 40),
]


def main() -> None:
    for command in ("migrate", "createcachetable", "models_sync"):
        call_command(command, verbosity=0)
    out = {}
    with override_settings(DEBUG=False):
        for name, path, body, n in CASES:
            timed = time_calls(
                wsgi_caller(path, json.dumps(body).encode(), settings.AI_INTERNAL_TOKENS[0]), n=n, warmup=20
            )
            out[name] = {"p50_ms": round(timed["p50"], 3), "p99_ms": round(timed["p99"], 3)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
