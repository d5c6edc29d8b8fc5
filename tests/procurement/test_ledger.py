"""The contribution ledger: what is booked, when, and that nobody can rewrite it unnoticed."""

import io
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection, transaction
from graphql_relay import to_global_id

from procurement import ledger
from procurement.models import ContributionEntry, ContributionRollup, LedgerIsAppendOnly
from procurement.reports import rollups
from procurement.services import contributions
from shop.accounts.models import Role
from shop.accounts.tokens import create_access_token
from tests.conftest import top_level_codes
from tests.factories import UserFactory
from tests.factories.catalog import credit_code
from tests.procurement import flows
from tests.procurement.flows import buyer, place, stocked_variant

SHANGHAI = ZoneInfo("Asia/Shanghai")


def counted_order(operator, *, quantity=10, price="50.00", accepted=None, agency_type="SCHOOL"):
    user = buyer(type=agency_type)
    (order,) = place(user, (stocked_variant(stock=1000, price=price), quantity))
    flows.to_shipped(order)
    lines = (
        [flows.orders.AcceptedLine(order.lines.get().pk, accepted)] if accepted is not None else []
    )
    flows.orders.order_accept(acting_user=user, order_id=order.pk, lines=lines)
    return flows.pay_by_transfer(order, operator), user


def test_an_order_is_booked_once_when_accepted_and_paid(operator):
    order, _user = counted_order(operator, quantity=10, price="50.00", accepted=8)
    (entry,) = ContributionEntry.objects.all()
    assert (entry.amount, entry.kind, entry.source) == (Decimal("400.00"), "PURCHASE", "ORDER")
    assert (entry.agency_city, entry.category, entry.origin_county_name) == (
        "福州市",
        "枸杞",
        "中宁县",
    )
    assert ledger.book_paid_order(order) == []  # again: nothing more
    assert ContributionEntry.objects.count() == 1


def test_accepted_but_unpaid_is_not_booked(operator):
    user = buyer()
    (order,) = place(user, (stocked_variant(), 2))
    flows.to_accepted(order, user)
    assert not ContributionEntry.objects.exists()


def test_a_resellers_purchase_counts_as_helped_sales(operator):
    counted_order(operator, agency_type="SUPERMARKET")
    assert ContributionEntry.objects.get().kind == "HELPED_SALES"


def test_entry_dimensions_are_snapshots(operator):
    order, user = counted_order(operator)
    user.agency.name = "改名后的学校"
    user.agency.save()
    assert ContributionEntry.objects.get().agency_name == order.agency_name != "改名后的学校"


def test_entry_is_dated_at_the_later_of_acceptance_and_payment_in_shanghai_time(operator):
    user = buyer()
    (order,) = place(user, (stocked_variant(price="10.00"), 1))
    with time_machine.travel(datetime(2025, 12, 31, 20, 0, tzinfo=SHANGHAI), tick=False):
        flows.to_accepted(order, user)
    # Paid at 00:30 on 1 January 2026 in Shanghai, which is still 31 December in UTC.
    with time_machine.travel(datetime(2026, 1, 1, 0, 30, tzinfo=SHANGHAI), tick=False):
        flows.pay_by_transfer(order, operator)
    entry = ContributionEntry.objects.get()
    assert entry.booked_at.astimezone(ZoneInfo("UTC")).date().isoformat() == "2025-12-31"
    assert entry.business_date.isoformat() == "2026-01-01"


@pytest.mark.parametrize(
    ("local_time", "counts_in_14th_plan"),
    [
        (datetime(2025, 12, 31, 23, 59, 59, tzinfo=SHANGHAI), True),
        (datetime(2026, 1, 1, 0, 0, 1, tzinfo=SHANGHAI), False),
    ],
)
def test_period_boundary_at_midnight_shanghai(gql, operator, local_time, counts_in_14th_plan):
    user = buyer()
    (order,) = place(user, (stocked_variant(price="1000.00"), 3))
    with time_machine.travel(local_time, tick=False):
        flows.to_accepted(order, user)
        flows.pay_by_transfer(order, operator)
    query = '{ targetProgress(code: "minning-14th-plan") { achieved { amount } byYear { year amount { amount } } } }'
    progress = gql(query, user=operator)["data"]["targetProgress"]
    assert progress["achieved"] == {"amount": "3000.00" if counts_in_14th_plan else "0.00"}
    assert {
        "year": 2025,
        "amount": {"amount": "3000.00" if counts_in_14th_plan else "0.00"},
    } in progress["byYear"]


