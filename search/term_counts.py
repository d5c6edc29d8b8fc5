"""Facet counts kept per common query term, so that a search for a word a large share of the
catalog has (闽宁, 礼盒, a county) need not visit every match to count it (PostgreSQL only).

`search_countedterm` lists the counted terms by the exact tsquery the database backend sends
for them (`PostgresMatcher.tsquery` of a one-word query: the word, its dictionary expansions,
its pinyin prefix); `search_termfacetcount` holds each term's sellable matches per (category,
county, GI expiry, price band). Statement triggers on the entries table (migration 0004) add
and subtract every row an INSERT, UPDATE, DELETE or TRUNCATE changes, in the writing
transaction (`search.entries.sync_entries`'s), so a count is never stale.

Which terms are counted is chosen by `refresh_counted_terms` (after a rebuild, or by
`manage.py search_counted_terms`): the lexemes in more than `COMMON_SHARE` of the sellable
entries. A search uses the counts only when its tsquery is exactly a counted one, and checks in
its own statement that it still is: the in-process list of counted terms (`counted_queries`)
only says where to look, never what to count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.db import connection, transaction

from search.models import ProductSearchEntry
from search.synonyms import analyse, current

TABLE = ProductSearchEntry._meta.db_table
TERMS_TABLE = "search_countedterm"
COUNTS_TABLE = "search_termfacetcount"
# A lexeme in more than this share of the sellable entries has its counts kept: below it a
# search visits at most ~2,000 matches per 100,000 products, which costs less than reading
# the term's (up to ~2,000) group rows would save.
COMMON_SHARE = 0.02
MAX_COUNTED_TERMS = 1000
# How long a process trusts its list of counted terms before reading it again (a term added
# meanwhile is searched by visiting its matches; one dropped is noticed by the search itself).
HINT_SECONDS = 60


@dataclass(frozen=True)
class TermStats:
    """How many of how many sellable entries a counted term matched when it was counted, and
    how many with every word in the name: what a search needs to choose how to take its first
    matches (walking the primary key or probing the index), never what it counts."""

    matches: int
    name_matches: int
    entries: int


_hint: tuple[float, str, dict[str, TermStats]] | None = None


def available() -> bool:
    return connection.vendor == "postgresql"


def counted_queries() -> dict[str, TermStats]:
    """The tsqueries (as the matcher writes them) whose counts are kept, as this process last
    read them (at most `HINT_SECONDS` ago)."""
    global _hint
    if not available():
        return {}
    key = str(connection.settings_dict.get("NAME"))
    now = time.monotonic()
    if _hint is None or _hint[1] != key or now - _hint[0] > HINT_SECONDS:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT query, matches, name_matches, entries FROM {TERMS_TABLE}"  # noqa: S608
            )
            _hint = (now, key, {row[0]: TermStats(*row[1:]) for row in cursor.fetchall()})
    return _hint[2]


def forget_hint() -> None:
    global _hint
    _hint = None


def common_lexemes(share: float = COMMON_SHARE) -> list[str]:
    """The lexemes of more than `share` of the sellable entries, most common first."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {TABLE} WHERE sellable")  # noqa: S608
        sellable = cursor.fetchone()[0]
        if not sellable:
            return []
        cursor.execute(
            "SELECT word FROM ts_stat(%s) WHERE ndoc > %s ORDER BY ndoc DESC, word",
            [f"SELECT document FROM {TABLE} WHERE sellable", share * sellable],  # noqa: S608
        )
        return [row[0] for row in cursor.fetchall()]


def dictionary_words() -> list[str]:
    """Every word of the synonym dictionary (土豆, 洋芋, potato, putaojiu …): their queries
    expand to other words, so each has its own tsquery, common when the words are."""
    dictionary = current()
    words = dict.fromkeys(dictionary.expansions)
    for found in dictionary.expansions.values():
        words.update(dict.fromkeys(found))
    words.update(dict.fromkeys(dictionary.readings))
    return list(words)


def queries_for(words: list[str]) -> dict[str, str]:
    """The tsquery the database backend sends for each word searched alone (whatever the
    words it is analysed into), with its in-name form."""
    from search.backends.database import PostgresMatcher

    matcher = PostgresMatcher()
    queries: dict[str, str] = {}
    for word in words:
        terms = analyse(word)
        if terms.terms:  # 地理标志 is 地理 & 标志: one query all the same
            queries.setdefault(
                matcher.tsquery(terms), matcher.tsquery(terms, in_name=True, lexemes=True)
            )
    return queries


@transaction.atomic
def refresh_counted_terms(share: float = COMMON_SHARE, words: list[str] | None = None) -> int:
    """Count the terms that are common: the tsqueries of the dictionary's words and of the
    common lexemes (or of `words`) that match more than `share` of the sellable entries,
    `MAX_COUNTED_TERMS` at most, the dictionary's first. Terms no longer common are dropped,
    new ones counted from the entries. Which terms, and their figures, are found first without
    a lock (they only choose); then entry writes wait (a SHARE lock) while the new terms'
    groups are counted, so those counts cannot miss a write committed between the count and
    the triggers seeing the term. Returns how many terms are counted."""
    if not available():
        return 0
    from search.backends.database import NAME_LEXEMES

    def count(condition: str, query: str) -> int:
        cursor.execute(
            f"SELECT count(*) FROM {TABLE} WHERE sellable AND {condition} @@ %s::tsquery",  # noqa: S608
            [query],
        )
        return cursor.fetchone()[0]

    with connection.cursor() as cursor:
        # the dictionary's words first: what buyers type (土豆, wine, 礼品), each query with its
        # expansions; then the lexemes by frequency, many of them name fragments (庭装, 选礼)
        first = queries_for(dictionary_words() if words is None else words)
        candidates = {**first, **queries_for(common_lexemes(share) if words is None else [])}
        cursor.execute(f"SELECT count(*) FROM {TABLE} WHERE sellable")  # noqa: S608
        entries = cursor.fetchone()[0]
        matches = {query: count("document", query) for query in candidates}
        kept = sorted(
            (q for q, n in matches.items() if n > share * entries),
            key=lambda q: (q not in first, -matches[q]),
        )[:MAX_COUNTED_TERMS]
        in_name = {query: count(NAME_LEXEMES, candidates[query]) for query in kept}
        cursor.execute(f"LOCK TABLE {TABLE} IN SHARE MODE")  # noqa: S608
        cursor.execute(
            f"DELETE FROM {TERMS_TABLE} WHERE NOT (query = ANY(%s))",  # noqa: S608
            [kept],
        )
        for query in kept:
            cursor.execute(
                f"INSERT INTO {TERMS_TABLE} AS t "  # noqa: S608
                "(query, tsq, matches, name_matches, entries) "
                "VALUES (%s, %s::tsquery, %s, %s, %s) ON CONFLICT (query) DO UPDATE SET "
                "matches = EXCLUDED.matches, name_matches = EXCLUDED.name_matches, "
                "entries = EXCLUDED.entries RETURNING (xmax = 0), id",
                [query, query, matches[query], in_name[query], entries],
            )
            inserted, term_id = cursor.fetchone()
            if inserted:
                cursor.execute(
                    f"INSERT INTO {COUNTS_TABLE} "  # noqa: S608
                    "(term_id, category_id, county_id, gi_until, price_band, count) "
                    "SELECT %s, category_id, county_id, COALESCE(gi_until, '-infinity'::date), "
                    f"price_band, count(*) FROM {TABLE} "
                    "WHERE sellable AND document @@ %s::tsquery GROUP BY 2, 3, 4, 5",
                    [term_id, query],
                )
    forget_hint()
    return len(kept)
