import graphene
from django.urls import reverse
from django.utils import timezone
from graphene_django import DjangoObjectType

from catalog import models, selectors
from catalog.access import can_read_qualifications, can_see_supplier_records
from catalog.errors import CatalogErrorCode
from catalog.graphql import dataloaders as loaders
from shop.core.graphql.errors import error_type
from shop.core.graphql.response_cache import record_live
from shop.core.graphql.types import CountableConnection, Money
from shop.core.storage import public_url

CatalogError = error_type("CatalogError", CatalogErrorCode, "An error from a catalog mutation.")

SupplierStatusEnum = graphene.Enum.from_enum(models.SupplierStatus, name="SupplierStatus")
SupplierKindEnum = graphene.Enum.from_enum(models.SupplierKind, name="SupplierKind")
ProductStatusEnum = graphene.Enum.from_enum(models.ProductStatus, name="ProductStatus")
ColdChainEnum = graphene.Enum.from_enum(models.ColdChain, name="ColdChain")
QualificationKindEnum = graphene.Enum.from_enum(models.QualificationKind, name="QualificationKind")
AuthorizationKindEnum = graphene.Enum.from_enum(models.AuthorizationKind, name="AuthorizationKind")
LinkageKindEnum = graphene.Enum.from_enum(models.LinkageKind, name="LinkageKind")
HouseholdStatusEnum = graphene.Enum.from_enum(models.HouseholdStatus, name="HouseholdStatus")


def _document_url(info, kind: str, document) -> str | None:
    """The access-checked download address of a private file, for those who may read it."""
    if not selectors.may_read_document(info.context.user, kind, document):
        return None
    path = reverse("document-download", kwargs={"kind": kind, "document_id": document.pk})
    return info.context.build_absolute_uri(path)


def _joined_or_loaded(obj, field: str, loader, key):
    """The related object the listing query already joined, else its batch loader's."""
    if field in obj._state.fields_cache:
        return getattr(obj, field)
    return loader(key)


class CountyType(DjangoObjectType):
    class Meta:
        model = models.County
        name = "County"
        description = "A county-level division; Ningxia ones are product origins."
        interfaces = (graphene.relay.Node,)
        fields = ("id", "code", "name", "prefecture", "province", "is_poverty_exited")


class CityType(DjangoObjectType):
    class Meta:
        model = models.City
        name = "City"
        description = "A Fujian prefecture-level city."
        interfaces = (graphene.relay.Node,)
        fields = ("id", "code", "name", "province")


class CategoryType(DjangoObjectType):
    class Meta:
        model = models.Category
        name = "Category"
        interfaces = (graphene.relay.Node,)
        fields = ("id", "name", "slug", "english_name")


FILE_URL_DESCRIPTION = (
    "Where to download the document's file (send the same Bearer token); null when there is "
    "none or you may not read it. Private: {readers}."
)


class QualificationType(DjangoObjectType):
    kind = graphene.Field(QualificationKindEnum, required=True)
    file_url = graphene.String(
        description=FILE_URL_DESCRIPTION.format(
            readers="operators, auditors, the supplier's staff and its county reviewer"
        )
    )

    class Meta:
        model = models.Qualification
        name = "Qualification"
        interfaces = (graphene.relay.Node,)
        fields = ("id", "kind", "number", "issuer", "expires_on", "created_at")
        convert_choices_to_enum = False

    def resolve_file_url(self, info):
        return _document_url(info, "qualifications", self)


# A row of `SupplierTransition` (a plain type: the history's shared `note` column keeps the
# name the contract gave it, `reason`, in its place among the fields).
class SupplierTransitionType(graphene.ObjectType):
    from_status = graphene.Field(SupplierStatusEnum)
    to_status = graphene.Field(SupplierStatusEnum, required=True)
    actor_email = graphene.String(required=True)
    reason = graphene.String(required=True)
    created_at = graphene.DateTime(required=True)

    class Meta:
        name = "SupplierTransition"

    def resolve_from_status(self, info):
        return self.from_status or None

    def resolve_reason(self, info):
        return self.note


