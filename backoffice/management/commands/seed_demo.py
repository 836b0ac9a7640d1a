"""Build a realistic, reproducible SunuSàv demo world."""

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from backoffice.demo.generator import world_build, world_exists, world_flush


class Command(BaseCommand):
    help = "Generate a demo world: members, tontines, contributions, mobile money, endorsements, loans, payments."

    def add_arguments(self, parser):
        parser.add_argument("--members", type=int, default=2000)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument(
            "--anchor", type=date.fromisoformat, help="Day the history ends (YYYY-MM-DD); default today."
        )
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--flush", action="store_true", help="Delete the existing world first.")
        group.add_argument("--if-empty", action="store_true", help="Do nothing (exit 0) when members exist.")

    def handle(self, *args, members, seed, anchor, flush, if_empty, **options):
        if members < 10:
            raise CommandError("--members must be at least 10")
        if world_exists():
            if if_empty:
                self.stdout.write("The database already has a demo world; keeping it.")
                return
            if not flush:
                raise CommandError(
                    "The database already has members. Use --flush to replace the world, or --if-empty to keep it."
                )
            self.stdout.write("Deleting the existing world...")
            world_flush()
        tz = ZoneInfo(settings.TIME_ZONE)
        day = anchor or timezone.now().astimezone(tz).date()
        anchor_at = datetime.combine(day, time(0, 0), tzinfo=tz)
        self.stdout.write(f"Building {members} members (seed {seed}, history up to {anchor_at:%Y-%m-%d})...")
        summary = world_build(
            members=members, seed=seed, anchor=anchor_at, progress=lambda line: self.stdout.write(line)
        )
        for line in summary.lines():
            self.stdout.write(self.style.SUCCESS(line))
