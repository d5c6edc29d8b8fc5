"""Tabular exports as streamed CSV or XLSX, with memory that stays flat however many rows.

CSV rows are written to the response as they are produced. XLSX is streamed too: the workbook's
few fixed parts first, then the worksheet's XML compressed row by row into a zip archive that is
written to the response as it grows (zipfile writes data descriptors when its file cannot seek),
so the first bytes leave at once, the rate stays steady and memory holds one compressed block,
however many rows. (openpyxl's write-only workbook keeps memory flat too, but writes the whole
sheet to a temporary file and zips it only at the end: a million rows meant minutes before the
first byte.) Inline strings, no shared-string table, so nothing grows with the rows.

Every cell goes through one place (`csv_cell` / `_xlsx_cell`) that keeps spreadsheet formula
injection out: exported text comes from suppliers, agencies and imported files, and a cell such
as `=HYPERLINK("http://x","y")` would otherwise run as a formula when the file is opened.

- Text (`str`, and anything that is not a number) that starts with `=`, `+`, `-`, `@`, a tab or
  a carriage return gets a leading single quote (OWASP's recommendation), in CSV and XLSX alike.
  In XLSX it is moreover always written as a string cell, never as a formula or an error value.
- Numbers (`int`, `Decimal`) are data and stay numbers: `Decimal("-12.50")` is written as
  `-12.50` in CSV and as a numeric cell in XLSX. A number cannot carry a formula, so exporters
  pass money and quantities as `Decimal`/`int`, never pre-formatted as text (text `"-12.50"`
  would be quoted like any other text starting with `-`). Floats are refused: money is Decimal.
"""

import csv
import itertools
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from django.db import transaction
from django.db.models import QuerySet
from django.http import StreamingHttpResponse

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# The control characters XML 1.0 cannot hold (openpyxl's ILLEGAL_CHARACTERS_RE; not imported from
# it: openpyxl, and numpy which it loads when installed, would cost every app process ~18 MB).
ILLEGAL_CHARACTERS_RE = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")

