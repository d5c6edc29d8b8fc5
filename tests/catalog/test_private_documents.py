"""Qualification scans (identity documents among them) and inspection reports are private: only
verified PDFs and images are stored, under generated names outside the public media root, and
they are handed out only by an access-checked download."""

import importlib
import io
import re
from pathlib import Path

import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from PIL import Image
from pypdf import PdfWriter

from catalog.models import InspectionReport, Qualification
from shop.accounts.models import Role
from tests.catalog.documents import (
    HTML,
    SVG,
    add_qualification,
    add_report,
    bearer,
    jpeg_bytes,
    pdf_bytes,
    pdf_with_script,
)
from tests.factories import ProductFactory, SupplierFactory, TraceBatchFactory, UserFactory

# Fast, and part of what the embedded default (SQLite) must get right.
pytestmark = pytest.mark.smoke


@pytest.fixture
def staff(db):
    return UserFactory(role=Role.SUPPLIER, supplier=SupplierFactory())


def stored_files(root: Path) -> list[Path]:
    return [p for p in Path(root).rglob("*") if p.is_file()] if Path(root).exists() else []


def download(client, url: str, user=None):
    return client.get(url, **bearer(user))


REFUSED = [
    pytest.param(HTML, "scan.html", "text/html", "DOCUMENT_UNSUPPORTED_TYPE", id="html"),
    pytest.param(SVG, "scan.svg", "image/svg+xml", "DOCUMENT_UNSUPPORTED_TYPE", id="svg"),
    pytest.param(
        HTML, "scan.pdf", "application/pdf", "DOCUMENT_UNSUPPORTED_TYPE", id="html-as-pdf"
    ),
    pytest.param(
        pdf_bytes() + HTML, "scan.pdf", "application/pdf", "DOCUMENT_POLYGLOT", id="pdf+html"
    ),
    pytest.param(
        HTML + pdf_bytes(),
        "scan.pdf",
        "application/pdf",
        "DOCUMENT_UNSUPPORTED_TYPE",
        id="html+pdf",
    ),
    pytest.param(
        jpeg_bytes() + HTML, "scan.jpg", "image/jpeg", "DOCUMENT_POLYGLOT", id="jpeg+html"
    ),
    pytest.param(
        pdf_bytes()[:-300] + b"%%EOF",
        "scan.pdf",
        "application/pdf",
        "DOCUMENT_INVALID",
        id="broken",
    ),
    pytest.param(pdf_with_script(), "scan.pdf", None, "DOCUMENT_ACTIVE_CONTENT", id="pdf-js"),
    pytest.param(
        pdf_bytes(), "scan.html", "text/html", "DOCUMENT_EXTENSION_MISMATCH", id="pdf-as-html"
    ),
]


@pytest.mark.parametrize(("data", "name", "content_type", "code"), REFUSED)
def test_a_refused_scan_stores_nothing(client, settings, staff, data, name, content_type, code):
    before = Qualification.objects.count()
    result = add_qualification(
        client, staff, staff.supplier, data, name, content_type or "application/octet-stream"
    )
    assert [(e["field"], e["code"]) for e in result["errors"]] == [("file", code)]
    assert result["qualification"] is None
    assert Qualification.objects.count() == before
    assert stored_files(settings.PRIVATE_MEDIA_ROOT) == []
    assert stored_files(settings.MEDIA_ROOT) == []


def test_an_oversized_scan_is_refused(client, settings, staff):
    settings.CATALOG_MAX_DOCUMENT_BYTES = 1000
    before = Qualification.objects.count()
    result = add_qualification(
        client, staff, staff.supplier, pdf_bytes(), "a.pdf", "application/pdf"
    )
    assert [e["code"] for e in result["errors"]] == ["DOCUMENT_TOO_LARGE"]
    assert Qualification.objects.count() == before


def test_a_pdf_with_too_many_pages_is_refused(client, settings, staff):
    settings.CATALOG_MAX_DOCUMENT_PAGES = 2
    writer = PdfWriter()
    for _ in range(3):
        writer.add_blank_page(100, 100)
    out = io.BytesIO()
    writer.write(out)
    before = Qualification.objects.count()
    result = add_qualification(client, staff, staff.supplier, out.getvalue(), "a.pdf", "")
    assert [e["code"] for e in result["errors"]] == ["DOCUMENT_TOO_LARGE"]
    assert Qualification.objects.count() == before


