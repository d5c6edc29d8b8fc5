"""The /graphql/ endpoint: request parsing, limits, authentication errors and error formatting.

Every answer is JSON with `extensions.code` and `extensions.requestId`, including the ones given
before any GraphQL work (a malformed body, a wrong method, a bad token, a body over the limit).
"""

import json
import logging
from contextlib import AbstractContextManager, nullcontext
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.http.multipartparser import MultiPartParserError
from django.utils.module_loading import import_string
from graphene_file_upload.django import FileUploadGraphQLView
from graphene_file_upload.utils import place_files_in_operations
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    OperationType,
    ValidationRule,
    execute,
    specified_rules,
    validate,
)
from graphql.error import GraphQLSyntaxError
from graphql.language import (
    InlineFragmentNode,
    OperationDefinitionNode,
)
from graphql.utilities import get_operation_ast

from shop.core import db_router
from shop.core.errors import AccessError, BadUserInput, Unavailable
from shop.core.graphql import response_cache
from shop.core.graphql.execution import SynchronousExecutionContext
from shop.core.graphql.limits import MAX_NESTING, check_cost, check_shape, parse_document
from shop.core.graphql.mutations import non_atomic_mutation_fields
from shop.core.metrics import RESPONSE_CACHE
from shop.core.middleware import current_request_id
from shop.core.observability import note_error, note_operation

logger = logging.getLogger("shop.graphql")

METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
INTROSPECTION_DISABLED = "INTROSPECTION_DISABLED"


class RequestRefused(Exception):
    """A request answered before any GraphQL work, with an HTTP status and an error code."""

    def __init__(
        self, message: str, *, code: str = "BAD_USER_INPUT", status: int = 400, allow: str = ""
    ):
        super().__init__(message)
        self.message, self.code, self.status, self.allow = message, code, status, allow

    def response(self) -> HttpResponse:
        note_error(self.code)
        body = {
            "errors": [
                {
                    "message": self.message,
                    "extensions": {"code": self.code, "requestId": current_request_id()},
                }
            ]
        }
        response = HttpResponse(
            json.dumps(body), status=self.status, content_type="application/json"
        )
        if self.allow:
            response["Allow"] = self.allow
        return response


def format_graphql_error(error: Exception) -> dict:
    """Every top-level error carries `extensions.code`; unexpected ones leak nothing."""
    if not isinstance(error, GraphQLError):
        error = GraphQLError(str(error), original_error=error)
    original = error.original_error
    # A scalar's refusal of a variable arrives wrapped twice (coercion, then the variable).
    while isinstance(original, GraphQLError) and original.original_error is not None:
        original = original.original_error
    formatted = error.formatted
    extensions = dict(formatted.get("extensions") or {})
    if isinstance(original, AccessError):
        extensions["code"] = original.code
    elif isinstance(original, BadUserInput):
        extensions["code"] = "BAD_USER_INPUT"
    elif isinstance(original, Unavailable):
        extensions["code"] = original.code
    elif original is not None and not isinstance(original, GraphQLError) and not error.path:
        # Without a path the error was raised before any resolver ran: a scalar refused a
        # variable or literal of the request. That is the caller's input, not our fault.
        extensions = {"code": "BAD_USER_INPUT"}
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
    note_error(extensions.get("code"))
    return formatted


def _root_fields(document: DocumentNode, operation: OperationDefinitionNode) -> list[FieldNode]:
    """The operation's top-level fields, one per selection (aliases count), looking through
    fragments."""
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    names: list[FieldNode] = []
    pending = list(operation.selection_set.selections)
    seen: set[str] = set()
    while pending:
        selection = pending.pop()
        if isinstance(selection, FieldNode):
            names.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            pending.extend(selection.selection_set.selections)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
            seen.add(selection.name.value)
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                pending.extend(fragment.selection_set.selections)
    return names


class NoIntrospectionRule(ValidationRule):
    """Refuses `__schema` and `__type` (not `__typename`) when introspection is off."""

    def enter_field(self, node: FieldNode, *_args: Any) -> None:
        if node.name.value in ("__schema", "__type"):
            self.report_error(
                GraphQLError(
                    f"Introspection (`{node.name.value}`) is disabled on this server; "
                    "the schema is published as schema.graphql.",
                    node,
                    extensions={"code": INTROSPECTION_DISABLED},
                )
            )


