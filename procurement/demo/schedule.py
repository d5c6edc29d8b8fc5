"""Putting the plan together: ordinary buying year by year, the last weeks' orders in every
state, and the budget units' reserved-share plans."""

import calendar
import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import partial

from django.db.models import F
from django.utils import timezone

from catalog.models import Product, ProductVariant
from procurement.demo.buying import (
    BUYING_WEIGHT,
    CANCEL_REASONS,
    LATER_YEAR_VALUE,
    MONTH_WEIGHTS,
    REJECT_REASONS,
    YEAR_VALUE,
    Item,
    Step,
)
from procurement.demo.clock import FIRST_YEAR, PLAN_YEARS, SEED, TZ, at
from procurement.demo.organisations import BUDGET_UNITS, DEMO_AGENCY_NAME, NO_CANTEEN
from procurement.demo.plan import Planner


def sellable_items() -> list[Item]:
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


def plan_years(planner: Planner, now: datetime) -> None:
    """Ordinary buying from 2021 to a month ago, one random stream per year (so past years do
    not change with today's date)."""
    for year in range(FIRST_YEAR, now.year + 1):
        rng = random.Random(f"{SEED}-{year}")
        last = min(at(date(year, 12, 31), 18), now - timedelta(days=35))
        if last.year < year:
            continue
        budget = YEAR_VALUE.get(year, LATER_YEAR_VALUE) * season_share(year, last)
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


def season_share(year: int, last: datetime) -> float:
    """How much of a year's buying happens up to `last`, by the seasonal month weights."""
    done = 0.0
    for month, weight in enumerate(MONTH_WEIGHTS, start=1):
        days = calendar.monthrange(year, month)[1]
        if (year, month) < (last.year, last.month):
            done += weight
        elif (year, month) == (last.year, last.month):
            done += weight * last.day / days
    return done / sum(MONTH_WEIGHTS)


def plan_recent(planner: Planner, now: datetime) -> None:
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


def plan_share_plans(planner: Planner, now: datetime) -> None:
    """Budget units file their reserved share before each year: canteen food total and a ratio
    of 10–20%, sized so some are ahead of their share and some behind."""
    rng = random.Random(f"{SEED}-plans")
    for agency in planner.agencies:
        if agency.type not in BUDGET_UNITS:
            continue
        for year in PLAN_YEARS:
            filed = at(date(year - 1, 12, 15 + rng.randrange(10)), 10)
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
