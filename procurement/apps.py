from django.apps import AppConfig


class ProcurementConfig(AppConfig):
    name = "procurement"
    verbose_name = "Procurement and contribution ledger"

    def ready(self) -> None:
        # Catalog rules act on procurement data through hooks, so catalog never imports us.
        from catalog import hooks
        from procurement import checks  # noqa: F401 (registers the deploy checks)
        from procurement.membership import register_organisations
        from procurement.scrape import procurement_figures
        from procurement.services.complaints import upheld_quality_complaints_since
        from procurement.services.orders import cancel_unconfirmed_orders_of
        from procurement.webhooks import register_payment_webhooks
        from shop.core.metrics import register_database_metrics

        hooks.on_supplier_withdrawn(cancel_unconfirmed_orders_of)
        hooks.set_complaint_counter(upheld_quality_complaints_since)
        register_payment_webhooks()
        register_organisations()
        register_database_metrics(procurement_figures)
