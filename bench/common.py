"""Shared machinery for benchmarks: a throw-away PostgreSQL, a gunicorn server on loopback,
timed HTTP POSTs, percentiles, peak RSS, and server-side statement counting.

Everything here is bounded and cleans up after itself: servers listen on 127.0.0.1 only,
gunicorn runs in its own session so that stopping it stops its workers, and temporary folders
are removed. Use the classes as context managers (or call `stop()` in a `finally`) and call
`exit_on_sigterm()` once so that SIGTERM unwinds through those `finally` blocks like Ctrl-C.
"""

import argparse
import http.client
import json
import logging
import math
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"

# --- Process hygiene --------------------------------------------------------------------------


def exit_on_sigterm() -> None:
    """Turn SIGTERM (and SIGHUP) into SystemExit so that `finally` blocks clean up."""

    def _raise(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _raise)
    signal.signal(signal.SIGHUP, _raise)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def machine_summary() -> str:
    """CPUs, kernel, Python and the 1-minute load average (other work on the machine skews
    every figure; compare runs only at a similar, low load)."""
    load = os.getloadavg()[0]
    return (
        f"{os.cpu_count()} CPUs, Linux {platform.release()}, Python {platform.python_version()}, "
        f"load {load:.2f}"
    )


# --- Statistics -------------------------------------------------------------------------------


def percentile(values: Iterable[float], pct: float) -> float:
    """The pct-th percentile with linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of no values")
    rank = (len(ordered) - 1) * pct / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class LatencySummary:
    count: int
    p50: float
    p95: float
    p99: float
    max: float
    mean: float
    per_second: float  # requests per second over the wall time of the run

    @classmethod
    def of(cls, seconds: list[float], wall_seconds: float) -> "LatencySummary":
        ms = [s * 1000 for s in seconds]
        return cls(
            count=len(ms),
            p50=percentile(ms, 50),
            p95=percentile(ms, 95),
            p99=percentile(ms, 99),
            max=max(ms),
            mean=sum(ms) / len(ms),
            per_second=len(ms) / wall_seconds if wall_seconds > 0 else float("nan"),
        )

    def line(self) -> str:
        return (
            f"p50 {self.p50:.1f} ms  p95 {self.p95:.1f} ms  p99 {self.p99:.1f} ms  "
            f"max {self.max:.1f} ms  mean {self.mean:.1f} ms  ({self.count} requests)"
        )


# --- /proc ------------------------------------------------------------------------------------


def proc_status_kib(pid: int, field: str) -> int | None:
    """A `kB` field of /proc/<pid>/status, e.g. VmHWM (peak RSS) or VmRSS."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else None


def smaps_rollup_kib(pid: int) -> dict[str, int]:
    fields: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return fields
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == "kB":
            fields[parts[0].rstrip(":")] = int(parts[1])
    return fields


def proc_memory_mib(pid: int) -> dict[str, float]:
    """RSS, PSS, USS (private clean + dirty) and peak RSS (VmHWM) of a process, in MiB."""
    rollup = smaps_rollup_kib(pid)
    mib = 1024
    return {
        "rss": rollup.get("Rss", 0) / mib,
        "pss": rollup.get("Pss", 0) / mib,
        "uss": (rollup.get("Private_Clean", 0) + rollup.get("Private_Dirty", 0)) / mib,
        "hwm": (proc_status_kib(pid, "VmHWM") or 0) / mib,
    }


def proc_cpu_seconds(pid: int, *, children: bool = False) -> float | None:
    """User + system CPU time of a process from /proc/<pid>/stat; with `children`, also that of
    its children that have exited and were waited for (how a PostgreSQL postmaster accounts for
    the backends of closed connections). On a shared VM it, too, grows when other work competes
    for the CPUs, though less than latency does."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # After "pid (comm)": state is fields[0], so utime/stime/cutime/cstime are fields[11..14].
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def process_tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process, its exited children and its live children (one level)."""
    total = proc_cpu_seconds(pid, children=True) or 0.0
    for child in child_pids(pid):
        total += proc_cpu_seconds(child, children=True) or 0.0
    return total


def child_pids(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(p) for p in children.read_text().split()]
    except OSError:
        pass
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid ..."; comm may contain spaces, so split after ")".
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


# --- Environment ------------------------------------------------------------------------------


