"""The ledger's dimensions are declared once (procurement/reports/dimensions.py): the group-by
enum, the filter input, the exports' query parameters and columns, the import's columns and the
offline verifier's totals are all read from it, and the files keep the columns their readers
know where they were."""

import subprocess
import sys
from pathlib import Path

import pytest

from procurement import views
from procurement.reports import dimensions
from procurement.reports.filters import ledger_filter_from
from procurement.services import contributions
from procurement.transparency import verifier

pytestmark = pytest.mark.smoke

INPUT = """{ __type(name: "ContributionFilterInput") {
    inputFields(includeDeprecated: true) { name isDeprecated type { ofType { ofType { name } } } } } }"""
ENUM = """{ __type(name: "ContributionDimension") { enumValues { name } } }"""


def test_the_group_by_enum_is_the_registrys(gql, db):
    values = [v["name"] for v in gql(ENUM)["data"]["__type"]["enumValues"]]
    assert values == ["YEAR", "MONTH", *(d.name for d in dimensions.DIMENSIONS if d.groupable)]


def test_the_filter_input_is_the_registrys(gql, db):
    fields = gql(INPUT)["data"]["__type"]["inputFields"]
    expected = [dimensions.camel(argument.name) for _d, argument in dimensions.filter_arguments()]
    assert [f["name"] for f in fields] == ["dateFrom", "dateTo", *expected]
    by_name = {f["name"]: f for f in fields}
    for d, argument in dimensions.filter_arguments():
        field = by_name[dimensions.camel(argument.name)]
        assert field["isDeprecated"] is bool(argument.deprecation_reason)
        of = field["type"]["ofType"]["ofType"]["name"]
        assert of == (d.choices or ("ID" if d.id_type else "String"))


def test_the_exports_query_parameters_are_the_filters_arguments():
    assert views.LIST_PARAMETERS == {
        dimensions.camel(a.name): a.name for _d, a in dimensions.filter_arguments()
    }


def test_the_export_keeps_its_columns_where_they_were():
    """Readers of the CSV and XLSX pick columns by position: a new dimension's columns go after
    these, never between them."""
    assert views.HEADER[:22] == [
        "序号 position",
        "计入日期 business date",
        "类型 kind",
        "来源 source",
        "金额 amount (CNY)",
        "渠道 channel",
        "采购单位 agency",
        "单位类型 agency type",
        "城市 city",
        "供应商 supplier",
        "销售方信用代码 seller credit code",
        "产地 county",
        "城市代码 city code",
        "产地代码 county code",
        "采购单位ID agency ID",
        "供应商ID supplier ID",
        "品类 category",
        "产品 product",
        "发票号 invoice",
        "订单号 order",
        "说明 reason",
        "哈希 hash",
    ]
    declared = [c.header for _d, c in dimensions.export_columns()]
    assert sorted(h for h in views.HEADER if h in declared) == sorted(declared)
    assert len(set(views.HEADER)) == len(views.HEADER)


def test_the_import_reads_every_declared_column_and_keeps_the_templates_order():
    layout = contributions.IMPORT_LAYOUT
    assert (len(layout), layout[:2]) == (12, ("invoice_number", "seller_credit_code"))
    assert contributions.IMPORT_COLUMNS[: len(layout)] == layout
    declared = {c.name for _d, c in dimensions.import_columns()}
    assert declared <= set(contributions.IMPORT_COLUMNS)
    optional = {"seller_name", "category", "origin_county_code", "product_name"}
    assert set(contributions.REQUIRED_IMPORT_COLUMNS) == set(layout) - optional


def test_a_layout_placing_an_undeclared_column_is_refused():
    with pytest.raises(ValueError, match="unknown columns"):
        dimensions.arranged(("a", "DISTRICT.value"), {"a"}, ["CITY.value"])
    assert dimensions.arranged(("a",), {"a"}, ["CITY.value"]) == ("a", "CITY.value")


def test_the_verifier_totals_the_registrys_offline_dimensions():
    assert list(verifier.DIMENSIONS) == [
        "YEAR",
        *(d.name for d in dimensions.DIMENSIONS if d.offline_total),
    ]
    leaf = {"business_date": "2025-03-01", "agency_city": "厦门市", "kind": "PURCHASE"}
    assert verifier.DIMENSIONS["CITY"][0](leaf) == "厦门市"
    assert verifier.DIMENSIONS["CITY"][1] == "label"  # the server's CITY values are codes
    assert verifier.DIMENSIONS["CATEGORY"][0](leaf) == ""  # a leaf without it


def test_the_verifier_and_the_registry_import_no_django():
    """The offline verifier ships to auditors with Python and `cryptography` only."""
    code = (
        "import sys; import procurement.transparency.verifier; "
        "found = sorted(m for m in sys.modules if m.split('.')[0] == 'django'); "
        "sys.exit(f'imported {found}' if found else 0)"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=False
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("data", "values"),
    [
        ({"kinds": ["PURCHASE"]}, {"KIND": ["PURCHASE"]}),
        ({"counties": ["640521"], "channels": ["832"]}, {"COUNTY": ["640521"], "CHANNEL": ["832"]}),
        ({"cities": ["厦门市"]}, {"CITY": ["厦门市"]}),  # deprecated: names, stored as they are
        ({"agencies": [""]}, {"AGENCY": [""]}),  # a summary row without one
    ],
)
def test_the_filter_parser_reads_each_dimensions_arguments(db, data, values):
    assert ledger_filter_from(data).values == values


def test_a_dimension_given_by_two_of_its_arguments_is_refused(db):
    from shop.core.errors import BadUserInput

    with pytest.raises(BadUserInput, match="cityCodes or by cities"):
        ledger_filter_from({"city_codes": ["350200"], "cities": ["厦门市"]})
