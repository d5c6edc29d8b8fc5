"""The demo's ledger beyond its orders: one 832-platform import of 2025 purchases from
Ningxia sellers, and the summary `demo_data` prints."""

import csv
import io
import random
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Sum

from procurement.demo.clock import SEED, TZ
from procurement.demo.organisations import T, credit_code
from procurement.models import Agency, ContributionEntry, Order, OrderStatus, PaymentStatus
from procurement.services import contributions as contribution_services

IMPORT_FILENAME = "832平台-2025年度福建采购明细.csv"
IMPORT_AT = datetime(2025, 12, 26, 10, 30, tzinfo=TZ)

# One import: 2025 purchases on the 832 platform from Ningxia sellers (poverty-exited counties).
IMPORT_SELLERS = [
    ("宁夏红寺堡区农副产品购销有限公司", "640303", "果蔬", "黄花菜"),
    ("盐池县滩羊产业发展集团有限公司", "640323", "滩羊", "盐池滩羊肉"),
    ("西吉县农业产业化联合体有限公司", "640422", "马铃薯", "西吉马铃薯"),
    ("同心县扶贫产业开发有限公司", "640324", "果蔬", "同心圆枣"),
    ("泾源县蜂产业开发有限公司", "640424", "中药材", "六盘山蜂蜜"),
    ("海原县农产品购销有限公司", "640522", "小杂粮", "海原小杂粮"),
]
IMPORT_BUYERS = [
    ("福州市仓山区机关事务服务中心", T.GOVERNMENT, "福州市"),
    ("厦门市集美区教育后勤服务中心", T.SCHOOL, "厦门市"),
    ("泉州市第一医院", T.HOSPITAL, "泉州市"),
    ("漳州市总工会", T.UNION, "漳州市"),
    ("三明市三元区机关事务服务中心", T.GOVERNMENT, "三明市"),
    ("莆田市荔城区实验小学", T.SCHOOL, "莆田市"),
    ("南平市第一医院", T.HOSPITAL, "南平市"),
    ("龙岩市总工会", T.UNION, "龙岩市"),
    ("宁德市蕉城区机关事务服务中心", T.GOVERNMENT, "宁德市"),
    ("厦门宁夏名特优农产品集散中心", T.EXHIBITION_CENTRE, "厦门市"),
]
IMPORT_ROWS = 20


def import_file() -> bytes:
    rng = random.Random(f"{SEED}-832")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(contribution_services.IMPORT_COLUMNS)
    sellers = [
        (
            name,
            credit_code("91", division, random.Random(f"{SEED}-seller-{division}")),
            division,
            category,
            product,
        )
        for name, division, category, product in IMPORT_SELLERS
    ]
    for n in range(IMPORT_ROWS):
        name, code, division, category, product = sellers[n % len(sellers)]
        buyer, kind, city = rng.choice(IMPORT_BUYERS)
        day = date(2025, 1, 6) + timedelta(days=rng.randrange(340))
        amount = Decimal(rng.randrange(800_000, 12_000_000)) / 100
        writer.writerow(
            [
                f"25642000{rng.randrange(10**11, 10**12)}",
                code,
                name,
                buyer,
                kind,
                city,
                day.isoformat(),
                f"{amount:.2f}",
                "832",
                category,
                division,
                product,
            ]
        )
    return out.getvalue().encode()


def summary(agencies: list[Agency], skipped: bool) -> str:
    orders = Order.objects.filter(agency__in=agencies)
    statuses = Counter(orders.values_list("status", flat=True))
    payments = Counter(orders.values_list("payment_status", flat=True))
    total = ContributionEntry.objects.aggregate(total=Sum("amount"))["total"] or 0
    by_status = " ".join(f"{s}={statuses[s]}" for s in OrderStatus.values)
    by_payment = " ".join(f"{s}={payments[s]}" for s in PaymentStatus.values)
    head = "procurement already there: " if skipped else ""
    return (
        f"{head}{len(agencies)} agencies, {orders.count()} orders ({by_status}; {by_payment}); "
        f"ledger {total:,.2f} CNY in {ContributionEntry.objects.count()} entries; "
        "payments by bank transfer only (card needs the running gateway mock: the demo agency "
        "has ACCEPTED orders to pay by card)"
    )
