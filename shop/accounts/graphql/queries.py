import graphene

from shop.accounts import selectors
from shop.accounts.graphql.types import UserConnection, UserType
from shop.core.graphql.connection import PaginatedField


class AccountQueries(graphene.ObjectType):
    me = graphene.Field(UserType, description="The signed-in user, or null when anonymous.")
    users = PaginatedField(UserConnection, description="All accounts (operator).")

    def resolve_me(root, info):
        user = info.context.user
        return user if user.is_authenticated else None

    def resolve_users(root, info):
        return selectors.user_list(acting_user=info.context.user)
