"""The judged relevance set (search/relevance.py) over the demo catalog, on every backend, with
floors under precision@5 and MRR; and the `search_relevance` command."""

import pytest
from django.core.management import call_command

from catalog import demo
from search.backends import get_search_backend
from search.relevance import JUDGED, evaluate

# Floors a little under what each backend scores today (see docs/decisions.md, Search), overall
# and for every kind of query (precision@5, MRR).
FLOORS = {"database": (0.95, 0.97), "opensearch": (0.95, 0.97)}
KIND_FLOOR = (0.85, 0.90)
KINDS = {
    "everyday",
    "regional",
    "traditional",
    "english",
    "typo",
    "pinyin-spaced",
    "county",
    "gi-packaging",
    "nonsense",
}


@pytest.fixture
def demo_catalog(backend_name):
    demo.load(lambda items, description: items, store_images=False)
    get_search_backend().rebuild()


def test_the_judged_set_is_big_and_varied():
    assert len(JUDGED) >= 150
    assert {item.kind for item in JUDGED} >= KINDS | {
        "chinese",
        "pinyin",
        "initials",
        "partial",
        "mixed",
        "filtered",
    }


def test_relevance_floor(demo_catalog, backend_name):
    report = evaluate(get_search_backend())
    misses = "\n".join(
        f"  {s.judged.query} {s.judged.filters or ''}: P@5 {s.precision_at_5:.2f} "
        f"RR {s.reciprocal_rank:.2f} {s.top[:5]}"
        for s in report.scores
        if s.precision_at_5 < 1 or s.reciprocal_rank < 1
    )
    figures = (
        f"{backend_name}: precision@5 {report.precision_at_5:.3f}, MRR {report.mrr:.3f}\n{misses}"
    )
    precision_floor, mrr_floor = FLOORS[backend_name]
    assert report.precision_at_5 >= precision_floor, figures
    assert report.mrr >= mrr_floor, figures
    for kind, (precision, mrr, _recall, _n) in report.by_kind().items():
        assert precision >= KIND_FLOOR[0], f"{kind}\n{figures}"
        assert mrr >= KIND_FLOOR[1], f"{kind}\n{figures}"
    # nonsense finds nothing at all (not even a partial or corrected page)
    assert all(not s.top for s in report.scores if s.judged.kind == "nonsense"), figures
    # the done-when queries: goji first on every backend
    for score in report.scores:
        if score.judged.query in ("枸杞", "中宁枸杞", "gouqi", "gq") and not score.judged.filters:
            assert score.reciprocal_rank == 1.0, figures


@pytest.mark.smoke
def test_relevance_command_prints_figures(db, settings, capsys):
    settings.SEARCH_BACKEND = "database"
    demo.load(lambda items, description: items, store_images=False)
    call_command("search_relevance", "--reindex", "--queries")
    out = capsys.readouterr().out
    assert "precision@5" in out
    assert "MRR" in out
    assert "database" in out
