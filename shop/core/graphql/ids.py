"""Relay global IDs and connection cursors, decoded strictly.

graphql-relay's decoders accept whatever `int()` accepts: `Order: 334`, `Order:+334`,
`Order:3_34`, fullwidth or Arabic-Indic digits, and numbers no database column holds. Here an ID
or cursor counts only if it is exactly what we would have encoded ourselves: canonical base64 of
`Type:digits` (ASCII, no sign, no leading zero) within the range of a bigint column.
"""

import re
from base64 import b64decode
from binascii import Error as Base64Error

from graphql_relay import offset_to_cursor, to_global_id

BIGINT_MAX = 2**63 - 1
_POSITIVE = re.compile(r"[1-9][0-9]*")
_NATURAL = re.compile(r"0|[1-9][0-9]*")
_CURSOR_PREFIX = "arrayconnection:"


def _ascii_base64(text: object) -> str | None:
    if not isinstance(text, str) or not text.isascii():
        return None
    try:
        decoded = b64decode(text, validate=True)
    except (Base64Error, ValueError):
        return None
    return decoded.decode("ascii") if decoded.isascii() else None


def _number(digits: str, pattern: re.Pattern[str], largest: int) -> int | None:
    if not pattern.fullmatch(digits) or len(digits) > len(str(largest)):
        return None
    value = int(digits)
    return value if value <= largest else None


def decode_id(global_id: str, expected_type: str) -> int | None:
    """The database id behind a global ID of `expected_type`, or None when it is not one.

    None is passed on to the service, which checks access first and then answers NOT_FOUND,
    so a malformed ID never reveals more to a caller than an unknown one.
    """
    decoded = _ascii_base64(global_id)
    if decoded is None:
        return None
    type_name, _colon, digits = decoded.partition(":")
    if type_name != expected_type:
        return None
    value = _number(digits, _POSITIVE, BIGINT_MAX)
    if value is None or to_global_id(expected_type, value) != global_id:
        return None
    return value


def decode_cursor(cursor: str) -> int | None:
    """The offset behind a connection cursor, or None when it is not one of ours."""
    decoded = _ascii_base64(cursor)
    if decoded is None or not decoded.startswith(_CURSOR_PREFIX):
        return None
    # The next page starts one further on, and that offset must still fit a bigint.
    value = _number(decoded.removeprefix(_CURSOR_PREFIX), _NATURAL, BIGINT_MAX - 1)
    if value is None or offset_to_cursor(value) != cursor:
        return None
    return value
