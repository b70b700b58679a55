"""Server time and SQL of every admin list page on the bench data, slowest first.

    .venv/bin/python bench/admin_pages.py [--database kam_bench] [--requests 3] [--most 15]

In process (Django's test client on `kam.settings.bench`), logged in as the superuser
`bench-admin` (created when missing: the one write), who sees every row: 100,000 accounts,
5,000,000 transactions, 380,000 classification results and the rest of the seed. For each
registered model's list page: one warm-up request, then the median of N, its query count and
the SQL time of one captured request, and that request's slowest statement. Read-only
otherwise; prints, writes no results. Not part of `make bench`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent))  # bench/ is no package

from api import setup_django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="kam_bench")
    parser.add_argument("--requests", type=int, default=3)
    parser.add_argument("--most", type=int, default=15, help="how many pages to print")
    args = parser.parse_args()
    setup_django(args.database)
    from django.contrib import admin
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_superuser": True, "is_staff": True}
    )
    client = Client()
    client.force_login(user)
    rows = []
    for model in admin.site._registry:
        path = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        client.get(path)
        times = []
        for _ in range(args.requests):
            started = time.perf_counter()
            client.get(path)
            times.append((time.perf_counter() - started) * 1000)
        with CaptureQueriesContext(connection) as queries:
            status = client.get(path).status_code
        captured = queries.captured_queries
        slowest = max(captured, key=lambda q: float(q["time"]))
        rows.append(
            (
                statistics.median(times),
                status,
                len(captured),
                sum(float(q["time"]) for q in captured) * 1000,
                float(slowest["time"]) * 1000,
                path,
                " ".join(slowest["sql"].split())[:90],
            )
        )
    print(f"{'median ms':>9} status queries {'SQL ms':>7} {'slowest':>7}  page, slowest statement")
    for median, status, count, sql, slowest, path, statement in sorted(rows, reverse=True)[
        : args.most
    ]:
        print(
            f"{median:9.0f} {status:6d} {count:7d} {sql:7.0f} {slowest:7.0f}  {path}\n"
            f"{'':43}{statement}"
        )


if __name__ == "__main__":
    main()
