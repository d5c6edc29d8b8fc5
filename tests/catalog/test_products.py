"""Listings managed by supplier staff, and certification by operators."""

from decimal import Decimal

import pytest
from graphql_relay import to_global_id

from catalog.models import (
    FarmerSupply,
    Product,
    ProductStatus,
    ProductTransition,
    ProductVariant,
    SupplierStatus,
    TierPrice,
    TraceBatch,
)
from shop.accounts.models import Role
from tests.factories import ProductFactory, SupplierFactory, UserFactory, VariantFactory
from tests.factories.catalog import category, county, fujian_county, in_days

CREATE = """mutation($input: ProductInput!) { productCreate(input: $input) {
    product { name slug status originCounty { name } category { name } } errors { field code message } } }"""
UPDATE = """mutation($id: ID!, $input: ProductInput!) { productUpdate(id: $id, input: $input) {
    product { name status } errors { field code message } } }"""
SUBMIT = """mutation($id: ID!) { productSubmitForCertification(id: $id) {
    product { status } errors { field code message } } }"""
CERTIFY = """mutation($id: ID!, $decision: CertificationDecision!, $note: String, $until: Date) {
    productCertify(id: $id, decision: $decision, note: $note, validUntil: $until) {
    product { status certifiedUntil } errors { field code message } } }"""
VARIANT_CREATE = """mutation($id: ID!, $input: ProductVariantInput!) {
    productVariantCreate(productId: $id, input: $input) {
    variant { sku unitPrice { amount } minimumOrderQuantity quantityAvailable tiers { minQuantity unitPrice { amount } } }
    errors { field code message } } }"""
STOCK = """mutation($id: ID!, $q: Int!) { stockUpdate(variantId: $id, quantity: $q) {
    variant { quantityAvailable } errors { field code message } } }"""


@pytest.fixture
def supplier(db):
    return SupplierFactory()


@pytest.fixture
def staff(supplier):
    return UserFactory(role=Role.SUPPLIER, supplier=supplier)


def product_input(**overrides) -> dict:
    data = {
        "name": "中宁枸杞 特级 500g",
        "description": "头茬鲜果制干",
        "categoryId": to_global_id("Category", category("goji").pk),
        "originCountyId": to_global_id("County", county("640521").pk),
        "coldChain": "AMBIENT",
    }
    data.update(overrides)
    return data


def pid(product) -> str:
    return to_global_id("Product", product.pk)


def test_staff_create_a_draft_product_with_a_pinyin_slug(gql, staff):
    payload = gql(CREATE, {"input": product_input()}, user=staff)["data"]["productCreate"]
    assert payload["errors"] == []
    assert payload["product"] == {
        "name": "中宁枸杞 特级 500g",
        "slug": "zhong-ning-gou-qi-te-ji-500g",
        "status": "DRAFT",
        "originCounty": {"name": "中宁县"},
        "category": {"name": "枸杞"},
    }


def test_product_origin_must_be_in_ningxia(gql, staff):
    fujian = fujian_county()
    data = product_input(originCountyId=to_global_id("County", fujian.pk))
    payload = gql(CREATE, {"input": data}, user=staff)["data"]["productCreate"]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        ("originCountyId", "COUNTY_NOT_IN_NINGXIA")
    ]
    assert not Product.objects.exists()


@pytest.mark.parametrize(
    "status", [SupplierStatus.SUSPENDED, SupplierStatus.EXITED, SupplierStatus.APPLIED]
)
def test_a_supplier_that_is_not_admitted_can_place_no_listing(gql, status):
    staff = UserFactory(role=Role.SUPPLIER, supplier=SupplierFactory(status=status))
    payload = gql(CREATE, {"input": product_input()}, user=staff)["data"]["productCreate"]
    assert payload["errors"][0]["code"] == "SUPPLIER_NOT_ACTIVE"
    assert not Product.objects.exists()


