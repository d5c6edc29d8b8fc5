"""Operators see orders, payments, refunds, ledger entries and targets in the admin, read-only:
those rows are written by services only."""

import pytest

from procurement.models import ContributionEntry, Payment
from shop.accounts.models import Role
from tests.factories import UserFactory
from tests.procurement.flows import buyer, pay_by_transfer, place, stocked_variant, to_accepted

PAGES = [
    "order",
    "payment",
    "refund",
    "purchaserequest",
    "agencybudget",
    "contributionentry",
    "target",
]


@pytest.fixture
def paid_order(operator):
    agency_user = buyer()
    (order,) = place(agency_user, (stocked_variant(price="80.00"), 3))
    to_accepted(order, agency_user)
    return pay_by_transfer(order, operator)


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


@pytest.mark.parametrize("model", PAGES)
def test_operators_list_procurement_records(operator_client, paid_order, model):
    assert operator_client.get(f"/admin/procurement/{model}/").status_code == 200


def test_operators_view_an_order_with_its_lines_and_payment(operator_client, paid_order):
    response = operator_client.get(f"/admin/procurement/order/{paid_order.pk}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    assert paid_order.number in page
    assert paid_order.lines.get().sku in page
    assert f"BANK-{paid_order.pk}" in page


def test_the_payment_page_does_not_show_the_gateway_client_secret(operator_client, paid_order):
    payment = Payment.objects.get(order=paid_order)
    Payment.objects.filter(pk=payment.pk).update(client_secret="pi_x_secret_do_not_show")
    page = operator_client.get(f"/admin/procurement/payment/{payment.pk}/change/")
    assert page.status_code == 200
    assert "pi_x_secret_do_not_show" not in page.content.decode()


@pytest.mark.parametrize("model", PAGES)
def test_operators_cannot_add_procurement_records_in_the_admin(operator_client, model):
    assert operator_client.get(f"/admin/procurement/{model}/add/").status_code == 403


def test_operators_cannot_edit_or_delete_a_ledger_entry_in_the_admin(operator_client, paid_order):
    entry = ContributionEntry.objects.get(order=paid_order)
    before = (entry.amount, entry.hash)
    edited = operator_client.post(
        f"/admin/procurement/contributionentry/{entry.pk}/change/", {"amount": "1.00"}
    )
    deleted = operator_client.post(
        f"/admin/procurement/contributionentry/{entry.pk}/delete/", {"post": "yes"}
    )
    assert (edited.status_code, deleted.status_code) == (403, 403)
    entry.refresh_from_db()
    assert (entry.amount, entry.hash) == before
    assert ContributionEntry.objects.count() == 1


def test_operators_cannot_change_an_order_status_in_the_admin(operator_client, paid_order):
    response = operator_client.post(
        f"/admin/procurement/order/{paid_order.pk}/change/", {"status": "CANCELLED"}
    )
    assert response.status_code == 403
    paid_order.refresh_from_db()
    assert paid_order.status == "ACCEPTED"


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.AGENCY])
def test_other_staff_without_permissions_see_no_procurement_pages(client, db, role):
    client.force_login(UserFactory(role=role, is_staff=True))
    assert client.get("/admin/procurement/order/").status_code == 403
