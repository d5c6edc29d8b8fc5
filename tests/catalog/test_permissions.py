"""Each role against each catalog mutation. A refused call answers UNAUTHENTICATED or
PERMISSION_DENIED at the top level and changes nothing; an object of another organisation is
answered like an unknown one (NOT_FOUND), so its existence is not revealed either."""

import pytest
from django.apps import apps
from graphql_relay import to_global_id

from catalog.models import ProductStatus, SupplierStatus
from shop.accounts.models import Role
from shop.core.models import AuditEvent
from tests.conftest import mutation_matrix_cell, top_level_codes
from tests.factories import ProductFactory, SupplierFactory, UserFactory, VariantFactory
from tests.factories.catalog import category, county, credit_code
from tests.factories.roles import one_user_per_role


def snapshot() -> dict:
    """Everything a catalog mutation could change."""
    state = {
        model.__name__: model.objects.count()
        for model in apps.get_app_config("catalog").get_models()
    }
    from catalog.models import Product, ProductVariant, Supplier

    state["supplier_statuses"] = sorted(Supplier.objects.values_list("pk", "status"))
    state["product_statuses"] = sorted(Product.objects.values_list("pk", "status", "name"))
    state["stock"] = sorted(ProductVariant.objects.values_list("pk", "stock"))
    state["audit"] = AuditEvent.objects.count()
    return state


@pytest.fixture
def world(db):
    supplier = SupplierFactory()
    applicant = SupplierFactory(status=SupplierStatus.APPLIED, qualifications=False)
    recommended = SupplierFactory(status=SupplierStatus.RECOMMENDED)
    product = ProductFactory(supplier=supplier)
    pending = VariantFactory(
        product__supplier=supplier, product__status=ProductStatus.PENDING_CERTIFICATION
    ).product
    variant = VariantFactory(product=product)
    draft = VariantFactory(product__supplier=supplier, product__status=ProductStatus.DRAFT).product
    users = one_user_per_role(supplier_user=UserFactory(role=Role.SUPPLIER, supplier=supplier))
    ids = {
        "supplier": to_global_id("Supplier", supplier.pk),
        "applicant": to_global_id("Supplier", applicant.pk),
        "recommended": to_global_id("Supplier", recommended.pk),
        "product": to_global_id("Product", product.pk),
        "pending": to_global_id("Product", pending.pk),
        "draft": to_global_id("Product", draft.pk),
        "variant": to_global_id("ProductVariant", variant.pk),
        "category": to_global_id("Category", category("goji").pk),
        "county": to_global_id("County", county("640521").pk),
    }
    return users, ids


QUALIFICATION = {"kind": "FOOD_LICENCE", "number": "SC-2", "expiresOn": "2050-01-01"}

# name → (mutation, variables from ids); the roles allowed through the access check are the
# mutation's declared policy (its `allowed_roles`).
MUTATIONS = {
    "supplierApply": (
        """mutation($input: SupplierApplyInput!) { supplierApply(input: $input) { errors { code } } }""",
        lambda ids: {
            "input": {
                "name": "新合作社",
                "creditCode": credit_code(777),
                "kind": "COOPERATIVE",
                "countyId": ids["county"],
                "legalRepresentative": "马",
                "contactName": "李",
                "contactPhone": "1",
                "qualifications": [
                    {"kind": k, "number": "N", "expiresOn": "2050-01-01"}
                    for k in ("BUSINESS_LICENCE", "LEGAL_REP_ID", "FOOD_LICENCE")
                ],
            }
        },
    ),
    "supplierQualificationAdd": (
        """mutation($id: ID!, $q: QualificationInput!) {
            supplierQualificationAdd(supplierId: $id, input: $q) { errors { code } } }""",
        lambda ids: {"id": ids["supplier"], "q": QUALIFICATION},
    ),
    "supplierRecommend": (
        """mutation($id: ID!) { supplierRecommend(id: $id, decision: RECOMMEND) { errors { code } } }""",
        lambda ids: {"id": ids["applicant"]},
    ),
    "supplierReview": (
        """mutation($id: ID!) { supplierReview(id: $id, decision: ADMIT) { errors { code } } }""",
        lambda ids: {"id": ids["recommended"]},
    ),
    "supplierSuspend": (
        """mutation($id: ID!) { supplierSuspend(id: $id, reason: "r") { errors { code } } }""",
        lambda ids: {"id": ids["supplier"]},
    ),
    "supplierReinstate": (
        """mutation($id: ID!) { supplierReinstate(id: $id) { errors { code } } }""",
        lambda ids: {"id": ids["supplier"]},
    ),
    "supplierExit": (
        """mutation($id: ID!) { supplierExit(id: $id, reason: "r") { errors { code } } }""",
        lambda ids: {"id": ids["supplier"]},
    ),
    "productCreate": (
        """mutation($c: ID!, $o: ID!) { productCreate(input: {name: "新品", categoryId: $c,
            originCountyId: $o}) { errors { code } } }""",
        lambda ids: {"c": ids["category"], "o": ids["county"]},
    ),
    "productUpdate": (
        """mutation($id: ID!) { productUpdate(id: $id, input: {name: "改名"}) { errors { code } } }""",
        lambda ids: {"id": ids["product"]},
    ),
    "productSubmitForCertification": (
        """mutation($id: ID!) { productSubmitForCertification(id: $id) { errors { code } } }""",
        lambda ids: {"id": ids["draft"]},
    ),
    "productCertify": (
        """mutation($id: ID!) { productCertify(id: $id, decision: CERTIFY) { errors { code } } }""",
        lambda ids: {"id": ids["pending"]},
    ),
    "productVariantCreate": (
        """mutation($id: ID!) { productVariantCreate(productId: $id, input: {sku: "N-1", spec: "1kg",
            unit: "袋", unitPrice: "9.90"}) { errors { code } } }""",
        lambda ids: {"id": ids["product"]},
    ),
    "productVariantUpdate": (
        """mutation($id: ID!) { productVariantUpdate(id: $id, input: {unitPrice: "99.00"}) { errors { code } } }""",
        lambda ids: {"id": ids["variant"]},
    ),
    "stockUpdate": (
        """mutation($id: ID!) { stockUpdate(variantId: $id, quantity: 7) { errors { code } } }""",
        lambda ids: {"id": ids["variant"]},
    ),
    "productAuthorizationAdd": (
        """mutation($id: ID!) { productAuthorizationAdd(productId: $id, input: {kind: GI, name: "中宁枸杞",
            expiresOn: "2050-01-01"}) { errors { code } } }""",
        lambda ids: {"id": ids["product"]},
    ),
    "inspectionReportAdd": (
        """mutation($id: ID!) { inspectionReportAdd(productId: $id, input: {lab: "国家枸杞检测中心",
            number: "R-1", items: "农残", testedOn: "2026-01-01"}) { errors { code } } }""",
        lambda ids: {"id": ids["product"]},
    ),
    "traceBatchCreate": (
        """mutation($id: ID!, $c: ID!) { traceBatchCreate(productId: $id, input: {code: "B-1",
            producedOn: "2026-01-01", originCountyId: $c, quantity: "10"}) { errors { code } } }""",
        lambda ids: {"id": ids["product"], "c": ids["county"]},
    ),
}