def production_env(database_url: str, **overrides: str) -> dict[str, str]:
    """The process environment plus production-like settings: DEBUG off, a secret key, only
    loopback allowed, no HTTPS redirect (there is no TLS proxy in front)."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="shop.settings",
        DATABASE_URL=database_url,
        SECRET_KEY=secrets.token_urlsafe(50),
        DEBUG="false",
        ALLOWED_HOSTS=LOOPBACK,
        SECURE_SSL_REDIRECT="false",
    )
    env.update(overrides)
    return env


def setup_django(env: Mapping[str, str]) -> None:
    """Configure Django in this process with `env` (call once, before importing models)."""
    os.environ.update(env)
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(PROJECT_ROOT))
    import django

    django.setup()
    # A benchmark's in-process requests (django.test.Client) would print a request-log line
    # each, hundreds before its report; servers it starts log as configured.
    logging.getLogger("shanhai.requests").setLevel(logging.WARNING)


def setup_and_migrate(env: Mapping[str, str], doing: str = "Migrating …") -> None:
    """Configure Django in this process with `env` and migrate its database, saying `doing`
    first (what the script prepares next)."""
    setup_django(env)
    from django.core.management import call_command

    print(doing, flush=True)
    call_command("migrate", interactive=False, verbosity=0)


def argument_parser(
    doc: str,
    database_help: str = "use this PostgreSQL instead of a throw-away one",
    *,
    postgres_only: bool = False,
) -> argparse.ArgumentParser:
    """A script's parser: described by its docstring's first paragraph, with `--database-url`
    (a script given none starts a throw-away PostgreSQL; `postgres_only`: no other URL)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument(
        "--database-url", type=_postgres_url if postgres_only else str, help=database_help
    )
    return parser


def _postgres_url(url: str) -> str:
    if not url.startswith("postgres"):
        raise argparse.ArgumentTypeError("must be a postgres:// URL")
    return url


def run_until_interrupted(run: Callable[[Any], int], args: Any) -> int:
    """`run(args)` with SIGTERM unwinding like Ctrl-C; an interrupt exits 130 once the
    `finally` blocks have stopped what the run started."""
    exit_on_sigterm()
    try:
        return run(args)
    except KeyboardInterrupt:
        print("\nInterrupted; stopped everything this run started.", file=sys.stderr)
        return 130


def tear_down(*stoppables: Any, workdir: Path | None = None) -> None:
    """Stop what a benchmark started (servers, then the database: pass them in that order;
    None for what never started) and remove its temporary folder."""
    for thing in stoppables:
        if thing is not None:
            thing.stop()
    if workdir is not None:
        shutil.rmtree(workdir, ignore_errors=True)


# --- PostgreSQL -------------------------------------------------------------------------------


