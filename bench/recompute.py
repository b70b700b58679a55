"""Time a full classification recompute against the bare GROUP BY aggregate, with 1 and 2 workers.

    .venv/bin/python bench/recompute.py --database kam_bench [--workers 1 2] [--explain]

Needs a seeded database (bench/seed.py), PostgreSQL and Redis. In one run:

* baseline: `SELECT account_id, sum(amount_base) FROM accounts_transaction GROUP BY account_id`
  (the floor: a recompute cannot be faster than reading the transactions once), 3 times, median;
* for each worker count N: start N Celery workers (`bench/counting_worker.py`, i.e. the `kam`
  Celery app with --pool=solo, plus per-task statement counting and step timing), request a
  portfolio run with `classification.services.run_request(trigger="manual")` from this process
  and poll it until it succeeded. Records the wall time from request to succeeded, its ratio to the
  baseline, each worker's peak RSS (VmHWM from /proc), the SQL statements of prepare / each chunk /
  finalize, and where the time goes (prepare, load_metrics, scoring, upsert, finalize);
* --explain: EXPLAIN (ANALYZE, BUFFERS) of every query of load_metrics for the whole population
  (prepare) and for one chunk, plans written to bench/explain-<database>.txt.

Prints a table and writes the "recompute" section of bench/results.md. Never part of the test
suite; only databases named kam_bench* are accepted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import secrets
import signal
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
BROKER = "redis://127.0.0.1:6379/9"
BASELINE_SQL = "SELECT account_id, sum(amount_base) FROM accounts_transaction GROUP BY account_id"
TARGET_RATIO, TARGET_SECONDS, TARGET_RSS_MB = 3.0, 60.0, 500.0


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def bench_env(database: str, chunk_size: int | None) -> dict[str, str]:
    env = {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
        "CELERY_BROKER_URL": BROKER,
        "CELERY_RESULT_BACKEND": BROKER,
        "DJANGO_SETTINGS_MODULE": "kam.settings.base",
        "DJANGO_LOG_LEVEL": "WARNING",
        # Celery's Django fixup runs the system checks when a worker starts; they are not what is
        # measured (the test suite runs them), and an import cycle in them must not stop the bench.
        "CELERY_SKIP_CHECKS": "1",
        # As in production: with DEBUG on, Django keeps every SQL text (multi-MB upserts) in
        # connection.queries, which inflates both the time and the memory of the workers.
        "DJANGO_DEBUG": "false",
        # Required once DEBUG is off; a throwaway key per benchmark run unless one is given.
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50),
    }
    if chunk_size:
        env["KAM_RECOMPUTE_CHUNK_SIZE"] = str(chunk_size)
    return env


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


# --- measurements ----------------------------------------------------------------------------


def baseline(repeat: int) -> list[float]:
    from django.db import connection

    times = []
    with connection.cursor() as cur:
        for _ in range(repeat):
            started = time.perf_counter()
            cur.execute(BASELINE_SQL)
            rows = cur.fetchall()
            times.append(time.perf_counter() - started)
    log(f"baseline: {', '.join(f'{t:.2f}' for t in times)} s ({len(rows):,} groups)")
    return times


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far: what a run costs whatever else the machine
    is doing (the wall time is not, on a shared machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_workers(count: int, env: dict[str, str], stats: Path, tag: str) -> list[subprocess.Popen]:
    workers = []
    for i in range(1, count + 1):
        logfile = open(BENCH / f".worker-{tag}-{i}.log", "w")  # noqa: SIM115 (lives with the worker)
        workers.append(
            subprocess.Popen(
                [
                    str(ROOT / ".venv/bin/python"),
                    str(BENCH / "counting_worker.py"),
                    "worker",
                    "--pool=solo",
                    "-n",
                    f"bench{i}@%h",
                    "--loglevel=INFO",
                    "--without-gossip",
                    "--without-mingle",
                ],
                cwd=ROOT,
                env={**os.environ, **env, "BENCH_STATS_FILE": str(stats)},
                stdout=logfile,
                stderr=subprocess.STDOUT,
            )
        )
    # Ready when every worker answers a ping (its log format depends on the logging settings).
    from kam.celery import app

    deadline = time.monotonic() + 60
    names = {f"bench{i}@{platform.node()}" for i in range(1, count + 1)}
    while not names <= {name for reply in app.control.ping(timeout=0.5) for name in reply}:
        for i, worker in enumerate(workers, start=1):
            if worker.poll() is not None or time.monotonic() > deadline:
                stop_workers(workers)
                path = BENCH / f".worker-{tag}-{i}.log"
                raise RuntimeError(f"worker {i} did not start:\n{path.read_text()[-3000:]}")
    return workers


def stop_workers(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        worker.send_signal(signal.SIGTERM)  # warm shutdown
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def reset_results() -> dict[str, int]:
    """Start every measured run from the same state: the results of the latest succeeded run
    (current, which the new run compares with and replaces) and nothing else, with fresh
    statistics. Without the ANALYZE the planner keeps the statistics of an empty table and
    reads the whole results table for every chunk (see results.md)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "DELETE FROM classification_classificationresult r WHERE NOT EXISTS"
            " (SELECT 1 FROM classification_classificationcurrent c WHERE c.result_id = r.id)"
            " AND run_id NOT IN (SELECT id FROM classification_classificationrun"
            " WHERE status IN ('queued', 'running'))"
        )
        deleted = cur.rowcount
        cur.execute("SELECT count(*) FROM classification_classificationresult")
        current = cur.fetchone()[0]
    connection.close()
    # VACUUM cannot run in a transaction block: use autocommit on a fresh connection.
    import psycopg2

    params = connection.get_connection_params()
    conn = psycopg2.connect(**params)
    conn.autocommit = True
    with conn.cursor() as cur:
        for table in (
            "classification_classificationresult",
            "classification_classificationcurrent",
            "classification_segmentchange",
            "classification_classificationchunk",
        ):
            cur.execute(f"VACUUM (ANALYZE) {table}")
    conn.close()
    log(f"reset: deleted {deleted:,} old results, {current:,} current kept, vacuumed and analyzed")
    return {"deleted": deleted, "current": current}


