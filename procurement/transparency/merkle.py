"""RFC 9162 §2.1 Merkle trees, the ledger's leaf encoding and its checkpoints' signed form.

Standard library only (plus `cryptography` for signatures, imported where used): this module is
shared by the server and the offline verifier, which must not need Django or a database.
"""

import base64
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()

# A leaf encodes the entry's fields of its encoding version, in order, as canonical strings
# (amounts "12.34", instants UTC ISO-8601 to the microsecond, dates ISO) or integers/null, after
# the version itself, so one encoding can never be mistaken for another. Each entry stores the
# version it was booked with (`ContributionEntry.leaf_version`): a later version (a new signed
# column) hashes the entries booked from then on, and every earlier entry keeps verifying with
# its own. Versions are only ever added; an existing one never changes.
LEAF_FIELDS_V1 = (
    "position",
    "kind",
    "source",
    "amount",
    "booked_at",
    "business_date",
    "source_key",
    "order_id",
    "order_line_id",
    "refund_id",
    "import_batch_id",
    "invoice_number",
    "seller_credit_code",
    "reason",
    "channel",
    "buyer_province",
    "agency_id",
    "agency_name",
    "agency_type",
    "agency_city",
    "supplier_id",
    "supplier_name",
    "origin_province",
    "origin_county_code",
    "origin_county_name",
    "category",
    "product_id",
    "product_name",
    "created_by_id",
)
LEAF_ENCODINGS: dict[int, tuple[str, ...]] = {1: LEAF_FIELDS_V1}
LEAF_VERSION = 1  # the encoding new entries are booked with

Hash = bytes
SubtreeHash = Callable[[int, int], Hash]


def leaf_fields(version: int) -> tuple[str, ...]:
    """The fields an encoding version covers, in order; ValueError for a version unknown here."""
    try:
        return LEAF_ENCODINGS[version]
    except (KeyError, TypeError):
        raise ValueError(f"leaf encoding version {version!r} is unknown") from None


# json.dumps(content, ensure_ascii=False, separators=(",", ":")), without making an encoder
# per leaf (json.dumps does for any non-default argument).
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def encode_leaf(values: Mapping[str, Any], version: int | None = None) -> bytes:
    """The canonical, versioned bytes of one entry (its exported `leaf` object), in the
    encoding `version` (by default the one new entries are booked with)."""
    version = LEAF_VERSION if version is None else version
    content = [version, *(values[name] for name in leaf_fields(version))]
    return _ENCODER.encode(content).encode()


def encode_leaf_around(values: Mapping[str, Any], version: int, field: str) -> tuple[str, str]:
    """The text of `encode_leaf(values, version)` before and after the integer `field`, whose
    value is not known yet: `head + str(n) + tail` is the leaf of `values` with `field` = n.
    For a database that numbers the entries as it stores them (procurement/ledger.py)."""
    at = 1 + leaf_fields(version).index(field)
    content = [version, *(values[name] for name in leaf_fields(version))]
    content[at] = 0
    head = _ENCODER.encode(content[:at])[:-1] + ","
    return head, _ENCODER.encode(content)[len(head) + 1 :]


def leaf_amount(leaf: bytes | str) -> str:
    """The amount a leaf encodes, whatever its version."""
    version, *values = json.loads(leaf)
    return values[leaf_fields(version).index("amount")]


def leaf_hash(data: bytes) -> Hash:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: Hash, right: Hash) -> Hash:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def mth(leaves: Sequence[Hash]) -> Hash:
    """MTH over leaf hashes, straight from the RFC's definition (for tests and small trees)."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = split(len(leaves))
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def in_memory(leaves: Sequence[Hash]) -> SubtreeHash:
    return lambda start, end: mth(leaves[start:end])


def root(size: int, subtree: SubtreeHash) -> Hash:
    return subtree(0, size) if size else EMPTY_ROOT


def inclusion_path(index: int, size: int, subtree: SubtreeHash) -> list[Hash]:
    """PATH(m, D[n]) of RFC 9162 §2.1.3.1, from subtree hashes."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    path: list[Hash] = []
    start, end = 0, size
    while end - start > 1:
        k = split(end - start)
        if index - start < k:
            path.append(subtree(start + k, end))
            end = start + k
        else:
            path.append(subtree(start, start + k))
            start += k
    path.reverse()
    return path


def consistency_path(old: int, new: int, subtree: SubtreeHash) -> list[Hash]:
    """PROOF(m, D[n]) of RFC 9162 §2.1.4.1, from subtree hashes."""
    if not 0 <= old <= new:
        raise ValueError(f"no consistency proof from {old} to {new}")
    if old in (0, new):
        return []
    path: list[Hash] = []
    start, end, whole = 0, new, True
    m = old
    while m != end - start:
        k = split(end - start)
        if m <= k:
            path.append(subtree(start + k, end))
            end = start + k
        else:
            path.append(subtree(start, start + k))
            start, m, whole = start + k, m - k, False
    if not whole:
        path.append(subtree(start, end))
    path.reverse()
    return path


def _is_set(n: int) -> bool:
    return bool(n & 1)


