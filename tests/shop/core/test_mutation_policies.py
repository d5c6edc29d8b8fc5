"""Every mutation of the schema declares its access policy (`allowed_roles`, kept in each app's
access.py), and the role × mutation matrix is generated from those declarations: a role
outside a mutation's policy gets the access error and changes nothing, whatever it sends; a
role inside it gets past the access check. The apps' own matrices (tests/catalog/
test_permissions.py, tests/procurement/test_permissions.py) drive realistic calls with the
same declared policies and the outcomes they expect."""

import json

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
)

from shop.accounts.models import Role
from shop.core.permissions import ANYONE
from shop.schema import schema
from tests.conftest import declared_roles, mutation_class, top_level_codes
from tests.factories import UserFactory
from tests.factories.catalog import SupplierFactory
from tests.factories.procurement import AgencyFactory
from tests.factories.roles import one_user_per_role

MUTATION_FIELDS = schema.graphql_schema.mutation_type.fields
ROLES = [None, *Role]

# A valid value of each scalar: the call must reach the access check, not stop at parsing.
SCALARS = {
    "ID": "UHJvZHVjdDox",
    "String": "x",
    "Int": 1,
    "Float": 1.0,
    "Boolean": False,
    "Decimal": "1.00",
    "BigInt": 1,
    "Date": "2026-01-01",
    "DateTime": "2026-01-01T00:00:00+08:00",
    "JSONString": "{}",
}


def sample(type_) -> object:
    """A value of a GraphQL input type with every required part filled in."""
    if isinstance(type_, GraphQLNonNull):
        return sample(type_.of_type)
    if isinstance(type_, GraphQLList):
        return []
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, GraphQLInputObjectType):
        return {
            name: sample(field.type)
            for name, field in type_.fields.items()
            if isinstance(field.type, GraphQLNonNull)
        }
    assert isinstance(type_, GraphQLScalarType)
    return None if type_.name == "Upload" else SCALARS[type_.name]


def call(client, name: str, user) -> dict:
    """`name` with a sample of each required argument, as `user`; an Upload travels as a file
    of a multipart request, as clients send it."""
    field = MUTATION_FIELDS[name]
    required = {a: arg for a, arg in field.args.items() if isinstance(arg.type, GraphQLNonNull)}
    declared = ", ".join(f"${a}: {arg.type}" for a, arg in required.items())
    passed = ", ".join(f"{a}: ${a}" for a in required)
    query = f"mutation{f'({declared})' if declared else ''} {{ {name}{f'({passed})' if passed else ''} {{ __typename }} }}"
    variables = {a: sample(arg.type) for a, arg in required.items()}
    uploads = [a for a, arg in required.items() if str(arg.type) == "Upload!"]
    headers = {}
    if user is not None:
        from shop.accounts.tokens import create_access_token

        headers["HTTP_AUTHORIZATION"] = f"Bearer {create_access_token(user)}"
    operations = json.dumps({"query": query, "variables": variables})
    if not uploads:
        response = client.http.post(
            "/graphql/", operations, content_type="application/json", **headers
        )
    else:
        files = {str(n): SimpleUploadedFile(f"f{n}.pdf", b"%PDF-1.4") for n in range(len(uploads))}
        mapping = {str(n): [f"variables.{a}"] for n, a in enumerate(uploads)}
        response = client.http.post(
            "/graphql/", {"operations": operations, "map": json.dumps(mapping), **files}, **headers
        )
    return response.json()


def snapshot() -> dict[str, int]:
    labels = ("accounts", "catalog", "procurement", "core", "search", "payments", "notifications")
    return {
        model._meta.label: model.objects.count()
        for label in labels
        for model in apps.get_app_config(label).get_models()
    }


@pytest.fixture
def users(db) -> dict:
    """A user of each role, tied to the organisation the role acts for."""
    agency_user = UserFactory(role=Role.AGENCY, agency=AgencyFactory())
    supplier_user = UserFactory(role=Role.SUPPLIER, supplier=SupplierFactory())
    return {None: None} | one_user_per_role(agency_user=agency_user, supplier_user=supplier_user)


@pytest.mark.parametrize("name", sorted(MUTATION_FIELDS))
def test_every_mutation_declares_its_allowed_roles(name):
    policy = mutation_class(name).allowed_roles
    assert policy == ANYONE or (
        isinstance(policy, tuple) and policy and set(policy) <= set(Role)
    ), f"{name}: declare allowed_roles (a tuple of roles, or ANYONE) in its app's access.py"


DENIED = [
    (name, role)
    for name in sorted(MUTATION_FIELDS)
    if mutation_class(name).allowed_roles not in (None, ANYONE)
    for role in ROLES
    if role not in declared_roles(name)
]
ALLOWED = [
    (name, role)
    for name in sorted(MUTATION_FIELDS)
    if mutation_class(name).allowed_roles not in (None, ANYONE)
    for role in sorted(declared_roles(name))
]


@pytest.mark.parametrize(("name", "role"), DENIED)
def test_a_role_outside_the_policy_is_refused_and_changes_nothing(gql, users, name, role):
    before = snapshot()
    response = call(gql, name, users[role])
    assert top_level_codes(response) == ["UNAUTHENTICATED" if role is None else "PERMISSION_DENIED"]
    assert response["data"] == {name: None}
    assert snapshot() == before


@pytest.mark.parametrize(("name", "role"), ALLOWED)
def test_a_role_inside_the_policy_gets_past_the_access_check(gql, users, name, role):
    response = call(gql, name, users[role])
    assert top_level_codes(response) == [], response
    assert response["data"][name] is not None
