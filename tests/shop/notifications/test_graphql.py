"""The webhook and e-mail settings through GraphQL: each role against each mutation (refused
calls change nothing), each organisation confined to its own endpoints and log, clear errors
for bad URLs and event types, and bounded queries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from graphql_relay import to_global_id

from shop.accounts.models import Role
from shop.core.models import AuditEvent
from shop.notifications.events import EventType, supplier
from shop.notifications.models import EmailPreference, WebhookDelivery, WebhookEndpoint
from shop.notifications.services import publish
from tests.conftest import access_matrix_cell
from tests.factories import (
    AgencyFactory,
    SupplierFactory,
    UserFactory,
    WebhookEndpointFactory,
)
from tests.factories.roles import one_user_per_role


def snapshot() -> dict:
    return {
        "endpoints": sorted(
            WebhookEndpoint.objects.values_list(
                "pk", "url", "secret", "is_active", "description", "supplier_id", "agency_id"
            )
        ),
        "event_types": sorted(map(str, WebhookEndpoint.objects.values_list("event_types"))),
        "deliveries": WebhookDelivery.objects.count(),
        "preferences": sorted(map(str, EmailPreference.objects.values_list("user", "event_types"))),
    }


@pytest.fixture
def world(db, receiver):
    own_supplier, own_agency = SupplierFactory(), AgencyFactory()
    users = one_user_per_role(
        agency_user=UserFactory(role=Role.AGENCY, agency=own_agency),
        supplier_user=UserFactory(role=Role.SUPPLIER, supplier=own_supplier),
    )
    # one endpoint per organisation that can own one, so each role has one to act on
    endpoints = {
        Role.SUPPLIER: WebhookEndpointFactory(supplier=own_supplier, url=receiver.url),
        Role.AGENCY: WebhookEndpointFactory(agency=own_agency, url=receiver.url),
        Role.OPERATOR: WebhookEndpointFactory(url=receiver.url),
    }
    return users, endpoints


CREATE = """mutation($input: WebhookEndpointCreateInput!) { webhookEndpointCreate(input: $input) {
    endpoint { id url eventTypes isActive isPlatform secretHint supplier { name } agency { name } }
    secret errors { field code message } } }"""
UPDATE = """mutation($id: ID!, $input: WebhookEndpointUpdateInput!) {
    webhookEndpointUpdate(id: $id, input: $input) { endpoint { url eventTypes isActive }
    secret errors { field code message } } }"""
DELETE = "mutation($id: ID!) { webhookEndpointDelete(id: $id) { deletedId errors { code } } }"
TEST = """mutation($id: ID!) { webhookTest(id: $id) { delivery { eventType status endpoint { url } }
    errors { code } } }"""
PREFERENCES = """mutation($types: [WebhookEventType!]!) { notificationPreferencesUpdate(emailEventTypes: $types) {
    preferences { emailEventTypes } errors { field code } } }"""

NEW = {"url": "https://hooks.example.cn/in", "eventTypes": ["ORDER_PLACED", "PAYMENT_OVERDUE"]}

MUTATIONS = {
    "webhookEndpointCreate": (CREATE, lambda own: {"input": NEW}),
    "webhookEndpointUpdate": (
        UPDATE,
        lambda own: {"id": own, "input": {"description": "ERP", "isActive": False}},
    ),
    "webhookEndpointDelete": (DELETE, lambda own: {"id": own}),
    "webhookTest": (TEST, lambda own: {"id": own}),
    "notificationPreferencesUpdate": (PREFERENCES, lambda own: {"types": ["PAYMENT_DUE"]}),
}


def gid(endpoint) -> str:
    return to_global_id("WebhookEndpoint", endpoint.pk)


@pytest.mark.parametrize("role", [None, *Role])
@pytest.mark.parametrize("name", list(MUTATIONS))
def test_notification_mutation_permission_matrix(gql, world, name, role):
    users, endpoints = world
    query, variables = MUTATIONS[name]
    own = gid(endpoints.get(role, endpoints[Role.OPERATOR]))
    access_matrix_cell(
        lambda: gql(query, variables(own), user=users[role] if role else None),
        name=name,
        role=role,
        snapshot=snapshot,
    )


@pytest.mark.parametrize("role", [Role.SUPPLIER, Role.AGENCY])
@pytest.mark.parametrize("name", ["webhookEndpointUpdate", "webhookEndpointDelete", "webhookTest"])
def test_an_organisation_cannot_touch_another_organisations_endpoint(gql, world, role, name):
    users, endpoints = world
    query, variables = MUTATIONS[name]
    other = Role.AGENCY if role == Role.SUPPLIER else Role.SUPPLIER
    before = snapshot()
    for theirs in (endpoints[other], endpoints[Role.OPERATOR]):
        response = gql(query, variables(gid(theirs)), user=users[role])
        assert [e["code"] for e in response["data"][name]["errors"]] == ["NOT_FOUND"]
    assert snapshot() == before


def test_a_supplier_registers_an_endpoint_for_its_own_supplier_and_sees_the_secret_once(gql, world):
    users, _endpoints = world
    staff = users[Role.SUPPLIER]
    payload = gql(CREATE, {"input": NEW}, user=staff)["data"]["webhookEndpointCreate"]
    assert payload["errors"] == []
    created = WebhookEndpoint.objects.get(url=NEW["url"])
    assert created.supplier_id == staff.supplier_id
    assert payload["secret"] == created.secret
    assert created.secret.startswith("whsec_")
    assert payload["endpoint"]["secretHint"] == "…" + created.secret[-4:]
    assert payload["endpoint"]["supplier"] == {"name": staff.supplier.name}
    assert payload["endpoint"]["eventTypes"] == ["ORDER_PLACED", "PAYMENT_OVERDUE"]
    assert AuditEvent.objects.filter(action="webhook_endpoint.create").exists()
    assert created.secret not in str(AuditEvent.objects.values_list("data", flat=True))


def test_an_operator_registers_endpoints_for_an_agency_or_the_platform(gql, world):
    users, _endpoints = world
    agency = AgencyFactory()
    for_agency = {**NEW, "agencyId": to_global_id("Agency", agency.pk)}
    made = gql(CREATE, {"input": for_agency}, user=users[Role.OPERATOR])["data"]
    assert made["webhookEndpointCreate"]["endpoint"]["agency"] == {"name": agency.name}
    platform = gql(CREATE, {"input": NEW}, user=users[Role.OPERATOR])["data"]
    assert platform["webhookEndpointCreate"]["endpoint"]["isPlatform"] is True


def test_only_operators_name_the_owner(gql, world):
    users, _endpoints = world
    before = snapshot()
    other = {**NEW, "agencyId": to_global_id("Agency", AgencyFactory().pk)}
    response = gql(CREATE, {"input": other}, user=users[Role.SUPPLIER])
    assert response["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    assert snapshot() == before


@pytest.mark.parametrize(
    ("url", "field", "code"),
    [
        ("", "url", "REQUIRED"),
        ("not a url", "url", "INVALID_URL"),
        ("https://hooks.example.cn/" + "x" * 2000, "url", "INVALID_URL"),
        ("https://hooks.example.cn/a b", "url", "INVALID_URL"),
    ],
)
def test_a_bad_url_is_refused_with_its_code_and_nothing_is_created(gql, world, url, field, code):
    users, _endpoints = world
    before = snapshot()
    response = gql(CREATE, {"input": {**NEW, "url": url}}, user=users[Role.AGENCY])
    errors = response["data"]["webhookEndpointCreate"]["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [(field, code)]
    assert snapshot() == before


def test_production_refuses_plain_http_and_private_addresses(gql, world, settings):
    settings.WEBHOOKS_ALLOW_HTTP = False
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    users, _endpoints = world
    before = snapshot()
    for url in ("http://hooks.example.cn/in", "https://10.0.0.5/in", "https://localhost/in"):
        response = gql(CREATE, {"input": {**NEW, "url": url}}, user=users[Role.AGENCY])
        errors = response["data"]["webhookEndpointCreate"]["errors"]
        assert [(e["field"], e["code"]) for e in errors] == [("url", "URL_NOT_ALLOWED")], url
    assert snapshot() == before


def test_every_bad_field_is_reported_at_once(gql, world):
    users, _endpoints = world
    response = gql(
        CREATE,
        {"input": {"url": "ftp://x", "eventTypes": [], "description": "x" * 201}},
        user=users[Role.AGENCY],
    )
    errors = response["data"]["webhookEndpointCreate"]["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [
        ("url", "INVALID_URL"),
        ("eventTypes", "REQUIRED"),
        ("description", "INVALID"),
    ]


def test_an_unknown_event_type_is_refused_by_the_contract(gql, world):
    users, _endpoints = world
    response = gql(
        CREATE, {"input": {**NEW, "eventTypes": ["ORDER_EATEN"]}}, user=users[Role.AGENCY]
    )
    assert response["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT" or "errors" in response
    assert WebhookEndpoint.objects.filter(url=NEW["url"]).count() == 0


def test_an_organisation_has_at_most_the_configured_number_of_endpoints(gql, world, settings):
    settings.WEBHOOKS_MAX_ENDPOINTS = 2
    users, _endpoints = world  # the agency has one already
    first = gql(CREATE, {"input": NEW}, user=users[Role.AGENCY])["data"]["webhookEndpointCreate"]
    assert first["errors"] == []
    second = gql(CREATE, {"input": NEW}, user=users[Role.AGENCY])["data"]["webhookEndpointCreate"]
    assert [e["code"] for e in second["errors"]] == ["TOO_MANY_ENDPOINTS"]
    assert WebhookEndpoint.objects.filter(agency=users[Role.AGENCY].agency).count() == 2


def test_rotating_the_secret_returns_the_new_one(gql, world):
    users, endpoints = world
    old = endpoints[Role.SUPPLIER].secret
    payload = gql(
        UPDATE,
        {"id": gid(endpoints[Role.SUPPLIER]), "input": {"rotateSecret": True}},
        user=users[Role.SUPPLIER],
    )["data"]["webhookEndpointUpdate"]
    endpoints[Role.SUPPLIER].refresh_from_db()
    assert payload["secret"] == endpoints[Role.SUPPLIER].secret != old


def test_an_update_without_rotation_shows_no_secret(gql, world):
    users, endpoints = world
    payload = gql(
        UPDATE,
        {"id": gid(endpoints[Role.SUPPLIER]), "input": {"eventTypes": ["ORDER_SHIPPED"]}},
        user=users[Role.SUPPLIER],
    )["data"]["webhookEndpointUpdate"]
    assert payload["secret"] is None
    assert payload["endpoint"]["eventTypes"] == ["ORDER_SHIPPED"]


def test_webhook_test_reaches_the_receiver(
    gql, world, receiver, django_capture_on_commit_callbacks
):
    users, endpoints = world
    with django_capture_on_commit_callbacks(execute=True):
        payload = gql(TEST, {"id": gid(endpoints[Role.AGENCY])}, user=users[Role.AGENCY])
    assert payload["data"]["webhookTest"]["delivery"]["eventType"] == "WEBHOOK_TEST"
    # The request's transaction committed, then the job ran: the receiver has it.
    [got] = receiver.requests
    assert got.event["type"] == "webhook.test"
    assert WebhookDelivery.objects.get().status == "SUCCEEDED"


def test_webhook_test_refuses_an_inactive_endpoint(gql, world, receiver):
    users, endpoints = world
    endpoints[Role.AGENCY].is_active = False
    endpoints[Role.AGENCY].save()
    payload = gql(TEST, {"id": gid(endpoints[Role.AGENCY])}, user=users[Role.AGENCY])
    assert [e["code"] for e in payload["data"]["webhookTest"]["errors"]] == ["ENDPOINT_INACTIVE"]
    assert WebhookDelivery.objects.count() == 0
    assert receiver.requests == []


# --- queries ------------------------------------------------------------------------------

ENDPOINTS = "{ webhookEndpoints(first: 50) { totalCount edges { node { url supplier { name } agency { name } } } } }"
DELIVERIES = """query($f: WebhookDeliveryFilterInput) { webhookDeliveries(first: 50, filter: $f) {
    totalCount edges { node { eventId eventType status attempts responseCode error payload
    endpoint { url supplier { name } agency { name } } } } } }"""


@pytest.mark.parametrize("role", [Role.SUPPLIER, Role.AGENCY])
def test_each_organisation_sees_only_its_own_endpoints_and_log(gql, world, role):
    users, endpoints = world
    owner = endpoints[role]
    publish(EventType.ORDER_PLACED, {}, [supplier(endpoints[Role.SUPPLIER].supplier_id)])
    seen = gql(ENDPOINTS, user=users[role])["data"]["webhookEndpoints"]
    assert seen["totalCount"] == 1
    log = gql(DELIVERIES, user=users[role])["data"]["webhookDeliveries"]
    expected = WebhookDelivery.objects.filter(endpoint=owner).count()
    assert log["totalCount"] == expected
    assert expected == (1 if role == Role.SUPPLIER else 0)


def test_operators_see_every_endpoint_and_delivery(gql, world):
    users, endpoints = world
    publish(EventType.ORDER_PLACED, {}, [supplier(endpoints[Role.SUPPLIER].supplier_id)])
    assert gql(ENDPOINTS, user=users[Role.OPERATOR])["data"]["webhookEndpoints"]["totalCount"] == 3
    log = gql(DELIVERIES, user=users[Role.OPERATOR])["data"]["webhookDeliveries"]
    assert log["totalCount"] == 2  # the supplier's endpoint and the platform's


@pytest.mark.parametrize("role", [None, Role.AUDITOR, Role.COUNTY_REVIEWER, Role.CONSUMER])
def test_other_roles_cannot_read_endpoints_or_deliveries(gql, world, role):
    users, _endpoints = world
    for query in (ENDPOINTS, DELIVERIES):
        response = gql(query, user=users[role] if role else None)
        assert response["errors"][0]["extensions"]["code"] in {
            "UNAUTHENTICATED",
            "PERMISSION_DENIED",
        }


def test_the_delivery_log_filters_by_endpoint_status_and_type(gql, world):
    users, endpoints = world
    publish(EventType.ORDER_PLACED, {}, [supplier(endpoints[Role.SUPPLIER].supplier_id)])
    publish(EventType.ORDER_SHIPPED, {}, [supplier(endpoints[Role.SUPPLIER].supplier_id)])
    only = {
        "endpointId": gid(endpoints[Role.SUPPLIER]),
        "eventType": "ORDER_SHIPPED",
        "status": "PENDING",
    }
    log = gql(DELIVERIES, {"f": only}, user=users[Role.OPERATOR])["data"]["webhookDeliveries"]
    assert [n["node"]["eventType"] for n in log["edges"]] == ["ORDER_SHIPPED"]


def test_the_delivery_log_is_read_in_a_fixed_number_of_queries(gql, world):
    users, endpoints = world

    def count_for(events: int) -> int:
        for _ in range(events):
            publish(EventType.ORDER_PLACED, {}, [supplier(endpoints[Role.SUPPLIER].supplier_id)])
        with CaptureQueriesContext(connection) as queries:
            data = gql(DELIVERIES, user=users[Role.OPERATOR])
        assert "errors" not in data
        return len(queries)

    assert count_for(1) == count_for(10)


def test_event_types_and_preferences_are_listed(gql, world):
    users, _endpoints = world
    kinds = gql("{ webhookEventTypes { type name description } }", user=users[Role.AGENCY])
    names = [k["name"] for k in kinds["data"]["webhookEventTypes"]]
    assert names[0] == "order.placed"
    assert "webhook.test" not in names
    mine = gql("{ notificationPreferences { emailEventTypes } }", user=users[Role.AGENCY])
    assert len(mine["data"]["notificationPreferences"]["emailEventTypes"]) == len(names)
    gql(PREFERENCES, {"types": []}, user=users[Role.AGENCY])
    mine = gql("{ notificationPreferences { emailEventTypes } }", user=users[Role.AGENCY])
    assert mine["data"]["notificationPreferences"]["emailEventTypes"] == []
