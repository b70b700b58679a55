#!/usr/bin/env bash
# A production-like run: gunicorn (static files by whitenoise), one Celery worker and one beat,
# on PostgreSQL and Redis, with kam.settings.production and JSON logs.
#
#   scripts/serve.sh           migrate, collectstatic, then web + worker + beat until Ctrl-C
#   scripts/serve.sh setup     migrate and collectstatic only
#   scripts/serve.sh migrate   migrate only (containers: the static files are in the image)
#   scripts/serve.sh web       gunicorn alone, in the foreground (one container per process)
#   scripts/serve.sh worker    the Celery worker alone
#   scripts/serve.sh beat      the Celery beat alone (run exactly one per deployment)
#   scripts/serve.sh healthcheck   exit 0 when /healthz answers 200 (for container healthchecks)
#
# Without an argument (and with setup) it fills in defaults for a laptop: local PostgreSQL
# database `kam`, Redis db 0 as the broker and db 1 as the cache, http on 127.0.0.1:8000, a secret
# generated once into the git-ignored .secret_key. A deployment sets the variables itself
# (docs/deployment.md).
#
# Ctrl-C (SIGINT) or SIGTERM stops all three cleanly: each gets SIGTERM (gunicorn finishes its
# requests, the worker its tasks), and whatever still runs after KAM_STOP_TIMEOUT seconds is
# killed together with its children.
set -euo pipefail
SELF="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$SELF")/.."

# Started in the background by another script, a shell inherits SIGINT ignored, and bash cannot
# trap a signal ignored on entry: start again with SIGINT restored, so that it always stops all.
sigign="$(awk '/^SigIgn:/ {print $2}' "/proc/$$/status" 2>/dev/null || echo 0)"
if [ -z "${KAM_SERVE_SIGINT_RESTORED:-}" ] && (((16#${sigign:-0} & 2) != 0)); then
  export KAM_SERVE_SIGINT_RESTORED=1
  exec env --default-signal=INT "$SELF" "$@"
fi

# The project's virtualenv on a laptop; the image's Python in a container.
if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python; fi

export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-kam.settings.production}"
export PYTHONUNBUFFERED=1

# `make serve` on a laptop (all, setup): whatever is not set. The single processes (web, worker,
# beat, migrate) take the environment as it is, so that a deployment that forgets a secret or
# the https redirect is refused or keeps production's default, never given a laptop's value.
laptop_defaults() {
  if [ -z "${DJANGO_SECRET_KEY:-}" ]; then
    if [ ! -s .secret_key ]; then
      (umask 077 && "$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(64))' >.secret_key)
      echo "serve: generated a secret key into .secret_key" >&2
    fi
    DJANGO_SECRET_KEY="$(cat .secret_key)"
  fi
  export DJANGO_SECRET_KEY
  export DJANGO_ALLOWED_HOSTS="${DJANGO_ALLOWED_HOSTS:-127.0.0.1,localhost}"
  export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/kam}"
  export CELERY_BROKER_URL="${CELERY_BROKER_URL:-redis://127.0.0.1:6379/0}"
  export CACHE_URL="${CACHE_URL:-rediscache://127.0.0.1:6379/1?socket_connect_timeout=1&socket_timeout=1}"
  # No TLS on a laptop. Behind a TLS-terminating proxy leave it unset: production's default is
  # true.
  export DJANGO_SECURE_SSL_REDIRECT="${DJANGO_SECURE_SSL_REDIRECT:-false}"
  export KAM_LOG_FORMAT="${KAM_LOG_FORMAT:-json}"
}

HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
# Gunicorn's own variable: sync worker processes, 2 x cores + 1 by default.
WEB_CONCURRENCY="${WEB_CONCURRENCY:-$((2 * $(nproc) + 1))}"
# Celery worker processes (prefork); default: one per core.
CELERY_CONCURRENCY="${CELERY_CONCURRENCY:-$(nproc)}"
KAM_STOP_TIMEOUT="${KAM_STOP_TIMEOUT:-30}"

web() {
  exec "$PYTHON" -m gunicorn kam.wsgi:application \
    --bind "$HOST:$PORT" --workers "$WEB_CONCURRENCY" \
    --timeout "${GUNICORN_TIMEOUT:-60}" --graceful-timeout "$KAM_STOP_TIMEOUT" \
    --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-127.0.0.1}" --no-control-socket
}

worker() {
  exec "$PYTHON" -m celery -A kam worker --concurrency "$CELERY_CONCURRENCY" \
    --hostname "${CELERY_HOSTNAME:-worker@%h}" --without-gossip --without-mingle
}

beat() {
  # The schedule lives in the database (django-celery-beat, editable in the admin).
  exec "$PYTHON" -m celery -A kam beat \
    --scheduler django_celery_beat.schedulers:DatabaseScheduler --pidfile=
}

migrate() {
  create_database
  "$PYTHON" manage.py migrate --noinput
}

setup() {
  laptop_defaults
  migrate
  "$PYTHON" manage.py collectstatic --noinput -v0
}

# A first `make serve` on a laptop: create the PostgreSQL database when it does not exist yet.
create_database() {
  "$PYTHON" - <<'EOF'
import os

import environ
import psycopg2
from psycopg2 import errors, sql

# Without DATABASE_URL, migrate says what is missing (production settings refuse to start).
config = environ.Env.db_url_config(os.environ.get("DATABASE_URL") or "sqlite://")
if config["ENGINE"].endswith("postgresql"):
    params = {
        "host": config.get("HOST") or None,
        "port": config.get("PORT") or None,
        "user": config.get("USER") or None,
        "password": config.get("PASSWORD") or None,
    }
    try:
        psycopg2.connect(dbname=config["NAME"], **params).close()
    except psycopg2.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise
        admin = psycopg2.connect(dbname="postgres", **params)
        admin.autocommit = True
        try:
            with admin.cursor() as cursor:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))
            print(f"serve: created database {config['NAME']}", flush=True)
        except errors.DuplicateDatabase:
            pass
        finally:
            admin.close()
