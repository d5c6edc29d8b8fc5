"""The ledger as a transparency log: sequencing, signed checkpoints, proofs from stored hashes,
the offline verifier, and tampering caught even when every hash is recomputed."""

import base64
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from graphql_relay import to_global_id

from procurement import checks, ledger
from procurement.models import (
    ContributionEntry,
    LedgerCheckpoint,
    LedgerHead,
    LedgerTreeNode,
)
from procurement.reports import rollups
from procurement.services import contributions
from procurement.transparency import merkle, signing, store, verifier
from shop.accounts.models import Role
from shop.accounts.tokens import create_access_token
from tests.conftest import top_level_codes
from tests.factories import UserFactory
from tests.procurement.test_ledger import counted_order


def raw_key(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(
        key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
    ).decode()


SERVER_KEY = Ed25519PrivateKey.generate()


@pytest.fixture(autouse=True)
def signing_key(settings):
    settings.LEDGER_SIGNING_KEY = raw_key(SERVER_KEY)


def public_key_text(key=SERVER_KEY) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def adjust(operator, amount="10.00", *, city_code="350200", category="枸杞", day=date(2025, 3, 1)):
    return contributions.contribution_adjust(
        acting_user=operator,
        data=contributions.AdjustmentInput(
            amount=Decimal(amount),
            business_date=day,
            reason="测试",
            agency_city_code=city_code,
            category=category,
        ),
    )


def leaves_in_tree_order() -> list[bytes]:
    return [
        bytes(h)
        for h in LedgerTreeNode.objects.filter(level=0)
        .order_by("index")
        .values_list("hash", flat=True)
    ]


CHECKPOINTS = """{ ledgerCheckpoints(first: 50) { edges { node {
    treeSize rootHash timestamp signature keyId } } } }"""


def kept_checkpoints(gql, user) -> list[dict]:
    answer = gql(CHECKPOINTS, user=user)["data"]["ledgerCheckpoints"]["edges"]
    return [edge["node"] for edge in answer]


# --- Booking and sequencing ----------------------------------------------------------------


def test_a_booking_stores_its_leaf_hash_and_no_chain_link(operator):
    entry = adjust(operator)
    entry.refresh_from_db()
    assert entry.prev_hash == ""
    assert entry.hash == ledger.leaf_hash(entry).hex()
    assert not LedgerTreeNode.objects.exists()  # the tree grows at checkpoints


@pytest.mark.smoke
def test_a_checkpoint_sequences_the_entries_and_signs_the_root(operator):
    booked = [adjust(operator, f"{n}.00") for n in range(1, 6)]
    call_command("ledger_checkpoint", stdout=io.StringIO())
    checkpoint = LedgerCheckpoint.objects.get()
    expected = merkle.mth([ledger.leaf_hash(entry) for entry in booked])
    assert (checkpoint.tree_size, checkpoint.root_hash) == (5, expected.hex())
    signed = store.as_signed(checkpoint)
    assert merkle.signature_holds(signed, merkle.load_public_key(public_key_text()))
    assert LedgerHead.objects.get(pk=1).tree_size == 5


def stored_entry(position: int, amount: Decimal, *, source_key: str) -> ContributionEntry:
    return ContributionEntry(
        position=position,
        kind="PURCHASE",
        source="ADJUSTMENT",
        amount=amount,
        booked_at=datetime(2024, 1, 1, tzinfo=UTC),
        business_date=date(2024, 1, 1),
        source_key=source_key,
        buyer_province="福建省",
        origin_province="宁夏回族自治区",
    )


def test_entries_booked_before_the_log_join_the_tree_with_their_amounts(operator):
    legacy = stored_entry(store.next_positions(1)[0], Decimal("1234.56"), source_key="legacy:1")
    legacy.prev_hash = ledger.GENESIS_HASH
    legacy.hash = ledger.entry_hash(legacy)
    ContributionEntry.objects.bulk_create([legacy])
    store.checkpoint()
    legacy.refresh_from_db()
    assert legacy.amount == Decimal("1234.56")
    assert legacy.prev_hash == ledger.GENESIS_HASH  # its chain hash is kept for history
    assert leaves_in_tree_order() == [ledger.leaf_hash(legacy)]


def committed_late(position: int) -> ContributionEntry:
    """The entry of a booking that took `position` and committed only now, as append stores it."""
    entry = stored_entry(position, Decimal("3.00"), source_key=f"late:{position}")
    entry.prev_hash, entry.hash = "", ledger.leaf_hash(entry).hex()
    ContributionEntry.objects.bulk_create([entry])
    rollups.record([entry])
    return entry


def test_a_booking_committed_after_a_later_one_was_sequenced_still_joins_the_tree(operator):
    held = store.next_positions(1)[0]  # a booking takes its position …
    adjust(operator, "2.00")  # … a later one commits and is sequenced …
    store.checkpoint()
    late = committed_late(held)  # … then the first one commits
    assert store.checkpoint().tree_size == 2
    assert leaves_in_tree_order()[1] == ledger.leaf_hash(late)
    assert ledger.verify().ok


def test_verify_names_a_booking_committed_too_late_to_be_sequenced(operator, monkeypatch):
    monkeypatch.setattr(store, "SEQUENCE_SLACK", 0)  # look back no position at all
    held = store.next_positions(1)[0]
    adjust(operator, "2.00")
    store.checkpoint()
    late = committed_late(held)
    assert store.checkpoint().tree_size == 1
    result = ledger.verify()
    assert (result.ok, result.first_broken_entry_id) == (False, late.pk)
    assert "left out of the tree" in result.problem


def test_stored_subtree_hashes_give_the_rfc_proofs_for_every_index_and_size(operator):
    sizes = []
    for batch in (1, 2, 4, 6):  # checkpoints at 1, 3, 7 and 13 leaves
        for _ in range(batch):
            adjust(operator)
        sizes.append(store.checkpoint().tree_size)
    leaves = leaves_in_tree_order()
    rehashed = merkle.in_memory(leaves)
    for size in sizes:
        assert store.root_at(size) == merkle.mth(leaves[:size])
        for index in range(size):
            assert store.inclusion_proof(index, size) == merkle.inclusion_path(
                index, size, rehashed
            )
        for old in range(size + 1):
            assert store.consistency_proof(old, size) == merkle.consistency_path(
                old, size, rehashed
            )


# --- Proofs over the API -------------------------------------------------------------------

INCLUSION = """query($id: ID!, $size: Int) { ledgerInclusionProof(entryId: $id, treeSize: $size) {
    leafIndex treeSize leaf leafHash auditPath } }"""
CONSISTENCY = """query($a: Int!, $b: Int!) { ledgerConsistencyProof(fromSize: $a, toSize: $b) {
    fromSize toSize path } }"""


def test_an_agency_proves_its_entry_is_in_the_signed_tree(gql, operator):
    order, agency_user = counted_order(operator)
    for _ in range(4):
        adjust(operator)
    store.checkpoint()
    entry = ContributionEntry.objects.get(order=order)
    proof = gql(INCLUSION, {"id": to_global_id("Contribution", entry.pk)}, user=agency_user)
    proof = proof["data"]["ledgerInclusionProof"]
    (checkpoint,) = kept_checkpoints(gql, agency_user)
    assert merkle.leaf_hash(proof["leaf"].encode()).hex() == proof["leafHash"]
    assert merkle.verify_inclusion(
        proof["leafIndex"],
        proof["treeSize"],
        bytes.fromhex(proof["leafHash"]),
        [bytes.fromhex(h) for h in proof["auditPath"]],
        bytes.fromhex(checkpoint["rootHash"]),
    )


def test_the_verifier_checks_a_saved_inclusion_proof(gql, operator, tmp_path, capsys):
    order, agency_user = counted_order(operator, quantity=3, price="12.50")
    adjust(operator)
    store.checkpoint()
    entry = ContributionEntry.objects.get(order=order)
    answer = gql(INCLUSION, {"id": to_global_id("Contribution", entry.pk)}, user=agency_user)
    kept = tmp_path / "checkpoints.json"
    kept.write_text(json.dumps(kept_checkpoints(gql, agency_user)))
    args = ["--checkpoints", str(kept), "--public-key", public_key_text()]
    (tmp_path / "proof.json").write_text(json.dumps(answer))
    assert verifier.main([*args, "--inclusion", str(tmp_path / "proof.json")]) == 0
    assert "included: leaf 0 of the signed tree of size 2, amount 37.50" in capsys.readouterr().out
    forged = answer["data"]["ledgerInclusionProof"]
    forged["leaf"] = forged["leaf"].replace('"37.50"', '"3750.00"')
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    assert verifier.main([*args, "--inclusion", str(tmp_path / "forged.json")]) == 1
    assert "REFUSED: the entry is not leaf 0" in capsys.readouterr().out


def test_a_supplier_proves_its_own_entry(gql, operator):
    order, _agency = counted_order(operator)
    store.checkpoint()
    entry = ContributionEntry.objects.get(order=order)
    staff = UserFactory(role=Role.SUPPLIER, supplier=order.supplier)
    answer = gql(INCLUSION, {"id": to_global_id("Contribution", entry.pk)}, user=staff)
    assert answer["data"]["ledgerInclusionProof"]["leafIndex"] == 0


def test_an_agency_cannot_prove_anothers_entry(gql, operator):
    order, _owner = counted_order(operator)
    _other_order, other = counted_order(operator)
    store.checkpoint()
    entry = ContributionEntry.objects.get(order=order)
    answer = gql(INCLUSION, {"id": to_global_id("Contribution", entry.pk)}, user=other)
    assert top_level_codes(answer) == ["BAD_USER_INPUT"]
    assert "you can see" in answer["errors"][0]["message"]


@pytest.mark.parametrize("size", [0, 3, -1])
def test_an_inclusion_proof_for_a_size_not_over_the_entry_is_refused(gql, operator, size):
    entry = adjust(operator)
    adjust(operator)
    store.checkpoint()
    checkpoints = LedgerCheckpoint.objects.count()
    answer = gql(
        INCLUSION, {"id": to_global_id("Contribution", entry.pk), "size": size}, user=operator
    )
    assert top_level_codes(answer) == ["BAD_USER_INPUT"]
    assert answer["data"] is None
    assert LedgerCheckpoint.objects.count() == checkpoints


def test_an_entry_not_yet_sequenced_has_no_proof_yet(gql, operator):
    store.checkpoint()
    entry = adjust(operator)
    answer = gql(INCLUSION, {"id": to_global_id("Contribution", entry.pk)}, user=operator)
    assert top_level_codes(answer) == ["BAD_USER_INPUT"]
    assert "next checkpoint" in answer["errors"][0]["message"]


def test_an_auditor_proves_a_later_checkpoint_extends_an_earlier_one(gql, operator):
    auditor = UserFactory(role=Role.AUDITOR)
    for _ in range(3):
        adjust(operator)
    store.checkpoint()
    for _ in range(4):
        adjust(operator)
    store.checkpoint()
    newer, older = kept_checkpoints(gql, auditor)
    answer = gql(CONSISTENCY, {"a": 3, "b": 7}, user=auditor)["data"]["ledgerConsistencyProof"]
    assert merkle.verify_consistency(
        3,
        7,
        bytes.fromhex(older["rootHash"]),
        bytes.fromhex(newer["rootHash"]),
        [bytes.fromhex(h) for h in answer["path"]],
    )


@pytest.mark.parametrize(("old", "new"), [(3, 2), (-1, 2), (1, 9)])
def test_a_consistency_proof_between_impossible_sizes_is_refused(gql, operator, old, new):
    for _ in range(3):
        adjust(operator)
    store.checkpoint()
    answer = gql(CONSISTENCY, {"a": old, "b": new}, user=operator)
    assert top_level_codes(answer) == ["BAD_USER_INPUT"]
    assert answer["data"] is None


def test_consumers_get_no_proofs(gql, operator):
    adjust(operator)
    store.checkpoint()
    consumer = UserFactory(role=Role.CONSUMER)
    answer = gql(CONSISTENCY, {"a": 0, "b": 1}, user=consumer)
    assert top_level_codes(answer) == ["PERMISSION_DENIED"]


def test_the_public_key_is_published_to_anyone(gql):
    answer = gql("{ ledgerPublicKey { algorithm publicKey keyId } }")["data"]["ledgerPublicKey"]
    assert answer["algorithm"] == "Ed25519"
    assert answer["publicKey"] == public_key_text()


def test_a_server_without_a_signing_key_says_so_instead_of_failing(gql, settings):
    settings.LEDGER_SIGNING_KEY, settings.LEDGER_SIGNING_KEY_FILE = "", ""
    answer = gql("{ ledgerPublicKey { publicKey } }")
    assert top_level_codes(answer) == ["SERVICE_UNAVAILABLE"]
    assert "signing key" in answer["errors"][0]["message"]


def test_verify_reports_a_checkpoint_it_cannot_check_without_the_key(operator, settings):
    adjust(operator)
    store.checkpoint()
    settings.LEDGER_SIGNING_KEY, settings.LEDGER_SIGNING_KEY_FILE = "", ""
    result = ledger.verify()
    assert not result.ok
    assert "no signing key" in result.problem


# --- Signing key ---------------------------------------------------------------------------


def test_the_deploy_check_refuses_a_missing_signing_key(settings):
    settings.LEDGER_SIGNING_KEY, settings.LEDGER_SIGNING_KEY_FILE = "", ""
    with override_settings(DEBUG=False):
        (error,) = checks.ledger_signing_key(None)
    assert error.id == "procurement.E001"
    assert "LEDGER_SIGNING_KEY" in error.msg


def test_debug_generates_one_development_key_and_keeps_it(settings, tmp_path):
    path = tmp_path / ".ledger-signing-key"
    settings.LEDGER_SIGNING_KEY, settings.LEDGER_SIGNING_KEY_FILE = "", str(path)
    with override_settings(DEBUG=True):
        first = signing.public_key_text()
        second = signing.public_key_text()
    assert first == second
    assert path.stat().st_mode & 0o777 == 0o600
    with override_settings(DEBUG=False):
        assert signing.public_key_text() == first  # the file, once there, is the key


def test_the_signing_key_may_come_from_a_pem_file(settings, tmp_path, operator):
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (tmp_path / "key.pem").write_bytes(pem)
    settings.LEDGER_SIGNING_KEY, settings.LEDGER_SIGNING_KEY_FILE = "", str(tmp_path / "key.pem")
    adjust(operator)
    signed = store.as_signed(store.checkpoint())
    assert merkle.signature_holds(signed, merkle.load_public_key(public_key_text(key)))
    with override_settings(DEBUG=False):
        assert checks.ledger_signing_key(None) == []


# --- The offline verifier ------------------------------------------------------------------


def export(client, auditor, size=None) -> str:
    token = create_access_token(auditor)
    url = "/exports/ledger.jsonl" + (f"?size={size}" if size is not None else "")
    response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode()


def run_verifier(tmp_path, entries: str, checkpoints: list[dict], key=None, summary=None):
    (tmp_path / "entries.jsonl").write_text(entries, encoding="utf-8")
    (tmp_path / "checkpoints.json").write_text(json.dumps(checkpoints))
    args = [
        str(tmp_path / "entries.jsonl"),
        "--checkpoints",
        str(tmp_path / "checkpoints.json"),
        "--public-key",
        key or public_key_text(),
    ]
    if summary is not None:
        (tmp_path / "summary.json").write_text(json.dumps(summary))
        args += ["--summary", str(tmp_path / "summary.json")]
    return verifier.main(args)


SUMMARY = """query($g: [ContributionDimension!]) { contributionSummary(groupBy: $g) {
    total { amount } rows { keys { value label } total { amount } } } }"""


@pytest.mark.smoke
def test_the_verifier_recomputes_roots_and_totals_beside_the_server(
    gql, client, operator, tmp_path, capsys
):
    auditor = UserFactory(role=Role.AUDITOR)
    adjust(operator, "100.00", city_code="350200", day=date(2024, 5, 1))
    store.checkpoint()
    adjust(operator, "20.50", city_code="350500", category="红枣", day=date(2025, 5, 1))
    adjust(operator, "-0.50", city_code="350500", category="红枣", day=date(2025, 6, 1))
    store.checkpoint()
    summary = {
        g or "": gql(SUMMARY, {"g": [g] if g else []}, user=auditor)["data"]["contributionSummary"]
        for g in (None, *verifier.DIMENSIONS)
    }
    status = run_verifier(
        tmp_path, export(client, auditor), kept_checkpoints(gql, auditor), summary=summary
    )
    out = capsys.readouterr().out
    assert status == 0, out
    assert "checkpoint 3 at" in out
    assert "extends 1" in out
    assert "TOTAL" in out
    assert "120.00" in out
    assert "YEAR      2025                                    20.00                20.00" in out
    assert "CITY      泉州市" in out
    assert "DIFFERS" not in out


def test_the_verifier_refuses_a_checkpoint_signed_with_another_key(
    gql, client, operator, tmp_path, capsys
):
    auditor = UserFactory(role=Role.AUDITOR)
    adjust(operator)
    store.checkpoint()
    (kept,) = kept_checkpoints(gql, auditor)
    forged = merkle.Checkpoint.from_json(kept)
    forger = Ed25519PrivateKey.generate()
    forged_json = merkle.Checkpoint(
        forged.tree_size, forged.root_hash, forged.timestamp, forger.sign(forged.signed_text())
    ).to_json()
    status = run_verifier(tmp_path, export(client, auditor), [forged_json])
    assert status == 1
    assert "its signature does not hold" in capsys.readouterr().out


def test_ledger_verify_refuses_a_forged_checkpoint(gql, operator):
    adjust(operator)
    made = store.checkpoint()
    forger = Ed25519PrivateKey.generate()
    LedgerCheckpoint.objects.create(
        tree_size=made.tree_size,
        root_hash=made.root_hash,
        timestamp=made.timestamp,
        signature=base64.b64encode(forger.sign(store.as_signed(made).signed_text())).decode(),
        key_id="forged",
    )
    answer = gql("{ ledgerVerify { ok problem } }", user=operator)["data"]["ledgerVerify"]
    assert answer == {
        "ok": False,
        "problem": f"checkpoint of size {made.tree_size}: its signature does not hold",
    }


def test_ledger_verify_passes_on_an_honest_tree(gql, operator):
    for _ in range(5):
        adjust(operator)
    store.checkpoint()
    adjust(operator)  # booked after the checkpoint: checked against its own hash
    answer = gql("{ ledgerVerify { ok entriesChecked problem } }", user=operator)
    assert answer["data"]["ledgerVerify"] == {"ok": True, "entriesChecked": 6, "problem": None}


# --- Tampering by whoever owns the database --------------------------------------------------


def rewrite_behind_the_triggers_back(*statements):
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            "ALTER TABLE procurement_contributionentry DISABLE TRIGGER contributionentry_append_only"
        )
        for statement, params in statements:
            cursor.execute(statement, params)
        cursor.execute(
            "ALTER TABLE procurement_contributionentry ENABLE TRIGGER contributionentry_append_only"
        )


