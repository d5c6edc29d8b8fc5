#!/usr/bin/env bash
# Start a single-node OpenSearch (jars from Maven Central, see pom.xml) in the background.
#
#   start.sh DATA_DIR PORT [-Ekey=value ...]
#
# Binds 127.0.0.1:PORT (HTTP); the transport port is picked from 9300-9400.
# Writes DATA_DIR/opensearch.pid and DATA_DIR/opensearch.log, then waits until
# GET /_cluster/health is yellow or green. Exits non-zero (printing the log tail) on failure.
#
# Environment:
#   OPENSEARCH_JAVA_OPTS  JVM options (default: -Xms512m -Xmx512m)
#   START_TIMEOUT         seconds to wait for health once the JVM is launched (default: 180)
#   MVN_ARGS              extra Maven arguments, e.g. -Dmaven.repo.local=/tmp/m2
#   JAVA_HOME             JDK to use (default: java on PATH); needs Java 11+, tested on 17
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: $0 DATA_DIR PORT [-Ekey=value ...]" >&2
    exit 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
DATA_DIR=$(cd "$1" && pwd)
PORT=$2
shift 2
PID_FILE="$DATA_DIR/opensearch.pid"
LOG_FILE="$DATA_DIR/opensearch.log"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
JAVA_OPTS=${OPENSEARCH_JAVA_OPTS:--Xms512m -Xmx512m}
TIMEOUT=${START_TIMEOUT:-180}

if [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
    echo "already running: pid $(cat "$PID_FILE") (from $PID_FILE)" >&2
    exit 1
fi
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    echo "port $PORT on 127.0.0.1 is already in use" >&2
    exit 1
fi

# --- build: compile the launcher and resolve the classpath (skipped when up to date) ---
CP_FILE="$HERE/target/classpath.txt"
build_needed() {
    [ -s "$CP_FILE" ] && [ -d "$HERE/target/classes/shanhai" ] || return 0
    [ -n "$(find "$HERE/pom.xml" "$HERE/src" -newer "$CP_FILE" -print -quit)" ] && return 0
    local jar
    while IFS= read -r -d: jar || [ -n "$jar" ]; do
        [ -f "$jar" ] || return 0
    done < "$CP_FILE"
    return 1
}
mkdir -p "$HERE/target"
(
    flock 9   # concurrent start.sh calls share target/
    if build_needed; then
        cd "$HERE"
        goals=(-q -B -Dstyle.color=never ${MVN_ARGS:-} compile dependency:build-classpath "-Dmdep.outputFile=$CP_FILE")
        # Offline first (fast, no network when ~/.m2 is warm), then online for a cold cache.
        mvn -o "${goals[@]}" >/dev/null 2>&1 || mvn "${goals[@]}"
        touch "$CP_FILE"   # build-classpath leaves an unchanged file untouched
    fi
) 9>"$HERE/target/.build.lock"

# --- launch ---
: > "$LOG_FILE"
# shellcheck disable=SC2086  # JAVA_OPTS is a word list
nohup "$JAVA" $JAVA_OPTS \
    -XX:+ExitOnOutOfMemoryError \
    -Dfile.encoding=UTF-8 -Djava.awt.headless=true -Dlog4j2.formatMsgNoLookups=true \
    -cp "$HERE/target/classes:$(cat "$CP_FILE")" \
    shanhai.search.OpenSearchNodeMain "$DATA_DIR" "$PORT" "$@" \
    >>"$LOG_FILE" 2>&1 </dev/null &
PID=$!
echo "$PID" > "$PID_FILE"

fail() {
    echo "OpenSearch failed to start: $1" >&2
    echo "---- last lines of $LOG_FILE ----" >&2
    tail -n 60 "$LOG_FILE" >&2
    if kill -0 "$PID" 2>/dev/null; then
        kill "$PID" 2>/dev/null || true
        for _ in $(seq 1 20); do kill -0 "$PID" 2>/dev/null || break; sleep 0.5; done
        kill -9 "$PID" 2>/dev/null || true
    fi
    rm -f "$PID_FILE"
    exit 1
}

start=$SECONDS
while :; do
    kill -0 "$PID" 2>/dev/null || fail "JVM exited"
    health=$(curl -s -m 2 "http://127.0.0.1:$PORT/_cluster/health" 2>/dev/null || true)
    # OpenSearchNodeMain persists cluster.default_number_of_replicas right after start; wait for it too,
    # so indices created by the caller never race it.
    if [[ "$health" =~ \"status\":\"(green|yellow)\" ]] &&
        curl -s -m 2 "http://127.0.0.1:$PORT/_cluster/settings" 2>/dev/null | grep -q default_number_of_replicas; then
        echo "OpenSearch up on http://127.0.0.1:$PORT (pid $PID, ${BASH_REMATCH[1]}, $((SECONDS - start))s)"
        exit 0
    fi
    [ $((SECONDS - start)) -ge "$TIMEOUT" ] && fail "no yellow/green health after ${TIMEOUT}s"
    sleep 0.5
done