EOF
}

healthcheck() {
  # As a load balancer asks: the first allowed host, and https as seen by the proxy (no redirect).
  exec "$PYTHON" - <<'EOF'
import os
import sys
import urllib.request

host = os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",")[0].strip().lstrip(".*") or "localhost"
request = urllib.request.Request(
    f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz",
    headers={"Host": host, "X-Forwarded-Proto": "https"},
)
try:
    with urllib.request.urlopen(request, timeout=5) as response:
        sys.exit(0 if response.status == 200 else 1)
except Exception as exc:
    print(f"healthcheck: {exc}", file=sys.stderr)
    sys.exit(1)
EOF
}

# Each process in its own session (and so process group): Ctrl-C reaches only this script, which
# stops them in order, and a process that will not stop is killed together with its children.
pids=()
start() {
  setsid "$SELF" "$1" &
  pids+=("$!")
}

alive() {
  local pid
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then return 0; fi
  done
  return 1
}

stop() {
  local status="${1:-0}" pid
  trap '' INT TERM
  echo "serve: stopping web, worker and beat" >&2
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  local deadline=$((SECONDS + KAM_STOP_TIMEOUT))
  while alive && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      echo "serve: $pid did not stop within ${KAM_STOP_TIMEOUT}s; killing it" >&2
      status=1
    fi
    # The whole group: a worker's pool processes too, even when their parent is already gone.
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  wait || true
  echo "serve: stopped" >&2
  exit "$status"
}

all() {
  setup
  start web
  start worker
  start beat
  trap 'stop 0' INT TERM
  echo "serve: http://$HOST:$PORT/ (web pid ${pids[0]}, worker ${pids[1]}, beat ${pids[2]})" >&2
  # Until a signal arrives or one of the three exits on its own (then stop the others).
  local status=0
  wait -n || status=$?
  echo "serve: a process exited on its own (status $status)" >&2
  stop 1
}

case "${1:-all}" in
  all | setup | migrate | web | worker | beat | healthcheck) "${1:-all}" ;;
  *)
    echo "usage: $0 [all|setup|migrate|web|worker|beat|healthcheck]" >&2
    exit 2
    ;;
esac