def rebuild_the_tree_and_sign() -> None:
    """What an owner of the database and the key could do: recompute every leaf hash, every
    node, the rollups and the latest root from the rewritten entries, and sign it."""
    for entry in ContributionEntry.objects.all():
        rewrite_behind_the_triggers_back(
            (
                "UPDATE procurement_contributionentry SET hash = %s WHERE id = %s",
                [ledger.leaf_hash(entry).hex(), entry.pk],
            )
        )
    LedgerTreeNode.objects.all().delete()
    LedgerHead.objects.filter(pk=1).update(tree_size=0, sequenced_position=0)
    rollups.rebuild()
    store.checkpoint()


def three_checkpoints(operator) -> list[ContributionEntry]:
    entries = []
    for _ in range(3):
        entries += [adjust(operator, "10.00"), adjust(operator, "20.00")]
        store.checkpoint()
    return entries  # checkpoints at 2, 4 and 6


@pytest.mark.postgres
def test_a_rewritten_amount_with_every_hash_recomputed_fails_the_first_checkpoint_after_it(
    gql, client, operator, tmp_path, capsys
):
    auditor = UserFactory(role=Role.AUDITOR)
    entries = three_checkpoints(operator)
    kept = kept_checkpoints(gql, auditor)
    rewrite_behind_the_triggers_back(
        (
            "UPDATE procurement_contributionentry SET amount = amount + 1000 WHERE id = %s",
            [entries[2].pk],
        )
    )
    rebuild_the_tree_and_sign()
    assert ledger.verify().ok  # the server's own check cannot see it: everything was re-signed
    status = run_verifier(tmp_path, export(client, auditor), kept)
    out = capsys.readouterr().out
    assert status == 1
    assert "checkpoint 2 at" in out  # the earlier one still holds
    assert f"REFUSED: checkpoint of size 4 at {kept[1]['timestamp']} no longer holds" in out


