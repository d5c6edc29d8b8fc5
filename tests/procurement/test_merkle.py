"""The Merkle tree against RFC 9162 §2.1 written out recursively, for every index and size pair."""

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from procurement.transparency import merkle


def leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(str(i).encode()) for i in range(n)]


# The RFC's definitions, verbatim in recursive form: the reference the iterative code must match.
def rfc_path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = merkle.split(len(d))
    if m < k:
        return [*rfc_path(m, d[:k]), merkle.mth(d[k:])]
    return [*rfc_path(m - k, d[k:]), merkle.mth(d[:k])]


def rfc_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [merkle.mth(d)]
    k = merkle.split(len(d))
    if m <= k:
        return [*rfc_subproof(m, d[:k], b), merkle.mth(d[k:])]
    return [*rfc_subproof(m - k, d[k:], False), merkle.mth(d[:k])]


def test_hashes_use_the_rfc_prefixes():
    assert merkle.leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert merkle.node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()
    assert merkle.mth([]) == hashlib.sha256(b"").digest()


def test_known_root_of_three_leaves():
    a, b, c = (merkle.leaf_hash(x) for x in (b"a", b"b", b"c"))
    assert merkle.mth([a, b, c]) == merkle.node_hash(merkle.node_hash(a, b), c)
    assert merkle.mth([a, b, c]).hex() == (
        hashlib.sha256(
            b"\x01"
            + hashlib.sha256(
                b"\x01" + hashlib.sha256(b"\x00a").digest() + hashlib.sha256(b"\x00b").digest()
            ).digest()
            + hashlib.sha256(b"\x00c").digest()
        ).hexdigest()
    )


@settings(max_examples=60, deadline=None)
@given(size=st.integers(min_value=1, max_value=70))
def test_inclusion_proofs_match_the_rfc_and_verify_for_every_index(size):
    d = leaves(size)
    root = merkle.mth(d)
    for m in range(size):
        path = merkle.inclusion_path(m, size, merkle.in_memory(d))
        assert path == rfc_path(m, d)
        assert merkle.verify_inclusion(m, size, d[m], path, root)
        assert not merkle.verify_inclusion(m, size, merkle.leaf_hash(b"x"), path, root)
        if size > 1:
            assert not merkle.verify_inclusion((m + 1) % size, size, d[m], path, root)


@settings(max_examples=40, deadline=None)
@given(new=st.integers(min_value=1, max_value=40))
def test_consistency_proofs_match_the_rfc_and_verify_for_every_old_size(new):
    d = leaves(new)
    new_root = merkle.mth(d)
    for old in range(1, new + 1):
        old_root = merkle.mth(d[:old])
        path = merkle.consistency_path(old, new, merkle.in_memory(d))
        assert path == (rfc_subproof(old, d, True) if old < new else [])
        assert merkle.verify_consistency(old, new, old_root, new_root, path)
        if old < new:
            # A rewritten old tree is refused whatever the new root.
            forged = merkle.mth([merkle.leaf_hash(b"x"), *d[1:old]])
            assert not merkle.verify_consistency(old, new, forged, new_root, path)
            assert not merkle.verify_consistency(old, new, old_root, forged, path)


def test_proofs_refuse_impossible_sizes():
    d = leaves(4)
    for index, size in ((4, 4), (-1, 4), (0, 0)):
        try:
            merkle.inclusion_path(index, size, merkle.in_memory(d))
        except ValueError:
            continue
        raise AssertionError(f"{index}/{size} accepted")
    assert not merkle.verify_inclusion(5, 4, d[0], [], merkle.mth(d))
    assert not merkle.verify_consistency(3, 2, merkle.mth(d[:3]), merkle.mth(d[:2]), [])


