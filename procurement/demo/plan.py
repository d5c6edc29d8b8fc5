"""The planner: checkouts and what happens to each order, as dated steps (a step that would
lie in the future is dropped, so recent orders stop in the state they have reached today)."""

import calendar
import random
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from procurement.demo.buying import (
    BASKETS,
    CANCEL_REASONS,
    CARRIERS,
    COMPLAINTS,
    FULL_REFUND_REASONS,
    MONTH_WEIGHTS,
    PARTIAL_REFUND_REASONS,
    QUALITY_REFUND_REASON,
    REJECT_REASONS,
    UNION_MONTH_WEIGHTS,
    CheckoutPlan,
    Item,
    OrderPlan,
    Step,
)
from procurement.demo.clock import FIRST_YEAR, SAFETY, at, later
from procurement.demo.organisations import NO_CANTEEN, Cast, T
from procurement.demo.steps import Steps
from procurement.models import Agency, ComplaintKind


class Planner(Steps):
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
            moment = at(day, rng.randint(8, 17), rng.randrange(60))
            if day.weekday() < 5 and moment <= last:
                return moment
        return min(last, at(first_day, 9))

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
        when = later(plan.placed, rng, 1, 40)
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
        confirmed = later(plan.placed, rng, 2, 40)
        if not self.add(confirmed, partial(self.do_confirm, order)):
            return
        if rng.random() < 0.05:  # late: shipped after the latest ship date
            shipped = later(
                plan.placed, rng, 24 * (plan.ship_within + 1), 24 * (plan.ship_within + 4)
            )
        else:
            shipped = later(confirmed, rng, 12, 24 * max(1, plan.ship_within - 2))
        tracking = rng.choice(CARRIERS) + str(rng.randrange(10**11, 10**12))
        if not self.add(shipped, partial(self.do_ship, order, tracking)):
            return
        accepted = later(shipped, rng, 48, 24 * 6)
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
            complained = later(accepted, rng, 2, 72)
            text = rng.choice(COMPLAINTS[complaint_kind])
            if self.add(complained, partial(self.do_complain, plan, order, complaint_kind, text)):
                upheld = rng.random() < 0.5
                if upheld and complaint_kind == ComplaintKind.QUALITY:
                    # Keep every supplier well below the exit rule (3 upheld within a year).
                    upheld = order.supplier_id not in self.upheld_quality
                    self.upheld_quality.add(order.supplier_id)
                resolved = later(complained, rng, 48, 24 * 10)
                if rng.random() < 0.1 or not self.add(
                    resolved, partial(self.do_resolve, order, upheld)
                ):
                    resolved = upheld = None
        if not paid:
            return
        started = later(accepted, rng, 1, 72)
        transferred = later(started, rng, 24 * 3, 24 * 25)
        invoiced = later(accepted, rng, 12, 24 * 5)
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
                later(max(invoiced, transferred), rng, 24, 24 * 5),
                partial(self.do_complete, plan, order),
            )
        roll = rng.random()
        if upheld and complaint_kind == ComplaintKind.QUALITY:
            when = later(max(resolved, transferred), rng, 24, 24 * 4)
            self.add(when, partial(self.do_refund, order, Decimal("0.15"), QUALITY_REFUND_REASON))
        elif roll < 0.015:
            when = later(transferred, rng, 24 * 5, 24 * 40)
            self.add(when, partial(self.do_refund, order, None, rng.choice(FULL_REFUND_REASONS)))
        elif roll < 0.07:
            share = Decimal(rng.choice(("0.05", "0.10", "0.20", "0.30")))
            when = later(transferred, rng, 24 * 3, 24 * 60)
            self.add(
                when, partial(self.do_refund, order, share, rng.choice(PARTIAL_REFUND_REASONS))
            )
