"""One way to name things in the ledger's reports: places by division code, organisations by
global ID, names as labels. Every row of a `contributionSummary` fed back as a filter selects
exactly that row's entries, for every dimension; the deprecated city-name filter still works; and
an order counted before its invoice was attached shows the order's invoice."""

import calendar

import pytest
from graphql_relay import to_global_id

from procurement.models import ContributionEntry, Target
from procurement.reports.dimensions import DIMENSIONS, camel
from procurement.reports.selectors import GROUP_DIMENSIONS
from procurement.services import contributions
from shop.accounts.models import Role
from shop.accounts.tokens import create_access_token
from tests.factories import UserFactory
from tests.factories.catalog import credit_code
from tests.factories.procurement import city
from tests.procurement import flows
from tests.procurement.test_dashboard import sample_ledger

SUMMARY = """query($f: ContributionFilterInput, $g: [ContributionDimension!]) {
    contributionSummary(filter: $f, groupBy: $g) { total { amount } entryCount
      rows { keys { dimension value label } total { amount } entryCount } } }"""
ENTRIES = """query($f: ContributionFilterInput) { contributions(filter: $f, first: 100) { totalCount
    edges { node { invoiceNumber agencyCity agencyCityCode agencyId supplierId originCountyCode } } } }"""

# The filter field each dimension's values are fed back into (YEAR and MONTH become dates):
# its first argument, the one taking public values.
FILTER_FIELD = {d.name: camel(d.filters[0].name) for d in DIMENSIONS if d.filters}


def as_filter(keys: list[dict]) -> dict:
    """A summary row's keys as the filter of its drill-down."""
    found: dict = {}
    for key in keys:
        dimension, value = key["dimension"], key["value"]
        if dimension == "YEAR":
            found["dateFrom"], found["dateTo"] = f"{value}-01-01", f"{value}-12-31"
        elif dimension == "MONTH":
            year, month = (int(part) for part in value.split("-"))
            last = calendar.monthrange(year, month)[1]
            found["dateFrom"], found["dateTo"] = f"{value}-01", f"{value}-{last:02d}"
        else:
            found[FILTER_FIELD[dimension]] = [value]
    return found


@pytest.fixture
def ledger(operator):
    """The dashboard's ledger (orders of agencies in 福州 and 厦门 from different suppliers and
    counties, in 2024 and 2025) and an import from the 832 channel (no agency, no supplier)
    bought in 泉州."""
    sample_ledger(operator)
    seller = credit_code(77, prefix="916405")
    contributions.contribution_import(
        acting_user=operator,
        filename="832.csv",
        data=(
            ",".join(contributions.IMPORT_COLUMNS)
            + f"\nFP-832-1,{seller},宁夏某供应商,泉州市第一医院,HOSPITAL,泉州市,2025-04-02,"
            "1200.50,832,枸杞,640521,枸杞干果\n"
        ).encode(),
    )


@pytest.fixture
def auditor(db):
    return UserFactory(role=Role.AUDITOR)


@pytest.mark.parametrize("dimension", GROUP_DIMENSIONS)
def test_every_summary_row_fed_back_as_a_filter_selects_that_row(gql, ledger, auditor, dimension):
    rows = gql(SUMMARY, {"g": [dimension]}, user=auditor)["data"]["contributionSummary"]["rows"]
    assert len(rows) >= 2
    for row in rows:
        drill = gql(SUMMARY, {"f": as_filter(row["keys"]), "g": []}, user=auditor)
        summary = drill["data"]["contributionSummary"]
        assert (summary["total"], summary["entryCount"]) == (row["total"], row["entryCount"])
        entries = gql(ENTRIES, {"f": as_filter(row["keys"])}, user=auditor)
        assert entries["data"]["contributions"]["totalCount"] == row["entryCount"]


def test_a_two_dimension_row_feeds_back_too(gql, ledger, auditor):
    rows = gql(SUMMARY, {"g": ["CITY", "SUPPLIER", "MONTH"]}, user=auditor)["data"][
        "contributionSummary"
    ]["rows"]
    assert len(rows) == 4
    for row in rows:
        drill = gql(SUMMARY, {"f": as_filter(row["keys"])}, user=auditor)
        assert drill["data"]["contributionSummary"]["entryCount"] == row["entryCount"]


def test_places_are_keyed_by_division_code_and_named_in_labels(gql, ledger, auditor):
    rows = gql(SUMMARY, {"g": ["CITY"]}, user=auditor)["data"]["contributionSummary"]["rows"]
    assert sorted((r["keys"][0]["value"], r["keys"][0]["label"]) for r in rows) == [
        ("350100", "福州市"),
        ("350200", "厦门市"),
        ("350500", "泉州市"),
    ]
    counties = gql(SUMMARY, {"g": ["COUNTY"]}, user=auditor)["data"]["contributionSummary"]
    assert {(r["keys"][0]["value"], r["keys"][0]["label"]) for r in counties["rows"]} == {
        ("640521", "中宁县"),
        ("640323", "盐池县"),
    }


