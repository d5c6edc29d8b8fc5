"""Catalog mutations: each parses its input, calls one service and returns the payload."""

import graphene
from graphene_file_upload.scalars import Upload

from catalog.access import POLICIES
from catalog.documents import read_upload
from catalog.graphql.types import (
    AuthorizationKindEnum,
    CatalogError,
    ColdChainEnum,
    HouseholdStatusEnum,
    InspectionReportType,
    LinkageKindEnum,
    ProductAuthorizationType,
    ProductImageType,
    ProductType,
    ProductVariantType,
    QualificationKindEnum,
    QualificationType,
    SupplierKindEnum,
    SupplierType,
    TraceBatchType,
)
from catalog.services import certification, product_images, trace_batches
from catalog.services import products as product_services
from catalog.services import suppliers as supplier_services
from catalog.services import variants as variant_services
from shop.core.graphql.errors import errors_field
from shop.core.graphql.ids import decode_id
from shop.core.graphql.mutations import BaseMutation

DOCUMENT_FILE_DESCRIPTION = (
    "A scan or PDF of {what} (optional, multipart request): PDF, JPEG, PNG or WebP, checked by "
    "content. Stored privately; read it through `fileUrl`."
)


def _value(enum_member):
    return getattr(enum_member, "value", enum_member)


# --- Suppliers ------------------------------------------------------------------------------


class QualificationInput(graphene.InputObjectType):
    kind = QualificationKindEnum(required=True)
    number = graphene.String(required=True)
    issuer = graphene.String()
    expires_on = graphene.Date(required=True)


def _qualification(data) -> supplier_services.QualificationInput:
    return supplier_services.QualificationInput(
        kind=_value(data.kind),
        number=data.number,
        issuer=data.get("issuer") or "",
        expires_on=data.expires_on,
    )


class SupplierApplyInput(graphene.InputObjectType):
    name = graphene.String(required=True)
    credit_code = graphene.String(required=True, description="统一社会信用代码 (18 characters).")
    kind = SupplierKindEnum(required=True)
    county_id = graphene.ID(required=True, description="Ningxia county of registration.")
    legal_representative = graphene.String(required=True)
    contact_name = graphene.String(required=True)
    contact_phone = graphene.String(required=True)
    contact_email = graphene.String()
    description = graphene.String()
    qualifications = graphene.List(
        graphene.NonNull(QualificationInput),
        required=True,
        description="Business licence, legal representative's ID and food licence, at least.",
    )


class SupplierMutation(BaseMutation):
    class Meta:
        abstract = True

    supplier = graphene.Field(SupplierType)
    errors = errors_field(CatalogError)


class SupplierApply(SupplierMutation):
    """Apply as a supplier (or re-apply after a rejection or, past the cooling-off, an exit)."""

    allowed_roles = POLICIES["supplierApply"]

    class Arguments:
        input = SupplierApplyInput(required=True)

    @classmethod
    def perform(cls, info, input):
        application = supplier_services.SupplierApplication(
            name=input.name,
            credit_code=input.credit_code,
            kind=_value(input.kind),
            county_id=decode_id(input.county_id, "County"),
            legal_representative=input.legal_representative,
            contact_name=input.contact_name,
            contact_phone=input.contact_phone,
            contact_email=input.get("contact_email") or "",
            description=input.get("description") or "",
            qualifications=[_qualification(q) for q in input.qualifications],
        )
        return cls(
            supplier=supplier_services.supplier_apply(
                acting_user=info.context.user, data=application
            )
        )


class SupplierQualificationAdd(BaseMutation):
    """Add or renew a qualification of your own supplier."""

    allowed_roles = POLICIES["supplierQualificationAdd"]

    class Arguments:
        supplier_id = graphene.ID(required=True)
        input = QualificationInput(required=True)
        file = Upload(description=DOCUMENT_FILE_DESCRIPTION.format(what="the document"))

    qualification = graphene.Field(QualificationType)
    errors = errors_field(CatalogError)

    @classmethod
    def perform(cls, info, supplier_id, input, file=None):
        qualification = supplier_services.supplier_qualification_add(
            acting_user=info.context.user,
            supplier_id=decode_id(supplier_id, "Supplier"),
            item=_qualification(input),
            document=read_upload(file) if file is not None else None,
        )
        return cls(qualification=qualification)