def test_staff_cannot_touch_another_suppliers_product(gql, staff):
    foreign = ProductFactory(name="别家的枸杞")
    payload = gql(UPDATE, {"id": pid(foreign), "input": {"name": "我的枸杞"}}, user=staff)
    assert payload["data"]["productUpdate"]["errors"][0]["code"] == "NOT_FOUND"
    foreign.refresh_from_db()
    assert foreign.name == "别家的枸杞"


def test_certification_flow_puts_a_product_on_the_storefront(gql, staff, operator):
    product = ProductFactory(
        supplier=staff.supplier, status=ProductStatus.DRAFT, certified_until=None
    )
    assert (
        gql(SUBMIT, {"id": pid(product)}, user=staff)["data"]["productSubmitForCertification"][
            "errors"
        ][0]["code"]
        == "NO_VARIANTS"
    )
    VariantFactory(product=product)
    assert gql(SUBMIT, {"id": pid(product)}, user=staff)["data"][
        "productSubmitForCertification"
    ] == {
        "product": {"status": "PENDING_CERTIFICATION"},
        "errors": [],
    }
    until = str(in_days(200))
    certified = gql(
        CERTIFY, {"id": pid(product), "decision": "CERTIFY", "until": until}, user=operator
    )
    assert certified["data"]["productCertify"] == {
        "product": {"status": "CERTIFIED", "certifiedUntil": until},
        "errors": [],
    }
    assert gql("{ products { totalCount } }")["data"]["products"]["totalCount"] == 1
    assert list(ProductTransition.objects.values_list("to_status", flat=True)) == [
        "PENDING_CERTIFICATION",
        "CERTIFIED",
    ]


def test_rejection_needs_a_note_and_allows_resubmission(gql, staff, operator):
    product = VariantFactory(
        product__supplier=staff.supplier, product__status=ProductStatus.PENDING_CERTIFICATION
    ).product
    no_note = gql(CERTIFY, {"id": pid(product), "decision": "REJECT"}, user=operator)
    assert no_note["data"]["productCertify"]["errors"][0]["code"] == "REQUIRED"
    rejected = gql(
        CERTIFY, {"id": pid(product), "decision": "REJECT", "note": "缺检测报告"}, user=operator
    )
    assert rejected["data"]["productCertify"]["product"]["status"] == "CERTIFICATION_REJECTED"
    again = gql(SUBMIT, {"id": pid(product)}, user=staff)["data"]["productSubmitForCertification"]
    assert again["product"]["status"] == "PENDING_CERTIFICATION"


P = ProductStatus
PRODUCT_ACTIONS = ["submit", "certify", "reject"]
PRODUCT_ALLOWED = {
    (P.DRAFT, "submit"): P.PENDING_CERTIFICATION,
    (P.CERTIFICATION_REJECTED, "submit"): P.PENDING_CERTIFICATION,
    (P.PENDING_CERTIFICATION, "certify"): P.CERTIFIED,
    (P.PENDING_CERTIFICATION, "reject"): P.CERTIFICATION_REJECTED,
}


@pytest.mark.parametrize("status", list(ProductStatus))
@pytest.mark.parametrize("action", PRODUCT_ACTIONS)
def test_product_transition_table(gql, staff, operator, status, action):
    # A certified product far from expiry cannot be re-submitted yet (annual review window).
    product = VariantFactory(
        product__supplier=staff.supplier,
        product__status=status,
        product__certified_until=in_days(300),
    ).product
    if action == "submit":
        response = gql(SUBMIT, {"id": pid(product)}, user=staff)
    else:
        decision = "CERTIFY" if action == "certify" else "REJECT"
        response = gql(
            CERTIFY, {"id": pid(product), "decision": decision, "note": "n"}, user=operator
        )
    payload = next(iter(response["data"].values()))
    product.refresh_from_db()
    expected = PRODUCT_ALLOWED.get((status, action))
    if expected:
        assert payload["errors"] == []
        assert product.status == expected
    else:
        assert payload["errors"][0]["code"] == "INVALID_TRANSITION"
        assert product.status == status
        assert not ProductTransition.objects.exists()


