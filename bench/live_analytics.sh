#!/usr/bin/env bash
# Live analytics overhead on ingest (bench/README.md, "Live analytics"): row a's load
# (PutRecordBatch, 500 x 1 KiB, 16 connections, closed loop) with JSON records {"v":N,"pad":...},
# once on a plain stream and once on a stream whose analytics settings score .v with a detector;
# then how long analytics needed after the load to score every record. Prints markdown.
# Environment: BENCH_SECONDS (10), BENCH_DETECTOR (ensemble), BUILD (build), PYTHON (python3).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${BENCH_SECONDS:-10}
DET=${BENCH_DETECTOR:-ensemble}
BUILD=${BUILD:-build}
PY=${PYTHON:-python3}
HYDRANT=$BUILD/hydrant
LOADGEN=$BUILD/loadgen
ROOT=$BUILD/bench-data/live-analytics
LOG_DIR=$BUILD/bench-logs
SERVER_PID=""

stop_server() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
}
trap 'stop_server; rm -rf "$ROOT"' EXIT
trap 'exit 130' INT TERM

[ -x "$HYDRANT" ] && [ -x "$LOADGEN" ] || { echo "run 'make bench' first" >&2; exit 1; }

metric() { # metric NAME: the value for stream="bench" (0 when absent)
    curl -sf "http://127.0.0.1:$PORT/_hydrant/metrics" |
        awk -v n="$1" '$1 == n "{stream=\"bench\"}" { print $2; f = 1 } END { if (!f) print 0 }'
}

# run NAME LABEL [analytics]: a fresh server and data dir per row.
run() {
    local name=$1 label=$2 an=${3:-}
    rm -rf "$ROOT"
    mkdir -p "$ROOT" "$LOG_DIR"
    local hs=""
    [ -n "$an" ] && hs=",\"HydrantAnalytics\":{\"value\":\".v\",\"detector\":\"$DET\",\"threshold\":0.5,\"target_stream\":\"bench-anomalies\"}"
    cat >"$ROOT/streams.json" <<JSON
[{"DeliveryStreamName":"bench","DeliveryStreamType":"DirectPut",
  "ExtendedS3DestinationConfiguration":{"BucketARN":"arn:aws:s3:::bench",
  "RoleARN":"arn:aws:iam::000000000000:role/x","BufferingHints":{"SizeInMBs":64,"IntervalInSeconds":0}}$hs},
 {"DeliveryStreamName":"bench-anomalies","DeliveryStreamType":"DirectPut",
  "ExtendedS3DestinationConfiguration":{"BucketARN":"arn:aws:s3:::alerts",
  "RoleARN":"arn:aws:iam::000000000000:role/x","BufferingHints":{"SizeInMBs":1,"IntervalInSeconds":0}}}]
JSON
    PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$HYDRANT" serve --listen "127.0.0.1:$PORT" --data-dir "$ROOT/data" --streams "$ROOT/streams.json" \
        >"$LOG_DIR/hydrant-live-$name.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 200); do
        curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$PORT/_hydrant/health" && break
        sleep 0.1
    done
    timeout $((SECS * 3 + 200)) "$LOADGEN" --url "http://127.0.0.1:$PORT" --quiet --gen-cpu \
        --stream bench --json --label "$label" --server-pid "$SERVER_PID" --op batch \
        --connections 16 --duration "$SECS" --wait-delivered
    if [ -n "$an" ]; then
        local t0 recs pts
        t0=$(date +%s.%N)
        recs=$(metric hydrant_incoming_records_total)
        for _ in $(seq 1 1200); do
            pts=$(metric hydrant_analytics_points_total)
            [ "${pts%.*}" -ge "${recs%.*}" ] && break
            sleep 0.1
        done
        CATCHUP="$pts of $recs records scored; analytics finished $(echo "$(date +%s.%N) - $t0" | bc) s after delivery; anomalies $(metric hydrant_analytics_anomalies_total), parse failures $(metric hydrant_analytics_parse_failures_total)"
    fi
    stop_server
}

echo "## Live analytics overhead (row a with JSON records, ${SECS} s per row)"
echo
"$LOADGEN" --header-only --gen-cpu
run plain "a: JSON records, no detector"
run an "a: JSON records, $DET on .v" yes
echo
echo "$CATCHUP"