# Characters with which Excel, LibreOffice and Google Sheets start a formula (or, for tab and
# CR, which they strip before looking for one).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(text: str) -> str:
    """`text` made inert for a spreadsheet: a leading quote when it could start a formula."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def _is_number(value: Any) -> bool:
    if isinstance(value, float):
        raise TypeError("Exports take money and quantities as Decimal or int, never float.")
    return isinstance(value, int | Decimal) and not isinstance(value, bool)


def _number_text(value: int | Decimal) -> str:
    # "f" keeps Decimal("1E+2") from reaching a spreadsheet in scientific notation.
    return f"{value:f}" if isinstance(value, Decimal) else str(value)


def csv_cell(value: Any) -> str:
    """One exported value as CSV text; see the module docstring for the rules."""
    if value is None:
        return ""
    if _is_number(value):
        return _number_text(value)
    return neutralise_formula(str(value))


def streamed_rows(queryset: QuerySet, *, chunk_size: int = 500) -> Iterator[Any]:
    """The queryset's rows for a response that streams them, read through a server-side cursor
    inside a transaction held while the response streams.

    Outside a transaction Django declares the cursor WITH HOLD, and PostgreSQL computes and
    stores the whole result when the declaring statement commits, before the first row comes
    back: 2.6 s and a temporary file the size of the export at 1,000,000 ledger rows
    (bench/RESULTS-ledger-scale.md). Inside one the rows come as the scan finds them. What is
    read does not change: one statement, so one snapshot, taken when the export starts.

    500 rows a fetch: the worker's peak memory grows by ~3 MiB over an export of the ledger's
    21 columns instead of ~10 MiB with 2,000, for the same CPU."""
    with transaction.atomic(using=queryset.db):
        yield from queryset.iterator(chunk_size=chunk_size)


def column_letter(number: int) -> str:
    """A spreadsheet's column name: 1 -> A, 26 -> Z, 27 -> AA."""
    letters = ""
    while number > 0:
        number, remainder = divmod(number - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def _xlsx_cell(reference: str, value: Any) -> str:
    """One cell's XML: a number as a number (money with its two places shown), anything else
    as an inline string cell, never a formula or an error value."""
    if type(value) is str:  # most cells: csv_cell's rule without its type checks
        text = neutralise_formula(value)
    elif value is not None and _is_number(value):
        money = isinstance(value, Decimal) and value.as_tuple().exponent == -2
        return f'<c r="{reference}"{MONEY_STYLE if money else ""}><v>{_number_text(value)}</v></c>'
    else:
        text = csv_cell(value)
    if not text:
        return ""
    # XML cannot hold some control characters; one in a supplier's text must not make the
    # whole export fail.
    text = ILLEGAL_CHARACTERS_RE.sub("\ufffd", text)
    return (
        f'<c r="{reference}" t="inlineStr"><is><t xml:space="preserve">{escape(text)}</t></is></c>'
    )


MONEY_STYLE = ' s="1"'  # cellXfs[1]: built-in number format 2, "0.00"
_XLSX_PARTS = {
    "[Content_Types].xml": (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/'
        'sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
        'worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>'
    ),
    "_rels/.rels": (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    ),
    "xl/_rels/workbook.xml.rels": (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
        'Target="styles.xml"/></Relationships>'
    ),
    "xl/styles.xml": (
        '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
        '<fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
        '<borders count="1"><border/></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
        '</cellStyleXfs><cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" '
        'borderId="0" xfId="0"/><xf numFmtId="2" fontId="0" fillId="0" borderId="0" xfId="0" '
        'applyNumberFormat="1"/></cellXfs><cellStyles count="1"><cellStyle name="Normal" '
        'xfId="0" builtinId="0"/></cellStyles></styleSheet>'
    ),
}
_WORKBOOK = (
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name={name} sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_SHEET_START = (
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
_SHEET_END = "</sheetData></worksheet>"
_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_CHUNK = 64 * 1024


class _Pipe:
    """A write-only file for zipfile whose bytes are taken out as they come. It has no seek,
    so zipfile streams (a data descriptor after each member) instead of going back."""

    def __init__(self):
        self._parts: list[bytes] = []
        self.size = 0
        self._position = 0

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self.size += len(data)
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts, self.size = [], 0
        return data


def xlsx_parts(
    header: Sequence[str], rows: Iterable[Sequence[Any]], *, sheet: str = "Sheet1"
) -> Iterator[bytes]:
    """An XLSX workbook of one sheet, as the bytes of its zip archive in order, produced as
    `rows` is consumed."""
    pipe = _Pipe()
    # zlib level 1: a fifth less CPU per row than the default 6 for a quarter more bytes (XML
    # compresses well either way; bench/RESULTS-ledger-scale.md); the row-building Python is
    # the rest of the cost.
    with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, xml in _XLSX_PARTS.items():
            archive.writestr(name, _XML_DECLARATION + xml)
        workbook = _WORKBOOK.format(name=quoteattr(sheet[:31]))
        archive.writestr("xl/workbook.xml", _XML_DECLARATION + workbook)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
            columns: list[str] = []
            # rows are handed to zlib some KiB at a time, not one call per row
            pending, size = [_XML_DECLARATION + _SHEET_START], 0
            for number, row in enumerate(itertools.chain([header], rows), start=1):
                while len(columns) < len(row):
                    columns.append(column_letter(len(columns) + 1))
                cells = "".join(
                    _xlsx_cell(f"{column}{number}", value)
                    for column, value in zip(columns, row, strict=False)
                )
                line = f'<row r="{number}">{cells}</row>'
                pending.append(line)
                size += len(line)
                if size >= _CSV_PIECE or number == 1:
                    part.write("".join(pending).encode())
                    pending, size = [], 0
                    # the workbook's fixed parts leave at once, before the first row is read
                    if pipe.size >= _CHUNK or number == 1:
                        yield pipe.take()
            pending.append(_SHEET_END)
            part.write("".join(pending).encode())
    yield pipe.take()


_CSV_PIECE = 32 * 1024  # characters: 32 to 96 KiB of UTF-8


class _Echo:
    """A file-like object whose write returns the line, for csv.writer."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The CSV text in pieces of about 64 KiB: one write (and one HTTP chunk) per row would
    cost the server a system call per row, a million for a million rows."""
    writer = csv.writer(_Echo())
    # A byte-order mark lets Excel open UTF-8 Chinese text correctly.
    # The header leaves at once, before the first row is read.
    yield "\ufeff" + writer.writerow([csv_cell(value) for value in header])
    lines: list[str] = []
    size = 0
    for row in rows:
        line = writer.writerow([csv_cell(value) for value in row])
        lines.append(line)
        size += len(line)
        if size >= _CSV_PIECE:
            yield "".join(lines)
            lines, size = [], 0
    yield "".join(lines)


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]):
    response = StreamingHttpResponse(_csv_lines(header, rows), content_type=CSV_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def xlsx_response(
    filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]], *, sheet: str = "Sheet1"
):
    response = StreamingHttpResponse(
        xlsx_parts(header, rows, sheet=sheet), content_type=XLSX_CONTENT_TYPE
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