def _json_value(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise RequestRefused(f"{what} is nested too deeply.") from None
    except ValueError:
        raise RequestRefused(f"{what} is not valid JSON.") from None


def _nesting_depth(value: Any) -> int:
    """How deep lists and objects nest in `value` (iteratively: the value may be very deep)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, dict | list):
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_NESTING:
            break
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _one_operation(value: Any, what: str) -> dict:
    if isinstance(value, list):
        raise RequestRefused("Batched requests are not supported; send one operation per request.")
    if not isinstance(value, dict):
        raise RequestRefused(f"{what} must be a JSON object with a `query`.")
    return value


def _graphql_params(request: HttpRequest, data: Any) -> tuple:
    query = request.GET.get("query") or data.get("query")
    if query is not None and not isinstance(query, str):
        raise RequestRefused("`query` must be a string.")
    extensions = request.GET.get("extensions") or data.get("extensions")
    if isinstance(extensions, str):
        extensions = _json_value(extensions, "`extensions`") if extensions else None
    try:
        query = response_cache.persisted_query(query, extensions)
    except ValueError as refusal:
        code, message = refusal.args
        status = 400 if code == "BAD_USER_INPUT" else 200  # a client retries with the text on 200
        raise RequestRefused(message, code=code, status=status) from None
    variables = request.GET.get("variables") or data.get("variables")
    if isinstance(variables, str):
        variables = _json_value(variables, "`variables`") if variables else None
    if variables is not None and not isinstance(variables, dict):
        raise RequestRefused("`variables` must be a JSON object.")
    if _nesting_depth(variables) > MAX_NESTING:
        raise RequestRefused(f"`variables` nest more than {MAX_NESTING} deep.")
    operation_name = request.GET.get("operationName") or data.get("operationName")
    if operation_name == "null":
        operation_name = None
    if operation_name is not None and not isinstance(operation_name, str):
        raise RequestRefused("`operationName` must be a string.")
    return query, variables, operation_name, None


def _validated(
    schema: GraphQLSchema, query: str, _limits: tuple
) -> tuple[DocumentNode | None, tuple[GraphQLError, ...]]:
    """(document, errors) of a query text: parsed under the token limit, then the shape limits,
    then validation. What it returns depends only on the text, the schema and `_limits`."""
    try:
        document = parse_document(query)
    except GraphQLError as error:
        return None, (error,)
    rules = list(specified_rules)
    if not settings.GRAPHQL_INTROSPECTION:
        rules.append(NoIntrospectionRule)
    errors = check_shape(document) or validate(schema, document, rules, max_errors=20)
    return document, tuple(errors)


_cached_validation = lru_cache(maxsize=512)(_validated)


def checked_document(
    schema: GraphQLSchema, query: str
) -> tuple[DocumentNode | None, tuple[GraphQLError, ...]]:
    """`_validated`, remembered per query text: a storefront sends the same few queries again
    and again, and parsing plus validating them cost more than running them from a cache. The
    key holds every setting the outcome depends on, so changing one is never answered from an
    old entry. Texts over 16 KiB are not remembered (they would crowd the cache out); the
    cost, which depends on the variables, is checked per request by the caller."""
    limits = (
        settings.GRAPHQL_INTROSPECTION,
        settings.GRAPHQL_MAX_TOKENS,
        settings.GRAPHQL_MAX_DEPTH,
        settings.GRAPHQL_MAX_ALIASES,
    )
    if len(query) > 16 * 1024:
        return _validated(schema, query, limits)
    return _cached_validation(schema, query, limits)


def _with_cache_headers(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """A cacheable answer says so (`X-Response-Cache: hit|miss`); over GET it also carries an
    ETag for revalidation. `Cache-Control: no-cache` lets a CDN or nginx keep it but ask each
    time (answered 304 when unchanged), which is what keeps their copy never stale either."""
    state = getattr(request, "graphql_response_cache", None)
    if state is None:
        if request.method == "GET" and response.get("Content-Type", "").startswith(
            "application/json"
        ):
            response["Cache-Control"] = "private, no-store"
        return response
    response["X-Response-Cache"] = state
    if request.method != "GET":
        return response
    etag = request.graphql_etag
    if etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
        response = HttpResponseNotModified()
    response["ETag"] = etag
    response["Cache-Control"] = "public, no-cache"
    response["Vary"] = "Authorization"
    return response


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
        try:
            self._refuse_early(request)
            response = super().dispatch(request, *args, **kwargs)
        except RequestRefused as refusal:
            return refusal.response()
        return _with_cache_headers(request, response)

    def _refuse_early(self, request: HttpRequest) -> None:
        if request.method not in ("GET", "POST"):
            raise RequestRefused(
                "GraphQL is served over GET (queries) and POST.",
                code=METHOD_NOT_ALLOWED,
                status=405,
                allow="GET, POST",
            )
        if request.method == "POST":
            limit = settings.GRAPHQL_MAX_BODY_BYTES
            if request.content_type == "multipart/form-data":
                limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            declared = request.headers.get("Content-Length") or "0"
            if not declared.isdigit():
                raise RequestRefused("The Content-Length header is not a number.")
            if int(declared) > limit:
                raise RequestRefused(
                    f"The request body is {declared} bytes; the limit is {limit}.",
                    code="REQUEST_TOO_LARGE",
                    status=413,
                )
        if getattr(request, "auth_error", None):
            raise RequestRefused(request.auth_error, code="UNAUTHENTICATED", status=401)

    def parse_body(self, request: HttpRequest) -> Any:
        try:
            return self._parse_body(request)
        except RequestDataTooBig:
            raise RequestRefused(
                "The request body is over the limit.", code="REQUEST_TOO_LARGE", status=413
            ) from None
        except (MultiPartParserError, SuspiciousOperation):
            raise RequestRefused("The multipart request body is malformed.") from None

    def _parse_body(self, request: HttpRequest) -> Any:
        content_type = self.get_content_type(request)
        if content_type == "application/json":
            return _one_operation(_json_value(self._body_text(request), "The body"), "The body")
        if content_type == "application/graphql":
            return {"query": self._body_text(request)}
        if content_type == "multipart/form-data" and "operations" in request.POST:
            operations = _one_operation(
                _json_value(request.POST["operations"], "`operations`"), "`operations`"
            )
            files_map = _json_value(request.POST.get("map", "{}"), "`map`")
            if not isinstance(files_map, dict) or not all(
                isinstance(paths, list) and all(isinstance(p, str) for p in paths)
                for paths in files_map.values()
            ):
                raise RequestRefused("`map` must map file names to lists of paths.")
            try:
                return place_files_in_operations(operations, files_map, request.FILES)
            except (KeyError, IndexError, TypeError, ValueError, AttributeError):
                raise RequestRefused("`map` does not match `operations` and the files.") from None
        if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            return request.POST
        return {}

    @staticmethod
    def _body_text(request: HttpRequest) -> str:
        try:
            return request.body.decode("utf-8")
        except UnicodeDecodeError:
            raise RequestRefused("The body is not UTF-8 text.") from None

    @staticmethod
    def get_graphql_params(request: HttpRequest, data: Any) -> tuple:
        remembered = request.__dict__.get("_graphql_params")
        if remembered is None:
            remembered = request._graphql_params = _graphql_params(request, data)
        return remembered

    def get_response(self, request: HttpRequest, data: Any, show_graphiql: bool = False):
        # The scope covers the cache key too: the catalog version in it must come from the
        # database the answer is read from (shop/core/db_router.py).
        with self._read_scope(request, data, show_graphiql):
            return self._cached_response(request, data, show_graphiql)

    def _read_scope(
        self, request: HttpRequest, data: Any, show_graphiql: bool
    ) -> AbstractContextManager:
        """Replica reads for a query the policy (GRAPHQL_REPLICA_POLICY) lets read there:
        anonymous storefront queries and auditors' reports. Never a mutation."""
        if show_graphiql or not db_router.replica_configured():
            return nullcontext()
        query, _, operation_name, _ = self.get_graphql_params(request, data)
        if not query:
            return nullcontext()
        document, errors = checked_document(self.schema.graphql_schema, query)
        if document is None or errors:
            return nullcontext()
        operation = get_operation_ast(document, operation_name)
        if operation is None or operation.operation != OperationType.QUERY:
            return nullcontext()
        fields = frozenset(field.name.value for field in _root_fields(document, operation))
        if not import_string(settings.GRAPHQL_REPLICA_POLICY)(request.user, fields):
            return nullcontext()
        return db_router.replica_reads()

    def _cached_response(self, request: HttpRequest, data: Any, show_graphiql: bool):
        cached = None if show_graphiql else self._response_cache_key(request, data)
        if cached is not None:
            key, scope = cached
            hit = response_cache.get(key, scope, lambda d: self.json_encode(request, d))
            RESPONSE_CACHE.labels("miss" if hit is None else "hit").inc()
            if hit is not None:
                request.graphql_response_cache, request.graphql_etag = "hit", hit[1]
                return hit[0], 200
            if scope.live is not None:
                request.graphql_live_slots = []  # filled by response_cache.record_live
        body, status = super().get_response(request, data, show_graphiql)
        succeeded = status == 200 and body and getattr(request, "graphql_errors", True) is False
        if cached is not None and succeeded:
            request.graphql_response_cache = "miss"
            slots = getattr(request, "graphql_live_slots", None)
            request.graphql_etag = response_cache.put(key, body, scope.live, slots)
        return body, status

    def _response_cache_key(
        self, request: HttpRequest, data: Any
    ) -> tuple[str, response_cache.Scope] | None:
        """The response cache key and scope of an anonymous query, or None when it is not to be
        cached."""
        if request.user.is_authenticated or "HTTP_AUTHORIZATION" in request.META:
            return None
        query, variables, operation_name, _ = self.get_graphql_params(request, data)
        if not query:
            return None
        document, errors = checked_document(self.schema.graphql_schema, query)
        if document is None or errors:
            return None
        operation = get_operation_ast(document, operation_name)
        if operation is None or operation.operation != OperationType.QUERY:
            return None
        note_operation(operation.name.value if operation.name else None, "query")
        fields = _root_fields(document, operation)
        origin = request.build_absolute_uri("/")
        return response_cache.cache_key(document, fields, variables, operation_name, origin)

    def execute_graphql_request(self, request, data, query, variables, operation_name, *args):
        result = self._execute(request, data, query, variables, operation_name, *args)
        request.graphql_errors = bool(result and result.errors)
        return result

    def _execute(
        self, request, data, query, variables, operation_name, show_graphiql=False
    ) -> ExecutionResult | None:
        if not query:
            if show_graphiql:
                return None
            missing = GraphQLError(
                "Must provide a query string.", extensions={"code": "BAD_USER_INPUT"}
            )
            return ExecutionResult(errors=[missing])
        schema = self.schema.graphql_schema
        document, errors = checked_document(schema, query)
        if document is None:
            return ExecutionResult(errors=list(errors))

        operation_ast = get_operation_ast(document, operation_name)
        if operation_ast is not None:
            note_operation(
                operation_ast.name.value if operation_ast.name else None,
                operation_ast.operation.value,
            )
        is_mutation = (
            operation_ast is not None and operation_ast.operation == OperationType.MUTATION
        )
        if request.method == "GET" and is_mutation:
            if show_graphiql:
                return None
            raise RequestRefused(
                "Mutations must be sent by POST.", code=METHOD_NOT_ALLOWED, status=405, allow="POST"
            )

        errors = list(errors) or check_cost(document, operation_name, variables)
        if errors:
            return ExecutionResult(data=None, errors=errors)

        options = {
            "root_value": self.get_root_value(request),
            "context_value": self.get_context(request),
            "variable_values": variables,
            "operation_name": operation_name,
            "middleware": self.get_middleware(request),
            "execution_context_class": SynchronousExecutionContext,
        }
        if is_mutation:
            fields = [
                field.name.value
                for field in _root_fields(document, operation_ast)
                if field.name.value != "__typename"
            ]
            alone = non_atomic_mutation_fields(self.schema) & set(fields)
            if alone:
                # These commit on their own (a sign-in's count of failed attempts; a payment's
                # steps around the gateway call), so no request transaction may be open around
                # them, and they cannot share a request with other fields: several sign-ins
                # would be several guesses, and another field's failure must not undo their work.
                if len(fields) > 1:
                    refusal = GraphQLError(
                        f"{sorted(alone)[0]} must be the only mutation in its request.",
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
