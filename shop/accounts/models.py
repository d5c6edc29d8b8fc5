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


class User(AbstractBaseUser, PermissionsMixin):
    """A person signing in by e-mail. `role` decides what the services let them do; supplier,
    agency and county-reviewer accounts are tied to their organisation by the catalog and
    procurement apps."""

    email = models.EmailField(unique=True)
    role = models.CharField(max_length=32, choices=Role.choices, default=Role.CONSUMER)
    is_active = models.BooleanField(default=True)
    # Django admin access; operators get it, nobody else needs it.
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    # The organisation a role acts for: supplier staff → supplier, county reviewer → county,
    # agency buyer → agency.
    supplier = models.ForeignKey(
        "catalog.Supplier", null=True, blank=True, on_delete=models.PROTECT, related_name="staff"
    )
    county = models.ForeignKey(
        "catalog.County", null=True, blank=True, on_delete=models.PROTECT, related_name="reviewers"
    )
    agency = models.ForeignKey(
        "procurement.Agency", null=True, blank=True, on_delete=models.PROTECT, related_name="staff"
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email


class FailedLogin(models.Model):
    """One failed sign-in. Recent rows throttle further attempts by account and by address."""

    email = models.CharField(max_length=254, db_index=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} from {self.ip_address} at {self.created_at:%Y-%m-%d %H:%M}"
