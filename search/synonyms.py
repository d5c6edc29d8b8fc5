"""The domain synonym and alias dictionary: search/synonyms.txt (reviewed with the code) plus
the operators' `SynonymRule` rows (edited in the admin), applied at query time.

Rules use Solr's syntax: `a, b, c` (the words mean the same) and `a, b => c, d` (a and b also
find c and d: a broader word finds the narrower products and the category they belong to).
Expansion is transitive (羊羔肉 => 羊肉 => 羊排), every Chinese word also answers to its joined
pinyin (`tudou`), and words are normalised like the index (traditional, width, case).

Versioning: the rows carry a version in the `synonyms` `SearchCounter`, bumped on every save
and delete (also through the admin); each query reads that counter (one primary-key lookup) and
rebuilds the dictionary when it moved, so every process picks a change up without a restart.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from django.db import DatabaseError
from django.db.models import F
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from search import text
from search.models import SearchCounter, SynonymRule

logger = logging.getLogger(__name__)

FILE = Path(__file__).with_name("synonyms.txt")
VERSION_COUNTER = "synonyms"
MAX_DEPTH = 4
PRESENCE_SECONDS = 300.0  # expansion chains longer than this are a rule mistake, not meaning


class RuleError(ValueError):
    pass


Rule = tuple[tuple[str, ...], tuple[str, ...]]  # (words, words they also find)


def parse_rule(line: str) -> Rule | None:
    """One rule line -> (left words, right words); None for blank lines and comments."""
    line = line.split("#", 1)[0].strip()
    if not line:
        return None
    if line.count("=>") > 1:
        raise RuleError(f"more than one `=>` in {line!r}")
    left, arrow, right = line.partition("=>")

    def words(part: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(w for w in (text.normalize(p) for p in part.split(",")) if w))

    lhs = words(left)
    rhs = words(right) if arrow else lhs
    if not lhs or not rhs or (not arrow and len(lhs) < 2):
        raise RuleError(f"a rule needs two words or `a => b`: {line!r}")
    return lhs, rhs


def parse(lines: Iterable[str]) -> list[Rule]:
    rules = []
    for number, line in enumerate(lines, start=1):
        try:
            rule = parse_rule(line)
        except RuleError as error:
            raise RuleError(f"line {number}: {error}") from error
        if rule:
            rules.append(rule)
    return rules


def _joined_pinyin(word: str) -> str:
    return text.joined_pinyin(word) if text.has_han(word) else ""


def build(rules: Iterable[Rule]) -> dict[str, tuple[str, ...]]:
    """word -> every word it finds (itself excluded), closed over chains, plus pinyin keys."""
    direct: dict[str, list[str]] = {}
    for lhs, rhs in rules:
        for word in lhs:
            direct.setdefault(word, []).extend(w for w in rhs if w != word)
    closed: dict[str, tuple[str, ...]] = {}
    for word in direct:
        seen = dict.fromkeys(direct[word])
        frontier = list(seen)
        for _ in range(MAX_DEPTH):
            frontier = [
                w for f in frontier for w in direct.get(f, ()) if w not in seen and w != word
            ]
            seen.update(dict.fromkeys(frontier))
            if not frontier:
                break
        closed[word] = tuple(seen)
    with_pinyin = dict(closed)
    for word, found in closed.items():
        key = _joined_pinyin(word)
        if key and len(key) > 3 and key not in closed:
            # not the word(s) the pinyin spells: the pinyin field already finds them where they
            # are names or tags (`gouqi` must not find a tea whose description lists 枸杞)
            others = [w for w in (word, *found) if _joined_pinyin(w) != key]
            merged = with_pinyin.get(key, ())
            if others:
                with_pinyin[key] = tuple(dict.fromkeys([*merged, *others]))
    return with_pinyin


def readings(rules: Iterable[Rule]) -> dict[str, tuple[str, ...]]:
    """Joined pinyin -> the dictionary's Chinese words it spells (putaojiu -> 葡萄酒): not to
    match (the pinyin field does) but to rank a name with the word above a tag with it."""
    spelled: dict[str, list[str]] = {}
    for lhs, rhs in rules:
        for word in (*lhs, *rhs):
            key = _joined_pinyin(word)
            if key and len(key) > 3:
                spelled.setdefault(key, [])
                if word not in spelled[key]:
                    spelled[key].append(word)
    return {key: tuple(words) for key, words in spelled.items()}


@functools.lru_cache(maxsize=1)
def file_rules() -> tuple[Rule, ...]:
    return tuple(parse(FILE.read_text(encoding="utf-8").splitlines()))


@dataclass(frozen=True)
class Dictionary:
    version: tuple
    expansions: dict[str, tuple[str, ...]]
    readings: dict[str, tuple[str, ...]]

    @classmethod
    def of(cls, version: tuple, rules: list[Rule]) -> Dictionary:
        return cls(version, build(rules), readings(rules))


_lock = threading.Lock()
_current: Dictionary | None = None


def _version() -> tuple:
    """The counter's value and time: a counter reset and counted up again is still new."""
    try:
        row = (
            SearchCounter.objects.filter(name=VERSION_COUNTER)
            .values_list("value", "updated_at")
            .first()
        )
    except DatabaseError:
        return _current.version if _current else (0, None)
    return tuple(row) if row else (0, None)


