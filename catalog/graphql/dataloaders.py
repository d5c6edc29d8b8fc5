"""Batch loaders for catalog types; see shop/core/graphql/dataloaders.py for how siblings batch.
They filter with `__in_ids` (shop/core/lookups.py): a page's ids as one parameter."""

from collections import defaultdict

from catalog.models import (
    Category,
    County,
    ProductAuthorization,
    ProductImage,
    ProductVariant,
    Supplier,
    TierPrice,
)
from shop.core.graphql.dataloaders import DataLoader, batches


def _grouped(rows, key) -> dict:
    groups = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    return groups


@batches("Product", key=lambda product: product.id)
class VariantsByProductId(DataLoader[int, list[ProductVariant]]):
    returns = "ProductVariant"

    def batch_load(self, keys):
        return _grouped(
            ProductVariant.objects.filter(product_id__in_ids=keys).order_by("id"),
            lambda v: v.product_id,
        )

    def default(self):
        return []


@batches("ProductVariant", key=lambda variant: variant.id)
class TiersByVariantId(DataLoader[int, list[TierPrice]]):
    def batch_load(self, keys):
        return _grouped(TierPrice.objects.filter(variant_id__in_ids=keys), lambda t: t.variant_id)

    def default(self):
        return []


@batches("Product", key=lambda product: product.id)
class ImagesByProductId(DataLoader[int, list[ProductImage]]):
    def batch_load(self, keys):
        return _grouped(
            ProductImage.objects.filter(product_id__in_ids=keys), lambda i: i.product_id
        )

    def default(self):
        return []


@batches("Product", key=lambda product: product.id)
class AuthorizationsByProductId(DataLoader[int, list[ProductAuthorization]]):
    def batch_load(self, keys):
        return _grouped(
            ProductAuthorization.objects.filter(product_id__in_ids=keys), lambda a: a.product_id
        )

    def default(self):
        return []


@batches("Product", key=lambda product: product.supplier_id)
class SupplierById(DataLoader[int, Supplier]):
    returns = "Supplier"

    def batch_load(self, keys):
        return Supplier.objects.in_bulk(keys)


@batches("Product", key=lambda product: product.origin_county_id)
@batches("Supplier", key=lambda supplier: supplier.county_id)
@batches("TraceBatch", key=lambda batch: batch.origin_county_id)
class CountyById(DataLoader[int, County]):
    def batch_load(self, keys):
        return County.objects.in_bulk(keys)


@batches("Product", key=lambda product: product.category_id)
class CategoryById(DataLoader[int, Category]):
    def batch_load(self, keys):
        return Category.objects.in_bulk(keys)
