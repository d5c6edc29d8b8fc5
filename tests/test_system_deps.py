"""scripts/ensure-system-deps.sh, the first step of `make test`: when it may not install, it
stops at once with one line per missing piece saying how to get it. Run on a PATH holding only
the shell tools it uses, so everything else it looks for is missing."""

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "ensure-system-deps.sh"


@pytest.fixture
def bare_path(tmp_path) -> str:
    """A PATH with bash and the few tools the script itself calls, and nothing else."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "env", "id", "grep", "ls", "mktemp", "tail"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    return str(bin_dir)


def run(path: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(path) / "bash"), str(SCRIPT)],
        env={"PATH": path, "SHANHAI_NO_INSTALL": "1", **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_without_install_it_names_each_missing_piece_and_how_to_get_it(bare_path):
    began = time.monotonic()
    result = run(bare_path)
    assert time.monotonic() - began < 5
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    sudo = "" if os.geteuid() == 0 else "sudo "
    named = [re.search(r" - install with: (?:sudo )?apt-get install (\S+)", line) for line in lines]
    assert all(line.startswith("missing: ") for line in lines[:-1])
    assert all(f"install with: {sudo}apt-get install " in line for line in lines[:-1])
    packages = [match.group(1) for match in named if match]
    expected = (
        "make",
        "default-jdk-headless",
        "maven",
        "curl",
        "redis-server",
        "chromium",
        "fonts-wqy-microhei",
    )
    for package in expected:
        assert packages.count(package) == 1, package
    assert lines[-1] == "(SHANHAI_NO_INSTALL is set, so nothing was installed)"
    assert "installing" not in result.stderr


def test_running_services_make_their_binaries_unnecessary(bare_path):
    result = run(
        bare_path,
        DATABASE_URL="postgres://db.invalid/x",
        OPENSEARCH_URL="http://os.invalid:9200",
        CACHE_URL="redis://cache.invalid:6379/0",
    )
    assert result.returncode == 1
    for absent in (
        "postgresql",
        "util-linux",
        "default-jdk-headless",
        "maven",
        "curl",
        "redis-server",
    ):
        assert f"apt-get install {absent}" not in result.stderr
    assert "apt-get install chromium" in result.stderr


def test_on_this_machine_nothing_is_missing():
    """The suite is running, so what it needs is here: the script is silent and succeeds."""
    result = subprocess.run(
        [str(SCRIPT)],
        env={**os.environ, "SHANHAI_NO_INSTALL": "1"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (result.returncode, result.stderr) == (0, "")
