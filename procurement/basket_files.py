"""Reading a spreadsheet basket: a CSV or XLSX file of SKU, quantity and, optionally, a delivery
address per row (docs/spreadsheet-baskets.md).

`read_basket` turns the uploaded bytes into rows, each with its spreadsheet row number and, if a
cell cannot be used, the problem (code, field, message). What it cannot read at all (too large,
not CSV or XLSX, no SKU or quantity column, no rows, too many rows) raises a `DomainError` on
the field `file`, so a bad file creates nothing.

Nothing in the file is ever evaluated: XLSX is read with openpyxl's read-only reader without
cached formula results (`data_only=False`), so a formula cell arrives as its formula text and
its row is refused (FORMULA_NOT_ALLOWED); links and macros are not loaded. A file's size is
capped before it is parsed, an XLSX's unpacked size before openpyxl opens it (a small zip can
unpack to gigabytes), and rows are counted as they are read, so a huge sheet stops early.
"""

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from typing import Any

from procurement.errors import ProcurementErrorCode
from procurement.services.checkout import ADDRESS_MAX_LENGTH, MAX_LINE_QUANTITY
from shop.core import validation
from shop.core.errors import DomainError

MAX_BASKET_BYTES = 2 * 2**20
MAX_BASKET_ROWS = 2_000
# Rows read in all, blank ones included: a sheet of a million formatted empty rows stops here.
MAX_SCANNED_ROWS = 5 * MAX_BASKET_ROWS
MAX_XLSX_UNPACKED_BYTES = 32 * 2**20
MAX_COLUMNS = 26  # A–Z: the basket's columns are found in the header among these
HEADER_SEARCH_ROWS = 5  # the header may follow a few title rows
SKU_MAX_LENGTH = 64  # catalog.ProductVariant.sku

# The template's header; the reader also accepts a header cell that contains one of the words
# of a column (so "SKU", "商品编码" and "sku 商品编码" all name the SKU column).
TEMPLATE_HEADER = ["SKU 商品编码", "数量 quantity", "配送地址 delivery address (optional)"]
COLUMN_WORDS = {
    "sku": ("sku", "商品编码", "编码"),
    "quantity": ("quantity", "qty", "数量"),
    "address": ("address", "配送地址", "地址", "收货地址"),
}
# The text in CSV files from Excel on Chinese Windows is GBK (GB18030 is its superset).
CSV_ENCODINGS = ("utf-8-sig", "gb18030")
XLSX_MAGIC = b"PK\x03\x04"
XLS_MAGIC = b"\xd0\xcf\x11\xe0"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


@dataclass(frozen=True)
class RowProblem:
    code: ProcurementErrorCode
    field: str  # "sku", "quantity" or "deliveryAddress"
    message: str


@dataclass(frozen=True)
class BasketRow:
    """One row as read. `sku` and `address` are safe to store and show (control characters
    replaced, cut to their column); `problem` says why the row cannot be bought as it is."""

    number: int
    sku: str
    quantity: int | None
    address: str
    problem: RowProblem | None


@dataclass(frozen=True)
class BasketSheet:
    file_format: str  # "CSV" or "XLSX"
    rows: list[BasketRow]


@dataclass(frozen=True)
class _Cell:
    value: Any
    is_formula: bool = False


def _file_error(message: str, code: ProcurementErrorCode) -> DomainError:
    return DomainError(message, code=code, field="file")


def _unreadable(why: str) -> DomainError:
    return _file_error(
        f"{why} Upload the basket as CSV or XLSX (download the template).",
        ProcurementErrorCode.FILE_UNREADABLE,
    )


def read_basket(data: bytes) -> BasketSheet:
    """The basket's rows, or a DomainError on `file` for a file that cannot be read."""
    if len(data) > MAX_BASKET_BYTES:
        raise _file_error(
            f"The file is larger than {MAX_BASKET_BYTES // 2**20} MB.",
            ProcurementErrorCode.FILE_TOO_LARGE,
        )
    if not data.strip():
        raise _file_error("The file is empty.", ProcurementErrorCode.NO_LINES)
    if data.startswith(XLSX_MAGIC):
        return BasketSheet("XLSX", _rows(_xlsx_cells(data)))
    if data.startswith(XLS_MAGIC):
        raise _unreadable("This is an Excel 97–2003 (.xls) file; save it as .xlsx.")
    return BasketSheet("CSV", _rows(_csv_cells(_decode(data))))


