from tests.factories.accounts import UserFactory
from tests.factories.catalog import (
    GIFactory,
    HouseholdFactory,
    ProductFactory,
    SupplierFactory,
    TierPriceFactory,
    TraceBatchFactory,
    VariantFactory,
)

__all__ = [
    "GIFactory",
    "HouseholdFactory",
    "ProductFactory",
    "SupplierFactory",
    "TierPriceFactory",
    "TraceBatchFactory",
    "UserFactory",
    "VariantFactory",
]
