"""Run by tests/procurement/test_ledger_dimensions.py in a process of its own, on a throw-away
SQLite file (argv[1]): a made-up dimension, NOTE (an entry's reason), is declared in the
registry alone, before anything reads it, as docs/architecture-howto.md says; then the ledger
is used through its public ways and what they answer is printed as JSON for the test to check.
"""

import json
import os
import sys

os.environ["DATABASE_URL"] = f"sqlite:///{sys.argv[1]}"
os.environ.pop("DATABASE_REPLICA_URL", None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")

from procurement.reports import dimensions as registry  # noqa: E402

NOTE = registry.Dimension(
    "NOTE",
    "reason",
    "reason",
    filters=(registry.FilterArgument("notes", "Reasons."),),
    export=(registry.ExportColumn("备注 note", "value"),),
    import_column=registry.ImportColumn("note", lambda text, _reference: {"reason": text}),
    offline_total=True,  # `reason` is signed in leaf version 1
)
registry.DIMENSIONS = (*registry.DIMENSIONS, NOTE)
registry.BY_NAME[NOTE.name] = NOTE

import django  # noqa: E402

django.setup()

from datetime import date  # noqa: E402
from decimal import Decimal  # noqa: E402

from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from procurement.reports import rollups  # noqa: E402
from procurement.services import contributions  # noqa: E402
from procurement.transparency import verifier  # noqa: E402
from shop.accounts.models import Role  # noqa: E402
from shop.accounts.tokens import create_access_token  # noqa: E402
from tests.factories import UserFactory  # noqa: E402
from tests.factories.catalog import credit_code  # noqa: E402

setup_test_environment()
call_command("migrate", verbosity=0)
operator = UserFactory(role=Role.OPERATOR)
auditor = UserFactory(role=Role.AUDITOR)
columns = contributions.IMPORT_COLUMNS
row = {
    "invoice_number": "FP-1",
    "seller_credit_code": credit_code(77, prefix="916405"),
    "seller_name": "宁夏某供应商",
    "buyer_name": "泉州市第一医院",
    "buyer_type": "HOSPITAL",
    "buyer_city": "泉州市",
    "purchase_date": "2025-04-02",
    "amount": "1200.50",
    "channel": "832",
    "category": "枸杞",
    "origin_county_code": "640521",
    "product_name": "枸杞干果",
    "note": "渠道补录",
}
contributions.contribution_import(
    acting_user=operator,
    filename="832.csv",
    data=(",".join(columns) + "\n" + ",".join(row[c] for c in columns) + "\n").encode(),
)
# A file made before NOTE was declared, without its column, still imports.
older = {**row, "invoice_number": "FP-2", "amount": "100.00"}
layout = contributions.IMPORT_LAYOUT
contributions.contribution_import(
    acting_user=operator,
    filename="older.csv",
    data=(",".join(layout) + "\n" + ",".join(older[c] for c in layout) + "\n").encode(),
)
contributions.contribution_adjust(
    acting_user=operator,
    data=contributions.AdjustmentInput(
        amount=Decimal("-20.00"), business_date=date(2025, 5, 1), reason="冲减"
    ),
)
rollups.rebuild()

http = Client()
auth = {"HTTP_AUTHORIZATION": f"Bearer {create_access_token(auditor)}"}


def gql(query: str, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}})
    return http.post("/graphql/", body, content_type="application/json", **auth).json()


SUMMARY = """query($f: ContributionFilterInput, $g: [ContributionDimension!]) {
    contributionSummary(filter: $f, groupBy: $g) { total { amount }
      rows { keys { dimension value label } total { amount } } } }"""
summary = gql(SUMMARY, {"g": ["NOTE"]})["data"]["contributionSummary"]["rows"]
by_entries = gql(SUMMARY, {"g": ["NOTE", "CITY", "CATEGORY"]})["data"]["contributionSummary"]
filtered = gql(SUMMARY, {"f": {"notes": ["冲减"]}})["data"]["contributionSummary"]["total"]
enum = gql('{ __type(name: "ContributionDimension") { enumValues { name } } }')
inputs = gql('{ __type(name: "ContributionFilterInput") { inputFields { name } } }')
export = http.get("/exports/contributions.csv?notes=渠道补录", **auth)
lines = b"".join(export.streaming_content).decode("utf-8-sig").strip().splitlines()

sys.stdout.write(
    json.dumps(
        {
            "import_columns": list(columns),
            "enum": [v["name"] for v in enum["data"]["__type"]["enumValues"]],
            "filter_input": [f["name"] for f in inputs["data"]["__type"]["inputFields"]],
            "summary": sorted((r["keys"][0]["value"], r["total"]["amount"]) for r in summary),
            "summary_by_entries_total": by_entries["total"]["amount"],
            "filtered_total": filtered["amount"],
            "export_header": lines[0].split(","),
            "export_rows": [line.split(",") for line in lines[1:]],
            "verifier_dimensions": list(verifier.DIMENSIONS),
        },
        ensure_ascii=False,
    )
    + "\n"
)
