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


def _pg_ctl_start(bin_dir: Path, data: Path, options: str, log: Path) -> str:
    """Start the server of `data` and wait for it (60 s at most); "" when it started,
    otherwise pg_ctl's complaint and the tail of the server's log."""
    started = subprocess.run(
        _as_server_user(
            [str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w"]
            + ["-t", "60", "start"]
        ),
        capture_output=True,
        text=True,
    )
    if started.returncode == 0:
        return ""
    tail = log.read_text()[-2000:] if log.exists() else ""
    return f"{started.stderr}\n{tail}"


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
    failed = _pg_ctl_start(bin_dir, data, options, log)
    if failed:
        raise pytest.UsageError(f"PostgreSQL did not start: {failed}")
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


class Replica:
    """A streaming read replica of a running server: `pg_basebackup -R` (so it starts as a hot
    standby following the primary) from the same binaries, on its own free port. The tests of
    shop/core/db_router.py start one; it can be paused (replay only: WAL keeps arriving, which
    is how a replica that lags looks), stopped and started again."""

    def __init__(self, primary: dict) -> None:
        self.primary = primary  # Django's settings dict of the primary
        self.bin_dir = _bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="shanhai-pg-replica-"))
        self.data, self.log = self.root / "data", self.root / "server.log"
        self.port = _free_port()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            self.root.chmod(0o700)

    def create(self) -> None:
        made = subprocess.run(
            _as_server_user(
                [
                    str(self.bin_dir / "pg_basebackup"),
                    "-h",
                    self.primary["HOST"] or "127.0.0.1",
                    "-p",
                    str(self.primary["PORT"] or 5432),
                    "-U",
                    self.primary["USER"] or "postgres",
                    "-D",
                    str(self.data),
                    "-R",  # standby.signal and primary_conninfo: follow the primary
                    "-X",
                    "stream",
                    "-c",
                    "fast",
                ]
            ),
            capture_output=True,
            text=True,
        )
        if made.returncode != 0:
            raise RuntimeError(f"pg_basebackup failed: {made.stderr}")
        self.start()

    def start(self) -> None:
        # A hot standby needs at least the primary's max_connections.
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=120 -c hot_standby=on"
        )
        failed = _pg_ctl_start(self.bin_dir, self.data, options, self.log)
        if failed:
            raise RuntimeError(f"The replica did not start: {failed}")

    def stop(self) -> None:
        subprocess.run(
            _as_server_user(
                [str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop"]
            ),
            capture_output=True,
        )

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def settings(self, name: str) -> dict:
        """Settings for Django's `replica` database: the primary's, on the replica's port."""
        return {**self.primary, "PORT": str(self.port), "NAME": name}

    def _sql(self, sql: str, *, port: int | None = None, dbname: str = "postgres") -> str:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1",
            port=port or self.port,
            user=self.primary["USER"] or "postgres",
            dbname=dbname,
            autocommit=True,
        ) as conn:
            return conn.execute(sql).fetchone()[0]

    def pause_replay(self) -> None:
        self._sql("SELECT pg_wal_replay_pause()")
        self._until("SELECT pg_get_wal_replay_pause_state() = 'paused'")

    def resume_replay(self) -> None:
        self._sql("SELECT pg_wal_replay_resume()")

    def _primary_lsn(self) -> str:
        # The insert position: with synchronous_commit off, a commit's record may not yet be
        # flushed; the WAL writer flushes (and the primary sends) it within moments.
        return self._sql("SELECT pg_current_wal_insert_lsn()::text", port=self.primary["PORT"])

    def wait_for_receipt(self) -> None:
        """Until the replica has received everything the primary wrote so far."""
        target = self._primary_lsn()
        self._until(f"SELECT pg_last_wal_receive_lsn() >= '{target}'::pg_lsn")

    def wait_for_replay(self) -> None:
        """Until the replica has applied everything the primary wrote so far."""
        target = self._primary_lsn()
        self._until(f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn")

    def _until(self, sql: str, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while not self._sql(sql):
            if time.monotonic() > deadline:
                raise TimeoutError(f"The replica never reached: {sql}")
            time.sleep(0.02)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = start_postgres()
        os.environ["SHANHAI_TEST_POSTGRES_STARTED"] = "1"


def pytest_unconfigure(config):
    stop_postgres()
