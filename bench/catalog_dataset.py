"""Bench dataset: N sellable products over the real reference data, written with bulk_create.

    DJANGO_SETTINGS_MODULE=shop.settings DATABASE_URL=postgres://… \\
        .venv/bin/python -m bench.catalog_dataset --products 10000 [--suppliers 200] [--reset]

What it writes (all of it recognisable, so it can be replaced or removed):

- `--suppliers` ADMITTED suppliers (contact e-mail @bench.shanhai.example) spread over the
  Ningxia counties loaded by migration 0002, each with its three required qualifications valid
  for 400 days and its APPLIED → RECOMMENDED → ADMITTED history;
- `--products` products (slug `bench-NNNNN`), CERTIFIED for a year and published, i.e. sellable,
  with their PENDING_CERTIFICATION → CERTIFIED transition, in the migration's categories;
- 3 variants per product, each with one tier price (about 10 % off from 20, 50 or 100 units);
- 2 ProductImage rows per product with plausible storage paths, sizes, hashes and the thumbnail
  dict {"120"|"400"|"800": path} that catalog.services writes. **The image files themselves are
  not written**: the listing only turns stored paths into URLs, it never opens the files;
- a current GI authorisation on about 30 % of the products of GI categories (goji, wine, Tan
  sheep, beef, potatoes), an expired one on a few more, a regional brand on some others.

Bulk creation skips model signals and services (no audit events, no search indexing); the
listing benchmark needs neither. It is idempotent: bench data of the requested size is left as
it is; data of another size, or `--reset`, is deleted and generated afresh. `--delete` only
deletes. On PostgreSQL the tables are ANALYZEd afterwards, as autovacuum would soon do.
"""

import argparse
import hashlib
import random
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

SLUG_PREFIX = "bench-"
EMAIL_DOMAIN = "bench.shanhai.example"
BATCH = 1000  # products per round trip (their variants, tiers and images follow in batches)

# Per category slug: product words, cold chain, GI name (None: no GI for this category).
CATEGORY_STYLE = {
    "goji": (["头茬枸杞干果", "黑果枸杞", "枸杞原浆", "枸杞芽茶"], "AMBIENT", "中宁枸杞"),
    "wine": (
        ["赤霞珠干红", "霞多丽干白", "蛇龙珠干红", "桃红起泡酒"],
        "AMBIENT",
        "贺兰山东麓葡萄酒",
    ),
    "dairy": (["纯牛奶", "高钙奶粉", "老酸奶"], "CHILLED", None),
    "beef": (["雪花牛肉", "牛腱子", "牛肉干"], "FROZEN", "固原黄牛"),
    "tan-sheep": (["滩羊肉卷", "滩羊羊排", "手抓羊肉"], "FROZEN", "盐池滩羊"),
    "potatoes": (["马铃薯", "马铃薯粉条"], "AMBIENT", "西吉马铃薯"),
}
DEFAULT_WORDS = (["精选礼盒", "家庭装", "特级"], "AMBIENT", None)
VARIANTS = [  # spec, unit, price factor against the product's base price
    ("250g×1袋", "袋", Decimal("1.0")),
    ("500g×2袋", "箱", Decimal("3.6")),
    ("2.5kg×4袋", "箱", Decimal("16.5")),
]
SUPPLIER_WORDS = ["红宝", "塞上", "六盘", "贺兰", "沙湖", "黄河", "西夏", "固原", "清水", "金沙"]
SUPPLIER_KINDS = [  # kind, 统一社会信用代码 prefix, name suffix
    ("ENTERPRISE", "91", "农业科技有限公司"),
    ("COOPERATIVE", "93", "种养殖专业合作社"),
    ("FAMILY_FARM", "92", "家庭农场"),
]


@dataclass
class DatasetSummary:
    suppliers: int = 0
    products: int = 0
    variants: int = 0
    tiers: int = 0
    images: int = 0
    authorizations: int = 0
    seconds: float = 0.0
    generated: bool = False

    def line(self) -> str:
        verb = f"generated in {self.seconds:.1f} s" if self.generated else "already present"
        return (
            f"{self.products} sellable products, {self.suppliers} suppliers, {self.variants} "
            f"variants, {self.tiers} tier prices, {self.images} images, {self.authorizations} "
            f"authorisations ({verb})"
        )


def _money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _credit_code(prefix: str, division: str, n: int) -> str:
    from stdnum.cn import uscc

    body = f"{prefix}{division[:6]}BN{n:07d}"
    return body + uscc.calc_check_digit(body)


def bench_products():
    from catalog.models import Product

    return Product.objects.filter(slug__startswith=SLUG_PREFIX)


def bench_suppliers():
    from catalog.models import Supplier

    return Supplier.objects.filter(contact_email__endswith=f"@{EMAIL_DOMAIN}")


