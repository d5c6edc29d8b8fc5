"""The auditor dashboard at /dashboard/: who may see it, and that its charts show the figures of
orders booked through the real order services."""

import re
import xml.etree.ElementTree as ET
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from procurement.dashboard import charts
from procurement.services import contributions
from shop.accounts.models import Role
from tests.factories import UserFactory
from tests.factories.accounts import PASSWORD
from tests.factories.catalog import category, county
from tests.factories.procurement import city
from tests.procurement import flows

SHANGHAI = ZoneInfo("Asia/Shanghai")
SVG = "{http://www.w3.org/2000/svg}"


def counted_order(operator, *, day, price, quantity, city_code="350100", **product):
    """An order placed, accepted and paid on `day` (so its ledger entry counts on that day)."""
    with time_machine.travel(datetime(*day, 12, tzinfo=SHANGHAI), tick=False):
        agency_type = product.pop("agency_type", "SCHOOL")
        user = flows.buyer(type=agency_type, city=city(city_code))
        variant = flows.stocked_variant(stock=1000, price=price, **product)
        (order,) = flows.place(user, (variant, quantity))
        flows.to_accepted(order, user)
        return flows.pay_by_transfer(order, operator)


@pytest.fixture
def ledger(operator):
    sample_ledger(operator)


def sample_ledger(operator):
    """92,000 CNY: 30,000 in 2024 and 62,000 in 2025, two cities, counties, categories, kinds."""
    counted_order(operator, day=(2024, 6, 3), price="100.00", quantity=300)
    counted_order(
        operator,
        day=(2025, 3, 10),
        price="1000.00",
        quantity=50,
        city_code="350200",
        agency_type="SUPERMARKET",
        origin_county=county("640323"),
        category=category("tan-sheep"),
    )
    counted_order(operator, day=(2025, 3, 11), price="1000.00", quantity=12)
    contributions.target_create(
        acting_user=operator,
        data=contributions.TargetInput(
            code="xiamen-2025",
            name="厦门市2025年消费帮扶",
            amount="100000",
            start_date=date(2025, 1, 1),
            end_date=date(2025, 12, 31),
            buyer_city="厦门市",
            parent_code="minning-14th-plan",
        ),
    )


def bar_charts(html: str) -> dict[str, dict[str, str]]:
    """Each bar chart (by its title) as {bar label: amount label}, read from the inline SVG
    (which must therefore be well-formed XML)."""
    found = {}
    for markup in re.findall(r"<svg.*?</svg>", html, flags=re.DOTALL):
        svg = ET.fromstring(markup)  # noqa: S314 - the markup is our own page's
        texts = [text.text for text in svg.iter(f"{SVG}text")]
        found[svg.get("aria-label")] = dict(zip(texts[::2], texts[1::2], strict=False))
    return found


def page(client, user, path="/dashboard/"):
    client.force_login(user)
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.smoke
@pytest.mark.parametrize("role", [Role.OPERATOR, Role.AUDITOR])
def test_operators_and_auditors_see_the_ledger_split_by_every_dimension(client, ledger, role):
    html = page(client, UserFactory(role=role))
    split = bar_charts(html)
    assert split["按年度"] == {"2024年": "3.00万元", "2025年": "6.20万元"}
    assert split["按福建城市（采购方）"] == {"厦门市": "5.00万元", "福州市": "4.20万元"}
    assert split["按宁夏县区（产地）"] == {"盐池县": "5.00万元", "中宁县": "4.20万元"}
    assert split["按品类"] == {"滩羊": "5.00万元", "枸杞": "4.20万元"}
    assert split["按类型（采购 / 帮销）"] == {"采购": "4.20万元", "帮销": "5.00万元"}
    assert "全部年份计入金额：9.20万元" in html
    assert "共 3 笔台账记录" in html
    # Progress: the seeded 14th-plan target and the city sub-target, each with its bar.
    assert "闽宁协作消费帮扶（“十四五”）" in html
    assert "目标 50.00亿元" in html
    assert "已完成 5.00万元（50.00%）" in html  # 厦门市 2025: 50,000 of 100,000
    assert "厦门市2025年消费帮扶：已完成 50.00%" in split
    assert '<a href="/exports/contributions.csv">CSV</a>' in html
    assert "<script" not in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_the_year_filter_narrows_the_splits_and_the_exports(client, ledger):
    html = page(client, UserFactory(role=Role.AUDITOR), "/dashboard/?year=2025")
    split = bar_charts(html)
    assert split["2025年 按月份"] == {"3月": "6.20万元"}
    assert split["按福建城市（采购方）"] == {"厦门市": "5.00万元", "福州市": "1.20万元"}
    assert "2025年计入金额：6.20万元" in html
    assert "/exports/contributions.csv?dateFrom=2025-01-01&amp;dateTo=2025-12-31" in html
    # Not a year: all years.
    assert "全部年份计入金额：9.20万元" in page(
        client, UserFactory(role=Role.AUDITOR), "/dashboard/?year=x"
    )