class SupplierType(DjangoObjectType):
    kind = graphene.Field(SupplierKindEnum, required=True)
    status = graphene.Field(SupplierStatusEnum, required=True)
    county = graphene.Field(CountyType, required=True)
    is_poverty_county = graphene.Boolean(
        required=True, description="Registered in a 脱贫县 (one half of 832 eligibility)."
    )
    qualifications = graphene.List(
        graphene.NonNull(QualificationType),
        description="Operators, auditors, the supplier's own staff and its county reviewer "
        "only; else null.",
    )
    transitions = graphene.List(
        graphene.NonNull(SupplierTransitionType),
        description="Status history (who, when, why); same visibility as qualifications.",
    )

    class Meta:
        model = models.Supplier
        name = "Supplier"
        description = "A Ningxia enterprise, cooperative or family farm."
        interfaces = (graphene.relay.Node,)
        fields = (
            "id",
            "name",
            "credit_code",
            "kind",
            "status",
            "status_changed_at",
            "legal_representative",
            "contact_name",
            "contact_phone",
            "contact_email",
            "description",
            "created_at",
        )
        convert_choices_to_enum = False

    def resolve_county(self, info):
        return _joined_or_loaded(
            self, "county", loaders.CountyById(info.context).load, self.county_id
        )

    def resolve_is_poverty_county(self, info):
        return SupplierType.resolve_county(self, info).is_poverty_exited

    def resolve_qualifications(self, info):
        if not can_read_qualifications(info.context.user, self):
            return None
        return self.qualifications.all()

    def resolve_transitions(self, info):
        if not can_see_supplier_records(info.context.user, self.pk):
            return None
        return self.transitions.all()


class SupplierConnection(CountableConnection):
    class Meta:
        node = SupplierType


class TierPriceType(graphene.ObjectType):
    min_quantity = graphene.Int(required=True)
    unit_price = graphene.Field(Money, required=True)

    class Meta:
        name = "TierPrice"

    def resolve_unit_price(self, info):
        return Money.of(self.unit_price)


class ProductVariantType(DjangoObjectType):
    unit_price = graphene.Field(Money, required=True)
    tiers = graphene.List(graphene.NonNull(TierPriceType), required=True)
    quantity_available = graphene.Int(required=True)
    in_stock = graphene.Boolean(required=True, description="At least one MOQ in stock.")

    class Meta:
        model = models.ProductVariant
        name = "ProductVariant"
        interfaces = (graphene.relay.Node,)
        fields = ("id", "sku", "spec", "unit", "minimum_order_quantity")

    def resolve_unit_price(self, info):
        return Money.of(self.unit_price)

    def resolve_tiers(self, info):
        return loaders.TiersByVariantId(info.context).load(self.pk)

    # Stock is a live value of the response cache (catalog/storefront_cache.py): a cached
    # answer has it read again when the stock version moved, so say where it goes.
    def resolve_quantity_available(self, info):
        record_live(info, self.pk, None)
        return self.stock

    def resolve_in_stock(self, info):
        record_live(info, self.pk, self.minimum_order_quantity)
        return self.stock >= self.minimum_order_quantity


class ThumbnailType(graphene.ObjectType):
    size = graphene.Int(required=True, description="Longest edge in pixels.")
    url = graphene.String(required=True)

    class Meta:
        name = "Thumbnail"


class ProductImageType(DjangoObjectType):
    url = graphene.String(required=True)
    thumbnails = graphene.List(graphene.NonNull(ThumbnailType), required=True)

    class Meta:
        model = models.ProductImage
        name = "ProductImage"
        interfaces = (graphene.relay.Node,)
        fields = ("id", "format", "width", "height", "alt", "sort_order")

    def resolve_url(self, info):
        return public_url(info.context, self.image.storage, self.image.name)

    def resolve_thumbnails(self, info):
        storage = self.image.storage
        # Dicts, not ThumbnailType instances: cheaper, and the default resolver reads both.
        return [
            {"size": int(size), "url": public_url(info.context, storage, path)}
            for size, path in sorted(self.thumbnails.items(), key=lambda item: int(item[0]))
        ]


class ProductAuthorizationType(DjangoObjectType):
    kind = graphene.Field(AuthorizationKindEnum, required=True)

    class Meta:
        model = models.ProductAuthorization
        name = "ProductAuthorization"
        fields = ("kind", "name", "number", "scope", "expires_on")
        convert_choices_to_enum = False


class InspectionReportType(DjangoObjectType):
    file_url = graphene.String(
        description=FILE_URL_DESCRIPTION.format(
            readers="operators, auditors and the supplier's staff"
        )
    )

    class Meta:
        model = models.InspectionReport
        name = "InspectionReport"
        interfaces = (graphene.relay.Node,)
        fields = ("id", "lab", "number", "items", "tested_on")

    def resolve_file_url(self, info):
        return _document_url(info, "inspection-reports", self)


class PriceRange(graphene.ObjectType):
    start = graphene.Field(Money, required=True)
    stop = graphene.Field(Money, required=True)


