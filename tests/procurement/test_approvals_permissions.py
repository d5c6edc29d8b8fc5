"""Each persona against each approval mutation and query, as tests/procurement/test_permissions.py
does for the order mutations: an agency's buyer and approver, another agency's approver,
supplier staff, operator, auditor, county reviewer, consumer and nobody. A refused call changes
nothing; another agency's request or agency answers like an unknown one."""

import pytest
from django.apps import apps
from graphql_relay import to_global_id

from catalog.models import ProductVariant
from procurement.models import Agency, AgencyBudget, AgencyMembership, PurchaseRequest
from shop.accounts.models import Role
from shop.core.models import AuditEvent
from tests.conftest import top_level_codes
from tests.factories import AgencyFactory, UserFactory
from tests.factories.catalog import county
from tests.procurement.flows import staff_of, stocked_variant
from tests.procurement.test_approvals import approver_of, member, request

PERSONAS = (
    "anonymous",
    "buyer",
    "approver",
    "other_approver",
    "supplier",
    "operator",
    "auditor",
    "county_reviewer",
    "consumer",
)


def snapshot() -> dict:
    state = {m.__name__: m.objects.count() for m in apps.get_app_config("procurement").get_models()}
    state["requests"] = sorted(PurchaseRequest.objects.values_list("pk", "status"))
    state["agencies"] = sorted(
        Agency.objects.values_list("pk", "approval_threshold", "allow_self_approval")
    )
    state["budgets"] = sorted(AgencyBudget.objects.values_list("pk", "amount"))
    state["duties"] = sorted(
        AgencyMembership.objects.values_list("user_id", "agency_id", "can_buy", "can_approve")
    )
    state["stock"] = sorted(ProductVariant.objects.values_list("pk", "stock"))
    state["audit"] = AuditEvent.objects.count()
    return state


@pytest.fixture
def world(db):
    agency = AgencyFactory(approval_threshold="100.00")
    other_agency = AgencyFactory()
    variant = stocked_variant(stock=100, price="60.00")
    buyer = member(agency)
    users = {
        "anonymous": None,
        "buyer": buyer,
        "approver": approver_of(agency),
        "other_approver": member(other_agency, can_buy=True, can_approve=True),
        "supplier": staff_of(variant.product.supplier),
        "operator": UserFactory(role=Role.OPERATOR),
        "auditor": UserFactory(role=Role.AUDITOR),
        "county_reviewer": UserFactory(role=Role.COUNTY_REVIEWER, county=county("640521")),
        "consumer": UserFactory(role=Role.CONSUMER),
    }
    pending = request(buyer, (variant, 3))
    ids = {
        "agency": to_global_id("Agency", agency.pk),
        "request": to_global_id("PurchaseRequest", pending.pk),
        "variant": to_global_id("ProductVariant", variant.pk),
        "buyer": to_global_id("User", buyer.pk),
    }
    return users, ids


OK: list[str] = []
DENIED = "PERMISSION_DENIED"
AGENCY_ONLY = {"anonymous": "UNAUTHENTICATED"} | dict.fromkeys(
    ("supplier", "operator", "auditor", "county_reviewer", "consumer"), DENIED
)
MANAGED = {"anonymous": "UNAUTHENTICATED"} | dict.fromkeys(
    ("supplier", "auditor", "county_reviewer", "consumer"), DENIED
)

