"""Argument values every field refuses, checked where GraphQL parses them.

Graphene's scalars accept `NaN`, `Infinity`, `1E+999999`, dates in year 1 or 9999 and strings
with NUL bytes; each then fails deep inside a resolver or the database. Here the built schema's
Decimal, Date, DateTime and String scalars refuse them while the request is parsed, as a
top-level BAD_USER_INPUT error naming the argument. What depends on the field (2 decimals for
money, a column's length, a positive amount) is the service's to check, in `errors`.
"""

from collections.abc import Callable
from typing import Any

from graphql import GraphQLScalarType, GraphQLSchema, Undefined

from shop.core import validation
from shop.core.errors import BadUserInput

# No amount, quantity or ratio here comes near; beyond it Decimal arithmetic stops being exact
# and the databases' numeric types refuse or round.
DECIMAL_MAX_EXPONENT = 100


def _decimal(value: Any) -> Any:
    if value is Undefined:
        return value
    number = validation.decimal_number(value)
    if number is None or abs(number.adjusted()) > DECIMAL_MAX_EXPONENT:
        raise BadUserInput(
            "A Decimal is a finite number written as a string, with an exponent within "
            f"±{DECIMAL_MAX_EXPONENT}."
        )
    return number


def _date(value: Any) -> Any:
    if value is not Undefined and value is not None:
        validation.check_date(value)
    return value


def _string(value: Any) -> Any:
    if isinstance(value, str) and validation.CONTROL_CHARACTERS.search(value):
        raise BadUserInput("Control characters (such as NUL) are not allowed in strings.")
    return value


def _then(check: Callable[[Any], Any], parse: Callable[..., Any]) -> Callable[..., Any]:
    def parse_and_check(*args: Any) -> Any:
        return check(parse(*args))

    return parse_and_check


CHECKS: dict[str, Callable[[Any], Any]] = {
    "Decimal": _decimal,
    "Date": _date,
    "DateTime": _date,
    "String": _string,
}


def harden_scalars(schema: GraphQLSchema) -> GraphQLSchema:
    """Wrap the parsing (variables and literals) of the schema's scalars with CHECKS."""
    for name, check in CHECKS.items():
        scalar = schema.type_map.get(name)
        # String is graphql-core's own instance, shared by every schema: wrap it once.
        if isinstance(scalar, GraphQLScalarType) and not getattr(scalar, "hardened", False):
            scalar.hardened = True
            scalar.parse_value = _then(check, scalar.parse_value)
            scalar.parse_literal = _then(check, scalar.parse_literal)
    return schema
