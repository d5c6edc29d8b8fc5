"""Out-of-range catalog input: prices, quantities, document expiry dates and over-long text are
refused in `errors` (or as BAD_USER_INPUT for values no field accepts), with nothing stored."""

import pytest
from graphql_relay import to_global_id

from catalog.models import (
    FarmerSupply,
    ProductAuthorization,
    ProductVariant,
    Qualification,
    Supplier,
    TierPrice,
    TraceBatch,
)
from shop.accounts.models import Role
from shop.core.validation import DOCUMENT_MAX_YEARS, years_ahead
from tests.catalog.test_products import VARIANT_CREATE, pid
from tests.catalog.test_supplier_admission import APPLY, application
from tests.conftest import top_level_codes
from tests.factories import ProductFactory, SupplierFactory, UserFactory
from tests.factories.catalog import county, in_days

TRACE_BATCH = """mutation($id: ID!, $input: TraceBatchInput!) {
    traceBatchCreate(productId: $id, input: $input) { batch { code } errors { field code } } }"""
QUALIFICATION_ADD = """mutation($id: ID!, $q: QualificationInput!) {
    supplierQualificationAdd(supplierId: $id, input: $q) {
    qualification { number } errors { field code message } } }"""
AUTHORIZATION_ADD = """mutation($id: ID!, $input: ProductAuthorizationInput!) {
    productAuthorizationAdd(productId: $id, input: $input) { errors { field code } } }"""


@pytest.fixture
def staff(db):
    return UserFactory(role=Role.SUPPLIER, supplier=SupplierFactory())


@pytest.fixture
def product(staff):
    return ProductFactory(supplier=staff.supplier)


def variant(**changes) -> dict:
    return {"sku": "NX-1", "spec": "1kg", "unit": "袋", "unitPrice": "100.00", **changes}


def batch(**changes) -> dict:
    return {
        "code": "NX-GQ-2026-09-001",
        "producedOn": str(in_days(-5)),
        "originCountyId": to_global_id("County", county("640521").pk),
        "quantity": "1500.5",
        "households": [],
        **changes,
    }


@pytest.mark.parametrize("price", ["1E+30", "12345678901234567890.12", "1000000000000", "0.001"])
def test_an_out_of_range_price_is_invalid_price_with_no_variant(gql, staff, product, price):
    payload = gql(
        VARIANT_CREATE, {"id": pid(product), "input": variant(unitPrice=price)}, user=staff
    )["data"]["productVariantCreate"]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("unitPrice", "INVALID_PRICE")]
    assert not ProductVariant.objects.exists()


def test_a_tier_price_of_1e30_is_invalid_price_with_nothing_stored(gql, staff, product):
    data = variant(minimumOrderQuantity=1, tiers=[{"minQuantity": 10, "unitPrice": "1E+30"}])
    payload = gql(VARIANT_CREATE, {"id": pid(product), "input": data}, user=staff)["data"][
        "productVariantCreate"
    ]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("tiers", "INVALID_PRICE")]
    assert not ProductVariant.objects.exists()
    assert not TierPrice.objects.exists()


def test_a_sku_longer_than_its_column_is_invalid_with_no_variant(gql, staff, product):
    max_length = ProductVariant._meta.get_field("sku").max_length
    payload = gql(
        VARIANT_CREATE,
        {"id": pid(product), "input": variant(sku="S" * (max_length + 1))},
        user=staff,
    )["data"]["productVariantCreate"]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("sku", "INVALID")]
    assert not ProductVariant.objects.exists()


def test_a_price_filter_of_1e30_is_bad_user_input(gql):
    response = gql('{ products(filter: {price: {lte: "1E+30"}}) { totalCount } }')
    assert top_level_codes(response) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("quantity", ["NaN", "Infinity"])
def test_a_non_finite_batch_quantity_is_bad_user_input_with_no_batch(gql, staff, product, quantity):
    response = gql(TRACE_BATCH, {"id": pid(product), "input": batch(quantity=quantity)}, user=staff)
    assert top_level_codes(response) == ["BAD_USER_INPUT"]
    assert not TraceBatch.objects.exists()


