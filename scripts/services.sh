#!/usr/bin/env bash
# Make sure PostgreSQL and Redis answer on 127.0.0.1; start them if they are down.
# Exits non-zero with a clear message when a service cannot be brought up (CI must fail loudly).
set -euo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 -U postgres; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }

if ! pg_up; then
  echo "PostgreSQL is down; starting it"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
fi
pg_up || { echo "ERROR: PostgreSQL is not reachable at 127.0.0.1:5432" >&2; exit 1; }

if ! redis_up; then
  echo "Redis is down; starting it"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no || true
  for _ in $(seq 1 30); do redis_up && break; sleep 1; done
fi
redis_up || { echo "ERROR: Redis is not reachable at 127.0.0.1:6379" >&2; exit 1; }
echo "PostgreSQL and Redis are up"
