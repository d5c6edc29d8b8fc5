"""Typo correction against the catalog's own vocabulary (rapidfuzz, pinyin and characters).

A query word is *unknown* when no sellable product's name, category, county or brand uses it
(and the synonym dictionary does not know it). An unknown Chinese word is replaced by the
indexed word of the same length that differs in the fewest characters, where a differing
character must sound alike (same toneless pinyin, or the same final: 枸祀 gousi -> 枸杞 gouqi,
苟杞 -> 枸杞) unless the word is three characters or longer and only one differs (葡萄洒 ->
葡萄酒, a look-alike). An unknown ASCII word of four letters or more is replaced by the nearest
pinyin of an indexed word or English dictionary word (rapidfuzz ratio >= 80: gouji -> 枸杞,
malinshu -> 马铃薯), shown as the Chinese word. Nothing close enough: no correction, so 手机,
海鲜 and iphone still find nothing.

The vocabulary is built from the index on first need and rebuilt when the index or the
dictionary changed (checked by one aggregate query per correction, i.e. only for queries that
found nothing).
"""

from __future__ import annotations

import bisect
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from django.db.models import Count, Max

from catalog.models import Category, County, ProductAuthorization
from search import synonyms
from search.models import ProductSearchEntry
from search.text import (
    has_han,
    is_pinyin,
    joined_pinyin,
    pinyin_initial,
    segment,
    word_frequency,
)

ASCII_CUTOFF = 80
# jieba's frequency of a character as a word above which typing it is taken as meant
COMMON_CHAR = 5000
REFRESH_SECONDS = 30.0
# jieba's frequency of a whole word from which it is taken as meant (typos score 0)
REAL_WORD = 5
MIN_ASCII = 4
_ASCII_RE = re.compile(r"^[a-z]+$")
_HAN_RUN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]+")


@dataclass
class Vocabulary:
    key: tuple
    han: Counter = field(default_factory=Counter)  # Han words of names / labels, by frequency
    chars: set[str] = field(default_factory=set)
    by_length: dict[int, list[str]] = field(default_factory=dict)
    ascii_sorted: list[str] = field(default_factory=list)  # every correction target
    index_sorted: list[str] = field(default_factory=list)  # indexed pinyin and initials
    keys: set[str] = field(default_factory=set)  # the dictionary's ASCII words
    ascii_to_han: dict[str, str] = field(default_factory=dict)
    built: float = field(default_factory=time.monotonic)

    def knows_han(self, word: str) -> bool:
        if len(word) == 1:
            return word in self.chars or word in self.han
        return word in self.han

    def knows_ascii(self, word: str) -> bool:
        """The start of an indexed pinyin / initials word (`gou` is typed on the way to
        `gouqi`: the index finds it as a prefix) or a whole dictionary key (`potatoe` is not
        `potatoes`: the dictionary has no prefixes)."""
        if word in self.keys:
            return True
        i = bisect.bisect_left(self.index_sorted, word)
        return i < len(self.index_sorted) and self.index_sorted[i].startswith(word)


_lock = threading.Lock()
_vocabulary: Vocabulary | None = None


def _key() -> tuple:
    state = ProductSearchEntry.objects.filter(sellable=True).aggregate(
        n=Count("pk"), last=Max("indexed_at")
    )
    return (state["n"], state["last"], synonyms.current().version)


def _build(key: tuple) -> Vocabulary:
    vocabulary = Vocabulary(key=key)
    entries = ProductSearchEntry.objects.filter(sellable=True)
    ascii_words: set[str] = set()
    labels: list[str] = []
    for name_terms, name_chars, pinyin, initials in entries.values_list(
        "name_terms", "name_chars", "pinyin", "initials"
    ).iterator(chunk_size=2000):
        vocabulary.han.update(w for w in name_terms.split() if has_han(w))
        vocabulary.chars.update(name_chars.split())
        ascii_words.update(pinyin.split())
        ascii_words.update(initials.split())
    labels += Category.objects.filter(pk__in=entries.values("category_id").distinct()).values_list(
        "name", flat=True
    )
    labels += County.objects.filter(pk__in=entries.values("county_id").distinct()).values_list(
        "name", flat=True
    )
    labels += (
        ProductAuthorization.objects.filter(product_id__in=entries.values("product_id"))
        .values_list("name", flat=True)
        .distinct()
    )
    for label in labels:
        vocabulary.han.update(w for w in segment(label) if has_han(w))
    vocabulary.index_sorted = sorted(ascii_words)
    for word, found in synonyms.current().expansions.items():
        for w in (word, *found):
            if has_han(w):
                vocabulary.han[w] += 0  # known; after the catalog's words as a target
            elif _ASCII_RE.match(w):
                ascii_words.add(w)
                vocabulary.keys.add(w)
                spelled = synonyms.current().readings.get(w, ())  # tudou -> 土豆
                target = spelled[0] if spelled else (found[0] if found else "")
                if has_han(target):
                    vocabulary.ascii_to_han.setdefault(w, target)
    for word, _count in vocabulary.han.most_common():
        vocabulary.by_length.setdefault(len(word), []).append(word)
        pinyin = joined_pinyin(word)
        if pinyin:
            ascii_words.add(pinyin)
            vocabulary.ascii_to_han.setdefault(pinyin, word)
    vocabulary.ascii_sorted = sorted(ascii_words)
    return vocabulary


def forget() -> None:
    """Drop the cached vocabulary (tests and `reset_backends`: a different index)."""
    global _vocabulary
    _vocabulary = None