def test_refund_in_a_later_year_books_a_negative_entry_in_that_year(gql, operator):
    with time_machine.travel(datetime(2025, 6, 1, 10, tzinfo=SHANGHAI), tick=False):
        order, _user = counted_order(operator, quantity=4, price="250.00")
    with time_machine.travel(datetime(2026, 2, 1, 10, tzinfo=SHANGHAI), tick=False):
        flows.payments.order_refund(
            acting_user=operator, order_id=order.pk, amount="300.00", reason="破损"
        )
    entries = list(ContributionEntry.objects.values_list("business_date__year", "amount", "source"))
    assert entries == [(2025, Decimal("1000.00"), "ORDER"), (2026, Decimal("-300.00"), "REFUND")]
    query = "{ contributionSummary(groupBy: [YEAR]) { total { amount } rows { keys { value } total { amount } } } }"
    summary = gql(query, user=operator)["data"]["contributionSummary"]
    assert summary["total"] == {"amount": "700.00"}
    assert summary["rows"] == [
        {"keys": [{"value": "2025"}], "total": {"amount": "1000.00"}},
        {"keys": [{"value": "2026"}], "total": {"amount": "-300.00"}},
    ]


def test_a_supplier_exited_after_the_order_keeps_the_booking(operator):
    order, _user = counted_order(operator)
    from catalog.services.suppliers import supplier_exit

    supplier_exit(acting_user=operator, supplier_id=order.supplier_id, reason="质量问题")
    assert ContributionEntry.objects.get().amount == order.accepted_value
    assert ledger.verify().ok


# --- Imports and adjustments ----------------------------------------------------------------

HEADER = ",".join(contributions.IMPORT_COLUMNS)


def import_csv(*rows: str) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode("utf-8")


def row(
    invoice="INV-0001",
    seller=None,
    amount="1200.50",
    date="2025-03-15",
    buyer_type="HOSPITAL",
    city="泉州市",
):
    seller = seller or credit_code(77, prefix="916405")
    return f"{invoice},{seller},宁夏某供应商,泉州市第一医院,{buyer_type},{city},{date},{amount},832,枸杞,640521,枸杞干果"


IMPORT = """mutation($file: Upload!) { contributionImport(file: $file) {
    import { rowCount total { amount } } errors { field code message } } }"""


def upload(client, user, data: bytes):
    import json

    operations = {"query": IMPORT, "variables": {"file": None}}
    return client.post(
        "/graphql/",
        {
            "operations": json.dumps(operations),
            "map": json.dumps({"0": ["variables.file"]}),
            "0": SimpleUploadedFile("832.csv", data, content_type="text/csv"),
        },
        HTTP_AUTHORIZATION=f"Bearer {create_access_token(user)}",
    ).json()


def test_import_books_purchases_from_other_channels(client, operator):
    data = import_csv(row(), row(invoice="INV-0002", amount="99.50", buyer_type="SUPERMARKET"))
    payload = upload(client, operator, data)["data"]["contributionImport"]
    assert payload == {"import": {"rowCount": 2, "total": {"amount": "1300.00"}}, "errors": []}
    kinds = list(ContributionEntry.objects.values_list("channel", "kind", "amount"))
    assert kinds == [
        ("832", "PURCHASE", Decimal("1200.50")),
        ("832", "HELPED_SALES", Decimal("99.50")),
    ]


def test_one_bad_row_refuses_the_whole_file_with_row_numbers(client, operator):
    data = import_csv(
        row(),
        row(invoice="INV-2", amount="-5"),
        row(invoice="INV-3", city="上海市"),
        row(invoice="INV-4"),
    )
    errors = upload(client, operator, data)["data"]["contributionImport"]["errors"]
    assert [e["message"][:6] for e in errors] == ["Row 3:", "Row 4:"]
    assert {e["field"] for e in errors} == {"file"}
    assert not ContributionEntry.objects.exists()


