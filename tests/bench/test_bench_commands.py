"""The benchmarks are run by hand from bench/README*.md and the scripts' own usage lines, so a
renamed or dropped flag breaks them silently (the CI never runs a benchmark): every script is
listed in bench/README.md, and every flag those commands give is one its parser accepts."""

import contextlib
import importlib
import io
import re
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
SCRIPTS = sorted(
    path.stem for path in BENCH.glob("*.py") if 'if __name__ == "__main__":' in path.read_text()
)
# `python -m bench.NAME …` (or bench/NAME.py), to the end of the line or a shell comment.
COMMAND = re.compile(r"(?:-m bench\.|bench/)(\w+)(?:\.py)?((?:[ \t]+[^\s#`|]+)*)")
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")


def _help(name: str, monkeypatch) -> str:
    module = importlib.import_module(f"bench.{name}")
    monkeypatch.setattr("sys.argv", [name, "--help"])
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        module.main()
    return out.getvalue()


def _commands() -> list[tuple[str, str, str]]:
    """(where, script, its arguments) for the READMEs' shell blocks and the usage lines in
    the scripts' docstrings (backslash continuations joined)."""
    found = []
    sources = [*BENCH.glob("README*.md"), *(BENCH / f"{name}.py" for name in SCRIPTS)]
    for path in sources:
        text = re.sub(r"\\\n\s*", " ", path.read_text())
        if path.suffix == ".py":
            # the docstring only; a usage line goes on in deeper-indented `[--option]` lines
            text = re.sub(r"\n\s+(?=\[--)", " ", text.split('"""')[1])
        else:
            text = "\n".join(re.findall(r"```sh\n(.*?)```", text, flags=re.S))
        for script, arguments in COMMAND.findall(text):
            if script in SCRIPTS:
                found.append((path.name, script, arguments))
    return found


def test_every_script_is_listed_in_the_readme():
    readme = (BENCH / "README.md").read_text()
    assert [name for name in SCRIPTS if f"`{name}.py`" not in readme] == []


def test_the_documented_commands_use_flags_the_scripts_accept(monkeypatch):
    commands = _commands()
    assert {script for _, script, _ in commands} >= {"catalog_listing", "generate_ledger"}
    helps: dict[str, str] = {}
    unknown = []
    for where, script, arguments in commands:
        if script not in helps:
            helps[script] = _help(script, monkeypatch)
        unknown += [
            f"{where}: bench.{script} {flag}"
            for flag in FLAG.findall(arguments)
            if not re.search(rf"(?<![\w-]){flag}(?![\w-])", helps[script])
        ]
    assert unknown == []
