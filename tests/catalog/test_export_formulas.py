"""Spreadsheet formula injection through the public recommended-catalog downloads: a supplier's
text reaches every buyer's spreadsheet, so it must arrive there as inert text."""

import csv
import io
from decimal import Decimal

import pytest
from graphql_relay import to_global_id
from openpyxl import load_workbook

from catalog.models import ProductStatus
from shop.accounts.models import Role
from tests.factories import UserFactory, VariantFactory

# Fast, and part of what the embedded default (SQLite) must get right.
pytestmark = pytest.mark.smoke

HOSTILE_SPEC = '=HYPERLINK("http://x","y")'
SPEC_COLUMN, PRICE_COLUMN = 8, 10

UPDATE = """mutation($id: ID!, $spec: String!) { productVariantUpdate(id: $id, input: {spec: $spec}) {
    variant { spec } errors { code } } }"""


@pytest.fixture
def hostile_variant(gql):
    """A certified listing whose supplier set a formula as its spec, through the API."""
    variant = VariantFactory(unit_price=Decimal("168.00"))
    staff = UserFactory(role=Role.SUPPLIER, supplier=variant.product.supplier)
    answer = gql(
        UPDATE, {"id": to_global_id("ProductVariant", variant.pk), "spec": HOSTILE_SPEC}, user=staff
    )
    assert answer["data"]["productVariantUpdate"] == {
        "variant": {"spec": HOSTILE_SPEC},
        "errors": [],
    }
    variant.product.refresh_from_db()
    assert variant.product.status == ProductStatus.CERTIFIED  # still listed in the catalog
    return variant


def csv_rows(client) -> list[list[str]]:
    response = client.get("/exports/recommended-catalog.csv")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def xlsx_sheet(client):
    response = client.get("/exports/recommended-catalog.xlsx")
    assert response.status_code == 200
    return load_workbook(io.BytesIO(b"".join(response.streaming_content)))["推荐目录"]


def test_csv_quotes_a_spec_that_starts_a_formula(client, hostile_variant):
    assert csv_rows(client)[1][SPEC_COLUMN] == "'" + HOSTILE_SPEC


def test_xlsx_holds_a_hostile_spec_as_a_string_cell_not_a_formula(client, hostile_variant):
    cell = xlsx_sheet(client).cell(row=2, column=SPEC_COLUMN + 1)
    assert cell.data_type == "s"
    assert cell.value == "'" + HOSTILE_SPEC


# Leading tab and CR cannot get here (services strip text); tests/shop/core/test_exports.py.
@pytest.mark.parametrize("spec", ["+1+1", "-1+1", "@SUM(A1)"])
def test_every_formula_trigger_is_quoted(gql, client, spec):
    variant = VariantFactory()
    staff = UserFactory(role=Role.SUPPLIER, supplier=variant.product.supplier)
    gql(UPDATE, {"id": to_global_id("ProductVariant", variant.pk), "spec": spec}, user=staff)
    assert csv_rows(client)[1][SPEC_COLUMN] == "'" + spec
    assert xlsx_sheet(client).cell(row=2, column=SPEC_COLUMN + 1).value == "'" + spec


def test_an_error_literal_is_text_in_xlsx(gql, client):
    variant = VariantFactory()
    staff = UserFactory(role=Role.SUPPLIER, supplier=variant.product.supplier)
    gql(UPDATE, {"id": to_global_id("ProductVariant", variant.pk), "spec": "#REF!"}, user=staff)
    cell = xlsx_sheet(client).cell(row=2, column=SPEC_COLUMN + 1)
    assert (cell.data_type, cell.value) == ("s", "#REF!")


def test_price_stays_a_number_with_two_places(client, hostile_variant):
    assert csv_rows(client)[1][PRICE_COLUMN] == "168.00"
    cell = xlsx_sheet(client).cell(row=2, column=PRICE_COLUMN + 1)
    assert (cell.data_type, cell.value, cell.number_format) == ("n", 168, "0.00")
