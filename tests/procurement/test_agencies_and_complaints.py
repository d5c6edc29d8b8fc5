"""Agencies, reserved shares (预留份额) and complaints feeding the supplier exit rule."""

import pytest
from django.core.management import call_command
from django.utils import timezone
from graphql_relay import to_global_id

from catalog.models import SupplierStatus
from procurement.models import Agency, Complaint, ComplaintStatus, ReservedSharePlan
from tests.factories.catalog import credit_code
from tests.factories.procurement import city
from tests.procurement import flows
from tests.procurement.flows import buyer, place, stocked_variant

CREATE = """mutation($input: AgencyCreateInput!) { agencyCreate(input: $input) {
    agency { name type isReseller city { name } } errors { field code } } }"""
PLAN = """mutation($a: ID!, $year: Int!, $total: Decimal, $ratio: Decimal, $none: Boolean) {
    reservedSharePlanSet(agencyId: $a, year: $year, canteenTotal: $total, ratio: $ratio, noCanteen: $none) {
    reservedShare { year reserved { amount } achieved { amount } percent noCanteen filed } errors { field code } } }"""


def agency_input(**overrides) -> dict:
    data = {
        "name": "厦门市集美区宁夏特产馆",
        "creditCode": credit_code(7, prefix="923502"),
        "type": "EXHIBITION_CENTRE",
        "cityId": to_global_id("City", city("350200").pk),
        "district": "集美区",
    }
    data.update(overrides)
    return data


def test_operator_creates_an_agency(gql, operator):
    payload = gql(CREATE, {"input": agency_input()}, user=operator)["data"]["agencyCreate"]
    assert payload == {
        "agency": {
            "name": "厦门市集美区宁夏特产馆",
            "type": "EXHIBITION_CENTRE",
            "isReseller": True,
            "city": {"name": "厦门市"},
        },
        "errors": [],
    }


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"creditCode": "12350200MB0000000X"}, ("creditCode", "INVALID_CREDIT_CODE")),
        ({"name": " "}, ("name", "REQUIRED")),
        ({"cityId": to_global_id("City", 999)}, ("cityId", "NOT_FOUND")),
    ],
)
def test_bad_agency_input_creates_nothing(gql, operator, overrides, error):
    payload = gql(CREATE, {"input": agency_input(**overrides)}, user=operator)["data"][
        "agencyCreate"
    ]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [error]
    assert not Agency.objects.exists()


@pytest.mark.smoke
def test_reserved_share_is_total_times_ratio_and_tracks_counted_purchases(gql, operator):
    user = buyer()
    agency_id = to_global_id("Agency", user.agency_id)
    year = timezone.localdate().year
    variables = {"a": agency_id, "year": year, "total": "2000000.00", "ratio": "0.15"}
    payload = gql(PLAN, variables, user=user)["data"]["reservedSharePlanSet"]
    assert payload["reservedShare"] == {
        "year": year,
        "reserved": {"amount": "300000.00"},
        "achieved": {"amount": "0.00"},
        "percent": "0.00",
        "noCanteen": False,
        "filed": True,
    }
    (order,) = place(user, (stocked_variant(stock=5000, price="100.00"), 3000))
    flows.to_accepted(order, user)
    flows.pay_by_transfer(order, operator)
    query = "query($id: ID!) { agency(id: $id) { reservedShare { achieved { amount } percent } } }"
    share = gql(query, {"id": agency_id}, user=user)["data"]["agency"]["reservedShare"]
    assert share == {"achieved": {"amount": "300000.00"}, "percent": "100.00"}


@pytest.mark.parametrize(("ratio", "code"), [("0.09", "RATIO_TOO_LOW"), ("1.5", "RATIO_TOO_LOW")])
def test_ratio_below_ten_percent_is_refused(gql, ratio, code):
    user = buyer()
    variables = {
        "a": to_global_id("Agency", user.agency_id),
        "year": 2026,
        "total": "1000",
        "ratio": ratio,
    }
    payload = gql(PLAN, variables, user=user)["data"]["reservedSharePlanSet"]
    assert payload["errors"] == [{"field": "ratio", "code": code}]
    assert not ReservedSharePlan.objects.exists()


def test_a_unit_without_canteen_reserves_nothing(gql):
    user = buyer()
    variables = {"a": to_global_id("Agency", user.agency_id), "year": 2026, "none": True}
    share = gql(PLAN, variables, user=user)["data"]["reservedSharePlanSet"]["reservedShare"]
    assert (share["reserved"], share["percent"], share["noCanteen"]) == (
        {"amount": "0.00"},
        None,
        True,
    )


def test_an_agency_cannot_file_another_agencys_plan(gql):
    other = buyer()
    variables = {
        "a": to_global_id("Agency", other.agency_id),
        "year": 2026,
        "total": "1000",
        "ratio": "0.2",
    }
    payload = gql(PLAN, variables, user=buyer())["data"]["reservedSharePlanSet"]
    assert payload["errors"] == [{"field": "agencyId", "code": "NOT_FOUND"}]
    assert not ReservedSharePlan.objects.exists()


def test_three_upheld_quality_complaints_exit_the_supplier(
    gql, operator, django_capture_on_commit_callbacks
):
    user = buyer()
    variant = stocked_variant(stock=100)
    complaint = """mutation($id: ID!) { complaintCreate(orderId: $id, kind: QUALITY, description: "枸杞霉变") {
        complaint { id status } errors { code } } }"""
    resolve = """mutation($id: ID!, $upheld: Boolean!) { complaintResolve(id: $id, upheld: $upheld, note: "抽检确认") {
        complaint { status } errors { code } } }"""
    ids = []
    for _ in range(4):
        (order,) = place(user, (variant, 1))
        flows.to_shipped(order)
        created = gql(complaint, {"id": to_global_id("Order", order.pk)}, user=user)["data"][
            "complaintCreate"
        ]
        assert created["complaint"]["status"] == "OPEN"
        ids.append(created["complaint"]["id"])
    decisions = [True, True, False, True]
    for complaint_id, upheld in zip(ids, decisions, strict=True):
        gql(resolve, {"id": complaint_id, "upheld": upheld}, user=operator)
    assert Complaint.objects.filter(status=ComplaintStatus.UPHELD).count() == 3
    again = gql(resolve, {"id": ids[0], "upheld": False}, user=operator)["data"]["complaintResolve"]
    assert again["errors"] == [{"code": "INVALID_TRANSITION"}]
    with django_capture_on_commit_callbacks(execute=True):
        call_command("catalog_rules")
    supplier = variant.product.supplier
    supplier.refresh_from_db()
    assert supplier.status == SupplierStatus.EXITED
    assert supplier.transitions.last().note.startswith("3 upheld quality complaints")


def test_complaints_need_shipped_goods(gql):
    user = buyer()
    (order,) = place(user, (stocked_variant(), 1))
    mutation = """mutation($id: ID!) { complaintCreate(orderId: $id, kind: DELIVERY, description: "未到") {
        errors { code } } }"""
    payload = gql(mutation, {"id": to_global_id("Order", order.pk)}, user=user)["data"][
        "complaintCreate"
    ]
    assert payload["errors"] == [{"code": "INVALID_TRANSITION"}]
    assert not Complaint.objects.exists()
