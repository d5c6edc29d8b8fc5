"""Demo procurement (the last `demo_data` step): Fujian buyers and five years of orders.

Creates 32 agencies across the nine Fujian cities and every agency type, a buyer for each (the
demo AGENCY account buys for 福州第一中学), staff for every admitted demo supplier, and then
replays 2021-01 … today through the real services, each step under `time_machine.travel` at
its historical moment (Asia/Shanghai), in date order: checkouts, confirmations and rejections,
shipments, acceptances (some partial), bank-transfer payments recorded by the demo operator,
invoices, completions, refunds (partial and full), complaints and their resolutions, the
budget units' reserved-share plans for 2024–2026 and one 832-platform import. The contribution
ledger is therefore filled only by the order services and the import service, and its chain
follows the calendar.

Scale: the real 14th-plan target is 5,000,000,000 CNY; the demo books about twenty million
(~340 orders), growing year on year like the real programme, so the target's percentages stay
far below 1%. The shape is what the dashboard is for; the size keeps `demo_data` quick.

Payments are bank transfers only: a card payment needs the stripe-compatible mock answering over
HTTP, which is not running while this step runs (before the server starts, inside one
transaction). The demo agency is left with ACCEPTED, unpaid orders to pay by card once the
server runs (`paymentCreate(method: CARD, paymentMethod: "pm_card_visa")`).

Stock is a demo concern: variants are restocked through the model before a checkout needs more
than is left. Everything is seeded, so two fresh databases get the same data on the same day;
a second run adds nothing (it stops when the demo agencies already have orders).
"""

import calendar
import csv
import io
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import time_machine
from django.contrib.auth.hashers import make_password
from django.db.models import F, Sum
from django.utils import timezone
from stdnum.cn import uscc

from catalog.membership import supplier_member_add
from catalog.models import City, Product, ProductVariant, Supplier
from procurement.membership import agency_member_add
from procurement.models import (
    Agency,
    AgencyType,
    ComplaintKind,
    ContributionEntry,
    ContributionImport,
    Order,
    OrderLine,
    OrderStatus,
    PaymentMethod,
    PaymentStatus,
)
from procurement.services import agencies as agency_services
from procurement.services import checkout as checkout_services
from procurement.services import complaints as complaint_services
from procurement.services import contributions as contribution_services
from procurement.services import orders as order_services
from procurement.services import payments as payment_services
from shop.accounts.demo import DEMO_ACCOUNTS, DEMO_PASSWORD
from shop.accounts.models import Role, User
from shop.accounts.organisations import no_membership

TZ = ZoneInfo("Asia/Shanghai")
SEED = 20210101
FIRST_YEAR = 2021
PLAN_YEARS = (2024, 2025, 2026)
IMPORT_FILENAME = "832平台-2025年度福建采购明细.csv"
IMPORT_AT = datetime(2025, 12, 26, 10, 30, tzinfo=TZ)
# Nothing is replayed closer to the real clock than this.
SAFETY = timedelta(minutes=10)

