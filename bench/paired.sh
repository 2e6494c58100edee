#!/usr/bin/env bash
# Paired A/B run of row a (closed-loop PutRecordBatch, 16 connections) or, with PAIRED_ROW=c,
# row c (PutRecord, 64 connections) for two hydrant binaries:
#   bench/paired.sh OLD_BINARY NEW_BINARY [PAIRS]
# Each pair runs both binaries back to back (the order alternates between pairs) on fresh data
# dirs, so slow drifts of the shared machine hit both sides alike. Prints one markdown row per
# run and the median of NEW/OLD over the pairs. BENCH_SECONDS (default 20) per run.
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=$1 NEW=$2 PAIRS=${3:-4}
SECS=${BENCH_SECONDS:-20}
case ${PAIRED_ROW:-a} in
a) ROW_ARGS=(--op batch --connections 16 --wait-delivered) ;;
c) ROW_ARGS=(--op single --connections 64) ;;
*) echo "PAIRED_ROW must be a or c" >&2; exit 2 ;;
esac
BUILD=${BUILD:-build}
LOADGEN=$BUILD/loadgen
PY=${PYTHON:-python3}
DATA=$BUILD/bench-data/paired
PID=""
trap '[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$DATA"' EXIT

run_one() { # run_one BINARY LABEL -> prints the loadgen row
    local bin=$1 label=$2 port
    port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    rm -rf "$DATA"
    mkdir -p "$DATA"
    "$bin" serve --listen "127.0.0.1:$port" --data-dir "$DATA" --log-level warn 2>/dev/null &
    PID=$!
    for _ in $(seq 1 200); do
        curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$port/_hydrant/health" && break
        sleep 0.1
    done
    timeout $((SECS * 3 + 200)) "$LOADGEN" --url "http://127.0.0.1:$port" --quiet --gen-cpu \
        --stream bench --create --size-mb 64 --interval-s 0 --label "$label" \
        --server-pid "$PID" --duration "$SECS" "${ROW_ARGS[@]}"
    kill -TERM "$PID"
    wait "$PID" || true
    PID=""
}

col() { echo "$1" | awk -F'|' -v n="$2" '{ gsub(/[ ,]/, "", $(n + 1)); print $(n + 1) }'; }

"$LOADGEN" --header-only --gen-cpu
ratios=()
for i in $(seq 1 "$PAIRS"); do
    if [ $((i % 2)) -eq 1 ]; then order="old new"; else order="new old"; fi
    for side in $order; do
        if [ "$side" = old ]; then row=$(run_one "$OLD" "old #$i"); else row=$(run_one "$NEW" "new #$i"); fi
        echo "$row"
        eval "mb_$side=\$(col \"\$row\" 6)"
    done
    # shellcheck disable=SC2154 # set by the eval above
    ratios+=("$(awk -v a="$mb_old" -v b="$mb_new" 'BEGIN { printf "%.4f", b / a }')")
done
echo
printf 'new/old payload MB/s per pair: %s\n' "${ratios[*]}"
printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "median new/old: %.4f (%+.1f %%)\n", m, (m - 1) * 100 }'
