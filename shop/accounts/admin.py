from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from shop.accounts.forms import AdminSignInForm
from shop.accounts.models import User
from shop.core.admin_access import ReadOnlyForOperatorsMixin


@admin.register(User)
class UserAdmin(ReadOnlyForOperatorsMixin, DjangoUserAdmin):
    """Operators browse accounts here; creating and deactivating them goes through the API
    (userCreate, userDeactivate), which checks the rules and writes the audit trail."""

    ordering = ["email"]
    list_display = ["email", "role", "is_active", "date_joined", "last_login"]
    list_filter = ["role", "is_active"]
    search_fields = ["email"]
    fieldsets = [
        (None, {"fields": ["email", "password", "role", "is_active"]}),
        ("Admin", {"fields": ["is_staff", "is_superuser"]}),
        ("Dates", {"fields": ["date_joined", "last_login"]}),
    ]
    add_fieldsets = [(None, {"fields": ["email", "role", "password1", "password2"]})]
    readonly_fields = ["date_joined", "last_login"]


# /admin/login/ checks passwords like every other door (shop/accounts/forms.py).
admin.site.login_form = AdminSignInForm