def test_an_empty_ledger_still_renders(client, operator):
    html = page(client, operator)
    assert html.count("暂无数据") == 5
    assert "全部年份计入金额：0.00元" in html


@pytest.mark.smoke
@pytest.mark.parametrize("role", [Role.AGENCY, Role.SUPPLIER, Role.CONSUMER, Role.COUNTY_REVIEWER])
def test_other_roles_are_refused(client, db, role):
    client.force_login(UserFactory(role=role))
    response = client.get("/dashboard/")
    assert response.status_code == 403
    assert "无权访问" in response.content.decode()


@pytest.mark.smoke
def test_anonymous_visitors_are_sent_to_the_login_page(client, db):
    response = client.get("/dashboard/?year=2025")
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/login/?next=/dashboard/%3Fyear%3D2025"


def test_signing_in_and_out_with_the_email_and_password(client, db):
    auditor = UserFactory(role=Role.AUDITOR, email="shen.ji@audit.gov.cn")
    form = client.get("/dashboard/login/?next=/dashboard/")
    assert form.status_code == 200 and 'name="username"' in form.content.decode()  # noqa: PT018
    response = client.post(
        "/dashboard/login/",
        {"username": auditor.email, "password": PASSWORD, "next": "/dashboard/"},
    )
    assert response.status_code == 302 and response["Location"] == "/dashboard/"  # noqa: PT018
    assert client.get("/dashboard/").status_code == 200
    assert client.post("/dashboard/logout/")["Location"] == "/dashboard/login/"
    assert client.get("/dashboard/").status_code == 302


def test_wrong_passwords_are_throttled_like_the_api_sign_in(client, db, settings):
    auditor = UserFactory(role=Role.AUDITOR)
    for _ in range(settings.LOGIN_THROTTLE_MAX_FAILURES_PER_PAIR):
        wrong = client.post("/dashboard/login/", {"username": auditor.email, "password": "nope"})
        assert "The e-mail or password is wrong" in wrong.content.decode()
    right = client.post("/dashboard/login/", {"username": auditor.email, "password": PASSWORD})
    assert right.status_code == 200
    assert "Too many failed sign-in attempts" in right.content.decode()
    assert client.get("/dashboard/").status_code == 302


def test_the_export_links_work_with_the_dashboard_session(client, ledger):
    client.force_login(UserFactory(role=Role.AUDITOR))
    response = client.get("/exports/contributions.csv?dateFrom=2025-01-01&dateTo=2025-12-31")
    assert response.status_code == 200
    lines = b"".join(response.streaming_content).decode("utf-8-sig").strip().splitlines()
    assert len(lines) == 3  # header and the two 2025 entries
    assert client.get("/exports/contributions.xlsx").status_code == 200
    client.force_login(UserFactory(role=Role.CONSUMER))
    assert client.get("/exports/contributions.csv").status_code == 403


