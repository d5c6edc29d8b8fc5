"""Account jobs: prune sign-in throttle rows that no longer throttle anything (daily)."""

from shop.accounts import throttle
from shop.core.jobs import job


@job(max_attempts=1)
def sign_in_throttle_prune() -> int:
    return throttle.prune()