class ProductType(DjangoObjectType):
    status = graphene.Field(ProductStatusEnum, required=True)
    cold_chain = graphene.Field(ColdChainEnum, required=True)
    category = graphene.Field(CategoryType, required=True)
    origin_county = graphene.Field(CountyType, required=True)
    supplier = graphene.Field(SupplierType, required=True)
    variants = graphene.List(graphene.NonNull(ProductVariantType), required=True)
    images = graphene.List(graphene.NonNull(ProductImageType), required=True)
    authorizations = graphene.List(graphene.NonNull(ProductAuthorizationType), required=True)
    price_range = graphene.Field(PriceRange, description="Lowest and highest variant price.")
    has_gi = graphene.Boolean(required=True, description="Holds a current GI authorisation.")
    is_poverty_county_product = graphene.Boolean(
        required=True,
        description="832-eligible: made in, and supplied from, a 脱贫县. Separate from counting "
        "toward a target.",
    )

    class Meta:
        model = models.Product
        name = "Product"
        description = "A Ningxia specialty product."
        interfaces = (graphene.relay.Node,)
        fields = (
            "id",
            "name",
            "slug",
            "description",
            "status",
            "certified_until",
            "is_published",
            "cold_chain",
            "created_at",
            "updated_at",
        )
        convert_choices_to_enum = False

    def resolve_category(self, info):
        return _joined_or_loaded(
            self, "category", loaders.CategoryById(info.context).load, self.category_id
        )

    def resolve_origin_county(self, info):
        return _joined_or_loaded(
            self, "origin_county", loaders.CountyById(info.context).load, self.origin_county_id
        )

    def resolve_supplier(self, info):
        return _joined_or_loaded(
            self, "supplier", loaders.SupplierById(info.context).load, self.supplier_id
        )

    def resolve_variants(self, info):
        return loaders.VariantsByProductId(info.context).load(self.pk)

    def resolve_images(self, info):
        return loaders.ImagesByProductId(info.context).load(self.pk)

    def resolve_authorizations(self, info):
        return loaders.AuthorizationsByProductId(info.context).load(self.pk)

    def resolve_price_range(self, info):
        prices = [v.unit_price for v in loaders.VariantsByProductId(info.context).load(self.pk)]
        if not prices:
            return None
        return {"start": Money.of(min(prices)), "stop": Money.of(max(prices))}

    def resolve_has_gi(self, info):
        if hasattr(self, "has_gi"):
            return self.has_gi
        today = timezone.localdate()
        return any(
            a.kind == models.AuthorizationKind.GI and a.expires_on >= today
            for a in loaders.AuthorizationsByProductId(info.context).load(self.pk)
        )

    def resolve_is_poverty_county_product(self, info):
        origin = ProductType.resolve_origin_county(self, info)
        supplier = ProductType.resolve_supplier(self, info)
        return models.is_poverty_county_product(origin, SupplierType.resolve_county(supplier, info))


class ProductConnection(CountableConnection):
    class Meta:
        node = ProductType


class HouseholdType(DjangoObjectType):
    household = graphene.String(
        required=True,
        description="Full name for operators, auditors and the supplier; masked otherwise.",
    )
    poverty_status = graphene.Field(HouseholdStatusEnum, required=True)
    linkage = graphene.Field(LinkageKindEnum, required=True)
    amount_paid = graphene.Field(Money, required=True)

    class Meta:
        model = models.FarmerSupply
        name = "Household"
        description = "供货农户台账: a household that supplied the batch."
        fields = ("household", "village", "poverty_status", "linkage", "amount_paid")
        convert_choices_to_enum = False

    def resolve_household(self, info):
        if can_see_supplier_records(info.context.user, self.batch.product.supplier_id):
            return self.household
        # Households are private persons: the public sees that they exist, not who they are.
        return self.household[:1] + "*" * max(len(self.household) - 1, 1)

    def resolve_amount_paid(self, info):
        return Money.of(self.amount_paid)


class TraceBatchType(DjangoObjectType):
    product = graphene.Field(ProductType, required=True)
    origin_county = graphene.Field(CountyType, required=True)
    inspection_report = graphene.Field(InspectionReportType)
    households = graphene.List(graphene.NonNull(HouseholdType), required=True)

    class Meta:
        model = models.TraceBatch
        name = "TraceBatch"
        description = "溯源批次: a production batch and the chain behind it."
        interfaces = (graphene.relay.Node,)
        fields = (
            "id",
            "code",
            "produced_on",
            "base",
            "quantity",
            "quantity_unit",
            "certificate_number",
            "created_at",
        )

    def resolve_households(self, info):
        return self.households.all()