class SupplierReviewDecision(graphene.Enum):
    ADMIT = "ADMIT"
    REJECT = "REJECT"


class SupplierRecommendDecision(graphene.Enum):
    RECOMMEND = "RECOMMEND"
    DECLINE = "DECLINE"


class SupplierReview(SupplierMutation):
    """Admit or reject an applicant (operator)."""

    allowed_roles = POLICIES["supplierReview"]

    class Arguments:
        id = graphene.ID(required=True)
        decision = SupplierReviewDecision(required=True)
        note = graphene.String(description="Required when rejecting.")

    @classmethod
    def perform(cls, info, id, decision, note=""):
        supplier = supplier_services.supplier_review(
            acting_user=info.context.user,
            supplier_id=decode_id(id, "Supplier"),
            admit=_value(decision) == "ADMIT",
            note=note or "",
        )
        return cls(supplier=supplier)


class SupplierRecommend(SupplierMutation):
    """Recommend or decline an applicant of your county (county reviewer)."""

    allowed_roles = POLICIES["supplierRecommend"]

    class Arguments:
        id = graphene.ID(required=True)
        decision = SupplierRecommendDecision(required=True)
        note = graphene.String(description="Required when declining.")

    @classmethod
    def perform(cls, info, id, decision, note=""):
        supplier = supplier_services.supplier_recommend(
            acting_user=info.context.user,
            supplier_id=decode_id(id, "Supplier"),
            recommend=_value(decision) == "RECOMMEND",
            note=note or "",
        )
        return cls(supplier=supplier)


class SupplierSuspend(SupplierMutation):
    """Suspend an admitted supplier (operator): its products leave the storefront at once."""

    allowed_roles = POLICIES["supplierSuspend"]

    class Arguments:
        id = graphene.ID(required=True)
        reason = graphene.String(required=True)

    @classmethod
    def perform(cls, info, id, reason):
        supplier = supplier_services.supplier_suspend(
            acting_user=info.context.user, supplier_id=decode_id(id, "Supplier"), reason=reason
        )
        return cls(supplier=supplier)


class SupplierReinstate(SupplierMutation):
    """Reinstate a suspended supplier whose required qualifications are current (operator)."""

    allowed_roles = POLICIES["supplierReinstate"]

    class Arguments:
        id = graphene.ID(required=True)
        note = graphene.String()

    @classmethod
    def perform(cls, info, id, note=""):
        supplier = supplier_services.supplier_reinstate(
            acting_user=info.context.user, supplier_id=decode_id(id, "Supplier"), note=note or ""
        )
        return cls(supplier=supplier)


class SupplierExit(SupplierMutation):
    """Exit a supplier (operator), optionally blacklisting its credit code for good."""

    allowed_roles = POLICIES["supplierExit"]

    class Arguments:
        id = graphene.ID(required=True)
        reason = graphene.String(required=True)
        blacklist = graphene.Boolean(default_value=False)

    @classmethod
    def perform(cls, info, id, reason, blacklist=False):
        supplier = supplier_services.supplier_exit(
            acting_user=info.context.user,
            supplier_id=decode_id(id, "Supplier"),
            reason=reason,
            blacklist=bool(blacklist),
        )
        return cls(supplier=supplier)


# --- Products -------------------------------------------------------------------------------


class ProductInput(graphene.InputObjectType):
    name = graphene.String()
    description = graphene.String()
    category_id = graphene.ID()
    origin_county_id = graphene.ID()
    cold_chain = ColdChainEnum()
    is_published = graphene.Boolean()


