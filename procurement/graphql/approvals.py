"""Approval and budgets through the API (docs/approvals.md): purchase requests, agency
settings, members' duties and budgets."""

import graphene
from graphene_django import DjangoObjectType

from procurement import models, selectors
from procurement.access import POLICIES
from procurement.graphql.mutations import (
    CheckoutLineInput,
    ShippingAddressInput,
    basket_arguments,
)
from procurement.graphql.queries import _ids, _values
from procurement.graphql.types import AgencyNode, OrderType, ProcurementError
from procurement.services import approvals
from shop.accounts.graphql.types import UserType
from shop.core.graphql.connection import PaginatedField
from shop.core.graphql.errors import errors_field
from shop.core.graphql.ids import decode_id
from shop.core.graphql.mutations import BaseMutation
from shop.core.graphql.types import CountableConnection, Money

PurchaseRequestStatusEnum = graphene.Enum.from_enum(
    models.PurchaseRequestStatus, name="PurchaseRequestStatus"
)


class PurchaseRequestLineType(graphene.ObjectType):
    class Meta:
        name = "PurchaseRequestLine"

    variant_id = graphene.ID(required=True, description="A ProductVariant ID.")
    quantity = graphene.Int(required=True)


class PurchaseRequestType(DjangoObjectType):
    status = graphene.Field(PurchaseRequestStatusEnum, required=True)
    agency = graphene.Field(AgencyNode, required=True)
    requested_by = graphene.Field(UserType, required=True)
    decided_by = graphene.Field(UserType)
    lines = graphene.List(graphene.NonNull(PurchaseRequestLineType), required=True)
    total = graphene.Field(
        Money, required=True, description="Priced when submitted; approval prices it again."
    )
    orders = graphene.List(
        graphene.NonNull(OrderType),
        required=True,
        description="The orders its approval placed; empty until then.",
    )

    class Meta:
        model = models.PurchaseRequest
        name = "PurchaseRequest"
        description = "A basket awaiting an approver; it reserves nothing until approved."
        interfaces = (graphene.relay.Node,)
        fields = (
            "id",
            "recipient",
            "phone",
            "address",
            "ship_within_days",
            "budget_line",
            "created_at",
            "decided_at",
            "decline_reason",
        )
        convert_choices_to_enum = False

    def resolve_lines(self, info):
        from graphql_relay import to_global_id

        return [
            PurchaseRequestLineType(
                variant_id=to_global_id("ProductVariant", variant_id), quantity=quantity
            )
            for variant_id, quantity, *_address in self.lines
        ]

    def resolve_total(self, info):
        return Money.of(self.total)

    def resolve_orders(self, info):
        return approvals.orders_of(self)


class PurchaseRequestConnection(CountableConnection):
    class Meta:
        node = PurchaseRequestType


class AgencyBudgetType(graphene.ObjectType):
    """A year's budget: for the whole agency (`line` empty) or one budget line."""

    class Meta:
        name = "AgencyBudget"

    year = graphene.Int(required=True)
    line = graphene.String(required=True, description="Empty for the agency's whole budget.")
    amount = graphene.Field(Money, required=True)
    committed = graphene.Field(
        Money,
        required=True,
        description="Orders placed that year and not cancelled: accepted value once accepted, "
        "else subtotal.",
    )
    pending = graphene.Field(
        Money, required=True, description="Purchase requests submitted that year, not decided."
    )
    available = graphene.Field(Money, required=True, description="amount − committed.")

    def resolve_year(self, info):
        return self.budget.year

    def resolve_line(self, info):
        return self.budget.line

    def resolve_amount(self, info):
        return Money.of(self.budget.amount)

    def resolve_committed(self, info):
        return Money.of(self.committed)

    def resolve_pending(self, info):
        return Money.of(self.pending)

    def resolve_available(self, info):
        return Money.of(self.available)


class AgencyMemberType(graphene.ObjectType):
    class Meta:
        name = "AgencyMember"

    user = graphene.Field(UserType, required=True)
    can_buy = graphene.Boolean(required=True)
    can_approve = graphene.Boolean(required=True)


class PurchaseRequestFilterInput(graphene.InputObjectType):
    status = graphene.List(graphene.NonNull(PurchaseRequestStatusEnum))
    agencies = graphene.List(graphene.NonNull(graphene.ID))


class ApprovalQueries(graphene.ObjectType):
    purchase_requests = PaginatedField(
        PurchaseRequestConnection,
        filter=PurchaseRequestFilterInput(),
        description="An agency's members see its requests, operators and auditors all; "
        "newest first.",
    )
    purchase_request = graphene.Field(PurchaseRequestType, id=graphene.ID(required=True))
    agency_budgets = graphene.List(
        graphene.NonNull(AgencyBudgetType),
        required=True,
        agency_id=graphene.ID(required=True),
        year=graphene.Int(description="Defaults to this year (Asia/Shanghai)."),
    )
    agency_members = graphene.List(
        graphene.NonNull(AgencyMemberType), required=True, agency_id=graphene.ID(required=True)
    )

    def resolve_purchase_requests(root, info, filter=None):
        filter = filter or {}
        return selectors.purchase_requests_visible_to(
            acting_user=info.context.user,
            statuses=_values(filter.get("status")),
            agency_ids=_ids(filter.get("agencies"), "Agency"),
        )

    def resolve_purchase_request(root, info, id):
        requests = selectors.purchase_requests_visible_to(acting_user=info.context.user)
        return requests.filter(pk=decode_id(id, "PurchaseRequest")).first()

    def resolve_agency_budgets(root, info, agency_id, year=None):
        return selectors.agency_budgets(
            acting_user=info.context.user, agency_id=decode_id(agency_id, "Agency"), year=year
        )

    def resolve_agency_members(root, info, agency_id):
        return selectors.agency_members(
            acting_user=info.context.user, agency_id=decode_id(agency_id, "Agency")
        )


