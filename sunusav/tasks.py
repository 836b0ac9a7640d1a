"""django-q2 jobs of the core: the job ledger's reconciliation and retention (thin, safe to run twice)."""

from sunusav import jobs


def jobs_reconcile() -> dict:
    """Enqueue again the accepted jobs the broker lost (every 5 minutes)."""
    return jobs.jobs_reconcile()


def job_records_purge() -> int:
    """Delete the records of jobs finished more than JOBS_RETENTION_DAYS ago (daily)."""
    return jobs.job_records_purge()