def _product_input(data) -> product_services.ProductInput:
    return product_services.ProductInput(
        name=data.get("name"),
        description=data.get("description"),
        category_id=decode_id(data["category_id"], "Category") if data.get("category_id") else None,
        origin_county_id=(
            decode_id(data["origin_county_id"], "County") if data.get("origin_county_id") else None
        ),
        cold_chain=_value(data["cold_chain"]) if data.get("cold_chain") else None,
        is_published=data.get("is_published"),
    )


class ProductMutation(BaseMutation):
    class Meta:
        abstract = True

    product = graphene.Field(ProductType)
    errors = errors_field(CatalogError)


class ProductCreate(ProductMutation):
    """Create a DRAFT product for your admitted supplier."""

    allowed_roles = POLICIES["productCreate"]

    class Arguments:
        input = ProductInput(required=True)

    @classmethod
    def perform(cls, info, input):
        return cls(
            product=product_services.product_create(
                acting_user=info.context.user, data=_product_input(input)
            )
        )


class ProductUpdate(ProductMutation):
    """Edit your product; changing name, category or origin needs certification again."""

    allowed_roles = POLICIES["productUpdate"]

    class Arguments:
        id = graphene.ID(required=True)
        input = ProductInput(required=True)

    @classmethod
    def perform(cls, info, id, input):
        product = product_services.product_update(
            acting_user=info.context.user,
            product_id=decode_id(id, "Product"),
            data=_product_input(input),
        )
        return cls(product=product)


class ProductSubmitForCertification(ProductMutation):
    """Ask the platform to certify your product (产品认定), or renew it before it lapses."""

    allowed_roles = POLICIES["productSubmitForCertification"]

    class Arguments:
        id = graphene.ID(required=True)

    @classmethod
    def perform(cls, info, id):
        product = certification.product_submit_for_certification(
            acting_user=info.context.user, product_id=decode_id(id, "Product")
        )
        return cls(product=product)


class CertificationDecision(graphene.Enum):
    CERTIFY = "CERTIFY"
    REJECT = "REJECT"


class ProductCertify(ProductMutation):
    """Certify a pending product until `validUntil` (default one year), or reject it (operator)."""

    allowed_roles = POLICIES["productCertify"]

    class Arguments:
        id = graphene.ID(required=True)
        decision = CertificationDecision(required=True)
        note = graphene.String()
        valid_until = graphene.Date()

    @classmethod
    def perform(cls, info, id, decision, note="", valid_until=None):
        product = certification.product_certify(
            acting_user=info.context.user,
            product_id=decode_id(id, "Product"),
            certify=_value(decision) == "CERTIFY",
            note=note or "",
            valid_until=valid_until,
        )
        return cls(product=product)


class TierPriceInput(graphene.InputObjectType):
    min_quantity = graphene.Int(required=True)
    unit_price = graphene.Decimal(required=True)


class ProductVariantInput(graphene.InputObjectType):
    sku = graphene.String()
    spec = graphene.String(description='e.g. "500g×2袋".')
    unit = graphene.String()
    unit_price = graphene.Decimal(description="CNY, 2 decimals.")
    minimum_order_quantity = graphene.Int()
    stock = graphene.Int()
    tiers = graphene.List(graphene.NonNull(TierPriceInput), description="Replaces all tiers.")


def _variant_input(data) -> variant_services.VariantInput:
    tiers = data.get("tiers")
    return variant_services.VariantInput(
        sku=data.get("sku"),
        spec=data.get("spec"),
        unit=data.get("unit"),
        unit_price=data.get("unit_price"),
        minimum_order_quantity=data.get("minimum_order_quantity"),
        stock=data.get("stock"),
        tiers=None
        if tiers is None
        else [variant_services.TierInput(t.min_quantity, t.unit_price) for t in tiers],
    )


class VariantMutation(BaseMutation):
    class Meta:
        abstract = True

    variant = graphene.Field(ProductVariantType)
    errors = errors_field(CatalogError)


