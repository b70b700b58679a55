"""Load the REST API under gunicorn with wrk, against a plain Django baseline in the same run.

    .venv/bin/python bench/api.py --database kam_bench [--duration 10] [--workers 4]

Needs a seeded database (bench/seed.py) with classification results (bench/recompute.py or
`manage.py recompute_scores`), PostgreSQL, Redis and the Debian package `wrk` (installed with
apt-get when missing and this runs as root; otherwise it stops and says so). In one run:

* starts gunicorn (`kam.wsgi`, sync workers, `kam.settings.bench`: DEBUG off, persistent
  database connections, cache in Redis db 9, no throttling, bench/urls.py as URLconf);
* picks the subjects from the data: `lead` = the sales lead below the top with the most visible
  accounts, `head` = the top of the hierarchy (sees every account), the lead's visible account
  with the most transactions, and gives both users an API token;
* counts the SQL queries of one request to each endpoint (in this process, Django test client);
* drives each endpoint with wrk (16 connections, N seconds, after a short warm-up, each on a
  freshly started server, so that no endpoint inherits the previous one's queued requests):
  the baseline (bench/urls.py: the same 50 accounts by id, `.values()`, JsonResponse), the
  accounts list (page_size 50, with current scores), account detail, the account's transactions
  in a date range, the portfolio summary; the list and the summary also for `head`. The baseline
  runs first, between and last (the machine is shared), the list is compared with the two
  baselines around it.

Prints requests/s, p50/p99, non-2xx and socket errors, the ratio to the baseline, and writes
the "api" section of bench/results.md. `--overview` only rewrites the overview section (machine,
versions, every target of every section), which `make bench` does last. Never part of the test
suite; only databases named kam_bench* are accepted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
BIN = Path(sys.executable).parent
LUA = BENCH / "wrk_report.lua"
# Scratch output of the last run (server log, query lists): outside the checkout.
SCRATCH = Path(tempfile.gettempdir()) / "kam-bench"
SETTINGS = "kam.settings.bench"
TARGET_RATIO, TARGET_P99_MS = 0.5, 150.0


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- shared by the bench scripts (dashboard.py and import_transactions.py import these) ------


APPLICATION_NAME = "kam-bench-server"  # on the server's connections, to find its leftovers


def bench_env(database: str, redis_db: int = 9) -> dict[str, str]:
    if not database.startswith("kam_bench"):
        sys.exit("Only databases named kam_bench* are accepted.")
    return {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
        "DJANGO_SETTINGS_MODULE": SETTINGS,
        "DJANGO_CONN_MAX_AGE": "600",
        "CACHE_URL": f"rediscache://127.0.0.1:6379/{redis_db}",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:6379/{redis_db}",
        "DJANGO_LOG_LEVEL": "WARNING",
    }


def setup_django(database: str, redis_db: int = 9) -> dict[str, str]:
    """Django in this process on the bench settings; stops when migrations are pending."""
    env = bench_env(database, redis_db)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in pending[:5])
        sys.exit(
            f"{database} has {len(pending)} unapplied migrations ({names}...): run "
            f"DATABASE_URL={env['DATABASE_URL']} .venv/bin/python manage.py migrate "
            "(or bench/seed.py, which migrates) first."
        )
    return env


def api_token(user) -> str:
    """The user's API token (created when missing or expired: the one write of the bench)."""
    try:
        from accounts.api.auth import api_token_issue
    except ImportError:  # before tokens expired
        from rest_framework.authtoken.models import Token

        return Token.objects.get_or_create(user=user)[0].key
    return api_token_issue(user=user).key


def machine_info() -> dict[str, str]:
    import django
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        pg = cur.fetchone()[0]
    mem = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    cpu = re.search(r"model name\s+:\s+(.*)", Path("/proc/cpuinfo").read_text())
    try:
        import redis

        redis_version = redis.Redis(host="127.0.0.1", port=6379).info("server")["redis_version"]
    except Exception as exc:  # the figure is informative only
        redis_version = f"unknown ({exc.__class__.__name__})"
    info = {
        "nproc": str(os.cpu_count()),
        "cpu": cpu.group(1) if cpu else platform.processor(),
        "memory": f"{mem / 1024 / 1024:.1f} GiB",
        "python": platform.python_version(),
        "django": django.get_version(),
        "postgresql": pg,
        "redis": redis_version,
    }
    try:
        import gunicorn

        info["gunicorn"] = gunicorn.__version__
    except ImportError:
        pass
    if shutil.which("wrk"):
        out = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout
        found = re.search(r"wrk (\S+)", out)
        info["wrk"] = found.group(1) if found else "?"
    return info