def recompute(count: int, env: dict[str, str], reference_date, tag: str) -> dict:
    import redis
    from django.db import close_old_connections

    from classification.models import ACTIVE_RUN_STATUSES, ClassificationRun, RunStatus
    from classification.services import run_fail, run_request

    redis.Redis.from_url(BROKER).flushdb()  # db 9 is the bench's own
    for stale in ClassificationRun.objects.filter(status__in=ACTIVE_RUN_STATUSES):
        run_fail(run_id=stale.pk, error="abandoned by an earlier benchmark")
    state = reset_results()
    stats = BENCH / f".worker-stats-{tag}.jsonl"
    stats.unlink(missing_ok=True)
    workers = start_workers(count, env, stats, tag)
    try:
        cpu_before = [cpu_seconds(w.pid) for w in workers]
        started = time.perf_counter()
        run, created = run_request(trigger="manual", reference_date=reference_date)
        assert created, "another portfolio run is active"
        status = None
        while status not in (RunStatus.SUCCEEDED, RunStatus.FAILED):
            time.sleep(0.1)
            close_old_connections()
            status = ClassificationRun.objects.values_list("status", flat=True).get(pk=run.pk)
        wall = time.perf_counter() - started
        if status != RunStatus.SUCCEEDED:
            error = ClassificationRun.objects.get(pk=run.pk).error_summary
            raise RuntimeError(f"run {run.pk} failed: {error}")
        time.sleep(1)  # the last task's stats line is written after the run is marked
        rss = [peak_rss_mb(w.pid) for w in workers]
        cpu = sum(cpu_seconds(w.pid) for w in workers) - sum(cpu_before)
    finally:
        stop_workers(workers)
    run.refresh_from_db()
    records = [json.loads(line) for line in stats.read_text().splitlines()]
    records = [r for r in records if r["args"] and r["args"][0] == run.pk]
    result = {
        "workers": count,
        "run": run.pk,
        "wall": wall,
        "rss_mb": rss,
        "worker_cpu_s": cpu,
        "accounts": run.accounts_total,
        "chunks": run.chunks_total,
        "results": run.results_count,
        "events": run.events_count,
        "previous_current_results": state["current"],
        **summarise(records),
    }
    log(
        f"{count} worker(s): run {run.pk} succeeded in {wall:.1f} s, {run.accounts_total:,} "
        f"accounts, {run.chunks_total} chunks, {run.results_count:,} results, "
        f"peak RSS {', '.join(f'{r:.0f}' for r in rss)} MB, workers' CPU {cpu:.1f} s"
    )
    return result


