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

The parts: `clock` (the calendar and seed), `organisations` (agencies, buyers, supplier staff),
`buying` (what each kind of buyer buys, the texts people write, the plan's records), `plan`
(the planner: baskets and each order's lifecycle as dated steps) and `steps` (each step one
service call), `schedule` (the years, the last weeks, the share plans), `ledger` (the 832
import and the summary).
"""

from functools import partial

import time_machine
from django.utils import timezone

from procurement.demo.clock import TZ
from procurement.demo.ledger import IMPORT_AT, IMPORT_FILENAME, import_file, summary
from procurement.demo.organisations import Cast, add_agencies, add_buyers, add_supplier_staff
from procurement.demo.plan import Planner
from procurement.demo.schedule import plan_recent, plan_share_plans, plan_years, sellable_items
from procurement.models import ContributionImport, Order
from shop.accounts.demo import DEMO_ACCOUNTS
from shop.accounts.models import Role, User


def load(progress) -> str:
    cast = Cast(operator=User.objects.get(email=DEMO_ACCOUNTS[Role.OPERATOR]))
    add_agencies(progress, cast)
    add_buyers(cast)
    if Order.objects.filter(agency__in=cast.agencies).exists():
        return summary(cast.agencies, skipped=True)
    items = sellable_items()
    add_supplier_staff(cast, sorted({i.supplier_id for i in items}))
    now = timezone.now().astimezone(TZ)
    planner = Planner(cast, items, now)
    plan_years(planner, now)
    plan_recent(planner, now)
    plan_share_plans(planner, now)
    if not ContributionImport.objects.filter(filename=IMPORT_FILENAME).exists() and IMPORT_AT < now:
        planner.add(IMPORT_AT, partial(planner.do_import, import_file()))
    for step in progress(sorted(planner.steps), description="orders 2021–today"):
        with time_machine.travel(step.when, tick=False):
            step.run()