@settings(max_examples=60, deadline=None)
@given(size=st.integers(min_value=0, max_value=300))
def test_compact_range_gives_the_root_and_the_stored_nodes(size):
    d = leaves(size)
    compact, nodes = merkle.CompactRange(), {}
    for h in d:
        for level, index, digest in compact.append(h):
            nodes[(level, index)] = digest
    assert compact.root() == merkle.mth(d)
    for (level, index), digest in nodes.items():
        assert digest == merkle.mth(d[index << level : (index + 1) << level])
    # Restarted from the stored right edge, it carries on as if it had never stopped.
    edge = [
        nodes.get(part, d[part[1]]) if part[0] else d[part[1]]
        for part in merkle.CompactRange.parts_of(size)
    ]
    again = merkle.CompactRange(size, edge)
    extra = merkle.leaf_hash(b"more")
    again.append(extra)
    assert again.root() == merkle.mth([*d, extra])


@settings(max_examples=60, deadline=None)
@given(data=st.data(), size=st.integers(min_value=1, max_value=200))
def test_any_range_hashes_from_its_perfect_parts(data, size):
    d = leaves(size)
    start = data.draw(st.integers(min_value=0, max_value=size - 1))
    end = data.draw(st.integers(min_value=start + 1, max_value=size))
    perfect = {
        (lv, i): merkle.mth(d[i << lv : (i + 1) << lv])
        for lv, i in merkle.perfect_parts(start, end)
    }
    assert merkle.range_hash(start, end, lambda lv, i: perfect[(lv, i)]) == merkle.mth(d[start:end])


def test_leaf_encoding_is_versioned_and_ordered():
    values = dict.fromkeys(merkle.LEAF_FIELDS_V1, "")
    values["amount"] = "12.30"
    encoded = merkle.encode_leaf(values)
    assert encoded.startswith(b"[1,")
    assert merkle.encode_leaf({**values, "amount": "12.31"}) != encoded


def test_each_leaf_is_encoded_in_the_version_it_names(monkeypatch):
    """A later encoding (a new signed column) leaves version 1's bytes as they were."""
    values = dict.fromkeys(merkle.LEAF_FIELDS_V1, "")
    values["amount"] = "12.30"
    first = merkle.encode_leaf(values, 1)
    monkeypatch.setitem(merkle.LEAF_ENCODINGS, 2, (*merkle.LEAF_FIELDS_V1, "district"))
    monkeypatch.setattr(merkle, "LEAF_VERSION", 2)
    assert merkle.encode_leaf(values, 1) == first
    second = merkle.encode_leaf({**values, "district": "思明区"}, 2)
    assert second.startswith(b"[2,")
    assert second.endswith('"思明区"]'.encode())
    assert merkle.encode_leaf({**values, "district": "思明区"}) == second  # the current one
    assert merkle.leaf_amount(first) == merkle.leaf_amount(second) == "12.30"
    with pytest.raises(ValueError, match="version 3 is unknown"):
        merkle.encode_leaf(values, 3)


@settings(max_examples=60, deadline=None)
@given(
    position=st.integers(min_value=0, max_value=2**63 - 1),
    name=st.text(alphabet=st.characters(blacklist_categories=["Cc", "Cs"])),
    version=st.sampled_from([1, 2]),
)
def test_a_leaf_is_its_text_around_the_position(position, name, version):
    """What the booking statement completes in the database: the text before and after the
    position (holding no tab or newline, which separate them there) with the position between
    them is the leaf's encoding."""
    encodings = {**merkle.LEAF_ENCODINGS, 2: ("kind", "agency_name", "position")}
    values = {**dict.fromkeys(merkle.LEAF_FIELDS_V1, None), "agency_name": name, "kind": "采购"}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(merkle, "LEAF_ENCODINGS", encodings)
        head, tail = merkle.encode_leaf_around(values, version, "position")
        expected = merkle.encode_leaf({**values, "position": position}, version)
    assert (head + str(position) + tail).encode() == expected
    assert not {"\t", "\n"} & set(head + tail)