def test_certified_product_can_be_resubmitted_within_90_days_of_expiry(gql, staff):
    product = VariantFactory(
        product__supplier=staff.supplier, product__certified_until=in_days(60)
    ).product
    payload = gql(SUBMIT, {"id": pid(product)}, user=staff)["data"]["productSubmitForCertification"]
    assert payload["product"]["status"] == "PENDING_CERTIFICATION"


def test_material_edit_of_a_certified_product_needs_certification_again(gql, staff):
    product = ProductFactory(supplier=staff.supplier)
    described = gql(UPDATE, {"id": pid(product), "input": {"description": "新描述"}}, user=staff)
    assert described["data"]["productUpdate"]["product"]["status"] == "CERTIFIED"
    renamed = gql(UPDATE, {"id": pid(product), "input": {"name": "新名字"}}, user=staff)
    assert renamed["data"]["productUpdate"]["product"] == {"name": "新名字", "status": "DRAFT"}
    assert gql("{ products { totalCount } }")["data"]["products"]["totalCount"] == 0


def create_variant(gql, staff, product, data: dict) -> dict:
    """productVariantCreate's payload for `data` on `product`, made by its supplier's staff."""
    response = gql(VARIANT_CREATE, {"id": pid(product), "input": data}, user=staff)
    return response["data"]["productVariantCreate"]


def test_variant_with_tiers(gql, staff):
    product = ProductFactory(supplier=staff.supplier)
    data = {
        "sku": "NX-GQ-500",
        "spec": "500g×2袋",
        "unit": "箱",
        "unitPrice": "128.00",
        "minimumOrderQuantity": 10,
        "stock": 500,
        "tiers": [
            {"minQuantity": 200, "unitPrice": "110.00"},
            {"minQuantity": 50, "unitPrice": "120"},
        ],
    }
    payload = create_variant(gql, staff, product, data)
    assert payload["errors"] == []
    assert payload["variant"] == {
        "sku": "NX-GQ-500",
        "unitPrice": {"amount": "128.00"},
        "minimumOrderQuantity": 10,
        "quantityAvailable": 500,
        "tiers": [
            {"minQuantity": 50, "unitPrice": {"amount": "120.00"}},
            {"minQuantity": 200, "unitPrice": {"amount": "110.00"}},
        ],
    }


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"unitPrice": "0"}, "unitPrice", "INVALID_PRICE"),
        ({"unitPrice": "-5"}, "unitPrice", "INVALID_PRICE"),
        ({"unitPrice": "12.345"}, "unitPrice", "INVALID_PRICE"),
        ({"minimumOrderQuantity": 0}, "minimumOrderQuantity", "INVALID_QUANTITY"),
        ({"stock": -1}, "stock", "INVALID_QUANTITY"),
        ({"sku": ""}, "sku", "REQUIRED"),
        ({"tiers": [{"minQuantity": 5, "unitPrice": "100"}]}, "tiers", "INVALID_QUANTITY"),
        ({"tiers": [{"minQuantity": 50, "unitPrice": "150"}]}, "tiers", "INVALID_PRICE"),
    ],
)
def test_bad_variant_input_is_refused_with_nothing_stored(gql, staff, changes, field, code):
    product = ProductFactory(supplier=staff.supplier)
    data = {
        "sku": "NX-1",
        "spec": "1kg",
        "unit": "袋",
        "unitPrice": "100.00",
        "minimumOrderQuantity": 10,
    }
    data.update(changes)
    payload = create_variant(gql, staff, product, data)
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [(field, code)]
    assert not ProductVariant.objects.exists()
    assert not TierPrice.objects.exists()


