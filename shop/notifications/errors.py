from enum import StrEnum


class NotificationErrorCode(StrEnum):
    INVALID = "INVALID"
    REQUIRED = "REQUIRED"
    NOT_FOUND = "NOT_FOUND"
    INVALID_URL = "INVALID_URL"
    # the URL is well formed but may not be called: plain http, a private or loopback address
    URL_NOT_ALLOWED = "URL_NOT_ALLOWED"
    UNKNOWN_EVENT_TYPE = "UNKNOWN_EVENT_TYPE"
    TOO_MANY_ENDPOINTS = "TOO_MANY_ENDPOINTS"
    ENDPOINT_INACTIVE = "ENDPOINT_INACTIVE"
