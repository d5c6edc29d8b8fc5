"""Spreadsheet baskets: upload → preview (row by row, nothing reserved) → checkout through the
checkout service (all or nothing, idempotent, once per upload)."""

import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from graphql_relay import to_global_id

from catalog.models import ProductStatus, ProductVariant, SupplierStatus
from procurement.models import BasketPreviewLine, BasketUpload, Checkout, Order, OrderLine
from procurement.services import baskets
from shop.core.models import AuditEvent
from tests.factories import AgencyFactory, TierPriceFactory
from tests.procurement.baskets import CHECKOUT, PREVIEW, csv_bytes, uploaded, xlsx_bytes
from tests.procurement.flows import buyer, new_supplier, stocked_variant
from tests.procurement.test_approvals import set_budget


def stock_of(*variants) -> list[int]:
    return [ProductVariant.objects.get(pk=v.pk).stock for v in variants]


def nothing_placed() -> bool:
    return not (Order.objects.exists() or OrderLine.objects.exists() or Checkout.objects.exists())


def check_out(gql, user, upload_id, key="basket-key-0001") -> dict:
    return gql(CHECKOUT, {"id": upload_id, "key": key}, user=user)["data"]["basketCheckout"]


def row_errors(preview) -> list:
    return [
        (line["rowNumber"], line["error"]["field"], line["error"]["code"])
        for line in preview["lines"]
        if line["error"]
    ]


@pytest.mark.smoke
def test_a_csv_basket_is_previewed_row_by_row_and_nothing_is_reserved(db):
    user = buyer()
    goji = stocked_variant(stock=500, price="128.00", name="中宁枸杞")
    TierPriceFactory(variant=goji, min_quantity=50, unit_price=Decimal("118.00"))
    wine = stocked_variant(stock=20, price="1188.00", name="贺兰山东麓干红")
    preview = uploaded(user, csv_bytes([goji.sku, 60, ""], [wine.sku, 2, "厦门市湖里区二食堂"]))
    assert (preview["fileFormat"], preview["rowCount"], preview["errorCount"]) == ("CSV", 2, 0)
    assert preview["isValid"] is True
    assert preview["total"] == {"amount": "9456.00"}  # 60 × 118.00 (tier) + 2 × 1188.00
    first, second = preview["lines"]
    assert first["rowNumber"] == 2
    assert first["productName"] == "中宁枸杞"
    assert first["unitPrice"] == {"amount": "118.00"}
    assert first["lineTotal"] == {"amount": "7080.00"}
    assert first["variant"] == {"sku": goji.sku}
    assert second["deliveryAddress"] == "厦门市湖里区二食堂"
    assert stock_of(goji, wine) == [500, 20]
    assert nothing_placed()


def test_an_xlsx_basket_is_read_like_a_csv(db):
    user = buyer()
    variant = stocked_variant(stock=50, price="20.00")
    # Excel stores typed numbers as floats and a numeric-looking SKU as a number.
    numeric = stocked_variant(stock=50, price="5.00")
    ProductVariant.objects.filter(pk=numeric.pk).update(sku="100234")
    preview = uploaded(
        user, xlsx_bytes([variant.sku, 3.0], [100234, 4, "福州市仓山区"]), name="b.xlsx"
    )
    assert preview["fileFormat"] == "XLSX"
    assert [(line["sku"], line["quantity"]) for line in preview["lines"]] == [
        (variant.sku, 3),
        ("100234", 4),
    ]
    assert row_errors(preview) == []
    assert preview["total"] == {"amount": "80.00"}


def test_a_gbk_csv_saved_by_excel_on_chinese_windows_is_read(db):
    user = buyer()
    variant = stocked_variant(stock=50)
    data = csv_bytes(
        [variant.sku, 2, "泉州市丰泽区东湖街"], header=["商品编码", "数量", "配送地址"]
    )
    preview = uploaded(user, data.decode("utf-8-sig").encode("gbk"))
    assert preview["lines"][0]["deliveryAddress"] == "泉州市丰泽区东湖街"
    assert row_errors(preview) == []