@pytest.mark.postgres
def test_a_deleted_entry_is_caught(gql, client, operator, tmp_path, capsys):
    auditor = UserFactory(role=Role.AUDITOR)
    entries = three_checkpoints(operator)
    kept = kept_checkpoints(gql, auditor)
    LedgerTreeNode.objects.all().delete()
    rewrite_behind_the_triggers_back(
        ("DELETE FROM procurement_pendingrollup WHERE entry_id = %s", [entries[4].pk]),
        ("DELETE FROM procurement_contributionentry WHERE id = %s", [entries[4].pk]),
    )
    LedgerHead.objects.filter(pk=1).update(tree_size=0, sequenced_position=0)
    store.checkpoint()
    status = run_verifier(tmp_path, export(client, auditor), kept)
    assert status == 1
    assert "REFUSED: checkpoint of size 6" in capsys.readouterr().out


def test_reordered_leaves_are_caught(gql, client, operator, tmp_path, capsys):
    auditor = UserFactory(role=Role.AUDITOR)
    three_checkpoints(operator)
    kept = kept_checkpoints(gql, auditor)
    first, second = LedgerTreeNode.objects.filter(level=0, index__in=(0, 1)).order_by("index")
    LedgerTreeNode.objects.filter(pk=first.pk).update(index=99)
    LedgerTreeNode.objects.filter(pk=second.pk).update(index=0)
    LedgerTreeNode.objects.filter(pk=first.pk).update(index=1)
    status = run_verifier(tmp_path, export(client, auditor), kept)
    assert status == 1
    assert "REFUSED: checkpoint of size 2" in capsys.readouterr().out
    assert not ledger.verify().ok


