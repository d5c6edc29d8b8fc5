from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone


class Role(models.TextChoices):
    OPERATOR = "OPERATOR", "平台运营 Operator"
    SUPPLIER = "SUPPLIER", "供应商 Supplier staff"
    AGENCY = "AGENCY", "采购单位 Agency buyer"
    AUDITOR = "AUDITOR", "审计 Auditor"
    COUNTY_REVIEWER = "COUNTY_REVIEWER", "县级审核 County reviewer"
    CONSUMER = "CONSUMER", "消费者 Consumer"


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields) -> "User":
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields) -> "User":
        fields.update(role=Role.OPERATOR, is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)

    def with_organisations(self) -> "models.QuerySet[User]":
        """Users with their memberships joined, so `user.supplier_id` and the like cost no
        query (the request's user is loaded this way)."""
        from shop.accounts.organisations import membership_accessors

        return self.get_queryset().select_related(*membership_accessors())


class User(AbstractBaseUser, PermissionsMixin):
    """A person signing in by e-mail. `role` decides what the services let them do; supplier,
    agency and county-reviewer accounts are tied to their organisation by membership rows of
    the catalog and procurement apps."""

    email = models.EmailField(unique=True)
    role = models.CharField(max_length=32, choices=Role.choices, default=Role.CONSUMER)
    is_active = models.BooleanField(default=True)
    # Django admin access; operators get it, nobody else needs it.
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    # The organisation a role acts for (supplier staff → supplier, county reviewer → county,
    # agency buyer → agency) is a membership row in the app owning it; `user.supplier`,
    # `user.agency_id`, … are installed by shop/accounts/organisations.py.

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email


class SignInThrottle(models.Model):
    """Failed sign-ins counted under one key: an account from one address (PAIR), an account
    from anywhere (ACCOUNT) or an address for any account (ADDRESS). One row per key, locked
    while an attempt is checked and counted, so parallel guesses cannot all slip through.
    See shop/accounts/throttle.py for the rules."""

    class Scope(models.TextChoices):
        PAIR = "PAIR", "account from one address"
        ACCOUNT = "ACCOUNT", "account from any address"
        ADDRESS = "ADDRESS", "address for any account"

    scope = models.CharField(max_length=8, choices=Scope.choices)
    email = models.CharField(max_length=254, blank=True)
    address = models.CharField(max_length=64, blank=True)
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    # PAIR rows only: the account last signed in from this address (a known address).
    last_success_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "email", "address"], name="sign_in_throttle_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.email} {self.address}: {self.failures}"