def test_an_invoice_already_counted_cannot_be_imported_again(client, operator):
    order, _user = counted_order(operator)
    flows.invoice(order)
    order.refresh_from_db()
    duplicate = row(invoice=order.invoice_number, seller=order.supplier.credit_code)
    errors = upload(client, operator, import_csv(duplicate))["data"]["contributionImport"]["errors"]
    assert "already counted" in errors[0]["message"]
    upload(client, operator, import_csv(row(invoice="X-1")))
    again = upload(client, operator, import_csv(row(invoice="X-1")))["data"]["contributionImport"][
        "errors"
    ]
    assert "already counted" in again[0]["message"]
    assert ContributionEntry.objects.filter(source="IMPORT").count() == 1


def test_a_resellers_resale_is_not_counted_again(client, operator):
    fujian_reseller = credit_code(5, prefix="913502")  # registered in Xiamen, not Ningxia
    errors = upload(client, operator, import_csv(row(seller=fujian_reseller)))["data"][
        "contributionImport"
    ]["errors"]
    assert "not registered in Ningxia" in errors[0]["message"]
    assert not ContributionEntry.objects.exists()


def test_adjustments_need_a_reason_and_are_signed(gql, operator):
    mutation = """mutation($input: ContributionAdjustInput!) { contributionAdjust(input: $input) {
        contribution { amount { amount } source reason } errors { field code } } }"""
    refused = gql(
        mutation,
        {"input": {"amount": "-50.00", "businessDate": "2025-05-01", "reason": " "}},
        user=operator,
    )
    assert refused["data"]["contributionAdjust"]["errors"] == [
        {"field": "reason", "code": "REQUIRED"}
    ]
    ok = gql(
        mutation,
        {"input": {"amount": "-50.00", "businessDate": "2025-05-01", "reason": "重复统计冲减"}},
        user=operator,
    )
    assert ok["data"]["contributionAdjust"]["contribution"] == {
        "amount": {"amount": "-50.00"},
        "source": "ADJUSTMENT",
        "reason": "重复统计冲减",
    }


# --- Append-only, tamper evidence -----------------------------------------------------------


def test_the_application_refuses_to_change_or_delete_entries(operator):
    counted_order(operator)
    entry = ContributionEntry.objects.get()
    entry.amount = Decimal("1.00")
    with pytest.raises(LedgerIsAppendOnly):
        entry.save()
    with pytest.raises(LedgerIsAppendOnly):
        entry.delete()
    with pytest.raises(LedgerIsAppendOnly):
        ContributionEntry.objects.update(amount=0)
    with pytest.raises(LedgerIsAppendOnly):
        ContributionEntry.objects.all().delete()


@pytest.mark.postgres
def test_the_database_refuses_raw_updates_and_deletes(operator):
    from django.db.utils import Error as DatabaseError

    counted_order(operator)
    for statement in (
        "UPDATE procurement_contributionentry SET amount = 1",
        "DELETE FROM procurement_contributionentry",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement)
    assert ContributionEntry.objects.count() == 1


@pytest.mark.postgres
def test_verify_names_the_entry_a_superuser_changed_behind_the_triggers_back(gql, operator):
    for _ in range(3):
        counted_order(operator)
    victim = ContributionEntry.objects.order_by("position")[1]
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending FK checks may block the ALTER
        cursor.execute(
            "ALTER TABLE procurement_contributionentry DISABLE TRIGGER contributionentry_append_only"
        )
        cursor.execute(
            "UPDATE procurement_contributionentry SET amount = amount + 1 WHERE id = %s",
            [victim.pk],
        )
        cursor.execute(
            "ALTER TABLE procurement_contributionentry ENABLE TRIGGER contributionentry_append_only"
        )
    payload = gql(
        "{ ledgerVerify { ok entriesChecked firstBrokenEntryId problem } }", user=operator
    )["data"]
    assert payload["ledgerVerify"]["ok"] is False
    assert payload["ledgerVerify"]["entriesChecked"] == 1
    assert payload["ledgerVerify"]["firstBrokenEntryId"] == to_global_id("Contribution", victim.pk)
    assert "content does not match its hash" in payload["ledgerVerify"]["problem"]
    with pytest.raises(Exception, match="Ledger broken after 1 good entries"):
        call_command("ledger_verify")


