"""Sign-in throttling: which attempts may check a password, counted so that nothing can undo
the count.

Three keys count failures (docs/decisions.md weighs them):
- PAIR, one account from one client address: refused after LOGIN_THROTTLE_MAX_FAILURES_PER_PAIR
  until the window passes. This is what stops one guesser, and it never touches the owner
  signing in from elsewhere.
- ADDRESS, one client address for any account: a high limit against spraying many accounts.
- ACCOUNT, one account from anywhere: never a lock. Past a number of free failures each
  further attempt waits a doubling delay (capped), which slows a guesser spread over many
  addresses; an address the account signed in from recently skips it.

An attempt is counted as a failure *before* the password is checked, in its own committed
transaction, under a row lock on its keys: parallel attempts queue on the lock and see each
other's counts, and a crash or a rollback elsewhere can only leave an attempt counted. A
success then takes its count back.
"""

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.http import HttpRequest
from django.utils import timezone

from shop.accounts.errors import AccountErrorCode
from shop.accounts.models import SignInThrottle
from shop.core.errors import DomainError

Scope = SignInThrottle.Scope
_EMAIL_LENGTH = SignInThrottle._meta.get_field("email").max_length


def client_address(request: HttpRequest | None) -> str:
    """The address a request came from: REMOTE_ADDR, or, when that is a trusted proxy, the
    address it forwarded for (X-Forwarded-For read from the right, past every trusted proxy).
    A client's own X-Forwarded-For is never believed. IPv6 clients count by their /64, the
    block one subscriber is usually given."""
    if request is None:
        return ""
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return ""
    proxies = [ipaddress.ip_network(proxy, strict=False) for proxy in settings.TRUSTED_PROXIES]
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    while hops and any(address in proxy for proxy in proxies):
        try:
            address = ipaddress.ip_address(hops.pop())
        except ValueError:
            # A trusted proxy writes addresses; anything else came from the client.
            break
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def account_key(email: str) -> str:
    """The e-mail as sign-in looks it up and throttling counts it. Input longer than the
    column, or with a NUL (which PostgreSQL cannot store), cannot be an account: cutting and
    replacing only pools junk, and never turns it into a real account's key."""
    return (email or "").strip().lower().replace("\x00", "\ufffd")[:_EMAIL_LENGTH]


def _refused(until: datetime, now: datetime) -> DomainError:
    seconds = max(1, int((until - now).total_seconds() + 0.999))
    if seconds >= 120:
        wait = f"{(seconds + 59) // 60} minutes"
    else:
        wait = f"{seconds} second{'' if seconds == 1 else 's'}"
    return DomainError(
        f"Too many failed sign-in attempts. Try again in {wait}.",
        code=AccountErrorCode.LOGIN_THROTTLED,
    )


def _account_delay(failures: int) -> timedelta:
    over = failures - settings.LOGIN_THROTTLE_ACCOUNT_FREE_FAILURES
    cap = settings.LOGIN_THROTTLE_ACCOUNT_MAX_DELAY
    # min() before the power keeps a huge count from building a huge number.
    return min(timedelta(seconds=2 ** min(over, 30)), cap)


@dataclass(frozen=True)
class Attempt:
    """An attempt counted as failed until `succeeded()` takes that back."""

    email: str
    address: str
    row_ids: tuple[int, ...]

    def succeeded(self) -> None:
        now = timezone.now()
        with transaction.atomic(durable=True):
            rows = SignInThrottle.objects.filter(pk__in=self.row_ids)
            rows.filter(scope=Scope.PAIR).update(
                failures=0, window_started_at=None, last_success_at=now
            )
            rows.exclude(scope=Scope.PAIR).update(failures=Greatest(F("failures") - 1, 0))


def _locked_rows(email: str, address: str) -> dict[str, SignInThrottle]:
    """The three rows of an attempt's keys, created if missing, locked until commit."""
    keys = {Scope.PAIR: (email, address), Scope.ACCOUNT: (email, ""), Scope.ADDRESS: ("", address)}
    wanted = Q()
    for scope, (key_email, key_address) in keys.items():
        wanted |= Q(scope=scope, email=key_email, address=key_address)
    # A prune (sign_in_throttle_prune) may delete a row between the insert and the lock: then
    # insert again.
    for _ in range(3):
        SignInThrottle.objects.bulk_create(
            [SignInThrottle(scope=s, email=e, address=a) for s, (e, a) in keys.items()],
            ignore_conflicts=True,
        )
        # One statement locks all three rows in a fixed order: no deadlocks between attempts.
        locked = SignInThrottle.objects.select_for_update().filter(wanted).order_by("pk")
        rows = {row.scope: row for row in locked}
        if len(rows) == len(keys):
            return rows
    raise RuntimeError("Sign-in throttle rows keep disappearing.")


def attempt(email: str, address: str) -> Attempt:
    """Count a sign-in attempt as failed before its password is checked, or refuse it with
    LOGIN_THROTTLED (changing nothing). Durable: called inside another transaction it raises
    instead of committing a count that a rollback could undo."""
    email = account_key(email)
    window = settings.LOGIN_THROTTLE_WINDOW
    with transaction.atomic(durable=True):
        rows = _locked_rows(email, address)
        now = timezone.now()
        for row in rows.values():
            # PAIR and ADDRESS count in a fixed window from the first failure; ACCOUNT forgets
            # only after a quiet window, so a slow guesser keeps its delay.
            start = row.last_failure_at if row.scope == Scope.ACCOUNT else row.window_started_at
            if start is not None and now - start >= window:
                row.failures, row.window_started_at = 0, None
        pair, account, by_address = rows[Scope.PAIR], rows[Scope.ACCOUNT], rows[Scope.ADDRESS]
        known = pair.last_success_at is not None and (
            now - pair.last_success_at < settings.LOGIN_THROTTLE_KNOWN_ADDRESS_AGE
        )
        if pair.failures >= settings.LOGIN_THROTTLE_MAX_FAILURES_PER_PAIR:
            until = pair.window_started_at + window
        elif by_address.failures >= settings.LOGIN_THROTTLE_MAX_FAILURES_PER_ADDRESS:
            until = by_address.window_started_at + window
        elif not known and account.failures >= settings.LOGIN_THROTTLE_ACCOUNT_FREE_FAILURES:
            until = account.last_failure_at + _account_delay(account.failures)
        else:
            until = now
        if until > now:
            # Raised inside the block: rows created for this attempt are not kept.
            raise _refused(until, now)
        for row in rows.values():
            row.failures += 1
            row.window_started_at = row.window_started_at or now
            row.last_failure_at = now
            row.save(update_fields=["failures", "window_started_at", "last_failure_at"])
    return Attempt(email, address, tuple(row.pk for row in rows.values()))


def prune() -> int:
    """Delete rows that no longer throttle anything: no failure within the window and no
    recent success (a known address). Returns how many."""
    now = timezone.now()
    stale = SignInThrottle.objects.filter(
        last_failure_at__lt=now - settings.LOGIN_THROTTLE_WINDOW
    ).exclude(last_success_at__gte=now - settings.LOGIN_THROTTLE_KNOWN_ADDRESS_AGE)
    return stale.delete()[0]
