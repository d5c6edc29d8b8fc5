"""docs/architecture-howto.md, "A ledger dimension": a dimension declared in the registry alone
reaches every reader. Run in a process of its own (tests/procurement/made_up_dimension.py), so
the made-up dimension is declared before anything reads the registry and never leaks into
this process's schema or registry."""

import json
import subprocess
import sys
from pathlib import Path

from procurement import views
from procurement.reports import selectors
from procurement.services import contributions
from procurement.transparency import verifier


def test_a_dimension_declared_in_the_registry_alone_reaches_every_reader(tmp_path):
    """The how-to's promise: a made-up dimension declared in the registry (and nowhere else)
    before the app loads is in the group-by enum and the filter input, summed from the rollups
    and from the entries, filtered on, exported in a column after the existing ones, imported
    from a column after the template's, and totalled by the verifier."""
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [
            sys.executable,
            "-m",  # from this checkout: its folder first on the path
            "tests.procurement.made_up_dimension",
            str(tmp_path / "db"),
        ],
        capture_output=True,
        text=True,
        cwd=root,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    assert facts["import_columns"] == [*contributions.IMPORT_COLUMNS, "note"]
    assert facts["enum"] == [*selectors.GROUP_DIMENSIONS, "NOTE"]
    assert facts["filter_input"][-1] == "notes"
    # The import without the column counts under no note.
    assert facts["summary"] == [["", "100.00"], ["冲减", "-20.00"], ["渠道补录", "1200.50"]]
    assert facts["summary_by_entries_total"] == "1280.50"
    assert facts["filtered_total"] == "-20.00"
    assert facts["export_header"] == [*views.HEADER, "备注 note"]
    ((*known, note),) = facts["export_rows"]
    assert note == "渠道补录"
    assert known[views.HEADER.index("城市 city")] == "泉州市"
    assert facts["verifier_dimensions"] == [*verifier.DIMENSIONS, "NOTE"]
