"""The Merkle tree in the database: sequencing booked entries into it, signed checkpoints, and
proofs read from the stored subtree hashes (docs/ledger.md, "The transparency log")."""

import base64
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q

from procurement.models import ContributionEntry, LedgerCheckpoint, LedgerHead, LedgerTreeNode
from procurement.transparency import merkle, signing

# Positions come from a sequence, so a booking that began earlier may commit after later
# ones. Sequencing looks this far back below the highest position already in the tree for such
# late entries; a booking that stays uncommitted while this many others are booked would be
# left out (and `ledgerVerify` would then report an entry missing from the tree).
SEQUENCE_SLACK = 100_000
BATCH = 5000
# The PostgreSQL sequence entries take their positions from (the booking statement takes them
# too: procurement/ledger.py).
POSITIONS = "procurement_ledger_position"


def next_positions(count: int) -> list[int]:
    """Positions for `count` new entries, without waiting for any other booking to commit."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT nextval('{POSITIONS}') FROM generate_series(1, %s)",  # noqa: S608
                [count],
            )
            return [row[0] for row in cursor.fetchall()]
    # SQLite has no sequences; its writers are serialised anyway.
    LedgerHead.objects.get_or_create(pk=1)
    LedgerHead.objects.filter(pk=1).update(last_position=F("last_position") + count)
    last = LedgerHead.objects.values_list("last_position", flat=True).get(pk=1)
    return list(range(last - count + 1, last + 1))


def perfect_hashes(keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """Stored hashes of the given (level, index) subtrees, in one query. On PostgreSQL the keys
    go as two arrays joined to the nodes' unique index: building the ORM's OR of one
    `level = … AND index IN (…)` per level cost ~3.4 ms of CPU per proof (26 keys), most of a
    proof's time."""
    keys = sorted(set(keys))
    if not keys:
        return {}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT n.level, n.index, n.hash FROM unnest(%s::int[], %s::bigint[]) "  # noqa: S608
                f"AS k(level, index) JOIN {LedgerTreeNode._meta.db_table} n "
                "ON n.level = k.level AND n.index = k.index",
                [[level for level, _ in keys], [index for _, index in keys]],
            )
            return {(level, index): bytes(digest) for level, index, digest in cursor.fetchall()}
    return hashes_by_orm(keys)


