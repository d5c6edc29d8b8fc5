"""Auditor queries and operator mutations of the contribution ledger (docs/design.md §4)."""

import graphene
from django.utils import timezone
from graphene_django import DjangoObjectType
from graphene_file_upload.scalars import Upload

from procurement import ledger
from procurement.graphql.types import OrderType, ProcurementError
from procurement.models import ContributionEntry, ContributionKind, ContributionSource, Target
from procurement.reports import selectors as reports
from procurement.services import contributions
from shop.accounts.models import Role
from shop.core.errors import BadUserInput
from shop.core.graphql.connection import PaginatedField
from shop.core.graphql.errors import errors_field
from shop.core.graphql.ids import decode_id
from shop.core.graphql.mutations import BaseMutation
from shop.core.graphql.types import CountableConnection, Money
from shop.core.permissions import require_role

ContributionKindEnum = graphene.Enum.from_enum(ContributionKind, name="ContributionKind")
ContributionSourceEnum = graphene.Enum.from_enum(ContributionSource, name="ContributionSource")
ContributionDimension = graphene.Enum(
    "ContributionDimension", [(d, d) for d in reports.GROUP_DIMENSIONS]
)


class TargetType(DjangoObjectType):
    amount = graphene.Field(Money, required=True)
    parent_code = graphene.String()
    covers_today = graphene.Boolean(
        required=True, description="Whether today (Asia/Shanghai) lies in the target's period."
    )

    class Meta:
        model = Target
        name = "Target"
        description = "A purchasing target: amount, period and scope."
        fields = (
            "code",
            "name",
            "start_date",
            "end_date",
            "buyer_province",
            "origin_province",
            "buyer_city",
        )

    def resolve_amount(self, info):
        return Money.of(self.amount)

    def resolve_parent_code(self, info):
        return self.parent.code if self.parent_id else None

    def resolve_covers_today(self, info):
        return reports.covers(self, timezone.localdate())


class TargetCoverageType(graphene.ObjectType):
    date = graphene.Date(required=True, description="Today, in Asia/Shanghai.")
    current_target = graphene.Field(
        TargetType,
        description="The widest target covering today; null when none does (see message).",
        resolver=lambda coverage, info: coverage.current,
    )
    covering_targets = graphene.List(
        graphene.NonNull(TargetType),
        required=True,
        description="Every target whose period includes today, the current one first.",
        resolver=lambda coverage, info: coverage.covering,
    )
    message = graphene.String(
        required=True,
        description="Which target today counts toward, or that none does and how to add one.",
    )

    class Meta:
        name = "TargetCoverage"
        description = "Which target covers today, or that none does."


class YearAmountType(graphene.ObjectType):
    year = graphene.Int(required=True)
    amount = graphene.Field(Money, required=True)

    class Meta:
        name = "YearAmount"

    def resolve_amount(self, info):
        return Money.of(self.amount)


class TargetProgressType(graphene.ObjectType):
    target = graphene.Field(TargetType, required=True)
    achieved = graphene.Field(Money, required=True)
    percent = graphene.Decimal(required=True, description="achieved ÷ amount × 100")
    elapsed_percent = graphene.Decimal(required=True, description="Share of the period passed.")
    projected_total = graphene.Field(Money, required=True, description="At the current run rate.")
    on_track = graphene.Boolean(required=True)
    by_year = graphene.List(graphene.NonNull(YearAmountType), required=True)

    class Meta:
        name = "TargetProgress"

    def resolve_achieved(self, info):
        return Money.of(self.achieved)

    def resolve_projected_total(self, info):
        return Money.of(self.projected_total)


class SummaryKeyType(graphene.ObjectType):
    dimension = graphene.Field(ContributionDimension, required=True)
    value = graphene.String(required=True)
    label = graphene.String(required=True)

    class Meta:
        name = "ContributionSummaryKey"


class SummaryRowType(graphene.ObjectType):
    keys = graphene.List(graphene.NonNull(SummaryKeyType), required=True)
    total = graphene.Field(Money, required=True)
    entry_count = graphene.Int(required=True)

    class Meta:
        name = "ContributionSummaryRow"

    def resolve_total(self, info):
        return Money.of(self.total)


class SummaryType(graphene.ObjectType):
    total = graphene.Field(Money, required=True)
    entry_count = graphene.Int(required=True)
    rows = graphene.List(graphene.NonNull(SummaryRowType), required=True)

    class Meta:
        name = "ContributionSummary"

    def resolve_total(self, info):
        return Money.of(self.total)


