"""The database backend: the embedded default, and the fallback of the engine backend.

It searches `ProductSearchEntry` rows (text analysed in Python by `search.text`, see
`search.entries`), with the database's own full-text index:

- PostgreSQL: a weighted `tsvector` column with a GIN index, queried with `tsquery` literals and
  ranked with `ts_rank` (name words A=1.0, name pinyin B=0.5, name characters and tag pinyin
  C=0.2, long text D=0.05), so a name match always outranks a description match;
- SQLite: an FTS5 table kept in step by triggers, ranked with `bm25` (same column order);
- anything else (or SQLite built without FTS5): `LIKE` over the same columns, name first.

Every query word must match somewhere (name, description, pinyin or initials, or as a run of
the name's characters); ASCII words are also pinyin / initials prefixes (`gou`, `gq`).
Sellability, GI validity and stock are applied live (`Product.objects.sellable(today)`, the GI
expiry date, variant stock), so answers are exact even before an index update arrives.
Facet counts are exact: one grouped query per facet.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    F,
    FloatField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.utils import timezone

from catalog.models import Product, ProductVariant
from search.backends.base import Progress, SearchBackend
from search.entries import sync_entries
from search.models import ProductSearchEntry
from search.query import (
    FACETS,
    FacetValue,
    Hit,
    SearchRequest,
    SearchResults,
    Suggestion,
    order_facet_values,
)
from search.text import QueryTerms, normalize, query_terms

TABLE = ProductSearchEntry._meta.db_table
FTS_TABLE = f"{TABLE}_fts"
FTS_COLUMNS = ("name_terms", "pinyin", "initials", "name_chars", "body_terms", "autocomplete")
BATCH = 500
_ASCII_RE = re.compile(r"^[a-z]+$")
_HAN_ONLY_RE = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]+$")


def _chunks(ids: list[int], size: int = BATCH):
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


# --- vendor matchers ----------------------------------------------------------------------


class Matcher:
    """Turns analysed query terms into a filter and a score over `ProductSearchEntry`."""

    def condition(self, terms: QueryTerms) -> Any:
        raise NotImplementedError

    def score(self, terms: QueryTerms) -> Any:
        raise NotImplementedError

    def suggest_condition(self, tokens: list[str]) -> Any:
        raise NotImplementedError

    def suggest_score(self, tokens: list[str]) -> Any:
        raise NotImplementedError


class PostgresMatcher(Matcher):
    WEIGHTS = "{0.05,0.2,0.5,1.0}"  # D, C, B, A
    BOOST = 0.5  # for the query's compound words in the name (中宁枸杞 over 中宁 … 枸杞)

    @staticmethod
    def _lexeme(token: str) -> str:
        return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"

    def _term(self, term: str, terms: QueryTerms) -> str:
        lexeme = self._lexeme(term)
        alternatives = [f"{lexeme}:AD"]
        if _HAN_ONLY_RE.match(term):
            alternatives.append(" <-> ".join(f"{self._lexeme(ch)}:C" for ch in term))
        if term in terms.initials:  # every ASCII word: a pinyin or initials prefix too
            alternatives.append(f"{lexeme}:*BC")
        return "(" + " | ".join(alternatives) + ")"

    def tsquery(self, terms: QueryTerms) -> str:
        return " & ".join(self._term(term, terms) for term in terms.terms)

    def boost_tsquery(self, terms: QueryTerms) -> str:
        return " | ".join(f"{self._lexeme(t)}:A" for t in terms.all_terms)

    def condition(self, terms):
        return RawSQL(
            f'"{TABLE}"."document" @@ %s::tsquery', [self.tsquery(terms)], BooleanField()
        )

    def score(self, terms):
        return RawSQL(
            f"ts_rank(%s::float4[], \"{TABLE}\".\"document\", %s::tsquery) "
            f"+ {self.BOOST} * ts_rank(%s::float4[], \"{TABLE}\".\"document\", %s::tsquery)",
            [self.WEIGHTS, self.tsquery(terms), self.WEIGHTS, self.boost_tsquery(terms)],
            FloatField(),
        )

    def _suggest_tsquery(self, tokens):
        return " & ".join(f"{self._lexeme(t)}:*AB" for t in tokens)

    def suggest_condition(self, tokens):
        return RawSQL(
            f'"{TABLE}"."document" @@ %s::tsquery', [self._suggest_tsquery(tokens)], BooleanField()
        )

    def suggest_score(self, tokens):
        return RawSQL(
            f"ts_rank(%s::float4[], \"{TABLE}\".\"document\", %s::tsquery)",
            [self.WEIGHTS, self._suggest_tsquery(tokens)],
            FloatField(),
        )


class SQLiteMatcher(Matcher):
    """FTS5 over the entry table (external content, rowid = product id)."""

    # bm25 column weights, in FTS_COLUMNS order
    WEIGHTS = "10.0, 5.0, 5.0, 2.0, 1.0, 0.0"
    BOOST = 0.5

    @staticmethod
    def _string(token: str) -> str:
        return '"' + token.replace('"', '""') + '"'

    def _term(self, term: str, terms: QueryTerms) -> str:
        alternatives = ["{name_terms body_terms} : " + self._string(term)]
        if _HAN_ONLY_RE.match(term):
            alternatives.append("name_chars : " + self._string(" ".join(term)))
        if term in terms.initials:
            alternatives.append("{pinyin initials} : " + self._string(term) + " *")
        return "(" + " OR ".join(alternatives) + ")"

    def match(self, terms: QueryTerms) -> str:
        return " AND ".join(self._term(term, terms) for term in terms.terms)

    def boost_match(self, terms: QueryTerms) -> str:
        return " OR ".join("name_terms : " + self._string(t) for t in terms.all_terms)

    def _rank(self, expression: str) -> str:
        return (
            f"(SELECT -bm25({FTS_TABLE}, {self.WEIGHTS}) FROM {FTS_TABLE} "
            f'WHERE {FTS_TABLE} MATCH {expression} AND {FTS_TABLE}.rowid = "{TABLE}"."product_id")'
        )

    def condition(self, terms):
        return RawSQL(
            f'"{TABLE}"."product_id" IN (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s)',
            [self.match(terms)],
            BooleanField(),
        )

    def score(self, terms):
        return RawSQL(
            f"COALESCE({self._rank('%s')}, 0) + {self.BOOST} * COALESCE({self._rank('%s')}, 0)",
            [self.match(terms), self.boost_match(terms)],
            FloatField(),
        )

    def _suggest_match(self, tokens):
        return " AND ".join(
            "{autocomplete name_terms pinyin initials} : " + self._string(t) + " *"
            for t in tokens
        )

    def suggest_condition(self, tokens):
        return RawSQL(
            f'"{TABLE}"."product_id" IN (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s)',
            [self._suggest_match(tokens)],
            BooleanField(),
        )

    def suggest_score(self, tokens):
        return RawSQL(f"COALESCE({self._rank('%s')}, 0)", [self._suggest_match(tokens)], FloatField())


class LikeMatcher(Matcher):
    """The documented fallback: substring matches on the same columns, name matches first."""

    def _term(self, term: str, terms: QueryTerms) -> Q:
        q = Q(name_terms__contains=term) | Q(body_terms__contains=term)
        if _HAN_ONLY_RE.match(term):
            q |= Q(name__contains=term)
        if term in terms.initials:
            q |= Q(pinyin__contains=term) | Q(initials__contains=term)
        return q

    def condition(self, terms):
        q = Q()
        for term in terms.terms:
            q &= self._term(term, terms)
        return q

    def score(self, terms):
        in_name = Q()
        for term in terms.terms:
            in_name &= Q(name_terms__contains=term) | Q(pinyin__contains=term)
        return Case(When(in_name, then=Value(2.0)), default=Value(1.0), output_field=FloatField())

    def suggest_condition(self, tokens):
        q = Q()
        for token in tokens:
            q &= (
                Q(autocomplete__contains=token)
                | Q(pinyin__contains=token)
                | Q(initials__contains=token)
            )
        return q

    def suggest_score(self, tokens):
        return Value(1.0, output_field=FloatField())


def fts5_available() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = %s", [FTS_TABLE]
        )
        return cursor.fetchone() is not None


def matcher_for_connection() -> Matcher:
    if connection.vendor == "postgresql":
        return PostgresMatcher()
    if connection.vendor == "sqlite" and fts5_available():
        return SQLiteMatcher()
    return LikeMatcher()


# --- the backend ----------------------------------------------------------------------------


class DatabaseSearchBackend(SearchBackend):
    name = "database"

    def __init__(self, **options):
        super().__init__(**options)
        self._matchers: dict[str, Matcher] = {}

    def matcher(self) -> Matcher:
        key = f"{connection.vendor}:{connection.settings_dict.get('NAME')}"
        if key not in self._matchers:
            self._matchers[key] = matcher_for_connection()
        return self._matchers[key]

    # --- writes ---------------------------------------------------------------------------

    def index(self, product_ids: Iterable[int]) -> None:
        for chunk in _chunks(sorted(set(product_ids))):
            sync_entries(chunk)

    def bulk_index(self, product_ids: Iterable[int], *, progress: Progress | None = None) -> int:
        done = 0
        for chunk in _chunks(sorted(set(product_ids))):
            entries, _missing = sync_entries(chunk)
            done += len(entries)
            if progress:
                progress(len(chunk))
        return done

    def delete(self, product_ids: Iterable[int]) -> None:
        ProductSearchEntry.objects.filter(product_id__in=list(product_ids)).delete()

    def rebuild(self, *, progress: Progress | None = None) -> int:
        ids = list(Product.objects.order_by("pk").values_list("pk", flat=True))
        return self.bulk_index(ids, progress=progress)

    # --- reads ----------------------------------------------------------------------------

    @staticmethod
    def _sellable(entries: QuerySet) -> QuerySet:
        today = timezone.localdate()
        return entries.filter(
            Exists(Product.objects.sellable(today).filter(pk=OuterRef("product_id")))
        )

    @staticmethod
    def _gi(value: bool) -> Q:
        today = timezone.localdate()
        current = Q(gi_until__gte=today)
        return current if value else ~current | Q(gi_until__isnull=True)

    def _facet_conditions(self, request: SearchRequest) -> dict[str, Q]:
        f = request.filters
        conditions = {}
        if f.categories:
            conditions["category"] = Q(category_id__in=f.categories)
        if f.counties:
            conditions["county"] = Q(county_id__in=f.counties)
        if f.gi is not None:
            conditions["gi"] = self._gi(f.gi)
        if f.price_bands:
            conditions["price_band"] = Q(price_band__in=f.price_bands)
        return conditions

    def _plain_filters(self, entries: QuerySet, request: SearchRequest) -> QuerySet:
        f = request.filters
        if f.suppliers:
            entries = entries.filter(supplier_id__in=f.suppliers)
        if f.price_min is not None:
            entries = entries.filter(min_price__gte=f.price_min)
        if f.price_max is not None:
            entries = entries.filter(min_price__lte=f.price_max)
        if f.poverty is not None:
            entries = entries.filter(poverty=f.poverty)
        if f.in_stock is not None:
            stocked = Exists(
                ProductVariant.objects.filter(
                    product_id=OuterRef("product_id"), stock__gte=F("minimum_order_quantity")
                )
            )
            entries = entries.filter(stocked if f.in_stock else ~stocked)
        return entries

    def _order(self, request: SearchRequest, scored: bool) -> list:
        if request.sort == "relevance":
            return [F("score").desc(), "product_id"] if scored else ["product_id"]
        column = {"name": "name", "price": "min_price", "created": "created_at"}[request.sort]
        if request.descending:
            return [F(column).desc(nulls_last=True), "-product_id"]
        return [F(column).asc(nulls_last=True), "product_id"]

    def base_queryset(self, request: SearchRequest) -> tuple[QuerySet, QueryTerms]:
        """Sellable entries matching the text and the plain (non-facet) filters."""
        terms = query_terms(request.text)
        entries = self._sellable(ProductSearchEntry.objects.all())
        if not terms.is_empty:
            entries = entries.filter(self.matcher().condition(terms))
        return self._plain_filters(entries, request), terms

    def search(self, request: SearchRequest) -> SearchResults:
        base, terms = self.base_queryset(request)
        facet_conditions = self._facet_conditions(request)
        hits_qs = base
        for condition in facet_conditions.values():
            hits_qs = hits_qs.filter(condition)
        total = hits_qs.count() if request.count else -1
        hits: list[Hit] = []
        if request.limit > 0 and total != 0:
            scored = not terms.is_empty
            page = hits_qs
            if scored:
                page = page.annotate(score=self.matcher().score(terms))
            page = page.order_by(*self._order(request, scored))
            start = max(request.offset, 0)
            rows = page.values_list("product_id", "score" if scored else "product_id")[
                start : start + request.limit
            ]
            hits = [Hit(pid, float(score) if scored else None) for pid, score in rows]
        facets = self._facets(base, facet_conditions) if request.facets else {}
        return SearchResults(total=total, hits=hits, facets=facets, backend=self.name)

    def _facets(self, base: QuerySet, conditions: dict[str, Q]) -> dict[str, list[FacetValue]]:
        today = timezone.localdate()
        result = {}
        for name in FACETS:
            scope = base
            for other, condition in conditions.items():
                if other != name:
                    scope = scope.filter(condition)
            if name == "gi":
                scope = scope.annotate(
                    facet=Case(
                        When(gi_until__gte=today, then=Value(True)),
                        default=Value(False),
                        output_field=BooleanField(),
                    )
                )
                column = "facet"
            else:
                column = {"category": "category_id", "county": "county_id"}.get(name, name)
            rows = scope.order_by().values(column).annotate(n=Count("pk")).values_list(column, "n")
            values = [
                FacetValue(
                    ("true" if value else "false") if name == "gi" else str(value), count
                )
                for value, count in rows
                if value not in (None, "")
            ]
            result[name] = order_facet_values(name, values)
        return result

    def count(self, request: SearchRequest) -> int:
        return self.search(replace(request, limit=0, facets=False)).total

    def suggest(self, prefix: str, *, limit: int = 10) -> list[Suggestion]:
        tokens = normalize(prefix).split()
        if not tokens or limit <= 0:
            return []
        matcher = self.matcher()
        rows = (
            self._sellable(ProductSearchEntry.objects.all())
            .filter(matcher.suggest_condition(tokens))
            .annotate(score=matcher.suggest_score(tokens))
            .order_by(F("score").desc(), "name", "product_id")
            .values_list("product_id", "name")[:limit]
        )
        return [Suggestion(pid, name) for pid, name in rows]

    def status(self) -> dict[str, Any]:
        matcher = self.matcher()
        return {
            "backend": self.name,
            "method": {
                PostgresMatcher: "postgresql tsvector",
                SQLiteMatcher: "sqlite fts5",
                LikeMatcher: "like",
            }[type(matcher)],
            "entries": ProductSearchEntry.objects.count(),
        }