def _decode(data: bytes) -> str:
    if data.startswith(UTF16_BOMS):  # Excel's "Unicode text"
        encodings: tuple[str, ...] = ("utf-16",)
    else:
        encodings = CSV_ENCODINGS
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise _unreadable("The file is neither an XLSX workbook nor UTF-8 or GBK text.")


def _csv_cells(text: str):
    lines = text.splitlines(keepends=True)
    if lines and lines[0].strip().lower().startswith("sep="):  # Excel's separator hint
        delimiter = lines[0].strip()[4:5] or ","
        lines = lines[1:]
    else:
        # A CSV saved where the decimal separator is a comma uses semicolons, a "text" export
        # tabs: the separator is the one the first lines use most (commas when none).
        start = "".join(lines[: HEADER_SEARCH_ROWS + 5])
        delimiter = max((",", ";", "\t"), key=start.count) if start.strip() else ","
    try:
        for cells in csv.reader(lines, delimiter=delimiter):
            yield [_Cell(value) for value in cells[:MAX_COLUMNS]]
    except csv.Error as error:
        raise _unreadable(f"The CSV cannot be read ({error}).") from error


def _xlsx_cells(data: bytes):
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, EOFError) as error:
        raise _unreadable("The file is not a readable XLSX workbook.") from error
    if unpacked > MAX_XLSX_UNPACKED_BYTES:
        raise _file_error(
            f"The workbook unpacks to more than {MAX_XLSX_UNPACKED_BYTES // 2**20} MB.",
            ProcurementErrorCode.FILE_TOO_LARGE,
        )
    try:
        # read_only streams the sheet; data_only=False: a formula arrives as its text, never
        # as a result computed by whoever saved the file; keep_links=False: external links
        # are not loaded.
        workbook = load_workbook(
            io.BytesIO(data), read_only=True, data_only=False, keep_links=False
        )
    except Exception as error:  # openpyxl raises many kinds for a damaged or foreign package
        raise _unreadable("The file is not a readable XLSX workbook.") from error
    try:
        sheet = workbook.worksheets[0]
        for row in sheet.iter_rows(max_col=MAX_COLUMNS):
            yield [_Cell(cell.value, getattr(cell, "data_type", None) == "f") for cell in row]
    except DomainError:
        raise
    except Exception as error:  # a sheet's XML broken half-way
        raise _unreadable("The workbook's first sheet cannot be read.") from error
    finally:
        workbook.close()


def _text(cell: _Cell) -> str:
    value = cell.value
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a SKU typed as a number in Excel
    return str(value).strip()