def _with_dbname(url: str, dbname: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + dbname


class ThrowAwayPostgres:
    """A PostgreSQL server in a temporary folder, started as tests/pgserver.py does for the test
    run (fsync off, 127.0.0.1 on a free port, as the `postgres` user when we are root), with an
    empty database created. `url` connects to it; `log_path` is the server's log file."""

    def __init__(self, dbname: str = "shanhai"):
        self.dbname = dbname
        self.url: str | None = None
        self.admin_url: str | None = None
        self.log_path: Path | None = None
        self._pgserver: Any = None

    def start(self) -> "ThrowAwayPostgres":
        try:
            from tests import pgserver  # needs pytest (a dev dependency) for its plugin hooks
        except ImportError as error:
            raise SystemExit(
                f"Cannot start a PostgreSQL ({error}); install the dev extras or pass "
                "--database-url."
            ) from error
        self._pgserver = pgserver
        url = pgserver.start_postgres()
        root = pgserver._server.get("root")
        self.log_path = Path(root) / "server.log" if root else None
        self.admin_url = _with_dbname(url, "postgres")
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.dbname)))
        self.url = _with_dbname(url, self.dbname)
        return self

    def postmaster_pid(self) -> int | None:
        data = self._pgserver._server.get("data") if self._pgserver else None
        try:
            return int((Path(data) / "postmaster.pid").read_text().split()[0])
        except (OSError, TypeError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        if self._pgserver is not None:
            self._pgserver.stop_postgres()
            self._pgserver = None

    def __enter__(self) -> "ThrowAwayPostgres":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def database(url: str | None) -> tuple[str, "ThrowAwayPostgres | None"]:
    """`url` as given, or a throw-away PostgreSQL started now (the second value, to stop in a
    `finally`; a server that fails to start is stopped here)."""
    if url:
        return url, None
    print("Starting a throw-away PostgreSQL …", flush=True)
    postgres = ThrowAwayPostgres()
    try:
        postgres.start()
    except BaseException:
        postgres.stop()
        raise
    return postgres.url, postgres


def server_version(url: str) -> str:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


def local_postmaster_pid(url: str) -> int | None:
    """The postmaster of a server running on this machine (from its data directory's
    postmaster.pid), so that a benchmark given `--database-url` can count its CPU too; None
    when it cannot be read (another machine, no permission)."""
    import psycopg

    try:
        with psycopg.connect(url) as conn:
            data = conn.execute("SHOW data_directory").fetchone()[0]
        return int((Path(data) / "postmaster.pid").read_text().split()[0])
    except (psycopg.Error, OSError, ValueError, IndexError):
        return None


@dataclass
class StatementLogWindow:
    statements: int = 0  # statements executed (simple-protocol statements + extended executes)
    connections: int = 0  # connections authorised
    server_ms: float = 0.0  # parse + bind + execute time as the server measured it


class StatementLog:
    """Counts what a PostgreSQL server we started executes inside a `with` block, from its own
    log: `log_min_duration_statement = 0` logs every statement with its duration and
    `log_connections` every new connection. Set with ALTER SYSTEM and a reload, reset at exit,
    so nothing in the application changes. Only for a throw-away server (it rewrites
    postgresql.auto.conf and reads the log file)."""

    _DURATION = re.compile(
        r"LOG:  duration: ([0-9.]+) ms  (statement|parse|bind|execute)\b[^:]*: ", re.MULTILINE
    )
    _CONNECTION = re.compile(r"LOG:  connection authorized: ", re.MULTILINE)

    def __init__(self, admin_url: str, log_path: Path):
        self.admin_url = admin_url
        self.log_path = log_path
        self.result = StatementLogWindow()
        self._offset = 0

    def _configure(self, enable: bool) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            if enable:
                conn.execute("ALTER SYSTEM SET log_min_duration_statement = 0")
                conn.execute("ALTER SYSTEM SET log_connections = on")
            else:
                conn.execute("ALTER SYSTEM RESET log_min_duration_statement")
                conn.execute("ALTER SYSTEM RESET log_connections")
            conn.execute("SELECT pg_reload_conf()")
        want = "0" if enable else "-1"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the reload is asynchronous
            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                if conn.execute("SHOW log_min_duration_statement").fetchone()[0] == want:
                    return
            time.sleep(0.1)
        raise RuntimeError("PostgreSQL did not pick up the logging settings")

    def __enter__(self) -> "StatementLog":
        self._configure(True)
        self._offset = self.log_path.stat().st_size
        return self

    def __exit__(self, *exc) -> None:
        with self.log_path.open("rb") as log:
            log.seek(self._offset)
            text = log.read().decode("utf-8", "replace")
        self._configure(False)
        for match in self._DURATION.finditer(text):
            self.result.server_ms += float(match.group(1))
            if match.group(2) in ("statement", "execute"):
                self.result.statements += 1
        self.result.connections = len(self._CONNECTION.findall(text))


# --- gunicorn ---------------------------------------------------------------------------------


class GunicornServer:
    """`gunicorn <app> -w <workers> -b 127.0.0.1:<free port>` in its own session, logging to
    `workdir/gunicorn.log`. Stopping it sends SIGTERM to that session, then SIGKILL."""

    def __init__(
        self,
        *,
        env: Mapping[str, str],
        workdir: Path,
        app: str = "shop.wsgi",
        workers: int = 1,
        extra_args: Iterable[str] = (),
        port: int | None = None,
    ):
        self.env = dict(env)
        self.workdir = Path(workdir)
        self.app = app
        self.workers = workers
        self.extra_args = list(extra_args)
        self.port: int | None = port
        self.log_path = self.workdir / "gunicorn.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> "GunicornServer":
        self.port = self.port or free_port()
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            self.app,
            "--workers",
            str(self.workers),
            "--bind",
            f"{LOOPBACK}:{self.port}",
            "--no-control-socket",  # gunicorn 27 would otherwise create ~/.gunicorn/gunicorn.ctl
            "--worker-tmp-dir",
            str(self.workdir),
            *self.extra_args,
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                command,
                cwd=PROJECT_ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited early:\n{self.log_tail()}")
            if len(self.worker_pids()) >= self.workers:
                try:
                    # Any HTTP answer means a worker has loaded the application.
                    http_request(self.port, "GET", "/graphql/", timeout=max(1, timeout))
                    return self
                except OSError:
                    pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer within {timeout} s:\n{self.log_tail()}")

    def worker_pids(self) -> list[int]:
        return child_pids(self.process.pid) if self.process else []

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, grace: float = 15) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)  # the session we started: master + workers
            process.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
        except ProcessLookupError:
            pass

    def __enter__(self) -> "GunicornServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# --- HTTP -------------------------------------------------------------------------------------


def http_request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 60,
) -> tuple[float, int, bytes]:
    """One request to 127.0.0.1:<port> on a fresh connection (gunicorn's sync workers close
    the connection after each response). Returns (seconds, status, body), where seconds runs
    from before connecting until the whole body has been read."""
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        started = time.perf_counter()
        connection.request(method, path, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        data = response.read()
        return time.perf_counter() - started, response.status, data
    finally:
        connection.close()


def post_graphql(
    port: int,
    query: str,
    variables: Mapping[str, Any] | None = None,
    timeout: float = 60,
    token: str | None = None,
) -> tuple[float, int, dict]:
    body = json.dumps({"query": query, "variables": dict(variables or {})}).encode()
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    seconds, status, data = http_request(port, "POST", "/graphql/", body, headers, timeout)
    try:
        payload = json.loads(data)
    except ValueError:
        payload = {"errors": [{"message": data[:500].decode("utf-8", "replace")}]}
    return seconds, status, payload
