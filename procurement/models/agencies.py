"""Procurement's organisations: the Fujian agencies that buy, who buys for them, and the
share of their canteen purchases they reserve."""

from django.conf import settings
from django.db import models

from shop.accounts import organisations


class AgencyType(models.TextChoices):
    GOVERNMENT = "GOVERNMENT", "机关"
    SCHOOL = "SCHOOL", "学校"
    HOSPITAL = "HOSPITAL", "医院"
    ENTERPRISE = "ENTERPRISE", "企事业单位"
    UNION = "UNION", "工会"
    EXHIBITION_CENTRE = "EXHIBITION_CENTRE", "专馆/集散中心"
    SUPERMARKET = "SUPERMARKET", "商超专区"
    ECOMMERCE = "ECOMMERCE", "电商"


# Buyers that resell: their purchases count as 帮销 (helped sales), not 采购 (docs/design.md §3).
RESELLER_TYPES = frozenset(
    {AgencyType.EXHIBITION_CENTRE, AgencyType.SUPERMARKET, AgencyType.ECOMMERCE}
)


class Agency(models.Model):
    """A Fujian buyer (采购单位): an agency, school, hospital, enterprise, union or reseller."""

    name = models.CharField(max_length=128)
    credit_code = models.CharField(max_length=18, unique=True)
    type = models.CharField(max_length=24, choices=AgencyType.choices)
    city = models.ForeignKey("catalog.City", on_delete=models.PROTECT, related_name="agencies")
    district = models.CharField(max_length=32, blank=True)
    contact_name = models.CharField(max_length=64, blank=True)
    contact_phone = models.CharField(max_length=32, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Approval (docs/approvals.md): a checkout above this total needs an approver; null: none
    # does. Whether an approver may approve their own request.
    approval_threshold = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    allow_self_approval = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "agencies"

    def __str__(self) -> str:
        return self.name

    @property
    def is_reseller(self) -> bool:
        return self.type in RESELLER_TYPES

    @property
    def staff(self) -> models.QuerySet:
        """The accounts buying for this agency (through their memberships)."""
        return organisations.members("agency", [self.pk])


class AgencyMembership(models.Model):
    """An agency buyer account, the agency it buys for (one per account) and its duties there
    (docs/approvals.md): by default a buyer who does not approve, as every agency account was
    before approvals existed."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agency_membership"
    )
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="memberships")
    can_buy = models.BooleanField(default=True)
    can_approve = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.user} → {self.agency}"


class ReservedSharePlan(models.Model):
    """预留份额: a budget unit's yearly canteen food purchases and the share reserved."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="share_plans")
    year = models.PositiveSmallIntegerField()
    canteen_total = models.DecimalField(max_digits=16, decimal_places=2)
    ratio = models.DecimalField(max_digits=5, decimal_places=4)
    no_canteen = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["agency_id", "year"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "year"], name="one_share_plan_per_year")
        ]

    def __str__(self) -> str:
        return f"{self.agency_id} {self.year}"