GENERATED_NAME = re.compile(r"qualifications/\d{4}/[A-Za-z0-9_-]{32}\.(pdf|jpg)")


def test_a_pdf_is_stored_privately_under_a_generated_name(client, settings, staff):
    data = pdf_bytes()
    result = add_qualification(
        client, staff, staff.supplier, data, "身份证 scan.pdf", "application/pdf"
    )
    assert result["errors"] == []
    stored = Qualification.objects.get(number="640521198001010011").file
    assert GENERATED_NAME.fullmatch(stored.name)
    assert stored_files(settings.PRIVATE_MEDIA_ROOT) == [
        Path(settings.PRIVATE_MEDIA_ROOT) / stored.name
    ]
    assert (Path(settings.PRIVATE_MEDIA_ROOT) / stored.name).read_bytes() == data
    assert stored_files(settings.MEDIA_ROOT) == []


def test_a_jpeg_scan_is_stored_privately_without_its_metadata(client, settings, staff):
    result = add_qualification(client, staff, staff.supplier, jpeg_bytes(), "id.jpeg", "image/jpeg")
    assert result["errors"] == []
    stored = Qualification.objects.get(number="640521198001010011").file
    assert GENERATED_NAME.fullmatch(stored.name) and stored.name.endswith(".jpg")  # noqa: PT018
    path = Path(settings.PRIVATE_MEDIA_ROOT) / stored.name
    assert b"SecretCam" not in path.read_bytes()
    with Image.open(path) as image:
        assert image.format == "JPEG"
    assert stored_files(settings.MEDIA_ROOT) == []


def test_the_owner_downloads_the_scan_as_an_attachment(client, staff):
    data = pdf_bytes()
    url = add_qualification(client, staff, staff.supplier, data, "scan.pdf", "application/pdf")[
        "qualification"
    ]["fileUrl"]
    qualification = Qualification.objects.get(number="640521198001010011")
    assert url == f"http://testserver/documents/qualifications/{qualification.pk}"
    response = download(client, url, staff)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'attachment; filename="qualification-{qualification.pk}.pdf"'
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]  # noqa: PT018


def test_an_image_scan_is_served_with_its_verified_type(client, staff):
    url = add_qualification(client, staff, staff.supplier, jpeg_bytes(), "id.jpg", "image/jpeg")[
        "qualification"
    ]["fileUrl"]
    response = download(client, url, UserFactory(role=Role.OPERATOR))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Content-Disposition"].startswith("attachment;")


def test_an_operator_signed_in_to_the_admin_downloads_by_session(client, staff):
    url = add_qualification(client, staff, staff.supplier, pdf_bytes(), "a.pdf", "application/pdf")[
        "qualification"
    ]["fileUrl"]
    client.force_login(UserFactory(role=Role.OPERATOR, is_staff=True))
    assert client.get(url).status_code == 200


def test_the_admin_links_a_scan_to_the_checked_download(client, staff, operator):
    add_qualification(client, staff, staff.supplier, pdf_bytes(), "a.pdf", "application/pdf")
    qualification = Qualification.objects.get(number="640521198001010011")
    client.force_login(operator)
    page = client.get(reverse("admin:catalog_supplier_change", args=[staff.supplier.pk]))
    assert page.status_code == 200
    assert f'href="/documents/qualifications/{qualification.pk}"' in page.content.decode()
    assert qualification.file.name not in page.content.decode()


@pytest.mark.parametrize(
    ("who", "status"),
    [("anonymous", 401), ("other supplier", 404), ("agency", 403), ("bad token", 401)],
)
def test_others_cannot_download_the_scan(client, staff, who, status):
    url = add_qualification(client, staff, staff.supplier, pdf_bytes(), "a.pdf", "application/pdf")[
        "qualification"
    ]["fileUrl"]
    headers = {
        "anonymous": {},
        "other supplier": bearer(UserFactory(role=Role.SUPPLIER, supplier=SupplierFactory())),
        "agency": bearer(UserFactory(role=Role.AGENCY)),
        "bad token": {"HTTP_AUTHORIZATION": "Bearer not-a-token"},
    }[who]
    response = client.get(url, **headers)
    assert response.status_code == status
    assert b"%PDF" not in response.content
    assert response["Cache-Control"] == "no-store"