class ImportBatchType(graphene.ObjectType):
    filename = graphene.String(required=True)
    row_count = graphene.Int(required=True)
    total = graphene.Field(Money, required=True)
    created_at = graphene.DateTime(required=True)

    class Meta:
        name = "ContributionImportBatch"

    def resolve_total(self, info):
        return Money.of(self.total)


class ContributionType(DjangoObjectType):
    kind = graphene.Field(ContributionKindEnum, required=True)
    source = graphene.Field(ContributionSourceEnum, required=True)
    amount = graphene.Field(Money, required=True)
    order = graphene.Field(OrderType, description="The order it books (order and refund entries).")
    import_batch = graphene.Field(ImportBatchType, description="The import it came from.")

    class Meta:
        model = ContributionEntry
        name = "Contribution"
        description = "A ledger entry with its dimensions as they were when it was booked."
        interfaces = (graphene.relay.Node,)
        fields = (
            "id",
            "position",
            "business_date",
            "booked_at",
            "channel",
            "buyer_province",
            "agency_name",
            "agency_type",
            "agency_city",
            "supplier_name",
            "origin_province",
            "origin_county_code",
            "origin_county_name",
            "category",
            "product_name",
            "invoice_number",
            "seller_credit_code",
            "reason",
            "prev_hash",
            "hash",
        )
        convert_choices_to_enum = False

    def resolve_amount(self, info):
        return Money.of(self.amount)

    def resolve_import_batch(self, info):
        return self.import_batch


class ContributionConnection(CountableConnection):
    class Meta:
        node = ContributionType


class LedgerVerifyType(graphene.ObjectType):
    ok = graphene.Boolean(required=True)
    entries_checked = graphene.Int(required=True)
    first_broken_entry_id = graphene.ID(description="Global ID of the first entry that fails.")
    problem = graphene.String()

    class Meta:
        name = "LedgerVerification"


class ContributionFilterInput(graphene.InputObjectType):
    date_from = graphene.Date(description="Business date (Asia/Shanghai), inclusive.")
    date_to = graphene.Date(description="Inclusive.")
    kinds = graphene.List(graphene.NonNull(ContributionKindEnum))
    cities = graphene.List(graphene.NonNull(graphene.String), description="Fujian city names.")
    agency_types = graphene.List(graphene.NonNull(graphene.String))
    agencies = graphene.List(graphene.NonNull(graphene.ID))
    channels = graphene.List(graphene.NonNull(graphene.String))
    suppliers = graphene.List(graphene.NonNull(graphene.ID))
    counties = graphene.List(graphene.NonNull(graphene.String), description="County codes.")
    categories = graphene.List(graphene.NonNull(graphene.String))


def _ids(global_ids, type_name: str) -> list[str]:
    ids = [decode_id(gid, type_name) for gid in global_ids]
    if any(i is None for i in ids):
        raise BadUserInput(f"Every ID in the filter must be a {type_name} ID.")
    return [str(i) for i in ids]


def ledger_filter_from(data) -> reports.LedgerFilter:
    data = data or {}
    values: dict[str, list[str]] = {}
    plain = {
        "kinds": "KIND",
        "cities": "CITY",
        "agency_types": "AGENCY_TYPE",
        "channels": "CHANNEL",
        "counties": "COUNTY",
        "categories": "CATEGORY",
    }
    for argument, dimension in plain.items():
        if data.get(argument):
            values[dimension] = [getattr(v, "value", v) for v in data[argument]]
    if data.get("agencies"):
        values["AGENCY"] = _ids(data["agencies"], "Agency")
    if data.get("suppliers"):
        values["SUPPLIER"] = _ids(data["suppliers"], "Supplier")
    return reports.LedgerFilter(data.get("date_from"), data.get("date_to"), values)