def test_duplicate_sku_is_refused(gql, staff):
    VariantFactory(sku="TAKEN")
    product = ProductFactory(supplier=staff.supplier)
    data = {"sku": "TAKEN", "spec": "1kg", "unit": "袋", "unitPrice": "10"}
    payload = create_variant(gql, staff, product, data)
    assert payload["errors"][0]["code"] == "UNIQUE"
    assert ProductVariant.objects.count() == 1


def test_stock_update_sets_quantity_and_refuses_negative(gql, staff):
    variant = VariantFactory(product__supplier=staff.supplier, stock=5)
    vid = to_global_id("ProductVariant", variant.pk)
    assert gql(STOCK, {"id": vid, "q": 40}, user=staff)["data"]["stockUpdate"]["variant"] == {
        "quantityAvailable": 40
    }
    refused = gql(STOCK, {"id": vid, "q": -3}, user=staff)["data"]["stockUpdate"]
    assert refused["errors"][0]["code"] == "INVALID_QUANTITY"
    variant.refresh_from_db()
    assert variant.stock == 40


def test_trace_batch_with_households(gql, staff):
    product = ProductFactory(supplier=staff.supplier)
    mutation = """mutation($id: ID!, $input: TraceBatchInput!) { traceBatchCreate(productId: $id, input: $input) {
        batch { code households { village amountPaid { amount } } } errors { field code message } } }"""
    data = {
        "code": "NX-GQ-2026-07-001",
        "producedOn": str(in_days(-20)),
        "originCountyId": to_global_id("County", county("640521").pk),
        "quantity": "1500.5",
        "certificateNumber": "HGZ-640521-0001",
        "households": [
            {
                "household": "马有福",
                "village": "舟塔村",
                "linkage": "ORDER_PURCHASE",
                "amountPaid": "8600",
                "povertyStatus": "LIFTED",
            },
            {
                "household": "杨秀兰",
                "village": "康滩村",
                "linkage": "EMPLOYMENT",
                "amountPaid": "4200.5",
            },
        ],
    }
    payload = gql(mutation, {"id": pid(product), "input": data}, user=staff)["data"][
        "traceBatchCreate"
    ]
    assert payload["errors"] == []
    assert payload["batch"]["households"] == [
        {"village": "舟塔村", "amountPaid": {"amount": "8600.00"}},
        {"village": "康滩村", "amountPaid": {"amount": "4200.50"}},
    ]
    bad = dict(
        data,
        code="NX-2",
        households=[
            {"household": "A", "village": "B", "linkage": "EMPLOYMENT", "amountPaid": "-1"}
        ],
    )
    refused = gql(mutation, {"id": pid(product), "input": bad}, user=staff)["data"][
        "traceBatchCreate"
    ]
    assert refused["errors"][0]["field"] == "households"
    assert TraceBatch.objects.count() == 1
    assert FarmerSupply.objects.count() == 2


def test_gi_authorization_makes_has_gi_true(gql, staff):
    product = VariantFactory(product__supplier=staff.supplier).product
    mutation = """mutation($id: ID!, $input: ProductAuthorizationInput!) {
        productAuthorizationAdd(productId: $id, input: $input) { authorization { kind name } errors { code } } }"""
    data = {"kind": "GI", "name": "中宁枸杞", "scope": "中宁县全域", "expiresOn": str(in_days(365))}
    payload = gql(mutation, {"id": pid(product), "input": data}, user=staff)["data"][
        "productAuthorizationAdd"
    ]
    assert payload == {"authorization": {"kind": "GI", "name": "中宁枸杞"}, "errors": []}
    assert gql("{ products { edges { node { hasGi } } } }")["data"]["products"]["edges"] == [
        {"node": {"hasGi": True}}
    ]


def test_prices_are_decimals_never_floats(gql, staff):
    product = ProductFactory(supplier=staff.supplier)
    data = {"sku": "D-1", "spec": "1kg", "unit": "袋", "unitPrice": "0.10"}
    gql(VARIANT_CREATE, {"id": pid(product), "input": data}, user=staff)
    assert ProductVariant.objects.get().unit_price == Decimal("0.10")