def summarise(records: list[dict]) -> dict:
    """Statements and time per step, from the workers' per-task records."""
    by_task = defaultdict(list)
    for r in records:
        by_task[r["task"].rsplit(".", 1)[-1]].append(r)
    prepare = by_task["recompute_run"]
    chunks = by_task["score_chunk"]
    finalize = by_task["finalize_run"]

    def phase(rs: list[dict], name: str) -> float:
        return sum(r["phases"].get(name, [0, 0])[0] for r in rs)

    chunk_statements = [r["statements"] for r in chunks]
    return {
        "prepare_s": sum(r["seconds"] for r in prepare),
        "prepare_statements": sum(r["statements"] for r in prepare),
        "prepare_phases": {k: round(v[0], 2) for r in prepare for k, v in r["phases"].items()},
        "chunk_count": len(chunks),
        "chunk_s_sum": sum(r["seconds"] for r in chunks),
        "chunk_s_median": statistics.median([r["seconds"] for r in chunks]) if chunks else 0,
        "chunk_statements_min": min(chunk_statements, default=0),
        "chunk_statements_max": max(chunk_statements, default=0),
        "chunk_statements_sum": sum(chunk_statements),
        # A chunk's metrics: read from the staging table (or computed, when none are staged).
        "load_metrics_s": phase(chunks, "_chunk_metrics"),
        "current_segments_s": phase(chunks, "_current_segments"),
        "score_all_s": phase(chunks, "score_all"),
        "upsert_sql_s": sum(r["upsert_sql_s"] for r in chunks),
        "upsert_statements": sum(r["upsert_statements"] for r in chunks),
        # Writing the results (COPY on PostgreSQL: not seen by the statement counter).
        "write_results_s": phase(chunks, "_write_results"),
        "chunk_sql_s": sum(r["sql_s"] for r in chunks),
        "finalize_s": sum(r["seconds"] for r in finalize),
        "finalize_statements": sum(r["statements"] for r in finalize),
        "finalize_capacity_s": phase(finalize, "_apply_capacity"),
        "finalize_capacity_statements": sum(
            r["phases"].get("_apply_capacity", [0, 0])[1] for r in finalize
        ),
        "finalize_changes_s": phase(finalize, "_record_segment_changes"),
        "finalize_switch_s": phase(finalize, "_make_current"),
        "finalize_slowest": [s for r in finalize for s in r.get("slowest", [])],
        "finalize_sql_s": sum(r["sql_s"] for r in finalize),
        # Peak RSS (VmHWM) of the worker right after each step: which step sets the peak.
        "rss_after_prepare": max((r.get("peak_rss_mb", 0) for r in prepare), default=0),
        "rss_after_chunks": max((r.get("peak_rss_mb", 0) for r in chunks), default=0),
        "rss_after_finalize": max((r.get("peak_rss_mb", 0) for r in finalize), default=0),
        "per_worker_chunks": dict(
            sorted(
                defaultdict(
                    int,
                    {
                        p: sum(1 for r in chunks if r["pid"] == p)
                        for p in {r["pid"] for r in chunks}
                    },
                ).items()
            )
        ),
    }