@pytest.mark.parametrize("quantity", ["1E+30", "0.001", "0"])
def test_an_out_of_range_batch_quantity_is_invalid_quantity(gql, staff, product, quantity):
    payload = gql(TRACE_BATCH, {"id": pid(product), "input": batch(quantity=quantity)}, user=staff)[
        "data"
    ]["traceBatchCreate"]
    assert payload["errors"] == [{"field": "quantity", "code": "INVALID_QUANTITY"}]
    assert not TraceBatch.objects.exists()


def test_a_household_paid_1e30_is_refused_with_no_batch(gql, staff, product):
    household = {"household": "马有福", "village": "舟塔村", "linkage": "EMPLOYMENT"}
    data = batch(households=[{**household, "amountPaid": "1E+30"}])
    payload = gql(TRACE_BATCH, {"id": pid(product), "input": data}, user=staff)["data"][
        "traceBatchCreate"
    ]
    assert payload["errors"] == [{"field": "households", "code": "INVALID"}]
    assert not TraceBatch.objects.exists()
    assert not FarmerSupply.objects.exists()


def test_a_qualification_valid_until_9999_is_refused_and_not_filed(gql, staff):
    qualification = {"kind": "FOOD_LICENCE", "number": "SC-2", "expiresOn": "9999-12-31"}
    supplier_id = to_global_id("Supplier", staff.supplier.pk)
    response = gql(QUALIFICATION_ADD, {"id": supplier_id, "q": qualification}, user=staff)
    assert top_level_codes(response) == ["BAD_USER_INPUT"]
    assert not Qualification.objects.filter(number="SC-2").exists()


def test_a_qualification_valid_beyond_the_document_horizon_is_invalid(gql, staff):
    latest = years_ahead(in_days(0), DOCUMENT_MAX_YEARS)
    supplier_id = to_global_id("Supplier", staff.supplier.pk)
    too_far = {
        "kind": "FOOD_LICENCE",
        "number": "SC-2",
        "expiresOn": str(in_days(0).replace(year=2090)),
    }
    payload = gql(QUALIFICATION_ADD, {"id": supplier_id, "q": too_far}, user=staff)["data"][
        "supplierQualificationAdd"
    ]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("qualifications", "INVALID")]
    assert str(latest) in payload["errors"][0]["message"]
    assert not Qualification.objects.filter(number="SC-2").exists()
    at_the_limit = {**too_far, "expiresOn": str(latest)}
    payload = gql(QUALIFICATION_ADD, {"id": supplier_id, "q": at_the_limit}, user=staff)["data"][
        "supplierQualificationAdd"
    ]
    assert payload["errors"] == []


def test_an_application_with_a_far_future_licence_is_refused_with_no_supplier(gql):
    consumer = UserFactory(role=Role.CONSUMER)
    data = application()
    data["qualifications"][0]["expiresOn"] = "2099-12-31"
    payload = gql(APPLY, {"input": data}, user=consumer)["data"]["supplierApply"]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("qualifications", "INVALID")]
    assert not Supplier.objects.exists()


def test_an_application_name_longer_than_its_column_is_refused_with_no_supplier(gql):
    consumer = UserFactory(role=Role.CONSUMER)
    name = "合" * (Supplier._meta.get_field("name").max_length + 1)
    payload = gql(APPLY, {"input": application(name=name)}, user=consumer)["data"]["supplierApply"]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("name", "INVALID")]
    assert not Supplier.objects.exists()
    assert not Qualification.objects.exists()


def test_an_authorisation_beyond_the_document_horizon_is_invalid(gql, staff, product):
    data = {"kind": "GI", "name": "中宁枸杞", "expiresOn": "2099-12-31"}
    payload = gql(AUTHORIZATION_ADD, {"id": pid(product), "input": data}, user=staff)["data"][
        "productAuthorizationAdd"
    ]
    assert payload["errors"] == [{"field": "expiresOn", "code": "INVALID"}]
    assert not ProductAuthorization.objects.exists()
