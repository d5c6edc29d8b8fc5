"""Who may call the notification mutations (read by the mutations' `allowed_roles` and by the
services, so the rule is written once). Which endpoints a caller may see and change is
`services.managed_endpoints`: operators all, an organisation's staff their own."""

from shop.accounts.models import Role

# An organisation's staff manage its endpoints; operators manage any, and the platform's own.
MANAGER_ROLES = (Role.OPERATOR, Role.SUPPLIER, Role.AGENCY)
# Every signed-in user chooses what they are e-mailed about.
SIGNED_IN = tuple(Role)

# Mutation -> the roles allowed to call it (tests/shop/core/test_mutation_policies.py).
POLICIES: dict[str, tuple[str, ...]] = {
    "webhookEndpointCreate": MANAGER_ROLES,
    "webhookEndpointUpdate": MANAGER_ROLES,
    "webhookEndpointDelete": MANAGER_ROLES,
    "webhookTest": MANAGER_ROLES,
    "notificationPreferencesUpdate": SIGNED_IN,
}
