"""Who may call the account mutations (read by the mutations' `allowed_roles`)."""

from shop.accounts.models import Role
from shop.core.permissions import ANYONE

# Mutation -> the roles allowed to call it (tests/shop/core/test_mutation_policies.py).
POLICIES: dict[str, tuple[str, ...] | str] = {
    "accountRegister": ANYONE,
    "tokenCreate": ANYONE,
    "tokenRefresh": ANYONE,
    "tokenVerify": ANYONE,
    "userCreate": (Role.OPERATOR,),
    "userDeactivate": (Role.OPERATOR,),
}
