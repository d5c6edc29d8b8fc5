"""search.synonyms: the dictionary file's syntax, transitive expansion, pinyin keys; and the
operators' rules taking effect without a restart (search through the backend, every kind)."""

import pytest

from search import synonyms
from search.correction import sounds_alike
from search.models import SynonymRule
from tests.search.conftest import GOJI


@pytest.mark.smoke
def test_equivalent_words_find_each_other():
    expansions = synonyms.build(synonyms.parse(["土豆, 洋芋, 马铃薯"]))
    assert set(expansions["洋芋"]) == {"土豆", "马铃薯"}
    assert set(expansions["马铃薯"]) == {"土豆", "洋芋"}


@pytest.mark.smoke
def test_one_way_rule_expands_transitively_and_not_back():
    expansions = synonyms.build(synonyms.parse(["羊羔肉 => 羊肉", "羊肉 => 羊排, 羊腿"]))
    assert expansions["羊羔肉"] == ("羊肉", "羊排", "羊腿")
    assert "羊排" not in expansions


@pytest.mark.smoke
def test_chinese_words_also_answer_to_their_pinyin():
    expansions = synonyms.build(synonyms.parse(["土豆, 马铃薯"]))
    assert set(expansions["tudou"]) == {"马铃薯"}  # 土豆 itself: the pinyin field finds it


@pytest.mark.smoke
def test_rules_are_normalised_like_the_index():
    assert synonyms.parse_rule("灘羊肉 => ＬＡＭＢ") == (("滩羊肉",), ("lamb",))


@pytest.mark.smoke
@pytest.mark.parametrize("line", ["土豆", "a => b => c", " => 土豆"])
def test_a_malformed_rule_is_refused(line):
    with pytest.raises(synonyms.RuleError):
        synonyms.parse_rule(line)


@pytest.mark.smoke
def test_the_shipped_dictionary_parses():
    assert len(synonyms.file_rules()) > 50


@pytest.mark.smoke
def test_similar_finals_sound_alike_and_different_ones_do_not():
    assert sounds_alike("祀", "杞")
    assert not sounds_alike("鲜", "原")


def test_an_operator_rule_applies_at_the_next_query_and_goes_with_its_deletion(
    search, shop_catalog
):
    assert search("宝贝果").total == 0
    rule = SynonymRule.objects.create(rule="宝贝果 => 枸杞", note="test")
    assert shop_catalog.ids(*GOJI) <= set(search("宝贝果").ids)
    rule.delete()
    assert search("宝贝果").total == 0


@pytest.mark.smoke
def test_the_admin_form_refuses_a_malformed_rule_and_saves_nothing(db):
    from search.admin import SynonymRuleForm

    form = SynonymRuleForm(data={"rule": "土豆", "enabled": True, "note": ""})
    assert not form.is_valid()
    assert "two words" in form.errors["rule"][0]
    assert not SynonymRule.objects.exists()
