"""Catalog jobs: the admission-and-exit rules (reminders, suspensions, exits), every few
minutes. Idempotent: each rule records what it did (a reminder once per threshold, a status
change once) and skips what is done."""

from catalog.services.rules import run_rules
from shop.core.jobs import job


@job(max_attempts=1)
def catalog_rules() -> dict[str, int]:
    report = run_rules()
    return {
        "reminders": len(report.reminders),
        "suspended": len(report.suspended),
        "exited": len(report.exited),
    }
