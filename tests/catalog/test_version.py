"""Stock-only writes move the stock version and nothing else; every other storefront write, and
anything the statement parser is not sure of, moves the catalog version."""

from decimal import Decimal

import pytest

from catalog import version
from catalog.services import variants as variant_services
from procurement.services.orders import order_cancel
from tests.procurement.flows import buyer, place, staff_of, stocked_variant

STOCK_ONLY = [
    'UPDATE "catalog_productvariant" SET "stock" = %s WHERE "catalog_productvariant"."id" = %s',
    'UPDATE "catalog_productvariant" SET "stock" = CASE WHEN ("catalog_productvariant"."id" = %s)'
    ' THEN %s ELSE NULL END WHERE "catalog_productvariant"."id" IN (%s, %s)',
    'UPDATE "catalog_productvariant" SET "stock" = ("catalog_productvariant"."stock" + %s)'
    ' WHERE "catalog_productvariant"."id" = %s',
    "UPDATE catalog_productvariant AS v SET stock = v.stock - d.qty"
    " FROM (VALUES (1, 2)) d(id, qty) WHERE v.id = d.id RETURNING v.id",
]
NOT_STOCK_ONLY = [
    'UPDATE "catalog_productvariant" SET "stock" = %s, "unit_price" = %s WHERE id = 1',
    'UPDATE "catalog_productvariant" SET "unit_price" = %s WHERE id = 1',
    'UPDATE "catalog_product" SET "stock" = %s',
    "UPDATE catalog_productvariant SET stock = 'a,b', spec = 'x' WHERE id = 1",
    "UPDATE catalog_productvariant SET stock = (SELECT 1 FROM x WHERE y), spec = 2",
    "UPDATE catalog_productvariant SET (stock, spec) = (1, 2)",
    'DELETE FROM "catalog_productvariant" WHERE stock = 1',
    'INSERT INTO "catalog_productvariant" ("stock") VALUES (1)',
]


@pytest.mark.parametrize("sql", STOCK_ONLY)
def test_an_update_setting_only_stock_is_a_stock_write(sql):
    assert version.is_stock_only(sql)


@pytest.mark.parametrize("sql", NOT_STOCK_ONLY)
def test_any_other_write_is_a_catalog_write(sql):
    assert not version.is_stock_only(sql)


@pytest.mark.django_db
def test_a_checkout_and_its_cancel_move_only_the_stock_version():
    variant = stocked_variant(stock=100)
    agency_user = buyer()
    before = version.current()
    (order,) = place(agency_user, (variant, 30))
    placed = version.current()
    order_cancel(acting_user=agency_user, order_id=order.pk, reason="买错了")
    cancelled = version.current()
    assert placed.catalog == before.catalog == cancelled.catalog
    assert before.stock < placed.stock < cancelled.stock


@pytest.mark.django_db
def test_a_price_change_moves_the_catalog_version():
    variant = stocked_variant()
    before = version.current()
    variant_services.product_variant_update(
        acting_user=staff_of(variant.product.supplier),
        variant_id=variant.pk,
        data=variant_services.VariantInput(unit_price=Decimal("88.00")),
    )
    assert version.current().catalog > before.catalog
