"""Production server configuration: `gunicorn -c gunicorn.conf.py shop.wsgi`.

Measured with bench/payments_concurrency.py (figures in bench/RESULTS-payments.md). Every value
can be overridden from the environment (GUNICORN_BIND, GUNICORN_WORKERS, GUNICORN_THREADS,
GUNICORN_TIMEOUT) or on the command line.

- Threaded workers (`gthread`): a request waiting on the network (the payment gateway, the
  search engine) holds a thread, not a whole process, so slow gateway answers cannot occupy
  every worker while cheap requests queue behind them.
- No database transaction is open while the gateway is called (procurement/services/payments.py),
  so a waiting thread holds no lock either.
- The bundled Stripe mock must not be served by these workers: the app calling itself could wait
  for a free worker that only its own call would free. In production the mock is off (real
  Stripe); where it is on, serve it from a process of its own (`make serve` does; so does the
  benchmark) and point STRIPE_API_BASE at it.
- SITE_URL (where the gateway mock and its webhooks find the app) follows the bind address
  unless it is set.
- The master sets Django up, opens the search dictionaries (memory-mapped files, ~3 MB, see
  shop/core/lexicon.py) and imports the URLconf and GraphQL schema before it forks the workers
  (`when_ready`, which runs after `on_starting` has settled SITE_URL: gunicorn's `preload_app`
  would load the settings before that), then tells the collector to leave those objects alone
  (`gc.freeze()`). The workers inherit them and share the pages instead of each building its
  own copy on its first request (bench/worker_memory.py; figures in bench/RESULTS-read-path.md).
  As with preloading, a code change then needs a restart, not a HUP. GUNICORN_PRELOAD=false
  turns it off.
"""

import gc
import multiprocessing
import os
import shutil
import tempfile

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Two processes per core, plus one: the usual starting point; threads add concurrency for I/O.
workers = int(os.environ.get("GUNICORN_WORKERS", str(multiprocessing.cpu_count() * 2 + 1)))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# A request that takes longer is a bug (gateway and search calls have their own, shorter
# timeouts); the worker is restarted rather than left hanging.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so that a slow leak cannot grow without bound.
max_requests = 2000
max_requests_jitter = 200
_warm_master = os.environ.get("GUNICORN_PRELOAD", "true").lower() not in ("0", "false", "no")
# The control socket (gunicorn 27) would be created under ~/.gunicorn; not needed in production.
control_socket_disable = True
# The app logs one line per request itself (shanhai.requests: request id, operation, role,
# duration, queries, outcome; docs/operations.md). Gunicorn's access log would repeat it with
# the query string, where a GET's variables may hold personal data: off unless asked for.
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
errorlog = "-"

# Prometheus multiprocess mode (shop/core/metrics.py): every worker writes its samples to files
# in this folder and a scrape of any worker sums them. It must be set before a worker imports
# prometheus_client, so here, in the master; without one given, a fresh private folder.
_OWN_METRICS_DIR = ""
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _OWN_METRICS_DIR = tempfile.mkdtemp(prefix="shanhai-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _OWN_METRICS_DIR


def on_starting(server) -> None:
    """SITE_URL follows the address actually bound (config, environment or command line),
    unless it is set. The master runs this before any worker loads the app.

    The metrics folder is emptied: files of a previous run's workers would be summed in."""
    _empty_metrics_folder(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    address = server.cfg.bind[0] if server.cfg.bind else ""
    if "SITE_URL" in os.environ or not address or address.startswith(("unix:", "fd://")):
        return
    host, _, port = address.rpartition(":")
    if host in ("", "0.0.0.0", "[::]"):  # noqa: S104 - reading the bind address, not binding
        host = "127.0.0.1"
    os.environ["SITE_URL"] = f"http://{host}:{port}"


def _empty_metrics_folder(folder: str) -> None:
    # only prometheus_client's own files (`<kind>_<pid>.db`): the folder may be shared
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        if name.endswith(".db"):
            os.remove(os.path.join(folder, name))


def child_exit(server, worker) -> None:
    """A worker that exited (recycled after max_requests, or crashed): its live gauges are
    dropped; its counters and histograms stay in the sums, as Prometheus expects."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    """The folder made above goes with the server; a folder that was given stays."""
    if _OWN_METRICS_DIR:
        shutil.rmtree(_OWN_METRICS_DIR, ignore_errors=True)


def when_ready(server) -> None:
    """Before the first fork, after on_starting: load in the master what every worker needs,
    and freeze it so no worker's collector writes to (and so copies) those pages. The workers'
    own `shop.wsgi` import then finds Django set up and these modules loaded."""
    if not _warm_master:
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
    import django

    django.setup()
    from django.db import connections
    from django.urls import get_resolver

    from search.text import warm_up

    warm_up()
    get_resolver().url_patterns  # noqa: B018 - importing the URLconf and schema is the point
    connections.close_all()  # a connection opened here must not be shared by the workers
    gc.freeze()
