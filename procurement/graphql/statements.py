"""`supplierStatement(supplierId, month)`: a supplier's monthly statement."""

import graphene

from catalog.graphql.types import SupplierType
from procurement.reports import statements
from shop.core.graphql.ids import decode_id
from shop.core.graphql.types import Money


class SupplierStatementType(graphene.ObjectType):
    """A supplier's month (Asia/Shanghai dates): what was accepted, paid, refunded and left
    outstanding, and what the ledger counted."""

    class Meta:
        name = "SupplierStatement"

    supplier = graphene.Field(SupplierType, required=True)
    month = graphene.String(required=True, description="YYYY-MM.")
    accepted_count = graphene.Int(required=True, description="Orders accepted in the month.")
    accepted = graphene.Field(Money, required=True, description="Their accepted value.")
    paid_count = graphene.Int(required=True, description="Orders paid in the month.")
    paid = graphene.Field(Money, required=True)
    refunded = graphene.Field(Money, required=True, description="Refunds made in the month.")
    outstanding = graphene.Field(
        Money, required=True, description="Accepted by the month's end and not paid by then."
    )
    counted = graphene.Field(
        Money,
        required=True,
        description="Accepted value of orders counted in the month (accepted and paid, the "
        "later of the two in the month), before refunds.",
    )
    contribution = graphene.Field(
        Money,
        required=True,
        description="Platform-counted contribution: the ledger's entries for the supplier "
        "dated in the month (counted less refunded).",
    )
    ledger_agrees = graphene.Boolean(
        required=True, description="counted − refunded equals the ledger's contribution."
    )
    csv_url = graphene.String(required=True)
    xlsx_url = graphene.String(required=True)

    def resolve_month(self, info):
        return f"{self.month:%Y-%m}"

    def resolve_accepted(self, info):
        return Money.of(self.accepted)

    def resolve_paid(self, info):
        return Money.of(self.paid)

    def resolve_refunded(self, info):
        return Money.of(self.refunded)

    def resolve_outstanding(self, info):
        return Money.of(self.outstanding)

    def resolve_counted(self, info):
        return Money.of(self.counted)

    def resolve_contribution(self, info):
        return Money.of(self.contribution)

    def resolve_csv_url(self, info):
        return statements.download_path(self, "csv")

    def resolve_xlsx_url(self, info):
        return statements.download_path(self, "xlsx")


class StatementQueries(graphene.ObjectType):
    supplier_statement = graphene.Field(
        SupplierStatementType,
        supplier_id=graphene.ID(required=True),
        month=graphene.String(required=True, description="YYYY-MM (Asia/Shanghai)."),
        description="Operators and auditors: any supplier; supplier staff: their own.",
    )

    def resolve_supplier_statement(root, info, supplier_id, month):
        return statements.supplier_statement(
            acting_user=info.context.user,
            supplier_id=decode_id(supplier_id, "Supplier"),
            month=statements.parse_month(month),
        )