# name → (query, variables, outcome per persona: [] done, [codes] domain errors, or the
# top-level access code). Personas left out of the outcome succeed.
MUTATIONS = {
    "purchaseRequestCreate": (
        """mutation($v: ID!) { purchaseRequestCreate(lines: [{variantId: $v, quantity: 1}],
            idempotencyKey: "perm-request-0001", shippingAddress: {recipient: "A", phone: "1",
            address: "B"}) { errors { code } } }""",
        lambda ids: {"v": ids["variant"]},
        AGENCY_ONLY | {"approver": ["NOT_A_BUYER"]},  # the other agency requests for itself
    ),
    "purchaseRequestApprove": (
        "mutation($id: ID!) { purchaseRequestApprove(id: $id) { errors { code } } }",
        lambda ids: {"id": ids["request"]},
        AGENCY_ONLY | {"buyer": ["NOT_AN_APPROVER"], "other_approver": ["NOT_FOUND"]},
    ),
    "purchaseRequestDecline": (
        'mutation($id: ID!) { purchaseRequestDecline(id: $id, reason: "r") { errors { code } } }',
        lambda ids: {"id": ids["request"]},
        AGENCY_ONLY | {"buyer": ["NOT_AN_APPROVER"], "other_approver": ["NOT_FOUND"]},
    ),
    "agencySettingsUpdate": (
        """mutation($a: ID!) { agencySettingsUpdate(agencyId: $a, approvalThreshold: "300.00")
            { errors { code } } }""",
        lambda ids: {"a": ids["agency"]},
        MANAGED | {"buyer": ["NOT_AN_APPROVER"], "other_approver": ["NOT_FOUND"]},
    ),
    "agencyMemberDutiesSet": (
        """mutation($u: ID!) { agencyMemberDutiesSet(userId: $u, canBuy: true, canApprove: true)
            { errors { code } } }""",
        lambda ids: {"u": ids["buyer"]},
        MANAGED | {"buyer": ["NOT_AN_APPROVER"], "other_approver": ["NOT_FOUND"]},
    ),
    "agencyBudgetSet": (
        """mutation($a: ID!) { agencyBudgetSet(agencyId: $a, year: 2026, amount: "9000")
            { errors { code } } }""",
        lambda ids: {"a": ids["agency"]},
        MANAGED | {"buyer": ["NOT_AN_APPROVER"], "other_approver": ["NOT_FOUND"]},
    ),
}


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("name", list(MUTATIONS))
def test_approval_mutation_permission_matrix(gql, world, name, persona):
    users, ids = world
    query, variables, outcomes = MUTATIONS[name]
    expected = outcomes.get(persona, OK)
    before = snapshot()
    response = gql(query, variables(ids), user=users[persona])
    changed = snapshot() != before
    if isinstance(expected, str):
        assert top_level_codes(response) == [expected]
        assert response["data"] == {name: None}
        assert not changed
    else:
        assert "errors" not in response, response
        assert [e["code"] for e in response["data"][name]["errors"]] == expected
        assert changed == (expected == [])


QUERIES = {
    "purchaseRequests": (
        "{ purchaseRequests { totalCount } }",
        lambda ids: {},
        lambda data: data["totalCount"],
    ),
    "agencyBudgets": (
        "query($a: ID!) { agencyBudgets(agencyId: $a) { line } }",
        lambda ids: {"a": ids["agency"]},
        len,
    ),
    "agencyMembers": (
        "query($a: ID!) { agencyMembers(agencyId: $a) { canApprove } }",
        lambda ids: {"a": ids["agency"]},
        len,
    ),
}
# What each persona that may read sees of the agency: its one request, its one budget, its
# two members; the other agency sees none of them (its own request list is empty).
SEEN = {"purchaseRequests": 1, "agencyBudgets": 1, "agencyMembers": 2}
READERS = {"buyer", "approver", "operator", "auditor"}


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("name", list(QUERIES))
def test_approval_query_permission_matrix(gql, world, name, persona):
    users, ids = world
    from procurement.services import approvals, budgets

    approvals.agency_budget_set(
        acting_user=users["operator"],
        agency_id=users["buyer"].agency_id,
        year=budgets.budget_year(),
        amount="5000",
    )
    query, variables, measure = QUERIES[name]
    response = gql(query, variables(ids), user=users[persona])
    if persona == "anonymous":
        assert top_level_codes(response) == ["UNAUTHENTICATED"]
    elif persona in READERS:
        assert "errors" not in response, response
        assert measure(response["data"][name]) == SEEN[name]
    elif persona == "other_approver":
        assert "errors" not in response, response
        assert measure(response["data"][name]) == 0
    else:
        assert top_level_codes(response) == [DENIED]
