"""The response cache of public reads, and persisted queries by hash.

A response is stored under a hash of the normalised query text, the variables, the operation
name and a *scope* given by the function `GRAPHQL_RESPONSE_CACHE_SCOPE` names (the storefront's:
the catalog version and the business date, see catalog/storefront_cache.py). The scope is read
before the query runs and changes in the same transaction as any change the answer can show, so
an entry is never served once its answer could differ: old entries are unreachable, not stale,
and expire after `GRAPHQL_RESPONSE_CACHE_SECONDS` only to free their memory.

The cache is Django's default cache: local memory per process unless `CACHE_URL` points at a
Redis that all app processes share. A cache that fails is logged and skipped, never an error.

*Live values* (the storefront's stock): a scope may leave a fast-changing kind of value out of
the key and give its version instead (`Scope.live`). While the answer is computed, the resolvers
of those values record where they put them (`record_live`: the response path and what to read);
the entry keeps those slots and the live version it was computed under. A hit under the same
live version is served as stored; under another, `Scope.refresh` reads the slots' values now
(one small query) and writes them into the answer, which is stored again under the new live
version. So a checkout costs a listing one query for its page's stock instead of all of it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils.module_loading import import_string
from graphql import DocumentNode, FieldNode, print_ast

logger = logging.getLogger("shop.graphql")

PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
_PERSISTED_SECONDS = 7 * 24 * 3600


@lru_cache(maxsize=512)
def _normalised(document: DocumentNode) -> str:
    # Documents come from the validation cache, one object per query text: this runs once each.
    return print_ast(document)


# A slot: [response path, *what the scope's refresh needs to read and write the value].
Slot = list
Refresh = Callable[[dict, list[Slot]], None]


@dataclass(frozen=True)
class Scope:
    """What a scope function returns: `key` goes into the cache key; `live`, when not None, is
    the version of the live values, which the entry is refreshed with by `refresh`."""

    key: str
    live: Any = None
    refresh: Refresh | None = None


def _scope_function():
    return import_string(settings.GRAPHQL_RESPONSE_CACHE_SCOPE)


def record_live(info: Any, *slot: Any) -> None:
    """Called by a live value's resolver: remember where it goes, if the answer is to be
    stored with live values (the view sets the list up only then)."""
    slots = getattr(info.context, "graphql_live_slots", None)
    if slots is not None:
        slots.append([info.path.as_list(), *slot])


def cache_key(
    document: DocumentNode,
    root_fields: list[FieldNode],
    variables: dict[str, Any] | None,
    operation_name: str | None,
    origin: str,
) -> tuple[str, Scope] | None:
    """The key of an anonymous query's answer and its scope, or None when it must not be
    cached. `origin` (scheme and host of the request) is part of the key: answers hold absolute
    media URLs."""
    if not settings.GRAPHQL_RESPONSE_CACHE or connection.in_atomic_block:
        # Inside a transaction a read may see its own uncommitted writes (and a version that
        # may yet roll back): never the source of a shared answer.
        return None
    scope = _scope_function()(root_fields, variables)
    if scope is None:
        return None
    if isinstance(scope, str):
        scope = Scope(scope)
    material = json.dumps(
        [_normalised(document), variables or {}, operation_name, origin, scope.key],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return "graphql:response:" + hashlib.sha256(material.encode()).hexdigest(), scope


def etag_of(body: str | bytes) -> str:
    data = body.encode() if isinstance(body, str) else body
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def get(key: str, scope: Scope, encode: Callable[[dict], str]) -> tuple[str, str] | None:
    """The stored answer and its ETag, its live values brought up to date, or None."""
    try:
        entry = cache.get(key)
    except Exception:  # a cache that is down must not take the storefront with it
        logger.exception("response cache read failed; answering without it")
        return None
    if entry is None:
        return None
    body, etag, live, slots = entry
    if live == scope.live or not slots:
        return body, etag
    data = json.loads(body)
    scope.refresh(data, slots)
    body = encode(data)
    return body, put(key, body, scope.live, slots)


def put(key: str, body: str, live: Any = None, slots: list[Slot] | None = None) -> str:
    """Store an answer (with its live version and slots); returns its ETag."""
    etag = etag_of(body)
    try:
        cache.set(key, (body, etag, live, slots or []), settings.GRAPHQL_RESPONSE_CACHE_SECONDS)
    except Exception:
        logger.exception("response cache write failed")
    return etag


def persisted_query(query: str | None, extensions: Any) -> str | None:
    """The query text of a request that may name it by hash (Apollo's automatic persisted
    queries: `extensions.persistedQuery.sha256Hash`). A text sent with its hash is checked and
    remembered; a hash alone is looked up. Raises ValueError(code, message) when it cannot."""
    persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
    if persisted is None:
        return query
    digest = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
    if not isinstance(digest, str) or len(digest) != 64 or not digest.isascii():
        raise ValueError("BAD_USER_INPUT", "`persistedQuery.sha256Hash` must be 64 hex digits.")
    digest = digest.lower()
    key = f"graphql:persisted:{digest}"
    if query is not None:
        if hashlib.sha256(query.encode()).hexdigest() != digest:
            raise ValueError("BAD_USER_INPUT", "The query does not match its sha256Hash.")
        try:
            cache.set(key, query, _PERSISTED_SECONDS)
        except Exception:
            logger.exception("persisted query could not be stored")
        return query
    try:
        found = cache.get(key)
    except Exception:
        logger.exception("persisted query lookup failed")
        found = None
    if found is None:
        raise ValueError(
            PERSISTED_QUERY_NOT_FOUND, "Unknown sha256Hash: send the query with its hash once."
        )
    return found