def test_a_semicolon_csv_with_blank_rows_keeps_the_sheets_row_numbers(db):
    user = buyer()
    variant = stocked_variant(stock=50)
    data = csv_bytes(["", "", ""], [variant.sku, 2, ""], delimiter=";")
    preview = uploaded(user, data)
    assert [line["rowNumber"] for line in preview["lines"]] == [3]


def test_title_rows_above_the_header_are_skipped(db):
    user = buyer()
    variant = stocked_variant(stock=50)
    title = "\r\n厦门市第一中学食堂 十月采购清单,,\r\n,,\r\n".encode()  # rows 1-3
    data = title + csv_bytes([variant.sku, 2, ""], encoding="utf-8")  # header on row 4
    preview = uploaded(user, data)
    assert [(line["rowNumber"], line["sku"]) for line in preview["lines"]] == [(5, variant.sku)]
    assert row_errors(preview) == []


def _unsellable_draft(v):
    type(v.product).objects.filter(pk=v.product_id).update(status=ProductStatus.DRAFT)


def _supplier_suspended(v):
    type(v.product.supplier).objects.filter(pk=v.product.supplier_id).update(
        status=SupplierStatus.SUSPENDED
    )


@pytest.mark.parametrize(
    ("cells", "prepare", "expected"),
    [
        (["NO-SUCH-SKU", 1, ""], None, ("sku", "VARIANT_NOT_FOUND", "No product has SKU")),
        (["{sku}", 1, ""], _unsellable_draft, ("sku", "NOT_SELLABLE", "not certified")),
        (["{sku}", 1, ""], _supplier_suspended, ("sku", "NOT_SELLABLE", "supplier is 已暂停")),
        (["{sku}", "abc", ""], None, ("quantity", "INVALID_QUANTITY", "whole number")),
        (["{sku}", "0", ""], None, ("quantity", "INVALID_QUANTITY", "whole number")),
        (["{sku}", "1.5", ""], None, ("quantity", "INVALID_QUANTITY", "whole number")),
        (["{sku}", "-3", ""], None, ("quantity", "INVALID_QUANTITY", "whole number")),
        (["{sku}", "", ""], None, ("quantity", "INVALID_QUANTITY", "whole number")),
        (["{sku}", "11", ""], None, ("quantity", "INSUFFICIENT_STOCK", "only 10")),
        (["", "1", ""], None, ("sku", "REQUIRED", "SKU is missing")),
        (["{sku}", 1, "福" * 256], None, ("deliveryAddress", "TEXT_TOO_LONG", "At most 255")),
        (["{sku}\x00", 1, ""], None, ("sku", "INVALID_TEXT", "Control characters")),
        (["{sku}", 1, "鼓楼区\x07"], None, ("deliveryAddress", "INVALID_TEXT", "Control")),
    ],
)
def test_a_refused_row_says_its_row_number_field_and_reason(db, cells, prepare, expected):
    user = buyer()
    good = stocked_variant(stock=10)
    bad = stocked_variant(stock=10)
    if prepare:
        prepare(bad)
    row = [str(cell).replace("{sku}", bad.sku) for cell in cells]
    preview = uploaded(user, csv_bytes([good.sku, 1, ""], row))
    field, code, words = expected
    assert row_errors(preview) == [(3, field, code)]
    message = preview["lines"][1]["error"]["message"]
    assert message.startswith("Row 3: ")
    assert words in message
    assert (preview["errorCount"], preview["isValid"]) == (1, False)
    assert preview["total"] == {"amount": "100.00"}  # the good row only
    assert stock_of(good, bad) == [10, 10]


def test_below_the_minimum_order_quantity_is_refused(db):
    user = buyer()
    variant = stocked_variant(stock=100, moq=10)
    preview = uploaded(user, csv_bytes([variant.sku, 5, ""]))
    assert row_errors(preview) == [(2, "quantity", "BELOW_MINIMUM_QUANTITY")]


def test_a_sku_on_two_rows_refuses_the_second_naming_the_first(db):
    user = buyer()
    variant = stocked_variant(stock=100)
    preview = uploaded(user, csv_bytes([variant.sku, 5, ""], [variant.sku, 2, "别处"]))
    assert row_errors(preview) == [(3, "sku", "DUPLICATE_ROW")]
    assert "already on row 2" in preview["lines"][1]["error"]["message"]