def test_verify_and_reconcile_pass_on_an_honest_ledger(gql, operator, capsys):
    order, _user = counted_order(operator, quantity=5, price="20.00")
    flows.payments.order_refund(
        acting_user=operator, order_id=order.pk, amount="30.00", reason="少量破损"
    )
    assert gql("{ ledgerVerify { ok entriesChecked } }", user=operator)["data"]["ledgerVerify"] == {
        "ok": True,
        "entriesChecked": 2,
    }
    call_command("ledger_reconcile")
    assert "Reconciled: no differences." in capsys.readouterr().out


def test_rollups_match_a_rebuild_from_the_entries(operator):
    for quantity in (1, 2, 3):
        counted_order(operator, quantity=quantity)
    rollups.fold()
    before = sorted(
        ContributionRollup.objects.values_list(
            "dimensions", "month", "value1", "value2", "total", "entry_count"
        )
    )
    with transaction.atomic():
        rollups.rebuild()
    after = sorted(
        ContributionRollup.objects.values_list(
            "dimensions", "month", "value1", "value2", "total", "entry_count"
        )
    )
    assert before == after
    assert len({row[0] for row in after}) == 56  # everything, 10 single and 45 paired groupings


# --- Access ---------------------------------------------------------------------------------

LEDGER_MUTATIONS = [
    (
        'mutation { contributionAdjust(input: {amount: "1", businessDate: "2025-01-01", reason: "r"}) { errors { code } } }',
        "contributionAdjust",
    ),
    (
        'mutation { targetCreate(input: {code: "x", name: "x", amount: "1", startDate: "2026-01-01", endDate: "2030-12-31"}) { errors { code } } }',
        "targetCreate",
    ),
]


@pytest.mark.parametrize(("mutation", "name"), LEDGER_MUTATIONS)
@pytest.mark.parametrize(
    "role", [Role.AUDITOR, Role.AGENCY, Role.SUPPLIER, Role.CONSUMER, Role.COUNTY_REVIEWER]
)
def test_ledger_mutations_are_operators_only(gql, mutation, name, role):
    response = gql(mutation, user=UserFactory(role=role))
    assert top_level_codes(response) == ["PERMISSION_DENIED"]
    assert not ContributionEntry.objects.exists()


def test_auditors_cannot_import(client, db):
    payload = upload(client, UserFactory(role=Role.AUDITOR), import_csv(row()))
    assert top_level_codes(payload) == ["PERMISSION_DENIED"]
    assert not ContributionEntry.objects.exists()


def test_agencies_see_only_their_own_figures(gql, operator):
    _mine, me = counted_order(operator, quantity=1, price="100.00")
    counted_order(operator, quantity=1, price="900.00")
    query = "{ contributionSummary { total { amount } entryCount } contributions { totalCount } }"
    assert gql(query, user=me)["data"] == {
        "contributionSummary": {"total": {"amount": "100.00"}, "entryCount": 1},
        "contributions": {"totalCount": 1},
    }
    assert gql(query, user=UserFactory(role=Role.AUDITOR))["data"]["contributionSummary"][
        "total"
    ] == {"amount": "1000.00"}