def write_floor(run_id: int) -> float:
    """A second floor: PostgreSQL alone writing one run's results (same columns, same indexes) with
    INSERT ... SELECT into a scratch copy of the results table, no client involved."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_write_floor")
        cur.execute(
            "CREATE TABLE bench_write_floor"
            " (LIKE classification_classificationresult INCLUDING ALL)"
        )
        try:
            started = time.perf_counter()
            cur.execute(
                "INSERT INTO bench_write_floor SELECT * FROM classification_classificationresult"
                " WHERE run_id = %s",
                [run_id],
            )
            elapsed = time.perf_counter() - started
            rows = cur.rowcount
        finally:
            cur.execute("DROP TABLE bench_write_floor")
    log(f"write floor: {rows:,} results inserted server-side in {elapsed:.2f} s")
    return elapsed


def explain(database: str, reference_date) -> Path:
    """EXPLAIN ANALYZE every query of the prepare step's metrics (the whole population's) and of
    one chunk's load_metrics (what a chunk runs when no metrics are staged)."""
    from django.conf import settings
    from django.db import connection

    from classification.metrics import load_metrics
    from classification.services import ClassificationRun, _population_chunks

    captured: list[tuple[str, str, object]] = []

    def capture(label):
        def wrapper(execute, sql, params, many, context):
            captured.append((label, sql, params))
            return execute(sql, params, many, context)

        return wrapper

    with connection.execute_wrapper(capture("prepare: load_metrics")):
        load_metrics(reference_date=reference_date)
    _, chunks = _population_chunks(
        ClassificationRun(scope="portfolio"), size=settings.KAM_RECOMPUTE_CHUNK_SIZE
    )
    with connection.execute_wrapper(capture("chunk 0: load_metrics")):
        load_metrics(reference_date=reference_date, account_ids=chunks[0])
    out = BENCH / f"explain-{database}.txt"
    lines = []
    summary = []
    with connection.cursor() as cur:
        for label, sql, params in captured:
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plan = [row[0] for row in cur.fetchall()]
            ms = float(re.search(r"Execution Time: ([\d.]+) ms", plan[-1]).group(1))
            table = re.search(r'FROM "(\w+)"', sql)
            summary.append((label, table.group(1) if table else "?", ms, plan[0].strip()[:90]))
            lines += [f"### {label}: {ms:.0f} ms", sql[:2000], *plan, ""]
    out.write_text("\n".join(lines))
    log(f"EXPLAIN ANALYZE ({out.name}):")
    for label, table, ms, top in summary:
        print(f"  {label:34} {table:40} {ms:9.0f} ms  {top}")
    return out


# --- report ----------------------------------------------------------------------------------


def versions(database: str) -> dict[str, str]:
    import celery
    import django
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        pg = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM accounts_account")
        accounts = cur.fetchone()[0]
        cur.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'accounts_transaction'")
        transactions = cur.fetchone()[0]
    mem = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    cpu = re.search(r"model name\s+:\s+(.*)", Path("/proc/cpuinfo").read_text())
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu.group(1) if cpu else platform.processor(),
        "memory": f"{mem / 1024 / 1024:.1f} GiB",
        "python": platform.python_version(),
        "django": django.get_version(),
        "celery": celery.__version__,
        "postgresql": pg,
        "data": f"{accounts:,} accounts, ~{transactions:,} transactions ({database})",
    }


