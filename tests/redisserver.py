"""pytest plugin: a throw-away `redis-server` for the tests that cover the shared cache.

Started on first use (the `redis_url` fixture) on a free port, without persistence, and stopped
when the session ends; CACHE_URL, when set, names a running one instead. A machine without
redis-server fails those tests (scripts/ensure-system-deps.sh installs it) rather than skipping
them: a skipped test would let a broken shared cache pass.
"""

import os
import shutil
import socket
import subprocess
import time

import pytest

from tests.pgserver import _free_port


def _wait_for(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not answer PING within 20 s")


@pytest.fixture(scope="session")
def redis_url():
    if os.environ.get("CACHE_URL"):
        yield os.environ["CACHE_URL"]
        return
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server is not installed: run scripts/ensure-system-deps.sh "
            "(apt-get install redis-server), or set CACHE_URL to a running Redis."
        )
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(port, process)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)