T = AgencyType
# (name, type, city code, district code, district, street address, since year)
AGENCIES = [
    ("福州市直机关事务服务中心", T.GOVERNMENT, "350100", "350102", "鼓楼区", "华林路148号", 2021),
    ("福州第一中学", T.SCHOOL, "350100", "350102", "鼓楼区", "湖滨路2号", 2021),
    ("福州市台江区医院", T.HOSPITAL, "350100", "350103", "台江区", "上海路9号", 2022),
    ("福州市总工会", T.UNION, "350100", "350102", "鼓楼区", "五四路200号", 2021),
    (
        "福州闽宁农特产品展示中心有限公司",
        T.EXHIBITION_CENTRE,
        "350100",
        "350104",
        "仓山区",
        "浦上大道216号",
        2022,
    ),
    (
        "福州榕城连锁超市有限公司（闽宁消费帮扶专区）",
        T.SUPERMARKET,
        "350100",
        "350103",
        "台江区",
        "八一七中路88号",
        2022,
    ),
    (
        "厦门宁夏名特优农产品集散中心",
        T.EXHIBITION_CENTRE,
        "350200",
        "350206",
        "湖里区",
        "湖里大道33号",
        2021,
    ),
    (
        "厦门市思明区机关事务服务中心",
        T.GOVERNMENT,
        "350200",
        "350203",
        "思明区",
        "湖滨南路188号",
        2021,
    ),
    ("厦门市第一中学", T.SCHOOL, "350200", "350203", "思明区", "公园东路1号", 2022),
    ("厦门鹭岛优品电子商务有限公司", T.ECOMMERCE, "350200", "350206", "湖里区", "观日路24号", 2023),
    ("厦门港口发展集团有限公司", T.ENTERPRISE, "350200", "350206", "湖里区", "东港北路31号", 2023),
    ("莆田市城厢区机关事务服务中心", T.GOVERNMENT, "350300", "350302", "城厢区", "东岩路1号", 2022),
    ("莆田学院", T.SCHOOL, "350300", "350302", "城厢区", "学园中街1133号", 2021),
    ("莆田市第一医院", T.HOSPITAL, "350300", "350302", "城厢区", "南门西路449号", 2023),
    ("三明市总工会", T.UNION, "350400", "350404", "三元区", "列东街15号", 2021),
    ("永安市档案馆", T.GOVERNMENT, "350400", "350481", "永安市", "燕江中路12号", 2023),
    (
        "泉州市丰泽区机关事务服务中心",
        T.GOVERNMENT,
        "350500",
        "350503",
        "丰泽区",
        "东海大街1号",
        2021,
    ),
    ("泉州市第一医院", T.HOSPITAL, "350500", "350502", "鲤城区", "东街250号", 2021),
    ("晋江市总工会", T.UNION, "350500", "350582", "晋江市", "世纪大道88号", 2022),
    (
        "泉州闽宁协作特色农产品展销馆有限公司",
        T.EXHIBITION_CENTRE,
        "350500",
        "350503",
        "丰泽区",
        "田安南路66号",
        2023,
    ),
    ("漳州市第二医院", T.HOSPITAL, "350600", "350602", "芗城区", "胜利东路88号", 2022),
    ("漳州市芗城区实验小学", T.SCHOOL, "350600", "350602", "芗城区", "新华西路35号", 2023),
    ("漳州市交通发展集团有限公司", T.ENTERPRISE, "350600", "350603", "龙文区", "九龙大道1号", 2022),
    (
        "南平市延平区机关事务服务中心",
        T.GOVERNMENT,
        "350700",
        "350702",
        "延平区",
        "八一路301号",
        2022,
    ),
    (
        "武夷山市旅游发展集团有限公司",
        T.ENTERPRISE,
        "350700",
        "350782",
        "武夷山市",
        "崇阳大道1号",
        2023,
    ),
    (
        "南平武夷优选商贸有限公司（闽宁消费帮扶专区）",
        T.SUPERMARKET,
        "350700",
        "350702",
        "延平区",
        "滨江中路50号",
        2024,
    ),
    ("龙岩学院", T.SCHOOL, "350800", "350802", "新罗区", "东肖北路1号", 2021),
    ("龙岩市新罗区人民医院", T.HOSPITAL, "350800", "350802", "新罗区", "九一北路102号", 2022),
    (
        "龙岩闽西山海电子商务有限公司",
        T.ECOMMERCE,
        "350800",
        "350802",
        "新罗区",
        "龙岩大道168号",
        2024,
    ),
    (
        "宁德市蕉城区机关事务服务中心",
        T.GOVERNMENT,
        "350900",
        "350902",
        "蕉城区",
        "天湖东路1号",
        2022,
    ),
    ("宁德市医院", T.HOSPITAL, "350900", "350902", "蕉城区", "鹤峰路13号", 2023),
    ("福安市总工会", T.UNION, "350900", "350981", "福安市", "阳头街道富春路9号", 2024),
]
DEMO_AGENCY_NAME = "福州第一中学"
NO_CANTEEN = {"永安市档案馆"}
BUDGET_UNITS = {T.GOVERNMENT, T.SCHOOL, T.HOSPITAL}
AREA_CODES = {
    "350100": "0591",
    "350200": "0592",
    "350300": "0594",
    "350400": "0598",
    "350500": "0595",
    "350600": "0596",
    "350700": "0599",
    "350800": "0597",
    "350900": "0593",
}
# 统一社会信用代码: registration authority and kind (11 机关, 12 事业单位, 81 工会, 91 企业).
CODE_PREFIX = {T.GOVERNMENT: "11", T.SCHOOL: "12", T.HOSPITAL: "12", T.UNION: "81"}
SURNAMES = "陈林黄张吴王郑李刘蔡杨许谢周"
GIVEN_NAMES = [
    "建平",
    "晓峰",
    "丽华",
    "志强",
    "秀英",
    "文斌",
    "海燕",
    "国栋",
    "美玲",
    "振华",
    "雅琴",
    "明辉",
]

