"""Operator mutations of the contribution ledger: imports, adjustments, targets."""

import graphene
from graphene_file_upload.scalars import Upload

from procurement.access import POLICIES
from procurement.graphql.ledger.types import (
    ContributionKindEnum,
    ContributionType,
    ImportBatchType,
    TargetType,
)
from procurement.graphql.types import ProcurementError
from procurement.services import contributions
from shop.core.graphql.errors import errors_field
from shop.core.graphql.mutations import BaseMutation


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
