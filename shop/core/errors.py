"""Domain errors. Services raise these; the GraphQL layer turns them into data.

`DomainError` (and its subclasses) becomes an entry of a mutation's `errors` list.
`NotAuthenticated` and `PermissionDenied` become top-level GraphQL errors with
`extensions.code` UNAUTHENTICATED / PERMISSION_DENIED, and the mutation's transaction is
rolled back, so nothing changes.
"""

from enum import StrEnum


class CommonErrorCode(StrEnum):
    """Codes every domain shares; each domain enum repeats the ones it can raise."""

    INVALID = "INVALID"
    REQUIRED = "REQUIRED"
    NOT_FOUND = "NOT_FOUND"


class DomainError(Exception):
    """An anticipated failure of a business action, shown to the caller."""

    def __init__(self, message: str, *, code: StrEnum | str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = str(code)
        self.field = field

    def as_errors(self) -> list["DomainError"]:
        return [self]


class DomainErrors(DomainError):
    """Several field errors reported together (e.g. a form with three bad fields)."""

    def __init__(self, errors: list[DomainError]):
        super().__init__("; ".join(e.message for e in errors), code=errors[0].code)
        self.errors = errors

    def as_errors(self) -> list[DomainError]:
        return self.errors


class FieldErrors(list):
    """The field errors of one input, collected so that all are reported together."""

    def add(self, message: str, code: StrEnum | str, field: str | None = None) -> None:
        self.append(DomainError(message, code=code, field=field))

    def raise_any(self) -> None:
        if self:
            raise DomainErrors(list(self))


class NotFound(DomainError):
    def __init__(
        self,
        message: str,
        *,
        field: str | None = "id",
        code: StrEnum | str = CommonErrorCode.NOT_FOUND,
    ):
        super().__init__(message, code=code, field=field)


class InvalidTransition(DomainError):
    """A status change the transition table does not allow."""


class AccessError(Exception):
    """Base of the two top-level access errors; `code` is the GraphQL extensions code."""

    code = "PERMISSION_DENIED"
    default_message = "You do not have permission to perform this action."

    def __init__(self, message: str | None = None):
        super().__init__(message or self.default_message)


class Unavailable(Exception):
    """A capability this server is not configured for (e.g. no ledger signing key): a top-level
    error with `extensions.code` SERVICE_UNAVAILABLE, never an internal error."""

    code = "SERVICE_UNAVAILABLE"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotAuthenticated(AccessError):
    code = "UNAUTHENTICATED"
    default_message = "You must be signed in to perform this action."


class PermissionDenied(AccessError):
    code = "PERMISSION_DENIED"


class BadUserInput(Exception):
    """Malformed request arguments outside any mutation payload (e.g. a page size over the
    limit); answered as a top-level error with code BAD_USER_INPUT."""
