"""The procurement jobs as a worker runs them (here through the Task, run on the spot by the
suite's immediate backend): checkpoint, checks and the large ledger export."""

import json

from procurement.jobs import ledger_checkpoint, ledger_export_file, ledger_verify
from procurement.models import LedgerCheckpoint
from tests.procurement.test_ledger_transparency import adjust


def test_the_checkpoint_job_run_again_sequences_no_entry_twice(operator, db):
    adjust(operator, "7.00")
    adjust(operator, "8.00")

    first = ledger_checkpoint.enqueue()
    again = ledger_checkpoint.enqueue()  # run twice, as after a worker died: nothing new

    assert first.return_value["tree_size"] == 2
    assert again.return_value["tree_size"] == 2
    # a second signature of the same tree, not a tree grown by the same entries again
    assert list(LedgerCheckpoint.objects.values_list("tree_size", flat=True)) == [2, 2]


def test_the_verify_job_succeeds_on_a_sound_ledger(operator, db):
    adjust(operator, "7.00")
    ledger_checkpoint.enqueue()

    verified = ledger_verify.enqueue()

    assert verified.status == "SUCCESSFUL"
    assert verified.return_value == {"entries_checked": 1}


def test_the_export_job_writes_the_whole_file_and_nothing_beside_it(operator, db, tmp_path):
    adjust(operator, "7.00")
    adjust(operator, "8.00")
    ledger_checkpoint.enqueue()
    out = tmp_path / "ledger.jsonl"
    out.write_text("stale\n", encoding="utf-8")

    exported = ledger_export_file.enqueue(str(out))

    assert exported.return_value == {"out": str(out), "entries": 2}
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(row["index"], row["leaf"]["amount"]) for row in rows] == [(0, "7.00"), (1, "8.00")]
    assert [path.name for path in tmp_path.iterdir()] == ["ledger.jsonl"]
