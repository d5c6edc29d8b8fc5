"""What the demo's buyers buy and what befalls their orders: the baskets by kind of buyer, the
year's values and seasons, the reasons and notes people write, and the plan's records."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from procurement.demo.organisations import T
from procurement.models import Agency, ComplaintKind

CANTEEN = [
    "potatoes",
    "small-grains",
    "mushrooms",
    "green-food",
    "beef",
    "tan-sheep",
    "dairy",
    "fruit-vegetables",
]
GIFTS = ["goji", "wine", "tan-sheep", "beef", "dairy", "fruit-vegetables", "herbs", "flowers"]
BASKETS = {
    T.GOVERNMENT: (CANTEEN, 36_000, (1, 4)),
    T.SCHOOL: (CANTEEN, 39_000, (2, 4)),
    T.HOSPITAL: (CANTEEN, 37_000, (1, 4)),
    T.ENTERPRISE: (CANTEEN + ["goji"], 33_000, (1, 3)),
    T.UNION: (GIFTS, 56_000, (1, 3)),
    T.EXHIBITION_CENTRE: (None, 92_000, (2, 4)),
    T.SUPERMARKET: (None, 75_000, (2, 4)),
    T.ECOMMERCE: (["goji", "wine", "tan-sheep", "beef", "small-grains", "herbs"], 66_000, (1, 3)),
}
BUYING_WEIGHT = {T.EXHIBITION_CENTRE: 1.6, T.SUPERMARKET: 1.4, T.ECOMMERCE: 1.3, T.UNION: 1.1}
# Checkouts in a full year, growing as more units join and the programme gains pace.
# What the platform's buyers order in a full year (yuan, before cancellations, partial
# acceptance and refunds), growing as more units join and the programme gains pace.
YEAR_VALUE = {2021: 2_000_000, 2022: 2_800_000, 2023: 3_600_000, 2024: 4_400_000, 2025: 5_200_000}
LATER_YEAR_VALUE = 5_600_000
# Spring Festival, Mid-Autumn and the year-end push carry the most buying.
MONTH_WEIGHTS = [1.6, 0.6, 0.8, 0.8, 0.9, 0.9, 0.7, 1.0, 1.5, 1.0, 1.3, 1.5]
UNION_MONTH_WEIGHTS = [3.0, 0.3, 0.3, 0.5, 0.6, 0.5, 0.3, 0.8, 3.0, 0.5, 0.4, 1.2]

CANCEL_REASONS = ["预算调整，暂缓采购", "下错规格，重新下单", "食堂菜单调整，取消本批次"]
REJECT_REASONS = [
    "库存不足，无法按期发货",
    "冷链运力紧张，无法按期配送",
    "该规格暂停供应，请改选其他规格",
]
CARRIERS = ["SF", "JD", "YT", "ZTO"]
COMPLAINTS = {
    ComplaintKind.QUALITY: [
        "部分商品受潮结块，与样品不符",
        "到货后有异味，已拍照留存",
        "到货商品临近保质期",
    ],
    ComplaintKind.DELIVERY: ["超过约定送货时间三天才到货", "冷链中断，到货时冰袋已融化"],
    ComplaintKind.QUANTITY: ["实收箱数少于发货单2箱", "部分外箱破损，内件短少"],
    ComplaintKind.OTHER: ["供应商客服联系不上", "发票信息有误，需重新开具"],
}
UPHELD_NOTE = "经核查属实，已责成供应商整改并按协商结果处理"
DISMISSED_NOTE = "经核查，签收单与物流记录无异议，投诉不成立"
PARTIAL_REFUND_REASONS = ["部分商品验收后发现破损，协商按比例退款", "价格下调，退还差价"]
QUALITY_REFUND_REASON = "质量投诉成立，按比例退款"
FULL_REFUND_REASONS = ["整批质量不合格，经协商全额退款", "采购计划取消，供应商同意退货退款"]


@dataclass(frozen=True)
class Item:
    variant_id: int
    supplier_id: int
    category: str
    price: Decimal
    moq: int
    gift: bool


@dataclass
class OrderPlan:
    supplier_id: int
    order_id: int | None = None
    complaint_id: int | None = None


@dataclass
class CheckoutPlan:
    number: int
    agency: Agency
    placed: datetime
    lines: list[tuple[Item, int]]
    ship_within: int
    orders: dict[int, OrderPlan] = field(default_factory=dict)


@dataclass(order=True)
class Step:
    when: datetime
    seq: int
    run: Callable[[], Any] = field(compare=False)
