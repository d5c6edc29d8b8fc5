"""Input validation shared by every domain: money, quantities, dates, years, text and search.

Each validator returns the clean value or raises. With `code` (and usually `field`) it raises
a `DomainError`, which a mutation reports in its `errors` list; without, a `BadUserInput`,
which a query reports as a top-level BAD_USER_INPUT error. The ranges are documented in
docs/decisions.md ("Input values").
"""

import re
from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import cache
from typing import Any, TypeVar

from django.db import models
from stdnum.cn import uscc
from stdnum.exceptions import ValidationError as StdnumValidationError

from shop.core.errors import BadUserInput, CommonErrorCode, DomainError, DomainErrors

T = TypeVar("T")

EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2100, 12, 31)
# SQLite (the embedded default) keeps a decimal as a double, exact to 15 significant digits;
# a longer amount would come back altered and break the ledger's hash chain.
MAX_SIGNIFICANT_DIGITS = 15
# Long-term (长期) licences and ID cards are filed with this horizon and renewed by then.
DOCUMENT_MAX_YEARS = 30
SEARCH_MAX_LENGTH = 100  # characters of a search box; segmenting and LIKE cost grows with it
# C0 control characters and DEL, except tab, line feed and carriage return. NUL cannot be
# stored by PostgreSQL at all; the others only hide text from reviewers.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _refuse(message: str, field: str | None, code: StrEnum | str | None) -> Exception:
    if code is None:
        return BadUserInput(f"`{field}`: {message}" if field else message)
    return DomainError(message, code=code, field=field)


def column(model: type[models.Model], name: str) -> models.Field:
    return model._meta.get_field(name)


def decimal_number(value: Any) -> Decimal | None:
    """`value` as a finite Decimal, or None when it is not one (floats are refused)."""
    if isinstance(value, float | bool):
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def decimal_problem(number: Decimal | None, *, max_digits: int, places: int) -> str | None:
    """Why `number` cannot be stored exactly with `places` decimals in `max_digits`, or None."""
    limit = Decimal(10) ** (min(max_digits, MAX_SIGNIFICANT_DIGITS) - places)
    if number is None:
        return "is not a finite number"
    if abs(number) >= limit:
        return f"must be less than {limit:,} in absolute value"
    if number != number.quantize(Decimal(1).scaleb(-places)):
        return f"has more than {places} decimals"
    return None


def money(
    value: Any,
    *,
    column: models.DecimalField,
    field: str | None = None,
    code: StrEnum | str | None = None,
    sign: str = "positive",
) -> Decimal:
    """A CNY amount: finite, at most 2 decimals (never rounded here: 0.001 is refused), with
    no more integer digits than `column` holds (and 15 significant digits in all), and of
    `sign` "positive", "nonnegative", "nonzero" (signed corrections) or "any" (filters)."""
    number = decimal_number(value)
    problem = decimal_problem(number, max_digits=column.max_digits, places=2)
    if problem:
        raise _refuse(f"The amount in yuan {problem}.", field, code)
    if (
        (sign == "positive" and number <= 0)
        or (sign == "nonzero" and number == 0)
        or (sign == "nonnegative" and number < 0)
    ):
        raise _refuse(f"The amount must be {sign.replace('non', 'non-')}.", field, code)
    return number.quantize(Decimal("0.01"))


def quantity(
    value: Any,
    *,
    column: models.DecimalField,
    field: str | None = None,
    code: StrEnum | str | None = None,
) -> Decimal:
    """A positive decimal quantity (kg, litres) that fits `column` exactly."""
    number = decimal_number(value)
    problem = decimal_problem(number, max_digits=column.max_digits, places=column.decimal_places)
    if problem or number <= 0:
        raise _refuse(f"The quantity {problem or 'must be positive'}.", field, code)
    return number


def check_date(
    value: date | None,
    *,
    field: str | None = None,
    code: StrEnum | str | None = None,
    latest: date = LATEST_DATE,
) -> date | None:
    """A date (or the day of a datetime) between 2000-01-01 and `latest`."""
    if value is None:
        return None
    day = value.date() if isinstance(value, datetime) else value
    if not EARLIEST_DATE <= day <= latest:
        raise _refuse(f"Dates run from {EARLIEST_DATE} to {latest}.", field, code)
    return value


def years_ahead(today: date, years: int) -> date:
    """The same day `years` later (28 February for 29 February), capped at LATEST_DATE."""
    try:
        later = today.replace(year=today.year + years)
    except ValueError:
        later = today.replace(year=today.year + years, day=28)
    return min(later, LATEST_DATE)


def document_expiry(
    value: date, *, today: date, field: str | None = None, code: StrEnum | str | None = None
) -> date:
    """A qualification's or authorisation's expiry: at most DOCUMENT_MAX_YEARS ahead, so that
    "valid until 9999-12-31" cannot stand in for a document nobody checks again."""
    latest = years_ahead(today, DOCUMENT_MAX_YEARS)
    if value > latest:
        raise _refuse(
            f"A document is filed as valid for at most {DOCUMENT_MAX_YEARS} years: until "
            f"{latest} at the latest.",
            field,
            code,
        )
    return value


