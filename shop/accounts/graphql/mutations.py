import graphene

from shop.accounts import services
from shop.accounts.access import POLICIES
from shop.accounts.graphql.types import AccountError, RoleEnum, UserType
from shop.accounts.throttle import client_address
from shop.core.graphql.errors import errors_field
from shop.core.graphql.ids import decode_id
from shop.core.graphql.mutations import BaseMutation


class AccountRegister(BaseMutation):
    """Create a consumer account for yourself."""

    allowed_roles = POLICIES["accountRegister"]

    class Arguments:
        email = graphene.String(required=True)
        password = graphene.String(required=True)

    user = graphene.Field(UserType)
    errors = errors_field(AccountError)

    @classmethod
    def perform(cls, info, email, password):
        return cls(user=services.account_register(email=email, password=password))


class TokenCreate(BaseMutation):
    """Sign in: an access token for `Authorization: Bearer …`, and a refresh token. Must be
    the only mutation of its request."""

    allowed_roles = POLICIES["tokenCreate"]

    atomic_request = False  # its count of failed attempts commits on its own

    class Arguments:
        email = graphene.String(required=True)
        password = graphene.String(required=True)

    token = graphene.String(description="Access token (JWT).")
    refresh_token = graphene.String(description="Refresh token (JWT), for `tokenRefresh`.")
    user = graphene.Field(UserType)
    errors = errors_field(AccountError)

    @classmethod
    def perform(cls, info, email, password):
        pair = services.token_create(
            email=email, password=password, address=client_address(info.context)
        )
        return cls(token=pair.access, refresh_token=pair.refresh, user=pair.user)


class TokenRefresh(BaseMutation):
    """A fresh access token for a refresh token."""

    allowed_roles = POLICIES["tokenRefresh"]

    class Arguments:
        refresh_token = graphene.String(required=True)

    token = graphene.String()
    user = graphene.Field(UserType)
    errors = errors_field(AccountError)

    @classmethod
    def perform(cls, info, refresh_token):
        pair = services.token_refresh(refresh_token=refresh_token)
        return cls(token=pair.access, user=pair.user)


class TokenVerify(BaseMutation):
    """Check an access token; returns its user when valid."""

    allowed_roles = POLICIES["tokenVerify"]

    class Arguments:
        token = graphene.String(required=True)

    is_valid = graphene.Boolean(required=True)
    user = graphene.Field(UserType)
    errors = errors_field(AccountError)

    @classmethod
    def perform(cls, info, token):
        return cls(is_valid=True, user=services.token_verify(token=token))

    @classmethod
    def mutate(cls, root, info, **data):
        payload = super().mutate(root, info, **data)
        if payload.is_valid is None:
            payload.is_valid = False
        return payload


class UserCreate(BaseMutation):
    """Create an account with a role (operator)."""

    allowed_roles = POLICIES["userCreate"]

    class Arguments:
        email = graphene.String(required=True)
        password = graphene.String(required=True)
        role = RoleEnum(required=True)
        supplier_id = graphene.ID(description="Required for SUPPLIER accounts.")
        county_id = graphene.ID(description="Required for COUNTY_REVIEWER accounts.")
        agency_id = graphene.ID(description="Required for AGENCY accounts.")

    user = graphene.Field(UserType)
    errors = errors_field(AccountError)

    @classmethod
    def perform(cls, info, email, password, role, supplier_id=None, county_id=None, agency_id=None):
        user = services.user_create(
            acting_user=info.context.user,
            email=email,
            password=password,
            role=role.value,
            supplier_id=_optional_id(supplier_id, "Supplier"),
            county_id=_optional_id(county_id, "County"),
            agency_id=_optional_id(agency_id, "Agency"),
        )
        return cls(user=user)


def _optional_id(global_id: str | None, type_name: str) -> int | None:
    if global_id is None:
        return None
    # An undecodable ID becomes 0, which matches no row: the service answers NOT_FOUND.
    return decode_id(global_id, type_name) or 0


class UserDeactivate(BaseMutation):
    """Block an account (operator); its tokens stop working at once."""

    allowed_roles = POLICIES["userDeactivate"]

    class Arguments:
        id = graphene.ID(required=True)
        reason = graphene.String()

    user = graphene.Field(UserType)
    errors = errors_field(AccountError)

    @classmethod
    def perform(cls, info, id, reason=""):
        user = services.user_deactivate(
            acting_user=info.context.user, user_id=decode_id(id, "User"), reason=reason or ""
        )
        return cls(user=user)


class AccountMutations(graphene.ObjectType):
    account_register = AccountRegister.Field()
    token_create = TokenCreate.Field()
    token_refresh = TokenRefresh.Field()
    token_verify = TokenVerify.Field()
    user_create = UserCreate.Field()
    user_deactivate = UserDeactivate.Field()
