"""Who may read the transparency log's checkpoints and proofs (docs/ledger.md)."""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db.models import F

from procurement import ledger
from procurement.access import LEDGER_INSPECTORS, LOG_READERS, own_rows
from procurement.models import ContributionEntry, LedgerCheckpoint
from procurement.transparency import signing, store
from shop.core.errors import BadUserInput, Unavailable
from shop.core.permissions import require_role


@dataclass(frozen=True)
class InclusionProof:
    entry: ContributionEntry
    leaf_index: int
    tree_size: int
    leaf: bytes
    path: list[bytes]


@dataclass(frozen=True)
class ConsistencyProof:
    from_size: int
    to_size: int
    path: list[bytes]


def checkpoints(*, acting_user: Any):
    require_role(acting_user, *LOG_READERS)
    return LedgerCheckpoint.objects.order_by("-id")


def public_key() -> str:
    """Public to anyone, signed in or not, as it is in the docs."""
    try:
        return signing.public_key_text()
    except ImproperlyConfigured as error:
        # `check --deploy` reports the missing key; the API says so instead of failing.
        raise Unavailable(
            "This server has no ledger signing key configured yet (docs/ledger.md)."
        ) from error


def _signed_size(size: int | None, argument: str) -> int:
    """A size the tree has been signed at; by default the latest checkpoint's."""
    if size is None:
        latest = LedgerCheckpoint.objects.order_by("-tree_size").first()
        if latest is None:
            raise BadUserInput("No checkpoint has been signed yet.")
        return latest.tree_size
    if size < 0 or size > store.tree_size():
        raise BadUserInput(f"`{argument}` must be between 0 and the tree's size; got {size}.")
    return size


def inclusion_proof(*, acting_user: Any, entry_id: int, tree_size: int | None) -> InclusionProof:
    """An agency or a supplier proves its own entries; auditors and operators any entry."""
    require_role(acting_user, *LOG_READERS)
    entry = own_rows(ContributionEntry.objects.all(), acting_user).filter(pk=entry_id).first()
    if entry is None:
        raise BadUserInput("`entryId` is not a ledger entry you can see.")
    index = store.leaf_index(entry.pk)
    if index is None:
        raise BadUserInput("The entry is not in the tree yet; it will be at the next checkpoint.")
    size = _signed_size(tree_size, "treeSize")
    if size <= index:
        raise BadUserInput(f"The entry is leaf {index}; `treeSize` must be over it (got {size}).")
    leaf = ledger.leaf_hash(entry)
    return InclusionProof(entry, index, size, leaf, store.inclusion_proof(index, size))


def consistency_proof(*, acting_user: Any, from_size: int, to_size: int) -> ConsistencyProof:
    require_role(acting_user, *LOG_READERS)
    to_size = _signed_size(to_size, "toSize")
    if not 0 <= from_size <= to_size:
        raise BadUserInput(f"`fromSize` must be between 0 and `toSize`; got {from_size}.")
    return ConsistencyProof(from_size, to_size, store.consistency_proof(from_size, to_size))


def tree_lines(size: int | None = None) -> Iterator[str]:
    """The entries in tree order as JSON lines, `{"index", "version", "leaf"}` (the leaf's
    encoding version and its fields): what the offline verifier reads. Streamed, so memory
    stays flat whatever the ledger's size."""
    entries = (
        ContributionEntry.objects.filter(leaf__isnull=False)
        .annotate(leaf_index=F("leaf__index"))
        .order_by("leaf__index")
    )
    if size is not None:
        entries = entries.filter(leaf__index__lt=size)
    for entry in entries.iterator(chunk_size=5000):
        row = {
            "index": entry.leaf_index,
            "version": entry.leaf_version,
            "leaf": ledger.leaf_values(entry),
        }
        yield json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n"


def tree_export(*, acting_user: Any, size: int | None) -> Iterator[str]:
    """The whole tree is the auditors' and operators' to export."""
    require_role(acting_user, *LEDGER_INSPECTORS)
    if size is not None and size < 0:
        raise BadUserInput(f"`size` must not be negative; got {size}.")
    return tree_lines(size)


def ledger_verify(*, acting_user: Any) -> ledger.VerifyResult:
    """Recompute the whole chain: the auditors' and operators' check."""
    require_role(acting_user, *LEDGER_INSPECTORS)
    return ledger.verify()
