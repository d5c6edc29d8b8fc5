"""Auditor queries and operator mutations of the contribution ledger (docs/design.md §4)."""

import graphene
from django.utils import timezone
from graphene_django import DjangoObjectType
from graphene_file_upload.scalars import Upload

from procurement import ledger
from procurement.access import POLICIES
from procurement.graphql.types import OrderType, ProcurementError
from procurement.models import (
    ContributionEntry,
    ContributionKind,
    ContributionSource,
    LedgerCheckpoint,
    Target,
)
from procurement.reports import selectors as reports
from procurement.reports.filters import ID_DIMENSIONS, ledger_filter_from
from procurement.services import contributions, transparency
from procurement.transparency import merkle, signing
from shop.core.errors import BadUserInput
from shop.core.graphql.connection import PaginatedField
from shop.core.graphql.errors import errors_field
from shop.core.graphql.ids import decode_id
from shop.core.graphql.mutations import BaseMutation
from shop.core.graphql.types import CountableConnection, Money

ContributionKindEnum = graphene.Enum.from_enum(ContributionKind, name="ContributionKind")
ContributionSourceEnum = graphene.Enum.from_enum(ContributionSource, name="ContributionSource")
ContributionDimension = graphene.Enum(
    "ContributionDimension", [(d, d) for d in reports.GROUP_DIMENSIONS]
)


def _city_code(info, name: str) -> str:
    """A city's division code from the name an entry or target stores ("" for none), with one
    look-up of the (dozen-row) city table per request rather than one per object."""
    if not name:
        return ""
    codes = getattr(info.context, "_shanhai_city_codes", None)
    if codes is None:
        codes = info.context._shanhai_city_codes = reports.city_codes()
    return codes.get(name, "")


class TargetType(DjangoObjectType):
    amount = graphene.Field(Money, required=True)
    parent_code = graphene.String()
    buyer_city_code = graphene.String(
        required=True, description="Division code of the target's city; empty: the province."
    )
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

    def resolve_buyer_city_code(self, info):
        return _city_code(info, self.buyer_city)

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


# Dimensions whose public value is an object's global ID, with the GraphQL type it names.


class SummaryKeyType(graphene.ObjectType):
    dimension = graphene.Field(ContributionDimension, required=True)
    value = graphene.String(
        required=True,
        description=(
            "What the matching ContributionFilterInput field takes, so a row can be fed back as "
            "its drill-down's filter: CITY a city's division code (cityCodes), COUNTY a county's "
            "code (counties), AGENCY and SUPPLIER global IDs (agencies, suppliers), YEAR `2025` "
            "and MONTH `2025-03` (dateFrom/dateTo), the others as stored. Empty when the entries "
            "have none (e.g. imports have no agency)."
        ),
    )
    label = graphene.String(required=True, description="A name to show.")

    class Meta:
        name = "ContributionSummaryKey"

    def resolve_value(self, info):
        type_name = ID_DIMENSIONS.get(self.dimension)
        if type_name and self.value:
            return graphene.Node.to_global_id(type_name, self.value)
        return self.value


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
    invoice_number = graphene.String(
        required=True,
        description="The entry's invoice, or its order's when the order was counted before "
        "its invoice was attached.",
    )
    agency_id = graphene.ID(description="Global ID of the buying agency (none for imports).")
    agency_city_code = graphene.String(
        required=True, description="Division code of the agency's city (empty if none)."
    )
    supplier_id = graphene.ID(description="Global ID of the supplier (none for imports).")

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

    def resolve_invoice_number(self, info):
        invoice = getattr(self, "invoice", None)  # annotated by the selector
        if invoice is None:
            invoice = self.invoice_number or (self.order.invoice_number if self.order_id else "")
        return invoice

    def resolve_agency_id(self, info):
        return graphene.Node.to_global_id("Agency", self.agency_id) if self.agency_id else None

    def resolve_supplier_id(self, info):
        return (
            graphene.Node.to_global_id("Supplier", self.supplier_id) if self.supplier_id else None
        )

    def resolve_agency_city_code(self, info):
        return _city_code(info, self.agency_city)


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


class LedgerCheckpointType(DjangoObjectType):
    tree_size = graphene.Int(required=True, description="How many entries the tree held.")
    root_hash = graphene.String(required=True, description="The tree's root, hex.")
    timestamp = graphene.String(required=True, description="UTC ISO-8601, exactly as signed.")
    signature = graphene.String(
        required=True,
        description="Ed25519, base64, over the text `shanhai-ledger/v1\\n<treeSize>\\n"
        "<root, base64>\\n<timestamp>\\n`.",
    )
    key_id = graphene.String(required=True, description="SHA-256 of the raw public key, hex.")

    class Meta:
        model = LedgerCheckpoint
        name = "LedgerCheckpoint"
        description = "A signed statement of the ledger tree's size and root (keep them)."
        fields = ("id", "tree_size", "root_hash", "timestamp", "signature", "key_id")
        interfaces = (graphene.relay.Node,)


class LedgerCheckpointConnection(CountableConnection):
    class Meta:
        node = LedgerCheckpointType


class LedgerPublicKeyType(graphene.ObjectType):
    algorithm = graphene.String(required=True)
    public_key = graphene.String(required=True, description="The 32 raw bytes, base64.")
    key_id = graphene.String(required=True, description="SHA-256 of the raw public key, hex.")

    class Meta:
        name = "LedgerPublicKey"