def test_organisations_are_keyed_by_global_id_and_named_in_labels(gql, ledger, auditor):
    rows = gql(SUMMARY, {"g": ["AGENCY"]}, user=auditor)["data"]["contributionSummary"]["rows"]
    by_label = {r["keys"][0]["label"]: r["keys"][0]["value"] for r in rows}
    order_entry = ContributionEntry.objects.filter(agency__isnull=False).first()
    assert by_label[order_entry.agency_name] == to_global_id("Agency", order_entry.agency_id)
    assert by_label["泉州市第一医院"] == ""  # the import: no agency on the platform
    suppliers = gql(SUMMARY, {"g": ["SUPPLIER"]}, user=auditor)["data"]["contributionSummary"]
    values = {r["keys"][0]["value"] for r in suppliers["rows"]}
    assert to_global_id("Supplier", order_entry.supplier_id) in values


def test_entries_carry_the_same_keys(gql, ledger, auditor):
    f = {"cityCodes": ["350200"]}
    (edge,) = gql(ENTRIES, {"f": f}, user=auditor)["data"]["contributions"]["edges"]
    entry = ContributionEntry.objects.get(agency_city="厦门市")
    assert edge["node"] == {
        "invoiceNumber": "",
        "agencyCity": "厦门市",
        "agencyCityCode": "350200",
        "agencyId": to_global_id("Agency", entry.agency_id),
        "supplierId": to_global_id("Supplier", entry.supplier_id),
        "originCountyCode": "640323",
    }


def test_the_deprecated_city_names_still_filter(gql, ledger, auditor):
    by_name = gql(SUMMARY, {"f": {"cities": ["厦门市"]}}, user=auditor)["data"]
    by_code = gql(SUMMARY, {"f": {"cityCodes": ["350200"]}}, user=auditor)["data"]
    assert by_name == by_code
    assert by_code["contributionSummary"]["total"] == {"amount": "50000.00"}


def test_city_names_and_codes_together_are_refused(gql, ledger, auditor):
    response = gql(SUMMARY, {"f": {"cities": ["厦门市"], "cityCodes": ["350100"]}}, user=auditor)
    assert [e["extensions"]["code"] for e in response["errors"]] == ["BAD_USER_INPUT"]
    assert response["data"] is None


def test_an_unknown_city_code_matches_nothing(gql, ledger, auditor):
    data = gql(SUMMARY, {"f": {"cityCodes": ["350999"]}}, user=auditor)["data"]
    assert data["contributionSummary"]["entryCount"] == 0


def test_the_schema_marks_city_names_deprecated(gql, db):
    query = """{ __type(name: "ContributionFilterInput") {
        inputFields(includeDeprecated: true) { name isDeprecated deprecationReason } } }"""
    fields = {f["name"]: f for f in gql(query)["data"]["__type"]["inputFields"]}
    assert fields["cities"]["isDeprecated"] is True
    assert "cityCodes" in fields["cities"]["deprecationReason"]
    assert fields["cityCodes"]["isDeprecated"] is False


def test_exports_take_city_codes_and_carry_codes_and_ids(client, ledger, auditor):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {create_access_token(auditor)}"}
    response = client.get("/exports/contributions.csv?cityCodes=350200", **auth)
    lines = b"".join(response.streaming_content).decode("utf-8-sig").strip().splitlines()
    header, (line,) = lines[0].split(","), lines[1:]
    cells = dict(zip(header, line.split(","), strict=True))
    entry = ContributionEntry.objects.get(agency_city="厦门市")
    assert cells["城市 city"] == "厦门市"
    assert cells["城市代码 city code"] == "350200"
    assert cells["产地代码 county code"] == "640323"
    assert cells["采购单位ID agency ID"] == to_global_id("Agency", entry.agency_id)
    assert cells["供应商ID supplier ID"] == to_global_id("Supplier", entry.supplier_id)
    by_name = client.get("/exports/contributions.csv?cities=厦门市", **auth)
    assert len(b"".join(by_name.streaming_content).decode().strip().splitlines()) == 2


# --- The invoice of an order counted before its invoice was attached -------------------------


@pytest.fixture
def invoiced_after_counting(operator):
    user = flows.buyer(city=city("350100"))
    (order,) = flows.place(user, (flows.stocked_variant(price="40.00"), 5))
    flows.to_accepted(order, user)
    flows.pay_by_transfer(order, operator)  # counted now, with no invoice yet
    return flows.invoice(order)


