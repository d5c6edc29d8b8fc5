from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "shop.payments"
    label = "payments"
    verbose_name = "Payments (gateway and webhooks)"

    def ready(self) -> None:
        from shop.payments import checks  # noqa: F401 (registers the deploy checks)