class ProductVariantCreate(VariantMutation):
    allowed_roles = POLICIES["productVariantCreate"]

    class Arguments:
        product_id = graphene.ID(required=True)
        input = ProductVariantInput(required=True)

    @classmethod
    def perform(cls, info, product_id, input):
        variant = variant_services.product_variant_create(
            acting_user=info.context.user,
            product_id=decode_id(product_id, "Product"),
            data=_variant_input(input),
        )
        return cls(variant=variant)


class ProductVariantUpdate(VariantMutation):
    allowed_roles = POLICIES["productVariantUpdate"]

    class Arguments:
        id = graphene.ID(required=True)
        input = ProductVariantInput(required=True)

    @classmethod
    def perform(cls, info, id, input):
        variant = variant_services.product_variant_update(
            acting_user=info.context.user,
            variant_id=decode_id(id, "ProductVariant"),
            data=_variant_input(input),
        )
        return cls(variant=variant)


class StockUpdate(VariantMutation):
    """Set the quantity available of your variant."""

    allowed_roles = POLICIES["stockUpdate"]

    class Arguments:
        variant_id = graphene.ID(required=True)
        quantity = graphene.Int(required=True)

    @classmethod
    def perform(cls, info, variant_id, quantity):
        variant = variant_services.stock_update(
            acting_user=info.context.user,
            variant_id=decode_id(variant_id, "ProductVariant"),
            quantity=quantity,
        )
        return cls(variant=variant)


class ProductImageCreate(BaseMutation):
    """Upload a JPEG, PNG or WebP image of your product (multipart request)."""

    allowed_roles = POLICIES["productImageCreate"]

    class Arguments:
        product_id = graphene.ID(required=True)
        image = Upload(required=True)
        alt = graphene.String()

    image = graphene.Field(ProductImageType)
    errors = errors_field(CatalogError)

    @classmethod
    def perform(cls, info, product_id, image, alt=""):
        # Read at most one byte past the limit, so an oversized upload is refused without
        # holding all of it in memory.
        from catalog.images import max_image_bytes

        data = image.read(max_image_bytes() + 1) if hasattr(image, "read") else b""
        created = product_images.product_image_create(
            acting_user=info.context.user,
            product_id=decode_id(product_id, "Product"),
            data=data,
            filename=getattr(image, "name", "") or "",
            content_type=getattr(image, "content_type", None),
            alt=alt or "",
        )
        return cls(image=created)


class ProductAuthorizationInput(graphene.InputObjectType):
    kind = AuthorizationKindEnum(required=True)
    name = graphene.String(required=True, description='e.g. "中宁枸杞".')
    number = graphene.String()
    scope = graphene.String()
    expires_on = graphene.Date(required=True)


class ProductAuthorizationAdd(BaseMutation):
    """Attach a GI or regional-brand authorisation to your product."""

    allowed_roles = POLICIES["productAuthorizationAdd"]

    class Arguments:
        product_id = graphene.ID(required=True)
        input = ProductAuthorizationInput(required=True)

    authorization = graphene.Field(ProductAuthorizationType)
    errors = errors_field(CatalogError)

    @classmethod
    def perform(cls, info, product_id, input):
        authorization = certification.product_authorization_add(
            acting_user=info.context.user,
            product_id=decode_id(product_id, "Product"),
            data=certification.AuthorizationInput(
                kind=_value(input.kind),
                name=input.name,
                number=input.get("number") or "",
                scope=input.get("scope") or "",
                expires_on=input.expires_on,
            ),
        )
        return cls(authorization=authorization)


class InspectionReportInput(graphene.InputObjectType):
    lab = graphene.String(required=True)
    number = graphene.String(required=True)
    items = graphene.String(required=True)
    tested_on = graphene.Date(required=True)


