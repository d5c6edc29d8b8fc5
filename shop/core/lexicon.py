"""The segmentation and pinyin dictionaries in compact, shareable form (issue 12).

Stock jieba keeps its ~350,000-word frequency table (plus every prefix of every word) as one
Python dict of str -> int, and pypinyin its ~410,000 phrases and ~41,000 characters as dicts of
lists: ~110 MB of small objects per process. Each lookup writes a reference count into the page
holding the object, so even when a preforking server builds them once in the master, every
worker ends up copying most of those pages (bench/RESULTS-read-path.md (2)).

Here the same data is kept in MARISA tries (memory-mapped files, read-only, shared by every
process through the page cache), in two folders:

- `words-<key>/` (jieba version and the caller's domain words): `words.marisa` + `counts.bin`,
  jieba's words with a non-zero frequency (its dictionary and the domain words, added the way
  `jieba.add_word` adds them) and their frequencies by key id; `meta.json`, the total;
- `pinyin-<key>/` (pypinyin version): `phrases.marisa`, pypinyin's phrases -> their toneless
  readings, comma-separated; `chars.marisa`, each character pypinyin knows -> its toneless first
  reading and its initial (non-strict, as `pinyin(char, style=INITIALS, strict=False)` gives
  it); `meta.json`, the pinyin syllables and pypinyin's Han character class.

The files are derived from the pinned jieba and pypinyin by running them once, in a child process
(so the process that uses the files never holds the stock dicts), and cached in `JIEBA_CACHE_DIR`
(default `$TMPDIR/shanhai-jieba`). The lookups reproduce the stock libraries' output exactly
(tests/search/test_lexicon.py compares them over the judged queries, the demo catalog and a
sample of both dictionaries). Search segments with the words (search.text); slugs and search
read the pinyin (`pinyin()`, one shared instance per process).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
from array import array
from collections.abc import Iterable, Iterator
from importlib import metadata
from pathlib import Path

import marisa_trie

FORMAT = 1  # bump when the files' layout or content changes


def cache_dir() -> Path:
    path = Path(os.environ.get("JIEBA_CACHE_DIR") or Path(tempfile.gettempdir()) / "shanhai-jieba")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        path = Path(tempfile.gettempdir())
    return path


def _key(package: str, extra: Iterable[str] = ()) -> str:
    digest = hashlib.sha256()
    for part in (str(FORMAT), package, metadata.version(package), *extra):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:16]


def build_words(directory: Path, domain_words: Iterable[str]) -> None:
    """Run stock jieba once and write its frequencies (with the domain words) as the files above.

    Costs ~100 MB and a few seconds: call it in a process of its own (`ensure_words` does)."""
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.tmp_dir = str(cache_dir())
    tokenizer.initialize()
    for word in domain_words:
        tokenizer.add_word(word)
    # Zero entries are jieba's prefixes of longer words: the trie answers "is a prefix" itself.
    frequencies = {word: freq for word, freq in tokenizer.FREQ.items() if freq}
    words = marisa_trie.Trie(frequencies)
    counts = array("I", bytes(4 * len(words)))
    for word, freq in frequencies.items():
        counts[words[word]] = freq
    directory.mkdir(parents=True, exist_ok=True)
    words.save(str(directory / "words.marisa"))
    with open(directory / "counts.bin", "wb") as out:
        counts.tofile(out)
    (directory / "meta.json").write_text(json.dumps({"total": tokenizer.total}))


def build_pinyin(directory: Path) -> None:
    """Run stock pypinyin once and write its readings as the files above (~60 MB, a few
    seconds: in a process of its own, as `ensure_pinyin` does)."""
    from pypinyin import Style, pinyin
    from pypinyin.constants import PHRASES_DICT, PINYIN_DICT, RE_HANS
    from pypinyin.contrib.tone_convert import to_normal
    from pypinyin.converter import DefaultConverter

    converter = DefaultConverter()

    def normal(text: str, readings: list[list[str]]) -> str:
        styled = converter.convert_styles(readings, text, Style.NORMAL, False, "default", True)
        return ",".join(item[0] for item in styled)

    phrases = marisa_trie.BytesTrie(
        (phrase, normal(phrase, [[r[0]] for r in readings]).encode())
        for phrase, readings in PHRASES_DICT.items()
    )
    chars = {}
    syllables: set[str] = set()
    for code, readings in PINYIN_DICT.items():
        char = chr(code)
        plain = normal(char, [[readings.split(",")[0]]])
        initial = pinyin(char, style=Style.INITIALS, strict=False)[0][0]
        chars[char] = f"{plain},{initial}".encode()
        for reading in readings.split(","):
            toneless = to_normal(reading).replace("ü", "v")
            # m, n, ng, hm, hng are interjections: vowel-less strings are taken as initials.
            if toneless.isascii() and toneless.isalpha() and re.search("[aeiouv]", toneless):
                syllables.add(toneless)
    directory.mkdir(parents=True, exist_ok=True)
    phrases.save(str(directory / "phrases.marisa"))
    marisa_trie.BytesTrie(chars.items()).save(str(directory / "chars.marisa"))
    meta = {"syllables": sorted(syllables), "hans": RE_HANS.pattern}
    (directory / "meta.json").write_text(json.dumps(meta, ensure_ascii=False))


def _ensure(name: str, arguments: list[str]) -> Path:
    directory = cache_dir() / name
    if (directory / "meta.json").exists():
        return directory
    # Built into a temporary sibling and renamed: concurrent builders (workers, test processes)
    # never see a half-written folder.
    staging = Path(tempfile.mkdtemp(prefix="lexicon-", dir=directory.parent))
    subprocess.run(  # noqa: S603 - our own module, run by the same interpreter
        [sys.executable, "-m", "shop.core.lexicon", str(staging), *arguments],
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        staging.rename(directory)
    except OSError:  # another process got there first
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
    return directory


def ensure_words(domain_words: tuple[str, ...]) -> Path:
    """The folder of jieba's frequencies with these domain words, built first if missing."""
    return _ensure(f"words-{_key('jieba', domain_words)}", ["words", *domain_words])


