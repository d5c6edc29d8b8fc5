import graphene
from graphene_django import DjangoObjectType

from shop.accounts.errors import AccountErrorCode
from shop.accounts.models import Role, User
from shop.core.graphql.errors import error_type
from shop.core.graphql.types import CountableConnection

RoleEnum = graphene.Enum.from_enum(Role, name="Role", description=lambda v: v and v.label)

AccountError = error_type("AccountError", AccountErrorCode, "An error from an account mutation.")


class UserType(DjangoObjectType):
    role = graphene.Field(RoleEnum, required=True)
    # The organisations' types belong to their apps; named by path, graphene resolves them when
    # the schema is built (shop/schema.py), so the base package imports neither app.
    supplier = graphene.Field(
        "catalog.graphql.types.SupplierType", description="For supplier staff: their supplier."
    )
    county = graphene.Field(
        "catalog.graphql.types.CountyType", description="For county reviewers: their county."
    )
    agency = graphene.Field(
        "procurement.graphql.types.AgencyNode", description="For agency buyers: their agency."
    )

    class Meta:
        model = User
        name = "User"
        description = "A signed-in person: agency buyer, supplier staff, operator, auditor, …"
        interfaces = (graphene.relay.Node,)
        fields = ("id", "email", "role", "is_active", "date_joined", "last_login")
        convert_choices_to_enum = False

    def resolve_supplier(self, info):
        return self.supplier

    def resolve_county(self, info):
        return self.county

    def resolve_agency(self, info):
        return self.agency


class UserConnection(CountableConnection):
    class Meta:
        node = UserType
