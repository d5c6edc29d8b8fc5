"""Request id and Bearer-token authentication."""

import contextvars
import logging
import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def current_request_id() -> str:
    return _request_id.get()


class RequestIdLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() or "-"
        return True


class RequestIdMiddleware:
    """Tags each request with an id (the caller's X-Request-ID if sane) for logs and audit."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = _request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
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
