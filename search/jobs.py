"""Search jobs: drain the index outbox after a commit, and the periodic sweep (was cron's
`search_sync`). Both are idempotent: the outbox rows are the work, deleted only once every
index took them; a drain killed mid-way leaves its leased rows to come due again."""

from search import indexing
from shop.core.jobs import job


@job(max_attempts=5, backoff_seconds=5)
def drain_outbox() -> dict[str, int]:
    """Deliver the queued index updates (enqueued when a catalog change commits)."""
    report = indexing.drain()
    return {"indexed": report.indexed, "deferred": report.deferred}


@job(max_attempts=1)
def search_sync() -> dict[str, int]:
    """Queue entries gone stale by date or stock, then deliver everything due (every minute;
    the next run is its retry)."""
    queued = indexing.reconcile()
    report = indexing.drain()
    return {"queued": queued, "indexed": report.indexed, "deferred": report.deferred}
