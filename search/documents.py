"""The product index for Elasticsearch / OpenSearch, built with `elasticsearch.dsl`.

Chinese text arrives pre-segmented by `search.text` (jieba + pypinyin) so the engine needs no
IK / pinyin plugin; only analyzers from the stock `analysis-common` module are used:

- `name_terms`, `body_terms`: jieba words, `whitespace` analyzer (`name_terms` boosted at query
  time);
- `pinyin`, `initials`: toneless pinyin / initials per word, edge n-grams at index time and plain
  whitespace at query time, so `gou`, `gouqi` and `gq` are prefix matches;
- `name`: the display name, `standard` analyzer (one token per Chinese character: a phrase query
  on it is a substring match, which also serves one-character queries such as 羊), with sub-fields
  `name.cjk` (built-in `cjk` bigram analyzer, recall when segmentation differs) and `name.raw`;
- `autocomplete`: the compact name and its words, edge n-grams, for search-as-you-type;
- facets and filters: `category`, `county`, `price_band` (keyword), `gi`, `in_stock`, `sellable`,
  `poverty` (boolean), `supplier_id` (keyword), `min_price` (double, yuan); `created_at` for
  sorting.

Public API: `ProductDocument`, `PRICE_BANDS`, `price_band`, `build_document`, `bulk_index`,
`build_search`, `search_products`, `autocomplete`, `create_index`, `point_alias`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError, helpers
from elasticsearch.dsl import (
    Boolean,
    Date,
    Document,
    Double,
    Keyword,
    Q,
    Search,
    Text,
    analyzer,
    token_filter,
)

from search.price_bands import PRICE_BANDS, price_band
from search.synonyms import analyse
from search.text import QueryTerms, has_han, index_terms, normalize

# (key, from inclusive, to exclusive) in yuan; the keys are what the `price_band` field holds.
# Fields a `filters` mapping may name: keyword facets take one value or a list (OR within a field),
# booleans one bool; min_price / max_price bound `min_price` (inclusive).
FACET_FIELDS = ("category", "county", "gi", "price_band")
BOOLEAN_FILTERS = ("gi", "in_stock", "sellable", "poverty")
SORTS = ("relevance", "price_asc", "price_desc", "newest")

_prefix_grams = token_filter("shanhai_prefix_grams", "edge_ngram", min_gram=1, max_gram=40)
prefix_analyzer = analyzer(
    "shanhai_prefix", tokenizer="whitespace", filter=["lowercase", _prefix_grams]
)
words_analyzer = analyzer("shanhai_words", tokenizer="whitespace", filter=["lowercase"])


def _prefix_text() -> Text:
    return Text(analyzer=prefix_analyzer, search_analyzer=words_analyzer)


class ProductDocument(Document):
    product_id = Keyword()
    supplier_id = Keyword()
    name = Text(
        analyzer="standard",
        fields={"cjk": Text(analyzer="cjk"), "raw": Keyword(ignore_above=256)},
    )
    name_terms = Text(analyzer="whitespace")
    body_terms = Text(analyzer="whitespace")
    pinyin = _prefix_text()
    initials = _prefix_text()
    autocomplete = _prefix_text()
    category = Keyword()
    county = Keyword()
    gi = Boolean()
    price_band = Keyword()
    # double, not scaled_float: OpenSearch 2.19 sorts scaled_float wrongly when the sort
    # optimisation skips segments by points (top-N by price came back out of order here;
    # opensearch-project/OpenSearch#17833).
    min_price = Double()
    in_stock = Boolean()
    sellable = Boolean()
    poverty = Boolean()
    created_at = Date()
    updated_at = Date()

    class Index:
        name = "products"
        settings = {"number_of_shards": 1}


_DOCUMENT_KEYS = {
    "id",
    "name",
    "description",
    "keywords",
    "supplier_id",
    "supplier_name",
    "category",
    "category_name",
    "county",
    "county_name",
    "gi",
    "min_price",
    "in_stock",
    "sellable",
    "poverty",
    "created_at",
    "updated_at",
}


def build_document(data: Mapping[str, Any]) -> ProductDocument:
    """A `ProductDocument` from a plain dict (the caller maps the Product model onto it).

    Keys: `id` and `name` (required); `description`, `supplier_name` (long text, segmented only);
    `keywords` (str or list), `category`/`county` (facet values) and their display labels
    `category_name`/`county_name` (short text: segmented and given pinyin); `supplier_id`, `gi`,
    `min_price` (yuan), `in_stock`, `sellable`, `poverty`, `created_at`, `updated_at`. Unknown
    keys raise ValueError.
    """
    unknown = set(data) - _DOCUMENT_KEYS
    if unknown:
        raise ValueError(f"unknown product fields: {sorted(unknown)}")
    keywords = data.get("keywords") or []
    if isinstance(keywords, str):
        keywords = [keywords]
    tags = [
        data.get("category_name") or data.get("category"),
        data.get("county_name") or data.get("county"),
        *keywords,
    ]
    terms = index_terms(
        data["name"],
        " ".join(filter(None, [data.get("description"), data.get("supplier_name")])),
        tags=[str(tag) for tag in tags if tag],
    )
    min_price = data.get("min_price")
    fields = {
        "product_id": str(data["id"]),
        "supplier_id": str(data["supplier_id"]) if data.get("supplier_id") is not None else None,
        "name": data["name"],
        **terms,
        "category": data.get("category"),
        "county": data.get("county"),
        "gi": bool(data.get("gi", False)),
        "price_band": price_band(min_price),
        "min_price": float(min_price) if min_price is not None else None,
        "in_stock": bool(data.get("in_stock", True)),
        "sellable": bool(data.get("sellable", True)),
        "poverty": bool(data.get("poverty", False)),
        "created_at": data.get("created_at"),
        "updated_at": data.get("updated_at"),
    }
    return ProductDocument(meta={"id": str(data["id"])}, **fields)


def bulk_index(
    client: Elasticsearch, index: str, documents: Iterable[ProductDocument], *, refresh=False
) -> int:
    """Index documents with the bulk API; returns how many were indexed (errors raise)."""
    actions = ({**doc.to_dict(include_meta=True), "_index": index} for doc in documents)
    indexed, _errors = helpers.bulk(client, actions, refresh=refresh)
    return indexed


def create_index(client: Elasticsearch, alias: str, *, suffix: str | None = None) -> str:
    """Create a fresh, versioned index `<alias>-<suffix>` with the product mapping; returns its
    name. Fill it, then `point_alias(client, alias, name)` to switch readers over atomically."""
    suffix = suffix or f"{datetime.now(UTC):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}"
    name = f"{alias}-{suffix}"
    ProductDocument.init(index=name, using=client)
    return name


def point_alias(
    client: Elasticsearch, alias: str, index: str, *, delete_old: bool = False
) -> list[str]:
    """Move `alias` to `index` in one atomic `_aliases` call (zero-downtime reindex).

    Returns the indices the alias pointed to before; with `delete_old` they are then deleted."""
    try:
        previous = sorted(client.indices.get_alias(name=alias).body)
    except NotFoundError:
        previous = []
    actions = [{"remove": {"index": old, "alias": alias}} for old in previous if old != index]
    actions.append({"add": {"index": index, "alias": alias}})
    client.indices.update_aliases(actions=actions)
    old = [name for name in previous if name != index]
    if delete_old and old:
        client.indices.delete(index=",".join(old))
    return old


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, list | tuple | set | frozenset) else [value]


def _filter_clauses(filters: Mapping[str, Any] | None) -> dict[str, Any]:
    """One query clause per filter key (None / empty values are ignored)."""
    clauses: dict[str, Any] = {}
    for key, value in (filters or {}).items():
        if value is None or value == [] or value == "":
            continue
        if key in BOOLEAN_FILTERS:
            clauses[key] = Q("term", **{key: bool(value)})
        elif key in ("category", "county", "price_band", "supplier_id"):
            clauses[key] = Q("terms", **{key: [str(v) for v in _as_list(value)]})
        elif key == "min_price":
            clauses[key] = Q("range", min_price={"gte": float(value)})
        elif key == "max_price":
            clauses[key] = Q("range", min_price={"lte": float(value)})
        else:
            raise ValueError(f"unknown search filter: {key!r}")
    return clauses


EXPANSION_BOOST = 0.5  # a dictionary word (土豆 -> 马铃薯) counts less than the literal word
MATCHED_WORD = 100  # relaxed search: per query word matched, above any text score


def _term_clause(term: str, terms: QueryTerms):
    """The term in some field (name, body, pinyin, initials), or one of its expansions."""
    literal = Q(
        "multi_match",
        query=term,
        type="best_fields",
        tie_breaker=0.3,
        fields=[
            "name_terms^3",
            "body_terms",
            *(["pinyin^2"] if term in terms.pinyin else []),
            *(["initials^1.5"] if term in terms.initials else []),
        ],
    )
    expansions = terms.expansions.get(term, ())
    if not expansions:
        return literal
    alternatives = [literal]
    for word in expansions:
        alternatives.append(
            Q(
                "multi_match",
                query=word,
                type="best_fields",
                fields=["name_terms^3", "body_terms"],
                boost=EXPANSION_BOOST,
            )
        )
        if has_han(word):  # a part of the name, as the database matches name characters
            alternatives.append(Q("match_phrase", name={"query": word, "boost": EXPANSION_BOOST}))
    return Q("bool", should=alternatives, minimum_should_match=1)


def _text_query(query: str | None, *, match_any: bool = False):
    terms = analyse(query, match_any=match_any)
    if terms.is_empty:
        return None
    every_word = [_term_clause(term, terms) for term in terms.terms]
    if terms.match_any:
        relaxable = set(terms.relaxable)
        counted = [
            Q("constant_score", filter=clause, boost=MATCHED_WORD)
            for term, clause in zip(terms.terms, every_word, strict=True)
        ]
        return Q(
            "bool",
            must=[
                Q(
                    "bool",
                    should=[
                        clause
                        for term, clause in zip(terms.terms, every_word, strict=True)
                        if term in relaxable
                    ],
                    minimum_should_match=1,
                )
            ],
            should=[*counted, *every_word],
        )
    match = Q(
        "bool",
        should=[
            # every query word, each in some field (name, body, pinyin, initials)
            Q("bool", must=every_word),
            # a substring of the name (the standard analyzer gives one token per character)
            Q("match_phrase", name={"query": terms.text, "boost": 2}),
            # recall when jieba split the query and the name differently
            Q("match", **{"name.cjk": {"query": terms.text, "operator": "and", "boost": 0.5}}),
        ],
        minimum_should_match=1,
    )
    # Ranking only: the compound words too (中宁枸杞 ranks above 中宁 ... 枸杞).
    boost = [Q("match", name_terms={"query": " ".join(terms.all_terms), "boost": 0.5})]
    if terms.compounds:  # a GI or brand name in the long text (中宁枸杞)
        boost.append(Q("match", body_terms={"query": " ".join(terms.compounds), "boost": 1.0}))
    return Q("bool", must=[match], should=boost)


def build_search(
    index: str,
    query: str | None,
    filters: Mapping[str, Any] | None = None,
    *,
    facets: bool = True,
    size: int = 20,
    offset: int = 0,
    sort: str = "relevance",
    client: Elasticsearch | None = None,
    match_any: bool = False,
) -> Search:
    """The DSL `Search` behind `search_products` (usable without an engine: `.to_dict()`).

    Facets are disjunctive: the facet filters (category, county, gi, price_band) go to
    `post_filter`, and each facet is counted with every filter except its own, so picking 中宁
    still shows how many hits the other counties have. Other filters narrow everything.
    """
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; expected one of {SORTS}")
    clauses = _filter_clauses(filters)
    facet_clauses = {k: v for k, v in clauses.items() if k in FACET_FIELDS}
    plain_clauses = [v for k, v in clauses.items() if k not in FACET_FIELDS]

    text = _text_query(query, match_any=match_any)
    search = Search(using=client, index=index) if client is not None else Search(index=index)
    search = search.query(Q("bool", must=[text or Q("match_all")], filter=plain_clauses)).extra(
        track_total_hits=True
    )
    offset, size = max(offset, 0), max(size, 0)
    search = search[offset : offset + size]
    search = search.source(["product_id", "name", "min_price"])
    if facet_clauses:
        search = search.post_filter(Q("bool", filter=list(facet_clauses.values())))

    order = {
        "relevance": ["_score", "product_id"],
        "price_asc": [{"min_price": {"order": "asc", "missing": "_last"}}, "_score", "product_id"],
        "price_desc": [
            {"min_price": {"order": "desc", "missing": "_last"}},
            "_score",
            "product_id",
        ],
        "newest": [{"updated_at": {"order": "desc", "missing": "_last"}}, "product_id"],
    }[sort]
    search = search.sort(*order)

    if facets:
        for name in FACET_FIELDS:
            others = [v for k, v in facet_clauses.items() if k != name]
            scope = Q("bool", filter=others) if others else Q("match_all")
            bucket = search.aggs.bucket(name, "filter", scope)
            if name == "price_band":
                ranges = [
                    {
                        "key": key,
                        **({"from": low} if low is not None else {}),
                        **({"to": high} if high is not None else {}),
                    }
                    for key, low, high in PRICE_BANDS
                ]
                bucket.bucket("values", "range", field="min_price", ranges=ranges)
            else:
                bucket.bucket("values", "terms", field=name, size=200)
    return search


def _facet_values(name: str, buckets) -> list[dict[str, Any]]:
    if name == "gi":
        return [{"value": bool(b["key"]), "count": b["doc_count"]} for b in buckets]
    return [{"value": b["key"], "count": b["doc_count"]} for b in buckets]


def search_products(
    client: Elasticsearch,
    index: str,
    query: str | None,
    filters: Mapping[str, Any] | None = None,
    *,
    facets: bool = True,
    size: int = 20,
    offset: int = 0,
    sort: str = "relevance",
) -> dict[str, Any]:
    """Search products; returns plain data:

    `{"total": int, "ids": [str], "hits": [{"id", "score", "name", "min_price"}],
    "facets": {"category": [{"value", "count"}], "county": [...], "gi": [...],
    "price_band": [... every band, in PRICE_BANDS order]}}` (`facets` is {} when not asked).
    `filters`: see `FACET_FIELDS`, `BOOLEAN_FILTERS`, `min_price`, `max_price`.
    """
    search = build_search(
        index, query, filters, facets=facets, size=size, offset=offset, sort=sort, client=client
    )
    body = search.execute().to_dict()
    hits = [
        {
            "id": hit["_id"],
            "score": hit.get("_score"),
            "name": hit.get("_source", {}).get("name"),
            "min_price": hit.get("_source", {}).get("min_price"),
        }
        for hit in body["hits"]["hits"]
    ]
    result_facets = {}
    if facets:
        aggs = body.get("aggregations", {})
        result_facets = {
            name: _facet_values(name, aggs[name]["values"]["buckets"]) for name in FACET_FIELDS
        }
    return {
        "total": body["hits"]["total"]["value"],
        "ids": [hit["id"] for hit in hits],
        "hits": hits,
        "facets": result_facets,
    }


def autocomplete(client: Elasticsearch, index: str, prefix: str, *, size: int = 10) -> list[dict]:
    """Search-as-you-type over the name, its pinyin and initials: `[{"id", "name"}]`."""
    text = normalize(prefix)
    if not text:
        return []
    search = (
        Search(using=client, index=index)
        .query(
            Q(
                "multi_match",
                query=text,
                fields=["autocomplete^2", "pinyin", "initials"],
                operator="and",
                type="best_fields",
            )
        )
        .source(["name"])
        .extra(size=size)
    )
    return [{"id": hit.meta.id, "name": hit.to_dict().get("name")} for hit in search.execute().hits]