def operator_rules() -> list[Rule]:
    rules = []
    for rule_id, line in SynonymRule.objects.filter(enabled=True).values_list("pk", "rule"):
        try:
            rule = parse_rule(line)
        except RuleError as error:  # the admin validates; a bad row must not break search
            logger.warning("synonym rule %s ignored: %s", rule_id, error)
            continue
        if rule:
            rules.append(rule)
    return rules


def _file_only() -> Dictionary:
    global _file_dictionary
    if _file_dictionary is None:
        _file_dictionary = Dictionary.of(("file",), list(file_rules()))
    return _file_dictionary


_file_dictionary: Dictionary | None = None


# The dictionary one search holds for all its steps (see `pinned`), or None.
_pinned: ContextVar[Dictionary | None] = ContextVar("search_dictionary", default=None)


@contextmanager
def pinned() -> Iterator[Dictionary]:
    """One dictionary for everything one search does: its analysis, the typo correction and
    the relaxed retry read the version counter once between them, not once per step (a search
    that found nothing read it three to five times), and cannot see two versions mid-search."""
    held = _pinned.get()
    if held is not None:
        yield held
        return
    token = _pinned.set(current())
    try:
        yield _pinned.get()
    finally:
        _pinned.reset(token)


def current() -> Dictionary:
    """The dictionary in force: rebuilt when the version counter moved since the last query
    (within one search, the one it started with: `pinned`). Without database access (the
    engine module used on its own) the file's rules alone."""
    global _current
    held = _pinned.get()
    if held is not None:
        return held
    try:
        version = _version()
    except RuntimeError:  # no database here (pytest-django refuses access, as may a script)
        return _file_only()
    if _current is not None and _current.version == version:
        return _current
    with _lock:
        if _current is None or _current.version != version:
            _current = Dictionary.of(version, [*file_rules(), *operator_rules()])
    return _current


_pruned: tuple[tuple, float, dict[str, tuple[str, ...]]] | None = None


def in_the_index(dictionary: Dictionary) -> dict[str, tuple[str, ...]]:
    """The expansions minus words no index entry has (枸杞子, 狗奶子 …): a shorter query for the
    same hits. Re-checked every `PRESENCE_SECONDS` (a word new in the catalog is expanded to
    within that time) and when the dictionary changes; one statement over the entries table,
    which every backend keeps."""
    global _pruned
    now = time.monotonic()
    if _pruned is not None and _pruned[0] == dictionary.version:
        if now - _pruned[1] < PRESENCE_SECONDS:
            return _pruned[2]
    from search.backends.database import indexed_words

    words = {w for found in dictionary.expansions.values() for w in found}
    try:
        present = indexed_words(words)
    except DatabaseError:
        present = None
    if present is None:
        pruned = dictionary.expansions
    else:
        pruned = {
            key: tuple(w for w in found if w in present)
            for key, found in dictionary.expansions.items()
        }
    _pruned = (dictionary.version, now, pruned)
    return pruned


def forget() -> None:
    """Drop what was learnt about the index (tests, `reset_backends`: a different index)."""
    global _pruned
    _pruned = None


def analyse(query: str | None, *, match_any: bool = False) -> text.QueryTerms:
    """`search.text.query_terms` with the dictionary in force: what every backend searches."""
    dictionary = current()
    try:
        expansions = in_the_index(dictionary)
    except RuntimeError:  # no database here: every expansion
        expansions = dictionary.expansions
    return text.query_terms(query, expansions, readings=dictionary.readings, match_any=match_any)


def bump_version() -> None:
    now = timezone.now()
    updated = SearchCounter.objects.filter(name=VERSION_COUNTER).update(
        value=F("value") + 1, updated_at=now
    )
    if not updated:
        SearchCounter.objects.get_or_create(
            name=VERSION_COUNTER, defaults={"value": 1, "updated_at": now}
        )


@receiver(post_save, sender=SynonymRule)
@receiver(post_delete, sender=SynonymRule)
def _rules_changed(sender, **kwargs) -> None:
    bump_version()
