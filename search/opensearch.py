"""Let the official `elasticsearch` 8.x client (and so `elasticsearch.dsl`) talk to OpenSearch 2.x.

Why this exists: CI and local tests run a real OpenSearch 2.19 node built from Maven Central jars
(`search/opensearch_node/`), because no registry ships an Elasticsearch server. The official client
refuses to talk to it, for two reasons:

1. Every request's `Accept` and `Content-Type` are rewritten by the client to
   `application/vnd.elasticsearch+json; compatible-with=8` (`_COMPAT_MIMETYPE_RE` in
   `elasticsearch/_sync/client/_base.py`). OpenSearch answers **406** "Content-Type header [...] is
   not supported" to any request with a body.
2. The first 2xx response must carry `X-Elastic-Product: Elasticsearch`, which OpenSearch never
   sends; otherwise `BaseClient._perform_request` raises `UnsupportedProductError`. There is no
   switch to turn that check off (elastic/elasticsearch-py#1678, closed as won't-implement).

`OpenSearchCompatNode` sits at the HTTP layer (`elastic_transport.Urllib3HttpNode`, selected with
`Elasticsearch(node_class=...)`): the body is already serialised when the node is called, so it only
rewrites the two media-type headers back to `application/json` / `application/x-ndjson` and stamps
the product header on every response. Everything above it (DSL, helpers.bulk, error mapping) is the
stock client. Use it for OpenSearch only; against Elasticsearch use the default node class.
"""

from __future__ import annotations

import json
import re
from typing import Any

import urllib3
from elastic_transport import HttpHeaders, Urllib3HttpNode
from elastic_transport._node import NodeApiResponse
from elasticsearch import Elasticsearch

# application/vnd.elasticsearch+json; compatible-with=8  ->  application/json  (also x-ndjson, ...)
_COMPAT_RE = re.compile(r"application/vnd\.elasticsearch\+([\w.+-]+)\s*;\s*compatible-with=\d+")
_REWRITTEN = ("accept", "content-type")


def plain_media_type(value: str) -> str:
    """`application/vnd.elasticsearch+x-ndjson; compatible-with=8` -> `application/x-ndjson`."""
    return _COMPAT_RE.sub(r"application/\1", value)


class OpenSearchCompatNode(Urllib3HttpNode):
    """A urllib3 node that makes OpenSearch 2.x look like Elasticsearch to the 8.x client."""

    def perform_request(self, method, target, body=None, headers=None, **kwargs) -> NodeApiResponse:
        if headers:
            headers = HttpHeaders(headers)  # never mutate the client's (possibly frozen) headers
            for name in _REWRITTEN:
                if name in headers:
                    headers[name] = plain_media_type(headers[name])
        response = super().perform_request(method, target, body=body, headers=headers, **kwargs)
        response.meta.headers["x-elastic-product"] = "Elasticsearch"
        return response


def make_client(url: str | list[str], *, opensearch: bool, **kwargs: Any) -> Elasticsearch:
    """An `Elasticsearch` client for `url`; with `opensearch=True` it goes through
    `OpenSearchCompatNode`. Extra keyword arguments go to `Elasticsearch(...)`."""
    if opensearch:
        kwargs["node_class"] = OpenSearchCompatNode
    return Elasticsearch(url, **kwargs)


def detect_opensearch(url: str, *, timeout: float = 5.0) -> bool:
    """True if the server at `url` says it is OpenSearch (`GET /` -> version.distribution)."""
    response = urllib3.request("GET", url.rstrip("/") + "/", timeout=timeout, retries=False)
    if response.status != 200:
        raise ConnectionError(f"GET {url}/ answered {response.status}: {response.data[:200]!r}")
    info = json.loads(response.data)
    return info.get("version", {}).get("distribution") == "opensearch"
