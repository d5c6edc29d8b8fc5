"""A fixed relevance set over the demo catalog (`catalog/demo.py`), and its figures.

Each judged query lists the products a buyer expects (by demo name); a backend is scored by
precision@5 (relevant hits among the first five, divided by min(5, number relevant), so a query
with two right answers can still score 1.0) and the reciprocal rank of the first relevant hit
(MRR over all queries). `manage.py search_relevance` prints both per backend;
tests/search/test_relevance.py keeps floors under them.

Judgements are what a shopper would want, not what a backend happens to return, written from
the demo catalog before the results were looked at: everyday and regional words (土豆 for
马铃薯), traditional characters, English, typos, spaced and toned pinyin, county + product,
GI and packaging phrases, and nonsense (手机: right only when nothing is found). Recall@10 is
also reported: of the relevant products, the share among the first ten.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from catalog.models import Category, County, Product
from search.backends.base import SearchBackend
from search.query import SearchFilters, SearchRequest

GOJI = (
    "中宁枸杞 特级头茬干果",
    "中宁枸杞 一级干果",
    "枸杞原浆",
    "黑枸杞 精选",
    "舟塔枸杞 合作社直供",
    "枸杞芽茶",
    "枸杞蜂蜜",
    "枸杞 芽菜",
    "枸杞 叶茶",
)
ZHONGNING_GOJI = ("中宁枸杞 特级头茬干果", "中宁枸杞 一级干果", "舟塔枸杞 合作社直供")
WINE = (
    "贺兰山东麓 赤霞珠干红葡萄酒",
    "贺兰山东麓 霞多丽干白葡萄酒",
    "蛇龙珠 干红葡萄酒",
    "美乐 干红葡萄酒",
    "桃红葡萄酒",
)
HELAN = ("贺兰山东麓 赤霞珠干红葡萄酒", "贺兰山东麓 霞多丽干白葡萄酒", "蛇龙珠 干红葡萄酒")
TAN_SHEEP = (
    "盐池滩羊 羊排",
    "盐池滩羊 羊腿",
    "滩羊 羊肉卷",
    "滩羊 羊蝎子",
    "滩羊 羊肉饺子",
)
BEEF = ("固原黄牛 牛腱子", "固原黄牛 牛腩", "六盘山 牛肉干", "黄牛 肉丸")
POTATO = ("西吉马铃薯 精选", "西吉马铃薯 粉条", "马铃薯 全粉", "马铃薯 薯片")
DAYLILY = ("红寺堡黄花菜 干品", "黄花菜 礼盒")
MUSHROOMS = ("闽宁镇 双孢菇", "闽宁镇 香菇干", "杏鲍菇")
DAIRY = ("宁夏 纯牛奶", "酸奶 原味", "奶粉 全脂", "奶片")
GRAINS = ("彭阳 小米", "彭阳 荞麦面", "燕麦米", "红小豆")
REDS = ("贺兰山东麓 赤霞珠干红葡萄酒", "蛇龙珠 干红葡萄酒", "美乐 干红葡萄酒")
HONEY = ("枸杞蜂蜜", "六盘山 蜂蜜")
# Products with a current GI (catalog/demo.py PRODUCTS with a GI name)
GI_PRODUCTS = (
    *ZHONGNING_GOJI,
    *HELAN,
    "盐池滩羊 羊排",
    "盐池滩羊 羊腿",
    "滩羊 羊肉卷",
    "固原黄牛 牛腱子",
    "固原黄牛 牛腩",
    "西吉马铃薯 精选",
    "西吉马铃薯 粉条",
)
# Products sold as a gift box: in the name, or a （礼盒） variant (every third demo product)
GIFT_BOXES = (
    "黄花菜 礼盒",
    "六盘山 干花礼盒",
    "中宁枸杞 特级头茬干果",
    "黑枸杞 精选",
    "枸杞蜂蜜",
    "蛇龙珠 干红葡萄酒",
    "盐池滩羊 羊排",
    "滩羊 羊蝎子",
    "六盘山 牛肉干",
    "马铃薯 全粉",
    "宁夏 纯牛奶",
    "六盘山 黄芪",
    "彭阳 荞麦面",
    "闽宁镇 双孢菇",
    "闽宁 有机菜心",
    "枸杞 芽菜",
    "葡萄籽油",
)
GOJI_GIFTS = ("中宁枸杞 特级头茬干果", "黑枸杞 精选", "枸杞蜂蜜", "枸杞 芽菜")
NOTHING: tuple[str, ...] = ()  # nonsense: right only when nothing is found


@dataclass(frozen=True)
class Judged:
    query: str
    relevant: tuple[str, ...]
    # chinese, pinyin, initials, partial, mixed, filtered; everyday, regional, traditional,
    # english, typo, pinyin-spaced (spaced / toned / numbered), county (county + product),
    # gi-packaging, nonsense
    kind: str
    filters: dict[str, Any] = field(default_factory=dict)


JUDGED: tuple[Judged, ...] = (
    # Chinese words
    Judged("枸杞", GOJI, "chinese"),
    Judged("中宁枸杞", ZHONGNING_GOJI, "chinese"),
    Judged("黑枸杞", ("黑枸杞 精选",), "chinese"),
    Judged("枸杞原浆", ("枸杞原浆",), "chinese"),
    Judged("葡萄酒", WINE, "chinese"),
    Judged(
        "干红", ("贺兰山东麓 赤霞珠干红葡萄酒", "蛇龙珠 干红葡萄酒", "美乐 干红葡萄酒"), "chinese"
    ),
    Judged("贺兰山东麓葡萄酒", HELAN, "chinese"),
    Judged("滩羊", TAN_SHEEP, "chinese"),
    Judged("盐池滩羊", TAN_SHEEP, "chinese"),
    Judged("宁夏 滩羊", TAN_SHEEP, "chinese"),
    Judged("黄牛", ("固原黄牛 牛腱子", "固原黄牛 牛腩", "黄牛 肉丸"), "chinese"),
    Judged("固原黄牛", ("固原黄牛 牛腱子", "固原黄牛 牛腩", "黄牛 肉丸"), "chinese"),
    Judged("牛肉", BEEF, "chinese"),
    Judged("马铃薯", POTATO, "chinese"),
    Judged("黄花菜", DAYLILY, "chinese"),
    Judged("红寺堡", (*DAYLILY, "红寺堡 番茄"), "chinese"),
    Judged("牛奶", ("宁夏 纯牛奶",), "chinese"),
    Judged("乳品", DAIRY, "chinese"),
    Judged("蜂蜜", ("枸杞蜂蜜", "六盘山 蜂蜜"), "chinese"),
    Judged("六盘山", ("六盘山 牛肉干", "六盘山 黄芪", "六盘山 蜂蜜", "六盘山 干花礼盒"), "chinese"),
    Judged("小米", ("彭阳 小米",), "chinese"),
    Judged("杂粮", GRAINS, "chinese"),
    Judged("香菇", ("闽宁镇 香菇干",), "chinese"),
    Judged("闽宁", (*MUSHROOMS, "闽宁 有机菜心"), "chinese"),
    Judged("酸奶", ("酸奶 原味",), "chinese"),
    # pinyin (full, and unfinished)
    Judged("gouqi", GOJI, "pinyin"),
    Judged("zhongninggouqi", ZHONGNING_GOJI, "pinyin"),
    Judged("zhongn", ZHONGNING_GOJI, "pinyin"),
    Judged("tanyang", TAN_SHEEP, "pinyin"),
    Judged("helanshan", (*HELAN, "贺兰山东麓 白兰地"), "pinyin"),
    Judged("huanghuacai", DAYLILY, "pinyin"),
    Judged("putaoj", WINE, "pinyin"),
    Judged("malingshu", POTATO, "pinyin"),
    # initials
    Judged("gq", GOJI, "initials"),
    Judged("hgq", ("黑枸杞 精选",), "initials"),
    Judged("hlsdl", (*HELAN, "贺兰山东麓 白兰地"), "initials"),
    Judged("ycty", TAN_SHEEP, "initials"),
    Judged("mls", POTATO, "initials"),
    Judged("xjmls", ("西吉马铃薯 精选", "西吉马铃薯 粉条"), "initials"),
    # partial words and single characters
    Judged("枸", GOJI, "partial"),
    Judged("菇", MUSHROOMS, "partial"),
    Judged("黄花", DAYLILY, "partial"),
    Judged("葡萄", (*WINE, "葡萄籽油"), "partial"),
    Judged("羊肉", TAN_SHEEP, "partial"),
    # mixed Chinese and pinyin
    Judged("中宁 gouqi", GOJI, "mixed"),
    Judged("西吉 mls", ("西吉马铃薯 精选", "西吉马铃薯 粉条"), "mixed"),
    # with filters
    Judged("枸杞", ZHONGNING_GOJI, "filtered", {"gi": True}),
    Judged("葡萄酒", ("蛇龙珠 干红葡萄酒",), "filtered", {"price_bands": ["200-500"]}),
    Judged("滩羊", ("滩羊 羊蝎子", "滩羊 羊肉饺子"), "filtered", {"price_max": "200"}),
    Judged("茶", ("枸杞芽茶", "枸杞 叶茶"), "filtered", {"category": "goji"}),
    Judged("gq", GOJI, "filtered", {"county": "640521"}),
    Judged(
        "牛", ("固原黄牛 牛腱子", "固原黄牛 牛腩"), "filtered", {"gi": True, "category": "beef"}
    ),
    # everyday words
    Judged("土豆", POTATO, "everyday"),
    Judged("红酒", WINE, "everyday"),
    Judged("蘑菇", MUSHROOMS, "everyday"),
    Judged("枸杞子", GOJI, "everyday"),
    Judged("羊羔肉", TAN_SHEEP, "everyday"),
    Judged("西红柿", ("红寺堡 番茄",), "everyday"),
    Judged("金针菜", DAYLILY, "everyday"),
    Judged("北芪", ("六盘山 黄芪",), "everyday"),
    Judged("鲜奶", ("宁夏 纯牛奶",), "everyday"),
    Judged("红豆", ("红小豆",), "everyday"),
    Judged("芹菜", ("西吉 西芹",), "everyday"),
    Judged("菌菇", MUSHROOMS, "everyday"),
    Judged("羊排", ("盐池滩羊 羊排",), "everyday"),
    Judged("肉", (*TAN_SHEEP, *BEEF), "everyday"),
    Judged("酒", (*WINE, "贺兰山东麓 白兰地"), "everyday"),
    Judged("奶", DAIRY, "everyday"),
    Judged("粉丝", ("西吉马铃薯 粉条",), "everyday"),
    Judged("冬菇", ("闽宁镇 香菇干",), "everyday"),
    Judged("口蘑", ("闽宁镇 双孢菇",), "everyday"),
    Judged("红葡萄酒", REDS, "everyday"),
    Judged("酸牛奶", ("酸奶 原味",), "everyday"),
    Judged("乳粉", ("奶粉 全脂",), "everyday"),
    # regional names
    Judged("洋芋", POTATO, "regional"),
    Judged("山药蛋", POTATO, "regional"),
    Judged("地蛋", POTATO, "regional"),
    Judged("洋柿子", ("红寺堡 番茄",), "regional"),
    Judged("狗奶子", GOJI, "regional"),
    Judged("杞子", GOJI, "regional"),
    Judged("滩羊肉", TAN_SHEEP, "regional"),
    Judged("羊蝎子", ("滩羊 羊蝎子",), "regional"),
    Judged("莜麦", ("燕麦米",), "regional"),
    Judged("荞面", ("彭阳 荞麦面",), "regional"),
    Judged("解百纳", ("贺兰山东麓 赤霞珠干红葡萄酒",), "regional"),
    Judged("黄耆", ("六盘山 黄芪",), "regional"),
    Judged("萱草", DAYLILY, "regional"),
    # traditional characters
    Judged("灘羊", TAN_SHEEP, "traditional"),
    Judged("鹽池灘羊", TAN_SHEEP, "traditional"),
    Judged("寧夏 枸杞", GOJI, "traditional"),
    Judged("寧夏 灘羊", TAN_SHEEP, "traditional"),
    Judged("紅酒", WINE, "traditional"),
    Judged("乾紅", REDS, "traditional"),
    Judged("馬鈴薯", POTATO, "traditional"),
    Judged("黃花菜", DAYLILY, "traditional"),
    Judged("牛肉乾", ("六盘山 牛肉干",), "traditional"),
    Judged("雙孢菇", ("闽宁镇 双孢菇",), "traditional"),
    Judged("賀蘭山東麓", (*HELAN, "贺兰山东麓 白兰地"), "traditional"),
    Judged("中寧枸杞", ZHONGNING_GOJI, "traditional"),
    Judged("黃牛", ("固原黄牛 牛腱子", "固原黄牛 牛腩", "黄牛 肉丸"), "traditional"),
    Judged("羊肉捲", ("滩羊 羊肉卷",), "traditional"),
    Judged("純牛奶", ("宁夏 纯牛奶",), "traditional"),
    Judged("燕麥", ("燕麦米",), "traditional"),
    Judged("蘑菇", MUSHROOMS, "traditional"),
    # English
    Judged("goji", GOJI, "english"),
    Judged("wolfberry", GOJI, "english"),
    Judged("GOJI", GOJI, "english"),
    Judged("wine", WINE, "english"),
    Judged("red wine", REDS, "english"),
    Judged("lamb", TAN_SHEEP, "english"),
    Judged("mutton", TAN_SHEEP, "english"),
    Judged("beef", BEEF, "english"),
    Judged("milk", ("宁夏 纯牛奶",), "english"),
    Judged("potato", POTATO, "english"),
    Judged("mushroom", MUSHROOMS, "english"),
    Judged("honey", HONEY, "english"),
    Judged("yogurt", ("酸奶 原味",), "english"),
    Judged("millet", ("彭阳 小米",), "english"),
    Judged("tomato", ("红寺堡 番茄",), "english"),
    Judged("brandy", ("贺兰山东麓 白兰地",), "english"),
    Judged("daylily", DAYLILY, "english"),
    Judged("shiitake", ("闽宁镇 香菇干",), "english"),
    Judged("buckwheat", ("彭阳 荞麦面",), "english"),
    Judged("cabernet", ("贺兰山东麓 赤霞珠干红葡萄酒",), "english"),
    # typos (Chinese homophones and look-alikes, pinyin and English misspellings)
    Judged("枸祀", GOJI, "typo"),
    Judged("苟杞", GOJI, "typo"),
    Judged("葡萄洒", WINE, "typo"),
    Judged("gouji", GOJI, "typo"),
    Judged("malinshu", POTATO, "typo"),
    Judged("马玲薯", POTATO, "typo"),
    Judged("黄花才", DAYLILY, "typo"),
    Judged("滩洋", TAN_SHEEP, "typo"),
    Judged("贺兰山东路", (*HELAN, "贺兰山东麓 白兰地"), "typo"),
    Judged("中宁狗杞", ZHONGNING_GOJI, "typo"),
    Judged("盐池摊羊", TAN_SHEEP, "typo"),
    Judged("putaojou", WINE, "typo"),
    Judged("huanghuacia", DAYLILY, "typo"),
    Judged("香姑", ("闽宁镇 香菇干",), "typo"),
    Judged("西吉马铃暑", ("西吉马铃薯 精选", "西吉马铃薯 粉条"), "typo"),
    Judged("杏包菇", ("杏鲍菇",), "typo"),
    Judged("枸杞蜂密", ("枸杞蜂蜜",), "typo"),
    Judged("gojii", GOJI, "typo"),
    Judged("wolfbery", GOJI, "typo"),
    Judged("黑狗杞", ("黑枸杞 精选",), "typo"),
    # spaced, toned and tone-numbered pinyin
    Judged("gou qi", GOJI, "pinyin-spaced"),
    Judged("gǒuqǐ", GOJI, "pinyin-spaced"),
    Judged("gou3qi3", GOJI, "pinyin-spaced"),
    Judged("gou3 qi3", GOJI, "pinyin-spaced"),
    Judged("pu tao jiu", WINE, "pinyin-spaced"),
    Judged("pútáojiǔ", WINE, "pinyin-spaced"),
    Judged("tan yang", TAN_SHEEP, "pinyin-spaced"),
    Judged("tān yáng", TAN_SHEEP, "pinyin-spaced"),
    Judged("ma ling shu", POTATO, "pinyin-spaced"),
    Judged("huang hua cai", DAYLILY, "pinyin-spaced"),
    Judged("zhong ning gou qi", ZHONGNING_GOJI, "pinyin-spaced"),
    Judged("xiang gu", ("闽宁镇 香菇干",), "pinyin-spaced"),
    Judged("niu rou", BEEF, "pinyin-spaced"),
    Judged("tudou", POTATO, "pinyin-spaced"),
    Judged("yangrou", TAN_SHEEP, "pinyin-spaced"),
    # county + product
    Judged("西吉 土豆", POTATO, "county"),
    Judged("西吉 洋芋", POTATO, "county"),
    Judged("贺兰山 红酒", HELAN, "county"),
    Judged("中宁 枸杞子", ZHONGNING_GOJI, "county"),
    Judged("盐池 羊肉", TAN_SHEEP, "county"),
    Judged("固原 牛肉", BEEF, "county"),
    Judged("彭阳 杂粮", GRAINS, "county"),
    Judged("闽宁 蘑菇", MUSHROOMS, "county"),
    Judged("红寺堡 金针菜", DAYLILY, "county"),
    Judged("灵武 牛奶", ("宁夏 纯牛奶",), "county"),
    Judged("泾源 蜂蜜", ("六盘山 蜂蜜",), "county"),
    Judged("六盘山 牛肉", ("六盘山 牛肉干",), "county"),
    Judged("中卫 枸杞", GOJI, "county"),
    Judged("吴忠 黄花菜", DAYLILY, "county"),
    Judged("盐池 lamb", TAN_SHEEP, "county"),
    Judged("宁夏 红酒", WINE, "county"),
    # GI and packaging phrases
    Judged("地理标志", GI_PRODUCTS, "gi-packaging"),
    Judged("国家地理标志", GI_PRODUCTS, "gi-packaging"),
    Judged("地标产品", GI_PRODUCTS, "gi-packaging"),
    Judged("地理标志 枸杞", ZHONGNING_GOJI, "gi-packaging"),
    Judged("地理标志 滩羊", ("盐池滩羊 羊排", "盐池滩羊 羊腿", "滩羊 羊肉卷"), "gi-packaging"),
    Judged("礼盒", GIFT_BOXES, "gi-packaging"),
    Judged("礼品", GIFT_BOXES, "gi-packaging"),
    Judged("枸杞 礼盒", GOJI_GIFTS, "gi-packaging"),
    Judged("黄花菜 礼盒", ("黄花菜 礼盒",), "gi-packaging"),
    Judged("750ml", WINE, "gi-packaging"),
    Judged("2kg 羊排", ("盐池滩羊 羊排",), "gi-packaging"),
    # nonsense: nothing in this catalog
    Judged("手机", NOTHING, "nonsense"),
    Judged("iphone", NOTHING, "nonsense"),
    Judged("海鲜", NOTHING, "nonsense"),
    Judged("电脑", NOTHING, "nonsense"),
    Judged("笔记本电脑", NOTHING, "nonsense"),
    Judged("大闸蟹", NOTHING, "nonsense"),
    Judged("榴莲", NOTHING, "nonsense"),
    Judged("汽车", NOTHING, "nonsense"),
    Judged("laptop", NOTHING, "nonsense"),
    Judged("三文鱼", NOTHING, "nonsense"),
    Judged("口红", NOTHING, "nonsense"),
    Judged("洗发水", NOTHING, "nonsense"),
    Judged("猪肉", NOTHING, "nonsense"),
    Judged("苹果手机", NOTHING, "nonsense"),
    # second round, judged from the catalog before running them
    Judged("干枸杞", GOJI, "everyday"),
    Judged("枸杞茶", ("枸杞芽茶", "枸杞 叶茶"), "everyday"),
    Judged("牛肉丸", ("黄牛 肉丸",), "everyday"),
    Judged("风干牛肉", ("六盘山 牛肉干",), "everyday"),
    Judged("涮羊肉", ("滩羊 羊肉卷",), "everyday"),
    Judged("水饺", ("滩羊 羊肉饺子",), "everyday"),
    Judged("土豆片", ("马铃薯 薯片",), "everyday"),
    Judged("牛乳", ("宁夏 纯牛奶",), "everyday"),
    Judged("蜂糖", HONEY, "regional"),
    Judged("梅洛", ("美乐 干红葡萄酒",), "regional"),
    Judged("莎当妮", ("贺兰山东麓 霞多丽干白葡萄酒",), "regional"),
    Judged("扁食", ("滩羊 羊肉饺子",), "regional"),
    Judged("荷兰薯", POTATO, "regional"),
    Judged("牛展", ("固原黄牛 牛腱子",), "regional"),
    Judged("枸杞头", ("枸杞 芽菜",), "regional"),
    Judged("lamb chops", ("盐池滩羊 羊排",), "english"),
    Judged("beef jerky", ("六盘山 牛肉干",), "english"),
    Judged("dumplings", ("滩羊 羊肉饺子",), "english"),
    Judged("potato chips", ("马铃薯 薯片",), "english"),
    Judged("milk powder", ("奶粉 全脂",), "english"),
    Judged("red beans", ("红小豆",), "english"),
    Judged("grape seed oil", ("葡萄籽油",), "english"),
    Judged("羊芋", POTATO, "typo"),
    Judged("potatoe", POTATO, "typo"),
    Judged("mushrom", MUSHROOMS, "typo"),
    Judged("牛健子", ("固原黄牛 牛腱子",), "typo"),
    Judged("tan yang rou", TAN_SHEEP, "pinyin-spaced"),
    Judged("xi ji ma ling shu", ("西吉马铃薯 精选", "西吉马铃薯 粉条"), "pinyin-spaced"),
    Judged("盐池 羊排", ("盐池滩羊 羊排",), "county"),
    Judged("彭阳 荞面", ("彭阳 荞麦面",), "county"),
    Judged("闽宁 香菇", ("闽宁镇 香菇干",), "county"),
    Judged("礼盒装", GIFT_BOXES, "gi-packaging"),
    Judged("地标 羊肉", ("盐池滩羊 羊排", "盐池滩羊 羊腿", "滩羊 羊肉卷"), "gi-packaging"),
    Judged("咖啡", NOTHING, "nonsense"),
    Judged("大米", NOTHING, "nonsense"),
    Judged("苹果", NOTHING, "nonsense"),
    Judged("矿泉水", NOTHING, "nonsense"),
)


def _filters(spec: dict[str, Any]) -> SearchFilters:
    values: dict[str, Any] = {}
    if "category" in spec:
        values["categories"] = (Category.objects.get(slug=spec["category"]).pk,)
    if "county" in spec:
        values["counties"] = (County.objects.get(code=spec["county"]).pk,)
    if "gi" in spec:
        values["gi"] = spec["gi"]
    if "price_bands" in spec:
        values["price_bands"] = tuple(spec["price_bands"])
    if "price_max" in spec:
        values["price_max"] = Decimal(spec["price_max"])
    return SearchFilters(**values)


@dataclass
class QueryScore:
    judged: Judged
    precision_at_5: float
    reciprocal_rank: float
    recall_at_10: float
    top: list[str]
    corrected_query: str | None = None
    partial: bool = False


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


@dataclass
class RelevanceReport:
    backend: str
    scores: list[QueryScore]

    @property
    def precision_at_5(self) -> float:
        return _mean([s.precision_at_5 for s in self.scores])

    @property
    def mrr(self) -> float:
        return _mean([s.reciprocal_rank for s in self.scores])

    @property
    def recall_at_10(self) -> float:
        return _mean([s.recall_at_10 for s in self.scores])

    def by_kind(self) -> dict[str, tuple[float, float, float, int]]:
        """kind -> (precision@5, MRR, recall@10, number of queries)."""
        kinds: dict[str, list[QueryScore]] = {}
        for score in self.scores:
            kinds.setdefault(score.judged.kind, []).append(score)
        return {
            kind: (
                _mean([s.precision_at_5 for s in items]),
                _mean([s.reciprocal_rank for s in items]),
                _mean([s.recall_at_10 for s in items]),
                len(items),
            )
            for kind, items in kinds.items()
        }


class EngineDidNotAnswer(RuntimeError):
    pass


def score_query(item: Judged, top: list[str]) -> tuple[float, float, float]:
    """(precision@5, reciprocal rank, recall@10); a nonsense query scores 1 only when empty."""
    if not item.relevant:
        right = 0.0 if top else 1.0
        return right, right, right
    relevant = set(item.relevant)
    hits_at_5 = sum(1 for name in top[:5] if name in relevant)
    rank = next((i for i, name in enumerate(top, start=1) if name in relevant), None)
    hits_at_10 = sum(1 for name in top[:10] if name in relevant)
    return (
        hits_at_5 / min(5, len(relevant)),
        1 / rank if rank else 0.0,
        hits_at_10 / min(10, len(relevant)),
    )


def evaluate(backend: SearchBackend, judged: tuple[Judged, ...] = JUDGED) -> RelevanceReport:
    """Run every judged query on `backend` (over the demo catalog, already indexed)."""
    names = dict(Product.objects.values_list("pk", "name"))
    known = set(names.values())
    scores = []
    for item in judged:
        missing = set(item.relevant) - known
        if missing:
            raise LookupError(f"judged products not in the catalog (load the demo): {missing}")
        results = backend.search(
            SearchRequest(text=item.query, filters=_filters(item.filters), limit=10, facets=False)
        )
        if results.fallback:
            raise EngineDidNotAnswer(f"{backend.name} fell back to the database")
        top = [names[pk] for pk in results.ids]
        precision, reciprocal, recall = score_query(item, top)
        scores.append(
            QueryScore(
                judged=item,
                precision_at_5=precision,
                reciprocal_rank=reciprocal,
                recall_at_10=recall,
                top=top,
                corrected_query=results.corrected_query,
                partial=results.partial,
            )
        )
    return RelevanceReport(backend=backend.name, scores=scores)
