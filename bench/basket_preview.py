"""Spreadsheet basket preview (issue 17 item 3): how long 500 rows take to validate.

    nice -n 10 .venv/bin/python -m bench.basket_preview [--rows 500] [--rounds 15]
        [--database-url postgres://user@host/db]

Starts a throw-away PostgreSQL (bench/common.py) unless given a database, migrates it and makes
`--rows` sellable variants (each with a tier price) with the test factories. Then, for a CSV and
an XLSX basket of `--rows` rows (every tenth row carrying its own delivery address), it times
`--rounds` times each:

- `read`: `basket_files.read_basket` alone (decoding/unzipping and cell checks);
- `preview`: `services.baskets.basket_upload`, what `basketUpload` runs: read, resolve every SKU,
  check the checkout's rules, price at the tier, and write the upload and its lines;
- `graphql`: the whole `basketUpload` multipart request in this process (Django's test client,
  production settings), answered with every line's fields.

It prints p50/p95/max per step and the SQL statements of one preview (constant in the number of
rows: tests/procurement/test_baskets.py asserts it). Figures are printed, never asserted; the
goal is under 1 s for 500 rows. Results: bench/RESULTS-basket.md.
"""

import argparse
import io
import json
import time

from bench import common

QUERY = """mutation($file: Upload!) { basketUpload(file: $file) {
  upload { rowCount errorCount total { amount }
           lines { rowNumber sku quantity deliveryAddress productName unitPrice { amount }
                   lineTotal { amount } error { field code message } } }
  errors { code message } } }"""


def prepare(rows: int):
    from decimal import Decimal

    from tests.factories import TierPriceFactory
    from tests.procurement import flows

    user = flows.buyer()
    variants = [flows.stocked_variant(stock=10_000, price="12.50") for _ in range(rows)]
    for variant in variants:
        TierPriceFactory(variant=variant, min_quantity=100, unit_price=Decimal("11.00"))
    return user, [v.sku for v in variants]


def basket_rows(skus: list[str]) -> list[list]:
    return [
        [sku, 20 + n % 150, f"福州市鼓楼区第{n}食堂" if n % 10 == 0 else ""]
        for n, sku in enumerate(skus)
    ]


def csv_file(rows: list[list]) -> bytes:
    from procurement.basket_files import TEMPLATE_HEADER

    lines = [",".join(str(c) for c in row) for row in [TEMPLATE_HEADER, *rows]]
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def xlsx_file(rows: list[list]) -> bytes:
    from openpyxl import Workbook

    from procurement.basket_files import TEMPLATE_HEADER

    workbook = Workbook()
    sheet = workbook.active
    for row in [TEMPLATE_HEADER, *rows]:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def timed(call, rounds: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds (this process's; PostgreSQL's own work is in the wall time only)
    of each round. On a shared machine the CPU figure is the steadier one."""
    call()  # warm-up: imports, first connection, plan caches
    wall, cpu = [], []
    for _ in range(rounds):
        start, start_cpu = time.perf_counter(), time.process_time()
        call()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return wall, cpu


def summary(name: str, seconds: tuple[list[float], list[float]]) -> str:
    wall, cpu = ([s * 1000 for s in values] for values in seconds)
    return (
        f"  {name:<8} wall p50 {common.percentile(wall, 50):7.1f} ms  "
        f"p95 {common.percentile(wall, 95):7.1f} ms  max {max(wall):7.1f} ms   "
        f"CPU p50 {common.percentile(cpu, 50):7.1f} ms"
    )


def graphql_upload(user, data: bytes, name: str):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    from shop.accounts.tokens import create_access_token

    token = create_access_token(user)

    def call():
        response = Client(HTTP_HOST=common.LOOPBACK).post(
            "/graphql/",
            {
                "operations": json.dumps({"query": QUERY, "variables": {"file": None}}),
                "map": json.dumps({"0": ["variables.file"]}),
                "0": SimpleUploadedFile(name, data),
            },
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        payload = response.json()["data"]["basketUpload"]
        if payload["errors"] or payload["upload"]["errorCount"]:
            raise SystemExit(f"the benchmark's basket was refused: {str(payload)[:500]}")

    return call


def run(args) -> None:
    postgres = None
    try:
        url, postgres = common.database(args.database_url)
        common.setup_and_migrate(common.production_env(url), "Migrating and making variants …")
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from procurement.basket_files import read_basket
        from procurement.models import BasketUpload
        from procurement.services.baskets import basket_upload

        user, skus = prepare(args.rows)
        rows = basket_rows(skus)
        files = {"CSV": (csv_file(rows), "basket.csv"), "XLSX": (xlsx_file(rows), "basket.xlsx")}
        print(common.machine_summary())
        print(f"{args.rows} rows, {args.rounds} rounds after one warm-up, PostgreSQL {url!r}")
        for kind, (data, name) in files.items():
            if len(read_basket(data).rows) != args.rows:
                raise SystemExit(f"the {kind} file does not hold {args.rows} rows")
            print(f"{kind} ({len(data) / 1024:.0f} KiB)")

            def preview(data=data, name=name):
                basket_upload(acting_user=user, file_name=name, data=data)

            print(summary("read", timed(lambda data=data: read_basket(data), args.rounds)))
            print(summary("preview", timed(preview, args.rounds)))
            print(summary("graphql", timed(graphql_upload(user, data, name), args.rounds)))
            with CaptureQueriesContext(connection) as queries:
                preview()
            print(f"  SQL statements of one preview: {len(queries)}")
        print(f"({BasketUpload.objects.count()} previews written)")
    finally:
        if postgres is not None:
            postgres.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--database-url")
    common.exit_on_sigterm()
    run(parser.parse_args())


if __name__ == "__main__":
    main()
