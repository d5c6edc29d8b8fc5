"""Each role against each spreadsheet-basket operation (upload, preview, checkout, template and
its downloads): only an agency's buyers get through; refused calls change nothing."""

import io
from functools import partial

import pytest
from django.test import Client
from openpyxl import load_workbook

from procurement.basket_files import TEMPLATE_HEADER
from shop.accounts.models import Role
from shop.accounts.tokens import create_access_token
from tests.conftest import role_matrix_cell, top_level_codes
from tests.factories import UserFactory
from tests.procurement import flows
from tests.procurement.baskets import CHECKOUT, csv_bytes, upload
from tests.procurement.flows import buyer, stocked_variant
from tests.procurement.test_permissions import snapshot

ROLES = [None, *Role]


@pytest.fixture
def basket_world(db):
    agency_user = buyer()
    variant = stocked_variant(stock=100, price="20.00")
    data = csv_bytes([variant.sku, 2, ""])
    preview = upload(agency_user, data)["data"]["basketUpload"]["upload"]
    users = flows.one_user_per_role(
        operator=UserFactory(role=Role.OPERATOR),
        agency_user=agency_user,
        supplier=variant.product.supplier,
    )
    return users, data, preview["id"]


@pytest.mark.parametrize("role", ROLES)
def test_basket_upload_permission_matrix(basket_world, role):
    users, data, _id = basket_world
    role_matrix_cell(lambda user: upload(user, data), users, role, "basketUpload", snapshot)


@pytest.mark.parametrize("role", ROLES)
def test_basket_checkout_permission_matrix(gql, basket_world, role):
    users, _data, upload_id = basket_world
    variables = {"id": upload_id, "key": "perm-key-0001"}
    checkout = partial(gql, CHECKOUT, variables)
    role_matrix_cell(lambda user: checkout(user=user), users, role, "basketCheckout", snapshot)


@pytest.mark.parametrize("role", ROLES)
def test_basket_preview_permission_matrix(gql, basket_world, role):
    users, _data, upload_id = basket_world
    response = gql(
        "query($id: ID!) { basketPreview(id: $id) { rowCount } }",
        {"id": upload_id},
        user=users[role] if role else None,
    )
    if role == Role.AGENCY:
        assert response == {"data": {"basketPreview": {"rowCount": 1}}}
    else:
        assert top_level_codes(response) == [
            "UNAUTHENTICATED" if role is None else "PERMISSION_DENIED"
        ]
        assert response["data"] == {"basketPreview": None}


@pytest.mark.parametrize("role", ROLES)
def test_basket_template_permission_matrix(gql, basket_world, role):
    users, _data, _id = basket_world
    response = gql(
        "{ basketTemplate { csvUrl xlsxUrl columns maxRows } }",
        user=users[role] if role else None,
    )
    if role == Role.AGENCY:
        assert response["data"]["basketTemplate"] == {
            "csvUrl": "/exports/basket-template.csv",
            "xlsxUrl": "/exports/basket-template.xlsx",
            "columns": TEMPLATE_HEADER,
            "maxRows": 2000,
        }
    else:
        assert top_level_codes(response) == [
            "UNAUTHENTICATED" if role is None else "PERMISSION_DENIED"
        ]


def download(user, extension: str):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {create_access_token(user)}"} if user else {}
    return Client().get(f"/exports/basket-template.{extension}", **headers)


@pytest.mark.parametrize("extension", ["csv", "xlsx"])
@pytest.mark.parametrize("role", ROLES)
def test_basket_template_download_permission_matrix(basket_world, role, extension):
    users, _data, _id = basket_world
    response = download(users[role] if role else None, extension)
    expected = 200 if role == Role.AGENCY else 401 if role is None else 403
    assert response.status_code == expected


def test_the_csv_template_is_the_header_excel_opens_as_utf8(basket_world):
    users, _data, _id = basket_world
    body = b"".join(download(users[Role.AGENCY], "csv").streaming_content)
    assert body.decode("utf-8") == "\ufeff" + ",".join(TEMPLATE_HEADER) + "\r\n"


def test_the_xlsx_template_holds_text_cells_only(basket_world):
    users, _data, _id = basket_world
    response = download(users[Role.AGENCY], "xlsx")
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content)))["采购清单"]
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert [cell.value for cell in cells] == TEMPLATE_HEADER
    assert {cell.data_type for cell in cells} == {"s"}


def test_a_filled_in_template_is_read_back(basket_world):
    """What the template download gives, filled in, is a basket the upload reads."""
    users, _data, _id = basket_world
    agency_user = users[Role.AGENCY]
    template = b"".join(download(agency_user, "csv").streaming_content)
    variant = stocked_variant(stock=5)
    data = template + f"{variant.sku},3,\r\n".encode()
    payload = upload(agency_user, data)["data"]["basketUpload"]
    assert payload["errors"] == []
    lines = payload["upload"]["lines"]
    assert [(line["sku"], line["quantity"], line["error"]) for line in lines] == [
        (variant.sku, 3, None)
    ]