@pytest.mark.urls("tests.catalog.media_urls")
def test_the_public_media_url_no_longer_serves_a_scan(client, staff):
    add_qualification(client, staff, staff.supplier, pdf_bytes(), "scan.pdf", "application/pdf")
    name = Qualification.objects.get(number="640521198001010011").file.name
    assert client.get(f"/media/{name}").status_code == 404


def test_unknown_documents_and_kinds_are_not_found(client, staff):
    operator = UserFactory(role=Role.OPERATOR)
    for url in (
        "/documents/qualifications/999999",
        "/documents/qualifications/99999999999999999999999",
        "/documents/passwords/1",
    ):
        assert download(client, url, operator).status_code == 404


def test_a_row_whose_file_is_missing_answers_not_found(client, staff):
    qualification = staff.supplier.qualifications.first()
    Qualification.objects.filter(pk=qualification.pk).update(file="qualifications/2026/gone.pdf")
    url = f"/documents/qualifications/{qualification.pk}"
    assert download(client, url, staff).status_code == 404


def test_a_qualification_without_a_file_has_no_url_and_no_download(client, gql, staff):
    query = "{ me { supplier { qualifications { fileUrl } } } }"
    urls = [
        q["fileUrl"] for q in gql(query, user=staff)["data"]["me"]["supplier"]["qualifications"]
    ]
    assert urls and set(urls) == {None}  # noqa: PT018
    qualification = staff.supplier.qualifications.first()
    url = f"/documents/qualifications/{qualification.pk}"
    assert download(client, url, UserFactory(role=Role.OPERATOR)).status_code == 404


# --- Inspection reports ---------------------------------------------------------------------


@pytest.fixture
def product(staff):
    return ProductFactory(supplier=staff.supplier)


def test_a_refused_report_file_stores_no_report(client, settings, staff, product):
    result = add_report(client, staff, product, pdf_bytes() + HTML, "r.pdf", "application/pdf")
    assert [(e["field"], e["code"]) for e in result["errors"]] == [("file", "DOCUMENT_POLYGLOT")]
    assert not InspectionReport.objects.exists()
    assert stored_files(settings.PRIVATE_MEDIA_ROOT) == []


def test_a_report_file_is_private_and_its_url_only_shown_to_readers(client, gql, staff, product):
    result = add_report(client, staff, product, pdf_bytes(), "report.pdf", "application/pdf")
    assert result["errors"] == []
    report = InspectionReport.objects.get()
    assert re.fullmatch(r"reports/\d{4}/[A-Za-z0-9_-]{32}\.pdf", report.file.name)
    assert result["report"]["fileUrl"].endswith(f"/documents/inspection-reports/{report.pk}")
    batch = TraceBatchFactory(product=product, inspection_report=report)
    query = (
        """query($code: String!) { traceBatch(code: $code) { inspectionReport { lab fileUrl } } }"""
    )
    public = gql(query, {"code": batch.code})["data"]["traceBatch"]["inspectionReport"]
    assert public == {"lab": "宁夏食品检测研究院", "fileUrl": None}
    assert download(client, result["report"]["fileUrl"]).status_code == 401
    assert download(client, result["report"]["fileUrl"], staff).status_code == 200


# --- Files stored before documents were private ---------------------------------------------


def test_the_migration_moves_existing_scans_out_of_the_public_media_root(settings, staff):
    public_name = default_storage.save("qualifications/2025/scan.pdf", ContentFile(pdf_bytes()))
    qualification = staff.supplier.qualifications.first()
    Qualification.objects.filter(pk=qualification.pk).update(file=public_name)
    migration = importlib.import_module("catalog.migrations.0004_private_documents")
    migration.move_to_private_storage(apps, None)
    assert stored_files(settings.MEDIA_ROOT) == []
    assert (Path(settings.PRIVATE_MEDIA_ROOT) / public_name).read_bytes() == pdf_bytes()


def test_a_file_stored_before_verification_is_never_served_as_html(client, staff):
    from shop.core.storage import private_storage

    name = private_storage().save("qualifications/2025/scan.html", ContentFile(b"<script>"))
    qualification = staff.supplier.qualifications.first()
    Qualification.objects.filter(pk=qualification.pk).update(file=name)
    response = download(client, f"/documents/qualifications/{qualification.pk}", staff)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == (
        f'attachment; filename="qualification-{qualification.pk}.bin"'
    )