def render(args, info: dict, base: list[float], runs: list[dict], base_after: list[float]) -> str:
    floor = statistics.median(base)
    lines = [
        "<!-- recompute:start -->",
        "## Recompute (bench/recompute.py)",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Machine: "
        + ", ".join(f"{k} {v}" for k, v in info.items() if k != "data")
        + f". Data: {info['data']}. Chunk size "
        + f"{os.environ.get('KAM_RECOMPUTE_CHUNK_SIZE', '1000')}.",
        "",
        f"Baseline (bare `GROUP BY account_id` over the transactions, median of {len(base)}): "
        f"**{floor:.2f} s** (runs: {', '.join(f'{t:.2f}' for t in base)}"
        + (
            f"; after each recompute: {', '.join(f'{t:.2f}' for t in base_after)}"
            if base_after
            else ""
        )
        + ").",
        "",
        f"Write floor (PostgreSQL alone copying one run's {runs[-1]['results']:,} results into a "
        "scratch table with the same indexes, `INSERT ... SELECT`): "
        f"**{runs[-1]['write_floor']:.2f} s**. Reading the transactions once plus writing the "
        f"results once is already {(floor + runs[-1]['write_floor']) / floor:.1f}x the baseline.",
        "",
        "| workers | wall (request to succeeded) | ratio to median baseline | ratio to adjacent "
        "baselines | load avg before/after | workers' CPU time | peak RSS per worker | "
        "statements prepare / per chunk / finalize | chunks |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r['workers']} | {r['wall']:.1f} s | {r['wall'] / floor:.1f}x | "
            f"{r['wall'] / r['baseline_adjacent']:.1f}x ({r['baseline_adjacent']:.2f} s) | "
            f"{r['load'][0]:.1f} / {r['load'][1]:.1f} | {r.get('worker_cpu_s', 0):.1f} s | "
            f"{' / '.join(f'{m:.0f} MB' for m in r['rss_mb'])} | "
            f"{r['prepare_statements']} / "
            f"{r['chunk_statements_min']}-{r['chunk_statements_max']} / "
            f"{r['finalize_statements']} | {r['chunks']} |"
        )
    lines += [
        "",
        "Where the time goes (seconds, summed over tasks; chunks run in parallel with 2 workers):",
        "",
    ]
    lines += [
        "| workers | prepare | chunks total (median each) | chunk metrics (staged) | "
        "current segments | scoring (score_all) | writing results (COPY) | finalize (capacity "
        "rule / segment "
        "changes / current switch) | peak RSS MB after prepare / chunks / finalize |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r['workers']} | {r['prepare_s']:.1f} {r['prepare_phases']} | "
            f"{r['chunk_s_sum']:.1f} ({r['chunk_s_median']:.2f}) | {r['load_metrics_s']:.1f} | "
            f"{r['current_segments_s']:.1f} | {r['score_all_s']:.1f} | "
            f"{r['write_results_s']:.1f} | "
            f"{r['finalize_s']:.1f} ({r['finalize_capacity_s']:.1f} / "
            f"{r['finalize_changes_s']:.1f} / {r['finalize_switch_s']:.1f}) | "
            f"{r['rss_after_prepare']:.0f} / {r['rss_after_chunks']:.0f} / "
            f"{r['rss_after_finalize']:.0f} |"
        )
    lines += ["", "Slowest statements of finalize (seconds):", ""]
    for r in runs:
        for seconds, sql in r["finalize_slowest"]:
            lines.append(f"* {r['workers']} worker(s): {seconds:.1f} s `{sql[:110]}...`")
    # With repeated runs (e.g. --workers 1 2 2 1), the targets use each worker count's fastest
    # run: the one least disturbed by whatever else the shared machine was doing.
    one = min((r for r in runs if r["workers"] == 1), key=lambda r: r["wall"], default=None)
    two = min((r for r in runs if r["workers"] == 2), key=lambda r: r["wall"], default=None)
    targets = [
        (
            "2 workers at most 3x the baseline",
            two and two["wall"] / floor <= TARGET_RATIO,
            two and f"{two['wall'] / floor:.1f}x",
        ),
        (
            "under 60 s with 2 workers",
            two and two["wall"] < TARGET_SECONDS,
            two and f"{two['wall']:.1f} s",
        ),
        (
            "worker memory under 500 MB",
            all(max(r["rss_mb"]) < TARGET_RSS_MB for r in runs),
            f"{max(max(r['rss_mb']) for r in runs):.0f} MB",
        ),
        (
            "statements independent of the account count except per chunk",
            len({r["finalize_statements"] for r in runs}) == 1,
            f"prepare {runs[-1]['prepare_statements']}, per chunk "
            f"{runs[-1]['chunk_statements_min']}-{runs[-1]['chunk_statements_max']} plus one "
            f"COPY, finalize {runs[-1]['finalize_statements']} (capacity rule "
            f"{runs[-1]['finalize_capacity_statements']}, set-based: one UPDATE for all "
            "over-capacity results, one INSERT ... SELECT for all segment changes, one upsert "
            "for the current switch)",
        ),
        (
            "2 workers faster than 1",
            one and two and two["wall"] < one["wall"],
            one and two and f"{one['wall']:.1f} s vs {two['wall']:.1f} s",
        ),
    ]
    lines += ["", "| target | met | figure |", "|---|---|---|"]
    for name, met, figure in targets:
        shown = met if isinstance(met, str) else "yes" if met else "NO"
        lines.append(f"| {name} | {shown} | {figure} |")
    lines += [
        "",
        "Commands:",
        "",
        "```",
        ".venv/bin/python bench/seed.py --accounts 100000 --transactions 5000000 "
        f"--database {args.database}",
        f".venv/bin/python bench/recompute.py --database {args.database} --workers "
        + " ".join(map(str, args.workers))
        + (" --explain" if args.explain else ""),
        "```",
        "<!-- recompute:end -->",
    ]
    return "\n".join(lines)


