"""procurement 0014 folds the approval duties table into the agency membership rows: each
member keeps the duties recorded for them, members without a row keep the defaults, and going
back recreates the rows."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

BEFORE = ("procurement", "0013_rollup_group_order")
AFTER = ("procurement", "0014_agency_duties_on_membership")


def migrate(target):
    """Migrate procurement to `target`; the models as the database then is (the other apps at
    their latest migrations, which stay applied)."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])
    others = [node for node in executor.loader.graph.leaf_nodes() if node[0] != target[0]]
    return executor.loader.project_state([target, *others]).apps


def leaves():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


@pytest.fixture
def back_before():
    latest = leaves()
    apps = migrate(BEFORE)
    yield apps
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(latest)


def test_duties_move_onto_the_memberships_and_back(back_before):
    apps = back_before
    User = apps.get_model("accounts", "User")
    City = apps.get_model("catalog", "City")
    Agency = apps.get_model("procurement", "Agency")
    AgencyMembership = apps.get_model("procurement", "AgencyMembership")
    AgencyMemberDuties = apps.get_model("procurement", "AgencyMemberDuties")
    city, _ = City.objects.get_or_create(code="350100", defaults={"name": "福州市"})
    agency = Agency.objects.create(
        name="A", credit_code="91350100MA00000001", type="SCHOOL", city=city
    )
    people = {
        name: User.objects.create(email=f"{name}@example.cn", role="AGENCY")
        for name in ("plain", "approver", "both", "stray")
    }
    for name in ("plain", "approver", "both"):
        AgencyMembership.objects.create(user=people[name], agency=agency)
    AgencyMemberDuties.objects.create(user=people["approver"], can_buy=False, can_approve=True)
    AgencyMemberDuties.objects.create(user=people["both"], can_buy=True, can_approve=True)
    # Duties of an account that buys for no agency had no effect.
    AgencyMemberDuties.objects.create(user=people["stray"], can_buy=False, can_approve=True)

    apps = migrate(AFTER)
    rows = apps.get_model("procurement", "AgencyMembership").objects.order_by("user__email")
    assert [(r.user.email, r.agency_id, r.can_buy, r.can_approve) for r in rows] == [
        ("approver@example.cn", agency.pk, False, True),
        ("both@example.cn", agency.pk, True, True),
        ("plain@example.cn", agency.pk, True, False),
    ]

    apps = migrate(BEFORE)
    duties = apps.get_model("procurement", "AgencyMemberDuties").objects.order_by("user__email")
    assert [(d.user.email, d.can_buy, d.can_approve) for d in duties] == [
        ("approver@example.cn", False, True),
        ("both@example.cn", True, True),
    ]
