"""Each role against each private document: who may download it (GET /documents/...) and who is
shown its `fileUrl`. Wrong role is 403, another organisation's document 404 (its existence is not
revealed), no sign-in 401; the GraphQL `fileUrl` is null exactly for those refused."""

import pytest
from graphql_relay import to_global_id

from catalog.documents import DocumentUpload, attach_document, verify_document
from catalog.models import InspectionReport
from shop.accounts.models import Role
from tests.catalog.documents import bearer, pdf_bytes
from tests.factories import ProductFactory, SupplierFactory, TraceBatchFactory, UserFactory
from tests.factories.catalog import county
from tests.factories.roles import one_user_per_role

PDF = verify_document(DocumentUpload(pdf_bytes(), "scan.pdf", "application/pdf"))


@pytest.fixture
def world(db):
    supplier = SupplierFactory(county=county("640521"))
    qualification = supplier.qualifications.get(kind="LEGAL_REP_ID")  # an identity document
    attach_document(qualification, PDF)
    report = InspectionReport.objects.create(
        product=ProductFactory(supplier=supplier),
        lab="宁夏食品检测研究院",
        number="JC-1",
        items="农残",
        tested_on="2026-01-01",
    )
    attach_document(report, PDF)
    users = one_user_per_role(supplier_user=UserFactory(role=Role.SUPPLIER, supplier=supplier))
    users |= {
        "other supplier": UserFactory(role=Role.SUPPLIER, supplier=SupplierFactory()),
        "other county": UserFactory(role=Role.COUNTY_REVIEWER, county=county("640422")),
        None: None,
    }
    urls = {
        "qualification": f"/documents/qualifications/{qualification.pk}",
        "report": f"/documents/inspection-reports/{report.pk}",
    }
    return supplier, report, users, urls


# who → (status for the qualification scan, status for the inspection report)
EXPECTED = {
    Role.OPERATOR: (200, 200),
    Role.AUDITOR: (200, 200),
    Role.SUPPLIER: (200, 200),
    Role.COUNTY_REVIEWER: (200, 403),  # reviews the supplier, not its products
    Role.AGENCY: (403, 403),
    Role.CONSUMER: (403, 403),
    "other supplier": (404, 404),
    "other county": (404, 403),
    None: (401, 401),
}


@pytest.mark.parametrize("document", ["qualification", "report"])
@pytest.mark.parametrize("who", list(EXPECTED))
def test_document_download_permission_matrix(client, world, who, document):
    _supplier, _report, users, urls = world
    response = client.get(urls[document], **bearer(users[who]))
    expected = EXPECTED[who][0 if document == "qualification" else 1]
    assert response.status_code == expected
    if expected == 200:
        assert b"".join(response.streaming_content) == PDF.content
        assert response["Content-Disposition"].startswith("attachment;")
        assert response["X-Content-Type-Options"] == "nosniff"
    else:
        assert (
            response.json()["errors"][0]["code"]
            == {
                401: "UNAUTHENTICATED",
                403: "PERMISSION_DENIED",
                404: "NOT_FOUND",
            }[expected]
        )


SUPPLIER_QUALIFICATIONS = """query($id: ID!) { supplier(id: $id) {
    qualifications { kind fileUrl } } }"""
PRODUCT_REPORTS = (
    """query($code: String!) { traceBatch(code: $code) { inspectionReport { fileUrl } } }"""
)


@pytest.mark.parametrize("who", list(EXPECTED))
def test_qualification_file_url_is_shown_to_readers_only(gql, world, who):
    supplier, _report, users, urls = world
    answer = gql(
        SUPPLIER_QUALIFICATIONS, {"id": to_global_id("Supplier", supplier.pk)}, user=users[who]
    )
    found = (answer.get("data") or {}).get("supplier")
    qualifications = (found or {}).get("qualifications") or []
    urls_shown = {q["fileUrl"] for q in qualifications if q["kind"] == "LEGAL_REP_ID"}
    if EXPECTED[who][0] == 200:
        assert urls_shown == {f"http://testserver{urls['qualification']}"}
    else:
        assert urls_shown <= {None}


@pytest.mark.parametrize("who", list(EXPECTED))
def test_report_file_url_is_shown_to_readers_only(gql, world, who):
    _supplier, report, users, urls = world
    batch = TraceBatchFactory(product=report.product, inspection_report=report)
    shown = gql(PRODUCT_REPORTS, {"code": batch.code}, user=users[who])["data"]["traceBatch"]
    expected = f"http://testserver{urls['report']}" if EXPECTED[who][1] == 200 else None
    assert shown["inspectionReport"]["fileUrl"] == expected
