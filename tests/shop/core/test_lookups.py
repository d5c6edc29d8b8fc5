"""`__in_ids` (shop/core/lookups.py) selects what `__in` selects, for a batch of integer ids."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import ProductVariant, TierPrice
from tests.conftest import is_postgres
from tests.factories import TierPriceFactory, VariantFactory


@pytest.mark.smoke
def test_in_ids_selects_what_in_selects(db):
    variants = [VariantFactory() for _ in range(4)]
    for variant in variants[:3]:
        TierPriceFactory(variant=variant)
    ids = [variants[0].pk, variants[2].pk, variants[3].pk, variants[0].pk, None]
    ours = TierPrice.objects.filter(variant_id__in_ids=ids).order_by("pk")
    theirs = TierPrice.objects.filter(variant_id__in=ids).order_by("pk")
    assert list(ours) == list(theirs)
    assert len(ours) == 2
    # on a plain integer column (the primary key) too
    assert set(ProductVariant.objects.filter(id__in_ids=ids[:2])) == {variants[0], variants[2]}


@pytest.mark.smoke
def test_no_ids_match_nothing_without_a_query(db):
    TierPriceFactory()
    with CaptureQueriesContext(connection) as queries:
        assert list(TierPrice.objects.filter(variant_id__in_ids=[])) == []
        assert list(TierPrice.objects.filter(variant_id__in_ids=[None])) == []
    assert len(queries) == 0


def test_anything_but_integer_ids_is_refused(db):
    variant = VariantFactory()
    for wrong in ([variant], ["1"], [1.0], [True]):
        with pytest.raises(TypeError, match="in_ids takes integer ids"):
            TierPrice.objects.filter(variant_id__in_ids=wrong)


@pytest.mark.skipif(not is_postgres(), reason="the one-parameter form is PostgreSQL's")
def test_on_postgresql_the_ids_go_as_one_array(db):
    variants = [VariantFactory() for _ in range(3)]
    with CaptureQueriesContext(connection) as queries:
        list(TierPrice.objects.filter(variant_id__in_ids=[v.pk for v in variants]))
    (sql,) = [query["sql"] for query in queries]
    assert '"variant_id" = ANY(' in sql
