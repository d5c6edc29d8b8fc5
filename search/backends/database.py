"""The database backend: the embedded default, and the fallback of the engine backend.

It searches `ProductSearchEntry` rows (text analysed in Python by `search.text`, see
`search.entries`), with the database's own full-text index:

- PostgreSQL: a weighted `tsvector` column with a GIN index, queried with `tsquery` literals the
  index answers exactly, and ranked with `ts_rank` (name words A=1.0, name pinyin B=0.5, name
  characters / bigrams and tag pinyin C=0.2, long text D=0.05), so a name match outranks a
  description match;
- SQLite: an FTS5 table kept in step by triggers, ranked with `bm25` (same column order);
- anything else (or SQLite built without FTS5): `LIKE` over the same columns, name first.

Every query word must match somewhere (name, description, pinyin or initials, or as characters
of the name); ASCII words are also pinyin / initials prefixes (`gou`, `gq`). Only entries whose
`sellable` flag is set are searched (written from `Product.objects.sellable`, rewritten by the
outbox on every catalog change and by `search_sync` when dates expire); GI validity is applied
by date and stock live. A search is one SQL statement: the matches are read once (a CTE of
their facet columns, sort key and candidate tier; nothing ranked), grouped by the four facet
columns, from which the total and every facet's exact counts are summed, plus the page. By
relevance only a bounded candidate set is ranked: the first `RANKED_CANDIDATES` matches with
every query word in the name first (relaxed queries: most words matched first), then by product
id; matches past them follow in that order. Counts and facets always cover every match.

On PostgreSQL a query over a common term (and a relaxed query with one) does not read
every match: its counts are kept per term by triggers (`search.term_counts`), and the same
candidates are taken in product-id order from an index (`_search_counted`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from itertools import combinations
from typing import Any

from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.utils import timezone

from catalog.models import Product, ProductVariant
from search import term_counts
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
from search.synonyms import analyse
from search.text import QueryTerms, normalize

TABLE = ProductSearchEntry._meta.db_table
FTS_TABLE = f"{TABLE}_fts"
FTS_COLUMNS = ("name_terms", "pinyin", "initials", "name_chars", "body_terms", "autocomplete")
FTS_MATCHING_IDS = (
    f'"{TABLE}"."product_id" IN (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s)'  # noqa: S608
)
BATCH = 500
# A relaxed (partial) hit scores this per query word it matches, above any text rank.
MATCHED_WORD = 100
# How many matches a relevance page scores (ts_rank / bm25) and sorts: the first ones in the
# matcher's `candidate_tier` order, then product id. Counts and facets cover every match.
RANKED_CANDIDATES = 200
# The name's lexemes of the document (A and B, and the Han ones in C), GIN-indexed by migration
# 0005: the in-name tier of a query, unweighted, through an index that needs no recheck and
# whose statistics know how rare a word is in names.
NAME_LEXEMES = "search_name_lexemes(document)"
# A relaxed query of up to this many words is counted per word group (2**n - 1 groups).
RELAXED_MAX_WORDS = 3
# The search statement's memory for its matches (PostgreSQL): 100,000 matches of ~70 bytes.
SEARCH_WORK_MEM = "32MB"
_ASCII_RE = re.compile(r"^[a-z]+$")
_HAN_ONLY_RE = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]+$")


def _raw(sql: str, params: list, output_field) -> RawSQL:
    """SQL built from this module's constants only; the user's words travel as parameters."""
    return RawSQL(sql, params, output_field)  # noqa: S611


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

    def candidate_tier(self, terms: QueryTerms) -> Any:
        """A cheap expression ordering the matches (higher first) before only the first
        `RANKED_CANDIDATES` of them are scored; None: by product id alone."""
        return None

    def suggest_condition(self, tokens: list[str]) -> Any:
        raise NotImplementedError

    def suggest_score(self, tokens: list[str]) -> Any:
        raise NotImplementedError


class PostgresMatcher(Matcher):
    WEIGHTS = "{0.05,0.2,0.5,1.0}"  # D, C, B, A
    BOOST = 0.5  # for the query's compound words in the name (中宁枸杞 over 中宁 … 枸杞)
    COMPOUND_BOOST = 0.1  # for them anywhere, also in a GI / brand name of the long text

    @staticmethod
    def _lexeme(token: str) -> str:
        return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"

    def _word(
        self, word: str, ascii_prefix: bool, in_name: bool = False, lexemes: bool = False
    ) -> list[str]:
        """The word itself (a word of the name or the long text; for one or two Han characters
        also a part of the name), or all its character bigrams in the name, or (ASCII) a prefix
        of a pinyin / initials word. No weight restrictions or phrases: GIN decides it alone.
        `in_name`: only where the name has it (weights A, B and, for Han words, the name's
        characters and bigrams in C, bigrams included), for `candidate_tier`. `lexemes`: the
        same without weights, for `NAME_LEXEMES` (the name's lexemes alone, GIN-indexed), which
        it matches exactly when the weighted form matches the document."""
        han = bool(_HAN_ONLY_RE.match(word))
        weights = (":ABC" if han else ":AB") if in_name and not lexemes else ""
        lexeme = self._lexeme(word)
        alternatives = [lexeme + weights]
        if han and len(word) > 2:
            bigrams = dict.fromkeys(word[i : i + 2] for i in range(len(word) - 1))
            alternatives.append("(" + " & ".join(self._lexeme(b) + weights for b in bigrams) + ")")
        if ascii_prefix:
            alternatives.append(f"{lexeme}:*{weights.lstrip(':')}")
        return alternatives

    def _term(
        self, term: str, terms: QueryTerms, in_name: bool = False, lexemes: bool = False
    ) -> str:
        """The term or any of its dictionary expansions (土豆 | 马铃薯 | 洋芋)."""
        # ASCII: also a pinyin prefix
        alternatives = self._word(term, term in terms.initials, in_name, lexemes)
        for word in terms.expansions.get(term, ()):
            alternatives += self._word(word, False, in_name, lexemes)
        return "(" + " | ".join(alternatives) + ")" if len(alternatives) > 1 else alternatives[0]

    def tsquery(self, terms: QueryTerms, in_name: bool = False, lexemes: bool = False) -> str:
        """`in_name`: its words in the name (weighted, for the document; `lexemes`: for
        `NAME_LEXEMES`)."""
        words = terms.relaxable if terms.match_any else terms.terms
        joined = " | " if terms.match_any else " & "
        return joined.join(self._term(term, terms, in_name, lexemes) for term in words)

    def _matched_words(self, terms: QueryTerms) -> tuple[str, list[str]]:
        """SQL counting the query words an entry matches (relaxed queries), and its params."""
        sql = " + ".join([f'("{TABLE}"."document" @@ %s::tsquery)::int'] * len(terms.terms))
        return sql, [self._term(term, terms) for term in terms.terms]

    def candidate_tier(self, terms):
        """Relaxed: how many query words an entry matches (what its score counts first);
        otherwise whether every word is in the name (what `WEIGHTS` favour most)."""
        if terms.match_any:
            return _raw(*self._matched_words(terms), IntegerField())
        return _raw(
            f'"{TABLE}"."document" @@ %s::tsquery',
            [self.tsquery(terms, in_name=True)],
            BooleanField(),
        )

    def boost_tsquery(self, terms: QueryTerms) -> str:
        return " | ".join(f"{self._lexeme(t)}:A" for t in terms.all_terms)

    def condition(self, terms):
        return _raw(f'"{TABLE}"."document" @@ %s::tsquery', [self.tsquery(terms)], BooleanField())

    def score(self, terms):
        sql = (
            f'ts_rank(%s::float4[], "{TABLE}"."document", %s::tsquery) '
            f'+ {self.BOOST} * ts_rank(%s::float4[], "{TABLE}"."document", %s::tsquery)'
        )
        params = [self.WEIGHTS, self.tsquery(terms), self.WEIGHTS, self.boost_tsquery(terms)]
        if terms.compounds:  # 中宁枸杞 anywhere (a GI or brand name in the long text too)
            sql += (
                f" + {self.COMPOUND_BOOST} * "
                f'ts_rank(\'{{1,1,1,1}}\'::float4[], "{TABLE}"."document", %s::tsquery)'
            )
            params.append(" | ".join(self._lexeme(t) for t in terms.compounds))
        if terms.match_any:  # relaxed: how many query words a hit matches comes first
            matched_sql, matched_params = self._matched_words(terms)
            sql += f" + {MATCHED_WORD} * ({matched_sql})"
            params += matched_params
        return _raw(sql, params, FloatField())

    def _suggest_tsquery(self, tokens):
        return " & ".join(f"{self._lexeme(t)}:*AB" for t in tokens)

    def suggest_condition(self, tokens):
        return _raw(
            f'"{TABLE}"."document" @@ %s::tsquery', [self._suggest_tsquery(tokens)], BooleanField()
        )

    def suggest_score(self, tokens):
        return _raw(
            f'ts_rank(%s::float4[], "{TABLE}"."document", %s::tsquery)',
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

    def _word(self, word: str, ascii_prefix: bool, in_name: bool = False) -> list[str]:
        """As `PostgresMatcher._word`; `in_name`: only in the name's columns."""
        columns = "name_terms" if in_name else "{name_terms body_terms}"
        alternatives = [f"{columns} : " + self._string(word)]
        if _HAN_ONLY_RE.match(word):
            alternatives.append("name_chars : " + self._string(" ".join(word)))
        if ascii_prefix:
            alternatives.append("{pinyin initials} : " + self._string(word) + " *")
        return alternatives

    def _term(self, term: str, terms: QueryTerms, in_name: bool = False) -> str:
        alternatives = self._word(term, term in terms.initials, in_name)
        for word in terms.expansions.get(term, ()):
            alternatives += self._word(word, False, in_name)
        return "(" + " OR ".join(alternatives) + ")"

    def match(self, terms: QueryTerms, in_name: bool = False) -> str:
        if terms.match_any:
            return " OR ".join(self._term(term, terms, in_name) for term in terms.relaxable)
        return " AND ".join(self._term(term, terms, in_name) for term in terms.terms)

    def _matched_words(self, terms: QueryTerms) -> tuple[str, list[str]]:
        """SQL counting the query words an entry matches (relaxed queries), and its params."""
        sql = " + ".join([f"({FTS_MATCHING_IDS})"] * len(terms.terms))
        return sql, [self._term(term, terms) for term in terms.terms]

    def candidate_tier(self, terms):
        """As `PostgresMatcher.candidate_tier`, with the name's FTS5 columns."""
        if terms.match_any:
            return _raw(*self._matched_words(terms), IntegerField())
        return _raw(FTS_MATCHING_IDS, [self.match(terms, in_name=True)], BooleanField())

    def boost_match(self, terms: QueryTerms) -> str:
        return " OR ".join(
            [
                *("name_terms : " + self._string(t) for t in terms.all_terms),
                *("body_terms : " + self._string(t) for t in terms.compounds),
            ]
        )

    def _rank(self, expression: str) -> str:
        return (
            f"(SELECT -bm25({FTS_TABLE}, {self.WEIGHTS}) FROM {FTS_TABLE} "  # noqa: S608
            f'WHERE {FTS_TABLE} MATCH {expression} AND {FTS_TABLE}.rowid = "{TABLE}"."product_id")'
        )

    def condition(self, terms):
        return _raw(
            FTS_MATCHING_IDS,
            [self.match(terms)],
            BooleanField(),
        )

    def score(self, terms):
        sql = f"COALESCE({self._rank('%s')}, 0) + {self.BOOST} * COALESCE({self._rank('%s')}, 0)"
        params = [self.match(terms), self.boost_match(terms)]
        if terms.match_any:  # relaxed: how many query words a hit matches comes first
            matched_sql, matched_params = self._matched_words(terms)
            sql += f" + {MATCHED_WORD} * ({matched_sql})"
            params += matched_params
        return _raw(sql, params, FloatField())

    def _suggest_match(self, tokens):
        return " AND ".join(
            "{autocomplete name_terms pinyin initials} : " + self._string(t) + " *" for t in tokens
        )

    def suggest_condition(self, tokens):
        return _raw(
            FTS_MATCHING_IDS,
            [self._suggest_match(tokens)],
            BooleanField(),
        )

    def suggest_score(self, tokens):
        return _raw(f"COALESCE({self._rank('%s')}, 0)", [self._suggest_match(tokens)], FloatField())


class LikeMatcher(Matcher):
    """The documented fallback: substring matches on the same columns, name matches first."""

    @staticmethod
    def _word(word: str, ascii_prefix: bool) -> Q:
        q = Q(name_terms__contains=word) | Q(body_terms__contains=word)
        if _HAN_ONLY_RE.match(word):
            q |= Q(name__contains=word)
        if ascii_prefix:
            q |= Q(pinyin__contains=word) | Q(initials__contains=word)
        return q

    def _term(self, term: str, terms: QueryTerms) -> Q:
        q = self._word(term, term in terms.initials)
        for word in terms.expansions.get(term, ()):
            q |= self._word(word, False)
        return q

    def condition(self, terms):
        if terms.match_any:
            q = Q(pk__in=[])
            for term in terms.relaxable:
                q |= self._term(term, terms)
            return q
        q = Q()
        for term in terms.terms:
            q &= self._term(term, terms)
        return q

    def score(self, terms):
        in_name = Q()
        for term in terms.terms:
            in_name &= Q(name_terms__contains=term) | Q(pinyin__contains=term)
        score = Case(When(in_name, then=Value(2.0)), default=Value(1.0), output_field=FloatField())
        if terms.match_any:
            for term in terms.terms:
                score = score + Case(
                    When(self._term(term, terms), then=Value(float(MATCHED_WORD))),
                    default=Value(0.0),
                    output_field=FloatField(),
                )
        return score

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


def indexed_words(words: Iterable[str]) -> set[str] | None:
    """Which of these words some entry matches as a query word would (see the matchers'
    `_word`), in one statement on PostgreSQL (GIN probes) or one FTS5 probe per word on
    SQLite; None where that cannot be asked cheaply (the LIKE fallback): every word counts."""
    words = sorted({w for w in words if w})
    if not words:
        return set()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            matcher = PostgresMatcher()
            queries = [" | ".join(matcher._word(w, False)) for w in words]
            cursor.execute(
                "SELECT w FROM unnest(%s::text[], %s::text[]) AS t(w, q) WHERE EXISTS "  # noqa: S608
                f'(SELECT 1 FROM "{TABLE}" WHERE "document" @@ q::tsquery)',
                [words, queries],
            )
            return {row[0] for row in cursor.fetchall()}
        if connection.vendor == "sqlite" and fts5_available():
            matcher = SQLiteMatcher()
            found = set()
            for word in words:
                cursor.execute(
                    f"SELECT 1 FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s LIMIT 1",  # noqa: S608
                    [" OR ".join(matcher._word(word, False))],
                )
                if cursor.fetchone():
                    found.add(word)
            return found
    return None


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

# (sign, tsquery, the term's stats when its facet counts are kept) of `_counted_groups`
WordGroup = tuple[int, str, "term_counts.TermStats | None"]


def _dense(matches: int, stats: term_counts.TermStats) -> bool:
    """Whether the first `RANKED_CANDIDATES` of `matches` entries (of `stats.entries`) are
    cheaper found by walking the primary key (about candidates / density rows) than by
    reading all of them from the index: density² > candidates / entries."""
    return matches * matches > RANKED_CANDIDATES * max(stats.entries, 1)


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
        """Every entry rewritten, then the common terms counted again (which terms are
        common follows the catalog; the counts themselves are kept by every write)."""
        ids = list(Product.objects.order_by("pk").values_list("pk", flat=True))
        indexed = self.bulk_index(ids, progress=progress)
        term_counts.refresh_counted_terms()
        return indexed

    # --- reads ----------------------------------------------------------------------------

    @staticmethod
    def _sellable(entries: QuerySet) -> QuerySet:
        """Entries of sellable products: the flag written from `Product.objects.sellable` when
        the entry was last written (a catalog change rewrites it at once; expiry by date is
        picked up by `search_sync`; the storefront loads hits through the rule again)."""
        return entries.filter(sellable=True)

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

    def base_queryset(self, request: SearchRequest) -> tuple[QuerySet, QueryTerms]:
        """Sellable entries matching the text and the plain (non-facet) filters."""
        terms = analyse(request.text, match_any=request.match_any)
        entries = self._sellable(ProductSearchEntry.objects.all())
        if not terms.is_empty:
            entries = entries.filter(self.matcher().condition(terms))
        return self._plain_filters(entries, request), terms

    @staticmethod
    def _facet_filters(request: SearchRequest) -> dict[str, set]:
        """Allowed values per facet column of the matches (OR within a facet)."""
        f = request.filters
        allowed: dict[str, set] = {}
        if f.categories:
            allowed["category"] = set(f.categories)
        if f.counties:
            allowed["county"] = set(f.counties)
        if f.gi is not None:
            allowed["gi"] = {f.gi}
        if f.price_bands:
            allowed["price_band"] = set(f.price_bands)
        return allowed

    def search_once(self, request: SearchRequest) -> SearchResults:
        """`_search_counted` where it applies, otherwise `_search_visiting`."""
        if term_counts.available() and isinstance(self.matcher(), PostgresMatcher):
            terms = analyse(request.text, match_any=request.match_any)
            groups = self._counted_groups(request, terms)
            if groups is not None:
                found = self._search_counted(request, terms, groups)
                if found is not None:
                    return found
        return self._search_visiting(request)

    def _counted_groups(self, request: SearchRequest, terms: QueryTerms) -> list[WordGroup] | None:
        """The word groups a search can count without visiting every match, as (sign,
        tsquery, its `TermStats` when its counts are kept, else None): a query whose
        tsquery's facet counts are kept (`search.term_counts`); or a relaxed query of
        2–`RELAXED_MAX_WORDS` words, one of them counted, as every non-empty subset of its
        words (the AND of the subset), signed for inclusion–exclusion so that the groups add
        up to the union's exact counts. None when the search must visit its matches: plain
        filters (supplier, price, poverty, stock), another sort than relevance, or a page
        past the ranked candidates."""
        f = request.filters
        if (
            terms.is_empty
            or request.sort != "relevance"
            or max(request.offset, 0) + request.limit > RANKED_CANDIDATES
            or f.suppliers
            or f.price_min is not None
            or f.price_max is not None
            or f.poverty is not None
            or f.in_stock is not None
        ):
            return None
        counted = term_counts.counted_queries()
        if not counted:
            return None
        matcher = self.matcher()
        if not terms.match_any:
            query = matcher.tsquery(terms)
            return [(1, query, counted[query])] if query in counted else None
        words = terms.relaxable
        # a lone Han character counts for the rank but matches nothing alone: the subsets of
        # the relaxable words would not order the candidates as the matched-word tier does
        if words != terms.terms or not 2 <= len(words) <= RELAXED_MAX_WORDS:
            return None
        groups = []
        for size in range(1, len(words) + 1):
            for subset in combinations(words, size):
                query = " & ".join(matcher._term(word, terms) for word in subset)
                stats = counted.get(query) if size == 1 else None
                groups.append((1 if size % 2 else -1, query, stats))
        return groups if any(stats for _sign, _query, stats in groups) else None

    def _search_counted(
        self, request: SearchRequest, terms: QueryTerms, groups: list[WordGroup]
    ) -> SearchResults | None:
        """One statement, like `_search_visiting`'s, but without reading every match: the
        counts of a counted word are its kept group rows (~2,000 at most), every other word
        group's are counted over its matches (an AND of words: few), and the page ranks the
        same `RANKED_CANDIDATES` candidates as `_search_visiting` does (every word in the name
        first, then product id; relaxed: most words matched first), taken through the index
        in product id order, `RANKED_CANDIDATES` at most per word group. None when a counted
        term was dropped since this process last read the list (then the matches are
        visited)."""
        today = timezone.localdate()
        allowed = self._facet_filters(request)
        want_groups = request.count or request.facets
        parts: list[str] = []
        params: list[Any] = []
        if want_groups:
            for number, (sign, query, counted) in enumerate(groups):
                if counted:
                    parts.append(
                        # constants only: the sign, the tables; the words are parameters
                        f"SELECT 0, {sign}, CAST(NULL AS DOUBLE PRECISION), "  # noqa: S608
                        "CAST(NULL AS BIGINT), f.category_id, f.county_id, f.gi_until >= %s, "
                        "f.price_band, "
                        f"SUM(f.count) FROM {term_counts.COUNTS_TABLE} f "
                        f"JOIN {term_counts.TERMS_TABLE} t ON t.id = f.term_id "
                        "WHERE t.query = %s GROUP BY 5, 6, 7, 8"
                    )
                    parts.append(
                        f"SELECT 2, {number}, CAST(NULL AS DOUBLE PRECISION), "  # noqa: S608
                        "CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), "
                        "CAST(NULL AS BOOLEAN), CAST(NULL AS VARCHAR(16)), COUNT(*) "
                        f"FROM {term_counts.TERMS_TABLE} WHERE query = %s"
                    )
                    params += [today, query, query]
                else:
                    parts.append(
                        f"SELECT 0, {sign}, CAST(NULL AS DOUBLE PRECISION), "  # noqa: S608
                        "CAST(NULL AS BIGINT), category_id, county_id, "
                        "COALESCE(gi_until >= %s, false), price_band, "
                        f'COUNT(*) FROM "{TABLE}" WHERE sellable AND document @@ %s::tsquery '
                        "GROUP BY 5, 6, 7, 8"
                    )
                    params += [today, query]
        start = max(request.offset, 0)
        if request.limit > 0:
            ids_sql, ids_params = self._candidates(request, terms, groups, allowed, today)
            score = self.matcher().score(terms)
            rows = (
                ProductSearchEntry.objects.filter(
                    product_id__in=_raw(ids_sql, ids_params, BooleanField())
                )
                .annotate(score=score)
                .order_by(F("score").desc(), F("product_id").asc())
                .values_list("product_id", "score")[start : start + request.limit]
            )
            page_sql, page_params = rows.query.sql_with_params()
            parts.append(
                "SELECT 1, product_id, CAST(score AS DOUBLE PRECISION), "  # noqa: S608
                "ROW_NUMBER() OVER (ORDER BY score DESC, product_id ASC), "
                "CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS BOOLEAN), "
                f"CAST(NULL AS VARCHAR(16)), CAST(NULL AS BIGINT) FROM ({page_sql}) page"
            )
            params += page_params
        if not parts:
            return SearchResults(total=-1, hits=[], facets={}, backend=self.name)
        with self._index_scans(), connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(parts), params)
            rows = cursor.fetchall()
        if any(r[0] == 2 and not r[8] for r in rows):
            return None
        summed: dict[tuple, int] = {}
        for r in rows:
            if r[0] == 0:
                key = (r[4], r[5], bool(r[6]), r[7])
                summed[key] = summed.get(key, 0) + r[1] * r[8]
        group_counts = [
            ({"category": k[0], "county": k[1], "gi": k[2], "price_band": k[3]}, n)
            for k, n in summed.items()
            if n
        ]
        page = sorted((r for r in rows if r[0] == 1), key=lambda r: r[3])
        hits = [Hit(r[1], float(r[2]) if r[2] is not None else None) for r in page]
        return self._results(request, allowed, group_counts if want_groups else None, hits)

    def _candidates(
        self,
        request: SearchRequest,
        terms: QueryTerms,
        groups: list[WordGroup],
        allowed: dict[str, set],
        today,
    ) -> tuple[str, list]:
        """SQL of the ids `_search_visiting` would rank for this request (the first
        `RANKED_CANDIDATES` matches in candidate-tier order, then product id), without
        reading every match: each word group's first matches in product id order through
        the primary key or the GIN index, `RANKED_CANDIDATES` at most each."""
        where, params = _in_filters(
            allowed,
            [("category_id", "category"), ("county_id", "county"), ("price_band", "price_band")],
        )
        where.insert(0, "sellable")
        if allowed.get("gi") == {True}:
            where.append("gi_until >= %s")
            params.append(today)
        elif allowed.get("gi") == {False}:
            where.append("(gi_until IS NULL OR gi_until < %s)")
            params.append(today)
        filters = " AND ".join(where)
        matcher = self.matcher()

        def first(condition: str, walk: bool, limit: str = "%s") -> str:
            """The first matches of `condition` by product id: along the primary key when
            they are dense (`walk`: the condition is made unindexable, so the planner cannot
            misjudge a weighted, prefix or AND query's frequency), otherwise from the GIN
            index (the ordering made unindexable), all matches sorted. Facet filters make
            the matches sparser than the term's figures say: they take the index."""
            if walk and not allowed:
                return (
                    f'SELECT product_id FROM "{TABLE}" WHERE {filters} '  # noqa: S608
                    f"AND ({condition}) IS TRUE ORDER BY product_id LIMIT {limit}"
                )
            return (
                f'SELECT product_id FROM "{TABLE}" WHERE {filters} '  # noqa: S608
                f"AND {condition} ORDER BY product_id + 0 LIMIT {limit}"
            )

        if not terms.match_any:
            # every word in the name first, then the other matches: `candidate_tier`'s order
            _sign, query, stats = groups[0]
            in_name = matcher.tsquery(terms, in_name=True)
            rest = stats.matches - stats.name_matches
            if _dense(stats.name_matches, stats):
                name_first, name_query = first("document @@ %s::tsquery", True), in_name
            else:
                name_first = first(f"{NAME_LEXEMES} @@ %s::tsquery", False)
                name_query = matcher.tsquery(terms, in_name=True, lexemes=True)
            sql = (
                "WITH a AS MATERIALIZED ("  # noqa: S608 - constants; words are parameters
                + name_first
                + ") SELECT product_id FROM a UNION ALL ("
                + first(
                    "document @@ %s::tsquery AND NOT (document @@ %s::tsquery)",
                    _dense(rest, stats),
                    limit="(%s - (SELECT count(*) FROM a))",
                )
                + ")"
            )
            return sql, [
                *params,
                name_query,
                RANKED_CANDIDATES,
                *params,
                query,
                in_name,
                RANKED_CANDIDATES,
            ]
        # relaxed: every entry among the first candidates of the union by (words matched,
        # product id) is among the first of the AND of the words it matches, by product id
        pieces, piece_params = [], []
        for _sign, query, stats in groups:
            walk = stats is not None and _dense(stats.matches, stats)
            pieces.append("(" + first("document @@ %s::tsquery", walk) + ")")
            piece_params += [*params, query, RANKED_CANDIDATES]
        matched_sql, matched_params = matcher._matched_words(terms)
        sql = (
            f'SELECT "{TABLE}"."product_id" FROM "{TABLE}" '  # noqa: S608
            f'WHERE "{TABLE}"."product_id" IN ({" UNION ".join(pieces)}) '
            f'ORDER BY {matched_sql} DESC, "{TABLE}"."product_id" ASC LIMIT %s'
        )
        return sql, [*piece_params, *matched_params, RANKED_CANDIDATES]

    def _results(
        self,
        request: SearchRequest,
        allowed: dict[str, set],
        groups: list[tuple[dict, int]] | None,
        hits: list[Hit],
    ) -> SearchResults:
        """The total and the facets (disjunctive: each without its own filter) from the
        matches' group counts; -1 and none when they were not counted."""

        def passes(group: dict, skip: str | None = None) -> bool:
            return all(group[name] in values for name, values in allowed.items() if name != skip)

        total = sum(n for group, n in groups if passes(group)) if groups is not None else -1
        facets = {}
        if request.facets and groups is not None:
            for name in FACETS:
                counted: dict[str, int] = {}
                for group, n in groups:
                    value = group[name]
                    if value in (None, "") or not passes(group, skip=name):
                        continue
                    key = ("true" if value else "false") if name == "gi" else str(value)
                    counted[key] = counted.get(key, 0) + n
                facets[name] = order_facet_values(
                    name, [FacetValue(k, v) for k, v in counted.items()]
                )
        return SearchResults(total=total, hits=hits, facets=facets, backend=self.name)

    def _search_visiting(self, request: SearchRequest) -> SearchResults:
        """One statement: the matches are read once (a CTE of their facet columns, sort key and
        candidate tier, nothing ranked), then grouped by the four facet columns (the total and
        every facet's counts follow from those groups, exactly), and the page is taken from
        them (`_page_parts`: by relevance, only a bounded candidate set is scored)."""
        base, terms = self.base_queryset(request)
        tier = None if terms.is_empty else self.matcher().candidate_tier(terms)
        if tier is None:
            tier = Value(0, IntegerField())
        key = {"name": F("name"), "price": F("min_price"), "created": F("created_at")}
        matches = base.annotate(
            gi_now=Case(
                When(gi_until__gte=timezone.localdate(), then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            ),
            tier=tier,
            sort_key=key.get(request.sort, F("product_id")),
        ).values_list(
            "product_id", "category_id", "county_id", "gi_now", "price_band", "tier", "sort_key"
        )
        matches_sql, params = matches.order_by().query.sql_with_params()
        params = list(params)
        allowed = self._facet_filters(request)
        want_groups = request.count or request.facets
        parts = []
        if want_groups:
            parts.append(
                "SELECT 0, CAST(NULL AS BIGINT), CAST(NULL AS DOUBLE PRECISION), "
                "CAST(NULL AS BIGINT), category_id, county_id, gi_now, price_band, COUNT(*) "
                "FROM m GROUP BY category_id, county_id, gi_now, price_band"
            )
        if request.limit > 0:
            for number, (piece_sql, piece_params, order) in enumerate(
                self._page_parts(allowed, terms, tier, request)
            ):
                # built from constants only; every value travels as a parameter
                parts.append(
                    f"SELECT 1, product_id, CAST(score AS DOUBLE PRECISION), "  # noqa: S608
                    f"{number} * 1000000 + ROW_NUMBER() OVER (ORDER BY {order}), "
                    "CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS BOOLEAN), "
                    f"CAST(NULL AS VARCHAR(16)), CAST(NULL AS BIGINT) FROM ({piece_sql}) page"
                )
                params += piece_params
        if not parts:
            return SearchResults(total=-1, hits=[], facets={}, backend=self.name)
        sql = (
            "WITH m (product_id, category_id, county_id, gi_now, price_band, tier, sort_key) "
            f"AS {self._materialized()}({matches_sql}) " + " UNION ALL ".join(parts)
        )
        with self._index_scans(), connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        groups = [
            ({"category": r[4], "county": r[5], "gi": bool(r[6]), "price_band": r[7]}, r[8])
            for r in rows
            if r[0] == 0
        ]
        page = sorted((r for r in rows if r[0] == 1), key=lambda r: r[3])
        hits = [Hit(r[1], float(r[2]) if r[2] is not None else None) for r in page]
        return self._results(request, allowed, groups if want_groups else None, hits)

    def _page_parts(
        self, allowed: dict[str, set], terms: QueryTerms, tier: Any, request: SearchRequest
    ) -> list[tuple[str, list, str]]:
        """The page as (sql, params, order) pieces whose rows are (product_id, score, sort_key)
        in `order` (over those columns), the pieces one after the other; ids come from the
        matches `m` with the facet filters applied.

        By relevance, only the first `RANKED_CANDIDATES` matches in the matcher's
        `candidate_tier` order (then product id) are scored and sorted by score; the matches
        past them follow in that cheap order. So a page costs the same whatever the number of
        matches beyond reading them once, and paging stays consistent (one total order).
        Other sorts order the matches by the sort key; either way only the rows of the page
        (and the candidates) are scored."""
        where, where_params = _in_filters(
            allowed,
            [
                ("category_id", "category"),
                ("county_id", "county"),
                ("gi_now", "gi"),
                ("price_band", "price_band"),
            ],
        )
        where_sql = f"WHERE {' AND '.join(where)} " if where else ""
        start = max(request.offset, 0)
        stop = start + request.limit
        if terms.is_empty or request.sort != "relevance":
            key = {"name": F("name"), "price": F("min_price"), "created": F("created_at")}
            sort_key = key.get(request.sort, F("product_id"))
            direction = "DESC" if request.sort != "relevance" and request.descending else "ASC"
            ids = (
                f"SELECT product_id FROM m {where_sql}"  # noqa: S608
                f"ORDER BY sort_key {direction} NULLS LAST, product_id {direction} "
                "LIMIT %s OFFSET %s"
            )
            if direction == "DESC":
                by = [sort_key.desc(nulls_last=True), F("product_id").desc()]
            else:
                by = [sort_key.asc(nulls_last=True), F("product_id").asc()]
            order = f"sort_key {direction} NULLS LAST, product_id {direction}"
            return [
                self._scored(ids, [*where_params, stop - start, start], terms, sort_key, by, order)
            ]
        cheap = f"SELECT product_id FROM m {where_sql}ORDER BY tier DESC, product_id ASC "  # noqa: S608
        pieces = []
        if start < RANKED_CANDIDATES:
            by = [F("score").desc(), F("product_id").asc()]
            pieces.append(
                self._scored(
                    cheap + "LIMIT %s",
                    [*where_params, RANKED_CANDIDATES],
                    terms,
                    Value(0, IntegerField()),
                    by,
                    "score DESC, product_id ASC",
                    start,
                    stop,
                )
            )
        if stop > RANKED_CANDIDATES:
            first = max(start, RANKED_CANDIDATES)
            pieces.append(
                self._scored(
                    cheap + "LIMIT %s OFFSET %s",
                    [*where_params, stop - first, first],
                    terms,
                    tier,
                    [tier.desc(), F("product_id").asc()],
                    "sort_key DESC, product_id ASC",
                )
            )
        return pieces

    def _scored(
        self,
        ids_sql: str,
        ids_params: list,
        terms: QueryTerms,
        sort_key: Any,
        by: list,
        order: str,
        start: int = 0,
        stop: int | None = None,
    ) -> tuple[str, list, str]:
        """(sql, params, order) of the entries whose ids `ids_sql` selects (from `m`), scored
        (the score is computed for these rows only), in the order `by`, sliced to
        [start:stop]."""
        score = self.matcher().score(terms) if not terms.is_empty else Value(None, FloatField())
        rows = (
            ProductSearchEntry.objects.filter(
                product_id__in=_raw(ids_sql, ids_params, BooleanField())
            )
            .annotate(score=score, sort_key=sort_key)
            .order_by(*by)
            .values_list("product_id", "score", "sort_key")[start:stop]
        )
        sql, params = rows.query.sql_with_params()
        return sql, list(params), order

    @staticmethod
    def _materialized() -> str:
        """Read the matches once: PostgreSQL does so for a CTE used twice; SQLite >= 3.35
        takes the hint."""
        if connection.vendor == "sqlite":
            import sqlite3

            return "MATERIALIZED " if sqlite3.sqlite_version_info >= (3, 35) else ""
        return "MATERIALIZED " if connection.vendor == "postgresql" else ""

    @staticmethod
    @contextmanager
    def _index_scans() -> Iterator[None]:
        """On PostgreSQL, the search statement reads the matches through the GIN index: with
        a wide row (the weighted document is ~1 KB) the planner's estimate prefers a full
        scan once a term is common (a tenth of the catalog), which tests `@@` on every row
        and is several times slower at 100,000 products. And it keeps the matches (the CTE)
        in memory: at 100,000 matches they outgrow the default 4 MB `work_mem` and went
        through a temporary file, written and read twice. Both settings in one statement,
        local to the statement's transaction, and set back when that transaction goes on (an
        outer atomic block)."""
        if connection.vendor != "postgresql":
            yield
            return
        nested = connection.in_atomic_block
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('enable_seqscan', 'off', true), "
                "set_config('work_mem', %s, true)",
                [SEARCH_WORK_MEM],
            )
            yield
            if nested:
                cursor.execute("SET LOCAL enable_seqscan TO DEFAULT")
                cursor.execute("SET LOCAL work_mem TO DEFAULT")

    def count(self, request: SearchRequest) -> int:
        return self.search(replace(request, limit=0, facets=False)).total

    def suggest_once(self, prefix: str, *, limit: int = 10) -> list[Suggestion]:
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


def _in_filters(allowed: dict[str, set], columns: list[tuple[str, str]]) -> tuple[list[str], list]:
    """`column IN (…)` for each facet of `allowed` that restricts (in `columns`' order), with its
    parameters sorted so that one request always builds the same statement."""
    where: list[str] = []
    params: list[Any] = []
    for column, facet in columns:
        values = allowed.get(facet)
        if values:
            where.append(f"{column} IN ({', '.join(['%s'] * len(values))})")
            params += sorted(values)
    return where, params
