"""Public downloads of the recommended catalog, and access-checked private documents."""

from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from catalog.exports import HEADER, recommended_catalog_rows
from catalog.selectors import private_document
from shop.core.errors import AccessError, NotFound
from shop.core.exports import csv_response, xlsx_response


def _filename(extension: str) -> str:
    return f"recommended-catalog-{timezone.localdate():%Y%m%d}.{extension}"


@require_GET
def recommended_catalog_csv(request: HttpRequest):
    return csv_response(_filename("csv"), HEADER, recommended_catalog_rows())


@require_GET
def recommended_catalog_xlsx(request: HttpRequest):
    return xlsx_response(_filename("xlsx"), HEADER, recommended_catalog_rows(), sheet="推荐目录")


def _error(code: str, message: str, status: int) -> JsonResponse:
    response = JsonResponse({"errors": [{"message": message, "code": code}]}, status=status)
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def document_download(request: HttpRequest, kind: str, document_id: int) -> HttpResponse:
    """GET /documents/<kind>/<id>: a qualification scan or inspection report, for a Bearer
    token (API clients) or the signed-in session (admin, dashboard) of someone who may read it
    (catalog.selectors.private_document decides)."""
    if getattr(request, "auth_error", None):
        return _error("UNAUTHENTICATED", request.auth_error, 401)
    try:
        document = private_document(acting_user=request.user, kind=kind, document_id=document_id)
    except AccessError as error:
        status = 401 if error.code == "UNAUTHENTICATED" else 403
        return _error(error.code, str(error), status)
    except NotFound as error:
        return _error("NOT_FOUND", error.message, 404)
    try:
        handle = document.file.open("rb")
    except FileNotFoundError:  # the row outlived its file (e.g. a restore without the files)
        return _error("NOT_FOUND", "The document's file is missing.", 404)
    response = FileResponse(
        handle,
        as_attachment=True,  # never displayed inline, whatever a browser would make of it
        filename=document.filename,
        content_type=document.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    # Personal data: no shared cache may keep it, and the browser should not either.
    response["Cache-Control"] = "private, no-store"
    response["Vary"] = "Authorization, Cookie"
    # Should anything still render it, it gets no scripts, no plugins and no requests.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
