"""The recommended catalog (推荐目录) as a table, for CSV and XLSX export."""

from collections.abc import Iterator

from catalog import selectors
from catalog.models import AuthorizationKind
from shop.core.money import quantize_cny

HEADER = [
    "序号",
    "产品名称",
    "分类",
    "产地",
    "脱贫县",
    "供应商",
    "统一社会信用代码",
    "SKU",
    "规格",
    "单位",
    "单价(元)",
    "起订量",
    "地理标志",
    "认定有效期至",
]


def recommended_catalog_rows() -> Iterator[list]:
    """One row per variant of every sellable product, read in chunks of 500 products.
    Price and quantities stay numbers (see shop.core.exports); the rest is text."""
    products = selectors.recommended_catalog().prefetch_related("authorizations", "variants")
    number = 0
    for product in products.iterator(chunk_size=500):
        gi = ", ".join(
            a.name for a in product.authorizations.all() if a.kind == AuthorizationKind.GI
        )
        for variant in product.variants.all():
            number += 1
            yield [
                number,
                product.name,
                product.category.name,
                str(product.origin_county),
                "是" if product.origin_county.is_poverty_exited else "否",
                product.supplier.name,
                product.supplier.credit_code,
                variant.sku,
                variant.spec,
                variant.unit,
                quantize_cny(variant.unit_price),
                variant.minimum_order_quantity,
                gi,
                product.certified_until.isoformat(),
            ]