def year(value: int | None, *, field: str = "year", code: StrEnum | str | None = None) -> int:
    if value is None or not EARLIEST_DATE.year <= value <= LATEST_DATE.year:
        raise _refuse(f"A year runs from {EARLIEST_DATE.year} to {LATEST_DATE.year}.", field, code)
    return value


def credit_code(value: str | None, *, field: str, code: StrEnum | None = None) -> str:
    """The 18-character unified social credit code (统一社会信用代码), upper-cased, with a
    valid checksum (python-stdnum's GB 32100-2015 check)."""
    try:
        return uscc.validate(value or "")
    except StdnumValidationError as error:
        raise _refuse(
            f"{value!r} is not a valid unified social credit code (统一社会信用代码): {error}.",
            field,
            code,
        ) from error


def text_problem(value: str, max_length: int | None) -> str | None:
    """Why `value` cannot be stored in a column of `max_length`, or None."""
    if CONTROL_CHARACTERS.search(value):
        return "Control characters (such as NUL) are not allowed."
    if max_length is not None and len(value) > max_length:
        return f"At most {max_length} characters."
    return None


def text(
    value: str | None,
    *,
    column: models.Field,
    field: str | None = None,
    code: StrEnum | str | None = None,
) -> str:
    """Text that fits `column` (its max_length) and has no control characters."""
    value = value or ""
    problem = text_problem(value, getattr(column, "max_length", None))
    if problem:
        raise _refuse(problem, field, code)
    return value


def search_text(value: str | None, *, field: str = "search") -> str:
    """A search box's text: short enough to search quickly (top-level BAD_USER_INPUT)."""
    value = value or ""
    if len(value) > SEARCH_MAX_LENGTH:
        raise BadUserInput(f"`{field}` is longer than {SEARCH_MAX_LENGTH} characters.")
    if CONTROL_CHARACTERS.search(value):
        raise BadUserInput(f"`{field}` contains control characters.")
    return value


@cache
def _checked_fields(
    model: type[models.Model],
) -> tuple[tuple[models.Field, ...], tuple[models.DecimalField, ...]]:
    """The text and the decimal fields of `model`, found once per model: `check_columns` runs
    on every save and on every row a service inserts in bulk."""
    fields = model._meta.concrete_fields
    texts = tuple(f for f in fields if isinstance(f, models.CharField | models.TextField))
    decimals = tuple(f for f in fields if isinstance(f, models.DecimalField))
    return texts, decimals


def check_columns(instance: models.Model) -> None:
    """The last line before the database: every text and decimal value of `instance` fits its
    column. Services validate their inputs first with the functions above (and their domain
    codes); this catches whatever a service did not name, with code INVALID on the model
    field, instead of a database error (PostgreSQL refuses, SQLite silently keeps it)."""
    texts, decimals = _checked_fields(type(instance))
    problems = []
    for model_field in texts:
        value = getattr(instance, model_field.attname)
        if isinstance(value, str) and (problem := text_problem(value, model_field.max_length)):
            problems.append((model_field, problem))
    for model_field in decimals:
        value = getattr(instance, model_field.attname)
        if isinstance(value, Decimal) and (
            problem := decimal_problem(
                value if value.is_finite() else None,
                max_digits=model_field.max_digits,
                places=model_field.decimal_places,
            )
        ):
            problems.append((model_field, f"The value {problem}."))
    if problems:
        # in the fields' order, as they were checked before
        order = {f: n for n, f in enumerate(instance._meta.concrete_fields)}
        raise DomainErrors(
            [
                DomainError(problem, code=CommonErrorCode.INVALID, field=model_field.name)
                for model_field, problem in sorted(problems, key=lambda p: order[p[0]])
            ]
        )


def collecting(
    errors: list[DomainError], check: Callable[..., T], *args: Any, **kwargs: Any
) -> T | None:
    """`check(*args, **kwargs)`, or None with its domain errors added to `errors`: for
    services that report every bad field at once."""
    try:
        return check(*args, **kwargs)
    except DomainError as error:
        errors.extend(error.as_errors())
        return None


def checked_rows(rows: Iterable[models.Model]) -> list[models.Model]:
    """`rows` after `check_columns` on each: for bulk_create, which sends no pre_save."""
    rows = list(rows)
    for row in rows:
        check_columns(row)
    return rows


# Models of these apps are checked on every save (see CoreConfig.ready).
CHECKED_APPS = frozenset({"core", "accounts", "notifications", "catalog", "procurement"})


def check_columns_before_save(sender: type[models.Model], instance: models.Model, **_kw) -> None:
    if sender._meta.app_label in CHECKED_APPS:
        check_columns(instance)
