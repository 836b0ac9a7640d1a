#!/usr/bin/env bash
# The production stack without Docker: gunicorn (web) + the credit and fraud
# django-q2 clusters, against the PostgreSQL and Redis named by DATABASE_URL and
# REDIS_URL (the same processes as docker-compose.yml).
#
#   scripts/stack.sh start     migrate, models_sync, sync_schedules, start all three, wait for /health
#   scripts/stack.sh stop      SIGTERM each, wait, report (SIGKILL after STACK_STOP_TIMEOUT)
#   scripts/stack.sh status    which of them run
#
# Knobs: STACK_DIR (pid files and logs, default var/stack), STACK_BIND (default
# 127.0.0.1:8000), STACK_PYTHON (default .venv/bin/python), STACK_WAIT (seconds
# to wait for /health, default 90), STACK_STOP_TIMEOUT (default 30), and every
# variable of docs/OPERATIONS.md (WEB_CONCURRENCY, Q_CREDIT_WORKERS, ...).
set -Eeuo pipefail
cd "$(dirname "$0")/.."

STACK_DIR=${STACK_DIR:-var/stack}
STACK_BIND=${STACK_BIND:-127.0.0.1:8000}
PY=${STACK_PYTHON:-.venv/bin/python}
WAIT=${STACK_WAIT:-90}
STOP_TIMEOUT=${STACK_STOP_TIMEOUT:-30}
SERVICES=(web credit fraud)

say() { echo "stack: $*"; }
die() {
    echo "stack: $*" >&2
    exit 1
}

pid_of() { # the pid recorded for a service, if that process is alive
    local file="$STACK_DIR/$1.pid" pid
    [ -f "$file" ] || return 1
    pid=$(cat "$file")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

group_alive() { kill -0 -- "-$1" 2>/dev/null; } # any process left in process group $1

stop_one() {
    local name=$1 file="$STACK_DIR/$1.pid" pid waited=0
    if [ ! -f "$file" ]; then
        return 0
    fi
    pid=$(cat "$file")
    if [ -z "$pid" ] || ! group_alive "$pid"; then
        say "$name: not running (stale pid file removed)"
        rm -f "$file"
        return 0
    fi
    # Only the leader gets SIGTERM: gunicorn's master and django-q2's sentinel stop
    # their own workers in order (a request or a job in flight finishes first).
    kill -TERM "$pid" 2>/dev/null || true
    while group_alive "$pid" && [ "$waited" -lt $((STOP_TIMEOUT * 10)) ]; do
        sleep 0.1
        waited=$((waited + 1))
    done
    if group_alive "$pid"; then
        kill -KILL -- "-$pid" 2>/dev/null || true
        sleep 0.2
        say "$name: pid $pid did not stop within ${STOP_TIMEOUT}s: killed (SIGKILL to its process group)"
    else
        say "$name: pid $pid stopped in $((waited / 10)).$((waited % 10))s"
    fi
    rm -f "$file"
}

stop_all() {
    # Web first (no new work enqueued), then the workers.
    if ! ls "$STACK_DIR"/*.pid >/dev/null 2>&1; then
        say "nothing to stop (no pid files in $STACK_DIR)"
        return 0
    fi
    for name in "${SERVICES[@]}"; do
        stop_one "$name"
    done
}

launch() { # name, then the command: its own session (process group), output to its log
    local name=$1
    shift
    setsid "$@" >>"$STACK_DIR/$name.log" 2>&1 </dev/null &
    echo $! >"$STACK_DIR/$name.pid"
    say "$name: started, pid $! (log $STACK_DIR/$name.log)"
}

health_ok() {
    "$PY" - "http://$STACK_BIND/health" <<'PY'
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
        sys.exit(0 if r.status == 200 else 1)
except Exception:
    sys.exit(1)
PY
}

start() {
    [ -n "${DATABASE_URL:-}" ] || die "DATABASE_URL is not set: export DATABASE_URL=postgres://user:pass@host:5432/sunusav (see docs/OPERATIONS.md)"
    [ -n "${REDIS_URL:-}" ] || die "REDIS_URL is not set: export REDIS_URL=redis://host:6379/0 (see docs/OPERATIONS.md)"
    case "$DATABASE_URL" in
    postgres://* | postgresql://* | pgsql://*) ;;
    *) die "DATABASE_URL must name a PostgreSQL database (the stack's workers and web processes share it); got ${DATABASE_URL%%:*}://..." ;;
    esac
    [ -x "$PY" ] || die "no Python at $PY: run 'make setup' first, or set STACK_PYTHON"
    mkdir -p "$STACK_DIR"
    for name in "${SERVICES[@]}"; do
        if pid=$(pid_of "$name"); then
            die "$name is already running (pid $pid): scripts/stack.sh stop first"
        fi
    done

    # The credit cluster runs the schedules (nightly scoring, outbox, liquidity, purge).
    export Q_SCHEDULE_CLUSTER=${Q_SCHEDULE_CLUSTER:-credit}
    # Prometheus multiprocess mode for gunicorn's workers only (gunicorn.conf.py empties
    # the folder at start); the clusters and the commands below count in-process.
    local prometheus_dir=${PROMETHEUS_MULTIPROC_DIR:-$STACK_DIR/prometheus}
    mkdir -p "$prometheus_dir"
    unset PROMETHEUS_MULTIPROC_DIR
    export PYTHONUNBUFFERED=1

    say "migrate, models_sync, sync_schedules on ${DATABASE_URL##*@}"
    "$PY" manage.py migrate --noinput -v0
    "$PY" manage.py createcachetable
    "$PY" manage.py collectstatic --noinput -v0
    "$PY" manage.py models_sync -v0
    "$PY" manage.py sync_schedules -v0

    trap 'say "start failed: stopping what was started"; stop_all' ERR
    launch web env PROMETHEUS_MULTIPROC_DIR="$prometheus_dir" "$PY" -m gunicorn -c gunicorn.conf.py --bind "$STACK_BIND"
    launch credit env Q_CLUSTER_NAME=credit "$PY" manage.py qcluster
    launch fraud env Q_CLUSTER_NAME=fraud "$PY" manage.py qcluster

    local waited=0
    until health_ok; do
        for name in "${SERVICES[@]}"; do
            if ! pid_of "$name" >/dev/null; then
                tail -n 30 "$STACK_DIR/$name.log" >&2 || true
                say "$name exited during start-up (log above)" >&2
                false
            fi
        done
        if [ "$waited" -ge $((WAIT * 5)) ]; then
            say "http://$STACK_BIND/health did not answer 200 within ${WAIT}s" >&2
            false
        fi
        sleep 0.2
        waited=$((waited + 1))
    done
    for name in "${SERVICES[@]}"; do
        pid_of "$name" >/dev/null || {
            tail -n 30 "$STACK_DIR/$name.log" >&2
            say "$name exited during start-up" >&2
            false
        }
    done
    trap - ERR
    say "up: http://$STACK_BIND/health answers; stop with 'make stack-stop' (scripts/stack.sh stop)"
}

status() {
    local rc=0
    for name in "${SERVICES[@]}"; do
        if pid=$(pid_of "$name"); then
            say "$name: running, pid $pid"
        else
            say "$name: stopped"
            rc=3
        fi
    done
    return $rc
}

case "${1:-}" in
start) start ;;
stop) stop_all ;;
status) status ;;
*) die "usage: scripts/stack.sh start|stop|status" ;;
esac
