"""Relay global IDs and connection cursors, decoded strictly.

A cursor is canonical base64 of the compact JSON `[scope, [values...]]`: the scope names the
connection and its order (a cursor of `products` sorted by price is refused by `products`
sorted by name, or by `users`), the values are the sort keys of the row it points at.

graphql-relay's decoders accept whatever `int()` accepts: `Order: 334`, `Order:+334`,
`Order:3_34`, fullwidth or Arabic-Indic digits, and numbers no database column holds. Here an ID
or cursor counts only if it is exactly what we would have encoded ourselves: canonical base64 of
`Type:digits` (ASCII, no sign, no leading zero) within the range of a bigint column.
"""

import json
import re
from base64 import b64decode, b64encode
from binascii import Error as Base64Error

from graphql_relay import to_global_id

BIGINT_MAX = 2**63 - 1
_POSITIVE = re.compile(r"[1-9][0-9]*")


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


CursorValue = str | int | None


def encode_cursor(scope: str, values: list[CursorValue]) -> str:
    """An opaque cursor for a row of the connection `scope` whose sort keys are `values`."""
    text = json.dumps([scope, values], ensure_ascii=True, separators=(",", ":"))
    return b64encode(text.encode("ascii")).decode("ascii")


def decode_cursor(cursor: object, scope: str) -> list[CursorValue] | None:
    """The sort key values behind a cursor of `scope`, or None when it is not one we would have
    handed out for that connection and order. The caller still checks each value's type."""
    decoded = _ascii_base64(cursor)
    if decoded is None:
        return None
    try:
        parsed = json.loads(decoded)
    except ValueError:
        return None
    if not (isinstance(parsed, list) and len(parsed) == 2 and parsed[0] == scope):
        return None
    values = parsed[1]
    if not isinstance(values, list) or not all(
        v is None or isinstance(v, str) or (type(v) is int and abs(v) <= BIGINT_MAX) for v in values
    ):
        return None
    if encode_cursor(scope, values) != cursor:
        return None
    return values


def decode_offset_cursor(cursor: object, scope: str) -> int | None:
    """The position behind a cursor of a connection paginated by position (search results)."""
    values = decode_cursor(cursor, scope)
    if values is None or len(values) != 1 or type(values[0]) is not int or values[0] < 0:
        return None
    # The next page starts one further on, and that offset must still fit a bigint.
    return values[0] if values[0] < BIGINT_MAX else None
