"""The one cell rule every CSV and XLSX export uses (shop.core.exports). The exports themselves
are tested through HTTP in tests/catalog/test_export_formulas.py and
tests/procurement/test_export_formulas.py; these cover inputs the API strips before storing."""

import io
from decimal import Decimal

import openpyxl
import pytest

from shop.core.exports import csv_cell, xlsx_parts


@pytest.mark.parametrize("text", ["\t=1+1", "\r=1+1", "=1", "+1", "-1", "@A1"])
def test_text_starting_a_formula_gets_a_quote(text):
    assert csv_cell(text) == "'" + text


@pytest.mark.parametrize("text", ["枸杞 500g", "1=1", " =1", "'quoted", ""])
def test_other_text_is_unchanged(text):
    assert csv_cell(text) == text


@pytest.mark.parametrize(
    ("number", "text"), [(Decimal("-12.50"), "-12.50"), (-3, "-3"), (Decimal("1E+2"), "100")]
)
def test_numbers_are_data_not_formulas(number, text):
    assert csv_cell(number) == text


def test_floats_are_refused_so_money_never_passes_through_one():
    with pytest.raises(TypeError):
        csv_cell(0.1)


def _counted_rows(count: int, consumed: list[int]):
    for n in range(count):
        consumed[0] = n + 1
        yield [f"供应商{n}", Decimal(n) / 100, n, None, f"=HYPERLINK({n})"]


def test_an_xlsx_starts_streaming_before_its_rows_are_read():
    consumed = [0]
    parts = xlsx_parts(["名称", "金额", "数量", "空", "公式"], _counted_rows(50_000, consumed))
    next(parts)
    first_with_rows = next(parts)
    assert first_with_rows
    assert consumed[0] < 50_000  # sent while rows remain to be read


def test_a_streamed_xlsx_opens_with_its_rows_numbers_and_inert_text():
    data = b"".join(xlsx_parts(["名称", "金额"], [["枸杞", Decimal("-12.50")], ["=1+1", 3]]))
    sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True)["Sheet1"]
    rows = [[(c.value, c.data_type, c.number_format) for c in row] for row in sheet.iter_rows()]
    assert rows == [
        [("名称", "s", "General"), ("金额", "s", "General")],
        [("枸杞", "s", "General"), (-12.5, "n", "0.00")],
        [("'=1+1", "s", "General"), (3, "n", "General")],
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_streamed_rows_come_through_a_cursor_postgresql_does_not_compute_first():
    # Outside a transaction Django declares the cursor WITH HOLD, and PostgreSQL builds the
    # whole result before the first row (seconds for a million-row export); streamed_rows'
    # cursor is a plain one, read as the scan goes.
    from django.db import connection

    from shop.accounts.models import User
    from shop.core.exports import streamed_rows
    from tests.factories import UserFactory

    users = sorted(user.pk for user in UserFactory.create_batch(3))
    rows = streamed_rows(User.objects.order_by("pk").values_list("pk", flat=True), chunk_size=1)
    first = next(rows)
    with connection.cursor() as cursor:
        cursor.execute("SELECT is_holdable FROM pg_cursors WHERE name LIKE '_django_curs_%%'")
        assert cursor.fetchall() == [(False,)]
    assert [first, *rows] == users
    assert connection.get_autocommit()  # the transaction ended with the rows
