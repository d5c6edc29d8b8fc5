"""Base class for mutations: thin adapters that call one service and report domain errors."""

from typing import Any

import graphene
from django.db import connection, transaction
from graphql import GraphQLResolveInfo

from shop.core.errors import AccessError, DomainError
from shop.core.observability import note_error
from shop.core.permissions import ANYONE, require_role


def camel_case(name: str | None) -> str | None:
    if not name:
        return name
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class BaseMutation(graphene.Mutation):
    """Subclasses declare `errors = errors_field(<Domain>Error)` and `allowed_roles`, and
    implement `perform`.

    `allowed_roles` is the mutation's access policy as data: the roles that may call it, or
    `ANYONE` (signed in or not). It is checked before `perform`, so a caller outside it gets
    the access error whatever its input; the service checks it again for its other callers
    (admin, demo, jobs), and tests/shop/core/test_mutation_policies.py proves the two agree
    role by role. A mutation without a declared policy fails that test.

    A `DomainError` raised by the service becomes the payload's `errors` (the service's own
    transaction has already rolled its writes back). An access error stays a top-level error
    and the request's transaction is marked for rollback, so nothing changes.
    """

    # False for a mutation that must commit on its own: one that calls the network (the payment
    # gateway: it commits its own short steps around the call) or checks a password (its count of
    # failed attempts must survive whatever else happens). Its request runs without the
    # request-wide transaction, and it must be the only mutation of its request
    # (see shop/core/graphql/view.py).
    atomic_request = True

    # The roles allowed to call it (a tuple of Role values) or ANYONE; None is undeclared.
    allowed_roles: tuple[str, ...] | str | None = None

    class Meta:
        abstract = True

    @classmethod
    def perform(cls, info: GraphQLResolveInfo, **data: Any) -> "BaseMutation":
        raise NotImplementedError

    @classmethod
    def mutate(cls, root: Any, info: GraphQLResolveInfo, **data: Any) -> "BaseMutation":
        try:
            if cls.allowed_roles is not None and cls.allowed_roles != ANYONE:
                require_role(info.context.user, *cls.allowed_roles)
            payload = cls.perform(info, **data)
        except DomainError as error:
            payloads = error_payloads(error)
            for payload in payloads:
                note_error(payload.code)
            return cls(errors=payloads)
        except AccessError:
            # A non-atomic mutation has no request transaction to roll back (its service
            # checks access before its first write).
            if cls.atomic_request and connection.in_atomic_block:
                transaction.set_rollback(True)
            raise
        if getattr(payload, "errors", None) is None:
            payload.errors = []
        return payload


def error_payloads(error: DomainError) -> list["DomainErrorPayload"]:
    return [DomainErrorPayload(camel_case(e.field), e.code, e.message) for e in error.as_errors()]


def non_atomic_mutation_fields(schema: Any) -> frozenset[str]:
    """The names of the root mutation fields whose mutation is not `atomic_request`."""
    mutation_type = schema.graphql_schema.mutation_type
    if mutation_type is None:
        return frozenset()
    return frozenset(
        name
        for name, field in mutation_type.fields.items()
        if getattr(getattr(field.type, "graphene_type", None), "atomic_request", True) is False
    )


class DomainErrorPayload:
    """What an `<Domain>Error` object resolves from."""

    __slots__ = ("field", "code", "message")

    def __init__(self, field: str | None, code: str, message: str):
        self.field = field
        self.code = code
        self.message = message
