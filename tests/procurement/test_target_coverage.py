"""Which target covers today: `targetCoverage`, `Target.coversToday` and the dashboard say it, or
say plainly that none does and how an operator adds the next plan's target. Dates are frozen on
either side of the seeded 14th-plan target (2021-01-01 to 2025-12-31)."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from procurement.models import Target
from procurement.services import contributions
from shop.accounts.models import Role
from tests.factories import UserFactory
from tests.procurement.test_dashboard import page

SHANGHAI = ZoneInfo("Asia/Shanghai")
COVERAGE = """{ targetCoverage { date currentTarget { code } coveringTargets { code } message }
    targets { code coversToday } }"""


def on(*day):
    """Freeze the clock at noon of `day` in Asia/Shanghai."""
    return time_machine.travel(datetime(*day, 12, tzinfo=SHANGHAI), tick=False)


def add_target(operator, code, start, end, **fields):
    return contributions.target_create(
        acting_user=operator,
        data=contributions.TargetInput(
            code=code,
            name=fields.pop("name", code),
            amount="1000000",
            start_date=start,
            end_date=end,
            **fields,
        ),
    )


def test_during_the_14th_plan_today_counts_toward_it(gql, operator):
    with on(2024, 7, 1):
        data = gql(COVERAGE, user=UserFactory(role=Role.AUDITOR))["data"]
    coverage = data["targetCoverage"]
    assert coverage["date"] == "2024-07-01"
    assert coverage["currentTarget"] == {"code": "minning-14th-plan"}
    assert coverage["coveringTargets"] == [{"code": "minning-14th-plan"}]
    assert coverage["message"].startswith("Today (2024-07-01) counts toward ")
    assert data["targets"] == [{"code": "minning-14th-plan", "coversToday": True}]


@pytest.mark.smoke
def test_after_2025_no_target_covers_today_and_the_answer_says_how_to_add_one(gql, operator):
    with on(2026, 3, 1):
        data = gql(COVERAGE, user=UserFactory(role=Role.AUDITOR))["data"]
    coverage = data["targetCoverage"]
    assert coverage["currentTarget"] is None
    assert coverage["coveringTargets"] == []
    assert coverage["message"].startswith(
        "No target covers today (2026-03-01): new ledger entries are booked but count toward "
        "no target."
    )
    assert "(minning-14th-plan), ended on 2025-12-31." in coverage["message"]
    assert "targetCreate" in coverage["message"]
    assert data["targets"] == [{"code": "minning-14th-plan", "coversToday": False}]


def test_once_the_next_plan_is_added_it_covers_today(gql, operator):
    with on(2026, 3, 1):
        add_target(operator, "minning-15th-plan", date(2026, 1, 1), date(2030, 12, 31))
        coverage = gql(COVERAGE, user=operator)["data"]["targetCoverage"]
    assert coverage["currentTarget"] == {"code": "minning-15th-plan"}
    assert (
        "counts toward minning-15th-plan (minning-15th-plan, 2026-01-01 to 2030-12-31)"
        in (coverage["message"])
    )


def test_a_target_starting_later_is_named_as_the_next_one(gql, operator):
    with on(2026, 3, 1):
        add_target(operator, "minning-15th-plan", date(2026, 6, 1), date(2030, 12, 31))
        coverage = gql(COVERAGE, user=operator)["data"]["targetCoverage"]
    assert coverage["currentTarget"] is None
    assert (
        "The next, minning-15th-plan (minning-15th-plan), starts on 2026-06-01."
        in (coverage["message"])
    )


def test_the_current_target_is_the_widest_of_those_covering_today(gql, operator):
    with on(2025, 5, 1):
        add_target(
            operator,
            "xiamen-2025",
            date(2025, 1, 1),
            date(2025, 12, 31),
            buyer_city="厦门市",
            parent_code="minning-14th-plan",
        )
        coverage = gql(COVERAGE, user=operator)["data"]["targetCoverage"]
    assert coverage["currentTarget"] == {"code": "minning-14th-plan"}
    assert coverage["coveringTargets"] == [{"code": "minning-14th-plan"}, {"code": "xiamen-2025"}]


@pytest.mark.parametrize("role", [Role.CONSUMER, Role.SUPPLIER])
def test_other_roles_are_refused_the_coverage(gql, db, role):
    response = gql("{ targetCoverage { message } }", user=UserFactory(role=role))
    assert [e["extensions"]["code"] for e in response["errors"]] == ["PERMISSION_DENIED"]
    assert response["data"] is None
    assert Target.objects.count() == 1


@pytest.mark.smoke
def test_the_dashboard_says_when_no_target_covers_today(client, operator):
    with on(2026, 3, 1):
        html = page(client, operator)
    assert "今天（2026-03-01）不在任何目标的期间内" in html
    assert "已于 2025-12-31 结束" in html
    assert "<code>targetCreate</code>" in html
    assert "覆盖今天" not in html


def test_the_dashboard_names_the_target_covering_today(client, operator):
    with on(2024, 7, 1):
        html = page(client, operator)
    assert "今天（2024-07-01）的采购计入：闽宁协作消费帮扶（“十四五”）" in html
    assert "覆盖今天" in html
    assert "不在任何目标的期间内" not in html
