#!/usr/bin/env bash
# Run the web server and a django-q2 cluster together; Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}

$BIN/python manage.py qcluster &
QPID=$!
trap 'kill $QPID 2>/dev/null; wait $QPID 2>/dev/null' EXIT INT TERM

echo "SunuSàv Risk Ops: http://$HOST:$PORT/admin/  (worker pid $QPID)"
$BIN/python manage.py runserver --noreload "$HOST:$PORT"
