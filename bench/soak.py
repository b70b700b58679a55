"""Soak: `wrk` on the API and the dashboard for minutes while full recomputes run, on `make serve`.

    .venv/bin/python bench/seed.py --accounts 10000 --transactions 500000 --database kam_bench_soak
    .venv/bin/python bench/soak.py --database kam_bench_soak [--duration 300] [--connections 32]

Starts scripts/serve.sh on the seeded database exactly as `make serve` runs (gunicorn with its
default worker count, whitenoise, one Celery worker, one beat, kam.settings.production, JSON logs,
API throttling on), gives the first `--users` managers below the top an API token and a
dashboard session, and then, at the same time and for `--duration` seconds:

* `wrk` on `GET /api/v1/accounts/` (the first page of the accounts list with scores), each
  request authenticated with the next user's token, over `--connections` connections;
* `wrk` on `GET /` (the portfolio page), each request with the next user's session cookie, over
  `--connections` connections of its own;
* full recomputes (all four models, every account), back to back, each queued and followed like
  an administrator does (`manage.py recompute_scores --wait`) until the load stops.

Reports for each endpoint the requests, requests/s, latency p50/p90/p99/max, socket errors
(connect, read, write, timeout) and responses that are not 2xx (a redirect to the login page or a
429 counts), and for each recompute its status, wall time and results against accounts x models;
then the server's log: 5xx request lines and ERROR lines. Exits 1 when anything failed. Needs
PostgreSQL, Redis (db 11 as the broker, db 10 as the cache unless given) and the Debian package
`wrk`. Never part of the test suite; only databases named kam_bench* are accepted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRATCH = Path(tempfile.gettempdir()) / "kam-soak"
THREADS = 2  # wrk threads per endpoint

# Each request as the next user (round robin over the credentials given after `--`); counts every
# response that is not a 2xx (wrk itself counts only statuses above 399); prints one JSON line.
WRK_LUA = r"""
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  kind = args[1]
  credentials = {}
  for i = 2, #args do
    credentials[#credentials + 1] = args[i]
  end
  sent = 0
  bad = 0
  bad_status = 0
end

function request()
  sent = sent + 1
  local credential = credentials[(sent % #credentials) + 1]
  local headers = {}
  if kind == "token" then
    headers["Authorization"] = "Token " .. credential
  else
    headers["Cookie"] = "sessionid=" .. credential
  end
  return wrk.format("GET", nil, headers)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    bad = bad + 1
    bad_status = status
  end
end

function done(summary, latency, requests)
  local non_2xx, last_bad = 0, 0
  for _, thread in ipairs(threads) do
    non_2xx = non_2xx + thread:get("bad")
    if thread:get("bad_status") ~= 0 then
      last_bad = thread:get("bad_status")
    end
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"timeout": %d, "non_2xx": %d, "last_bad_status": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, non_2xx,
    last_bad, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max))
end
"""

# Run in `manage.py shell` with the server's settings: tokens and sessions for the load's users.
CREDENTIALS = """
import json
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from rest_framework.authtoken.models import Token
from accounts.models import Account, AccountManager
from classification.scoring import MODELS

managers = list(
    AccountManager.objects.exclude(reports_to=None).select_related("user").order_by("pk")[:{users}]
)
users = [manager.user for manager in managers]
Token.objects.filter(user__in=users).delete()
tokens, sessions = [], []
for user in users:
    tokens.append(Token.objects.create(user=user).key)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "accounts.backends.ManagerModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    sessions.append(session.session_key)
print("CREDENTIALS " + json.dumps({{
    "tokens": tokens,
    "sessions": sessions,
    "accounts": Account.objects.exclude(status="lost").count(),
    "models": len(MODELS),
}}))
"""

RUNS = """
import json
from classification.models import ClassificationRun
runs = ClassificationRun.objects.filter(pk__gt={after}, scope="portfolio").order_by("pk")
print("RUNS " + json.dumps([
    {{
        "id": run.pk,
        "status": run.status,
        "accounts": run.accounts_total,
        "results": run.results_count,
        "chunks": f"{{run.chunks_done}}/{{run.chunks_total}}",
        "seconds": round((run.finished_at - run.created_at).total_seconds(), 1)
        if run.finished_at else None,
        "error": run.error_summary,
    }}
    for run in runs
]))
"""

LAST_RUN = """
from classification.models import ClassificationRun
print("LAST", (ClassificationRun.objects.order_by("-pk").values_list("pk", flat=True).first() or 0))
"""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def shell(code: str, env: dict[str, str], marker: str):
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    for line in result.stdout.splitlines():
        if line.startswith(marker + " "):
            return json.loads(line[len(marker) + 1 :])
    sys.exit(f"manage.py shell failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")


def ensure_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk:
        return wrk
    if os.geteuid() != 0:
        sys.exit("wrk is missing: apt-get install wrk")
    log("installing the Debian package wrk")
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    return shutil.which("wrk") or sys.exit("wrk is still missing")


def get(url: str, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - local URL
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def start_serve(env: dict[str, str], log_path: Path, base: str) -> subprocess.Popen:
    serve = subprocess.Popen(
        [str(ROOT / "scripts" / "serve.sh")],
        cwd=ROOT,
        env=env,
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if serve.poll() is not None:
            sys.exit(f"serve.sh exited:\n{log_path.read_text()[-3000:]}")
        try:
            if get(f"{base}/healthz", {}) == 200:
                return serve
        except OSError:
            pass
        time.sleep(0.5)
    stop_serve(serve)
    sys.exit(f"the server did not come up:\n{log_path.read_text()[-3000:]}")


def stop_serve(serve: subprocess.Popen) -> int:
    os.killpg(serve.pid, signal.SIGINT)
    return serve.wait(timeout=120)


def recompute_loop(env: dict[str, str], until: float, outcomes: list[str]) -> None:
    """Full recomputes back to back until `until` (the last one is followed to its end)."""
    while time.monotonic() < until:
        result = subprocess.run(
            [sys.executable, "manage.py", "recompute_scores", "--wait", "--timeout", "1800"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        last = (result.stdout.strip().splitlines() or result.stderr.strip().splitlines())[-1:]
        outcomes.append(f"exit {result.returncode}: {' '.join(last)}")
        log(f"recompute: {outcomes[-1]}")


def run_wrk(wrk: str, url: str, lua: Path, args: argparse.Namespace, creds: list[str], kind: str):
    command = [
        wrk,
        f"-t{THREADS}",
        f"-c{args.connections}",
        f"-d{args.duration}s",
        "--timeout",
        "30s",
        "-s",
        str(lua),
        url,
        "--",
        kind,
        *creds,
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wrk_result(process: subprocess.Popen) -> dict:
    output, _ = process.communicate()
    for line in output.splitlines():
        if line.startswith("WRK_JSON "):
            return json.loads(line[len("WRK_JSON ") :])
    sys.exit(f"wrk failed:\n{output[-3000:]}")


def server_log(log_path: Path) -> tuple[int, int, list[str], dict[str, list[float]]]:
    """From the server's JSON log: request lines, 5xx lines, ERROR lines, durations per path."""
    requests = server_errors = 0
    errors, durations = [], {}
    for line in log_path.read_text().splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        if record.get("logger") == "kam.request":
            requests += 1
            server_errors += record.get("status", 0) >= 500
            durations.setdefault(record["path"], []).append(record["duration_ms"])
        if record.get("level") in ("ERROR", "CRITICAL"):
            errors.append(record.get("message", "")[:200])
    return requests, server_errors, errors, durations


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="kam_bench_soak")
    parser.add_argument("--duration", type=int, default=300, help="seconds of load")
    parser.add_argument("--connections", type=int, default=32, help="per endpoint")
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--cache", default="rediscache://127.0.0.1:6379/10")
    args = parser.parse_args()
    if not args.database.startswith("kam_bench"):
        sys.exit("The soak only runs on databases named kam_bench* (bench/seed.py makes them).")

    wrk = ensure_wrk()
    load_before = os.getloadavg()[0]
    SCRATCH.mkdir(exist_ok=True)
    lua = SCRATCH / "soak.lua"
    lua.write_text(WRK_LUA)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "KAM_"))},
        "DJANGO_SETTINGS_MODULE": "kam.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{args.database}",
        "CELERY_BROKER_URL": args.broker,
        "CACHE_URL": args.cache,
        "HOST": "127.0.0.1",
        "PORT": str(port),
    }
    log_path = SCRATCH / "serve.log"
    log(f"starting scripts/serve.sh on {args.database}, {base} (log: {log_path})")
    serve = start_serve(env, log_path, base)
    failed = False
    try:
        creds = shell(CREDENTIALS.format(users=args.users), env, "CREDENTIALS")
        after = shell(LAST_RUN, env, "LAST")
        api, dashboard = f"{base}/api/v1/accounts/", f"{base}/"
        for url, header in (
            (api, {"Authorization": f"Token {creds['tokens'][0]}"}),
            (dashboard, {"Cookie": f"sessionid={creds['sessions'][0]}"}),
        ):
            status = get(url, header)
            if status != 200:
                sys.exit(f"{url} answered {status} before the load")
        log(
            f"{len(creds['tokens'])} users; {args.connections} connections per endpoint for "
            f"{args.duration} s; recomputes of {creds['accounts']} accounts x {creds['models']} "
            "models back to back"
        )
        started = time.monotonic()
        loads = {
            "API `GET /api/v1/accounts/` (token)": run_wrk(
                wrk, api, lua, args, creds["tokens"], "token"
            ),
            "Dashboard `GET /` (portfolio, session)": run_wrk(
                wrk, dashboard, lua, args, creds["sessions"], "session"
            ),
        }
        outcomes: list[str] = []
        recomputes = threading.Thread(
            target=recompute_loop, args=(env, started + args.duration, outcomes)
        )
        recomputes.start()
        results = {name: wrk_result(process) for name, process in loads.items()}
        log("load finished; waiting for the last recompute")
        recomputes.join()
        runs = shell(RUNS.format(after=after), env, "RUNS")
    finally:
        status = stop_serve(serve)
        log(f"serve.sh stopped with status {status}")
    requests, server_errors, error_lines, durations = server_log(log_path)

    lines = [
        f"Machine: {platform.node()}, {os.cpu_count()} cores, load average {load_before:.1f} "
        f"before the run and {os.getloadavg()[0]:.1f} after (one minute; the machine is shared); "
        f"{args.duration} s, {args.connections} connections per "
        f"endpoint ({THREADS} wrk threads each), {len(creds['tokens'])} users round robin.",
        "",
        "| endpoint | requests | req/s | p50 ms | p90 ms | p99 ms | max ms "
        "| socket errors | non-2xx | in the app p50 / p99 ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (name, r), path in zip(results.items(), ("/api/v1/accounts/", "/"), strict=True):
        app = durations.get(path, [])
        socket_errors = r["connect"] + r["read"] + r["write"] + r["timeout"]
        failed |= socket_errors > 0 or r["non_2xx"] > 0
        lines.append(
            f"| {name} | {r['requests']} | {r['requests'] / (r['duration_us'] / 1e6):.1f} "
            f"| {r['p50_us'] / 1000:.0f} | {r['p90_us'] / 1000:.0f} | {r['p99_us'] / 1000:.0f} "
            f"| {r['max_us'] / 1000:.0f} | {socket_errors} | {r['non_2xx']}"
            + (f" (last {r['last_bad_status']})" if r["non_2xx"] else "")
            + f" | {percentile(app, 0.5):.0f} / {percentile(app, 0.99):.0f} |"
        )
    lines += ["", "| recompute run | status | wall s | chunks | results (expected) |"]
    lines.append("|---|---|---|---|---|")
    for run in runs:
        expected = run["accounts"] * creds["models"]
        failed |= run["status"] != "succeeded" or run["results"] != expected
        lines.append(
            f"| {run['id']} | {run['status']} | {run['seconds']} | {run['chunks']} "
            f"| {run['results']} ({expected}) |"
        )
    failed |= not runs or status != 0 or server_errors > 0 or bool(error_lines)
    failed_requests = [outcome for outcome in outcomes if not outcome.startswith("exit 0:")]
    failed |= bool(failed_requests)
    lines += ["", f"Recompute requests: {len(outcomes)}, {len(failed_requests)} failed."]
    lines += [f"    {outcome[:300]}" for outcome in failed_requests]
    lines += [
        "",
        f"Server log: {requests} request lines, {server_errors} with a 5xx, "
        f"{len(error_lines)} ERROR lines; serve.sh exited {status} after SIGINT. Latency as "
        "wrk sees it includes the wait for a free gunicorn worker; *in the app* is the time "
        "from the request-log middleware (kam.request lines).",
    ]
    lines += [f"    {line}" for line in error_lines[:10]]
    report = "\n".join(lines)
    (SCRATCH / "report.md").write_text(report + "\n")
    print("\n" + report)
    print("\nSOAK " + ("FAILED" if failed else "PASSED"))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