def write_results(section: str) -> None:
    path = BENCH / "results.md"
    text = path.read_text() if path.exists() else "# Benchmark results\n\n"
    pattern = re.compile(r"<!-- recompute:start -->.*<!-- recompute:end -->", re.S)
    text = pattern.sub(section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    path.write_text(text.rstrip() + "\n")
    log(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="kam_bench")
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1, 2],
        help="worker counts, in order; repeat to "
        "measure several times (e.g. 1 2 2 1); the targets use each count's fastest run",
    )
    parser.add_argument("--chunk-size", type=int, default=None, help="KAM_RECOMPUTE_CHUNK_SIZE")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--no-results", action="store_true", help="do not write bench/results.md")
    args = parser.parse_args()
    if not args.database.startswith("kam_bench"):
        parser.error("the database name must start with kam_bench")
    env = bench_env(args.database, args.chunk_size)
    setup_django(env)
    sys.path.insert(0, str(BENCH))
    from seed import END

    info = versions(args.database)
    log(f"{info['data']}; reference date {END}")
    # The machine is shared: a baseline is taken right before and right after each recompute, and
    # each recompute's ratio uses the mean of those two (same conditions), besides the overall
    # median.
    base = baseline(3)
    runs = []
    base_after: list[float] = []
    from classification.models import ClassificationResult

    if not ClassificationResult.objects.current().exists():
        # The first run has no previous results to compare with and replace (a cheaper finalize):
        # one unmeasured run first, so that every measured run does the same work.
        log("warm-up: no current results yet, one run with 2 workers first (not measured)")
        recompute(2, env, END, tag="warmup")
    for n in args.workers:
        load_before = os.getloadavg()[0]
        before = base[-1] if not base_after else base_after[-1]
        result = recompute(n, env, END, tag=f"w{n}")
        after = baseline(1)[0]
        base_after.append(after)
        result["baseline_adjacent"] = (before + after) / 2
        result["load"] = (load_before, os.getloadavg()[0])
        runs.append(result)
    floor_write = write_floor(runs[-1]["run"])
    for r in runs:
        r["write_floor"] = floor_write
    if args.explain:
        explain(args.database, END)
    floor = statistics.median(base)
    print()
    print(f"{'workers':>7} {'wall s':>8} {'x base':>7} {'RSS MB':>12} {'stmts prep/chunk/fin':>22}")
    for r in runs:
        print(
            f"{r['workers']:>7} {r['wall']:>8.1f} {r['wall'] / floor:>7.1f} "
            f"{'/'.join(f'{m:.0f}' for m in r['rss_mb']):>12} "
            f"{r['prepare_statements']:>6}/{r['chunk_statements_min']}-{r['chunk_statements_max']}"
            f"/{r['finalize_statements']}"
        )
        detail = {k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()}
        print(f"        detail: {json.dumps(detail)}")
    print(f"baseline median {floor:.2f} s")
    section = render(args, info, base, runs, base_after)
    if not args.no_results:
        write_results(section)
    else:
        print(section)


if __name__ == "__main__":
    main()
