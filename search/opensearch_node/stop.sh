#!/usr/bin/env bash
# Stop the node started by start.sh: SIGTERM (clean shutdown), SIGKILL after 30 s.
#
#   stop.sh DATA_DIR
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 DATA_DIR" >&2
    exit 2
fi
PID_FILE="$1/opensearch.pid"
if [ ! -f "$PID_FILE" ]; then
    echo "not running (no $PID_FILE)"
    exit 0
fi
PID=$(cat "$PID_FILE")
# Only signal the process if it is still our node (the pid may have been reused).
if ! kill -0 "$PID" 2>/dev/null || ! grep -qa OpenSearchNodeMain "/proc/$PID/cmdline" 2>/dev/null; then
    echo "not running (stale pid $PID)"
    rm -f "$PID_FILE"
    exit 0
fi
kill -TERM "$PID"
for _ in $(seq 1 60); do
    kill -0 "$PID" 2>/dev/null || { rm -f "$PID_FILE"; echo "stopped pid $PID"; exit 0; }
    sleep 0.5
done
echo "pid $PID still alive after 30s; sending SIGKILL" >&2
kill -KILL "$PID" 2>/dev/null || true
for _ in $(seq 1 20); do kill -0 "$PID" 2>/dev/null || break; sleep 0.5; done
rm -f "$PID_FILE"
echo "killed pid $PID"