# What each kind of buyer buys (category slugs), and how much a line is worth in 2021 (yuan).
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


def credit_code(prefix: str, division: str, rng: random.Random) -> str:
    """A unified social credit code: prefix, division, a GB 11714 organisation code with its
    own check digit, and the USCC check digit."""
    if prefix == "91":
        org = "MA" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(6))
    else:
        org = "00" + "".join(rng.choice("0123456789") for _ in range(6))
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    check = 11 - sum(int(c, 36) * w for c, w in zip(org, weights, strict=True)) % 11
    body = prefix + division + org + {10: "X", 11: "0"}.get(check, str(check))
    return body + uscc.calc_check_digit(body)


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=TZ)


def _office_hours(moment: datetime, rng: random.Random) -> datetime:
    """Move a moment into 8:00–19:00 local time (later the same day or the next morning)."""
    moment = moment.astimezone(TZ)
    if moment.hour < 8:
        return _at(moment.date(), 8, rng.randrange(60))
    if moment.hour >= 19:
        return _at(moment.date() + timedelta(days=1), 8 + rng.randrange(3), rng.randrange(60))
    return moment


def _later(moment: datetime, rng: random.Random, low_hours: float, high_hours: float) -> datetime:
    minutes = rng.randint(int(low_hours * 60), int(high_hours * 60))
    return _office_hours(moment + timedelta(minutes=minutes), rng)


# ---------------------------------------------------------------------------------------------
# People and organisations


@dataclass
class Cast:
    operator: User
    agencies: list[Agency] = field(default_factory=list)
    since: dict[int, int] = field(default_factory=dict)  # agency id → year it started buying
    address: dict[int, str] = field(default_factory=dict)  # agency id → delivery address
    buyers: dict[int, User] = field(default_factory=dict)  # agency id → buyer
    staff: dict[int, User] = field(default_factory=dict)  # supplier id → staff member
    password_hash: str = ""


def _demo_user(
    email: str, role: str, cast: Cast, *, agency: Agency | None = None, supplier: Any = None
) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        # One hash for every extra account (the demo password), instead of one slow hash each.
        cast.password_hash = cast.password_hash or make_password(DEMO_PASSWORD)
        user = User.objects.create(email=email, role=role, password=cast.password_hash)
        if agency is not None:
            agency_member_add(user, agency)
        if supplier is not None:
            supplier_member_add(user, supplier)
    return user


def _agencies(progress, cast: Cast) -> None:
    cities = {city.code: city for city in City.objects.all()}
    for n, (name, kind, city_code, division, district, street, since) in enumerate(
        progress(AGENCIES, description="agencies")
    ):
        rng = random.Random(f"{SEED}-agency-{n}")
        code = credit_code(CODE_PREFIX.get(kind, "91"), division, rng)
        agency = Agency.objects.filter(credit_code=code).first()
        if agency is None:
            city = cities[city_code]
            contact = rng.choice(SURNAMES) + rng.choice(GIVEN_NAMES)
            phone = f"{AREA_CODES[city_code]}-{rng.randint(2, 8)}{rng.randrange(10**6, 10**7)}"
            joined = _at(date(since, 1, 4), 10) - timedelta(days=rng.randint(10, 60))
            with time_machine.travel(joined, tick=False):
                agency = agency_services.agency_create(
                    acting_user=cast.operator,
                    data=agency_services.AgencyInput(
                        name=name,
                        credit_code=code,
                        type=kind,
                        city_id=city.pk,
                        district=district,
                        contact_name=contact,
                        contact_phone=phone,
                    ),
                )
        cast.since[agency.pk] = since
        cast.address[agency.pk] = f"{agency.city.name}{district}{street}"
        cast.agencies.append(agency)


def _buyers(cast: Cast) -> None:
    """A buyer account per agency; the demo AGENCY account buys for 福州第一中学."""
    demo_agency = next(a for a in cast.agencies if a.name == DEMO_AGENCY_NAME)
    demo_buyer = User.objects.filter(
        no_membership("agency"), email=DEMO_ACCOUNTS[Role.AGENCY]
    ).first()
    if demo_buyer is not None:
        agency_member_add(demo_buyer, demo_agency)
    for n, agency in enumerate(cast.agencies, start=1):
        buyer = agency.staff.filter(role=Role.AGENCY, is_active=True).order_by("pk").first()
        cast.buyers[agency.pk] = buyer or _demo_user(
            f"buyer{n:02d}@agency.demo.shanhai.cn", Role.AGENCY, cast, agency=agency
        )


