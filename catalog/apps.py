from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = "Catalog and supplier admission"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate, pre_migrate

        from catalog import version
        from catalog.membership import register_organisations

        register_organisations()

        connection_created.connect(version.install, dispatch_uid="catalog-version")
        pre_migrate.connect(version.pause_for_migrations, dispatch_uid="catalog-version")
        post_migrate.connect(version.resume_after_migrations, dispatch_uid="catalog-version")
