"""Spreadsheet formula injection through the contributions exports: names in the ledger come
from imported files and from agencies and suppliers, and auditors open the downloads in Excel."""

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import load_workbook

from procurement.services import contributions
from procurement.views import HEADER
from shop.accounts.models import Role
from shop.accounts.tokens import create_access_token
from tests.factories import UserFactory
from tests.factories.catalog import credit_code

# Fast, and part of what the embedded default (SQLite) must get right.
pytestmark = pytest.mark.smoke

HOSTILE_SUPPLIER = '=HYPERLINK("http://x","y")'
HOSTILE_AGENCY = "@SUM(1+1)"
# Columns found by their header, never by position.
AMOUNT, AGENCY, SUPPLIER = (
    HEADER.index(h) for h in ("金额 amount (CNY)", "采购单位 agency", "供应商 supplier")
)

IMPORT = (
    """mutation($file: Upload!) { contributionImport(file: $file) { errors { code message } } }"""
)
ADJUST = """mutation($input: ContributionAdjustInput!) { contributionAdjust(input: $input) {
    errors { code } } }"""


def import_file(client, operator) -> None:
    """A channel report (e.g. from 832) with formulas in the seller and buyer names."""
    header = ",".join(contributions.IMPORT_COLUMNS)
    row = (
        f'INV-1,{credit_code(77)},"{HOSTILE_SUPPLIER.replace(chr(34), chr(34) * 2)}",'
        f"{HOSTILE_AGENCY},HOSPITAL,泉州市,2025-03-15,1200.50,832,枸杞,640521,枸杞干果"
    )
    operations = {"query": IMPORT, "variables": {"file": None}}
    answer = client.post(
        "/graphql/",
        {
            "operations": json.dumps(operations),
            "map": json.dumps({"0": ["variables.file"]}),
            "0": SimpleUploadedFile(
                "832.csv", f"{header}\n{row}\n".encode(), content_type="text/csv"
            ),
        },
        HTTP_AUTHORIZATION=f"Bearer {create_access_token(operator)}",
    ).json()
    assert answer["data"]["contributionImport"]["errors"] == []


@pytest.fixture
def ledger(client, gql, operator):
    import_file(client, operator)
    adjusted = gql(
        ADJUST,
        {"input": {"amount": "-12.50", "businessDate": "2025-05-01", "reason": "冲减"}},
        user=operator,
    )
    assert adjusted["data"]["contributionAdjust"]["errors"] == []
    return {"HTTP_AUTHORIZATION": f"Bearer {create_access_token(UserFactory(role=Role.AUDITOR))}"}


def csv_rows(client, auth) -> list[list[str]]:
    response = client.get("/exports/contributions.csv", **auth)
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def xlsx_sheet(client, auth):
    response = client.get("/exports/contributions.xlsx", **auth)
    assert response.status_code == 200
    return load_workbook(io.BytesIO(b"".join(response.streaming_content)))["统计台账"]


def test_csv_quotes_hostile_supplier_and_agency_names(client, ledger):
    imported = csv_rows(client, ledger)[1]
    assert (imported[SUPPLIER], imported[AGENCY]) == ("'" + HOSTILE_SUPPLIER, "'" + HOSTILE_AGENCY)


def test_xlsx_holds_hostile_names_as_string_cells(client, ledger):
    sheet = xlsx_sheet(client, ledger)
    supplier, agency = sheet.cell(2, SUPPLIER + 1), sheet.cell(2, AGENCY + 1)
    assert (supplier.data_type, supplier.value) == ("s", "'" + HOSTILE_SUPPLIER)
    assert (agency.data_type, agency.value) == ("s", "'" + HOSTILE_AGENCY)
    formulas = [c.coordinate for row in sheet.iter_rows() for c in row if c.data_type == "f"]
    assert formulas == []


def test_a_negative_amount_stays_a_number_in_csv(client, ledger):
    amounts = [row[AMOUNT] for row in csv_rows(client, ledger)[1:]]
    assert amounts == ["1200.50", "-12.50"]


def test_a_negative_amount_stays_a_number_in_xlsx(client, ledger):
    cell = xlsx_sheet(client, ledger).cell(3, AMOUNT + 1)
    assert (cell.data_type, cell.value, cell.number_format) == ("n", -12.5, "0.00")
