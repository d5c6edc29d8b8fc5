"""Request id, Bearer-token authentication and the Content-Security-Policy of the pages."""

import contextvars
import ipaddress
import logging
import re
import secrets
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def current_request_id() -> str:
    return _request_id.get()


@contextmanager
def request_id_context(request_id: str) -> Iterator[None]:
    """Log lines written inside carry `request_id` (a request's own, or that of the request
    that enqueued the job a worker is running)."""
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)


class RequestIdLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() or "-"
        return True


def _from_trusted_proxy(request: HttpRequest) -> bool:
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(proxy, strict=False) for proxy in settings.TRUSTED_PROXIES
    )


class RequestIdMiddleware:
    """Tags each request with an id for logs and audit, echoed in the X-Request-ID response
    header. The incoming X-Request-ID (if sane) is kept only when the connection comes from
    a TRUSTED_PROXIES address (the proxy that generated it, so its log and ours join up); a
    client's own id is replaced, so nobody can make their requests' log lines pass for
    another's."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        trusted = bool(incoming) and _from_trusted_proxy(request)
        request_id = incoming if trusted and _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        with request_id_context(request_id):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


class BearerTokenMiddleware:
    """Authenticates `Authorization: Bearer <jwt>`. A bad or expired token does not silently
    fall back to anonymous: it is kept on the request so the API can answer UNAUTHENTICATED."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from shop.accounts.tokens import TokenError, user_from_access_token

        request.auth_error = None
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            try:
                request.user = user_from_access_token(header.removeprefix("Bearer ").strip())
            except TokenError as error:
                request.auth_error = str(error)
        return self.get_response(request)


def _asset_origins() -> str:
    """Static files and uploads served from another origin (a CDN, object storage)."""
    origins = set()
    for url in (settings.STATIC_URL, settings.MEDIA_URL):
        parts = urlsplit(url or "")
        if parts.scheme and parts.netloc:
            origins.add(f"{parts.scheme}://{parts.netloc}")
    return "".join(f" {origin}" for origin in sorted(origins))


class ContentSecurityPolicyMiddleware:
    """A Content-Security-Policy on the pages a browser renders: the admin and the dashboard.
    Scripts, styles, images and fonts from the app (and its asset origins) only, no inline
    script, inline styles only with this response's nonce (the dashboard's one <style>
    element; its SVG charts use presentation attributes, which CSP does not govern), forms
    posting back to the app only, no framing. The API's JSON and the debug GraphiQL page
    (which loads from a CDN) are left alone."""

    NAMESPACES = frozenset({"admin", "dashboard"})

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.csp_nonce = secrets.token_urlsafe(16)
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        if match is not None and self.NAMESPACES.intersection(match.namespaces):
            assets = _asset_origins()
            response.headers.setdefault(
                "Content-Security-Policy",
                f"default-src 'none'; script-src 'self'{assets}; "
                f"style-src 'self'{assets} 'nonce-{request.csp_nonce}'; "
                f"img-src 'self'{assets}; font-src 'self'{assets}; connect-src 'self'; "
                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            )
        return response
