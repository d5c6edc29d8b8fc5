"""Private-document helpers shared by the catalog tests: real files and multipart uploads."""

import io
import json

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from graphql_relay import to_global_id
from PIL import Image
from pypdf import PdfWriter
from pypdf.generic import DictionaryObject, NameObject, TextStringObject

from shop.accounts.tokens import create_access_token


def pdf_bytes() -> bytes:
    """A one-page PDF as a scanner writes it: an image on a page."""
    out = io.BytesIO()
    Image.new("RGB", (300, 200), (250, 250, 250)).save(out, format="PDF")
    return out.getvalue()


def pdf_with_script() -> bytes:
    """A valid PDF that runs JavaScript when opened."""
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer._root_object[NameObject("/OpenAction")] = DictionaryObject(
        {
            NameObject("/S"): NameObject("/JavaScript"),
            NameObject("/JS"): TextStringObject("app.alert(1)"),
        }
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def jpeg_bytes() -> bytes:
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    Image.new("RGB", (320, 200), (20, 30, 200)).save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'

QUALIFICATION_ADD = """mutation($id: ID!, $file: Upload) {
    supplierQualificationAdd(supplierId: $id,
        input: {kind: LEGAL_REP_ID, number: "640521198001010011", expiresOn: "2050-01-01"},
        file: $file) {
    qualification { id fileUrl } errors { field code message } } }"""

REPORT_ADD = """mutation($id: ID!, $file: Upload) {
    inspectionReportAdd(productId: $id,
        input: {lab: "宁夏食品检测研究院", number: "JC-1", items: "农残", testedOn: "2026-01-01"},
        file: $file) {
    report { id fileUrl } errors { field code message } } }"""


def multipart(client: Client, user, query: str, variables: dict, upload: SimpleUploadedFile):
    """POST a GraphQL multipart request whose `$file` is `upload`."""
    operations = {"query": query, "variables": {**variables, "file": None}}
    return client.post(
        "/graphql/",
        {
            "operations": json.dumps(operations),
            "map": json.dumps({"0": ["variables.file"]}),
            "0": upload,
        },
        HTTP_AUTHORIZATION=f"Bearer {create_access_token(user)}",
    ).json()


def add_qualification(client, user, supplier, data: bytes, name: str, content_type: str) -> dict:
    variables = {"id": to_global_id("Supplier", supplier.pk)}
    upload = SimpleUploadedFile(name, data, content_type=content_type)
    return multipart(client, user, QUALIFICATION_ADD, variables, upload)["data"][
        "supplierQualificationAdd"
    ]


def add_report(client, user, product, data: bytes, name: str, content_type: str) -> dict:
    variables = {"id": to_global_id("Product", product.pk)}
    upload = SimpleUploadedFile(name, data, content_type=content_type)
    return multipart(client, user, REPORT_ADD, variables, upload)["data"]["inspectionReportAdd"]


def bearer(user) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {create_access_token(user)}"} if user else {}
