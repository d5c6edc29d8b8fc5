"""Search's figures for /metrics, read from the database at each scrape (registered with
shop/core/metrics.py by the search app)."""

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from search import metrics as search_metrics
from search.health import outbox_state
from search.models import SearchOutbox


def search_figures() -> Iterator[Metric]:
    counters = search_metrics.snapshot()
    for name, help_text in (
        (
            search_metrics.FALLBACKS,
            "Searches the engine could not answer, answered from "
            "the database instead (all processes, since the database was created).",
        ),
        (search_metrics.INDEX_FAILURES, "Outbox batches the engine refused or could not take."),
    ):
        counter = CounterMetricFamily(f"shanhai_{name}", help_text)
        counter.add_metric([], counters[name]["value"])
        yield counter

    depth, age = outbox_state()
    yield GaugeMetricFamily(
        "shanhai_search_outbox_depth", "Index updates waiting in the outbox.", value=depth
    )
    yield GaugeMetricFamily(
        "shanhai_search_outbox_failing",
        "Outbox rows the engine refused at least once.",
        value=SearchOutbox.objects.filter(attempts__gt=0).count(),
    )
    yield GaugeMetricFamily(
        "shanhai_search_outbox_oldest_age_seconds",
        "How long the oldest waiting index update has waited (0 when none).",
        value=age,
    )