def test_queries_do_not_grow_with_the_number_of_entries(client, operator):
    client.force_login(UserFactory(role=Role.AUDITOR))
    counted_order(operator, day=(2024, 6, 3), price="10.00", quantity=1)
    with CaptureQueriesContext(connection) as few:
        assert client.get("/dashboard/").status_code == 200
    more = [
        ("350300", "640323", "wine"),
        ("350400", "640402", "beef"),
        ("350500", "640522", "dairy"),
        ("350600", "640121MN", "herbs"),
    ]
    for n, (city_code, county_code, slug) in enumerate(more):
        counted_order(
            operator,
            day=(2021 + n, 2 + n, 1),
            price="10.00",
            quantity=1,
            city_code=city_code,
            origin_county=county(county_code),
            category=category(slug),
        )
    with CaptureQueriesContext(connection) as many:
        response = client.get("/dashboard/")
    assert "共 5 笔台账记录" in response.content.decode()
    assert len(many) == len(few), [query["sql"] for query in many.captured_queries]


def test_charts_escape_their_text_and_read_amounts_in_wan_and_yi():
    assert charts.format_cny(Decimal("5000000000")) == "50.00亿元"
    assert charts.format_cny(Decimal("123456.78")) == "12.35万元"
    assert charts.format_cny(Decimal("-15000")) == "-1.50万元"
    assert charts.format_cny(Decimal("980")) == "980.00元"
    bars = [charts.Bar("<b>退款 & 冲减</b>", Decimal("-500")), charts.Bar("枸杞", Decimal("1000"))]
    svg = ET.fromstring(charts.bar_chart(bars, title='"标题" <x>'))  # noqa: S314 - ours
    assert svg.get("aria-label") == '"标题" <x>'
    assert [t.text for t in svg.iter(f"{SVG}text")] == [
        "<b>退款 & 冲减</b>",
        "-500.00元",
        "枸杞",
        "1,000.00元",
    ]
    negative, positive = (float(r.get("x")) for r in svg.iter(f"{SVG}rect"))
    assert negative < positive  # the refund is drawn left of the zero line


def bar_links(html: str) -> dict[str, str]:
    """Each linked bar's label → its drill-down URL, read from the inline SVG."""
    links = {}
    for markup in re.findall(r"<svg.*?</svg>", html, flags=re.DOTALL):
        for link in ET.fromstring(markup).iter(f"{SVG}a"):  # noqa: S314 - our own page's markup
            links[next(link.iter(f"{SVG}text")).text] = link.get("href")
    return links


def test_each_bar_links_to_its_drill_down_keyed_by_code(client, ledger):
    links = bar_links(page(client, UserFactory(role=Role.AUDITOR), "/dashboard/?year=2025"))
    assert links["厦门市"] == "?year=2025&cityCodes=350200"
    assert links["盐池县"] == "?year=2025&counties=640323"
    assert links["滩羊"] == "?year=2025&categories=%E6%BB%A9%E7%BE%8A"
    assert links["帮销"] == "?year=2025&kinds=HELPED_SALES"


def test_following_a_drill_down_narrows_every_split_and_the_exports(client, ledger):
    html = page(client, UserFactory(role=Role.AUDITOR), "/dashboard/?year=2025&cityCodes=350200")
    split = bar_charts(html)
    assert split["按福建城市（采购方）"] == {"厦门市": "5.00万元"}
    assert split["按品类"] == {"滩羊": "5.00万元"}
    assert "2025年计入金额：5.00万元" in html
    assert "已筛选：厦门市" in html
    assert "/exports/contributions.csv?cityCodes=350200&amp;dateFrom=2025-01-01" in html
    # Drilling further keeps the first choice.
    assert bar_links(html)["滩羊"] == "?year=2025&cityCodes=350200&categories=%E6%BB%A9%E7%BE%8A"


def test_a_malformed_filter_on_the_dashboard_is_a_clear_400(client, ledger):
    client.force_login(UserFactory(role=Role.AUDITOR))
    response = client.get("/dashboard/?agencies=not-an-id")
    assert response.status_code == 400
    assert response.content.decode() == "Every ID in the filter must be a Agency ID."
