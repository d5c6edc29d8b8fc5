"""Tabular exports as streamed CSV or XLSX, with memory that stays flat however many rows.

CSV rows are written to the response as they are produced. XLSX uses openpyxl's write-only
workbook, which streams rows to a temporary file; the file is then streamed out.

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
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

from django.http import FileResponse, StreamingHttpResponse
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

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


def _xlsx_cell(worksheet: WriteOnlyWorksheet, value: Any) -> WriteOnlyCell:
    if value is not None and _is_number(value):
        cell = WriteOnlyCell(worksheet, value=value)
        if isinstance(value, Decimal) and value.as_tuple().exponent == -2:
            cell.number_format = "0.00"  # money keeps its fen, as in the CSV
        return cell
    # openpyxl refuses control characters that XML cannot hold; one in a supplier's text must
    # not make the whole export fail.
    text = ILLEGAL_CHARACTERS_RE.sub("\ufffd", csv_cell(value))
    cell = WriteOnlyCell(worksheet, value=text)
    # Set after the value: openpyxl infers "f" (formula) from a leading "=" and "e" (error)
    # from "#REF!" and the like; a string cell is shown exactly as written.
    cell.data_type = "s"
    return cell


class _Echo:
    """A file-like object whose write returns the line, for csv.writer."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    # A byte-order mark lets Excel open UTF-8 Chinese text correctly.
    yield "\ufeff" + writer.writerow([csv_cell(value) for value in header])
    for row in rows:
        yield writer.writerow([csv_cell(value) for value in row])


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]):
    response = StreamingHttpResponse(_csv_lines(header, rows), content_type=CSV_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def xlsx_response(
    filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]], *, sheet: str = "Sheet1"
):
    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(title=sheet)
    worksheet.append([_xlsx_cell(worksheet, value) for value in header])
    for row in rows:
        worksheet.append([_xlsx_cell(worksheet, value) for value in row])
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by FileResponse when sent
    workbook.save(spool)
    spool.seek(0)
    return FileResponse(
        spool, as_attachment=True, filename=filename, content_type=XLSX_CONTENT_TYPE
    )