def existing_summary() -> DatasetSummary:
    from catalog.models import ProductAuthorization, ProductImage, ProductVariant, TierPrice

    products = bench_products()
    return DatasetSummary(
        suppliers=bench_suppliers().count(),
        products=products.count(),
        variants=ProductVariant.objects.filter(product__in=products).count(),
        tiers=TierPrice.objects.filter(variant__product__in=products).count(),
        images=ProductImage.objects.filter(product__in=products).count(),
        authorizations=ProductAuthorization.objects.filter(product__in=products).count(),
    )


def delete_bench_data() -> None:
    from django.db import transaction

    from catalog.models import Qualification, SupplierTransition

    with transaction.atomic():
        bench_products().delete()  # variants, tiers, images, authorisations, … cascade
        suppliers = bench_suppliers()
        Qualification.objects.filter(supplier__in=suppliers).delete()
        SupplierTransition.objects.filter(supplier__in=suppliers).delete()
        suppliers.delete()


def generate(
    *,
    products: int = 10_000,
    suppliers: int = 200,
    seed: int = 2026,
    reset: bool = False,
    console=None,
) -> DatasetSummary:
    """Make sure the database holds exactly this bench dataset; return what it holds."""
    existing = existing_summary()
    if not reset and existing.products == products and existing.suppliers == suppliers:
        return existing
    if existing.products or existing.suppliers:
        delete_bench_data()
    started = time.monotonic()
    summary = _write(products=products, suppliers=suppliers, seed=seed, console=console)
    _analyze()
    summary.seconds = time.monotonic() - started
    summary.generated = True
    return summary


def _analyze() -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for table in (
            "catalog_supplier",
            "catalog_product",
            "catalog_productvariant",
            "catalog_tierprice",
            "catalog_productimage",
            "catalog_productauthorization",
        ):
            cursor.execute(f"ANALYZE {table}")  # noqa: S608 - fixed table names