def _supplier_staff(cast: Cast, supplier_ids: list[int]) -> None:
    for supplier in Supplier.objects.filter(pk__in=supplier_ids).order_by("pk"):
        member = supplier.staff.filter(role=Role.SUPPLIER, is_active=True).order_by("pk").first()
        cast.staff[supplier.pk] = member or _demo_user(
            f"staff-{supplier.credit_code.lower()}@supplier.demo.shanhai.cn",
            Role.SUPPLIER,
            cast,
            supplier=supplier,
        )


# ---------------------------------------------------------------------------------------------
# The plan: checkouts and what happens to each order, as dated steps


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


class Planner:
    def __init__(self, cast: Cast, items: list[Item], now: datetime):
        self.cast, self.items, self.agencies, self.now = cast, items, cast.agencies, now
        self.steps: list[Step] = []
        self.checkouts: list[CheckoutPlan] = []
        self.upheld_quality: set[int] = set()  # suppliers with an upheld quality complaint
        self.spend: Counter = Counter()  # (agency id, year) → planned value

    def add(self, when: datetime, run: Callable[[], Any]) -> bool:
        """Schedule a step unless it would happen in the future; later steps of the same
        order are then dropped by the caller, so the order simply stops where it is."""
        if when > self.now - SAFETY:
            return False
        self.steps.append(Step(when, len(self.steps), run))
        return True

    # -- baskets ---------------------------------------------------------------------------

    def basket(self, rng: random.Random, agency: Agency, year: int) -> list[tuple[Item, int]]:
        categories, line_value, (low, high) = BASKETS[agency.type]
        pool = [i for i in self.items if categories is None or i.category in categories]
        if agency.type == T.UNION:
            pool = [i for i in pool if i.gift or i.category in ("goji", "wine")] or pool
        growth = 1 + 0.08 * (year - FIRST_YEAR)
        if agency.name in NO_CANTEEN:
            growth *= 0.15
        chosen = rng.sample(pool, min(len(pool), rng.randint(low, high)))
        lines = []
        for item in chosen:
            value = line_value * growth * rng.lognormvariate(0, 0.35)
            quantity = max(item.moq, round(value / float(item.price)))
            lines.append((item, quantity))
        return lines

    def placed_in(self, rng: random.Random, agency: Agency, year: int, last: datetime) -> datetime:
        weights = UNION_MONTH_WEIGHTS if agency.type == T.UNION else MONTH_WEIGHTS
        months = [m for m in range(1, 13) if date(year, m, 1) <= last.date()]
        month = rng.choices(months, weights=[weights[m - 1] for m in months])[0]
        days = calendar.monthrange(year, month)[1]
        first_day = date(year, 1, 4) if month == 1 else date(year, month, 1)
        for _ in range(20):
            day = first_day + timedelta(days=rng.randrange(days - first_day.day + 1))
            moment = _at(day, rng.randint(8, 17), rng.randrange(60))
            if day.weekday() < 5 and moment <= last:
                return moment
        return min(last, _at(first_day, 9))

    def new_checkout(
        self, rng: random.Random, agency: Agency, placed: datetime, lines, ship_within=None
    ) -> CheckoutPlan:
        plan = CheckoutPlan(
            number=len(self.checkouts) + 1,
            agency=agency,
            placed=placed,
            lines=lines,
            ship_within=ship_within or rng.choices((7, 15, 30), weights=(6, 3, 1))[0],
        )
        for item, quantity in lines:
            plan.orders.setdefault(item.supplier_id, OrderPlan(item.supplier_id))
            self.spend[agency.pk, placed.year] += item.price * quantity
        self.checkouts.append(plan)
        self.add(placed, partial(self.do_checkout, plan))
        return plan

    # -- lifecycles ------------------------------------------------------------------------

    def history(self, rng: random.Random, plan: CheckoutPlan) -> None:
        """A past checkout: each supplier's order gets a fate, mostly completed."""
        for order in plan.orders.values():
            roll = rng.random()
            if roll < 0.04:
                self.cancelled(rng, plan, order, by_buyer=True)
            elif roll < 0.075:
                self.cancelled(rng, plan, order, by_buyer=False)
            else:
                paid = roll >= 0.09  # a few accepted orders stay unpaid (arrears)
                complete = roll >= 0.20
                self.fulfilled(rng, plan, order, paid=paid, complete=complete)

    def cancelled(self, rng, plan: CheckoutPlan, order: OrderPlan, *, by_buyer: bool) -> None:
        when = _later(plan.placed, rng, 1, 40)
        if by_buyer:
            self.add(when, partial(self.do_cancel, plan, order, rng.choice(CANCEL_REASONS)))
        else:
            self.add(when, partial(self.do_reject, order, rng.choice(REJECT_REASONS)))

    def fulfilled(
        self,
        rng: random.Random,
        plan: CheckoutPlan,
        order: OrderPlan,
        *,
        paid: bool,
        complete: bool,
    ) -> None:
        """Confirm, ship, accept, then pay, invoice and complete as asked, with the odd partial
        acceptance, late shipment, complaint and refund. Steps that would lie in the future are
        dropped, which leaves recent orders in the state they have reached today."""
        confirmed = _later(plan.placed, rng, 2, 40)
        if not self.add(confirmed, partial(self.do_confirm, order)):
            return
        if rng.random() < 0.05:  # late: shipped after the latest ship date
            shipped = _later(
                plan.placed, rng, 24 * (plan.ship_within + 1), 24 * (plan.ship_within + 4)
            )
        else:
            shipped = _later(confirmed, rng, 12, 24 * max(1, plan.ship_within - 2))
        tracking = rng.choice(CARRIERS) + str(rng.randrange(10**11, 10**12))
        if not self.add(shipped, partial(self.do_ship, order, tracking)):
            return
        accepted = _later(shipped, rng, 48, 24 * 6)
        partial_acceptance = rng.random() < 0.10
        if not self.add(accepted, partial(self.do_accept, plan, order, partial_acceptance)):
            return
        complaint_kind = None
        if rng.random() < 0.08 or (partial_acceptance and rng.random() < 0.3):
            complaint_kind = rng.choices(
                list(COMPLAINTS),
                weights=(4, 3, 3 if partial_acceptance else 2, 1),
            )[0]
        resolved = upheld = None
        if complaint_kind:
            complained = _later(accepted, rng, 2, 72)
            text = rng.choice(COMPLAINTS[complaint_kind])
            if self.add(complained, partial(self.do_complain, plan, order, complaint_kind, text)):
                upheld = rng.random() < 0.5
                if upheld and complaint_kind == ComplaintKind.QUALITY:
                    # Keep every supplier well below the exit rule (3 upheld within a year).
                    upheld = order.supplier_id not in self.upheld_quality
                    self.upheld_quality.add(order.supplier_id)
                resolved = _later(complained, rng, 48, 24 * 10)
                if rng.random() < 0.1 or not self.add(
                    resolved, partial(self.do_resolve, order, upheld)
                ):
                    resolved = upheld = None
        if not paid:
            return
        started = _later(accepted, rng, 1, 72)
        transferred = _later(started, rng, 24 * 3, 24 * 25)
        invoiced = _later(accepted, rng, 12, 24 * 5)
        has_invoice = complete or rng.random() < 0.5
        if has_invoice:
            self.add(invoiced, partial(self.do_invoice, order))
        # Some buyers choose 对公转账 in the app first; the others just send the money.
        if rng.random() < 0.35 and not self.add(started, partial(self.do_pay_start, plan, order)):
            return
        if not self.add(transferred, partial(self.do_pay, order)):
            return
        if complete and has_invoice:
            self.add(
                _later(max(invoiced, transferred), rng, 24, 24 * 5),
                partial(self.do_complete, plan, order),
            )
        roll = rng.random()
        if upheld and complaint_kind == ComplaintKind.QUALITY:
            when = _later(max(resolved, transferred), rng, 24, 24 * 4)
            self.add(when, partial(self.do_refund, order, Decimal("0.15"), QUALITY_REFUND_REASON))
        elif roll < 0.015:
            when = _later(transferred, rng, 24 * 5, 24 * 40)
            self.add(when, partial(self.do_refund, order, None, rng.choice(FULL_REFUND_REASONS)))
        elif roll < 0.07:
            share = Decimal(rng.choice(("0.05", "0.10", "0.20", "0.30")))
            when = _later(transferred, rng, 24 * 3, 24 * 60)
            self.add(
                when, partial(self.do_refund, order, share, rng.choice(PARTIAL_REFUND_REASONS))
            )

    # -- the steps, each one service call as the right person --------------------------------

    def buyer(self, plan: CheckoutPlan) -> User:
        return self.cast.buyers[plan.agency.pk]

    def do_checkout(self, plan: CheckoutPlan) -> None:
        for item, quantity in plan.lines:
            ProductVariant.objects.filter(pk=item.variant_id, stock__lt=quantity + 20).update(
                stock=F("stock") + quantity + 300
            )
        orders = checkout_services.checkout_create(
            acting_user=self.buyer(plan),
            lines=[checkout_services.CheckoutLine(i.variant_id, q) for i, q in plan.lines],
            shipping=checkout_services.ShippingAddress(
                plan.agency.contact_name,
                plan.agency.contact_phone,
                self.cast.address[plan.agency.pk],
            ),
            idempotency_key=f"demo-checkout-{plan.number:05d}",
            ship_within_days=plan.ship_within,
        )
        for order in orders:
            plan.orders[order.supplier_id].order_id = order.pk

    def staff(self, order: OrderPlan) -> User:
        return self.cast.staff[order.supplier_id]

    def do_confirm(self, order: OrderPlan) -> None:
        order_services.order_confirm(acting_user=self.staff(order), order_id=order.order_id)

    def do_reject(self, order: OrderPlan, reason: str) -> None:
        order_services.order_reject(
            acting_user=self.staff(order), order_id=order.order_id, reason=reason
        )

    def do_cancel(self, plan: CheckoutPlan, order: OrderPlan, reason: str) -> None:
        order_services.order_cancel(
            acting_user=self.buyer(plan), order_id=order.order_id, reason=reason
        )

    def do_ship(self, order: OrderPlan, tracking: str) -> None:
        order_services.order_ship(
            acting_user=self.staff(order), order_id=order.order_id, tracking_number=tracking
        )

    def do_accept(self, plan: CheckoutPlan, order: OrderPlan, partially: bool) -> None:
        accepted = []
        if partially:
            line = OrderLine.objects.filter(order_id=order.order_id).order_by("-quantity").first()
            short = max(1, line.quantity // 12)
            accepted.append(order_services.AcceptedLine(line.pk, line.quantity - short))
        order_services.order_accept(
            acting_user=self.buyer(plan), order_id=order.order_id, lines=accepted
        )

    def do_complain(self, plan: CheckoutPlan, order: OrderPlan, kind: str, text: str) -> None:
        complaint = complaint_services.complaint_create(
            acting_user=self.buyer(plan), order_id=order.order_id, kind=kind, description=text
        )
        order.complaint_id = complaint.pk

    def do_resolve(self, order: OrderPlan, upheld: bool) -> None:
        complaint_services.complaint_resolve(
            acting_user=self.cast.operator,
            complaint_id=order.complaint_id,
            upheld=upheld,
            note=UPHELD_NOTE if upheld else DISMISSED_NOTE,
        )

    def do_pay_start(self, plan: CheckoutPlan, order: OrderPlan) -> None:
        payment_services.payment_create(
            acting_user=self.buyer(plan),
            order_id=order.order_id,
            method=PaymentMethod.BANK_TRANSFER,
        )

    def do_pay(self, order: OrderPlan) -> None:
        day = timezone.localdate()
        payment_services.payment_record_transfer(
            acting_user=self.cast.operator,
            order_id=order.order_id,
            reference=f"CMB{day:%Y%m%d}{order.order_id:08d}",
        )

    def do_invoice(self, order: OrderPlan) -> None:
        number, code, value = Order.objects.values_list(
            "number", "supplier__credit_code", "accepted_value"
        ).get(pk=order.order_id)
        order_services.order_invoice_attach(
            acting_user=self.staff(order),
            order_id=order.order_id,
            # 全电发票: 20 digits, year and issuing region (64 Ningxia) first.
            number=f"{timezone.localdate():%y}642000{order.order_id:012d}",
            seller_credit_code=code,
            amount=value,
        )

    def do_complete(self, plan: CheckoutPlan, order: OrderPlan) -> None:
        order_services.order_complete(acting_user=self.buyer(plan), order_id=order.order_id)

    def do_refund(self, order: OrderPlan, share: Decimal | None, reason: str) -> None:
        paid, refunded = Order.objects.values_list("paid_amount", "refunded_amount").get(
            pk=order.order_id
        )
        left = paid - refunded
        amount = left if share is None else min(left, (paid * share).quantize(Decimal("0.01")))
        if amount > 0:
            # Operators book most refunds; suppliers refund their own orders too.
            actor = self.cast.operator if order.order_id % 3 else self.staff(order)
            payment_services.order_refund(
                acting_user=actor, order_id=order.order_id, amount=amount, reason=reason
            )

    def do_import(self, data: bytes) -> None:
        contribution_services.contribution_import(
            acting_user=self.cast.operator, filename=IMPORT_FILENAME, data=data
        )

    def do_plan(self, agency: Agency, year: int, canteen_total: Decimal, ratio: Decimal) -> None:
        agency_services.reserved_share_plan_set(
            acting_user=self.cast.operator,
            agency_id=agency.pk,
            year=year,
            canteen_total=canteen_total,
            ratio=ratio,
            no_canteen=agency.name in NO_CANTEEN,
        )


# ---------------------------------------------------------------------------------------------
# Putting the plan together


def _items() -> list[Item]:
    today = timezone.localdate()
    variants = (
        ProductVariant.objects.filter(
            product__in=Product.objects.sellable(today), stock__gte=F("minimum_order_quantity")
        )
        .select_related("product__category")
        .order_by("sku")
    )
    return [
        Item(
            variant_id=v.pk,
            supplier_id=v.product.supplier_id,
            category=v.product.category.slug,
            price=v.unit_price,
            moq=v.minimum_order_quantity,
            gift="礼盒" in v.spec or v.unit == "盒",
        )
        for v in variants
    ]


def _years(planner: Planner, now: datetime) -> None:
    """Ordinary buying from 2021 to a month ago, one random stream per year (so past years do
    not change with today's date)."""
    for year in range(FIRST_YEAR, now.year + 1):
        rng = random.Random(f"{SEED}-{year}")
        last = min(_at(date(year, 12, 31), 18), now - timedelta(days=35))
        if last.year < year:
            continue
        budget = YEAR_VALUE.get(year, LATER_YEAR_VALUE) * _season_share(year, last)
        buyers = [a for a in planner.agencies if planner.cast.since[a.pk] <= year]
        weights = [BUYING_WEIGHT.get(a.type, 1.0) for a in buyers]
        planned = 0.0
        # Budget units with a reserved share buy for their canteens at least once a plan year.
        regulars = [a for a in buyers if year in PLAN_YEARS and a.type in BUDGET_UNITS]
        while planned < budget or regulars:
            agency = regulars.pop() if regulars else rng.choices(buyers, weights=weights)[0]
            placed = planner.placed_in(rng, agency, year, last)
            lines = planner.basket(rng, agency, year)
            planned += sum(float(item.price) * quantity for item, quantity in lines)
            planner.history(rng, planner.new_checkout(rng, agency, placed, lines))


def _season_share(year: int, last: datetime) -> float:
    """How much of a year's buying happens up to `last`, by the seasonal month weights."""
    done = 0.0
    for month, weight in enumerate(MONTH_WEIGHTS, start=1):
        days = calendar.monthrange(year, month)[1]
        if (year, month) < (last.year, last.month):
            done += weight
        elif (year, month) == (last.year, last.month):
            done += weight * last.day / days
    return done / sum(MONTH_WEIGHTS)


def _recent(planner: Planner, now: datetime) -> None:
    """The last weeks, whatever today is: orders waiting in every state (some for the demo
    agency to pay by card), and a transfer recorded today so this year is never empty."""
    rng = random.Random(f"{SEED}-recent")
    demo = next(a for a in planner.agencies if a.name == DEMO_AGENCY_NAME)
    others = [a for a in planner.agencies if a.name not in NO_CANTEEN]
    # (days ago, how far it gets, buyer)
    recent = [
        (1, "place", None),
        (2, "place", demo),
        (3, "confirm", None),
        (5, "confirm", None),
        (21, "confirm", None),  # past its latest ship date: shows as late
        (6, "ship", demo),
        (9, "ship", None),
        (12, "accept", demo),
        (16, "accept", demo),
        (14, "accept", None),
        (4, "cancel", None),
        (8, "reject", None),
    ]
    for days_ago, reach, agency in recent:
        agency = agency or rng.choice(others)
        placed = now - timedelta(days=days_ago, hours=rng.randint(1, 6))
        item = rng.choice([i for i in planner.items if i.moq > 1])
        lines = [(item, item.moq * rng.randint(10, 60))]
        plan = planner.new_checkout(rng, agency, placed, lines, ship_within=7)
        (order,) = plan.orders.values()
        if reach == "cancel":
            planner.add(
                placed + timedelta(minutes=30),
                partial(planner.do_cancel, plan, order, CANCEL_REASONS[0]),
            )
        elif reach == "reject":
            planner.add(
                placed + timedelta(minutes=45), partial(planner.do_reject, order, REJECT_REASONS[0])
            )
        elif reach != "place":
            times = [
                placed + timedelta(hours=2),
                placed + timedelta(days=2),
                placed + timedelta(days=4),
            ]
            tracking = f"SF{rng.randrange(10**11, 10**12)}"
            actions = [
                partial(planner.do_confirm, order),
                partial(planner.do_ship, order, tracking),
                partial(planner.do_accept, plan, order, False),
            ]
            depth = {"confirm": 1, "ship": 2, "accept": 3}[reach]
            for when, action in zip(times[:depth], actions[:depth], strict=True):
                planner.add(when, action)
    # Accepted a while ago, paid by transfer today (just after midnight if it is that early).
    agency = rng.choice(others)
    placed = now - timedelta(days=25)
    item = rng.choice([i for i in planner.items if i.moq > 1])
    plan = planner.new_checkout(rng, agency, placed, [(item, item.moq * 40)], ship_within=7)
    (order,) = plan.orders.values()
    midnight = datetime.combine(now.date(), time(0), tzinfo=TZ)
    paid = max(now - timedelta(hours=1), midnight + (now - midnight) / 2)
    for when, action in [
        (placed + timedelta(hours=3), partial(planner.do_confirm, order)),
        (placed + timedelta(days=2), partial(planner.do_ship, order, "SF100000000001")),
        (placed + timedelta(days=6), partial(planner.do_accept, plan, order, False)),
        (placed + timedelta(days=7), partial(planner.do_pay_start, plan, order)),
        (paid - timedelta(minutes=1), partial(planner.do_pay, order)),
    ]:
        if when < now:
            planner.steps.append(Step(when, len(planner.steps), action))


def _share_plans(planner: Planner, now: datetime) -> None:
    """Budget units file their reserved share before each year: canteen food total and a ratio
    of 10–20%, sized so some are ahead of their share and some behind."""
    rng = random.Random(f"{SEED}-plans")
    for agency in planner.agencies:
        if agency.type not in BUDGET_UNITS:
            continue
        for year in PLAN_YEARS:
            filed = _at(date(year - 1, 12, 15 + rng.randrange(10)), 10)
            if filed > now or planner.cast.since[agency.pk] > year:
                continue
            ratio = Decimal(rng.choice(("0.10", "0.12", "0.15", "0.18", "0.20")))
            expected = float(planner.spend[agency.pk, year]) * 0.85
            if expected:
                reach = rng.uniform(0.7, 1.35)
                total = expected / (float(ratio) * reach)
            else:
                total = rng.uniform(300_000, 1_500_000)
            canteen_total = Decimal(max(10_000, round(total, -4)))
            planner.add(filed, partial(planner.do_plan, agency, year, canteen_total, ratio))


def _import_file() -> bytes:
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


def _summary(agencies: list[Agency], skipped: bool) -> str:
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


def load(progress) -> str:
    cast = Cast(operator=User.objects.get(email=DEMO_ACCOUNTS[Role.OPERATOR]))
    _agencies(progress, cast)
    _buyers(cast)
    if Order.objects.filter(agency__in=cast.agencies).exists():
        return _summary(cast.agencies, skipped=True)
    items = _items()
    _supplier_staff(cast, sorted({i.supplier_id for i in items}))
    now = timezone.now().astimezone(TZ)
    planner = Planner(cast, items, now)
    _years(planner, now)
    _recent(planner, now)
    _share_plans(planner, now)
    if not ContributionImport.objects.filter(filename=IMPORT_FILENAME).exists() and IMPORT_AT < now:
        planner.add(IMPORT_AT, partial(planner.do_import, _import_file()))
    for step in progress(sorted(planner.steps), description="orders 2021–today"):
        with time_machine.travel(step.when, tick=False):
            step.run()
    return _summary(cast.agencies, skipped=False)
