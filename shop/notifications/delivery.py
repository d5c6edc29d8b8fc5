"""Signing and sending one webhook: the HTTP side, with no database in it.

Signature: `X-Shanhai-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, keyed
with the endpoint's secret (docs/notifications.md shows a receiver checking it).

Addresses: in production an endpoint must be https and must not reach this platform's own
network. The address check is made on the connected socket's peer, after DNS and before a
byte of the request is written, so a name that resolves to a public address when the URL is
saved and to 127.0.0.1 later (DNS rebinding) is still refused. Redirects are not followed (a
3xx is a failed attempt), so a public URL cannot bounce the request inward either.
"""

import hashlib
import hmac
import http.client
import ipaddress
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from shop.notifications.errors import NotificationErrorCode

SIGNATURE_HEADER = "X-Shanhai-Signature"
USER_AGENT = "Shanhai-Webhooks/1"


def sign(body: str, secret: str, timestamp: int) -> str:
    """The signature header value for `body` sent at `timestamp`."""
    signed = f"{timestamp}.{body}".encode()
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class AddressNotAllowed(OSError):
    """The endpoint resolved to an address this server may not call."""


def address_allowed(address: str) -> bool:
    if settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES:
        return True
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True)
class UrlProblem:
    code: NotificationErrorCode
    message: str


def _refused(message: str) -> UrlProblem:
    return UrlProblem(NotificationErrorCode.URL_NOT_ALLOWED, message)


PRIVATE = "That address is private or local; webhooks go to public addresses only."
LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain"})


def url_problem(url: str) -> UrlProblem | None:
    """Why `url` cannot be an endpoint, or None. Checks what can be known without DNS; the
    address a name resolves to is checked at each connection."""
    if any(character.isspace() for character in url):
        return UrlProblem(NotificationErrorCode.INVALID_URL, "A URL has no spaces.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        return UrlProblem(NotificationErrorCode.INVALID_URL, f"Not a valid URL: {error}.")
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
        return UrlProblem(NotificationErrorCode.INVALID_URL, "Give an absolute http(s) URL.")
    if parts.username or parts.password:
        return UrlProblem(
            NotificationErrorCode.INVALID_URL,
            "Put no credentials in the URL; verify the signature instead.",
        )
    if parts.scheme == "http" and not settings.WEBHOOKS_ALLOW_HTTP:
        return _refused("Use https: plain http is not allowed for webhooks.")
    host = parts.hostname.lower().rstrip(".")
    try:
        literal = str(ipaddress.ip_address(host))
    except ValueError:
        literal = None
    if literal is not None and not address_allowed(literal):
        return _refused(PRIVATE)
    if host in LOCAL_NAMES and not settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES:
        return _refused(PRIVATE)
    return None


def _guarded_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
    sock = socket.create_connection(address, *args, **kwargs)
    peer = sock.getpeername()[0]
    if not address_allowed(peer):
        sock.close()
        raise AddressNotAllowed(f"{address[0]} resolved to {peer}, which may not be called")
    return sock


class _GuardedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _guarded_connection


class _GuardedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _guarded_connection


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(_GuardedHTTPConnection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(_GuardedHTTPSConnection, req)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx is raised as an HTTPError: a failed attempt


# No proxy from the environment: the address check must see the endpoint itself.
_opener = urllib.request.OpenerDirector()
for _handler in (
    urllib.request.ProxyHandler({}),
    _HTTPHandler(),
    _HTTPSHandler(),
    _NoRedirects(),
    urllib.request.HTTPDefaultErrorHandler(),
    urllib.request.HTTPErrorProcessor(),
):
    _opener.add_handler(_handler)


@dataclass(frozen=True)
class Attempt:
    status: int | None  # the HTTP status, None when no answer came
    error: str

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def post(url: str, body: str, *, secret: str, event_id: str, event_type: str) -> Attempt:
    """POST one signed event. Never raises for the receiver's failures: they are the outcome."""
    problem = url_problem(url)
    if problem:
        return Attempt(None, problem.message)
    request = urllib.request.Request(  # noqa: S310 (scheme checked by url_problem)
        url,
        data=body.encode(),
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "X-Shanhai-Event-Id": event_id,
            "X-Shanhai-Event-Type": event_type,
            SIGNATURE_HEADER: sign(body, secret, int(time.time())),
        },
    )
    try:
        with _opener.open(request, timeout=settings.WEBHOOKS_TIMEOUT_SECONDS) as response:
            return Attempt(response.status, "")
    except urllib.error.HTTPError as error:
        error.close()
        return Attempt(error.code, f"HTTP {error.code}")
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        reason = getattr(error, "reason", None) or error
        return Attempt(None, f"{type(reason).__name__}: {reason}"[:500])
