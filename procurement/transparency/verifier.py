"""`shanhai-verify`: check the ledger without trusting the server (docs/ledger.md).

Standard library and `cryptography` only: no Django, no database (the dimension registry it
totals by, procurement/reports/dimensions.py, imports Django only inside functions it does not
call). Given an export of the entries in tree order (JSON lines, `manage.py ledger_export` or
GET /exports/ledger.jsonl), the checkpoints the auditor kept and the published public key, it
recomputes every leaf (in its line's encoding version) and the root at each checkpoint, checks
each checkpoint's signature and that each extends the one before (both roots come from the same
leaves, so the earlier tree is a prefix of the later one), and totals the entries by year and
by the dimensions the registry marks `offline_total` (kind, Fujian city, Ningxia county,
category), beside the server's `contributionSummary` when given. It reads the export line by
line: memory stays flat.
"""

import argparse
import json
import sys
import urllib.request
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from procurement.reports import dimensions
from procurement.transparency import merkle


def _keyed_by(attribute: str):
    return lambda leaf: "" if leaf.get(attribute) is None else str(leaf[attribute])


def offline_dimensions() -> dict[str, tuple]:
    """Dimension of contributionSummary → how the verifier keys an entry's leaf, and whether the
    server's row is matched on its value or its label (a coded dimension's value is a code,
    CITY's a division code, where entries store the name): YEAR, then the registry's dimensions
    marked `offline_total`. A leaf of an encoding without the attribute counts under ""."""
    out = {"YEAR": (lambda leaf: leaf["business_date"][:4], "value")}
    for d in dimensions.DIMENSIONS:
        if d.offline_total:
            out[d.name] = (_keyed_by(d.value_attr), "label" if d.public_codes else "value")
    return out


DIMENSIONS = offline_dimensions()


@dataclass
class Report:
    leaves: int = 0
    total: Decimal = Decimal("0.00")
    totals: dict[str, dict[str, Decimal]] = field(
        default_factory=lambda: {d: defaultdict(Decimal) for d in DIMENSIONS}
    )
    checkpoint_lines: list[str] = field(default_factory=list)
    failure: str = ""


def load_checkpoints(data: Any) -> list[merkle.Checkpoint]:
    """Checkpoints as a list, or as the `ledgerCheckpoints` answer (edges/nodes) saved whole."""
    if isinstance(data, dict):
        data = data.get("data", data)
        data = data.get("ledgerCheckpoints", data)
        data = data.get("edges", data.get("nodes", data))
    nodes = [item.get("node", item) for item in data]
    return sorted((merkle.Checkpoint.from_json(n) for n in nodes), key=lambda c: c.tree_size)