def test_summary_by_two_dimensions_and_with_filters(gql, operator):
    counted_order(operator, price="100.00", quantity=1, agency_type="SCHOOL")
    counted_order(operator, price="200.00", quantity=1, agency_type="SUPERMARKET")
    query = """query($f: ContributionFilterInput, $g: [ContributionDimension!]) { contributionSummary(filter: $f, groupBy: $g) {
        total { amount } rows { keys { dimension value label } total { amount } entryCount } } }"""
    by_kind_city = gql(query, {"g": ["KIND", "CITY"]}, user=operator)["data"]["contributionSummary"]
    assert [
        (r["keys"][0]["value"], r["keys"][1]["label"], r["total"]["amount"])
        for r in by_kind_city["rows"]
    ] == [
        ("HELPED_SALES", "福州市", "200.00"),
        ("PURCHASE", "福州市", "100.00"),
    ]
    filtered = gql(query, {"f": {"kinds": ["PURCHASE"]}, "g": ["AGENCY_TYPE"]}, user=operator)[
        "data"
    ]
    assert filtered["contributionSummary"]["total"] == {"amount": "100.00"}
    # Three dimensions fall back to summing the entries, with the same answer.
    wide = gql(query, {"g": ["KIND", "CITY", "CATEGORY"]}, user=operator)["data"][
        "contributionSummary"
    ]
    assert wide["total"] == {"amount": "300.00"}


def test_target_progress_and_new_targets(gql, operator):
    with time_machine.travel(datetime(2024, 7, 1, 12, tzinfo=SHANGHAI), tick=False):
        counted_order(operator, quantity=1000, price="1000.00")  # 1,000,000 CNY
        mutation = """mutation($input: TargetCreateInput!) { targetCreate(input: $input) { target { code } errors { field code } } }"""
        created = gql(
            mutation,
            {
                "input": {
                    "code": "fuzhou-2024",
                    "name": "福州市2024年",
                    "amount": "2000000",
                    "startDate": "2024-01-01",
                    "endDate": "2024-12-31",
                    "buyerCity": "福州市",
                    "parentCode": "minning-14th-plan",
                }
            },
            user=operator,
        )
        assert created["data"]["targetCreate"] == {"target": {"code": "fuzhou-2024"}, "errors": []}
        query = """query($code: String!) { targetProgress(code: $code) { achieved { amount } percent elapsedPercent
            projectedTotal { amount } onTrack byYear { year amount { amount } } } }"""
        progress = gql(query, {"code": "fuzhou-2024"}, user=operator)["data"]["targetProgress"]
    assert progress["achieved"] == {"amount": "1000000.00"}
    assert progress["percent"] == "50.00"
    assert progress["elapsedPercent"] == "50.00"  # 1 January to 1 July: 183 of 366 days
    assert progress["projectedTotal"] == {"amount": "2000000.00"}
    assert progress["onTrack"] is True
    assert progress["byYear"] == [{"year": 2024, "amount": {"amount": "1000000.00"}}]


def test_exports_stream_the_filtered_entries_with_bearer_auth(client, operator):
    counted_order(operator, price="10.00", quantity=3)
    counted_order(operator, price="10.00", quantity=5, agency_type="ECOMMERCE")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {create_access_token(UserFactory(role=Role.AUDITOR))}"}
    response = client.get("/exports/contributions.csv?kinds=HELPED_SALES", **auth)
    assert response.status_code == 200
    lines = b"".join(response.streaming_content).decode("utf-8-sig").strip().splitlines()
    assert len(lines) == 2 and ",HELPED_SALES,ORDER,50.00," in lines[1]  # noqa: PT018
    xlsx = client.get("/exports/contributions.xlsx", **auth)
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(b"".join(xlsx.streaming_content)), read_only=True)["统计台账"]
    assert len(list(sheet.iter_rows(values_only=True))) == 3
    assert client.get("/exports/contributions.csv").status_code == 401
    consumer = {
        "HTTP_AUTHORIZATION": f"Bearer {create_access_token(UserFactory(role=Role.CONSUMER))}"
    }
    assert client.get("/exports/contributions.csv", **consumer).status_code == 403


def test_the_append_only_refusal_answers_with_a_code_the_error_type_knows():
    # Reported through a mutation's `errors`, its code must serialise as a ProcurementErrorCode
    # value, not fail as an INTERNAL_SERVER_ERROR.
    from shop.core.graphql.mutations import error_payloads
    from shop.schema import schema

    (payload,) = error_payloads(LedgerIsAppendOnly())
    enum = schema.graphql_schema.get_type("ProcurementErrorCode")
    assert enum.serialize(payload.code) == "APPEND_ONLY"
