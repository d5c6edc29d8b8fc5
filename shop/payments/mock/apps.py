from django.apps import AppConfig


class StripeMockConfig(AppConfig):
    name = "shop.payments.mock"
    label = "stripe_mock"
    verbose_name = "Stripe-compatible mock service"
