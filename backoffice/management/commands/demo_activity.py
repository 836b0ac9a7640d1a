"""Bring a fresh demo world to life the way the product's own jobs would: scores, offers, liquidity alerts, holds.

`seed_demo` writes history only; without this the analysts' queues of a new
demo are empty until the schedules run. Each step is the product's own code
(nothing is written by hand), and the command runs once per world: a world
with scored members is left as it is.
"""

import sys
from datetime import timedelta

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.utils import timezone
from tqdm import tqdm

from alerts.models import AIAlert
from credit.liquidity import liquidity_check
from credit.services import members_credit_check
from fraud.services import payment_screen
from sunusav.models import Member, Payment


class Command(BaseCommand):
    help = "Score every member, offer loans to a sample, run the liquidity check and screen recent payments."

    def add_arguments(self, parser):
        parser.add_argument("--offers", type=int, default=150, help="members whose credit check may offer a loan")
        # A week: the demo world's injected fraud stops a few days before its end, and the queues should hold it.
        parser.add_argument("--days", type=float, default=7.0, help="screen the payments of the last N days")

    def handle(self, *args, offers, days, **options):
        if Member.objects.filter(credit_score__isnull=False).exists():
            self.stdout.write("Members are already scored; keeping the world's activity.")
            return
        on_terminal = sys.stderr.isatty()  # progress bars for a person, plain lines for logs and CI
        call_command("score_users", "--all", *([] if on_terminal else ["--no-progress"]), stdout=self.stdout)
        sample = list(Member.objects.order_by("id").values_list("id", flat=True)[:offers])
        members_credit_check(member_ids=sample, run_id="demo-activity")
        liquidity_check()
        held = 0
        recent = Payment.objects.filter(created_at__gte=timezone.now() - timedelta(days=days)).order_by("created_at")
        payments = recent.iterator(chunk_size=500)
        if on_terminal:
            payments = tqdm(payments, total=recent.count(), desc="screening recent payments", unit=" payments")
        for payment in payments:
            held += payment_screen(payment=payment).payment.status == Payment.Status.HELD
        alerts = {
            t: AIAlert.objects.filter(alert_type=t, resolved=False).count()
            for t, _ in AIAlert._meta.get_field("alert_type").choices
        }
        scored = Member.objects.filter(credit_score__isnull=False).count()
        open_alerts = ", ".join(f"{n:,} {alert_type}" for alert_type, n in alerts.items())
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo activity: {scored:,} members scored, {held:,} payments held; open alerts: {open_alerts}"
            )
        )
