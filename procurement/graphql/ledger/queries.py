"""Auditor queries of the contribution ledger (docs/design.md §4)."""

import graphene

from procurement.graphql.ledger.types import (
    SUMMARY_MAX_PAGE_SIZE,
    SUMMARY_PAGE_SIZE,
    ContributionConnection,
    ContributionDimension,
    ContributionFilterInput,
    LedgerCheckpointConnection,
    LedgerConsistencyProofType,
    LedgerInclusionProofType,
    LedgerPublicKeyType,
    LedgerVerifyType,
    SummaryPage,
    SummaryType,
    TargetCoverageType,
    TargetProgressType,
    TargetType,
)
from procurement.reports import selectors as reports
from procurement.reports.filters import ledger_filter_from
from procurement.services import transparency
from procurement.transparency import signing
from shop.core.errors import BadUserInput
from shop.core.graphql.connection import PaginatedField
from shop.core.graphql.ids import decode_cursor, decode_id


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
        first=graphene.Int(
            description=f"At most this many rows, 0 to {SUMMARY_MAX_PAGE_SIZE}; "
            f"{SUMMARY_PAGE_SIZE} when not given."
        ),
        after=graphene.String(
            description="The previous page's `pageInfo.endCursor` (same filter and groupBy)."
        ),
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

    def resolve_contribution_summary(
        root, info, filter=None, group_by=None, first=None, after=None
    ):
        group_by = [getattr(g, "value", g) for g in group_by or []]
        if first is None:
            first = SUMMARY_PAGE_SIZE
        if not 0 <= first <= SUMMARY_MAX_PAGE_SIZE:
            raise BadUserInput(f"`first` must be between 0 and {SUMMARY_MAX_PAGE_SIZE}.")
        scope = f"Query.contributionSummary:{','.join(group_by)}"
        key = None
        if after is not None and (key := decode_cursor(after, scope)) is None:
            raise BadUserInput(
                "`after` is not a cursor of this summary; use the endCursor it handed out, "
                "with the same groupBy."
            )
        summary = reports.contribution_summary(
            acting_user=info.context.user,
            filters=ledger_filter_from(filter),
            group_by=group_by,
            first=first,
            after=key,
        )
        return SummaryPage(summary, scope, after_given=after is not None)

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