def _header_columns(cells: list[_Cell]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, cell in enumerate(cells):
        words = set(re.split(r"[\s/()（）,;:_-]+", _text(cell).lower()))
        for name, aliases in COLUMN_WORDS.items():
            if name not in columns and words & set(aliases):
                columns[name] = index
                break
    return columns


def _rows(cell_rows) -> list[BasketRow]:
    columns: dict[str, int] | None = None
    first_line: tuple[int, str] | None = None  # the first non-blank row, for the error
    rows: list[BasketRow] = []
    for number, cells in enumerate(cell_rows, start=1):
        if number > MAX_SCANNED_ROWS:
            raise _too_many()
        if not any(_text(cell) for cell in cells):
            continue  # blank rows are skipped; the numbers stay those the sheet shows
        if columns is None:
            line = " ".join(_text(cell) for cell in cells)
            if first_line is None:
                if validation.CONTROL_CHARACTERS.search(line):
                    raise _unreadable("The file is not a spreadsheet (binary data in it).")
                first_line = (number, line)
            found = _header_columns(cells)
            if "sku" in found and "quantity" in found:
                columns = found
            elif number - first_line[0] >= HEADER_SEARCH_ROWS:
                raise _missing_columns(*first_line)
            # else a title above the header (采购清单, the canteen's name, a date): skipped
            continue
        if len(rows) == MAX_BASKET_ROWS:
            raise _too_many()
        rows.append(_row(number, cells, columns))
    if columns is None and first_line is not None:
        raise _missing_columns(*first_line)
    if not rows:
        raise _file_error("The file has no rows to buy.", ProcurementErrorCode.NO_LINES)
    return rows


def _missing_columns(number: int, line: str) -> DomainError:
    return _file_error(
        f"No header row with a SKU and a quantity column; row {number} reads {line[:200]!r}. "
        "Start from the template.",
        ProcurementErrorCode.MISSING_COLUMNS,
    )


def _too_many() -> DomainError:
    return _file_error(
        f"A basket has at most {MAX_BASKET_ROWS:,} rows; split the file.",
        ProcurementErrorCode.TOO_MANY_ROWS,
    )


def _cell(cells: list[_Cell], columns: dict[str, int], name: str) -> _Cell:
    index = columns.get(name)
    return cells[index] if index is not None and index < len(cells) else _Cell(None)


def _shown(text: str, max_length: int) -> str:
    return validation.CONTROL_CHARACTERS.sub("\ufffd", text)[:max_length]


def _row(number: int, cells: list[_Cell], columns: dict[str, int]) -> BasketRow:
    sku_cell = _cell(cells, columns, "sku")
    quantity_cell = _cell(cells, columns, "quantity")
    address_cell = _cell(cells, columns, "address")
    sku, address = _text(sku_cell), _text(address_cell)
    quantity = None if quantity_cell.is_formula else _quantity(quantity_cell.value)
    problem = next(
        (
            p
            for p in (
                _formula(sku_cell, "sku"),
                _formula(quantity_cell, "quantity"),
                _formula(address_cell, "deliveryAddress"),
                _text_problem(sku, SKU_MAX_LENGTH, "sku", required=True),
                None
                if quantity is not None
                else RowProblem(
                    ProcurementErrorCode.INVALID_QUANTITY,
                    "quantity",
                    f"A quantity is a whole number from 1 to {MAX_LINE_QUANTITY:,}; "
                    f"got {_text(quantity_cell)[:40]!r}.",
                ),
                _text_problem(address, ADDRESS_MAX_LENGTH, "deliveryAddress"),
            )
            if p is not None
        ),
        None,
    )
    return BasketRow(
        number=number,
        sku=_shown(sku, SKU_MAX_LENGTH),
        quantity=quantity,
        address=_shown(address, ADDRESS_MAX_LENGTH),
        problem=problem,
    )


def _formula(cell: _Cell, field: str) -> RowProblem | None:
    if not cell.is_formula:
        return None
    return RowProblem(
        ProcurementErrorCode.FORMULA_NOT_ALLOWED,
        field,
        "Formulas are not read; type the value itself (or paste it as values).",
    )


def _text_problem(
    text: str, max_length: int, field: str, *, required: bool = False
) -> RowProblem | None:
    if required and not text:
        return RowProblem(ProcurementErrorCode.REQUIRED, field, "The SKU is missing.")
    if validation.CONTROL_CHARACTERS.search(text):
        return RowProblem(
            ProcurementErrorCode.INVALID_TEXT,
            field,
            "Control characters (such as NUL) are not allowed.",
        )
    if len(text) > max_length:
        return RowProblem(
            ProcurementErrorCode.TEXT_TOO_LONG, field, f"At most {max_length} characters."
        )
    return None


def _quantity(value: Any) -> int | None:
    """A whole number of units from 1 to MAX_LINE_QUANTITY, or None. "12", 12, 12.0 and
    "1,200" are read; 1.5, dates, booleans and text are not."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        number = validation.decimal_number(repr(value)) if value.is_integer() else None
    elif isinstance(value, int | str):
        text = str(value).strip()
        if re.fullmatch(r"\d{1,3}(,\d{3})+", text):
            text = text.replace(",", "")
        number = validation.decimal_number(text) if re.fullmatch(r"\d+(\.0*)?", text) else None
    else:
        return None
    if number is None or number != number.to_integral_value():
        return None
    whole = int(number)
    return whole if 0 < whole <= MAX_LINE_QUANTITY else None