class PurchaseRequestCreate(BaseMutation):
    """Submit a basket for approval (same input as `checkoutCreate`, which answers
    APPROVAL_REQUIRED above the agency's threshold). Reserves nothing; retrying with the same
    idempotency key returns the same request."""

    allowed_roles = POLICIES["purchaseRequestCreate"]

    class Arguments:
        lines = graphene.List(graphene.NonNull(CheckoutLineInput), required=True)
        shipping_address = ShippingAddressInput(required=True)
        idempotency_key = graphene.String(required=True)
        ship_within_days = graphene.Int(default_value=7, description="7, 15 or 30.")
        budget_line = graphene.String(
            description="The budget line (预算科目) to charge; one of the agency's this year."
        )

    purchase_request = graphene.Field(PurchaseRequestType)
    errors = errors_field(ProcurementError)

    @classmethod
    def perform(cls, info, lines, shipping_address, **options):
        request = approvals.purchase_request_create(
            acting_user=info.context.user, **basket_arguments(lines, shipping_address), **options
        )
        return cls(purchase_request=request)


class PurchaseRequestApprove(BaseMutation):
    """Approve a request: it is checked out as `checkoutCreate` would (all or nothing, within
    the budgets). Approving it again returns it unchanged."""

    allowed_roles = POLICIES["purchaseRequestApprove"]

    class Arguments:
        id = graphene.ID(required=True)

    # Like checkoutCreate, it commits on its own: its last statement locks the stock.
    atomic_request = False

    purchase_request = graphene.Field(PurchaseRequestType)
    orders = graphene.List(graphene.NonNull(OrderType))
    errors = errors_field(ProcurementError)

    @classmethod
    def perform(cls, info, id):
        request = approvals.purchase_request_approve(
            acting_user=info.context.user, request_id=decode_id(id, "PurchaseRequest")
        )
        return cls(purchase_request=request, orders=approvals.orders_of(request))


class PurchaseRequestDecline(BaseMutation):
    """Decline a pending request, saying why."""

    allowed_roles = POLICIES["purchaseRequestDecline"]

    class Arguments:
        id = graphene.ID(required=True)
        reason = graphene.String(required=True)

    purchase_request = graphene.Field(PurchaseRequestType)
    errors = errors_field(ProcurementError)

    @classmethod
    def perform(cls, info, id, reason):
        request = approvals.purchase_request_decline(
            acting_user=info.context.user,
            request_id=decode_id(id, "PurchaseRequest"),
            reason=reason,
        )
        return cls(purchase_request=request)


class AgencySettingsUpdate(BaseMutation):
    """When the agency needs approval and whether approvers may approve their own requests
    (operators, or the agency's approvers). An argument left out is unchanged;
    `approvalThreshold: null` turns approval off."""

    allowed_roles = POLICIES["agencySettingsUpdate"]

    class Arguments:
        agency_id = graphene.ID(required=True)
        approval_threshold = graphene.Decimal(
            description="CNY; checkouts above it need an approver. null: none does."
        )
        allow_self_approval = graphene.Boolean()

    agency = graphene.Field(AgencyNode)
    errors = errors_field(ProcurementError)

    @classmethod
    def perform(cls, info, agency_id, **changes):
        agency = approvals.agency_settings_update(
            acting_user=info.context.user, agency_id=decode_id(agency_id, "Agency"), **changes
        )
        return cls(agency=agency)


class AgencyMemberDutiesSet(BaseMutation):
    """Set what an agency member may do: buy, approve, or both (operators, or the agency's
    approvers for its other members)."""

    allowed_roles = POLICIES["agencyMemberDutiesSet"]

    class Arguments:
        user_id = graphene.ID(required=True)
        can_buy = graphene.Boolean(required=True)
        can_approve = graphene.Boolean(required=True)

    member = graphene.Field(AgencyMemberType)
    errors = errors_field(ProcurementError)

    @classmethod
    def perform(cls, info, user_id, can_buy, can_approve):
        member = approvals.agency_member_duties_set(
            acting_user=info.context.user,
            user_id=decode_id(user_id, "User"),
            can_buy=can_buy,
            can_approve=can_approve,
        )
        return cls(member=member)


class AgencyBudgetSet(BaseMutation):
    """Set a year's budget for the agency or one of its budget lines (operators, or the
    agency's approvers)."""

    allowed_roles = POLICIES["agencyBudgetSet"]

    class Arguments:
        agency_id = graphene.ID(required=True)
        year = graphene.Int(required=True)
        line = graphene.String(description="A budget line (预算科目); empty for the whole agency.")
        amount = graphene.Decimal(required=True, description="CNY.")

    budget = graphene.Field(AgencyBudgetType)
    errors = errors_field(ProcurementError)

    @classmethod
    def perform(cls, info, agency_id, year, amount, line=""):
        budget = approvals.agency_budget_set(
            acting_user=info.context.user,
            agency_id=decode_id(agency_id, "Agency"),
            year=year,
            line=line or "",
            amount=amount,
        )
        figures = selectors.agency_budgets(
            acting_user=info.context.user, agency_id=budget.agency_id, year=budget.year
        )
        return cls(budget=next(f for f in figures if f.budget.pk == budget.pk))


class ApprovalMutations(graphene.ObjectType):
    purchase_request_create = PurchaseRequestCreate.Field()
    purchase_request_approve = PurchaseRequestApprove.Field()
    purchase_request_decline = PurchaseRequestDecline.Field()
    agency_settings_update = AgencySettingsUpdate.Field()
    agency_member_duties_set = AgencyMemberDutiesSet.Field()
    agency_budget_set = AgencyBudgetSet.Field()
