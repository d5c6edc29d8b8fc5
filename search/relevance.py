"""A fixed relevance set over the demo catalog (`catalog/demo.py`), and its figures.

Each judged query lists the products a buyer expects (by demo name); a backend is scored by
precision@5 (relevant hits among the first five, divided by min(5, number relevant), so a query
with two right answers can still score 1.0) and the reciprocal rank of the first relevant hit
(MRR over all queries). `manage.py search_relevance` prints both per backend;
tests/search/test_relevance.py keeps floors under them.

Judgements are what a shopper would want, not what a backend happens to return: synonyms
(土豆 for 马铃薯) and typos are not handled and are left out rather than judged as misses.
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


@dataclass(frozen=True)
class Judged:
    query: str
    relevant: tuple[str, ...]
    kind: str  # chinese, pinyin, initials, partial, mixed, filtered
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
    Judged("羊肉", ("滩羊 羊肉卷", "滩羊 羊肉饺子"), "partial"),
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
    top: list[str]


@dataclass
class RelevanceReport:
    backend: str
    scores: list[QueryScore]

    @property
    def precision_at_5(self) -> float:
        return sum(s.precision_at_5 for s in self.scores) / len(self.scores)

    @property
    def mrr(self) -> float:
        return sum(s.reciprocal_rank for s in self.scores) / len(self.scores)

    def by_kind(self) -> dict[str, tuple[float, float, int]]:
        kinds: dict[str, list[QueryScore]] = {}
        for score in self.scores:
            kinds.setdefault(score.judged.kind, []).append(score)
        return {
            kind: (
                sum(s.precision_at_5 for s in items) / len(items),
                sum(s.reciprocal_rank for s in items) / len(items),
                len(items),
            )
            for kind, items in kinds.items()
        }


class EngineDidNotAnswer(RuntimeError):
    pass


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
        relevant = set(item.relevant)
        hits_at_5 = sum(1 for name in top[:5] if name in relevant)
        rank = next((i for i, name in enumerate(top, start=1) if name in relevant), None)
        scores.append(
            QueryScore(
                judged=item,
                precision_at_5=hits_at_5 / min(5, len(relevant)),
                reciprocal_rank=1 / rank if rank else 0.0,
                top=top,
            )
        )
    return RelevanceReport(backend=backend.name, scores=scores)
