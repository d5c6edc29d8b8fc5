"""The /graphql/ endpoint: limits, authentication errors and error formatting."""

import json
import logging

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from graphene_django.views import HttpError
from graphene_file_upload.django import FileUploadGraphQLView
from graphql import ExecutionResult, GraphQLError, OperationType, execute, parse, validate
from graphql.error import GraphQLSyntaxError
from graphql.language import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
)
from graphql.utilities import get_operation_ast

from shop.core.errors import AccessError, BadUserInput
from shop.core.graphql.limits import check_cost, check_shape
from shop.core.graphql.mutations import non_atomic_mutation_fields
from shop.core.middleware import current_request_id

logger = logging.getLogger("shop.graphql")


def _error_body(message: str, code: str) -> bytes:
    return json.dumps({"errors": [{"message": message, "extensions": {"code": code}}]}).encode()


def format_graphql_error(error: Exception) -> dict:
    """Every top-level error carries `extensions.code`; unexpected ones leak nothing."""
    if not isinstance(error, GraphQLError):
        error = GraphQLError(str(error), original_error=error)
    original = error.original_error
    formatted = error.formatted
    extensions = dict(formatted.get("extensions") or {})
    if isinstance(original, AccessError):
        extensions["code"] = original.code
    elif isinstance(original, BadUserInput):
        extensions["code"] = "BAD_USER_INPUT"
    elif original is not None and not isinstance(original, GraphQLError):
        logger.error(
            "Unexpected error in GraphQL resolver at %s",
            formatted.get("path"),
            exc_info=(type(original), original, original.__traceback__),
        )
        formatted["message"] = (
            f"Internal server error. Quote request id {current_request_id()} when reporting it."
        )
        extensions = {"code": "INTERNAL_SERVER_ERROR"}
    elif "code" not in extensions:
        extensions["code"] = (
            "GRAPHQL_PARSE_FAILED"
            if isinstance(error, GraphQLSyntaxError)
            else "GRAPHQL_VALIDATION_FAILED"
        )
    extensions["requestId"] = current_request_id()
    formatted["extensions"] = extensions
    return formatted


def _root_fields(document: DocumentNode, operation: OperationDefinitionNode) -> list[str]:
    """The operation's top-level field names, one per selection (aliases count), looking
    through fragments."""
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    names: list[str] = []
    pending = list(operation.selection_set.selections)
    seen: set[str] = set()
    while pending:
        selection = pending.pop()
        if isinstance(selection, FieldNode):
            names.append(selection.name.value)
        elif isinstance(selection, InlineFragmentNode):
            pending.extend(selection.selection_set.selections)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
            seen.add(selection.name.value)
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                pending.extend(fragment.selection_set.selections)
    return names


class ShopGraphQLView(FileUploadGraphQLView):
    """Also accepts the GraphQL multipart request spec, for `Upload` arguments."""

    format_error = staticmethod(format_graphql_error)
    graphiql = True

    def can_display_graphiql(self, request, data) -> bool:
        # Decided per request so that DEBUG alone turns GraphiQL on or off.
        return settings.DEBUG and super().can_display_graphiql(request, data)

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            # The API authenticates by token only. A session cookie (from /admin/ or the
            # dashboard) is ignored here: the endpoint is exempt from CSRF checks, so trusting
            # cookies would let another site act as the signed-in user.
            request.user = AnonymousUser()
        refusal = self._refuse_early(request)
        if refusal is not None:
            return refusal
        return super().dispatch(request, *args, **kwargs)

    def _refuse_early(self, request: HttpRequest) -> HttpResponse | None:
        if request.method == "POST":
            limit = settings.GRAPHQL_MAX_BODY_BYTES
            if request.content_type == "multipart/form-data":
                limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            declared = int(request.headers.get("Content-Length") or 0)
            if declared > limit:
                return HttpResponse(
                    _error_body(
                        f"The request body is {declared} bytes; the limit is {limit}.",
                        "REQUEST_TOO_LARGE",
                    ),
                    status=413,
                    content_type="application/json",
                )
        if getattr(request, "auth_error", None):
            return HttpResponse(
                _error_body(request.auth_error, "UNAUTHENTICATED"),
                status=401,
                content_type="application/json",
            )
        return None

    def execute_graphql_request(
        self, request, data, query, variables, operation_name, show_graphiql=False
    ):
        if not query:
            if show_graphiql:
                return None
            missing = GraphQLError(
                "Must provide a query string.", extensions={"code": "BAD_USER_INPUT"}
            )
            return ExecutionResult(errors=[missing])
        schema = self.schema.graphql_schema
        try:
            document = parse(query)
        except GraphQLError as error:
            return ExecutionResult(errors=[error])

        operation_ast = get_operation_ast(document, operation_name)
        is_mutation = (
            operation_ast is not None and operation_ast.operation == OperationType.MUTATION
        )
        if request.method.lower() == "get" and is_mutation:
            if show_graphiql:
                return None
            raise HttpError(HttpResponseNotAllowed(["POST"], "Mutations must be sent by POST."))

        errors = check_shape(document) or validate(schema, document, max_errors=20)
        errors = errors or check_cost(document, operation_name, variables)
        if errors:
            return ExecutionResult(data=None, errors=errors)

        options = {
            "root_value": self.get_root_value(request),
            "context_value": self.get_context(request),
            "variable_values": variables,
            "operation_name": operation_name,
            "middleware": self.get_middleware(request),
        }
        if is_mutation:
            fields = _root_fields(document, operation_ast)
            outside = non_atomic_mutation_fields(self.schema) & set(fields)
            if outside:
                # These call the payment gateway, so they commit their own short steps and no
                # transaction may be open around them: they cannot share a request's
                # all-or-nothing transaction with other fields.
                if len(fields) > 1:
                    refusal = GraphQLError(
                        f"{sorted(outside)[0]} must be the only field of its request.",
                        extensions={"code": "BAD_USER_INPUT"},
                    )
                    return ExecutionResult(data=None, errors=[refusal])
                return execute(schema, document, **options)
            # One transaction per mutation request: an access error anywhere rolls it all back.
            with transaction.atomic():
                result = execute(schema, document, **options)
                if result.errors:
                    transaction.set_rollback(True)
                return result
        return execute(schema, document, **options)
