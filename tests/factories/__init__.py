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
from tests.factories.notifications import WebhookEndpointFactory
from tests.factories.procurement import AgencyFactory

__all__ = [
    "AgencyFactory",
    "GIFactory",
    "HouseholdFactory",
    "ProductFactory",
    "SupplierFactory",
    "TierPriceFactory",
    "TraceBatchFactory",
    "UserFactory",
    "VariantFactory",
    "WebhookEndpointFactory",
]
