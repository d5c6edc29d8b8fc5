"""Concurrency rules with real concurrent PostgreSQL connections: no oversell, idempotent
checkout under simultaneous retries."""

import threading
import uuid

import pytest
from django.db import close_old_connections, connection

from catalog.models import ProductVariant
from procurement.models import Checkout, Order, OrderLine
from procurement.services import checkout
from shop.accounts.models import User
from shop.core.errors import DomainError, DomainErrors
from tests.procurement.flows import (
    ADDRESS,
    buyer,
    new_supplier,
    place,
    staff_of,
    stocked_variant,
)

pytestmark = [
    pytest.mark.postgres,
    # Real commits; reference data (counties, categories) is restored after each flush.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def run_concurrently(calls, *, catch=DomainError, caught="error", timeout=120):
    """Start every call at the same moment, each on its own thread and database connection:
    ("ok", its result) or (`caught`, the `catch` exception it raised), in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def worker(index, call):
        try:
            barrier.wait()
            results[index] = ("ok", call())
        except catch as error:
            results[index] = (caught, error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    close_old_connections()
    return results


def buy(user, variant, quantity, key=None):
    return lambda: checkout.checkout_create(
        acting_user=user,
        lines=[checkout.CheckoutLine(variant.pk, quantity)],
        shipping=ADDRESS,
        idempotency_key=key or uuid.uuid4().hex,
    )


def test_twenty_buyers_racing_for_the_last_units_never_oversell():
    assert connection.vendor == "postgresql"
    variant = stocked_variant(stock=7)
    buyers = [buyer() for _ in range(20)]
    results = run_concurrently([buy(user, variant, 1) for user in buyers])
    sold = [r for r in results if r[0] == "ok"]
    refused = [r[1] for r in results if r[0] == "error"]
    assert len(sold) == 7
    assert len(refused) == 13
    assert {error.code for error in refused} == {"INSUFFICIENT_STOCK"}
    assert all("only 0" in error.message or "left" in error.message for error in refused)
    assert ProductVariant.objects.get(pk=variant.pk).stock == 0
    assert sum(line.quantity for line in OrderLine.objects.all()) == 7


def test_uneven_quantities_never_exceed_stock():
    variant = stocked_variant(stock=50)
    calls = [
        buy(buyer(), variant, quantity)
        for quantity in (7, 9, 11, 13, 5, 8, 6, 10, 12, 4, 3, 2, 9, 7, 6, 5)
    ]
    results = run_concurrently(calls)
    sold = sum(OrderLine.objects.values_list("quantity", flat=True))
    assert sold <= 50
    assert ProductVariant.objects.get(pk=variant.pk).stock == 50 - sold
    assert sold == sum(r[1][0].lines.get().quantity for r in results if r[0] == "ok")


def test_sixteen_simultaneous_retries_with_one_key_place_one_checkout():
    variant = stocked_variant(stock=100)
    user = buyer()
    key = uuid.uuid4().hex
    results = run_concurrently([buy(user, variant, 3, key=key) for _ in range(16)])
    assert all(r[0] == "ok" for r in results)
    order_ids = {tuple(order.pk for order in r[1]) for r in results}
    assert len(order_ids) == 1
    assert (Checkout.objects.count(), Order.objects.count()) == (1, 1)
    assert ProductVariant.objects.get(pk=variant.pk).stock == 97


def test_concurrent_bookings_all_join_the_tree_once_in_one_line(settings):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from procurement import ledger
    from procurement.models import ContributionEntry, LedgerTreeNode
    from procurement.services import payments
    from procurement.transparency import store
    from tests.procurement.test_ledger_transparency import raw_key

    settings.LEDGER_SIGNING_KEY = raw_key(Ed25519PrivateKey.generate())
    from tests.factories import UserFactory
    from tests.procurement import flows

    operator = UserFactory(role="OPERATOR")
    accepted = []
    for _ in range(12):
        user = buyer()
        (order,) = flows.place(user, (stocked_variant(stock=10, price="10.00"), 2))
        flows.to_accepted(order, user)
        accepted.append(order)
    results = run_concurrently(
        [
            (
                lambda order=order: payments.payment_record_transfer(
                    acting_user=operator, order_id=order.pk, reference=f"R{order.pk}"
                )
            )
            for order in accepted
        ]
    )
    assert all(r[0] == "ok" for r in results)
    # Positions come from a sequence (no booking waits for another): unique, not necessarily
    # from 1 in a database other tests used. The tree is the line: leaves 0..11, each entry once.
    assert ContributionEntry.objects.values("position").distinct().count() == 12
    assert store.checkpoint().tree_size == 12
    leaves = LedgerTreeNode.objects.filter(level=0).order_by("index")
    assert list(leaves.values_list("index", flat=True)) == list(range(12))
    assert set(leaves.values_list("entry_id", flat=True)) == set(
        ContributionEntry.objects.values_list("pk", flat=True)
    )
    assert ledger.verify().ok


def run_each_on_its_connection(calls):
    """Like run_concurrently, but records any exception (a deadlock is an OperationalError, not
    a DomainError) instead of losing it in the thread."""
    return run_concurrently(calls, catch=Exception, caught="raised", timeout=300)


def test_sixteen_agencies_on_the_same_hot_stock_never_oversell_nor_deadlock():
    suppliers = [new_supplier() for _ in range(3)]
    hot = [stocked_variant(stock=1000, supplier=suppliers[i % 3]) for i in range(6)]
    scarce = stocked_variant(stock=20, supplier=suppliers[0])
    rounds = 3

    def agency(n):
        user = buyer()

        def checkouts():
            outcomes = []
            for r in range(rounds):
                # Every agency lists the same variants in its own order: the locks are still
                # taken in id order, so no two checkouts wait for each other in a cycle.
                basket = [(v, 1 + (n + i + r) % 3) for i, v in enumerate(hot)] + [(scarce, 1)]
                basket = basket[n % 7 :] + basket[: n % 7]
                try:
                    outcomes.append(("ok", tuple(o.pk for o in place(user, *basket))))
                except DomainErrors as error:
                    outcomes.append(("refused", {(e.field, e.code) for e in error.errors}))
            return outcomes

        return checkouts

    results = run_each_on_its_connection([agency(n) for n in range(16)])

    assert all(kind == "ok" for kind, _ in results), [r for r in results if r[0] != "ok"]
    outcomes = [outcome for _, per_agency in results for outcome in per_agency]
    placed = [o for o in outcomes if o[0] == "ok"]
    refused = [o for o in outcomes if o[0] == "refused"]
    # The scarce variant (one unit per checkout) decides: exactly its stock is sold.
    assert (len(placed), len(refused)) == (20, 16 * rounds - 20)
    for _, errors in refused:
        assert {code for _field, code in errors} == {"INSUFFICIENT_STOCK"}
    assert ProductVariant.objects.get(pk=scarce.pk).stock == 0
    for variant in [*hot, scarce]:
        sold = sum(OrderLine.objects.filter(variant=variant).values_list("quantity", flat=True))
        assert ProductVariant.objects.get(pk=variant.pk).stock == variant.stock - sold
    # All or nothing: every placed checkout has its 3 orders, every refused one left none.
    assert Order.objects.count() == 3 * len(placed) == 3 * Checkout.objects.count()


def place_behind_a_rival_write(rival_sql, params, user, *basket):
    """Hold `rival_sql` uncommitted on another connection, start the checkout, wait until it
    queues behind the rival's lock, commit the rival. Returns (the statement the checkout
    waited in, what the checkout returned or raised)."""
    import psycopg
    from django.db import connections

    params_of = {
        k: v
        for k, v in connections["default"].get_connection_params().items()
        if k != "cursor_factory"
    }
    rival = psycopg.connect(**params_of)
    rival.execute(rival_sql, params)  # uncommitted: the checkout reads the old row
    outcome: list = []

    def checkout_in_thread():
        try:
            outcome.append(place(user, *basket))
        except DomainErrors as error:
            outcome.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=checkout_in_thread)
    thread.start()
    # autocommit: inside a transaction pg_stat_activity would show its first snapshot forever
    watcher = psycopg.connect(**params_of, autocommit=True)
    waiting = ""
    for _ in range(600):  # up to 30 s for the checkout to queue behind the rival's lock
        row = watcher.execute(
            "SELECT query FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()"
        ).fetchone()
        if row:
            waiting = row[0]
            break
        threading.Event().wait(0.05)
    rival.commit()
    thread.join(timeout=60)
    rival.close()
    watcher.close()
    close_old_connections()
    (result,) = outcome
    return waiting, result


def test_stock_taken_while_the_checkout_was_being_built_refuses_it_and_places_nothing():
    """The stock is read without locks and taken by the last statement: a sale that commits in
    between makes that statement fail, and the whole checkout rolls back with the same error a
    sold-out variant gets before any lock."""
    plenty, contested = stocked_variant(stock=50), stocked_variant(stock=5, supplier=new_supplier())
    waiting, error = place_behind_a_rival_write(
        "UPDATE catalog_productvariant SET stock = 1 WHERE id = %s",
        [contested.pk],
        buyer(),
        (plenty, 10),
        (contested, 3),
    )
    assert "UPDATE catalog_productvariant AS v" in waiting
    assert isinstance(error, DomainErrors)
    assert [(e.field, e.code, e.message.endswith("only 1 箱 left.")) for e in error.errors] == [
        ("lines.1.quantity", "INSUFFICIENT_STOCK", True)
    ]
    assert [ProductVariant.objects.get(pk=v.pk).stock for v in (plenty, contested)] == [50, 1]
    assert not Checkout.objects.exists()
    assert not OrderLine.objects.exists()


def test_a_supplier_suspended_while_the_checkout_was_being_built_refuses_it():
    """The suppliers' status is read again under the share lock: a suspension that commits after
    the basket was read (and so cancelled the orders that existed then) is not missed."""
    from catalog.models import SupplierStatus

    kept, withdrawn = stocked_variant(stock=50), stocked_variant(stock=50, supplier=new_supplier())
    waiting, error = place_behind_a_rival_write(
        "UPDATE catalog_supplier SET status = %s WHERE id = %s",
        [SupplierStatus.SUSPENDED, withdrawn.product.supplier_id],
        buyer(),
        (kept, 1),
        (withdrawn, 1),
    )
    assert "FROM catalog_supplier" in waiting
    assert isinstance(error, DomainErrors)
    assert [(e.field, e.code) for e in error.errors] == [("lines.1.variantId", "NOT_SELLABLE")]
    assert [ProductVariant.objects.get(pk=v.pk).stock for v in (kept, withdrawn)] == [50, 50]
    assert not Checkout.objects.exists()
    assert not OrderLine.objects.exists()


def test_a_checkout_takes_the_stock_in_its_last_statement_and_its_count_is_fixed(settings):
    """Outside any caller's transaction (as checkoutCreate runs), with jobs as rows for workers
    (as in production): the hot rows are locked by the statement just before COMMIT, and a
    bigger basket (more lines, orders, notifications and e-mails) makes no more statements."""
    from django.test.utils import CaptureQueriesContext
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": "shop.core.job_backend.JobBackend"}}
    settings.JOBS_BACKEND = "database"

    def statements(lines_per_supplier: int, suppliers: int) -> list[str]:
        # as a request loads its user (memberships, their organisations and the duties on
        # them joined), with the agency's city, which a request reads on first use
        user = (
            User.objects.with_organisations()
            .select_related("agency_membership__agency__city")
            .get(pk=buyer().pk)
        )
        variants = [
            stocked_variant(stock=100, supplier=supplier)
            for supplier in [new_supplier() for _ in range(suppliers)]
            if staff_of(supplier)  # someone to e-mail at each supplier
            for _ in range(lines_per_supplier)
        ]
        with CaptureQueriesContext(connection) as queries:
            place(user, *[(variant, 1) for variant in variants])
        return [" ".join(q["sql"].split()) for q in queries.captured_queries]

    small, large = statements(1, 1), statements(4, 3)
    # 22 before issue 15 (the buyer's duties, a look-up of the idempotency key first, one
    # INSERT per e-mail job)
    assert len(small) == len(large) == 18
    begin = large.index("BEGIN")
    # read, check and price before the transaction: variants, tier prices
    assert begin == 2
    *before_the_stock, take_stock, commit = large[begin:]
    assert [sql.split(" (")[0] for sql in before_the_stock if sql.startswith("INSERT")] == [
        f'INSERT INTO "{table}"'
        for table in (
            "procurement_checkout",
            "procurement_order",
            "procurement_orderline",
            "procurement_orderevent",
            "core_auditevent",
            "notifications_outboundevent",
            "core_notification",
            # the e-mails of the three orders to the buyer and each supplier's staff: six jobs
            "django_tasks_database_dbtaskresult",
        )
    ]
    # due at once, for a worker to claim
    e_mails = DBTaskResult.objects.ready().filter(task_path="shop.core.notifications.send_email")
    assert e_mails.count() == 2 + 6
    assert commit == "COMMIT"
    assert take_stock.startswith("WITH catalog_version_bump AS (INSERT INTO catalog_catalogversion")
    assert "UPDATE catalog_productvariant AS v SET stock = v.stock - w.quantity" in take_stock
    assert "ORDER BY id FOR NO KEY UPDATE" in take_stock
    # nothing else in the transaction touches the variants or the version stripes
    assert not [
        sql
        for sql in before_the_stock
        if "catalog_productvariant" in sql or "catalog_catalogversion" in sql
    ]
    assert before_the_stock[-1] == "SET CONSTRAINTS ALL IMMEDIATE"
