"""Demo accounts: one per role. Printed by `manage.py serve_demo`."""

from shop.accounts.models import Role, User

DEMO_PASSWORD = "Shanhai-demo-2026"
DEMO_ACCOUNTS = {
    Role.OPERATOR: "operator@demo.shanhai.cn",
    Role.AUDITOR: "auditor@demo.shanhai.cn",
    Role.AGENCY: "agency@demo.shanhai.cn",
    Role.SUPPLIER: "supplier@demo.shanhai.cn",
    Role.COUNTY_REVIEWER: "county@demo.shanhai.cn",
    Role.CONSUMER: "consumer@demo.shanhai.cn",
}


def load(progress) -> str:
    """Create the demo accounts that do not exist yet (idempotent)."""
    created = 0
    for role, email in progress(DEMO_ACCOUNTS.items(), description="accounts"):
        if not User.objects.filter(email=email).exists():
            User.objects.create_user(
                email, DEMO_PASSWORD, role=role, is_staff=role == Role.OPERATOR
            )
            created += 1
    return f"{created} accounts created, {len(DEMO_ACCOUNTS) - created} already there"
