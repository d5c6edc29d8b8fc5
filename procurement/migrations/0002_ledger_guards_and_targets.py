"""The ledger's database guard (PostgreSQL) and the seeded 14th-plan target.

The trigger refuses UPDATE and DELETE from any role. TRUNCATE (the table owner's operation,
like DROP) stays possible so that test databases can be flushed; in production the app's
database role must not own the table.
"""

from datetime import date
from decimal import Decimal

from django.db import migrations

APPEND_ONLY_TRIGGER = """
CREATE OR REPLACE FUNCTION procurement_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'procurement_contributionentry is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER contributionentry_append_only
    BEFORE UPDATE OR DELETE ON procurement_contributionentry
    FOR EACH STATEMENT EXECUTE FUNCTION procurement_ledger_append_only();
"""
DROP_TRIGGER = """
DROP TRIGGER IF EXISTS contributionentry_append_only ON procurement_contributionentry;
DROP FUNCTION IF EXISTS procurement_ledger_append_only();
"""


def add_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY_TRIGGER, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TRIGGER, params=None)


def seed(apps, schema_editor):
    apps.get_model("procurement", "LedgerHead").objects.get_or_create(pk=1)
    apps.get_model("procurement", "Target").objects.get_or_create(
        code="minning-14th-plan",
        defaults={
            "name": "闽宁协作消费帮扶（“十四五”）",
            "amount": Decimal("5000000000.00"),
            "start_date": date(2021, 1, 1),
            "end_date": date(2025, 12, 31),
            "buyer_province": "福建省",
            "origin_province": "宁夏回族自治区",
        },
    )


class Migration(migrations.Migration):
    dependencies = [("procurement", "0001_initial")]
    operations = [
        migrations.RunPython(add_trigger, drop_trigger),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
