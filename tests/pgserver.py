"""pytest plugin: start a throw-away PostgreSQL server when DATABASE_URL is not given.

Loaded early (`-p tests.pgserver` in pyproject) so that DATABASE_URL is set before Django reads
its settings. The server runs from the machine's PostgreSQL binaries in a temporary folder on a
free port with fsync off, and is stopped when the session ends. PostgreSQL refuses to run as
root, so as root the server runs as the `postgres` system user.
"""

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

_server: dict = {}


def _bin_dir() -> Path:
    configured = os.environ.get("PG_BINDIR")
    candidates = [configured] if configured else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(str(Path(on_path).resolve().parent))
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    raise pytest.UsageError(
        "DATABASE_URL is not set and no PostgreSQL server binaries were found "
        "(install them with `apt-get install postgresql`, or set PG_BINDIR)."
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


def start_postgres() -> str:
    bin_dir = _bin_dir()
    root = Path(tempfile.mkdtemp(prefix="shanhai-pg-"))
    data, log = root / "data", root / "server.log"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        root.chmod(0o700)
    port = _free_port()
    subprocess.run(
        _as_server_user(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ]
        ),
        check=True,
        capture_output=True,
    )
    options = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=120"
    )
    started = subprocess.run(
        _as_server_user(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(log),
                "-w",
                "-t",
                "60",
                "start",
            ]
        ),
        capture_output=True,
        text=True,
    )
    if started.returncode != 0:
        tail = log.read_text()[-2000:] if log.exists() else ""
        raise pytest.UsageError(f"PostgreSQL did not start: {started.stderr}\n{tail}")
    _server.update(bin_dir=bin_dir, root=root, data=data)
    # Wait until it accepts TCP connections as well as the socket.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    return f"postgres://postgres@127.0.0.1:{port}/shanhai"


def stop_postgres() -> None:
    if not _server:
        return
    subprocess.run(
        _as_server_user(
            [
                str(_server["bin_dir"] / "pg_ctl"),
                "-D",
                str(_server["data"]),
                "-m",
                "immediate",
                "stop",
            ]
        ),
        capture_output=True,
    )
    shutil.rmtree(_server["root"], ignore_errors=True)
    _server.clear()


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = start_postgres()
        os.environ["SHANHAI_TEST_POSTGRES_STARTED"] = "1"


def pytest_unconfigure(config):
    stop_postgres()
