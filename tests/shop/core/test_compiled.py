"""`CompiledQuery` (shop/core/compiled.py): the hot reads compiled once return what the ORM
returns for the same queryset, whatever the arguments of each run."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from catalog.models import ProductStatus, ProductVariant, SupplierStatus, TierPrice
from procurement.models import AgencyBudget
from procurement.services import budgets, checkout
from shop.core.compiled import CompiledQuery, ids_marker
from shop.notifications import services as notifications
from shop.notifications.models import WebhookEndpoint
from tests.conftest import is_postgres
from tests.factories import TierPriceFactory, UserFactory
from tests.procurement.flows import buyer, new_supplier, stocked_variant


def _columns(variant: ProductVariant) -> tuple:
    product = variant.product
    return (
        variant.pk,
        variant.sellable,
        variant.sku,
        variant.spec,
        variant.unit,
        variant.unit_price,
        variant.stock,
        variant.minimum_order_quantity,
        product.name,
        product.supplier_id,
        product.supplier.name,
        product.supplier.status,
        product.supplier.credit_code,
        product.origin_county.code,
        product.origin_county.name,
        product.category.name,
    )


def _basket(compiled: bool, ids: list[int], today) -> list[tuple]:
    if compiled:
        read = checkout._BASKET_READ.instances(ids=ids, today=today)
    else:
        read = checkout.basket_variants(ids, today)  # the ORM path, built anew
    return sorted(_columns(v) for v in read)


def test_basket_read_compiled_once_returns_the_orm_rows_sellable_or_not(db):
    today = timezone.localdate()
    sellable = stocked_variant(stock=7)
    draft = stocked_variant(status=ProductStatus.DRAFT)
    unpublished = stocked_variant(is_published=False)
    expired = stocked_variant(certified_until=today - timedelta(days=1))
    expires_today = stocked_variant(certified_until=today)
    suspended = stocked_variant(supplier=new_supplier(status=SupplierStatus.SUSPENDED))
    exited = stocked_variant(supplier=new_supplier(status=SupplierStatus.EXITED))
    cases = [sellable, draft, unpublished, expired, expires_today, suspended, exited]
    ids = [v.pk for v in cases] + [10**9]  # and one that does not exist
    for when in (today, today + timedelta(days=1), today - timedelta(days=30)):
        for chosen in (ids, ids[:1], ids[3:], [10**9]):
            ours = _basket(True, chosen, when)
            assert ours == _basket(False, chosen, when)
    by_id = {row[0]: row[1] for row in _basket(True, ids, today)}
    assert by_id == {
        sellable.pk: True,
        draft.pk: False,
        unpublished.pk: False,
        expired.pk: False,
        expires_today.pk: True,
        suspended.pk: False,
        exited.pk: False,
    }
    # the date is a parameter of each run: tomorrow the one expiring today is not sellable
    tomorrow = {row[0]: row[1] for row in _basket(True, ids, today + timedelta(days=1))}
    assert tomorrow[expires_today.pk] is False
    assert tomorrow[sellable.pk] is True


def test_tiers_compiled_once_are_the_orm_tiers(db):
    variants = [stocked_variant() for _ in range(3)]
    for variant in variants[:2]:
        TierPriceFactory(variant=variant)
    ids = [v.pk for v in variants]
    ours = checkout.tiers_of(ids)
    assert {k: sorted(t.pk for t in v) for k, v in ours.items()} == {
        v.pk: sorted(TierPrice.objects.filter(variant=v).values_list("pk", flat=True))
        for v in variants[:2]
    }
    assert checkout.tiers_of([]) == {}


def test_endpoints_and_people_compiled_once_are_never_stale(db):
    supplier = new_supplier()
    user = buyer()
    agency_id = user.agency_id
    runs = [([supplier.pk], [agency_id]), ([supplier.pk], []), ([], [agency_id]), ([], [])]

    def same_as_the_orm() -> None:
        for suppliers, agencies in runs:
            ours = notifications._ENDPOINTS_READ.instances(suppliers=suppliers, agencies=agencies)
            orm = notifications._endpoints_query(suppliers, agencies)
            assert [(e.pk, e.url, e.event_types) for e in ours] == [
                (e.pk, e.url, e.event_types) for e in orm
            ]
            people = notifications._PEOPLE_READ.rows(suppliers=suppliers, agencies=agencies)
            assert people == list(notifications._people_query(suppliers, agencies))

    same_as_the_orm()
    # written after the reads were compiled: the next run sees them
    mine = WebhookEndpoint.objects.create(
        agency_id=agency_id, url="https://a.example/h", event_types=["order.placed"], secret="s"
    )
    WebhookEndpoint.objects.create(url="https://platform.example/h", event_types=["x"], secret="s")
    staff = UserFactory(role="SUPPLIER", supplier=supplier)
    same_as_the_orm()
    found = notifications._ENDPOINTS_READ.instances(suppliers=[], agencies=[agency_id])
    assert mine.pk in {e.pk for e in found}
    people = notifications._PEOPLE_READ.rows(suppliers=[supplier.pk], agencies=[])
    assert [row[0] for row in people] == [staff.pk]
    type(staff).objects.filter(pk=staff.pk).update(is_active=False)
    assert notifications._PEOPLE_READ.rows(suppliers=[supplier.pk], agencies=[]) == []
    same_as_the_orm()


def test_a_marker_that_is_not_one_parameter_is_refused(db):
    twice = CompiledQuery(
        TierPrice,
        lambda ids: TierPrice.objects.filter(Q(variant_id__in_ids=ids) | Q(id__in_ids=ids)),
        ids=ids_marker(0),
    )
    if not is_postgres():
        pytest.skip("compiled on PostgreSQL only")
    with pytest.raises(ValueError, match="not one"):
        twice.instances(ids=[1])


def test_budgets_to_charge_compiled_once_are_the_orm_rows(db):
    mine, other = buyer().agency, buyer().agency
    year = budgets.budget_year()
    for agency, y, line in [
        (mine, year, ""),
        (mine, year, "食堂"),
        (mine, year, "工会"),
        (mine, year - 1, ""),
        (other, year, ""),
        (other, year, "食堂"),
    ]:
        AgencyBudget.objects.create(agency=agency, year=y, line=line, amount=Decimal("100.00"))
    with transaction.atomic():
        for agency in (mine, other):
            for y in (year, year - 1, year + 1):
                for line in ("", "食堂", "工会", "无此项"):
                    ours = budgets._BUDGETS_TO_CHARGE.instances(
                        agency_id=agency.pk, year=y, line=line
                    )
                    orm = budgets.budgets_to_charge(agency.pk, y, line)
                    assert [(b.pk, b.line, b.amount) for b in ours] == [
                        (b.pk, b.line, b.amount) for b in orm
                    ]
        lines = budgets._BUDGETS_TO_CHARGE.instances(agency_id=mine.pk, year=year, line="食堂")
        assert sorted(b.line for b in lines) == ["", "食堂"]


def test_a_locking_read_goes_where_writes_go_and_must_say_so(db):
    if not is_postgres():
        pytest.skip("compiled on PostgreSQL only")
    unsaid = CompiledQuery(
        TierPrice,
        lambda ids: TierPrice.objects.select_for_update().filter(variant_id__in_ids=ids),
        ids=ids_marker(0),
    )
    with transaction.atomic(), pytest.raises(ValueError, match="for_write"):
        unsaid.instances(ids=[1])
