"""Admin access for operators: staff accounts with the OPERATOR role use the admin pages
without Django model permissions; other staff need Django's permissions as usual."""

from django.contrib import admin

from shop.accounts.models import Role


def is_operator(request) -> bool:
    user = request.user
    return user.is_active and user.is_staff and user.role == Role.OPERATOR


class OperatorPermissionsMixin:
    def has_module_permission(self, request):
        return is_operator(request) or super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return is_operator(request) or super().has_view_permission(request, obj)

    def has_add_permission(self, request):
        return is_operator(request) or super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return is_operator(request) or super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return is_operator(request) or super().has_delete_permission(request, obj)


class OperatorAdmin(OperatorPermissionsMixin, admin.ModelAdmin):
    pass


class ReadOnlyForOperatorsMixin(OperatorPermissionsMixin):
    """Written by services only: operators list and view; nobody adds, edits or deletes
    here except superusers (for repairs)."""

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False


class NeverWrittenHereMixin:
    """Nobody adds, edits or deletes here, superusers included (listed before the classes
    whose permissions it overrides)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(NeverWrittenHereMixin, OperatorAdmin):
    """Written by services only: listed and shown, never added, edited or deleted here."""


class ReadOnlyInline(NeverWrittenHereMixin, admin.TabularInline):
    """Rows shown under their parent for operators, never added, edited or deleted there."""

    extra = 0
    can_delete = False
    show_change_link = False

    def has_view_permission(self, request, obj=None):
        return is_operator(request) or super().has_view_permission(request, obj)
