"""Relay global IDs."""

from graphql_relay import from_global_id


def decode_id(global_id: str, expected_type: str) -> int | None:
    """The database id behind a global ID of `expected_type`, or None when it is not one.

    None is passed on to the service, which checks access first and then answers NOT_FOUND,
    so a malformed ID never reveals more to a caller than an unknown one.
    """
    try:
        type_name, raw_id = from_global_id(global_id)
        if type_name == expected_type:
            return int(raw_id)
    except (TypeError, ValueError):
        pass
    return None