def test_a_formula_cell_is_refused_and_never_evaluated(db):
    user = buyer()
    variant = stocked_variant(stock=100)
    preview = uploaded(
        user, xlsx_bytes([variant.sku, "=2*3"], ['=HYPERLINK("http://x","y")', 1]), "f.xlsx"
    )
    assert row_errors(preview) == [
        (2, "quantity", "FORMULA_NOT_ALLOWED"),
        (3, "sku", "FORMULA_NOT_ALLOWED"),
    ]
    assert preview["lines"][0]["quantity"] is None


def test_an_upload_is_kept_for_the_agency_with_who_uploaded_it(db):
    user = buyer()
    variant = stocked_variant()
    preview = uploaded(user, csv_bytes([variant.sku, 1, ""]), name="食堂十月.csv")
    upload_row = BasketUpload.objects.get()
    assert (upload_row.agency_id, upload_row.uploaded_by_id) == (user.agency_id, user.pk)
    assert preview["fileName"] == "食堂十月.csv"
    assert preview["id"] == to_global_id("BasketUpload", upload_row.pk)


def test_preview_reads_the_catalog_in_the_same_number_of_queries_for_any_row_count(db):
    user = buyer()
    variants = [stocked_variant(stock=100) for _ in range(40)]
    TierPriceFactory(variant=variants[0], min_quantity=5)

    def queries_for(rows: int) -> int:
        data = csv_bytes(*([v.sku, 6, "某地"] for v in variants[:rows]), ["NOPE", 1, ""])
        with CaptureQueriesContext(connection) as captured:
            baskets.basket_upload(acting_user=user, file_name="b.csv", data=data)
        return len(captured)

    assert queries_for(2) == queries_for(40)


# Checkout


def test_checkout_places_one_order_per_supplier_and_delivery_address(gql):
    user = buyer()
    supplier = new_supplier()
    goji = stocked_variant(stock=100, price="10.00", supplier=supplier)
    dates = stocked_variant(stock=100, price="20.00", supplier=supplier)
    wine = stocked_variant(stock=100, price="30.00")
    preview = uploaded(
        user, csv_bytes([goji.sku, 1, ""], [dates.sku, 2, "厦门市湖里区二食堂"], [wine.sku, 3, ""])
    )
    payload = check_out(gql, user, preview["id"])
    assert payload["errors"] == []
    placed = {(o["address"], o["supplier"]["name"]): o for o in payload["orders"]}
    assert set(placed) == {
        ("厦门市思明区食堂1号", supplier.name),
        ("厦门市湖里区二食堂", supplier.name),
        ("厦门市思明区食堂1号", wine.product.supplier.name),
    }
    assert placed["厦门市湖里区二食堂", supplier.name]["lines"] == [
        {"sku": dates.sku, "quantity": 2}
    ]
    assert stock_of(goji, dates, wine) == [99, 98, 97]
    again = gql(PREVIEW, {"id": preview["id"]}, user=user)["data"]["basketPreview"]
    assert sorted(o["number"] for o in again["orders"]) == sorted(
        o["number"] for o in payload["orders"]
    )
    assert AuditEvent.objects.filter(action="basket.checkout").count() == 1


def test_checkout_retried_with_the_same_key_returns_the_same_orders(gql):
    user = buyer()
    variant = stocked_variant(stock=10)
    preview = uploaded(user, csv_bytes([variant.sku, 4, ""]))
    first = check_out(gql, user, preview["id"])
    again = check_out(gql, user, preview["id"])
    assert again == first
    assert (Order.objects.count(), Checkout.objects.count()) == (1, 1)
    assert stock_of(variant) == [6]


def test_an_upload_checked_out_cannot_be_checked_out_again_with_another_key(gql):
    user = buyer()
    variant = stocked_variant(stock=10)
    preview = uploaded(user, csv_bytes([variant.sku, 4, ""]))
    check_out(gql, user, preview["id"])
    payload = check_out(gql, user, preview["id"], key="another-key-0002")
    assert [e["code"] for e in payload["errors"]] == ["BASKET_ALREADY_CHECKED_OUT"]
    assert (Order.objects.count(), stock_of(variant)) == (1, [6])


