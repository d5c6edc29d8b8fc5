"""The one cell rule every CSV and XLSX export uses (shop.core.exports). The exports themselves
are tested through HTTP in tests/catalog/test_export_formulas.py and
tests/procurement/test_export_formulas.py; these cover inputs the API strips before storing."""

from decimal import Decimal

import pytest

from shop.core.exports import csv_cell


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
