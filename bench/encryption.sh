#!/usr/bin/env bash
# Row a (closed-loop PutRecordBatch, 500 x 1 KiB, 16 connections, delivered MB/s) with the
# stream's log plain and sealed (StartDeliveryStreamEncryption, AWS_OWNED_CMK), one binary:
#   bench/encryption.sh [PAIRS]
# Each pair runs both modes back to back on fresh data dirs, the order alternating, and the
# script prints the loadgen rows and the median sealed/plain ratio of MB/s and p99.
# BENCH_SECONDS (default 20) per run.
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS=${1:-3}
SECS=${BENCH_SECONDS:-20}
BUILD=${BUILD:-build}
BIN=$BUILD/hydrant
LOADGEN=$BUILD/loadgen
PY=${PYTHON:-python3}
DATA=$BUILD/bench-data/encryption
PID=""
trap '[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$DATA"' EXIT

call() { # call PORT OP JSON
    curl -sf -o /dev/null --max-time 10 -H 'Content-Type: application/x-amz-json-1.1' \
        -H "X-Amz-Target: Firehose_20150804.$2" --data "$3" "http://127.0.0.1:$1/"
}

run_one() { # run_one MODE LABEL -> prints the loadgen row
    local mode=$1 label=$2 port
    port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    rm -rf "$DATA"
    mkdir -p "$DATA"
    "$BIN" serve --listen "127.0.0.1:$port" --data-dir "$DATA" --log-level warn 2>/dev/null &
    PID=$!
    for _ in $(seq 1 200); do
        curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$port/_hydrant/health" && break
        sleep 0.1
    done
    call "$port" CreateDeliveryStream '{"DeliveryStreamName":"bench","DeliveryStreamType":"DirectPut",
        "ExtendedS3DestinationConfiguration":{"RoleARN":"arn:aws:iam::123456789012:role/r",
        "BucketARN":"arn:aws:s3:::bench","BufferingHints":{"SizeInMBs":64,"IntervalInSeconds":0}}}'
    if [ "$mode" = sealed ]; then
        call "$port" StartDeliveryStreamEncryption '{"DeliveryStreamName":"bench"}'
    fi
    timeout $((SECS * 3 + 200)) "$LOADGEN" --url "http://127.0.0.1:$port" --quiet --gen-cpu \
        --stream bench --label "$label" --server-pid "$PID" --duration "$SECS" \
        --op batch --connections 16 --wait-delivered
    kill -TERM "$PID"
    wait "$PID" || true
    PID=""
}

col() { echo "$1" | awk -F'|' -v n="$2" '{ gsub(/[ ,]/, "", $(n + 1)); print $(n + 1) }'; }

"$LOADGEN" --header-only --gen-cpu
mb=() dl=() p99=()
for i in $(seq 1 "$PAIRS"); do
    if [ $((i % 2)) -eq 1 ]; then order="plain sealed"; else order="sealed plain"; fi
    for m in $order; do
        row=$(run_one "$m" "a: $m #$i")
        echo "$row"
        eval "${m}_row=\$row"
    done
    mb+=("$(col "$sealed_row" 6) $(col "$plain_row" 6)")
    dl+=("$(col "$sealed_row" 15) $(col "$plain_row" 15)")
    p99+=("$(col "$sealed_row" 8) $(col "$plain_row" 8)")
done
ratio() { printf '%s\n' "$@" | awk '{ if ($2 > 0) print $1 / $2 }' | sort -g |
    awk '{ v[NR] = $1 } END { if (NR) printf "%.3f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo
echo "median sealed/plain over $PAIRS pairs: acked MB/s $(ratio "${mb[@]}"), delivered MB/s $(ratio "${dl[@]}"), p99 $(ratio "${p99[@]}")"