def test_a_basket_with_errors_cannot_be_checked_out(gql):
    user = buyer()
    variant = stocked_variant(stock=10)
    preview = uploaded(user, csv_bytes([variant.sku, 4, ""], ["NOPE", 1, ""]))
    payload = check_out(gql, user, preview["id"])
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        ("uploadId", "BASKET_HAS_ERRORS")
    ]
    assert stock_of(variant) == [10]
    assert nothing_placed()


def test_stock_gone_since_the_preview_refuses_the_whole_checkout_on_its_row(gql):
    user = buyer()
    plenty, scarce = stocked_variant(stock=10), stocked_variant(stock=10)
    preview = uploaded(user, csv_bytes([plenty.sku, 2, ""], [scarce.sku, 8, ""]))
    ProductVariant.objects.filter(pk=scarce.pk).update(stock=5)
    payload = check_out(gql, user, preview["id"])
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        ("rows.3.quantity", "INSUFFICIENT_STOCK")
    ]
    assert payload["errors"][0]["message"].startswith("Row 3: ")
    assert stock_of(plenty, scarce) == [10, 5]
    assert nothing_placed()
    assert BasketUpload.objects.get().checkout_id is None


def test_another_agency_neither_sees_nor_checks_out_an_upload(gql):
    owner, outsider = buyer(), buyer()
    variant = stocked_variant(stock=10)
    preview = uploaded(owner, csv_bytes([variant.sku, 1, ""]))
    assert gql(PREVIEW, {"id": preview["id"]}, user=outsider)["data"]["basketPreview"] is None
    payload = check_out(gql, outsider, preview["id"])
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("uploadId", "NOT_FOUND")]
    assert stock_of(variant) == [10]
    assert nothing_placed()


def test_a_colleague_in_the_same_agency_sees_and_checks_out_the_upload(gql):
    owner = buyer()
    colleague = buyer(agency=owner.agency)
    variant = stocked_variant(stock=10)
    preview = uploaded(owner, csv_bytes([variant.sku, 1, ""]))
    assert gql(PREVIEW, {"id": preview["id"]}, user=colleague)["data"]["basketPreview"]
    assert check_out(gql, colleague, preview["id"])["errors"] == []


def test_a_basket_larger_than_one_api_checkout_is_checked_out_whole(gql):
    user = buyer()
    variants = [stocked_variant(stock=5, price="1.00") for _ in range(205)]
    preview = uploaded(user, csv_bytes(*([v.sku, 1, ""] for v in variants)))
    payload = check_out(gql, user, preview["id"], key=uuid.uuid4().hex)
    assert payload["errors"] == []
    assert OrderLine.objects.count() == 205
    assert BasketPreviewLine.objects.count() == 205


# The checkout's rules from approvals and budgets apply to a basket's checkout too.


def test_a_basket_above_the_approval_threshold_is_refused_like_a_checkout(gql):
    user = buyer(AgencyFactory(approval_threshold=Decimal("150.00")))
    variant = stocked_variant(stock=10, price="100.00")
    preview = uploaded(user, csv_bytes([variant.sku, 2, ""]))
    payload = check_out(gql, user, preview["id"])
    assert [e["code"] for e in payload["errors"]] == ["APPROVAL_REQUIRED"]
    assert stock_of(variant) == [10]
    assert nothing_placed()
    assert BasketUpload.objects.get().checkout_id is None


def test_a_basket_checkout_over_the_budget_line_is_refused_on_that_line(gql):
    user = buyer()
    set_budget(user.agency, "100000.00")
    set_budget(user.agency, "150.00", line="食堂")
    variant = stocked_variant(stock=10, price="100.00")
    preview = uploaded(user, csv_bytes([variant.sku, 2, ""]))
    response = gql(
        CHECKOUT.replace("idempotencyKey: $key,", 'idempotencyKey: $key, budgetLine: "食堂",'),
        {"id": preview["id"], "key": "basket-key-0001"},
        user=user,
    )
    errors = response["data"]["basketCheckout"]["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [("budgetLine", "BUDGET_EXCEEDED")]
    assert stock_of(variant) == [10]
    assert nothing_placed()
