"""Time the transaction import (POST /api/v1/transactions/import/ with a CSV upload).

    .venv/bin/python bench/import_transactions.py --database kam_bench_import --rows 100000 1000000

For each row count: a clean file (all rows created), the same file again (all already present,
nothing created) and the clean file with its last row made bad (rejected, nothing written). Each
request goes through the real view (multipart parsing, upload to a temporary file, streaming CSV,
validation, COPY + INSERT ... ON CONFLICT) via Django's test client, authenticated as a manager.
Prints seconds per case and the process's peak RSS (which includes the test client's own copy of
the encoded request body). Never part of the test suite; only databases named kam_bench* are
accepted; the database is migrated and gets its own bench data.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup(database: str) -> None:
    if not database.startswith("kam_bench"):
        sys.exit("Only databases named kam_bench* are accepted.")
    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{database}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "kam.settings.base"
    os.environ.setdefault("DJANGO_LOG_LEVEL", "ERROR")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def bench_data():
    import datetime as dt
    from decimal import Decimal

    from django.contrib.auth import get_user_model

    from accounts.models import Account, AccountManager, Customer, ExchangeRate, ProductLine

    user, _ = get_user_model().objects.get_or_create(username="bench-importer")
    manager, _ = AccountManager.objects.get_or_create(user=user, defaults={"country": "DE"})
    accounts = []
    for i in range(20):
        customer, _ = Customer.objects.get_or_create(name=f"Bench import {i}", country="DE")
        account, _ = Account.objects.get_or_create(
            customer=customer, level="national", country="DE", defaults={"owner": manager}
        )
        accounts.append(account.pk)
    ExchangeRate.objects.get_or_create(
        currency="USD", valid_from=dt.date(2020, 1, 1), defaults={"rate": Decimal("0.9")}
    )
    ProductLine.objects.get_or_create(code="BENCH", defaults={"name": "Bench"})
    return user, accounts


def write_csv(path: Path, rows: int, accounts: list[int], *, last_bad: bool) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(
            [
                "account",
                "kind",
                "date",
                "quantity",
                "unit_price",
                "currency",
                "external_reference",
                "product_line",
                "description",
                "order_reference",
            ]
        )
        for i in range(rows):
            currency = "XXX" if last_bad and i == rows - 1 else ("USD" if i % 3 else "EUR")
            writer.writerow(
                [
                    accounts[i % len(accounts)],
                    "sale",
                    f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}",
                    1 + i % 7,
                    f"{10 + i % 100}.25",
                    currency,
                    f"INV-{i:08d}",
                    "BENCH",
                    "Spare parts, bench row",
                    f"SO-{i // 10:07d}",
                ]
            )


def post(client, path: Path, source_system: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    content = path.read_bytes()
    started = time.perf_counter()
    response = client.post(
        "/api/v1/transactions/import/",
        {"file": SimpleUploadedFile("bench.csv", content), "source_system": source_system},
        format="multipart",
    )
    return time.perf_counter() - started, response


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default="kam_bench_import")
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000])
    args = parser.parse_args()
    setup(args.database)

    from django.test.utils import override_settings
    from django.urls import path
    from rest_framework.test import APIClient

    from accounts.api.imports import TransactionImportApi
    from accounts.models import Transaction

    urlconf = type(
        "BenchUrls",
        (),
        {"urlpatterns": [path("api/v1/transactions/import/", TransactionImportApi.as_view())]},
    )
    user, accounts = bench_data()
    client = APIClient()
    client.force_authenticate(user)
    print(f"{'rows':>9} {'case':<22} {'status':>6} {'seconds':>8} {'created':>9} {'present':>9}")
    with (
        tempfile.TemporaryDirectory() as tmp,
        override_settings(ROOT_URLCONF=urlconf, ALLOWED_HOSTS=["testserver"]),
    ):
        for rows in args.rows:
            clean, bad = Path(tmp, "clean.csv"), Path(tmp, "bad.csv")
            write_csv(clean, rows, accounts, last_bad=False)
            write_csv(bad, rows, accounts, last_bad=True)
            source = f"bench-{uuid.uuid4().hex[:8]}"
            before = Transaction.objects.count()
            for case, file in (("clean", clean), ("re-sent", clean), ("last row bad", bad)):
                if case == "last row bad":
                    source = f"bench-{uuid.uuid4().hex[:8]}"
                seconds, response = post(client, file, source)
                body = response.json()
                print(
                    f"{rows:>9} {case:<22} {response.status_code:>6} {seconds:>8.1f} "
                    f"{body.get('created', '-'):>9} {body.get('already_present', '-'):>9}"
                )
            print(
                f"{'':>9} file {clean.stat().st_size / 1e6:.1f} MB; "
                f"rows added {Transaction.objects.count() - before}"
            )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