def ensure_pinyin() -> Path:
    """The folder of pypinyin's readings, built first if missing."""
    return _ensure(f"pinyin-{_key('pypinyin')}", ["pinyin"])


def _has_prefix(trie: marisa_trie.Trie | marisa_trie.BytesTrie, prefix: str) -> bool:
    """Whether some key starts with `prefix` (`has_keys_with_prefix`, deprecated upstream)."""
    for _key in trie.iterkeys(prefix):
        return True
    return False


class WordFrequencies:
    """jieba's `FREQ` dict, read from the trie: `get`, `in`, `[]` as jieba's code uses them.

    A prefix of a word that is not a word itself is "in" with frequency 0, as in jieba's dict."""

    def __init__(self, words: marisa_trie.Trie, counts: array) -> None:
        self._words = words
        self._counts = counts

    def get(self, word: str, default: int | None = None) -> int | None:
        key = self._words.get(word)
        if key is not None:
            return self._counts[key]
        return 0 if _has_prefix(self._words, word) else default

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and _has_prefix(self._words, word)

    def __getitem__(self, word: str) -> int:
        value = self.get(word)
        if value is None:
            raise KeyError(word)
        return value

    def prefixes(self, text: str) -> list[str]:
        """The words that `text` starts with (a C loop instead of one lookup per length)."""
        return self._words.prefixes(text)


def load_words(directory: Path) -> tuple[WordFrequencies, int]:
    """jieba's frequencies (mapped) and their total, from an `ensure_words` folder."""
    words = marisa_trie.Trie()
    words.mmap(str(directory / "words.marisa"))
    counts = array("I")
    with open(directory / "counts.bin", "rb") as data:
        counts.frombytes(data.read())
    total = json.loads((directory / "meta.json").read_text())["total"]
    return WordFrequencies(words, counts), total