def read_entries(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(lines, 1):
        if line.strip():
            row = json.loads(line)
            yield number, row


def verify(entries: Iterable[str], checkpoints: list[merkle.Checkpoint], public_key) -> Report:
    report = Report()
    for checkpoint in checkpoints:
        if not merkle.signature_holds(checkpoint, public_key):
            report.failure = (
                f"checkpoint of size {checkpoint.tree_size} at {checkpoint.timestamp}: "
                "its signature does not hold (forged, or another key)"
            )
            return report
    pending = list(checkpoints)
    tree = merkle.CompactRange()
    previous: merkle.Checkpoint | None = None

    def reached() -> bool:
        nonlocal previous
        while pending and pending[0].tree_size == tree.size:
            checkpoint = pending.pop(0)
            if tree.root() != checkpoint.root_hash:
                report.failure = (
                    f"checkpoint of size {checkpoint.tree_size} at {checkpoint.timestamp} no "
                    "longer holds: the exported entries give another root"
                )
                return False
            step = f" extends {previous.tree_size}" if previous else ""
            report.checkpoint_lines.append(
                f"checkpoint {checkpoint.tree_size} at {checkpoint.timestamp}: signature and "
                f"root hold{step}"
            )
            previous = checkpoint
        return True

    if not reached():
        return report
    last = checkpoints[-1].tree_size if checkpoints else None
    for number, row in read_entries(entries):
        if last is not None and tree.size >= last:
            break  # totals cover the signed tree: the same cut as the latest checkpoint
        if row.get("index") != tree.size:
            report.failure = (
                f"line {number}: leaf {row.get('index')} where {tree.size} was expected "
                "(an entry deleted or moved)"
            )
            return report
        leaf = row["leaf"]
        try:
            # An export from before leaf versions were stored carries none: version 1.
            encoded = merkle.encode_leaf(leaf, row.get("version", 1))
        except (ValueError, KeyError) as error:
            report.failure = f"line {number}: leaf {tree.size} cannot be encoded ({error})"
            return report
        tree.append(merkle.leaf_hash(encoded))
        amount = Decimal(leaf["amount"])
        report.total += amount
        for dimension, (key, _match) in DIMENSIONS.items():
            report.totals[dimension][key(leaf)] += amount
        if not reached():
            return report
    report.leaves = tree.size
    if pending:
        report.failure = (
            f"checkpoint of size {pending[0].tree_size} at {pending[0].timestamp}: the export "
            f"holds only {tree.size} entries"
        )
    return report


def server_totals(summary: dict[str, Any], dimension: str) -> dict[str, Decimal]:
    """{key: amount} from a contributionSummary answer grouped by one dimension."""
    _key, match = DIMENSIONS[dimension]
    out = {}
    for row in summary["rows"]:
        (key,) = row["keys"]
        out[key[match]] = Decimal(str(row["total"]["amount"]))
    return out


SUMMARY_QUERY = """query($g: [ContributionDimension!]) { contributionSummary(groupBy: $g) {
  total { amount } rows { keys { value label } total { amount } } } }"""


def fetch_summaries(url: str, token: str) -> dict[str, Any]:
    """The server's summaries by each dimension, over HTTPS with the auditor's token."""
    if not url.startswith(("https://", "http://")):
        raise SystemExit("--url must be an http(s) URL")
    out = {}
    for dimension in (None, *DIMENSIONS):
        body = json.dumps(
            {"query": SUMMARY_QUERY, "variables": {"g": [dimension] if dimension else []}}
        )
        request = urllib.request.Request(  # noqa: S310 (http(s) checked above)
            url,
            data=body.encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            answer = json.load(response)
        out[dimension or ""] = answer["data"]["contributionSummary"]
    return out


def print_report(report: Report, summaries: dict[str, Any] | None, out: TextIO) -> None:
    for line in report.checkpoint_lines:
        print(line, file=out)
    print(f"entries: {report.leaves}", file=out)
    server_total = (
        Decimal(str(summaries[""]["total"]["amount"])) if summaries and "" in summaries else None
    )
    print(_row("TOTAL", "all", report.total, server_total), file=out)
    for dimension in DIMENSIONS:
        theirs = server_totals(summaries[dimension], dimension) if summaries else {}
        for key in sorted(set(report.totals[dimension]) | set(theirs)):
            ours = report.totals[dimension].get(key, Decimal("0.00"))
            print(_row(dimension, key, ours, theirs.get(key) if summaries else None), file=out)


def _row(dimension: str, key: str, ours: Decimal, theirs: Decimal | None) -> str:
    line = f"{dimension:<9} {key or '(none)':<24} {ours:>20.2f}"
    if theirs is not None:
        mark = "" if theirs == ours else "  DIFFERS"
        line += f" {theirs:>20.2f}{mark}"
    return line


def check_inclusion(proof: dict[str, Any], checkpoints: list[merkle.Checkpoint], public_key) -> str:
    """An agency's or a supplier's check of one `ledgerInclusionProof` answer against a kept
    checkpoint of the same size; returns what failed, or "" when the entry is in that tree."""
    proof = proof.get("data", {}).get("ledgerInclusionProof", proof)
    size = int(proof["treeSize"])
    signed = [c for c in checkpoints if c.tree_size == size]
    if not signed:
        return f"no kept checkpoint has size {size}"
    if not merkle.signature_holds(signed[0], public_key):
        return f"checkpoint of size {size}: its signature does not hold"
    leaf = merkle.leaf_hash(proof["leaf"].encode())
    path = [bytes.fromhex(h) for h in proof["auditPath"]]
    if not merkle.verify_inclusion(int(proof["leafIndex"]), size, leaf, path, signed[0].root_hash):
        return f"the entry is not leaf {proof['leafIndex']} of the signed tree of size {size}"
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="shanhai-verify", description="Verify a Shanhai ledger export offline."
    )
    parser.add_argument(
        "entries", nargs="?", help="the JSON-lines export, in tree order ('-': stdin)"
    )
    parser.add_argument(
        "--inclusion",
        help="instead of an export: a saved ledgerInclusionProof answer to check (JSON file)",
    )
    parser.add_argument("--checkpoints", required=True, help="JSON file of the kept checkpoints")
    parser.add_argument(
        "--public-key", required=True, help="the published key: base64, PEM, or a file of either"
    )
    parser.add_argument("--summary", help="JSON file: {dimension or '': contributionSummary}")
    parser.add_argument("--url", help="the server's /graphql/ URL, to fetch its summaries")
    parser.add_argument("--token", help="an auditor's bearer token for --url")
    args = parser.parse_args(argv)

    key_text = args.public_key
    if Path(key_text).is_file():
        key_text = Path(key_text).read_text()
    public_key = merkle.load_public_key(key_text)
    checkpoints = load_checkpoints(json.loads(Path(args.checkpoints).read_text()))
    if args.inclusion:
        proof = json.loads(Path(args.inclusion).read_text())
        failure = check_inclusion(proof, checkpoints, public_key)
        if failure:
            sys.stdout.write(f"REFUSED: {failure}\n")
            return 1
        proof = proof.get("data", {}).get("ledgerInclusionProof", proof)
        try:
            amount = merkle.leaf_amount(proof["leaf"])
        except ValueError as error:  # included, in an encoding newer than this verifier
            amount = f"unreadable ({error})"
        sys.stdout.write(
            f"included: leaf {proof['leafIndex']} of the signed tree of size "
            f"{proof['treeSize']}, amount {amount}\n"
        )
        return 0
    if not args.entries:
        parser.error("give the export (or --inclusion PROOF)")
    summaries = None
    if args.summary:
        summaries = json.loads(Path(args.summary).read_text())
    elif args.url:
        summaries = fetch_summaries(args.url, args.token or "")
    if args.entries == "-":
        report = verify(sys.stdin, checkpoints, public_key)
    else:
        with open(args.entries, encoding="utf-8") as lines:
            report = verify(lines, checkpoints, public_key)
    if report.failure:
        for line in report.checkpoint_lines:
            sys.stdout.write(line + "\n")
        sys.stdout.write(f"REFUSED: {report.failure}\n")
        return 1
    print_report(report, summaries, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
