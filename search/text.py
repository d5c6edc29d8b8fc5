"""Chinese text analysis for search, done in Python so that every backend sees the same tokens.

Neither the database backends (PostgreSQL `simple` / SQLite `unicode61`) nor a stock OpenSearch or
Elasticsearch node can segment Chinese: `to_tsvector('simple', '华为手机')` is one lexeme, and the
IK / pinyin plugins cannot be installed here. So the text is segmented with jieba (search mode:
a long word also yields its dictionary sub-words, 中宁枸杞 -> 中宁, 枸杞, 中宁枸杞) and converted to
toneless pinyin and pinyin initials with pypinyin. A backend stores the whitespace-joined strings
from `index_terms()` and analyses them with a plain whitespace (and, for pinyin, edge-n-gram)
analyzer; the query side uses `query_terms()`.

Public API: `normalize`, `segment`, `pinyin_full`, `pinyin_initials`, `index_terms`,
`query_terms` / `QueryTerms`, `is_pinyin`, `warm_up`, `DOMAIN_WORDS`.
"""

from __future__ import annotations

import functools
import re
import sys
import threading
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

# Product and place words of the Fujian–Ningxia catalogue that jieba's stock dictionary splits
# badly or not at all (中宁枸杞 -> 中/宁/枸杞 without them). Place names first, then products.
DOMAIN_WORDS: tuple[str, ...] = (
    # Ningxia prefectures, counties and districts
    "宁夏",
    "银川",
    "石嘴山",
    "吴忠",
    "固原",
    "中卫",
    "中宁",
    "盐池",
    "同心",
    "红寺堡",
    "青铜峡",
    "利通",
    "西吉",
    "隆德",
    "泾源",
    "彭阳",
    "原州",
    "海原",
    "沙坡头",
    "灵武",
    "永宁",
    "贺兰",
    "平罗",
    "惠农",
    "大武口",
    "兴庆",
    "金凤",
    "六盘山",
    "贺兰山",
    "贺兰山东麓",
    "闽宁",
    "闽宁镇",
    # products
    "枸杞",
    "中宁枸杞",
    "黑枸杞",
    "枸杞干",
    "枸杞原浆",
    "枸杞芽茶",
    "滩羊",
    "滩羊肉",
    "盐池滩羊",
    "黄花菜",
    "葡萄酒",
    "干红",
    "干白",
    "马铃薯",
    "西吉马铃薯",
    "长枣",
    "灵武长枣",
    "硒砂瓜",
    "中卫硒砂瓜",
    "八宝茶",
    "苦荞",
    "荞麦",
    "小杂粮",
    "胡麻油",
    "亚麻籽油",
    "冷凉蔬菜",
    "黄牛肉",
    "固原黄牛",
    "发菜",
    # what buyers search besides the product: packaging and certification phrases
    "礼盒",
    "礼盒装",
    "家庭装",
    "地理标志",
    "国家地理标志",
    "地理标志产品",
    "区域公用品牌",
    # Fujian side (the partner province)
    "铁观音",
    "安溪铁观音",
    "大红袍",
    "武夷岩茶",
    "白茶",
    "福鼎白茶",
)

# Words whose pinyin pypinyin gets wrong (polyphones). Applied wherever the word occurs in a token,
# before pypinyin sees the rest, so the global pypinyin dictionaries are left untouched.
PINYIN_OVERRIDES: dict[str, tuple[str, ...]] = {
    "长枣": ("chang", "zao"),
    "红寺堡": ("hong", "si", "bu"),
}

# Function words dropped from queries (they would otherwise have to match, as the query is ANDed).
QUERY_STOPWORDS = frozenset("的 了 和 与 及 或 在 是 之 等".split())

_HAN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
_HAN_RUN_RE = re.compile(_HAN_RE.pattern + "+")
_ASCII_WORD_RE = re.compile(r"^[a-z]+$")
_ready = False
_lock = threading.Lock()
_syllables: frozenset[str] = frozenset()
_syllable_prefixes: frozenset[str] = frozenset()
_max_override = max(len(word) for word in PINYIN_OVERRIDES)