def hex_hashes(description: str, hashes) -> graphene.List:
    return graphene.List(
        graphene.NonNull(graphene.String),
        required=True,
        description=description,
        resolver=lambda proof, info: [h.hex() for h in hashes(proof)],
    )


class LedgerInclusionProofType(graphene.ObjectType):
    entry = graphene.Field(ContributionType, required=True)
    leaf_index = graphene.Int(required=True)
    tree_size = graphene.Int(required=True)
    leaf = graphene.String(
        required=True, description="The entry's canonical encoding (version 1), as hashed."
    )
    leaf_hash = graphene.String(required=True, description="SHA-256(0x00 ‖ leaf), hex.")
    audit_path = hex_hashes(
        "RFC 9162 §2.1.3 inclusion path, hex, nearest the leaf first.", lambda proof: proof.path
    )

    class Meta:
        name = "LedgerInclusionProof"

    def resolve_leaf(self, info):
        return merkle.encode_leaf(ledger.leaf_values(self.entry)).decode()

    def resolve_leaf_hash(self, info):
        return self.leaf.hex()


class LedgerConsistencyProofType(graphene.ObjectType):
    from_size = graphene.Int(required=True)
    to_size = graphene.Int(required=True)
    path = hex_hashes("RFC 9162 §2.1.4 consistency proof, hex.", lambda proof: proof.path)

    class Meta:
        name = "LedgerConsistencyProof"


class ContributionFilterInput(graphene.InputObjectType):
    date_from = graphene.Date(description="Business date (Asia/Shanghai), inclusive.")
    date_to = graphene.Date(description="Inclusive.")
    kinds = graphene.List(graphene.NonNull(ContributionKindEnum))
    city_codes = graphene.List(
        graphene.NonNull(graphene.String),
        description="Fujian cities by administrative division code (e.g. 350200), as CITY values.",
    )
    cities = graphene.List(
        graphene.NonNull(graphene.String),
        description="Fujian city names.",
        deprecation_reason="Use cityCodes (division codes, as contributionSummary's CITY values); "
        "names are accepted for one more release.",
    )
    agency_types = graphene.List(graphene.NonNull(graphene.String))
    agencies = graphene.List(graphene.NonNull(graphene.ID), description="Agency global IDs.")
    channels = graphene.List(graphene.NonNull(graphene.String))
    suppliers = graphene.List(graphene.NonNull(graphene.ID), description="Supplier global IDs.")
    counties = graphene.List(
        graphene.NonNull(graphene.String), description="Ningxia counties by division code."
    )
    categories = graphene.List(graphene.NonNull(graphene.String), description="Category names.")


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
    ledger_checkpoints = PaginatedField(
        LedgerCheckpointConnection, description="Signed checkpoints of the tree, newest first."
    )
    ledger_public_key = graphene.Field(
        LedgerPublicKeyType, required=True, description="The key checkpoints are signed with."
    )
    ledger_inclusion_proof = graphene.Field(
        LedgerInclusionProofType,
        required=True,
        entry_id=graphene.ID(required=True),
        tree_size=graphene.Int(description="A checkpoint's size; the latest one's by default."),
        description="Proof that an entry is in the tree of a signed size (your own entries).",
    )
    ledger_consistency_proof = graphene.Field(
        LedgerConsistencyProofType,
        required=True,
        from_size=graphene.Int(required=True),
        to_size=graphene.Int(required=True),
        description="Proof that the tree of toSize extends the tree of fromSize unchanged.",
    )

    def resolve_ledger_checkpoints(root, info):
        return transparency.checkpoints(acting_user=info.context.user)

    def resolve_ledger_public_key(root, info):
        key = transparency.public_key()
        return LedgerPublicKeyType(algorithm="Ed25519", public_key=key, key_id=signing.key_id(key))

    def resolve_ledger_inclusion_proof(root, info, entry_id, tree_size=None):
        pk = decode_id(entry_id, "Contribution")
        if pk is None:
            raise BadUserInput("`entryId` must be a Contribution ID.")
        return transparency.inclusion_proof(
            acting_user=info.context.user, entry_id=pk, tree_size=tree_size
        )

    def resolve_ledger_consistency_proof(root, info, from_size, to_size):
        return transparency.consistency_proof(
            acting_user=info.context.user, from_size=from_size, to_size=to_size
        )

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
        result = transparency.ledger_verify(acting_user=info.context.user)
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

    allowed_roles = POLICIES["contributionImport"]

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
    city_code = graphene.String(description="A Fujian city's division code, e.g. 350200.")
    city = graphene.String(
        description="A Fujian city's name.",
        deprecation_reason="Use cityCode; names are accepted for one more release.",
    )
    category = graphene.String()


class ContributionAdjust(BaseMutation):
    """Book a signed correction with a reason (operator)."""

    allowed_roles = POLICIES["contributionAdjust"]

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
                agency_city_code=input.get("city_code") or "",
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
    buyer_city_code = graphene.String(
        description="For a per-city sub-target: the city's division code, e.g. 350200."
    )
    buyer_city = graphene.String(
        description="For a per-city sub-target: the city's name.",
        deprecation_reason="Use buyerCityCode; names are accepted for one more release.",
    )
    parent_code = graphene.String()


class TargetCreate(BaseMutation):
    """Add a target, e.g. the 15th plan's or a yearly or per-city sub-target (operator)."""

    allowed_roles = POLICIES["targetCreate"]

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
            buyer_city_code=input.get("buyer_city_code") or "",
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
