"""search.text: the Chinese analysis shared by every search backend (pure, no engine, no DB)."""

import pytest

from search import text

pytestmark = pytest.mark.smoke


def test_domain_word_segments_into_its_pieces_and_itself():
    assert text.segment("中宁枸杞") == ["中宁", "枸杞", "中宁枸杞"]


def test_segment_drops_punctuation_and_whitespace():
    assert text.segment("宁夏 滩羊，羊肉！") == ["宁夏", "滩羊", "羊肉"]


def test_segment_of_long_place_name_includes_sub_words():
    words = text.segment("贺兰山东麓葡萄酒")
    assert {"贺兰山", "贺兰山东麓", "葡萄酒"} <= set(words)


def test_pinyin_and_initials_of_goji():
    assert text.pinyin_full("枸杞") == ["gouqi"]
    assert text.pinyin_initials("枸杞") == ["gq"]


def test_pinyin_per_word():
    assert text.pinyin_full("中宁枸杞") == ["zhongning", "gouqi", "zhongninggouqi"]
    assert text.pinyin_initials("中宁枸杞") == ["zn", "gq", "zngq"]


def test_pinyin_skips_non_chinese_words():
    assert text.pinyin_full("枸杞 500g") == ["gouqi"]


@pytest.mark.parametrize(
    ("word", "expected"), [("灵武长枣", "lingwuchangzao"), ("红寺堡", "hongsibu")]
)
def test_polyphone_overrides(word, expected):
    assert expected in text.pinyin_full(word)


def test_normalize_full_width_case_and_spaces():
    assert text.normalize("ＡＢＣ１２３，枸杞　 Ｇｏｕｑｉ ") == "abc123,枸杞 gouqi"
    assert text.segment("ＧＯＵＱＩ５００ｇ") == ["gouqi500g"]
    assert text.normalize(None) == ""


def test_index_terms():
    terms = text.index_terms("宁夏中宁枸杞 500g", "颗粒饱满，产自中宁。", tags=["枸杞"])
    assert terms["name_terms"].split() == ["宁夏", "中宁", "枸杞", "中宁枸杞", "500g"]
    assert "颗粒" in terms["body_terms"].split()
    assert "枸杞" in terms["body_terms"].split()  # tags are searchable text too
    pinyin = terms["pinyin"].split()
    assert {"ningxia", "zhongning", "gouqi", "ningxiazhongninggouqi"} <= set(pinyin)
    assert {"nx", "gq", "nxzngq"} <= set(terms["initials"].split())
    assert "keli" not in pinyin  # the long text gets no pinyin
    assert terms["autocomplete"].split()[0] == "宁夏中宁枸杞500g"


def test_query_terms_pinyin():
    terms = text.query_terms("gouqi")
    assert terms.terms == ["gouqi"]
    assert terms.pinyin == ["gouqi"]
    assert terms.initials == ["gouqi"]


def test_query_terms_initials():
    terms = text.query_terms("GQ")
    assert terms.terms == ["gq"]
    assert terms.pinyin == []  # consonants only: not pinyin
    assert terms.initials == ["gq"]


def test_query_terms_chinese():
    terms = text.query_terms("宁夏 滩羊")
    assert terms.text == "宁夏 滩羊"
    assert terms.terms == ["宁夏", "滩羊"]
    assert terms.pinyin == terms.initials == []


def test_query_terms_keep_only_the_smallest_pieces_of_a_compound():
    terms = text.query_terms("中宁枸杞")
    assert terms.terms == ["中宁", "枸杞"]
    assert terms.all_terms == ["中宁", "枸杞", "中宁枸杞"]
    # 葡萄 does not cover 葡萄酒, so both must match
    assert text.query_terms("葡萄酒").terms == ["葡萄", "葡萄酒"]


def test_query_terms_drop_stop_words_and_handle_empty():
    assert text.query_terms("宁夏的枸杞").terms == ["宁夏", "枸杞"]
    assert text.query_terms("  ").is_empty


@pytest.mark.parametrize(
    ("token", "expected"),
    [("gouqi", True), ("zhongn", True), ("tanyang", True), ("gq", False), ("zn", False)],
)
def test_is_pinyin(token, expected):
    assert text.is_pinyin(token) is expected


# --- normalisation (issue 13) ---------------------------------------------------------------


def test_traditional_characters_become_simplified():
    assert text.normalize("鹽池灘羊 乾紅") == "盐池滩羊 干红"


def test_tone_marks_are_dropped_from_pinyin():
    assert text.normalize("Gǒuqǐ") == "gouqi"


@pytest.mark.parametrize("typed", ["gou qi", "gou3qi3", "gou3 qi3", "gǒu qǐ", "ＧＯＵ ＱＩ"])
def test_spaced_and_toned_pinyin_fold_to_joined_pinyin(typed):
    assert text.query_terms(typed).terms == ["gouqi"]


def test_pinyin_words_of_several_syllables_stay_separate():
    assert text.query_terms("xiji tudou").terms == ["xiji", "tudou"]


def test_dictionary_word_becomes_one_term_with_its_expansions():
    terms = text.query_terms("盐池羊羔肉", {"羊羔肉": ("羊肉", "羊排")})
    assert terms.terms == ["盐池", "羊羔肉"]
    assert terms.expansions == {"羊羔肉": ("羊肉", "羊排")}


def test_one_character_dictionary_word_applies_only_as_a_word():
    synonyms = {"肉": ("羊肉", "牛肉")}
    assert text.query_terms("猪肉", synonyms).expansions == {}
    assert text.query_terms("肉", synonyms).expansions == {"肉": ("羊肉", "牛肉")}


def test_single_characters_are_not_relaxable():
    assert text.query_terms("羊 西吉").relaxable == ["西吉"]


def test_chinese_units_become_the_units_specs_use():
    assert text.normalize("500克 2公斤 750毫升") == "500g 2kg 750ml"
