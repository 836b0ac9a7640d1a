"""The queue reads open cases only: partial indexes over them, so its page, counts and "late" filter stay small.

Measured by benchmarks/bench_cases.py (100,000 cases, 5,000 open): without them
each of the queue's three reads scanned every case.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0002_case_groups"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="case",
            index=models.Index(
                condition=models.Q(("status", "closed"), _negated=True),
                fields=["-severity", "opened_at", "-id"],
                name="cases_open_queue",
            ),
        ),
        migrations.AddIndex(
            model_name="case",
            index=models.Index(
                condition=models.Q(("status", "closed"), _negated=True), fields=["due_at"], name="cases_open_due"
            ),
        ),
    ]
