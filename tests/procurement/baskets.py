"""Spreadsheet baskets for tests: files written as Excel and others write them, and uploads over
a real multipart request to /graphql/."""

import io
import json

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from openpyxl import Workbook

from procurement.basket_files import TEMPLATE_HEADER
from shop.accounts.tokens import create_access_token

PREVIEW_FIELDS = """id fileName fileFormat rowCount errorCount isValid total { amount }
    lines { rowNumber sku quantity deliveryAddress productName unitPrice { amount }
            lineTotal { amount } variant { sku } error { field code message } }"""
UPLOAD = f"""mutation($file: Upload!) {{ basketUpload(file: $file) {{
    upload {{ {PREVIEW_FIELDS} }} errors {{ field code message }} }} }}"""
CHECKOUT = """mutation($id: ID!, $key: String!) {
  basketCheckout(uploadId: $id, idempotencyKey: $key,
      shippingAddress: {recipient: "李师傅", phone: "0592-5551234", address: "厦门市思明区食堂1号"}) {
    orders { number address subtotal { amount } supplier { name } lines { sku quantity } }
    errors { field code message }
  }
}"""
PREVIEW = f"query($id: ID!) {{ basketPreview(id: $id) {{ {PREVIEW_FIELDS} orders {{ number }} }} }}"


def csv_bytes(*rows, header=TEMPLATE_HEADER, encoding="utf-8-sig", delimiter=",") -> bytes:
    lines = [delimiter.join(str(cell) for cell in row) for row in [header, *rows]]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def xlsx_bytes(*rows, header=TEMPLATE_HEADER) -> bytes:
    """A workbook as Excel saves one; a cell text starting with "=" is stored as a formula."""
    workbook = Workbook()
    sheet = workbook.active
    for row in [header, *rows]:
        sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def upload(user, data: bytes, name="basket.csv", client=None) -> dict:
    """POST a basketUpload as a multipart request (the GraphQL multipart request spec)."""
    headers = {"HTTP_AUTHORIZATION": f"Bearer {create_access_token(user)}"} if user else {}
    return (
        (client or Client())
        .post(
            "/graphql/",
            {
                "operations": json.dumps({"query": UPLOAD, "variables": {"file": None}}),
                "map": json.dumps({"0": ["variables.file"]}),
                "0": SimpleUploadedFile(name, data),
            },
            **headers,
        )
        .json()
    )


def uploaded(user, data: bytes, name="basket.csv") -> dict:
    """The preview of an upload that must be accepted as a file."""
    payload = upload(user, data, name)["data"]["basketUpload"]
    assert payload["errors"] == [], payload
    return payload["upload"]
