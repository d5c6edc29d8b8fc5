"""The demo's people and organisations: the Fujian agencies (through `agency_create`, each at
the moment it joined), a buyer for each (the demo AGENCY account buys for 福州第一中学) and
staff for every admitted demo supplier."""

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import time_machine
from django.contrib.auth.hashers import make_password
from stdnum.cn import uscc

from catalog.membership import supplier_member_add
from catalog.models import City, Supplier
from procurement.demo.clock import SEED, at
from procurement.membership import agency_member_add
from procurement.models import Agency, AgencyType
from procurement.services import agencies as agency_services
from shop.accounts.demo import DEMO_ACCOUNTS, DEMO_PASSWORD
from shop.accounts.models import Role, User
from shop.accounts.organisations import no_membership

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


@dataclass
class Cast:
    operator: User
    agencies: list[Agency] = field(default_factory=list)
    since: dict[int, int] = field(default_factory=dict)  # agency id → year it started buying
    address: dict[int, str] = field(default_factory=dict)  # agency id → delivery address
    buyers: dict[int, User] = field(default_factory=dict)  # agency id → buyer
    staff: dict[int, User] = field(default_factory=dict)  # supplier id → staff member
    password_hash: str = ""


def demo_user(
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


def add_agencies(progress, cast: Cast) -> None:
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
            joined = at(date(since, 1, 4), 10) - timedelta(days=rng.randint(10, 60))
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


def add_buyers(cast: Cast) -> None:
    """A buyer account per agency; the demo AGENCY account buys for 福州第一中学."""
    demo_agency = next(a for a in cast.agencies if a.name == DEMO_AGENCY_NAME)
    demo_buyer = User.objects.filter(
        no_membership("agency"), email=DEMO_ACCOUNTS[Role.AGENCY]
    ).first()
    if demo_buyer is not None:
        agency_member_add(demo_buyer, demo_agency)
    for n, agency in enumerate(cast.agencies, start=1):
        buyer = agency.staff.filter(role=Role.AGENCY, is_active=True).order_by("pk").first()
        cast.buyers[agency.pk] = buyer or demo_user(
            f"buyer{n:02d}@agency.demo.shanhai.cn", Role.AGENCY, cast, agency=agency
        )


def add_supplier_staff(cast: Cast, supplier_ids: list[int]) -> None:
    for supplier in Supplier.objects.filter(pk__in=supplier_ids).order_by("pk"):
        member = supplier.staff.filter(role=Role.SUPPLIER, is_active=True).order_by("pk").first()
        cast.staff[supplier.pk] = member or demo_user(
            f"staff-{supplier.credit_code.lower()}@supplier.demo.shanhai.cn",
            Role.SUPPLIER,
            cast,
            supplier=supplier,
        )
