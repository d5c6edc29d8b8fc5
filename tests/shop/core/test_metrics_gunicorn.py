"""/metrics under a real gunicorn with two workers (gunicorn.conf.py: multiprocess mode and
its child_exit hook): whichever worker answers a scrape reports every worker's requests, and a
worker that exits keeps its counts in the sums. Also /readyz and the JSON request log there."""

import json
import os
import re
import signal
import time
from pathlib import Path

import pytest
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

from bench.common import GunicornServer, http_request, post_graphql, production_env

# Committed data, so that the server's workers see it; serialized like the other committing
# tests, so that the flush after this one cannot clash with the next one's restored rows.
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

TOKEN = "gunicorn-scrape-token-0123456789"
QUERY = "query Ping { __typename }"


def database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


def ping_count(port: int) -> float:
    _, status, body = http_request(
        port, "GET", "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert status == 200, body[:300]
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if (
                sample.name == "shanhai_graphql_requests_total"
                and sample.labels.get("operation_name") == "Ping"
            ):
                return sample.value
    return 0.0


def pids_with_samples(folder: Path) -> set[int]:
    return {int(m.group(1)) for p in folder.iterdir() if (m := re.search(r"_(\d+)\.db$", p.name))}


@pytest.fixture
def server(tmp_path):
    metrics_dir = tmp_path / "metrics"
    env = production_env(
        database_url(),
        METRICS_TOKEN=TOKEN,
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        GUNICORN_THREADS="2",
    )
    gunicorn = GunicornServer(env=env, workdir=tmp_path, workers=2)
    with gunicorn:
        yield gunicorn, metrics_dir


def test_every_worker_reports_the_sum_and_an_exited_worker_keeps_its_counts(server):
    gunicorn, metrics_dir = server
    sent = 0
    # Fresh connections are spread over the workers by the kernel; keep going until both
    # have answered at least one (in practice a handful of requests).
    while len(pids_with_samples(metrics_dir) & set(gunicorn.worker_pids())) < 2 and sent < 300:
        _, status, payload = post_graphql(gunicorn.port, QUERY)
        assert status == 200, payload
        sent += 1
    workers = pids_with_samples(metrics_dir) & set(gunicorn.worker_pids())
    assert len(workers) == 2, gunicorn.log_tail()
    # several scrapes: whichever worker answers, the total is every worker's requests
    assert {ping_count(gunicorn.port) for _ in range(6)} == {sent}

    gone = min(workers)
    os.kill(gone, signal.SIGTERM)  # the master replaces it and runs child_exit
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pids = gunicorn.worker_pids()
        if gone not in pids and len(pids) == 2:
            break
        time.sleep(0.2)
    assert gone not in gunicorn.worker_pids()
    post_graphql(gunicorn.port, QUERY)
    assert {ping_count(gunicorn.port) for _ in range(6)} == {sent + 1}


def test_readyz_and_json_request_lines_under_gunicorn(server):
    gunicorn, _ = server
    _, status, body = http_request(gunicorn.port, "GET", "/readyz")
    assert status == 200, body
    assert json.loads(body)["status"] in ("ok", "degraded")
    _, status, _ = http_request(gunicorn.port, "GET", "/healthz")
    assert status == 200
    post_graphql(gunicorn.port, QUERY)
    lines = [
        json.loads(line)
        for line in gunicorn.log_tail(100_000).splitlines()
        if line.startswith("{") and '"shanhai.requests"' in line
    ]
    # probes are not logged; the GET the harness waits with is; gunicorn's access log is off
    assert [line["path"] for line in lines] == ["/graphql/", "/graphql/"]
    assert [line["method"] for line in lines] == ["GET", "POST"]
    ping = lines[-1]
    assert (ping["operation_name"], ping["status"], ping["outcome"]) == ("Ping", 200, "ok")
    assert re.fullmatch(r"[0-9a-f]{32}", ping["request_id"])
    assert "GET /healthz" not in gunicorn.log_tail(100_000)