# The dictionaries (jieba's word frequencies, pypinyin's phrases and characters) are read from
# compact memory-mapped files (shop.core.lexicon), built once from the stock libraries and shared by
# every process: ~10 MB instead of ~110 MB of Python objects per process. They are opened on
# first use, so processes that never analyse text (exports, payments, admin) don't pay at all.
_pinyin = None
_jieba = None


def lazy_pinyin(text: str) -> list[str]:
    """`pypinyin.lazy_pinyin(text)` (same output), from the compact tables."""
    warm_up()
    return _pinyin.lazy_pinyin(text)


def pinyin_initial(char: str) -> str:
    """`pypinyin.pinyin(char, style=Style.INITIALS, strict=False)[0][0]` (same output)."""
    warm_up()
    return _pinyin.initial(char)


def _compact_tokenizer(frequencies, total: int):
    """A jieba tokenizer over the lexicon's frequencies: jieba's own segmentation code (DAG,
    route, HMM for unknown words, search mode), only the word lookups differ."""
    if "jieba" not in sys.modules and "pkg_resources" not in sys.modules:
        # jieba 0.42 imports pkg_resources (~5 MB and a scan of every installed distribution)
        # only to locate dict.txt, which is never read here: without it, it falls back to a
        # path. A None entry makes that import fail; no other code of ours imports it.
        sys.modules["pkg_resources"] = None
        try:
            import jieba
        finally:
            del sys.modules["pkg_resources"]
    import jieba

    class CompactTokenizer(jieba.Tokenizer):
        def get_DAG(self, sentence: str) -> dict[int, list[int]]:  # noqa: N802 - jieba's name
            # Every word the rest of the sentence starts with, in one trie walk: what jieba's
            # loop over growing fragments finds (it stops where no word has that prefix).
            prefixes = self.FREQ.prefixes
            dag = {}
            for k in range(len(sentence)):
                ends = [k + len(word) - 1 for word in prefixes(sentence[k:])]
                dag[k] = ends or [k]
            return dag

    tokenizer = CompactTokenizer()
    tokenizer.FREQ = frequencies
    tokenizer.total = total
    tokenizer.initialized = True
    return tokenizer


def warm_up() -> None:
    """Open the compact dictionaries (once per process; built first, in a child process, if
    the cache in `JIEBA_CACHE_DIR`, default `$TMPDIR/shanhai-jieba`, lacks them).

    Called lazily by every function here; call it at start-up to move the loading out of the
    first request, and before forking so that the workers share it.
    """
    global _ready, _syllables, _syllable_prefixes, _jieba, _pinyin
    if _ready:
        return
    with _lock:
        if _ready:
            return
        from shop.core import lexicon

        _jieba = _compact_tokenizer(*lexicon.load_words(lexicon.ensure_words(DOMAIN_WORDS)))
        _pinyin = lexicon.pinyin()
        _syllables = _pinyin.syllables
        _syllable_prefixes = frozenset(s[:i] for s in _syllables for i in range(1, len(s) + 1))
        _ready = True


_opencc = None


def to_simplified(text: str) -> str:
    """Traditional -> simplified Chinese (OpenCC `t2s`: 灘羊 -> 滩羊, 乾紅 -> 干红)."""
    global _opencc
    if _opencc is None:
        import opencc

        _opencc = opencc.OpenCC("t2s")
    return _opencc.convert(text)


