"""Each role against userCreate, userDeactivate and auditEvents."""

import pytest
from graphql_relay import to_global_id

from shop.accounts.models import Role, User
from shop.core.models import AuditEvent
from tests.conftest import top_level_codes
from tests.factories import UserFactory

USER_CREATE = """
mutation($email: String!, $role: Role!) {
  userCreate(email: $email, password: "Ningxia-Wine-77", role: $role) {
    user { email role } errors { field code message }
  }
}"""
USER_DEACTIVATE = """
mutation($id: ID!) {
  userDeactivate(id: $id, reason: "left the agency") {
    user { email isActive } errors { field code message }
  }
}"""
AUDIT_EVENTS = "{ auditEvents(first: 10) { totalCount edges { node { action actorEmail } } } }"

OTHER_ROLES = [r for r in Role if r != Role.OPERATOR]
READERS = [Role.OPERATOR, Role.AUDITOR]


def test_operator_creates_a_user_with_a_role_and_it_is_audited(gql, operator):
    payload = gql(USER_CREATE, {"email": "new@example.cn", "role": "AUDITOR"}, user=operator)
    assert payload["data"]["userCreate"] == {
        "user": {"email": "new@example.cn", "role": "AUDITOR"},
        "errors": [],
    }
    event = AuditEvent.objects.get(action="user.create")
    assert event.actor_email == operator.email
    assert event.object_id == str(User.objects.get(email="new@example.cn").pk)
    assert event.data == {"role": "AUDITOR"}


@pytest.mark.smoke
@pytest.mark.parametrize("role", OTHER_ROLES)
def test_non_operators_cannot_create_users(gql, role):
    caller = UserFactory(role=role)
    response = gql(USER_CREATE, {"email": "new@example.cn", "role": "OPERATOR"}, user=caller)
    assert top_level_codes(response) == ["PERMISSION_DENIED"]
    assert response["data"]["userCreate"] is None
    assert not User.objects.filter(email="new@example.cn").exists()
    assert not AuditEvent.objects.exists()


def test_anonymous_cannot_create_users(gql):
    response = gql(USER_CREATE, {"email": "new@example.cn", "role": "OPERATOR"})
    assert top_level_codes(response) == ["UNAUTHENTICATED"]
    assert not User.objects.filter(email="new@example.cn").exists()


def test_user_create_validates_password_and_email(gql, operator):
    mutation = """mutation { userCreate(email: "x@example.cn", password: "short", role: AUDITOR) {
        errors { field code } } }"""
    errors = gql(mutation, user=operator)["data"]["userCreate"]["errors"]
    assert {(e["field"], e["code"]) for e in errors} == {("password", "PASSWORD_TOO_WEAK")}
    assert not User.objects.filter(email="x@example.cn").exists()


def test_operator_deactivates_a_user_and_it_is_audited(gql, operator):
    target = UserFactory(role=Role.AGENCY)
    payload = gql(USER_DEACTIVATE, {"id": to_global_id("User", target.pk)}, user=operator)
    assert payload["data"]["userDeactivate"] == {
        "user": {"email": target.email, "isActive": False},
        "errors": [],
    }
    event = AuditEvent.objects.get(action="user.deactivate")
    assert (event.actor_id, event.object_id, event.reason) == (
        operator.pk,
        str(target.pk),
        "left the agency",
    )


@pytest.mark.parametrize("role", OTHER_ROLES)
def test_non_operators_cannot_deactivate_users(gql, role):
    caller = UserFactory(role=role)
    target = UserFactory(role=Role.AGENCY)
    response = gql(USER_DEACTIVATE, {"id": to_global_id("User", target.pk)}, user=caller)
    assert top_level_codes(response) == ["PERMISSION_DENIED"]
    target.refresh_from_db()
    assert target.is_active
    assert not AuditEvent.objects.exists()


def test_anonymous_cannot_deactivate_users(gql):
    target = UserFactory()
    response = gql(USER_DEACTIVATE, {"id": to_global_id("User", target.pk)})
    assert top_level_codes(response) == ["UNAUTHENTICATED"]
    target.refresh_from_db()
    assert target.is_active


def test_operator_cannot_deactivate_self(gql, operator):
    payload = gql(USER_DEACTIVATE, {"id": to_global_id("User", operator.pk)}, user=operator)
    assert payload["data"]["userDeactivate"]["errors"][0]["code"] == "CANNOT_DEACTIVATE_SELF"
    operator.refresh_from_db()
    assert operator.is_active


@pytest.mark.parametrize(
    "bad_id", ["not-an-id", to_global_id("AuditEvent", 1), to_global_id("User", 999)]
)
def test_deactivate_unknown_or_malformed_id_is_not_found(gql, operator, bad_id):
    payload = gql(USER_DEACTIVATE, {"id": bad_id}, user=operator)
    assert payload["data"]["userDeactivate"]["errors"] == [
        {"field": "id", "code": "NOT_FOUND", "message": "No such user."}
    ]


