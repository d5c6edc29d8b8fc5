"""shop.core.lexicon: the compact dictionaries give exactly what stock jieba and pypinyin give.

The stock libraries are run here, in the test process, with the same domain words; the compact
path is `search.text`, which reads only the memory-mapped files. Compared over the judged
queries, the demo catalog's texts, the domain words and a fixed sample of both dictionaries."""

import logging
import random

import pytest

from catalog import demo
from search import text
from search.relevance import JUDGED

pytestmark = pytest.mark.smoke


@pytest.fixture(scope="module")
def stock_jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    for word in text.DOMAIN_WORDS:
        tokenizer.add_word(word)
    return tokenizer


@pytest.fixture(scope="module")
def corpus(stock_jieba) -> list[str]:
    texts = [item.query for item in JUDGED]
    for supplier in demo.SUPPLIERS:
        texts.append(supplier[1])
    for _supplier, category, name, spec, unit, _price, gi, description in demo.PRODUCTS:
        texts += [category, name, spec, unit, gi, description]
    texts += [*text.DOMAIN_WORDS, *demo.HOUSEHOLDS, *demo.VILLAGES]
    rng = random.Random(12)
    words = sorted(word for word, freq in stock_jieba.FREQ.items() if freq)
    texts += rng.sample(words, 3000)
    # sentences made of dictionary words: segmentation choices across word boundaries
    texts += ["".join(rng.sample(words, 4)) for _ in range(500)]
    return [t for t in texts if t]


def test_segmentation_matches_stock_jieba(stock_jieba, corpus):
    for sample in corpus:
        sample = text.normalize(sample)
        expected = list(stock_jieba.tokenize(sample, mode="search", HMM=True))
        assert list(text._jieba_tokenize(sample)) == expected, sample


def test_word_frequencies_match_stock_jieba(stock_jieba, corpus):
    words = [w for sample in corpus for w in stock_jieba.lcut(sample)] + ["枸", "不存在的词语"]
    for word in words:
        assert text.word_frequency(word) == (stock_jieba.FREQ.get(word, 0) or 0), word


def test_pinyin_matches_stock_pypinyin(stock_jieba, corpus):
    from pypinyin import Style, lazy_pinyin, pinyin
    from pypinyin.constants import PHRASES_DICT

    rng = random.Random(15)
    phrases = rng.sample(sorted(PHRASES_DICT), 3000)
    for sample in [*corpus, *phrases, "重庆银行行长", "500g枸杞 gouqi", "ｇ〇羊"]:
        assert text.lazy_pinyin(sample) == lazy_pinyin(sample), sample
    for char in {c for sample in corpus for c in sample}:
        assert text.pinyin_initial(char) == pinyin(char, style=Style.INITIALS, strict=False)[0][0]


def test_syllables_as_before():
    # the pinyin syllables is_pinyin accepts: from pypinyin's readings, vowel-less ones left out
    assert {"gou", "qi", "zhong", "lv", "nv"} <= text._syllables
    assert not {"m", "n", "ng", "hm", "hng"} & text._syllables
    assert text.is_pinyin("zhongn")
    assert not text.is_pinyin("gq")


def test_slugs_read_the_same_pinyin(corpus):
    import re

    from pypinyin import lazy_pinyin

    from catalog.services.products import slug_for

    for name in corpus[:400]:
        words = [re.sub(r"[^a-z0-9]+", "-", w.lower()).strip("-") for w in lazy_pinyin(name)]
        assert slug_for(name) == ("-".join(w for w in words if w)[:120] or "product"), name