@pytest.mark.postgres
def test_ledger_verify_finds_a_rewritten_tree_that_was_not_signed_again(gql, operator):
    entries = three_checkpoints(operator)
    rewrite_behind_the_triggers_back(
        (
            "UPDATE procurement_contributionentry SET amount = amount + 1, hash = '' WHERE id = %s",
            [entries[1].pk],
        )
    )
    answer = gql("{ ledgerVerify { ok firstBrokenEntryId problem } }", user=operator)
    assert answer["data"]["ledgerVerify"]["ok"] is False
    assert answer["data"]["ledgerVerify"]["firstBrokenEntryId"] == to_global_id(
        "Contribution", entries[1].pk
    )


def test_the_tree_export_is_for_auditors_and_operators(client, operator):
    _order, agency_user = counted_order(operator)
    store.checkpoint()
    token = create_access_token(agency_user)
    response = client.get("/exports/ledger.jsonl", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "PERMISSION_DENIED"


def test_a_tree_export_size_that_is_not_a_number_is_refused(client, operator):
    token = create_access_token(operator)
    response = client.get("/exports/ledger.jsonl?size=ten", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "BAD_USER_INPUT"


def test_the_commands_checkpoint_and_export_what_the_verifier_reads(operator, tmp_path, capsys):
    adjust(operator, "7.00")
    adjust(operator, "8.00")
    out = io.StringIO()
    call_command("ledger_checkpoint", stdout=out)
    assert "tree size 2" in out.getvalue()
    call_command("ledger_export", "--size", "1", "--out", str(tmp_path / "one.jsonl"))
    (line,) = (tmp_path / "one.jsonl").read_text(encoding="utf-8").splitlines()
    row = json.loads(line)
    assert (row["index"], row["leaf"]["amount"]) == (0, "7.00")
    entries = io.StringIO()
    call_command("ledger_export", stdout=entries)
    checkpoint = store.as_signed(LedgerCheckpoint.objects.get()).to_json()
    assert run_verifier(tmp_path, entries.getvalue(), [checkpoint]) == 0
    assert "TOTAL     all                                     15.00" in capsys.readouterr().out


# --- Leaf encoding versions -----------------------------------------------------------------


@pytest.fixture
def version_two(monkeypatch):
    """A made-up version 2 of the leaf encoding, signing one more column (`district`, served
    here by a property rather than a migration), for the length of one test."""

    def switch():
        monkeypatch.setattr(
            ContributionEntry, "district", property(lambda e: e.agency_city[:2]), raising=False
        )
        monkeypatch.setitem(merkle.LEAF_ENCODINGS, 2, (*merkle.LEAF_FIELDS_V1, "district"))
        monkeypatch.setattr(merkle, "LEAF_VERSION", 2)

    return switch


def test_a_new_leaf_version_signs_new_entries_while_old_ones_keep_verifying(
    gql, client, operator, tmp_path, capsys, version_two
):
    auditor = UserFactory(role=Role.AUDITOR)
    old = adjust(operator, "10.00", city_code="350200")
    store.checkpoint()
    version_two()
    new = adjust(operator, "20.00", city_code="350500")
    store.checkpoint()
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.leaf_version, new.leaf_version) == (1, 2)
    assert old.hash == merkle.leaf_hash(merkle.encode_leaf(ledger.leaf_values(old), 1)).hex()
    assert ledger.leaf_values(new)["district"] == "泉州"
    assert json.loads(ledger.encoded_leaf(new))[0] == 2
    assert new.hash == merkle.leaf_hash(ledger.encoded_leaf(new)).hex()
    # The server's check and the offline verifier read each entry in its own version.
    assert ledger.verify() == ledger.VerifyResult(True, 2, None)
    lines = [json.loads(line) for line in export(client, auditor).splitlines()]
    assert [(line["version"], "district" in line["leaf"]) for line in lines] == [
        (1, False),
        (2, True),
    ]
    kept = kept_checkpoints(gql, auditor)
    assert run_verifier(tmp_path, export(client, auditor), kept) == 0, capsys.readouterr().out
    proof = gql(INCLUSION, {"id": to_global_id("Contribution", new.pk)}, user=auditor)
    assert proof["data"]["ledgerInclusionProof"]["leaf"].startswith("[2,")
    assert proof["data"]["ledgerInclusionProof"]["leaf"].endswith(',"泉州"]')
    # Claiming the old entry was booked in version 2 gives another leaf: the checkpoints refuse.
    forged = json.dumps({**lines[0], "version": 2, "leaf": {**lines[0]["leaf"], "district": ""}})
    capsys.readouterr()
    entries = "\n".join([forged, json.dumps(lines[1])]) + "\n"
    assert run_verifier(tmp_path, entries, kept) == 1
    assert "REFUSED: checkpoint of size 1" in capsys.readouterr().out


def test_an_export_without_versions_is_read_as_version_one(gql, client, operator, tmp_path):
    """Exports saved before entries carried their version still verify."""
    auditor = UserFactory(role=Role.AUDITOR)
    adjust(operator)
    store.checkpoint()
    lines = [json.loads(line) for line in export(client, auditor).splitlines()]
    unversioned = "".join(
        json.dumps({"index": r["index"], "leaf": r["leaf"]}) + "\n" for r in lines
    )
    assert run_verifier(tmp_path, unversioned, kept_checkpoints(gql, auditor)) == 0
