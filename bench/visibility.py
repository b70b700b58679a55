"""Before/after timings of the visibility filter (issue 6): subqueries against literal id lists.

    .venv/bin/python bench/visibility.py [--users bench52 bench18 bench1] [--runs 3] [--check-all]

"before" is the previous filter (`owner_id IN (recursive subquery) OR pk IN (team subquery) OR
parent_id IN (globals subquery)`, still what SQLite gets); "after" is the current
`account_visibility_filter` on PostgreSQL (one query resolves the id sets, the filter carries
literal ids). For each user and read: one warm-up, then the median of `--runs` timed runs, the
whole read in this process (the id resolution included in "after"). The results of both
filters are compared (same visible ids, same summary); `--check-all` also compares the visible
ids of every manager of the database. Read-only; only databases named kam_bench* are accepted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path

import django

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository, for `kam`
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kam.settings.bench")  # DATABASE_URL: kam_bench
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402

import accounts.selectors as visibility  # noqa: E402
from accounts.models import AccountManager  # noqa: E402
from dashboard.selectors import account_list, portfolio_alerts, portfolio_countries  # noqa: E402
from relationships.selectors import portfolio_summary  # noqa: E402

PAGE_SIZE = 25


@contextlib.contextmanager
def previous_filter():
    """Swap in the subquery filter for everything that goes through `accounts_visible_to`."""
    current = visibility.account_visibility_filter
    visibility.account_visibility_filter = visibility._subquery_visibility_filter
    try:
        yield
    finally:
        visibility.account_visibility_filter = current


def visible_count(user):
    return visibility.accounts_visible_to(user).count()


def summary(user):
    return portfolio_summary(user=user)


def portfolio_page(user):
    """The dashboard portfolio page's selectors: one visible set, the first page sorted by revenue
    with its COUNT, the countries and the alerts (as dashboard.views.portfolio)."""
    visible = visibility.accounts_visible_to(user)
    rows = account_list(user=user, filters={"sort": "-revenue"}, visible=visible)
    return (
        rows.count(),
        [a.pk for a in rows[:PAGE_SIZE]],
        portfolio_countries(user=user, visible=visible),
        portfolio_alerts(user=user, visible=visible),  # each kind in a total order
    )


READS = {
    "visible count": visible_count,
    "portfolio_summary": summary,
    "portfolio page selectors": portfolio_page,
}


def timed(read, user, runs: int):
    result = read(user)  # warm-up (and the value compared between before and after)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        read(user)
        times.append((time.perf_counter() - start) * 1000)
    return result, statistics.median(times)


def visible_ids(user) -> list[int]:
    return list(visibility.accounts_visible_to(user).order_by("pk").values_list("pk", flat=True))


def check_all() -> None:
    managers = AccountManager.objects.select_related("user").order_by("pk")
    differ = []
    for manager in managers:
        after = visible_ids(manager.user)
        with previous_filter():
            before = visible_ids(manager.user)
        if before != after:
            differ.append(manager.user.username)
    print(f"visible ids compared for {len(managers)} managers: {len(differ)} differ {differ}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", nargs="+", default=["bench52", "bench18", "bench1"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--check-all", action="store_true")
    args = parser.parse_args()
    name = connection.settings_dict["NAME"]
    if not name.startswith("kam_bench") or connection.vendor != "postgresql":
        raise SystemExit(f"refusing to run on {connection.vendor} database {name!r}")

    print(f"database {name}, median of {args.runs} runs after one warm-up, ms")
    print(f"{'user':<10} {'visible':>8} {'id sets (managers/teamed/globals)':>34}  ", end="")
    print(f"{'read':<26} {'before':>9} {'after':>9}  same")
    for username in args.users:
        user = get_user_model().objects.get(username=username)
        ids = visibility.visible_id_sets(user)
        sets = f"{len(ids.managers)}/{len(ids.teamed_accounts)}/{len(ids.their_globals)}"
        count = visible_count(user)
        for label, read in READS.items():
            with previous_filter():
                before, before_ms = timed(read, user, args.runs)
            after, after_ms = timed(read, user, args.runs)
            same = "yes" if before == after else "NO"
            print(f"{username:<10} {count:>8} {sets:>34}  ", end="")
            print(f"{label:<26} {before_ms:>9.0f} {after_ms:>9.0f}  {same}")
        same_ids = visible_ids(user)
        with previous_filter():
            if visible_ids(user) != same_ids:
                print(f"{username}: the visible ids DIFFER between before and after")
    if args.check_all:
        check_all()


if __name__ == "__main__":
    main()