class Pinyin:
    """pypinyin's readings, mapped from an `ensure_pinyin` folder."""

    def __init__(self, directory: Path) -> None:
        self._phrases = marisa_trie.BytesTrie()
        self._phrases.mmap(str(directory / "phrases.marisa"))
        self._chars = marisa_trie.BytesTrie()
        self._chars.mmap(str(directory / "chars.marisa"))
        meta = json.loads((directory / "meta.json").read_text())
        self.syllables: frozenset[str] = frozenset(meta["syllables"])
        # pypinyin's RE_HANS is `^(?:[...])+$`: the class inside, to split runs as it does
        self._han_char = re.compile(meta["hans"].removeprefix("^(?:").removesuffix(")+$"))

    def _phrase(self, word: str) -> list[str] | None:
        found = self._phrases.get(word)
        return found[0].decode().split(",") if found else None

    def _char(self, char: str) -> tuple[str, str] | None:
        found = self._chars.get(char)
        if not found:
            return None
        plain, initial = found[0].decode().split(",")
        return plain, initial

    def _runs(self, text: str) -> Iterator[tuple[str, bool]]:
        """pypinyin's `simple_seg`: the text cut into runs of Han / other characters."""
        start = 0
        for i in range(1, len(text) + 1):
            if i == len(text) or bool(self._han_char.match(text[i])) != bool(
                self._han_char.match(text[start])
            ):
                yield text[start:i], bool(self._han_char.match(text[start]))
                start = i

    def _cut(self, text: str) -> Iterator[str]:
        """pypinyin's forward maximum matching over its phrases (`seg.mmseg.Seg`, strict)."""
        remain = text
        while remain:
            last_valid, last_index = "", 0
            for index in range(len(remain)):
                word = remain[: index + 1]
                if _has_prefix(self._phrases, word):
                    if word in self._phrases:
                        last_valid, last_index = word, index + 1
                    continue
                if last_valid:
                    yield last_valid
                    remain = remain[last_index:]
                else:
                    yield remain[0]
                    remain = remain[1:]
                break
            else:
                if last_valid:
                    yield last_valid
                    remain = remain[last_index:]
                elif remain in self._phrases:
                    yield remain
                    break
                else:
                    yield from remain
                    break

    def lazy_pinyin(self, text: str) -> list[str]:
        """`pypinyin.lazy_pinyin(text)`: toneless pinyin per character, phrases read as
        phrases, other characters kept as they are (one item per run)."""
        out: list[str] = []
        for run, han in self._runs(text):
            if not han:
                out.append(run)
                continue
            for chunk in self._cut(run):
                readings = self._phrase(chunk)
                if readings is None:
                    readings = [(self._char(c) or (c, ""))[0] for c in chunk]
                out.extend(readings)
        return out

    def initial(self, char: str) -> str:
        """`pypinyin.pinyin(char, style=Style.INITIALS, strict=False)[0][0]`."""
        found = self._char(char)
        return found[1] if found else char


_pinyin: Pinyin | None = None
_pinyin_lock = threading.Lock()


def pinyin() -> Pinyin:
    """The process's pinyin tables (opened on first use; built first if missing)."""
    global _pinyin
    if _pinyin is None:
        with _pinyin_lock:
            if _pinyin is None:
                _pinyin = Pinyin(ensure_pinyin())
    return _pinyin


def lazy_pinyin(text: str) -> list[str]:
    """`pypinyin.lazy_pinyin(text)` (same output), from the compact tables."""
    return pinyin().lazy_pinyin(text)


if __name__ == "__main__":
    if sys.argv[2] == "words":
        build_words(Path(sys.argv[1]), sys.argv[3:])
    else:
        build_pinyin(Path(sys.argv[1]))
