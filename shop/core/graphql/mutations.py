"""Base class for mutations: thin adapters that call one service and report domain errors."""

from typing import Any

import graphene
from django.db import connection, transaction
from graphql import GraphQLResolveInfo

from shop.core.errors import AccessError, DomainError


def camel_case(name: str | None) -> str | None:
    if not name:
        return name
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class BaseMutation(graphene.Mutation):
    """Subclasses declare `errors = errors_field(<Domain>Error)` and implement `perform`.

    A `DomainError` raised by the service becomes the payload's `errors` (the service's own
    transaction has already rolled its writes back). An access error stays a top-level error
    and the request's transaction is marked for rollback, so nothing changes.
    """

    # A mutation that checks a password: the API runs it alone in its request and outside the
    # request's transaction, so its count of failed attempts commits whatever else happens.
    checks_password: bool = False

    class Meta:
        abstract = True

    @classmethod
    def perform(cls, info: GraphQLResolveInfo, **data: Any) -> "BaseMutation":
        raise NotImplementedError

    @classmethod
    def mutate(cls, root: Any, info: GraphQLResolveInfo, **data: Any) -> "BaseMutation":
        try:
            payload = cls.perform(info, **data)
        except DomainError as error:
            return cls(
                errors=[
                    DomainErrorPayload(camel_case(e.field), e.code, e.message)
                    for e in error.as_errors()
                ]
            )
        except AccessError:
            if connection.in_atomic_block:
                transaction.set_rollback(True)
            raise
        if getattr(payload, "errors", None) is None:
            payload.errors = []
        return payload


class DomainErrorPayload:
    """What an `<Domain>Error` object resolves from."""

    __slots__ = ("field", "code", "message")

    def __init__(self, field: str | None, code: str, message: str):
        self.field = field
        self.code = code
        self.message = message
