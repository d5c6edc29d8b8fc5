"""pytest plugin: a real OpenSearch node for the search-engine tests, started only when needed.

Loaded with `-p tests.searchengine`. The session fixture `opensearch_url` uses `OPENSEARCH_URL`
when it is set; otherwise, the first time a test asks for it, it starts a single OpenSearch 2.19
node with `search/opensearch_node/start.sh` in a temporary folder on a free port (the first run
on a machine downloads ~75 MB of jars into ~/.m2; a warm start takes ~8 s) and stops it with
`stop.sh` when the session ends. Maven/Java output goes to files and is shown only on failure.
If the node cannot start the requesting tests fail (never skip) with the log tail.

`opensearch_client` is an `elasticsearch.Elasticsearch` client for that node, through the
OpenSearch adapter when the server is OpenSearch.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).resolve().parent.parent / "search" / "opensearch_node"
START_TIMEOUT = int(os.environ.get("OPENSEARCH_START_TIMEOUT", "900"))  # incl. a cold Maven fetch

_node: dict = {}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, chars: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def start_opensearch() -> str:
    """Start a node in a fresh temporary folder; returns its URL. Raises RuntimeError on failure."""
    for tool in ("java", "mvn", "curl"):
        if not shutil.which(tool) and not (tool == "java" and os.environ.get("JAVA_HOME")):
            raise RuntimeError(
                f"`{tool}` is not installed: the OpenSearch test node needs Java 17, Maven and "
                "curl (or set OPENSEARCH_URL to a running node)"
            )
    root = Path(tempfile.mkdtemp(prefix="shanhai-opensearch-"))
    failures = []
    for _attempt in range(2):  # a second free port if another process took the first one
        port = _free_port()
        began = time.monotonic()
        try:
            started = subprocess.run(
                [str(NODE_DIR / "start.sh"), str(root), str(port)],
                capture_output=True,
                text=True,
                timeout=START_TIMEOUT,
                env={**os.environ, "START_TIMEOUT": os.environ.get("START_TIMEOUT", "180")},
            )
        except subprocess.TimeoutExpired as exc:
            _stop(root)
            output = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else exc.stdout
            failures.append(f"start.sh timed out after {START_TIMEOUT}s\n{output or ''}")
            break
        if started.returncode == 0:
            _node.update(
                root=root, url=f"http://127.0.0.1:{port}", seconds=time.monotonic() - began
            )
            return _node["url"]
        failures.append(
            f"start.sh exited {started.returncode}\n{started.stdout}\n{started.stderr}".strip()
        )
        if "already in use" not in started.stderr:
            break
    # start.sh prints the log tail itself when the JVM started and died; add it otherwise.
    log_tail = "" if "last lines of" in failures[-1] else _tail(root / "opensearch.log")
    shutil.rmtree(root, ignore_errors=True)
    raise RuntimeError(
        "OpenSearch test node did not start:\n"
        + "\n---\n".join(failures)
        + (f"\n---- opensearch.log (tail) ----\n{log_tail}" if log_tail else "")
    )


def _stop(root: Path) -> None:
    subprocess.run(
        [str(NODE_DIR / "stop.sh"), str(root)], capture_output=True, text=True, timeout=90
    )


def stop_opensearch() -> None:
    if not _node:
        return
    try:
        _stop(_node["root"])
    finally:
        shutil.rmtree(_node["root"], ignore_errors=True)
        _node.clear()


@pytest.fixture(scope="session")
def opensearch_url():
    """URL of a running OpenSearch (or Elasticsearch, via OPENSEARCH_URL) without a trailing /."""
    configured = os.environ.get("OPENSEARCH_URL")
    if configured:
        yield configured.rstrip("/")
        return
    problem = None
    try:
        url = start_opensearch()
    except RuntimeError as exc:
        problem = str(exc)
    if problem:
        pytest.fail(problem, pytrace=False)
    try:
        yield url
    finally:
        stop_opensearch()


@pytest.fixture(scope="session")
def opensearch_is_opensearch(opensearch_url) -> bool:
    from search.opensearch import detect_opensearch

    return detect_opensearch(opensearch_url)


@pytest.fixture(scope="session")
def opensearch_client(opensearch_url, opensearch_is_opensearch):
    from search.opensearch import make_client

    client = make_client(opensearch_url, opensearch=opensearch_is_opensearch, request_timeout=30)
    yield client
    client.close()


def pytest_unconfigure(config):
    stop_opensearch()  # in case the session ended without fixture teardown
