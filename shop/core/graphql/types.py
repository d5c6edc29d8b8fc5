"""Shared GraphQL types: Money, counted connections."""

from decimal import Decimal

import graphene

from shop.core.money import CURRENCY, quantize_cny


class Money(graphene.ObjectType):
    """An amount of money. `amount` is a decimal string with 2 places, never a float."""

    amount = graphene.Decimal(required=True)
    currency = graphene.String(required=True, description="ISO 4217 code; always CNY.")

    @staticmethod
    def of(amount: Decimal | None) -> dict | None:
        # A plain dict, not a Money instance: graphene's default resolver reads both, and a
        # listing page has hundreds of prices (constructing ObjectTypes was measurable).
        if amount is None:
            return None
        return {"amount": quantize_cny(amount), "currency": CURRENCY}


class CountableConnection(graphene.relay.Connection):
    """A Relay connection that also reports how many nodes match in all."""

    class Meta:
        abstract = True

    total_count = graphene.Int(required=True, description="Nodes matching, across all pages.")

    def resolve_total_count(self, _info) -> int:
        # A LazyCount: the COUNT runs only when a client selects totalCount.
        return self.length()
