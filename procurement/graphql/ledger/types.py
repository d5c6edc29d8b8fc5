"""The contribution ledger's GraphQL types and its filter input."""

from dataclasses import dataclass

import graphene
from django.utils import timezone
from graphene_django import DjangoObjectType

from procurement import ledger, models
from procurement.graphql.types import OrderType
from procurement.models import (
    ContributionEntry,
    ContributionKind,
    ContributionSource,
    LedgerCheckpoint,
    Target,
)
from procurement.reports import dimensions
from procurement.reports import selectors as reports
from shop.core.graphql.ids import encode_cursor
from shop.core.graphql.types import CountableConnection, Money

ContributionKindEnum = graphene.Enum.from_enum(ContributionKind, name="ContributionKind")
# The enums the dimensions' values are (dimensions.py `choices`), by name.
CHOICE_ENUMS = {"ContributionKind": ContributionKindEnum}
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
        dimension = dimensions.BY_NAME.get(self.dimension)  # YEAR and MONTH are not in it
        if dimension and dimension.id_type and self.value:
            return graphene.Node.to_global_id(dimension.id_type, self.value)
        return self.value


class SummaryRowType(graphene.ObjectType):
    keys = graphene.List(graphene.NonNull(SummaryKeyType), required=True)
    total = graphene.Field(Money, required=True)
    entry_count = graphene.Int(required=True)

    class Meta:
        name = "ContributionSummaryRow"

    def resolve_total(self, info):
        return Money.of(self.total)


# Rows of a summary per page: 100 unless `first` says otherwise, up to 1000 (docs/decisions.md).
SUMMARY_PAGE_SIZE = 100
SUMMARY_MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class SummaryPage:
    """A summary as the API answers it: the selector's page, and how to ask for the next."""

    summary: reports.Summary
    scope: str  # the cursors' scope: the summary's groupBy
    after_given: bool


class SummaryType(graphene.ObjectType):
    total = graphene.Field(Money, required=True, description="Of every row, on every page.")
    entry_count = graphene.Int(required=True, description="Of every row, on every page.")
    rows = graphene.List(
        graphene.NonNull(SummaryRowType),
        required=True,
        description="One page of rows, in the order of their keys' values (see `first`).",
    )
    row_count = graphene.Int(required=True, description="How many rows there are on all pages.")
    page_info = graphene.Field(
        graphene.relay.PageInfo,
        required=True,
        description="`endCursor` is the `after` of the next page while `hasNextPage`.",
    )

    class Meta:
        name = "ContributionSummary"

    def resolve_total(self: SummaryPage, info):
        return Money.of(self.summary.total)

    def resolve_entry_count(self: SummaryPage, info):
        return self.summary.entry_count

    def resolve_rows(self: SummaryPage, info):
        return self.summary.rows

    def resolve_row_count(self: SummaryPage, info):
        return self.summary.row_count()

    def resolve_page_info(self: SummaryPage, info):
        end = self.summary.end_key
        return graphene.relay.PageInfo(
            has_next_page=self.summary.has_more,
            has_previous_page=self.after_given,
            start_cursor=None,
            end_cursor=encode_cursor(self.scope, end) if end is not None else None,
        )


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
        return ledger.encoded_leaf(self.entry).decode()

    def resolve_leaf_hash(self, info):
        return self.leaf.hex()


class LedgerConsistencyProofType(graphene.ObjectType):
    from_size = graphene.Int(required=True)
    to_size = graphene.Int(required=True)
    path = hex_hashes("RFC 9162 §2.1.4 consistency proof, hex.", lambda proof: proof.path)

    class Meta:
        name = "LedgerConsistencyProof"


def _choice_enum(name: str) -> type[graphene.Enum]:
    if name not in CHOICE_ENUMS:
        CHOICE_ENUMS[name] = graphene.Enum.from_enum(getattr(models, name), name=name)
    return CHOICE_ENUMS[name]


def _filter_field(
    dimension: dimensions.Dimension, argument: dimensions.FilterArgument
) -> graphene.List:
    if dimension.choices:
        of = _choice_enum(dimension.choices)
    elif dimension.id_type and not argument.stored_values:
        of = graphene.ID
    else:
        of = graphene.String
    return graphene.List(
        graphene.NonNull(of),
        description=argument.description or None,
        deprecation_reason=argument.deprecation_reason or None,
    )


# The dates, then every dimension's arguments (dimensions.py), in the registry's order.
ContributionFilterInput = type(
    "ContributionFilterInput",
    (graphene.InputObjectType,),
    {
        "date_from": graphene.Date(description="Business date (Asia/Shanghai), inclusive."),
        "date_to": graphene.Date(description="Inclusive."),
        **{
            argument.name: _filter_field(dimension, argument)
            for dimension, argument in dimensions.filter_arguments()
        },
    },
)
