"""Score members in chunks (or enqueue the chunks as django-q2 tasks)."""

import uuid
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from credit import selectors, services


class Command(BaseCommand):
    help = (
        "Score members chunk by chunk: features in a few queries, one predict, bulk writes. "
        "An interrupted run is resumed by running the same selection again (nobody is scored twice in a run)."
    )

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--all", action="store_true", help="every member")
        which.add_argument("--ids", nargs="+", metavar="UUID", help="these members")
        which.add_argument("--stale-days", type=int, metavar="N", help="members unscored or scored over N days ago")
        parser.add_argument("--chunk", type=int, default=settings.CREDIT_SCORE_CHUNK, help="members per chunk")
        parser.add_argument("--enqueue", action="store_true", help="split into django-q2 tasks on the credit queue")
        parser.add_argument("--restart", action="store_true", help="abandon an unfinished run of this selection")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options):
        ids = None
        if options["ids"]:
            try:
                ids = [uuid.UUID(i) for i in options["ids"]]
            except ValueError as exc:
                raise CommandError(f"--ids: {exc}") from exc
        if options["chunk"] < 1:
            raise CommandError("--chunk must be positive")
        now = timezone.now()
        cutoff = now - timedelta(days=options["stale_days"]) if options["stale_days"] is not None else now
        selection = services.selection_key(ids=[str(i) for i in ids] if ids else None, stale_days=options["stale_days"])
        run = services.score_run_start(selection=selection, cutoff=cutoff, restart=options["restart"])
        if run.resumed:
            self.stdout.write(f"resuming run {run.run_id} (cutoff {run.cutoff.isoformat()})")
        total = selectors.members_to_score_count(cutoff=run.cutoff, ids=ids)
        done = (self._enqueue if options["enqueue"] else self._score)(run, ids, options["chunk"], total, options)
        if not options["enqueue"]:
            services.score_run_finish(run=run, scored=done)
        self.stdout.write(f"{'enqueued' if options['enqueue'] else 'scored'} {done} members (run {run.run_id})")

    def _score(self, run, ids, chunk, total, options) -> int:
        return score_all(run=run, ids=ids, chunk=chunk, total=total, progress=not options["no_progress"])

    def _enqueue(self, run, ids, chunk, total, options) -> int:
        return services.score_run_enqueue(run=run, ids=ids, chunk=chunk)


def score_all(*, run, ids=None, chunk: int, total: int | None = None, progress: bool = False) -> int:
    """Score every member of the run's selection, chunk by chunk, in id order; return how many."""
    done, after = 0, None
    with tqdm(total=total, unit="members", disable=not progress) as bar:
        while rows := selectors.members_to_score(cutoff=run.cutoff, ids=ids, after=after, limit=chunk):
            done += services.members_score_chunk(rows=rows, run_id=run.run_id)
            after = rows[-1][0]
            bar.update(len(rows))
    return done
