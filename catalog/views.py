"""Public downloads of the recommended catalog."""

from django.http import HttpRequest
from django.utils import timezone
from django.views.decorators.http import require_GET

from catalog.exports import HEADER, recommended_catalog_rows
from shop.core.exports import csv_response, xlsx_response


def _filename(extension: str) -> str:
    return f"recommended-catalog-{timezone.localdate():%Y%m%d}.{extension}"


@require_GET
def recommended_catalog_csv(request: HttpRequest):
    return csv_response(_filename("csv"), HEADER, recommended_catalog_rows())


@require_GET
def recommended_catalog_xlsx(request: HttpRequest):
    return xlsx_response(_filename("xlsx"), HEADER, recommended_catalog_rows(), sheet="推荐目录")