def data_info(database: str) -> str:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM accounts_account")
        accounts = cur.fetchone()[0]
        cur.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'accounts_transaction'")
        transactions = cur.fetchone()[0]
    return f"{accounts:,} accounts, ~{transactions:,} transactions ({database})"


def write_section(name: str, section: str) -> None:
    """Replace (or append) the `<!-- name:start -->...<!-- name:end -->` block of results.md;
    the file is read right before writing, the other sections are left as they are."""
    path = BENCH / "results.md"
    text = path.read_text() if path.exists() else "# Benchmark results\n\n"
    pattern = re.compile(rf"<!-- {name}:start -->.*?<!-- {name}:end -->", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    elif name == "overview":  # right under the title
        title, _, rest = text.partition("\n")
        text = f"{title}\n\n{section}\n\n{rest.lstrip()}"
    else:
        text = text.rstrip() + "\n\n" + section
    path.write_text(text.rstrip() + "\n")
    log(f"wrote the {name} section of {path.relative_to(ROOT)}")


def target_line(name: str, met: bool, figure: str) -> str:
    return f"| {name} | {'yes' if met else 'NO'} | {figure} |"


# --- gunicorn and wrk --------------------------------------------------------------------------


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("wrk is missing: installing the Debian package (apt-get install -y wrk)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-qq", "wrk"]
        if subprocess.run(install, env=env, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True)
            subprocess.run(install, env=env, capture_output=True)
        found = shutil.which("wrk")
        if found:
            return found
    sys.exit(
        "bench/api.py needs wrk (HTTP load generator). Install the Debian package as root: "
        "apt-get install -y wrk"
    )


def start_gunicorn(env: dict[str, str], workers: int, port: int) -> subprocess.Popen:
    env = {**env, "DATABASE_URL": f"{env['DATABASE_URL']}?application_name={APPLICATION_NAME}"}
    gunicorn = BIN / "gunicorn"
    if not gunicorn.exists():
        sys.exit(f"{gunicorn} is missing: install requirements.txt into .venv")
    SCRATCH.mkdir(exist_ok=True)
    logfile = open(SCRATCH / "gunicorn.log", "a")  # noqa: SIM115 (lives with the server)
    server = subprocess.Popen(
        [
            str(gunicorn),
            "kam.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--timeout",
            "600",
            "--log-level",
            "warning",
            "--chdir",
            str(ROOT),
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=logfile,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"gunicorn exited with {server.returncode}; see {SCRATCH}/gunicorn.log")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                if r.status == 200:
                    log(
                        f"gunicorn up on 127.0.0.1:{port}: {workers} sync workers, pid {server.pid}"
                    )
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    stop_gunicorn(server)
    sys.exit(f"gunicorn did not answer /healthz within 60 s; see {SCRATCH}/gunicorn.log")


def stop_gunicorn(server: subprocess.Popen, *, quick: bool = False) -> None:
    """Stop the server; `quick` drops the requests in flight (SIGQUIT) and cancels the queries
    they left running, so that the next measurement starts on an idle machine: wrk stops
    sending at the end of its run, but the server would still work through every request
    already queued (for a slow endpoint, tens of seconds)."""
    if server.poll() is None:
        server.send_signal(signal.SIGQUIT if quick else signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    if quick:
        cancel_leftovers()


def cancel_leftovers() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        for _ in range(100):
            cur.execute(
                "SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = %s AND state = 'active' "
                "AND datname = current_database()",  # not the other benches' servers
                [APPLICATION_NAME],
            )
            if not cur.fetchone()[0]:
                break
            time.sleep(0.1)
    connection.close()


def fetch(url: str, token: str | None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Token {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 (a local http URL)
    try:
        with urllib.request.urlopen(request, timeout=120) as r:  # noqa: S310 (local URL)
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def server_cpu_seconds(server: subprocess.Popen) -> tuple[float, float]:
    """CPU time (user + system) used so far by the gunicorn master and workers, and by their
    PostgreSQL backends: divided by the requests served, a cost per request that the other
    load on a shared machine does not inflate the way it inflates latency. Two figures, so
    that a report can say how much of a request's cost is SQL."""
    from django.db import connection

    app = {server.pid}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[1]) == server.pid:  # ppid
            app.add(int(stat.parent.name))
    with connection.cursor() as cur:
        cur.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s "
            "AND datname = current_database()",
            [APPLICATION_NAME],
        )
        database = {row[0] for row in cur.fetchall()}

    def seconds(pids: set[int]) -> float:
        ticks = 0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

    return seconds(app), seconds(database)


def run_wrk(
    url: str,
    token: str | None,
    seconds: float,
    connections: int,
    threads: int,
    server: subprocess.Popen | None = None,
) -> dict:
    command = [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{seconds:g}s",
        "--timeout",
        "30s",
        "--latency",
        "-s",
        str(LUA),
    ]
    if token:
        command += ["-H", f"Authorization: Token {token}"]
    load_before = os.getloadavg()[0]
    cpu_before = server_cpu_seconds(server) if server else None
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    cpu_after = server_cpu_seconds(server) if server else None
    line = next((x for x in out.splitlines() if x.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    stats = json.loads(line.removeprefix("WRK_JSON "))
    stats["rps"] = stats["requests"] / (stats["duration_us"] / 1e6)
    stats["errors"] = sum(stats[k] for k in ("connect", "read", "write", "timeout"))
    stats["load"] = (load_before, os.getloadavg()[0])
    if server and stats["requests"]:
        app, database = (
            (after - before) * 1000 / stats["requests"]
            for before, after in zip(cpu_before, cpu_after, strict=True)
        )
        stats["cpu_ms"], stats["db_cpu_ms"] = app + database, database
    return stats


# --- the subjects -----------------------------------------------------------------------------


def subjects(head_too: bool) -> dict:
    """Who and what the endpoints are called for, found in the seeded data."""
    from django.db.models import Count

    from accounts.models import AccountManager, Transaction
    from accounts.selectors import accounts_visible_to

    top = (
        AccountManager.objects.filter(reports_to__isnull=True, role="sales_lead")
        .select_related("user")
        .order_by("pk")
        .first()
    )
    leads = AccountManager.objects.filter(role="sales_lead", reports_to__isnull=False)
    counted = [
        (accounts_visible_to(m.user).count(), m)
        for m in leads.select_related("user").order_by("pk")
    ]
    if not counted or top is None:
        sys.exit("No sales leads in the data: seed it with bench/seed.py first.")
    lead_accounts, lead = max(counted, key=lambda pair: (pair[0], -pair[1].pk))
    visible = accounts_visible_to(lead.user).values("pk")
    busiest = (
        Transaction.objects.filter(account_id__in=visible)
        .values("account_id")
        .annotate(n=Count("pk"))
        .order_by("-n", "account_id")
        .first()
    )
    last = Transaction.objects.filter(account_id=busiest["account_id"]).order_by("-date").first()
    date_before = last.date
    date_after = date_before - dt.timedelta(days=181)
    in_range = Transaction.objects.filter(
        account_id=busiest["account_id"], date__gte=date_after, date__lte=date_before
    ).count()
    out = {
        "lead": lead.user,
        "lead_accounts": lead_accounts,
        "lead_token": api_token(lead.user),
        "account": busiest["account_id"],
        "account_transactions": busiest["n"],
        "date_after": date_after,
        "date_before": date_before,
        "in_range": in_range,
        "head": top.user,
        "head_accounts": accounts_visible_to(top.user).count() if head_too else None,
        "head_token": api_token(top.user) if head_too else None,
    }
    log(
        f"lead {lead.user.username} ({lead_accounts:,} visible accounts), account "
        f"{out['account']} ({out['account_transactions']:,} transactions, {in_range} from "
        f"{date_after} to {date_before}), head {top.user.username}"
        + (f" ({out['head_accounts']:,} visible)" if head_too else "")
    )
    return out


def endpoints(s: dict, head_too: bool) -> list[dict]:
    tx = (
        f"/api/v1/transactions/?account={s['account']}&date_after={s['date_after']}"
        f"&date_before={s['date_before']}&page_size=50"
    )
    rows = [
        {"key": "list", "name": "accounts list (lead)", "path": "/api/v1/accounts/?page_size=50",
         "token": s["lead_token"]},
        {"key": "detail", "name": "account detail (lead)",
         "path": f"/api/v1/accounts/{s['account']}/", "token": s["lead_token"]},
        {"key": "transactions", "name": "transactions of the account, 6 months (lead)",
         "path": tx, "token": s["lead_token"]},
        {"key": "summary", "name": "portfolio summary (lead)",
         "path": "/api/v1/portfolio/summary/", "token": s["lead_token"]},
    ]  # fmt: skip
    if head_too:
        rows += [
            {"key": "list_head", "name": "accounts list (head)",
             "path": "/api/v1/accounts/?page_size=50", "token": s["head_token"]},
            {"key": "summary_head", "name": "portfolio summary (head)",
             "path": "/api/v1/portfolio/summary/", "token": s["head_token"]},
        ]  # fmt: skip
    return rows


def count_queries(rows: list[dict], repeat: int = 3) -> None:
    """SQL queries and in-process server time (one client, median of `repeat`) per endpoint."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    for row in rows:
        headers = {"HTTP_AUTHORIZATION": f"Token {row['token']}"} if row["token"] else {}
        client.get(row["path"], **headers)  # warm
        with CaptureQueriesContext(connection) as captured:
            response = client.get(row["path"], **headers)
        row["queries"] = len(captured)
        row["sql_ms"] = sum(float(q["time"]) for q in captured.captured_queries) * 1000
        row["status"] = response.status_code
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            client.get(row["path"], **headers)
            times.append(time.perf_counter() - started)
        row["inprocess_ms"] = statistics.median(times) * 1000


# --- report -------------------------------------------------------------------------------------


def fmt_ms(us: float) -> str:
    return f"{us / 1000:.1f}"


def fmt_rps(rps: float) -> str:
    return f"{rps:.0f}" if rps >= 10 else f"{rps:.1f}"


def render(args, info: dict, data: str, s: dict, rows: list[dict], baselines: list[dict]) -> str:
    base_rps = [b["stats"]["rps"] for b in baselines]
    lst = next(r for r in rows if r["key"] == "list")
    adjacent = statistics.mean([baselines[0]["stats"]["rps"], baselines[1]["stats"]["rps"]])
    ratio = lst["stats"]["rps"] / adjacent
    # No completed request is no latency figure: the target counts as missed.
    p99 = lst["stats"]["p99_us"] / 1000 if lst["stats"]["requests"] else float("inf")
    errors = lst["stats"]["errors"] + lst["stats"]["non_2xx"]
    lines = [
        "<!-- api:start -->",
        "## API under load (bench/api.py)",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Machine: "
        + ", ".join(f"{k} {v}" for k, v in info.items())
        + f". Data: {data}.",
        "",
        f"gunicorn {args.workers} sync workers (`{SETTINGS}`, DEBUG off, CONN_MAX_AGE 600, "
        f"no throttling), wrk {args.connections} connections / {args.threads} threads, "
        f"{args.duration:g} s per endpoint after a {args.warmup:g} s warm-up, on the same 2 cores "
        "as PostgreSQL. Subjects: `lead` = "
        f"{s['lead'].username} ({s['lead_accounts']:,} visible accounts), account "
        f"{s['account']} ({s['account_transactions']:,} transactions; {s['in_range']} from "
        f"{s['date_after']} to {s['date_before']})"
        + (
            f", `head` = {s['head'].username} ({s['head_accounts']:,} visible accounts)"
            if s["head_accounts"]
            else ""
        )
        + ".",
        "",
        "| endpoint | requests/s | vs baseline | p50 ms | p99 ms | max ms | non-2xx | socket "
        "errors | SQL queries (SQL ms) | in-process ms, one client | server CPU ms / request "
        "(gunicorn + PostgreSQL) | of which PostgreSQL | load avg before / after |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    order = [baselines[0], lst, baselines[1], *[r for r in rows if r is not lst], baselines[2]]
    for r in order:
        st = r["stats"]
        vs = "1.00" if r["key"] == "baseline" else f"{st['rps'] / statistics.median(base_rps):.2f}"
        if r is lst:
            vs = f"**{ratio:.2f}** (adjacent baselines)"
        latency = f"{fmt_ms(st['p50_us'])} | {fmt_ms(st['p99_us'])} | {fmt_ms(st['max_us'])}"
        if not st["requests"]:  # every request outlived the run (queued behind the others)
            vs, latency = "-", f"none completed in {args.duration:g} s | - | -"
        cpu = f"{st['cpu_ms']:.1f} | {st['db_cpu_ms']:.1f}" if "cpu_ms" in st else "- | -"
        lines.append(
            f"| {r['name']} | {fmt_rps(st['rps'])} | {vs} | {latency} | {st['non_2xx']} | "
            f"{st['errors']} | {r['queries']} ({r['sql_ms']:.1f}) | {r['inprocess_ms']:.1f} | "
            f"{cpu} | {st['load'][0]:.1f} / {st['load'][1]:.1f} |"
        )
    lines += [
        "",
        f"Baseline (bench/urls.py: the list's 50 accounts by id, one query, `.values()`, "
        f"JsonResponse, no authentication): {', '.join(f'{x:.0f}' for x in base_rps)} "
        f"requests/s (before the list, after it, at the end). Server CPU per request is "
        "measured from /proc (the gunicorn processes and their PostgreSQL backends, the "
        "latter also on their own) over the wrk run: unlike requests/s and latency, the other "
        "load on a shared machine hardly changes it.",
        "",
        "| target | met | figure |",
        "|---|---|---|",
        target_line(
            "accounts list at least 50% of the baseline's requests/s",
            ratio >= TARGET_RATIO,
            f"{ratio:.0%} ({lst['stats']['rps']:.0f} vs {adjacent:.0f} requests/s)"
            + ("" if ratio >= TARGET_RATIO else f"; missed by {TARGET_RATIO - ratio:.0%} points"),
        ),
        target_line(
            "accounts list p99 under 150 ms",
            p99 < TARGET_P99_MS,
            "no request completed"
            if p99 == float("inf")
            else f"{p99:.0f} ms"
            + ("" if p99 < TARGET_P99_MS else f"; {p99 - TARGET_P99_MS:.0f} ms over"),
        ),
        target_line("accounts list: zero errors", errors == 0, f"{errors} errors / non-2xx"),
        "",
        "Command:",
        "",
        "```",
        f".venv/bin/python bench/api.py --database {args.database} --duration {args.duration:g} "
        f"--workers {args.workers}",
        "```",
        "<!-- api:end -->",
    ]
    return "\n".join(lines)


def render_overview() -> str:
    """Machine and versions, and every target line of every section of results.md."""
    text = (BENCH / "results.md").read_text() if (BENCH / "results.md").exists() else ""
    targets = []
    for name, body in re.findall(r"<!-- ([\w-]+):start -->(.*?)<!-- \1:end -->", text, re.S):
        if name == "overview":
            continue
        in_table = False
        for line in body.splitlines():
            if line.startswith("| target | met |"):
                in_table = True
            elif in_table and line.startswith("|") and not line.startswith("|---"):
                targets.append(f"| {name} |{line[1:]}")
            elif in_table and not line.startswith("|"):
                in_table = False
    info = machine_info()
    lines = [
        "<!-- overview:start -->",
        "## Overview (`make bench`)",
        "",
        f"Written {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Machine: "
        + ", ".join(f"{k} {v}" for k, v in info.items())
        + ". Each section below says when it was measured and with which command; the "
        "`*-diagnosis` sections say why a target is missed and what would meet it.",
        "",
        "| section | target | met | figure |",
        "|---|---|---|---|",
        *targets,
        "",
        "```",
        "make bench   # seed (reused), recompute, api, import, dashboard, this overview",
        "```",
        "<!-- overview:end -->",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="kam_bench")
    parser.add_argument("--duration", type=float, default=10, help="seconds of wrk per endpoint")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of wrk before each")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--port", type=int, default=8731)
    parser.add_argument(
        "--redis-db", type=int, default=9, help="Redis database of the server's cache (9)"
    )
    parser.add_argument("--no-head", action="store_true", help="skip the `head` endpoints")
    parser.add_argument("--no-results", action="store_true", help="do not write results.md")
    parser.add_argument("--overview", action="store_true", help="only write the overview")
    args = parser.parse_args()
    env = setup_django(args.database, args.redis_db)
    if args.overview:
        write_section("overview", render_overview())
        return
    ensure_wrk()
    info = machine_info()
    data = data_info(args.database)
    log(data)
    s = subjects(head_too=not args.no_head)
    rows = endpoints(s, head_too=not args.no_head)
    from classification.models import ClassificationResult

    if not ClassificationResult.objects.exists():
        log("WARNING: no classification results: the lists carry empty scores (run a recompute)")

    from django.db import connection

    connection.close()  # the server gets the connections; this process only counts queries
    (SCRATCH / "gunicorn.log").unlink(missing_ok=True)
    base_url = f"http://127.0.0.1:{args.port}"
    server = start_gunicorn(env, args.workers, args.port)
    try:
        status, body = fetch(base_url + rows[0]["path"], s["lead_token"])
        if status != 200:
            sys.exit(f"{rows[0]['path']} answered {status}: {body[:500]!r}")
        ids = [a["id"] for a in json.loads(body)["results"]]
        baseline_path = f"/bench/baseline/accounts/?ids={','.join(map(str, ids))}"
        for row in rows:
            status, body = fetch(base_url + row["path"], row["token"])
            if status != 200:
                sys.exit(f"{row['path']} answered {status}: {body[:500]!r}")
    finally:
        stop_gunicorn(server, quick=True)
    baselines = [
        {"key": "baseline", "name": f"baseline ({i})", "path": baseline_path, "token": None}
        for i in ("before", "after the list", "end")
    ]
    count_queries([*rows, baselines[0]])
    for b in baselines[1:]:
        b.update(queries=baselines[0]["queries"], sql_ms=baselines[0]["sql_ms"])
        b["inprocess_ms"] = baselines[0]["inprocess_ms"]
    connection.close()
    sequence = [baselines[0], rows[0], baselines[1], *rows[1:], baselines[2]]
    for row in sequence:
        # A fresh server per endpoint: the previous endpoint's queued requests are dropped.
        server = start_gunicorn(env, args.workers, args.port)
        try:
            url = base_url + row["path"]
            if args.warmup:
                run_wrk(url, row["token"], args.warmup, args.connections, args.threads)
            row["stats"] = st = run_wrk(
                url, row["token"], args.duration, args.connections, args.threads, server
            )
        finally:
            stop_gunicorn(server, quick=True)
        log(
            f"{row['name']:<48} {st['rps']:>7.1f} req/s  p50 {fmt_ms(st['p50_us']):>6} ms  "
            f"p99 {fmt_ms(st['p99_us']):>6} ms  non-2xx {st['non_2xx']}  "
            f"errors {st['errors']}  queries {row['queries']}  "
            f"server CPU {st.get('cpu_ms', float('nan')):.1f} ms/request"
        )
    # Requests cut off by the quick stops end in gunicorn's handle_quit (SystemExit, or an
    # error raised wherever the signal landed); anything else is a real error.
    server_log = (SCRATCH / "gunicorn.log").read_text()
    entries = re.split(
        r"^(?=\[\d{4}-\d\d-\d\d [\d:]+ [+-]\d{4}\] \[\d+\] \[)", server_log, flags=re.M
    )
    errors = [
        line
        for entry in entries
        if "handle_quit" not in entry
        for line in re.findall(r"^[\w.]+(?:Error|Exception)\b.*$", entry, re.M)
    ]
    if errors:
        log(f"the server logged {len(errors)} errors, e.g. {errors[0]}: see {SCRATCH}/gunicorn.log")
    section = render(args, info, data, s, rows, baselines)
    print()
    print(section)
    if not args.no_results:
        write_section("api", section)


if __name__ == "__main__":
    main()