def verify_inclusion(
    index: int, size: int, leaf: Hash, path: Sequence[Hash], expected_root: Hash
) -> bool:
    """RFC 9162 §2.1.3.2."""
    if index >= size or index < 0:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if _is_set(fn) or fn == sn:
            r = node_hash(p, r)
            while not _is_set(fn) and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == expected_root


def verify_consistency(
    old: int, new: int, old_root: Hash, new_root: Hash, path: Sequence[Hash]
) -> bool:
    """RFC 9162 §2.1.4.2 (an empty old tree is consistent with anything)."""
    if not 0 <= old <= new:
        return False
    if old == new:
        return not path and old_root == new_root
    if old == 0:
        return not path
    path = list(path)
    if old & (old - 1) == 0:
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old - 1, new - 1
    while _is_set(fn):
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if _is_set(fn) or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not _is_set(fn) and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == old_root and sr == new_root and sn == 0


def needed_subtrees(compute: Callable[[SubtreeHash], Any]) -> list[tuple[int, int]]:
    """The (start, end) ranges `compute` asks for: the proofs' shapes depend on sizes only, so a
    store can fetch every hash a proof needs in one query."""
    asked: list[tuple[int, int]] = []

    def record(start: int, end: int) -> Hash:
        asked.append((start, end))
        return EMPTY_ROOT

    compute(record)
    return asked


def perfect_parts(start: int, end: int) -> list[tuple[int, int]]:
    """A range of leaves as the aligned perfect subtrees whose hashes a store keeps, as
    (level, index) with the subtree covering [index·2^level, (index+1)·2^level), following the
    RFC's split (see `range_hash`)."""
    size = end - start
    if size & (size - 1) == 0 and start % size == 0:
        level = size.bit_length() - 1
        return [(level, start >> level)]
    k = split(size)
    return perfect_parts(start, start + k) + perfect_parts(start + k, end)


def range_hash(start: int, end: int, perfect: Callable[[int, int], Hash]) -> Hash:
    """MTH of leaves [start, end) from the hashes of its perfect parts, `perfect(level, index)`."""
    size = end - start
    if size & (size - 1) == 0 and start % size == 0:
        level = size.bit_length() - 1
        return perfect(level, start >> level)
    k = split(size)
    return node_hash(range_hash(start, start + k, perfect), range_hash(start + k, end, perfect))


def fold(parts: Sequence[Hash]) -> Hash:
    """MTH of a whole tree from its right edge, the perfect subtrees `CompactRange.parts_of`
    names, left to right."""
    acc = parts[-1]
    for h in reversed(parts[:-1]):
        acc = node_hash(h, acc)
    return acc


class CompactRange:
    """The right edge of a growing tree: the hashes of the perfect subtrees covering its leaves,
    so appending leaves and taking the root needs no earlier leaf. `append` returns the stored
    nodes it completes, as (level, index, hash) with level ≥ 1."""

    def __init__(self, size: int = 0, hashes: Iterable[Hash] = ()):
        self.size = size
        self.hashes = list(hashes)
        if len(self.hashes) != bin(size).count("1"):
            raise ValueError("a compact range has one hash per set bit of its size")

    @staticmethod
    def parts_of(size: int) -> list[tuple[int, int]]:
        """(level, index) of the perfect subtrees a tree of `size` leaves ends in."""
        parts, start = [], 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                parts.append((level, start >> level))
                start += 1 << level
        return parts

    def append(self, leaf: Hash) -> list[tuple[int, int, Hash]]:
        completed = []
        self.hashes.append(leaf)
        index, level = self.size, 0
        self.size += 1
        while index & 1:
            right = self.hashes.pop()
            merged = node_hash(self.hashes.pop(), right)
            self.hashes.append(merged)
            index, level = index >> 1, level + 1
            completed.append((level, index, merged))
        return completed

    def root(self) -> Hash:
        return fold(self.hashes) if self.hashes else EMPTY_ROOT


# Checkpoints: what is signed is this text, so any tool can rebuild it from the published fields.
CHECKPOINT_ORIGIN = "shanhai-ledger/v1"


@dataclass(frozen=True)
class Checkpoint:
    tree_size: int
    root_hash: Hash
    timestamp: str  # UTC ISO-8601, as published
    signature: bytes = b""

    def signed_text(self) -> bytes:
        root = base64.b64encode(self.root_hash).decode()
        return f"{CHECKPOINT_ORIGIN}\n{self.tree_size}\n{root}\n{self.timestamp}\n".encode()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Checkpoint":
        """From a checkpoint as `ledgerCheckpoints` publishes it."""
        return cls(
            tree_size=int(data["treeSize"]),
            root_hash=bytes.fromhex(data["rootHash"]),
            timestamp=data["timestamp"],
            signature=base64.b64decode(data["signature"]),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "treeSize": self.tree_size,
            "rootHash": self.root_hash.hex(),
            "timestamp": self.timestamp,
            "signature": base64.b64encode(self.signature).decode(),
        }


def load_public_key(text: str):
    """An Ed25519 public key from PEM or base64 of its 32 raw bytes."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(text.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the public key is not an Ed25519 key")
        return key
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(text))


def signature_holds(checkpoint: Checkpoint, public_key) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        public_key.verify(checkpoint.signature, checkpoint.signed_text())
    except InvalidSignature:
        return False
    return True