class LedgerQueries(graphene.ObjectType):
    targets = graphene.List(graphene.NonNull(TargetType), required=True)
    target_coverage = graphene.Field(
        TargetCoverageType,
        required=True,
        description="Which target today's purchases count toward, or that none does.",
    )
    target_progress = graphene.Field(TargetProgressType, code=graphene.String(required=True))
    contribution_summary = graphene.Field(
        SummaryType,
        required=True,
        filter=ContributionFilterInput(),
        group_by=graphene.List(graphene.NonNull(ContributionDimension)),
    )
    contributions = PaginatedField(ContributionConnection, filter=ContributionFilterInput())
    ledger_verify = graphene.Field(LedgerVerifyType, required=True)

    def resolve_targets(root, info):
        return reports.targets_visible_to(acting_user=info.context.user)

    def resolve_target_coverage(root, info):
        return reports.target_coverage(acting_user=info.context.user)

    def resolve_target_progress(root, info, code):
        target = reports.targets_visible_to(acting_user=info.context.user).filter(code=code).first()
        return reports.target_progress(target) if target else None

    def resolve_contribution_summary(root, info, filter=None, group_by=None):
        return reports.contribution_summary(
            acting_user=info.context.user,
            filters=ledger_filter_from(filter),
            group_by=[getattr(g, "value", g) for g in group_by or []],
        )

    def resolve_contributions(root, info, filter=None):
        return reports.contributions_visible_to(
            acting_user=info.context.user, filters=ledger_filter_from(filter)
        )

    def resolve_ledger_verify(root, info):
        require_role(info.context.user, Role.OPERATOR, Role.AUDITOR)
        result = ledger.verify()
        broken = result.first_broken_entry_id
        return LedgerVerifyType(
            ok=result.ok,
            entries_checked=result.entries_checked,
            first_broken_entry_id=graphene.Node.to_global_id("Contribution", broken)
            if broken
            else None,
            problem=result.problem or None,
        )


class ContributionImportMutation(BaseMutation):
    """Import purchases on other channels from a CSV (operator); see docs/ledger.md."""

    class Arguments:
        file = Upload(required=True)

    contribution_import = graphene.Field(ImportBatchType, name="import")
    errors = errors_field(ProcurementError)

    class Meta:
        name = "ContributionImport"

    @classmethod
    def perform(cls, info, file):
        data = file.read(contributions.MAX_IMPORT_BYTES + 1) if hasattr(file, "read") else b""
        batch = contributions.contribution_import(
            acting_user=info.context.user, filename=getattr(file, "name", "import.csv"), data=data
        )
        return cls(contribution_import=batch)


class ContributionAdjustInput(graphene.InputObjectType):
    amount = graphene.Decimal(required=True, description="Signed, CNY.")
    business_date = graphene.Date(required=True)
    reason = graphene.String(required=True)
    kind = ContributionKindEnum()
    channel = graphene.String()
    city = graphene.String()
    category = graphene.String()


class ContributionAdjust(BaseMutation):
    """Book a signed correction with a reason (operator)."""

    class Arguments:
        input = ContributionAdjustInput(required=True)

    contribution = graphene.Field(ContributionType)
    errors = errors_field(ProcurementError)

    @classmethod
    def perform(cls, info, input):
        entry = contributions.contribution_adjust(
            acting_user=info.context.user,
            data=contributions.AdjustmentInput(
                amount=input.amount,
                business_date=input.business_date,
                reason=input.reason,
                kind=getattr(input.get("kind"), "value", None) or "PURCHASE",
                channel=input.get("channel") or "ADJUSTMENT",
                agency_city=input.get("city") or "",
                category=input.get("category") or "",
            ),
        )
        return cls(contribution=entry)


class TargetCreateInput(graphene.InputObjectType):
    code = graphene.String(required=True)
    name = graphene.String(required=True)
    amount = graphene.Decimal(required=True)
    start_date = graphene.Date(required=True)
    end_date = graphene.Date(required=True)
    buyer_province = graphene.String()
    origin_province = graphene.String()
    buyer_city = graphene.String(description="For a per-city sub-target.")
    parent_code = graphene.String()


class TargetCreate(BaseMutation):
    """Add a target, e.g. the 15th plan's or a yearly or per-city sub-target (operator)."""

    class Arguments:
        input = TargetCreateInput(required=True)

    target = graphene.Field(TargetType)
    errors = errors_field(ProcurementError)

    @classmethod
    def perform(cls, info, input):
        data = contributions.TargetInput(
            code=input.code,
            name=input.name,
            amount=input.amount,
            start_date=input.start_date,
            end_date=input.end_date,
            buyer_city=input.get("buyer_city") or "",
            parent_code=input.get("parent_code") or "",
        )
        if input.get("buyer_province"):
            data.buyer_province = input.buyer_province
        if input.get("origin_province"):
            data.origin_province = input.origin_province
        return cls(target=contributions.target_create(acting_user=info.context.user, data=data))


class LedgerMutations(graphene.ObjectType):
    contribution_import = ContributionImportMutation.Field()
    contribution_adjust = ContributionAdjust.Field()
    target_create = TargetCreate.Field()
