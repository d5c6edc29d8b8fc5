from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone
from stdnum.cn import uscc

from catalog.models import (
    AuthorizationKind,
    Category,
    County,
    FarmerSupply,
    LinkageKind,
    Product,
    ProductAuthorization,
    ProductStatus,
    ProductVariant,
    Qualification,
    QualificationKind,
    Supplier,
    SupplierKind,
    SupplierStatus,
    TierPrice,
    TraceBatch,
)


def credit_code(n: int, prefix: str = "916405") -> str:
    """A valid 统一社会信用代码, different for each n: by default a Ningxia (64) enterprise;
    prefix "123501" gives a Fuzhou (3501) public institution."""
    body = f"{prefix}{n % 10**11:011d}"
    return body + uscc.calc_check_digit(body)


def county(code: str = "640521") -> County:
    """Reference data loaded by migration: 640521 中宁县, 640323 盐池县 (脱贫县), …"""
    return County.objects.get(code=code)


def fujian_county() -> County:
    """A county outside Ningxia (福州市鼓楼区), for the checks that refuse one."""
    return County.objects.create(
        code="350102", name="鼓楼区", prefecture="福州市", province="福建省"
    )


def category(slug: str = "goji") -> Category:
    return Category.objects.get(slug=slug)


def in_days(days: int):
    return timezone.localdate() + timedelta(days=days)


class SupplierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Supplier
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"宁夏红宝枸杞有限公司{n}")
    credit_code = factory.Sequence(credit_code)
    kind = SupplierKind.ENTERPRISE
    county = factory.LazyFunction(county)
    legal_representative = "马建国"
    contact_name = "李梅"
    contact_phone = "0955-1234567"
    contact_email = factory.Sequence(lambda n: f"sales{n}@supplier.cn")
    status = SupplierStatus.ADMITTED
    status_changed_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def qualifications(obj, create, extracted, **kwargs):
        if not create or extracted is False:
            return
        for kind in (
            QualificationKind.BUSINESS_LICENCE,
            QualificationKind.LEGAL_REP_ID,
            QualificationKind.FOOD_LICENCE,
        ):
            Qualification.objects.create(
                supplier=obj, kind=kind, number=f"{kind[:2]}-{obj.pk}", expires_on=in_days(400)
            )


class ProductFactory(factory.django.DjangoModelFactory):
    """A sellable product by default: admitted supplier, certified for a year, published."""

    class Meta:
        model = Product

    supplier = factory.SubFactory(SupplierFactory)
    name = factory.Sequence(lambda n: f"中宁枸杞特级干果{n}")
    slug = factory.Sequence(lambda n: f"zhong-ning-gou-qi-{n}")
    description = "中宁县核心产区头茬枸杞，颗粒饱满。"
    category = factory.LazyFunction(category)
    origin_county = factory.LazyFunction(county)
    status = ProductStatus.CERTIFIED
    certified_until = factory.LazyFunction(lambda: in_days(365))
    is_published = True


class VariantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductVariant

    product = factory.SubFactory(ProductFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n:06d}")
    spec = "500g×2袋"
    unit = "箱"
    unit_price = Decimal("128.00")
    minimum_order_quantity = 1
    stock = 100


class TierPriceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TierPrice

    variant = factory.SubFactory(VariantFactory)
    min_quantity = 50
    unit_price = Decimal("118.00")


class GIFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductAuthorization

    product = factory.SubFactory(ProductFactory)
    kind = AuthorizationKind.GI
    name = "中宁枸杞"
    expires_on = factory.LazyFunction(lambda: in_days(365))


class TraceBatchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TraceBatch

    code = factory.Sequence(lambda n: f"NX-GQ-2026-{n:05d}")
    product = factory.SubFactory(ProductFactory)
    produced_on = factory.LazyFunction(lambda: in_days(-30))
    origin_county = factory.LazyFunction(county)
    base = "舟塔乡枸杞基地"
    quantity = Decimal("1200.00")
    certificate_number = factory.Sequence(lambda n: f"HGZ-{n:06d}")


class HouseholdFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FarmerSupply

    batch = factory.SubFactory(TraceBatchFactory)
    household = "马有福"
    village = "舟塔村"
    linkage = LinkageKind.ORDER_PURCHASE
    amount_paid = Decimal("8600.00")
