"""What a search does when the query as typed finds nothing, the same on every backend.

1. The query as typed is always tried first.
2. Typo correction: words that occur nowhere in the catalog's vocabulary are replaced by the
   nearest indexed word (`search.correction`: pinyin and character similarity, so 枸祀, 苟杞,
   葡萄洒, gouji and malinshu find 枸杞, 葡萄酒, 马铃薯); the results say what was searched
   (`corrected_query`, shown as "showing results for …").
3. Relaxation: when every word must match and nothing does (a query of two words or more),
   hits matching some of the words (not by a lone Han character), those matching most first,
   flagged `partial`: 手抓羊肉 lists the lamb.

The backends' `search_once` runs one query; `SearchBackend.search` runs this recovery around
it, so the engine and the database fallback show the same correction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from search.correction import correct
from search.query import SearchRequest, SearchResults
from search.synonyms import analyse, pinned
from search.text import fold_pinyin, normalize

SearchOnce = Callable[[SearchRequest], SearchResults]


def search_with_recovery(search_once: SearchOnce, request: SearchRequest) -> SearchResults:
    with pinned():
        return _search_with_recovery(search_once, request)


def _search_with_recovery(search_once: SearchOnce, request: SearchRequest) -> SearchResults:
    text = fold_pinyin(normalize(request.text))
    if not text or request.match_any:
        return search_once(request)
    # the total decides whether to recover, so it is counted even for a page-only request
    first = search_once(replace(request, count=True))
    if first.total != 0:
        return first
    corrected = correct(text)
    if corrected and corrected != text:
        second = search_once(replace(request, text=corrected, count=True))
        if second.total:
            second.corrected_query = corrected
            return second
    searched = corrected or text
    terms = analyse(searched)
    if len(terms.terms) < 2 or not terms.relaxable:
        return first
    relaxed = search_once(replace(request, text=searched, match_any=True, count=True))
    if not relaxed.total:
        return first
    relaxed.partial = True
    relaxed.corrected_query = corrected if corrected and corrected != text else None
    return relaxed
