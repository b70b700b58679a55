"""Server time and SQL queries of the dashboard's portfolio page and account page.

    .venv/bin/python bench/dashboard.py --database kam_bench [--requests 20] [--manager USERNAME]

Needs a seeded database (bench/seed.py) with classification results. Runs the pages in this
process through Django's test client on the bench settings (`kam.settings.bench`: DEBUG off,
database sessions, Redis cache), logged in with `force_login` (a session row: the only write).
For each subject: one warm-up request, one request whose queries are captured
(CaptureQueriesContext), then N timed requests; reports the median, p90 and fastest server
time (the whole Django stack: middleware, view, queries, template) and the query count.

Subjects, found in the data: `manager` = the manager whose visible portfolio is closest to 1,000
accounts (the issue's figure; the seed's national manager `bench53` owns exactly 1,000 and sees
1,053 with its team accounts), and for information
`lead` = the sales lead below the top with the most visible accounts (as bench/api.py). The
account page is the subject's visible account with the most transactions; its secondary sections
(assessment, investments, needs, service cases), which the page loads with htmx right after it,
are measured as their own request (`account more`), as is the portfolio page's revenue figure
(`portfolio revenue`, also loaded with htmx right after the page). For information too, no
target: the 4S matrix and, for a subject who may see it, the team page. The captured queries
of the last run are written to $TMPDIR/kam-bench/dashboard-queries-*.txt (slowest first).

Writes the "dashboard" section of bench/results.md. Never part of the test suite; only
databases named kam_bench* are accepted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent))  # bench/ is no package

from api import (
    SCRATCH,
    data_info,
    log,
    machine_info,
    setup_django,
    target_line,
    write_section,
)

TARGET_MS, TARGET_QUERIES, ABOUT = 150.0, 15, 1000


def visible_count(user) -> int:
    from accounts.selectors import accounts_visible_to

    return accounts_visible_to(user).count()


def pick_subjects(manager_name: str | None, lead_too: bool) -> list[dict]:
    from django.db.models import Count, Q

    from accounts.models import AccountManager, Transaction
    from accounts.selectors import accounts_visible_to

    managers = AccountManager.objects.select_related("user")
    if manager_name:
        chosen = managers.filter(user__username=manager_name).first()
        if chosen is None:
            sys.exit(f"No manager with the username {manager_name}.")
        manager = (visible_count(chosen.user), chosen)
    else:
        # Leads and global managers see the big portfolios; most national managers a few
        # hundred, a few (bench53) about 1,000: count only those owning at least half of it.
        candidates = (
            managers.annotate(owned=Count("owned_accounts"))
            .filter(
                Q(role="sales_lead", reports_to__isnull=False)
                | Q(level="global")
                | Q(owned__gte=ABOUT // 2)
            )
            .order_by("pk")
        )
        counted = [(visible_count(m.user), m) for m in candidates]
        if not counted:
            sys.exit("No managers in the data: seed it with bench/seed.py first.")
        manager = min(counted, key=lambda pair: (abs(pair[0] - ABOUT), pair[1].pk))
    subjects = [{"role": "manager", "manager": manager[1], "accounts": manager[0]}]
    if lead_too:
        leads = managers.filter(role="sales_lead", reports_to__isnull=False).order_by("pk")
        counted = [(visible_count(m.user), m) for m in leads]
        if counted:
            n, lead = max(counted, key=lambda pair: (pair[0], -pair[1].pk))
            if lead.pk != manager[1].pk:
                subjects.append({"role": "lead", "manager": lead, "accounts": n})
    for s in subjects:
        visible = accounts_visible_to(s["manager"].user).values("pk")
        busiest = (
            Transaction.objects.filter(account_id__in=visible)
            .values("account_id")
            .annotate(n=Count("pk"))
            .order_by("-n", "account_id")
            .first()
        )
        s["account"], s["account_transactions"] = busiest["account_id"], busiest["n"]
        log(
            f"{s['role']}: {s['manager'].user.username} ({s['manager'].role}, "
            f"{s['manager'].level}), {s['accounts']:,} visible accounts; account {s['account']} "
            f"({s['account_transactions']:,} transactions)"
        )
    return subjects


def measure(client, path: str, requests: int, dump: Path) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(path)  # warm-up
    if response.status_code != 200:
        sys.exit(f"{path} answered {response.status_code}")
    with CaptureQueriesContext(connection) as captured:
        client.get(path)
    queries = captured.captured_queries
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            sys.exit(f"{path} answered {response.status_code}")
    ordered = sorted(times)
    slowest = sorted(queries, key=lambda q: -float(q["time"]))
    dump.write_text(
        "\n\n".join(f"-- {float(q['time']) * 1000:.1f} ms\n{q['sql']}" for q in slowest) + "\n"
    )
    return {
        "path": path,
        "queries": len(queries),
        "sql_ms": sum(float(q["time"]) for q in queries) * 1000,
        "median": statistics.median(times),
        "p90": ordered[max(0, int(len(ordered) * 0.9) - 1)],
        "min": ordered[0],
        "bytes": len(response.content),
        "slowest": [(float(q["time"]) * 1000, q["sql"]) for q in slowest[:3]],
    }


def render(args, info: dict, data: str, subjects: list[dict]) -> str:
    lines = [
        "<!-- dashboard:start -->",
        "## Dashboard pages (bench/dashboard.py)",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Machine: "
        + ", ".join(f"{k} {v}" for k, v in info.items())
        + f". Data: {data}.",
        "",
        f"Server time = the whole Django stack in-process (test client, `kam.settings.bench`, "
        f"DEBUG off), {args.requests} requests after a warm-up; queries from one captured "
        "request. `manager` is the manager whose portfolio is closest to 1,000 accounts; "
        "`lead` is for information. `portfolio revenue` is the portfolio page's revenue figure "
        "and `account more` the account page's secondary sections (assessment, investments, "
        "needs, service cases): each a request of its own that the page makes with htmx once "
        "shown. The 4S matrix and the team page are for information (no target).",
        "",
        "| subject | visible accounts | page | median ms | p90 ms | fastest ms | queries | "
        "SQL ms | slowest query ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in subjects:
        who = f"{s['role']} {s['manager'].user.username} ({s['manager'].role.replace('_', ' ')})"
        for page in s["pages"]:
            r = s[page]
            lines.append(
                f"| {who} | {s['accounts']:,} | {page} `{r['path']}` | {r['median']:.0f} | "
                f"{r['p90']:.0f} | {r['min']:.0f} | {r['queries']} | {r['sql_ms']:.0f} | "
                f"{r['slowest'][0][0]:.0f} |"
            )
    lines += ["", "| target | met | figure |", "|---|---|---|"]
    main = subjects[0]
    for page in ("portfolio", "account"):
        r = main[page]
        lines.append(
            target_line(
                f"{page} page median under 150 ms ({main['accounts']:,} accounts)",
                r["median"] < TARGET_MS,
                f"{r['median']:.0f} ms"
                + ("" if r["median"] < TARGET_MS else f"; {r['median'] - TARGET_MS:.0f} ms over"),
            )
        )
        lines.append(
            target_line(
                f"{page} page at most 15 queries",
                r["queries"] <= TARGET_QUERIES,
                f"{r['queries']}"
                + ("" if r["queries"] <= TARGET_QUERIES else f"; {r['queries'] - 15} too many"),
            )
        )
    lines += [
        "",
        "Command:",
        "",
        "```",
        f".venv/bin/python bench/dashboard.py --database {args.database} "
        f"--requests {args.requests}",
        "```",
        "<!-- dashboard:end -->",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="kam_bench")
    parser.add_argument("--requests", type=int, default=20, help="timed requests per page")
    parser.add_argument("--manager", help="username of the manager (default: closest to 1,000)")
    parser.add_argument("--no-lead", action="store_true", help="skip the `lead` subject")
    parser.add_argument("--no-results", action="store_true", help="do not write results.md")
    args = parser.parse_args()
    setup_django(args.database)
    from django.test import Client

    info = machine_info()
    data = data_info(args.database)
    log(data)
    from classification.models import ClassificationResult

    if not ClassificationResult.objects.exists():
        log("WARNING: no classification results: the pages show no scores (run a recompute)")
    subjects = pick_subjects(args.manager, lead_too=not args.no_lead)
    SCRATCH.mkdir(exist_ok=True)
    from dashboard.views import can_see_team

    for s in subjects:
        client = Client()
        client.force_login(s["manager"].user)
        pages = {
            "portfolio": "/",
            "portfolio revenue": "/portfolio/revenue/",
            "account": f"/accounts/{s['account']}/",
            "account more": f"/accounts/{s['account']}/more/",
            "4S matrix": "/matrices/four_s/",
        }
        if can_see_team(s["manager"].user):
            pages["team"] = "/team/"
        s["pages"] = list(pages)
        for page, path in pages.items():
            dump = SCRATCH / f"dashboard-queries-{s['role']}-{page.replace(' ', '-')}.txt"
            s[page] = r = measure(client, path, args.requests, dump)
            log(
                f"{s['role']:<8} {page:<17} median {r['median']:6.0f} ms  p90 {r['p90']:6.0f} ms"
                f"  queries {r['queries']:3}  SQL {r['sql_ms']:5.0f} ms"
            )
    section = render(args, info, data, subjects)
    print()
    print(section)
    if not args.no_results:
        write_section("dashboard", section)


if __name__ == "__main__":
    main()
