"""Run background jobs and the periodic schedules (replaces the cron entries); run one or more
per machine, on as many machines as you like (docs/operations.md, "Background work")."""

import signal
import sys
from argparse import ArgumentParser
from types import FrameType

from django.core.management.base import BaseCommand, CommandError
from django.utils.crypto import get_random_string

from shop.core.jobs import Worker, uses_worker


class Command(BaseCommand):
    help = (
        "Run queued jobs (search outbox, webhook deliveries, rules, ledger checks, exports) and "
        "fire due periodic jobs. SIGTERM/Ctrl-C finish the running job, then stop."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--queue", default="*", help="comma-separated queues to take jobs from (default: all)"
        )
        parser.add_argument(
            "--interval", type=float, default=1.0, help="seconds to wait when nothing is due"
        )
        parser.add_argument(
            "--no-schedules",
            action="store_true",
            help="only run queued jobs; fire no periodic ones",
        )
        parser.add_argument("--batch", action="store_true", help="run what is due now, then exit")
        parser.add_argument("--max-jobs", type=int, default=None, help="exit after this many")
        parser.add_argument(
            "--worker-id",
            default=None,
            help="unique name of this worker (default: random); at most 64 characters",
        )

    def handle(self, *args, **options) -> None:
        if not uses_worker():
            raise CommandError(
                "JOBS_BACKEND is not 'database': jobs run where they are enqueued and there is "
                "nothing for a worker to do."
            )
        worker_id = options["worker_id"] or get_random_string(32)
        if len(worker_id) > 64:
            raise CommandError("--worker-id is at most 64 characters.")
        if not 0 <= options["interval"] <= 3600:
            raise CommandError("--interval is 0 to 3600 seconds.")
        if options["max_jobs"] is not None and options["max_jobs"] < 1:
            raise CommandError("--max-jobs is at least 1.")
        worker = Worker(
            worker_id=worker_id,
            queue_names=options["queue"].split(","),
            interval=options["interval"],
            run_schedules=not options["no_schedules"],
            batch=options["batch"],
            max_tasks=options["max_jobs"],
        )

        def graceful(signum: int, frame: FrameType | None) -> None:
            if not worker.running:  # a second signal: stop now (the job is run again later)
                sys.exit(1)
            worker.stop()

        previous = {sig: signal.signal(sig, graceful) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            worker.run()
        finally:  # called in-process (tests, scripts): give the caller its handlers back
            for sig, handler in previous.items():
                signal.signal(sig, handler)