def vocabulary() -> Vocabulary:
    """The vocabulary, rebuilt when the index or dictionary changed, at most every
    `REFRESH_SECONDS` (a busy catalog changes all the time; a word a minute old is fine)."""
    global _vocabulary
    if _vocabulary is not None and time.monotonic() - _vocabulary.built < REFRESH_SECONDS:
        return _vocabulary
    key = _key()
    if _vocabulary is not None and _vocabulary.key == key:
        _vocabulary.built = time.monotonic()
        return _vocabulary
    if _vocabulary is None or _vocabulary.key != key:
        with _lock:
            if _vocabulary is None or _vocabulary.key != key:
                _vocabulary = _build(key)
    return _vocabulary


def _syllable_parts(char: str) -> tuple[str, str, str]:
    plain = joined_pinyin(char)
    initial = pinyin_initial(char)
    final = plain[len(initial) :] if plain.startswith(initial) else plain
    return plain, initial, final


def sounds_alike(a: str, b: str) -> bool:
    """Two characters a buyer confuses by sound: same toneless pinyin, or the same final
    (祀 si / 杞 qi), or the same initial with -n / -ng confused."""
    pa, ia, fa = _syllable_parts(a)
    pb, ib, fb = _syllable_parts(b)
    if not pa or not pb:
        return False
    if pa == pb or (fa and fa == fb):
        return True
    return ia == ib and fa.rstrip("g") == fb.rstrip("g")


def _slip(typed: str, meant: str, *, lookalike: bool) -> bool:
    """Whether typing `typed` for `meant` is a plausible slip: the same toneless pinyin always
    (苟 for 枸: what a pinyin keyboard offers); a merely similar sound (祀 for 杞), or in a
    longer word any one character (洒 for 酒, a look-alike), only when the typed character is
    uncommon: a common one (手 in 手机) was meant, and 手机 is not a typo of 有机."""
    if joined_pinyin(typed) == joined_pinyin(meant):
        return True
    if _common(typed):
        return False
    return lookalike or sounds_alike(typed, meant)


def _common(char: str) -> bool:
    return word_frequency(char) >= COMMON_CHAR


def _closest_han(window: str, vocabulary: Vocabulary) -> tuple[int, str] | None:
    """(differing characters, word) for the best same-length indexed word, or None. A window
    that is itself a word of the language (牛排, 羊肉串, 干货) was meant, not mistyped."""
    if word_frequency(window) >= REAL_WORD:
        return None
    size = len(window)
    allowed = 1 if size <= 4 else 2
    best = None
    for word in vocabulary.by_length.get(size, ()):  # most frequent first
        diffs = [(a, b) for a, b in zip(window, word, strict=True) if a != b]
        if not diffs or len(diffs) > allowed:
            continue
        if not all(
            _slip(typed, meant, lookalike=size >= 3 and len(diffs) == 1) for typed, meant in diffs
        ):
            continue
        if best is None or len(diffs) < best[0]:
            best = (len(diffs), word)
    return best


def _correct_han_run(run: str, vocabulary: Vocabulary) -> str:
    words = []
    position = 0
    for word in segment(run):  # search mode: sub-words first, then the compound
        start = run.find(word, position if len(word) == 1 else 0)
        words.append((word, start, start + len(word)))
    unknown = [
        (start, end)
        for word, start, end in words
        if not vocabulary.knows_han(word)
        and not any(s <= start and end <= e and vocabulary.knows_han(w) for w, s, e in words)
    ]
    if not unknown:
        return run
    for start, end in unknown:
        best = None
        for left in range(max(0, start - 4), start + 1):
            for right in range(end, min(len(run), left + 6) + 1):
                if right - left < 2:
                    continue
                found = _closest_han(run[left:right], vocabulary)
                if found and (best is None or (found[0], left - right) < (best[0], best[1])):
                    best = (found[0], left - right, left, right, found[1])
        if best:
            _diffs, _size, left, right, word = best
            run = run[:left] + word + run[right:]
    return run


def _correct_ascii(word: str, vocabulary: Vocabulary) -> str:
    from rapidfuzz import fuzz, process

    if len(word) < MIN_ASCII or vocabulary.knows_ascii(word):
        return word
    # pinyin running on past an indexed word (tanyangrou, malingshufen): that word
    indexed = set(vocabulary.index_sorted)
    for end in range(len(word) - 1, max(MIN_ASCII, int(len(word) * 0.6)) - 1, -1):
        if word[:end] in indexed and is_pinyin(word):
            return vocabulary.ascii_to_han.get(word[:end], word[:end])
    candidates = [w for w in vocabulary.ascii_sorted if abs(len(w) - len(word)) <= 2]
    found = process.extractOne(word, candidates, scorer=fuzz.ratio, score_cutoff=ASCII_CUTOFF)
    if not found:
        return word
    return vocabulary.ascii_to_han.get(found[0], found[0])


def correct(text: str) -> str | None:
    """`text` (normalised, pinyin folded) with its unknown words corrected, or None if no word
    is unknown or none has a close enough indexed word."""
    if not text:
        return None
    vocab = vocabulary()
    known = synonyms.current().expansions
    pieces = []
    for piece in text.split(" "):
        if piece in known:
            pieces.append(piece)
        elif _ASCII_RE.match(piece):
            pieces.append(_correct_ascii(piece, vocab))
        elif has_han(piece):
            pieces.append(_HAN_RUN_RE.sub(lambda m: _correct_han_run(m.group(0), vocab), piece))
        else:
            pieces.append(piece)
    corrected = " ".join(pieces)
    return corrected if corrected != text else None
