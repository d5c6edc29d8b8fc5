"""Deploy checks (`manage.py check --deploy`): the bundled mock and its published keys must not
reach production."""

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from shop.payments.mock.keys import DOCUMENTED_KEYS


@register(Tags.security, deploy=True)
def check_payment_gateway(app_configs: Any = None, **kwargs: Any) -> list:
    problems: list = []
    if settings.STRIPE_MOCK_ENABLED:
        problems.append(
            Error(
                "The Stripe mock is enabled: anyone can confirm payments at /stripe-mock/.",
                hint="Set STRIPE_MOCK_ENABLED=false and configure real Stripe keys.",
                id="payments.E001",
            )
        )
    for name in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_PUBLISHABLE_KEY"):
        value = getattr(settings, name)
        if value in DOCUMENTED_KEYS:
            problems.append(
                Error(
                    f"{name} is the mock's published test key.",
                    hint=f"Set {name} to your own key from the Stripe dashboard.",
                    id="payments.E002",
                )
            )
        elif not value and name != "STRIPE_PUBLISHABLE_KEY":
            problems.append(
                Warning(
                    f"{name} is not set: card payments and their webhooks are refused.",
                    id="payments.W001",
                )
            )
    return problems
