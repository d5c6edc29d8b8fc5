"""The root GraphQL schema: each domain contributes its Query and Mutation classes."""

import graphene

from catalog.graphql.mutations import CatalogMutations
from catalog.graphql.queries import CatalogQueries
from procurement.graphql.approvals import ApprovalMutations, ApprovalQueries
from procurement.graphql.baskets import BasketMutations, BasketQueries
from procurement.graphql.ledger import LedgerMutations, LedgerQueries
from procurement.graphql.mutations import ProcurementMutations
from procurement.graphql.queries import ProcurementQueries
from procurement.graphql.statements import StatementQueries
from search.graphql.queries import SearchQueries
from shop.accounts.graphql.mutations import AccountMutations
from shop.accounts.graphql.queries import AccountQueries
from shop.core.graphql.queries import CoreQueries
from shop.core.graphql.scalars import harden_scalars
from shop.notifications.graphql.mutations import NotificationMutations
from shop.notifications.graphql.queries import NotificationQueries


class Query(
    NotificationQueries,
    CatalogQueries,
    SearchQueries,
    ProcurementQueries,
    BasketQueries,
    StatementQueries,
    ApprovalQueries,
    LedgerQueries,
    AccountQueries,
    CoreQueries,
    graphene.ObjectType,
):
    """Root queries. There is deliberately no generic `node(id)`: every object is fetched
    through a field whose selector checks access."""


class Mutation(
    NotificationMutations,
    CatalogMutations,
    ProcurementMutations,
    BasketMutations,
    ApprovalMutations,
    LedgerMutations,
    AccountMutations,
    graphene.ObjectType,
):
    pass


schema = graphene.Schema(query=Query, mutation=Mutation)
harden_scalars(schema.graphql_schema)
