"""Spreadsheet baskets: `basketUpload`, `basketPreview`, `basketCheckout`, `basketTemplate`
(docs/spreadsheet-baskets.md)."""

import graphene
from graphene_django import DjangoObjectType
from graphene_file_upload.scalars import Upload

from catalog.graphql.types import ProductVariantType
from procurement import basket_files, models, selectors
from procurement.access import BASKET_USERS, POLICIES
from procurement.graphql.mutations import ShippingAddressInput
from procurement.graphql.types import OrderType, ProcurementError
from procurement.services import baskets, checkout
from shop.core.graphql.errors import errors_field
from shop.core.graphql.ids import decode_id
from shop.core.graphql.mutations import BaseMutation, DomainErrorPayload
from shop.core.graphql.types import Money
from shop.core.permissions import require_role

TEMPLATE_PATH = "/exports/basket-template"


class BasketPreviewLineType(DjangoObjectType):
    variant = graphene.Field(ProductVariantType, description="The variant the SKU names.")
    unit_price = graphene.Field(Money, description="At the tier of the row's quantity.")
    line_total = graphene.Field(Money)
    error = graphene.Field(
        ProcurementError,
        description="Why the row cannot be bought as it is; `field` is sku, quantity or "
        "deliveryAddress. Null when the row is priced.",
    )

    class Meta:
        model = models.BasketPreviewLine
        name = "BasketPreviewLine"
        description = "One row of an uploaded basket, resolved and priced or refused."
        fields = (
            "row_number",
            "sku",
            "quantity",
            "delivery_address",
            "product_name",
            "spec",
            "unit",
        )

    def resolve_variant(self, info):
        return self.variant

    def resolve_unit_price(self, info):
        return Money.of(self.unit_price)

    def resolve_line_total(self, info):
        return Money.of(self.line_total)

    def resolve_error(self, info):
        if not self.error_code:
            return None
        return DomainErrorPayload(self.error_field, self.error_code, self.error_message)


class BasketUploadType(DjangoObjectType):
    lines = graphene.List(
        graphene.NonNull(BasketPreviewLineType),
        required=True,
        description="The rows in the file's order.",
    )
    total = graphene.Field(Money, required=True, description="The priced rows at preview prices.")
    is_valid = graphene.Boolean(
        required=True, description="No row has an error: the basket can be checked out."
    )
    orders = graphene.List(
        graphene.NonNull(OrderType),
        required=True,
        description="The orders of its checkout; empty until it is checked out.",
    )

    class Meta:
        model = models.BasketUpload
        name = "BasketUpload"
        description = "A basket uploaded as a spreadsheet, and its preview."
        interfaces = (graphene.relay.Node,)
        fields = ("id", "file_name", "file_format", "row_count", "error_count", "created_at")

    def resolve_lines(self, info):
        return self.lines.select_related("variant").order_by("row_number")

    def resolve_total(self, info):
        return Money.of(self.total)

    def resolve_is_valid(self, info):
        return self.error_count == 0

    def resolve_orders(self, info):
        if self.checkout_id is None:
            return []
        return models.Order.objects.filter(checkout_id=self.checkout_id).order_by("id")


class BasketTemplateType(graphene.ObjectType):
    csv_url = graphene.String(required=True)
    xlsx_url = graphene.String(required=True)
    columns = graphene.List(
        graphene.NonNull(graphene.String), required=True, description="The header row."
    )
    max_rows = graphene.Int(required=True)

    class Meta:
        name = "BasketTemplate"
        description = "Where to download the basket template (agency buyers)."


class BasketQueries(graphene.ObjectType):
    basket_preview = graphene.Field(
        BasketUploadType,
        id=graphene.ID(required=True),
        description="An uploaded basket of the caller's agency; null for anyone else's.",
    )
    basket_template = graphene.Field(BasketTemplateType, required=True)

    def resolve_basket_preview(root, info, id):
        uploads = selectors.basket_uploads_visible_to(acting_user=info.context.user)
        return uploads.filter(pk=decode_id(id, "BasketUpload")).first()

    def resolve_basket_template(root, info):
        require_role(info.context.user, *BASKET_USERS)
        return BasketTemplateType(
            csv_url=f"{TEMPLATE_PATH}.csv",
            xlsx_url=f"{TEMPLATE_PATH}.xlsx",
            columns=basket_files.TEMPLATE_HEADER,
            max_rows=basket_files.MAX_BASKET_ROWS,
        )


class BasketUploadMutation(BaseMutation):
    """Upload a basket (CSV or XLSX: SKU, quantity, optional delivery address; multipart
    request) and get its preview. Nothing is reserved until `basketCheckout`."""

    allowed_roles = POLICIES["basketUpload"]

    class Meta:
        # The payload's name: `BasketUpload` is the upload itself.
        name = "BasketUploadPayload"

    class Arguments:
        file = Upload(required=True)

    upload = graphene.Field(BasketUploadType)
    errors = errors_field(ProcurementError)

    @classmethod
    def perform(cls, info, file):
        # In a JSON body an Upload can only be a string: an empty file, refused as such (after
        # the service has checked who is asking).
        data = file.read(basket_files.MAX_BASKET_BYTES + 1) if hasattr(file, "read") else b""
        upload = baskets.basket_upload(
            acting_user=info.context.user, file_name=getattr(file, "name", ""), data=data
        )
        return cls(upload=upload)


class BasketCheckout(BaseMutation):
    """Check out an uploaded basket whose rows are all valid: all or nothing, one order per
    supplier and delivery address. Retrying with the same idempotency key returns the same
    orders; an upload is checked out once."""

    allowed_roles = POLICIES["basketCheckout"]

    class Arguments:
        upload_id = graphene.ID(required=True)
        idempotency_key = graphene.String(required=True)
        shipping_address = ShippingAddressInput(
            required=True, description="Recipient and phone; the address of rows without one."
        )
        ship_within_days = graphene.Int(default_value=7, description="7, 15 or 30.")
        budget_line = graphene.String(
            description="The budget line (预算科目) to charge; one of the agency's this year."
        )

    # As checkoutCreate: the checkout ends holding stock locks, so it commits on its own.
    atomic_request = False

    orders = graphene.List(graphene.NonNull(OrderType))
    errors = errors_field(ProcurementError)

    @classmethod
    def perform(cls, info, upload_id, shipping_address, **options):
        placed = baskets.basket_checkout(
            acting_user=info.context.user,
            upload_id=decode_id(upload_id, "BasketUpload"),
            shipping=checkout.ShippingAddress(
                shipping_address.recipient, shipping_address.phone, shipping_address.address
            ),
            **options,
        )
        return cls(orders=placed)


class BasketMutations(graphene.ObjectType):
    basket_upload = BasketUploadMutation.Field()
    basket_checkout = BasketCheckout.Field()