def hashes_by_orm(keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """`perfect_hashes` as the ORM's OR of one `level = … AND index IN (…)` per level: the
    portable path (SQLite), and bench/ledger_proofs' baseline."""
    by_level: dict[int, list[int]] = defaultdict(list)
    for level, index in keys:
        by_level[level].append(index)
    query = Q()
    for level, indexes in by_level.items():
        query |= Q(level=level, index__in=indexes)
    return {
        (level, index): bytes(digest)
        for level, index, digest in LedgerTreeNode.objects.filter(query).values_list(
            "level", "index", "hash"
        )
    }


def _subtrees(ranges: Iterable[tuple[int, int]]) -> merkle.SubtreeHash:
    ranges = list(ranges)
    keys = [part for start, end in ranges for part in merkle.perfect_parts(start, end)]
    found = perfect_hashes(keys)
    return lambda start, end: merkle.range_hash(start, end, lambda lv, i: found[(lv, i)])


def stored(compute):
    """Run a proof computation on the stored hashes it needs, fetched at once."""
    return compute(_subtrees(merkle.needed_subtrees(compute)))


def compact_range(size: int) -> merkle.CompactRange:
    parts = merkle.CompactRange.parts_of(size)
    found = perfect_hashes(parts)
    return merkle.CompactRange(size, [found[part] for part in parts])


NODE_COLUMNS = ("level", "index", "hash", "entry_id")


def _insert_nodes(rows: list[tuple]) -> None:
    """Store (level, index, hash, entry_id) rows: COPY on PostgreSQL, several times faster than
    INSERTs at a checkpoint's volume."""
    if not rows:
        return
    if connection.vendor == "postgresql":
        table = LedgerTreeNode._meta.db_table
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY {table} (level, index, hash, entry_id) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    LedgerTreeNode.objects.bulk_create(
        LedgerTreeNode(**dict(zip(NODE_COLUMNS, row, strict=True))) for row in rows
    )


def sequence() -> merkle.CompactRange:
    """Append the entries booked since the last run to the tree; the caller holds the head.
    An entry's leaf is its stored hash, computed at booking (`ledgerVerify` checks it against its
    content); entries booked before the log have a chain hash there, so theirs is computed."""
    from procurement.ledger import leaf_hash

    head = LedgerHead.objects.select_for_update().get(pk=1)
    tree = compact_range(head.tree_size)
    highest = head.sequenced_position
    pending = (
        ContributionEntry.objects.filter(position__gt=max(highest - SEQUENCE_SLACK, 0))
        .filter(~Exists(LedgerTreeNode.objects.filter(entry=OuterRef("pk"))))
        .order_by("position")
        .values_list("pk", "position", "hash", "prev_hash")
    )
    rows: list[tuple] = []
    for pk, position, stored_hash, prev_hash in pending.iterator(chunk_size=BATCH):
        if prev_hash:
            leaf = leaf_hash(ContributionEntry.objects.get(pk=pk))
        else:
            leaf = bytes.fromhex(stored_hash)
        rows.append((0, tree.size, leaf, pk))
        rows.extend((level, index, digest, None) for level, index, digest in tree.append(leaf))
        highest = max(highest, position)
        if len(rows) >= BATCH:
            _insert_nodes(rows)
            rows = []
    _insert_nodes(rows)
    LedgerHead.objects.filter(pk=1).update(tree_size=tree.size, sequenced_position=highest)
    return tree


@transaction.atomic
def checkpoint() -> LedgerCheckpoint:
    """Sequence what was booked and sign the tree's new size and root."""
    LedgerHead.objects.get_or_create(pk=1)
    signing.signing_key()  # no key, no sequencing: fail before any work
    return sign(sequence())


def sign(tree: merkle.CompactRange) -> LedgerCheckpoint:
    """Sign and store the size and root of the tree as stored (what `checkpoint` does after
    sequencing; a bulk load that wrote the tree itself calls it directly)."""
    key = signing.signing_key()
    signed = merkle.Checkpoint(
        tree_size=tree.size,
        root_hash=tree.root(),
        timestamp=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    )
    signature = key.sign(signed.signed_text())
    public = signing.public_key_text(key)
    return LedgerCheckpoint.objects.create(
        tree_size=signed.tree_size,
        root_hash=signed.root_hash.hex(),
        timestamp=signed.timestamp,
        signature=base64.b64encode(signature).decode(),
        key_id=signing.key_id(public),
    )


def as_signed(checkpoint: LedgerCheckpoint) -> merkle.Checkpoint:
    return merkle.Checkpoint.from_json(
        {
            "treeSize": checkpoint.tree_size,
            "rootHash": checkpoint.root_hash,
            "timestamp": checkpoint.timestamp,
            "signature": checkpoint.signature,
        }
    )


def tree_size() -> int:
    return LedgerHead.objects.values_list("tree_size", flat=True).filter(pk=1).first() or 0


def leaf_index(entry_id: int) -> int | None:
    return (
        LedgerTreeNode.objects.filter(level=0, entry_id=entry_id)
        .values_list("index", flat=True)
        .first()
    )


def inclusion_proof(index: int, size: int) -> list[bytes]:
    return stored(lambda subtree: merkle.inclusion_path(index, size, subtree))


def consistency_proof(old: int, new: int) -> list[bytes]:
    return stored(lambda subtree: merkle.consistency_path(old, new, subtree))


def root_at(size: int) -> bytes:
    return stored(lambda subtree: merkle.root(size, subtree))
