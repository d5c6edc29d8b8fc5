from django.apps import AppConfig
from django.db.models.signals import pre_save


class CoreConfig(AppConfig):
    name = "shop.core"
    label = "core"
    verbose_name = "Core (audit trail)"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        # checks registers system checks; lookups registers `__in_ids`
        from shop.core import checks, db_router, lookups  # noqa: F401
        from shop.core.health import register_core_checks
        from shop.core.validation import check_columns_before_save

        pre_save.connect(check_columns_before_save, dispatch_uid="shop.core.check_columns")
        connection_created.connect(db_router.install, dispatch_uid="shop.core.db_router")
        register_core_checks()