def test_contributions_show_the_invoice_attached_after_counting(
    gql, invoiced_after_counting, auditor
):
    stored = ContributionEntry.objects.get(order=invoiced_after_counting)
    assert stored.invoice_number == ""  # the hashed entry is never rewritten
    edges = gql(ENTRIES, {}, user=auditor)["data"]["contributions"]["edges"]
    assert [e["node"]["invoiceNumber"] for e in edges] == [invoiced_after_counting.invoice_number]


def test_the_export_shows_the_invoice_attached_after_counting(
    client, invoiced_after_counting, auditor
):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {create_access_token(auditor)}"}
    lines = b"".join(client.get("/exports/contributions.csv", **auth).streaming_content)
    header, line = lines.decode("utf-8-sig").strip().splitlines()
    cells = dict(zip(header.split(","), line.split(","), strict=True))
    assert cells["发票号 invoice"] == invoiced_after_counting.invoice_number
    assert invoiced_after_counting.invoice_number.startswith("FP")


# --- Cities given by code in the operators' inputs ------------------------------------------

ADJUST = """mutation($input: ContributionAdjustInput!) { contributionAdjust(input: $input) {
    contribution { agencyCity agencyCityCode } errors { field code } } }"""
TARGET = """mutation($input: TargetCreateInput!) { targetCreate(input: $input) {
    target { code buyerCity buyerCityCode } errors { field code } } }"""
ADJUSTMENT = {"amount": "-20.00", "businessDate": "2025-05-01", "reason": "发票冲红"}
CITY_TARGET = {
    "code": "xiamen-2025",
    "name": "厦门市2025年",
    "amount": "100000",
    "startDate": "2025-01-01",
    "endDate": "2025-12-31",
    "parentCode": "minning-14th-plan",
}


def test_an_adjustment_names_its_city_by_code(gql, operator):
    result = gql(ADJUST, {"input": {**ADJUSTMENT, "cityCode": "350200"}}, user=operator)
    assert result["data"]["contributionAdjust"] == {
        "contribution": {"agencyCity": "厦门市", "agencyCityCode": "350200"},
        "errors": [],
    }


@pytest.mark.parametrize(
    ("city", "field", "code"),
    [
        ({"cityCode": "350999"}, "cityCode", "NOT_FOUND"),
        ({"cityCode": "640521"}, "cityCode", "NOT_FOUND"),  # a county, not a Fujian city
        ({"cityCode": "350200", "city": "厦门市"}, "cityCode", "INVALID"),
        ({"city": "银川市"}, "city", "NOT_FOUND"),
    ],
)
def test_an_adjustment_with_a_bad_city_is_refused(gql, operator, city, field, code):
    result = gql(ADJUST, {"input": {**ADJUSTMENT, **city}}, user=operator)
    assert result["data"]["contributionAdjust"] == {
        "contribution": None,
        "errors": [{"field": field, "code": code}],
    }
    assert ContributionEntry.objects.count() == 0


def test_the_deprecated_city_name_still_books_an_adjustment(gql, operator):
    result = gql(ADJUST, {"input": {**ADJUSTMENT, "city": "厦门市"}}, user=operator)
    assert result["data"]["contributionAdjust"]["contribution"]["agencyCityCode"] == "350200"


def test_a_city_target_is_created_by_city_code(gql, operator):
    result = gql(TARGET, {"input": {**CITY_TARGET, "buyerCityCode": "350200"}}, user=operator)
    assert result["data"]["targetCreate"] == {
        "target": {"code": "xiamen-2025", "buyerCity": "厦门市", "buyerCityCode": "350200"},
        "errors": [],
    }


def test_a_target_with_an_unknown_city_code_is_refused(gql, operator):
    result = gql(TARGET, {"input": {**CITY_TARGET, "buyerCityCode": "350999"}}, user=operator)
    assert result["data"]["targetCreate"] == {
        "target": None,
        "errors": [{"field": "buyerCityCode", "code": "NOT_FOUND"}],
    }
    assert not Target.objects.filter(code="xiamen-2025").exists()


# --- A refund's half fen (docs/ledger.md, "Refunds spread over an order's lines") -------------


def test_a_refunds_half_fen_goes_up_on_the_first_line_and_the_last_takes_the_rest(operator):
    user = flows.buyer()
    supplier = flows.new_supplier()
    first = flows.stocked_variant(price="50.00", supplier=supplier)
    second = flows.stocked_variant(price="50.00", supplier=supplier)
    (order,) = flows.place(user, (first, 1), (second, 1))
    flows.to_accepted(order, user)
    flows.pay_by_transfer(order, operator)
    flows.payments.order_refund(
        acting_user=operator, order_id=order.pk, amount="0.03", reason="少发一袋"
    )
    refunds = ContributionEntry.objects.filter(source="REFUND").order_by("position")
    assert [str(entry.amount) for entry in refunds] == ["-0.02", "-0.01"]