class InspectionReportAdd(BaseMutation):
    """Attach a test report (检测报告) to your product."""

    allowed_roles = POLICIES["inspectionReportAdd"]

    class Arguments:
        product_id = graphene.ID(required=True)
        input = InspectionReportInput(required=True)
        file = Upload(description=DOCUMENT_FILE_DESCRIPTION.format(what="the lab's report"))

    report = graphene.Field(InspectionReportType)
    errors = errors_field(CatalogError)

    @classmethod
    def perform(cls, info, product_id, input, file=None):
        report = certification.inspection_report_add(
            acting_user=info.context.user,
            product_id=decode_id(product_id, "Product"),
            data=certification.InspectionReportInput(
                lab=input.lab, number=input.number, items=input["items"], tested_on=input.tested_on
            ),
            document=read_upload(file) if file is not None else None,
        )
        return cls(report=report)


class HouseholdInput(graphene.InputObjectType):
    household = graphene.String(required=True)
    village = graphene.String(required=True)
    poverty_status = HouseholdStatusEnum()
    linkage = LinkageKindEnum(required=True)
    amount_paid = graphene.Decimal(required=True)


class TraceBatchInput(graphene.InputObjectType):
    code = graphene.String(required=True)
    produced_on = graphene.Date(required=True)
    origin_county_id = graphene.ID(required=True)
    base = graphene.String()
    quantity = graphene.Decimal(required=True)
    quantity_unit = graphene.String()
    certificate_number = graphene.String(description="承诺达标合格证 number.")
    inspection_report_id = graphene.ID()
    households = graphene.List(graphene.NonNull(HouseholdInput))


class TraceBatchCreate(BaseMutation):
    """Record a batch of your product with its supplying households."""

    allowed_roles = POLICIES["traceBatchCreate"]

    class Arguments:
        product_id = graphene.ID(required=True)
        input = TraceBatchInput(required=True)

    batch = graphene.Field(TraceBatchType)
    errors = errors_field(CatalogError)

    @classmethod
    def perform(cls, info, product_id, input):
        households = [
            trace_batches.HouseholdInput(
                household=h.household,
                village=h.village,
                linkage=_value(h.linkage),
                amount_paid=h.amount_paid,
                poverty_status=_value(h.poverty_status) if h.get("poverty_status") else "NONE",
            )
            for h in input.get("households") or []
        ]
        report_id = input.get("inspection_report_id")
        batch = trace_batches.trace_batch_create(
            acting_user=info.context.user,
            product_id=decode_id(product_id, "Product"),
            data=trace_batches.TraceBatchInput(
                code=input.code,
                produced_on=input.produced_on,
                origin_county_id=decode_id(input.origin_county_id, "County"),
                quantity=input.quantity,
                quantity_unit=input.get("quantity_unit") or "kg",
                base=input.get("base") or "",
                certificate_number=input.get("certificate_number") or "",
                inspection_report_id=decode_id(report_id, "InspectionReport")
                if report_id
                else None,
                households=households,
            ),
        )
        return cls(batch=batch)


class CatalogMutations(graphene.ObjectType):
    supplier_apply = SupplierApply.Field()
    supplier_qualification_add = SupplierQualificationAdd.Field()
    supplier_recommend = SupplierRecommend.Field()
    supplier_review = SupplierReview.Field()
    supplier_suspend = SupplierSuspend.Field()
    supplier_reinstate = SupplierReinstate.Field()
    supplier_exit = SupplierExit.Field()
    product_create = ProductCreate.Field()
    product_update = ProductUpdate.Field()
    product_submit_for_certification = ProductSubmitForCertification.Field()
    product_certify = ProductCertify.Field()
    product_variant_create = ProductVariantCreate.Field()
    product_variant_update = ProductVariantUpdate.Field()
    stock_update = StockUpdate.Field()
    product_image_create = ProductImageCreate.Field()
    product_authorization_add = ProductAuthorizationAdd.Field()
    inspection_report_add = InspectionReportAdd.Field()
    trace_batch_create = TraceBatchCreate.Field()