# Allowed roles whose call in this world ends in a domain error rather than a change.
EXPECTED_DOMAIN_ERRORS = {
    ("supplierApply", Role.SUPPLIER): ["ALREADY_SUPPLIER_STAFF"],
    ("supplierReinstate", Role.OPERATOR): ["INVALID_TRANSITION"],
}


@pytest.mark.parametrize("role", [None, *Role])
@pytest.mark.parametrize("name", list(MUTATIONS))
def test_catalog_mutation_permission_matrix(gql, world, name, role):
    mutation_matrix_cell(gql, world, MUTATIONS, name, role, snapshot, EXPECTED_DOMAIN_ERRORS)


@pytest.mark.parametrize(
    "name",
    [
        "productUpdate",
        "productVariantUpdate",
        "stockUpdate",
        "supplierQualificationAdd",
        "traceBatchCreate",
    ],
)
def test_staff_of_another_supplier_get_not_found_and_change_nothing(gql, world, name):
    _users, ids = world
    outsider = UserFactory(role=Role.SUPPLIER, supplier=SupplierFactory())
    query, variables = MUTATIONS[name]
    before = snapshot()
    response = gql(query, variables(ids), user=outsider)
    assert response["data"][name]["errors"] == [{"code": "NOT_FOUND"}]
    assert snapshot() == before


def test_county_reviewer_of_another_county_gets_not_found(gql, world):
    _users, ids = world
    other = UserFactory(role=Role.COUNTY_REVIEWER, county=county("640422"))
    query, variables = MUTATIONS["supplierRecommend"]
    before = snapshot()
    response = gql(query, variables(ids), user=other)
    assert response["data"]["supplierRecommend"]["errors"] == [{"code": "NOT_FOUND"}]
    assert snapshot() == before


SUPPLIERS = "{ suppliers { totalCount } }"


@pytest.mark.parametrize(
    ("role", "visible"),
    [(Role.OPERATOR, 3), (Role.AUDITOR, 3), (Role.SUPPLIER, 1), (Role.COUNTY_REVIEWER, 3)],
)
def test_supplier_list_is_scoped_by_role(gql, world, role, visible):
    users, _ids = world
    assert gql(SUPPLIERS, user=users[role])["data"]["suppliers"]["totalCount"] == visible


@pytest.mark.parametrize("role", [Role.AGENCY, Role.CONSUMER, None])
def test_supplier_list_is_refused_to_others(gql, world, role):
    users, _ids = world
    response = gql(SUPPLIERS, user=users[role] if role else None)
    assert top_level_codes(response) == ["PERMISSION_DENIED" if role else "UNAUTHENTICATED"]


def test_qualifications_are_hidden_from_the_public_view_of_a_supplier(gql, world):
    query = "{ products { edges { node { supplier { name qualifications { number } } } } } }"
    nodes = gql(query)["data"]["products"]["edges"]
    assert nodes[0]["node"]["supplier"]["qualifications"] is None
