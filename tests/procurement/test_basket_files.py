"""Files that are not a basket: each refused with a typed error on `file`, and nothing kept."""

import io
import zipfile

import pytest

from procurement.basket_files import MAX_BASKET_BYTES, MAX_BASKET_ROWS
from procurement.models import BasketPreviewLine, BasketUpload
from tests.procurement.baskets import csv_bytes, upload, xlsx_bytes
from tests.procurement.flows import buyer


def zip_bomb() -> bytes:
    """A small valid zip whose one member unpacks to 40 MB of zeros."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (40 * 2**20))
    return buffer.getvalue()


def truncated_xlsx() -> bytes:
    data = xlsx_bytes(["SKU-1", 1])
    return data[: len(data) // 2]


BAD_FILES = {
    "empty": (b"", "NO_LINES"),
    "only whitespace": (b" \r\n\r\n", "NO_LINES"),
    "header only": (csv_bytes(), "NO_LINES"),
    "wrong columns": (csv_bytes(["a", "b"], header=["名称", "价格"]), "MISSING_COLUMNS"),
    "no quantity column": (csv_bytes(["SKU-1"], header=["SKU"]), "MISSING_COLUMNS"),
    "binary garbage": (bytes(range(256)) * 64, "FILE_UNREADABLE"),
    "an image": (b"\x89PNG\r\n\x1a\n" + bytes(range(200)), "FILE_UNREADABLE"),
    "an .xls workbook": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "FILE_UNREADABLE"),
    "a truncated xlsx": (truncated_xlsx(), "FILE_UNREADABLE"),
    "a zip that is not a workbook": (b"PK\x03\x04" + b"\1" * 100, "FILE_UNREADABLE"),
    "huge": (b"SKU,quantity\r\n" + b"SKU-1,1\r\n" * (MAX_BASKET_BYTES // 8), "FILE_TOO_LARGE"),
    "a zip bomb": (zip_bomb(), "FILE_TOO_LARGE"),
    "too many rows": (
        csv_bytes(*([f"SKU-{n}", 1, ""] for n in range(MAX_BASKET_ROWS + 1))),
        "TOO_MANY_ROWS",
    ),
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_a_file_that_is_not_a_basket_is_refused_and_nothing_is_kept(db, name):
    data, code = BAD_FILES[name]
    payload = upload(buyer(), data)["data"]["basketUpload"]
    assert payload["upload"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("file", code)]
    assert not BasketUpload.objects.exists()
    assert not BasketPreviewLine.objects.exists()


def test_the_file_error_says_what_the_header_reads(db):
    data = csv_bytes(["a", "b"], header=["名称", "价格"])
    message = upload(buyer(), data)["data"]["basketUpload"]["errors"][0]["message"]
    assert "No header row with a SKU and a quantity column" in message
    assert "名称 价格" in message


def test_a_sheet_of_blank_rows_stops_at_the_scan_limit(db):
    data = b"SKU,quantity\r\n" + b",\r\n" * (MAX_BASKET_ROWS * 5 + 1)
    payload = upload(buyer(), data)["data"]["basketUpload"]
    assert [e["code"] for e in payload["errors"]] == ["TOO_MANY_ROWS"]
    assert not BasketUpload.objects.exists()
