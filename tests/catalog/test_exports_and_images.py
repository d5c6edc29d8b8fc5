"""Recommended-catalog exports, and image uploads through the GraphQL multipart API."""

import csv
import io
import json
from decimal import Decimal

import pytest
from django.core.files.storage import default_storage
from graphql_relay import to_global_id
from openpyxl import load_workbook
from PIL import Image

from catalog.models import ProductImage, ProductStatus
from shop.accounts.models import Role
from shop.accounts.tokens import create_access_token
from tests.factories import GIFactory, ProductFactory, SupplierFactory, UserFactory, VariantFactory


@pytest.fixture
def catalog(db):
    goji = VariantFactory(product__name="中宁枸杞", unit_price=Decimal("168.00")).product
    GIFactory(product=goji)
    VariantFactory(product=goji, sku="GOJI-B", spec="1kg", unit_price=Decimal("300.50"))
    VariantFactory(product__name="草稿", product__status=ProductStatus.DRAFT)
    return goji


def test_recommended_catalog_csv_lists_each_variant_of_sellable_products(client, catalog):
    response = client.get("/exports/recommended-catalog.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["序号", "产品名称", "分类"]
    assert [(r[1], r[7], r[10], r[12]) for r in rows[1:]] == [
        ("中宁枸杞", catalog.variants.first().sku, "168.00", "中宁枸杞"),
        ("中宁枸杞", "GOJI-B", "300.50", "中宁枸杞"),
    ]


def test_recommended_catalog_xlsx_matches_the_csv(client, catalog):
    response = client.get("/exports/recommended-catalog.xlsx")
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    rows = list(workbook["推荐目录"].iter_rows(values_only=True))
    assert len(rows) == 3
    # The price is a number cell (shown with two places), so a spreadsheet can sum it.
    assert rows[2][1] == "中宁枸杞" and rows[2][10] == 300.5  # noqa: PT018


def test_catalog_export_queries_do_not_grow_with_products(
    client, db, django_assert_max_num_queries
):
    for _ in range(30):
        VariantFactory()
    with django_assert_max_num_queries(8):
        b"".join(client.get("/exports/recommended-catalog.csv").streaming_content)


def jpeg_bytes(size=(800, 600)) -> bytes:
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    Image.new("RGB", size, (200, 30, 40)).save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def upload(client, user, product, data: bytes, name: str, content_type: str):
    operations = {
        "query": """mutation($id: ID!, $image: Upload!) { productImageCreate(productId: $id, image: $image) {
            image { width height format thumbnails { size } url } errors { field code message } } }""",
        "variables": {"id": to_global_id("Product", product.pk), "image": None},
    }
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        "/graphql/",
        {
            "operations": json.dumps(operations),
            "map": json.dumps({"0": ["variables.image"]}),
            "0": SimpleUploadedFile(name, data, content_type=content_type),
        },
        HTTP_AUTHORIZATION=f"Bearer {create_access_token(user)}",
    ).json()


def test_supplier_uploads_an_image_and_gets_thumbnails_without_exif(client, db):
    supplier = SupplierFactory()
    staff = UserFactory(role=Role.SUPPLIER, supplier=supplier)
    product = ProductFactory(supplier=supplier)
    payload = upload(client, staff, product, jpeg_bytes(), "goji.jpg", "image/jpeg")
    result = payload["data"]["productImageCreate"]
    assert result["errors"] == []
    assert result["image"]["width"] == 800 and result["image"]["format"] == "JPEG"  # noqa: PT018
    assert [t["size"] for t in result["image"]["thumbnails"]] == [120, 400, 800]
    stored = ProductImage.objects.get()
    with default_storage.open(stored.image.name) as handle:
        assert b"SecretCam" not in handle.read()
    for path in stored.thumbnails.values():
        with default_storage.open(path) as handle, Image.open(handle) as thumbnail:
            assert thumbnail.format == "WEBP"


@pytest.mark.parametrize(
    ("data", "name", "content_type", "code"),
    [
        (b"GIF89a" + b"\x00" * 100, "x.gif", "image/gif", "IMAGE_UNSUPPORTED_FORMAT"),
        (jpeg_bytes()[:-200], "x.jpg", "image/jpeg", "IMAGE_INVALID"),
        (jpeg_bytes(), "x.png", "image/png", "IMAGE_EXTENSION_MISMATCH"),
        (jpeg_bytes() + b"PK\x03\x04zip-payload", "x.jpg", "image/jpeg", "IMAGE_POLYGLOT"),
    ],
)
def test_bad_upload_is_refused_and_nothing_is_stored(client, db, data, name, content_type, code):
    supplier = SupplierFactory()
    staff = UserFactory(role=Role.SUPPLIER, supplier=supplier)
    product = ProductFactory(supplier=supplier)
    payload = upload(client, staff, product, data, name, content_type)
    errors = payload["data"]["productImageCreate"]["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [("image", code)]
    assert not ProductImage.objects.exists()
    assert not default_storage.exists("products")


def test_oversized_upload_is_refused(client, db, settings):
    settings.CATALOG_MAX_IMAGE_BYTES = 10_000
    supplier = SupplierFactory()
    staff = UserFactory(role=Role.SUPPLIER, supplier=supplier)
    product = ProductFactory(supplier=supplier)
    payload = upload(client, staff, product, jpeg_bytes((2000, 2000)), "big.jpg", "image/jpeg")
    assert payload["data"]["productImageCreate"]["errors"][0]["code"] == "IMAGE_TOO_LARGE"
    assert not ProductImage.objects.exists()