def test_deactivating_twice_is_an_error(gql, operator):
    target = UserFactory(is_active=False)
    payload = gql(USER_DEACTIVATE, {"id": to_global_id("User", target.pk)}, user=operator)
    assert payload["data"]["userDeactivate"]["errors"][0]["code"] == "ALREADY_INACTIVE"


@pytest.mark.parametrize("role", READERS)
def test_operators_and_auditors_read_the_audit_trail(gql, operator, role):
    gql(USER_CREATE, {"email": "new@example.cn", "role": "AUDITOR"}, user=operator)
    reader = operator if role == Role.OPERATOR else UserFactory(role=role)
    data = gql(AUDIT_EVENTS, user=reader)["data"]["auditEvents"]
    assert data["totalCount"] == 1
    assert data["edges"][0]["node"] == {"action": "user.create", "actorEmail": operator.email}


@pytest.mark.parametrize("role", [r for r in Role if r not in READERS])
def test_other_roles_cannot_read_the_audit_trail(gql, role):
    response = gql(AUDIT_EVENTS, user=UserFactory(role=role))
    assert top_level_codes(response) == ["PERMISSION_DENIED"]
    assert response["data"] == {"auditEvents": None}


def test_anonymous_cannot_read_the_audit_trail(gql):
    assert top_level_codes(gql(AUDIT_EVENTS)) == ["UNAUTHENTICATED"]


def test_audit_trail_filters_by_action_and_object(gql, operator):
    target = UserFactory()
    gql(USER_DEACTIVATE, {"id": to_global_id("User", target.pk)}, user=operator)
    gql(USER_CREATE, {"email": "n@example.cn", "role": "AUDITOR"}, user=operator)
    query = """query($f: AuditEventFilterInput) { auditEvents(filter: $f) {
        totalCount edges { node { action objectType objectId reason } } } }"""
    data = gql(query, {"f": {"action": "user.deactivate"}}, user=operator)["data"]["auditEvents"]
    assert data["totalCount"] == 1
    assert data["edges"][0]["node"] == {
        "action": "user.deactivate",
        "objectType": "accounts.user",
        "objectId": str(target.pk),
        "reason": "left the agency",
    }
    data = gql(query, {"f": {"objectId": "nope"}}, user=operator)["data"]["auditEvents"]
    assert data["totalCount"] == 0


ORG_CREATE = """
mutation($role: Role!, $s: ID, $c: ID, $a: ID) {
  userCreate(email: "org@example.cn", password: "Ningxia-Wine-77", role: $role, supplierId: $s, countyId: $c, agencyId: $a) {
    user { role supplier { name } county { name } agency { name } } errors { field code }
  }
}"""


def test_organisation_accounts_are_tied_to_their_organisation(gql, operator):
    from tests.factories import AgencyFactory, SupplierFactory
    from tests.factories.catalog import county

    supplier, agency = SupplierFactory(name="中宁枸杞公司"), AgencyFactory(name="福州一中")
    cases = [
        (
            "SUPPLIER",
            {"s": to_global_id("Supplier", supplier.pk)},
            {"supplier": {"name": "中宁枸杞公司"}},
        ),
        (
            "COUNTY_REVIEWER",
            {"c": to_global_id("County", county("640521").pk)},
            {"county": {"name": "中宁县"}},
        ),
        ("AGENCY", {"a": to_global_id("Agency", agency.pk)}, {"agency": {"name": "福州一中"}}),
    ]
    for role, ids, expected in cases:
        User.objects.filter(email="org@example.cn").delete()
        user = gql(ORG_CREATE, {"role": role, **ids}, user=operator)["data"]["userCreate"]["user"]
        assert {k: v for k, v in user.items() if v and k != "role"} == expected


@pytest.mark.parametrize(
    ("role", "field"),
    [("SUPPLIER", "supplierId"), ("COUNTY_REVIEWER", "countyId"), ("AGENCY", "agencyId")],
)
def test_organisation_accounts_need_their_organisation(gql, operator, role, field):
    payload = gql(ORG_CREATE, {"role": role}, user=operator)["data"]["userCreate"]
    assert payload["errors"] == [{"field": field, "code": "REQUIRED"}]
    assert not User.objects.filter(email="org@example.cn").exists()


def test_other_roles_take_no_organisation(gql, operator):
    from tests.factories import AgencyFactory

    agency = AgencyFactory()
    payload = gql(
        ORG_CREATE, {"role": "AUDITOR", "a": to_global_id("Agency", agency.pk)}, user=operator
    )
    assert payload["data"]["userCreate"]["errors"] == [{"field": "agencyId", "code": "INVALID"}]