def _write(*, products: int, suppliers: int, seed: int, console) -> DatasetSummary:
    from django.db import transaction
    from django.utils import timezone
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from catalog.models import (
        NINGXIA,
        AuthorizationKind,
        Category,
        County,
        Product,
        ProductAuthorization,
        ProductImage,
        ProductStatus,
        ProductTransition,
        ProductVariant,
        Qualification,
        QualificationKind,
        Supplier,
        SupplierStatus,
        SupplierTransition,
        TierPrice,
    )

    rng = random.Random(seed)
    now = timezone.now()
    today = timezone.localdate()
    counties = list(County.objects.filter(province=NINGXIA).order_by("code"))
    categories = list(Category.objects.order_by("sort_order", "id"))
    if not counties or not categories:
        raise SystemExit("No reference data: run `manage.py migrate` first.")
    summary = DatasetSummary()

    columns = (
        TextColumn("{task.description:<16}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress, transaction.atomic():
        # Suppliers, their qualifications and admission history.
        task = progress.add_task("suppliers", total=suppliers)
        supplier_rows = []
        for n in range(suppliers):
            county = counties[n % len(counties)]
            kind, code_prefix, suffix = SUPPLIER_KINDS[n % len(SUPPLIER_KINDS)]
            word = SUPPLIER_WORDS[n % len(SUPPLIER_WORDS)]
            supplier_rows.append(
                Supplier(
                    name=f"宁夏{county.name}{word}{suffix}{n:03d}",
                    credit_code=_credit_code(code_prefix, county.code, n),
                    kind=kind,
                    county=county,
                    legal_representative="马建国",
                    contact_name="李梅",
                    contact_phone=f"0951-{5000000 + n}",
                    contact_email=f"sales{n}@{EMAIL_DOMAIN}",
                    description=f"{county.prefecture}{county.name}的{suffix}。",
                    status=SupplierStatus.ADMITTED,
                    status_changed_at=now - timedelta(days=rng.randint(30, 700)),
                )
            )
        Supplier.objects.bulk_create(supplier_rows, batch_size=BATCH)
        Qualification.objects.bulk_create(
            [
                Qualification(
                    supplier=s,
                    kind=kind,
                    number=f"{kind[:2]}-{s.credit_code}",
                    issuer=f"{s.county.prefecture}市场监督管理局",
                    expires_on=today + timedelta(days=400),
                )
                for s in supplier_rows
                for kind in (
                    QualificationKind.BUSINESS_LICENCE,
                    QualificationKind.LEGAL_REP_ID,
                    QualificationKind.FOOD_LICENCE,
                )
            ],
            batch_size=BATCH,
        )
        SupplierTransition.objects.bulk_create(
            [
                SupplierTransition(supplier=s, from_status=a, to_status=b, actor_email=who)
                for s in supplier_rows
                for a, b, who in (
                    (SupplierStatus.APPLIED, SupplierStatus.RECOMMENDED, "county@bench"),
                    (SupplierStatus.RECOMMENDED, SupplierStatus.ADMITTED, "operator@bench"),
                )
            ],
            batch_size=BATCH,
        )
        progress.advance(task, suppliers)
        summary.suppliers = suppliers

        tasks = {
            name: progress.add_task(name, total=products * per)
            for name, per in (("products", 1), ("variants", 3), ("tier prices", 3), ("images", 2))
        }
        certified_until = today + timedelta(days=365)
        for start in range(0, products, BATCH):
            rows = []
            for n in range(start, min(start + BATCH, products)):
                supplier = supplier_rows[rng.randrange(len(supplier_rows))]
                origin = supplier.county if rng.random() < 0.8 else rng.choice(counties)
                category = rng.choice(categories)
                words, cold_chain, _gi = CATEGORY_STYLE.get(category.slug, DEFAULT_WORDS)
                word = rng.choice(words)
                if words is DEFAULT_WORDS[0]:
                    word = category.name + word
                rows.append(
                    Product(
                        supplier=supplier,
                        name=f"{origin.name}{word}{n:05d}",
                        slug=f"{SLUG_PREFIX}{n:05d}",
                        description=f"产自{origin.prefecture}{origin.name}的{category.name}，"
                        "闽宁协作消费帮扶认定产品。",
                        category=category,
                        origin_county=origin,
                        cold_chain=cold_chain,
                        status=ProductStatus.CERTIFIED,
                        certified_until=certified_until,
                        is_published=True,
                    )
                )
            Product.objects.bulk_create(rows)
            ProductTransition.objects.bulk_create(
                ProductTransition(
                    product=p,
                    from_status=ProductStatus.PENDING_CERTIFICATION,
                    to_status=ProductStatus.CERTIFIED,
                    valid_until=certified_until,
                    note="bench dataset",
                )
                for p in rows
            )
            progress.advance(tasks["products"], len(rows))

            variants = []
            for p in rows:
                base = Decimal(rng.randint(1500, 30000)) / 100
                for j, (spec, unit, factor) in enumerate(VARIANTS):
                    variants.append(
                        ProductVariant(
                            product=p,
                            sku=f"BENCH-{p.slug.removeprefix(SLUG_PREFIX)}-{j}",
                            spec=spec,
                            unit=unit,
                            unit_price=_money(base * factor),
                            minimum_order_quantity=rng.choice((1, 1, 1, 5, 10)),
                            stock=rng.randint(0, 2000),
                        )
                    )
            ProductVariant.objects.bulk_create(variants)
            progress.advance(tasks["variants"], len(variants))
            TierPrice.objects.bulk_create(
                TierPrice(
                    variant=v,
                    min_quantity=rng.choice((20, 50, 100)),
                    unit_price=_money(v.unit_price * Decimal("0.9")),
                )
                for v in variants
            )
            progress.advance(tasks["tier prices"], len(variants))

            images = []
            for p in rows:
                for k in range(2):
                    sha = hashlib.sha256(f"{p.slug}/{k}".encode()).hexdigest()
                    stem = f"{p.pk}-{sha[:16]}"
                    images.append(
                        ProductImage(
                            product=p,
                            image=f"products/{today:%Y/%m}/{stem}.jpg",
                            format="JPEG",
                            width=1600,
                            height=1200,
                            sha256=sha,
                            thumbnails={
                                str(size): f"products/thumbnails/{stem}-{size}.webp"
                                for size in (120, 400, 800)
                            },
                            alt=p.name,
                            sort_order=k,
                        )
                    )
            ProductImage.objects.bulk_create(images)
            progress.advance(tasks["images"], len(images))

            authorizations = []
            for p in rows:
                _words, _cold, gi_name = CATEGORY_STYLE.get(p.category.slug, DEFAULT_WORDS)
                roll = rng.random()
                if gi_name and roll < 0.35:
                    expired = roll < 0.05
                    authorizations.append(
                        ProductAuthorization(
                            product=p,
                            kind=AuthorizationKind.GI,
                            name=gi_name,
                            number=f"GI-{p.pk:06d}",
                            scope=f"{p.origin_county.name}产区",
                            expires_on=today + timedelta(days=-30 if expired else 730),
                        )
                    )
                elif not gi_name and roll < 0.1:
                    authorizations.append(
                        ProductAuthorization(
                            product=p,
                            kind=AuthorizationKind.REGIONAL_BRAND,
                            name="宁夏优品",
                            expires_on=today + timedelta(days=365),
                        )
                    )
            ProductAuthorization.objects.bulk_create(authorizations)

            summary.products += len(rows)
            summary.variants += len(variants)
            summary.tiers += len(variants)
            summary.images += len(images)
            summary.authorizations += len(authorizations)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--suppliers", type=int, default=200)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--reset", action="store_true", help="regenerate even if present")
    parser.add_argument("--delete", action="store_true", help="only delete the bench data")
    args = parser.parse_args(argv)
    if args.products < 0 or args.suppliers < 1:
        parser.error("need --products ≥ 0 and --suppliers ≥ 1")

    import django

    django.setup()
    from django.db import connection

    target = f"{connection.vendor} database {connection.settings_dict.get('NAME')}"
    if args.delete:
        delete_bench_data()
        print(f"Deleted the bench data from the {target}.")
        return 0
    summary = generate(
        products=args.products, suppliers=args.suppliers, seed=args.seed, reset=args.reset
    )
    print(f"{target}: {summary.line()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