def _fold_latin(text: str) -> str:
    """Tone marks off Latin letters (gǒuqǐ -> gouqi; ü -> v as pinyin writes it toneless)."""
    text = text.replace("ü", "v").replace("ǖ", "v").replace("ǘ", "v").replace("ǚ", "v")
    text = text.replace("ǜ", "v")
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize(
        "NFC", "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    )


@functools.lru_cache(maxsize=16384)
def normalize(text: str | None) -> str:
    """NFKC (full-width letters, digits and punctuation become half-width), lowercase,
    traditional -> simplified, tone marks dropped from Latin letters, whitespace collapsed."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text).lower()
    if _HAN_RE.search(text):
        text = to_simplified(text)
    if not text.isascii():
        text = _fold_latin(text)
        text = _UNIT_RE.sub(lambda m: m.group(1) + _UNITS[m.group(2)], text)
    return " ".join(text.split())


# Weights and volumes as specs write them: 500克 -> 500g, 2公斤 -> 2kg, 750毫升 -> 750ml.
_UNITS = {"千克": "kg", "公斤": "kg", "克": "g", "毫升": "ml", "升": "l"}
_UNIT_RE = re.compile(r"(\d)\s*(千克|公斤|毫升|克|升)")


def _is_word(token: str) -> bool:
    return any(ch.isalnum() for ch in token)


def has_han(token: str) -> bool:
    return bool(_HAN_RE.search(token))


def _tokens(text: str) -> list[tuple[str, int, int]]:
    """(word, start, end) in jieba search mode over normalised text, punctuation/spaces dropped."""
    warm_up()
    return list(_cached_tokens(normalize(text)))


# Indexing analyses the same short texts (names, category and county labels) several times per
# product and across products: caching them makes a full rebuild several times faster.
@functools.lru_cache(maxsize=16384)
def _cached_tokens(text: str) -> tuple[tuple[str, int, int], ...]:
    if not text:
        return ()
    return tuple((word, start, end) for word, start, end in _jieba_tokenize(text) if _is_word(word))


def _jieba_tokenize(text: str):
    warm_up()
    return _jieba.tokenize(text, mode="search", HMM=True)


def word_frequency(word: str) -> int:
    """How common `word` is in jieba's dictionary (0: unknown)."""
    warm_up()
    return _jieba.FREQ.get(word, 0) or 0


def segment(text: str | None) -> list[str]:
    """Words of `text` in jieba search mode (中宁枸杞 -> 中宁, 枸杞, 中宁枸杞), in order, with
    duplicates kept (term frequency matters to the index) and punctuation/whitespace dropped."""
    return [word for word, _, _ in _tokens(text or "")]


def _syllables_of(word: str) -> list[str]:
    return list(_cached_syllables(word))


@functools.lru_cache(maxsize=65536)
def _cached_syllables(word: str) -> tuple[str, ...]:
    out: list[str] = []
    pending: list[str] = []
    i = 0
    while i < len(word):
        for size in range(min(_max_override, len(word) - i), 1, -1):
            override = PINYIN_OVERRIDES.get(word[i : i + size])
            if override:
                if pending:
                    out += lazy_pinyin("".join(pending))
                    pending = []
                out += override
                i += size
                break
        else:
            pending.append(word[i])
            i += 1
    if pending:
        out += lazy_pinyin("".join(pending))
    return tuple(s for s in (part.strip().lower() for part in out) if s and s.isalnum())


def _dedup(items) -> list[str]:
    return list(dict.fromkeys(item for item in items if item))


def pinyin_full(text: str | None) -> list[str]:
    """Toneless pinyin per Chinese word (枸杞 -> gouqi, 中宁枸杞 -> zhongning, gouqi,
    zhongninggouqi), de-duplicated, in order. Words without Chinese characters are skipped."""
    return _dedup("".join(_syllables_of(word)) for word in segment(text) if has_han(word))


def pinyin_initials(text: str | None) -> list[str]:
    """Pinyin initials per Chinese word (枸杞 -> gq, 中宁枸杞 -> zn, gq, zngq), de-duplicated."""
    return _dedup(
        "".join(s[0] for s in _syllables_of(word)) for word in segment(text) if has_han(word)
    )


def _whole(text: str) -> tuple[str, str]:
    """Pinyin and initials of the whole text run together (for prefix typing of a full name)."""
    syllables = [s for run in _HAN_RUN_RE.findall(normalize(text)) for s in _syllables_of(run)]
    return "".join(syllables), "".join(s[0] for s in syllables)


def joined_pinyin(text: str) -> str:
    """The toneless pinyin of all the text's Han characters run together (马铃薯 -> malingshu)."""
    return _whole(text)[0]


def index_terms(name: str, other_text: str = "", *, tags: tuple[str, ...] | list[str] = ()) -> dict:
    """The whitespace-joined strings a backend stores for one product.

    `name` is the product name; `other_text` the long text (description, supplier name ...);
    `tags` are short labels (category, county, keywords) that also get pinyin, unlike `other_text`.

    Keys: `name_terms`, `body_terms` (segmented words), `pinyin`, `initials` (per word and for the
    whole name), `autocomplete` (the name without spaces, then its words: for edge n-grams).
    """
    tag_text = " ".join(tag for tag in tags if tag)
    full_name, name_initials = _whole(name)
    pinyin = pinyin_full(name) + ([full_name] if full_name else []) + pinyin_full(tag_text)
    initials = (
        pinyin_initials(name)
        + ([name_initials] if name_initials else [])
        + pinyin_initials(tag_text)
    )
    name_words = segment(name)
    compact = "".join(normalize(name).split())
    return {
        "name_terms": " ".join(name_words),
        "body_terms": " ".join(segment(" ".join(filter(None, [tag_text, other_text])))),
        "pinyin": " ".join(_dedup(pinyin)),
        "initials": " ".join(_dedup(initials)),
        "autocomplete": " ".join(_dedup([compact, *name_words])),
    }


def is_pinyin(token: str) -> bool:
    """True if `token` (lowercase ASCII letters) reads as toneless pinyin syllables, the last one
    possibly unfinished (`gouqi`, `zhongn`); False for consonant strings like `gq`."""
    warm_up()
    if not _ASCII_WORD_RE.match(token):
        return False
    reachable = [True] + [False] * len(token)
    for start in range(len(token)):
        if not reachable[start]:
            continue
        for end in range(start + 1, min(len(token), start + 6) + 1):
            piece = token[start:end]
            if piece in _syllables:
                reachable[end] = True
            elif (
                end == len(token)
                and piece in _syllable_prefixes
                and (start > 0 or re.search("[aeiouv]", piece))
            ):
                reachable[end] = True  # an unfinished last syllable: `zhongn`, `gou`
    return reachable[-1]


_TONED_RE = re.compile(r"^(?:[a-z]+[1-5])+[a-z]*$")


def fold_pinyin(text: str) -> str:
    """Spaced or tone-numbered pinyin folded to joined toneless pinyin, as the index holds it:
    `gou3 qi3` and `gou qi` -> `gouqi`, `pu tao jiu` -> `putaojiu`. Only runs of single
    syllables are joined, so `xiji tudou` (two words) stays two words."""
    warm_up()
    pieces = []
    for piece in text.split():
        if _TONED_RE.match(piece):
            plain = re.sub(r"[1-5]", "", piece)
            if is_pinyin(plain):
                piece = plain
        pieces.append(piece)
    out: list[str] = []
    run: list[str] = []
    for piece in [*pieces, ""]:
        if piece in _syllables:
            run.append(piece)
            continue
        if run:
            out.append("".join(run))
            run = []
        if piece:
            out.append(piece)
    return " ".join(out)


@dataclass(frozen=True)
class QueryTerms:
    """What a backend needs to run one search query.

    - `text`: the normalised query (for recall analyzers such as `cjk` on the raw name);
    - `terms`: the words every hit must contain (each in some field): jieba search-mode words,
      minus those fully covered by smaller words (中宁枸杞 -> 中宁, 枸杞), minus stop words;
    - `all_terms`: every search-mode word, for an optional ranking boost on exact compounds;
    - `pinyin`: ASCII tokens that read as pinyin (`gouqi`) -> match the pinyin terms;
    - `initials`: ASCII letter tokens (`gq`, and `gouqi` too) -> match the initials terms;
    - `expansions`: per term, the dictionary's other words for it (土豆 -> 马铃薯, lamb -> 羊肉 …):
      a hit may match any of them instead, ranked below the literal word;
    - `match_any`: relaxation: a hit needs one term (group) only, ranked by how many it matches.
    """

    text: str
    terms: list[str] = field(default_factory=list)
    all_terms: list[str] = field(default_factory=list)
    pinyin: list[str] = field(default_factory=list)
    initials: list[str] = field(default_factory=list)
    expansions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    match_any: bool = False
    # compound words of the query made of its terms (中宁枸杞): ranked up also in the long text
    # (a GI or brand name there), where the separate terms rank equal
    compounds: list[str] = field(default_factory=list)

    def alternatives(self, term: str) -> tuple[str, ...]:
        return (term, *self.expansions.get(term, ()))

    @property
    def relaxable(self) -> list[str]:
        """The terms a partial (relaxed) hit may match alone: not single Han characters, which
        would let any product sharing one character in (猪肉 must not find 牛肉 by 肉)."""
        return [term for term in self.terms if len(term) > 1]

    @property
    def is_empty(self) -> bool:
        return not self.terms

    @property
    def ascii_only(self) -> bool:
        return bool(self.terms) and not any(has_han(term) for term in self.terms)


def _dictionary_spans(
    text: str, synonyms: Mapping[str, tuple[str, ...]], words: set[tuple[int, int]]
) -> list[tuple[int, int]]:
    """Where dictionary words occur in the query, longest first, not overlapping: a Han word
    anywhere (羊羔肉 inside 盐池羊羔肉), an ASCII word only as a whole token (lamb)."""
    found = []
    for key in synonyms:
        han = has_han(key)
        start = text.find(key)
        while start >= 0:
            end = start + len(key)
            if han and len(key) > 1 or (han and (start, end) in words):
                found.append((start, end))  # one character only where it is a word (羊, not 猪肉)
            elif (
                not han
                and text[start - 1 : start] in ("", " ")
                and text[end : end + 1] in ("", " ")
            ):
                found.append((start, end))
            start = text.find(key, start + 1)
    chosen: list[tuple[int, int]] = []
    for start, end in sorted(found, key=lambda span: (span[0] - span[1], span[0])):
        if all(end <= s or start >= e for s, e in chosen):
            chosen.append((start, end))
    return chosen


def query_terms(
    query: str | None,
    synonyms: Mapping[str, tuple[str, ...]] | None = None,
    *,
    readings: Mapping[str, tuple[str, ...]] | None = None,
    match_any: bool = False,
) -> QueryTerms:
    """Analyse a user query the same way the index side was analysed (see `QueryTerms`).
    `synonyms` maps a normalised word to the words it also finds (see `search.synonyms`);
    `readings` maps a joined pinyin to the Chinese words it spells, added to `all_terms` (the
    name boost) so that `putaojiu` ranks a name with 葡萄酒 above a tag with it."""
    text = fold_pinyin(normalize(query))
    synonyms = synonyms or {}
    tokens = [t for t in _tokens(text) if t[0] not in QUERY_STOPWORDS]
    spans = _dictionary_spans(text, synonyms, {(start, end) for _w, start, end in tokens})
    leaves: list[tuple[int, str]] = [(start, text[start:end]) for start, end in spans]
    for word, start, end in tokens:
        if any(s <= start and end <= e for s, e in spans):
            continue  # a dictionary word covers it: the word's group stands for it
        covered = set()
        for _other, o_start, o_end in tokens:
            if start <= o_start and o_end <= end and (o_end - o_start) < (end - start):
                covered.update(range(o_start, o_end))
        if not covered.issuperset(range(start, end)):
            leaves.append((start, word))
    terms = _dedup(word for _start, word in sorted(leaves, key=lambda leaf: leaf[0]))
    expansions = {
        term: tuple(w for w in synonyms[term] if w != term) for term in terms if term in synonyms
    }
    ascii_words = [t for t in terms if _ASCII_WORD_RE.match(t)]
    return QueryTerms(
        text=text,
        terms=terms,
        all_terms=_dedup(
            [
                *(word for word, _, _ in tokens),
                *(w for term in ascii_words for w in (readings or {}).get(term, ())),
            ]
        ),
        pinyin=[t for t in ascii_words if is_pinyin(t)],
        initials=ascii_words,
        expansions={term: words for term, words in expansions.items() if words},
        match_any=match_any,
        compounds=_dedup(w for w, _s, _e in tokens if w not in terms and len(w) > 2),
    )
