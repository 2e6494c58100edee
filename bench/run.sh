#!/usr/bin/env bash
# Benchmark matrix for hydrant (bench/README.md): prints markdown tables on stdout.
# Environment:
#   BENCH_SECONDS   seconds per load row (default 20)
#   BENCH_RATE      target MB/s of the fixed-rate row (default 50)
#   BENCH_SAMPLES   freshness samples (default 50)
#   BENCH_MOTO      0 to skip the moto comparison (default 1)
#   BENCH_OVERLOAD_FLAGS  `hydrant serve` flags for the overload row (default
#                   "--stream-quota-mib $BENCH_QUOTA_MIB" (16) when hydrant has that flag)
#   BENCH_LOADGEN_THREADS  loadgen event-loop threads (default 1)
#   BUILD           build directory (default build); PYTHON (default python3)
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${BENCH_SECONDS:-20}
RATE=${BENCH_RATE:-50}
SAMPLES=${BENCH_SAMPLES:-50}
MOTO=${BENCH_MOTO:-1}
BUILD=${BUILD:-build}
PY=${PYTHON:-python3}
LG_THREADS=${BENCH_LOADGEN_THREADS:-1}
HYDRANT=$BUILD/hydrant
LOADGEN=$BUILD/loadgen
DATA_ROOT=$BUILD/bench-data
LOG_DIR=$BUILD/bench-logs

SERVER_PID=""
SERVER_DATA=""
cleanup() {
    stop_server
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Wait until URL answers 200 (up to 20 s) while SERVER_PID is alive.
wait_http() {
    local url=$1
    for _ in $(seq 1 200); do
        if curl -sf -o /dev/null --max-time 1 "$url"; then return 0; fi
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then return 1; fi
        sleep 0.1
    done
    return 1
}

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
    if [ -n "$SERVER_DATA" ]; then rm -rf "$SERVER_DATA"; fi
    SERVER_DATA=""
}

# start_hydrant NAME [extra serve flags...]: fresh data dir, free port; sets PORT, SERVER_PID.
start_hydrant() {
    local name=$1
    shift
    PORT=$(free_port)
    SERVER_DATA=$DATA_ROOT/$name
    rm -rf "$SERVER_DATA"
    mkdir -p "$SERVER_DATA" "$LOG_DIR"
    "$HYDRANT" serve --listen "127.0.0.1:$PORT" --data-dir "$SERVER_DATA" "$@" \
        >"$LOG_DIR/hydrant-$name.log" 2>&1 &
    SERVER_PID=$!
    if ! wait_http "http://127.0.0.1:$PORT/_hydrant/health"; then
        echo "hydrant did not become healthy; log tail:" >&2
        tail -n 20 "$LOG_DIR/hydrant-$name.log" >&2 || true
        stop_server
        return 1
    fi
}

start_moto() {
    PORT=$(free_port)
    mkdir -p "$LOG_DIR"
    "$PY" -m moto.server -H 127.0.0.1 -p "$PORT" >"$LOG_DIR/moto.log" 2>&1 &
    SERVER_PID=$!
    wait_http "http://127.0.0.1:$PORT/moto-api/" || return 1
    "$PY" - "$PORT" <<'EOF'
import sys, boto3
s3 = boto3.client("s3", endpoint_url="http://127.0.0.1:%s" % sys.argv[1], region_name="us-east-1",
                  aws_access_key_id="test", aws_secret_access_key="test")
s3.create_bucket(Bucket="bench")
EOF
}

# Column n (1-based, after the leading '|') of a markdown row.
col() { echo "$1" | awk -F'|' -v n="$2" '{ gsub(/ /, "", $(n + 1)); print $(n + 1) }'; }

lg() {
    timeout $((SECS * 3 + 200)) "$LOADGEN" --url "http://127.0.0.1:$PORT" --quiet --gen-cpu \
        --threads "$LG_THREADS" "$@"
}

if [ ! -x "$LOADGEN" ]; then
    echo "missing $LOADGEN: run 'make bench' (or make $LOADGEN)" >&2
    exit 1
fi

echo "## hydrant benchmarks"
echo
CPU=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | sed "s/^ *//")
MEM_GB=$(free -g | awk '/Mem:/ {print $2}')
FS=$(df -T "$BUILD" | awk 'NR==2 {print $2}')
echo "$(nproc) CPUs ($CPU), $MEM_GB GiB RAM, data dir on $FS; load generator and server share" \
    "the machine. ${SECS} s per row."
echo

HY_ROW=""
if [ -x "$HYDRANT" ]; then
    "$LOADGEN" --header-only --gen-cpu
    common=(--stream bench --create --size-mb 64 --interval-s 0)

    # row NAME LABEL [loadgen args...]: a fresh hydrant per row (clean data dir, fresh peak RSS).
    row() {
        local name=$1 label=$2 out
        shift 2
        # shellcheck disable=SC2086 # SERVE_FLAGS is a list of flags
        if ! start_hydrant "$name" ${SERVE_FLAGS:-}; then
            echo "| $label | (hydrant failed to start) |"
            return
        fi
        out=$(lg "${common[@]}" --label "$label" --server-pid "$SERVER_PID" "$@") ||
            echo "(loadgen failed; see $LOG_DIR)" >&2
        echo "$out"
        LAST_ROW=$out
        stop_server
    }
    LAST_ROW=""
    row a "a: batch, 16 conns" --op batch --connections 16 --duration "$SECS" --wait-delivered
    HY_ROW=$LAST_ROW
    row b "b: batch at ${RATE} MB/s" --op batch --connections 16 --rate "$RATE" \
        --duration "$SECS" --wait-delivered
    row c "c: PutRecord, 64 conns" --op single --connections 64 --duration "$SECS"
    row c2 "c2: PutRecord, 128 conns" --op single --connections 128 --duration "$SECS"
    row g "g: batch at 250 MB/s" --op batch --connections 16 --rate 250 --duration "$SECS"
    # d: the heaviest request mix (4 MB batches, 64 connections) for peak RSS; with a small
    # per-stream quota (when the binary has the flag) it also shows throttling.
    if [ -z "${BENCH_OVERLOAD_FLAGS+x}" ] &&
        "$HYDRANT" serve --help 2>&1 | grep -q -- '--stream-quota-mib'; then
        BENCH_OVERLOAD_FLAGS="--stream-quota-mib ${BENCH_QUOTA_MIB:-16}"
    fi
    SERVE_FLAGS=${BENCH_OVERLOAD_FLAGS:-} row d \
        "d: overload, 4 MB batches, 64 conns${BENCH_OVERLOAD_FLAGS:+ ($BENCH_OVERLOAD_FLAGS)}" \
        --op batch --connections 64 --record-size 8000 --duration "$SECS"

    echo
    if start_hydrant e; then
        timeout $((SAMPLES * 35 + 60)) "$PY" bench/freshness.py \
            --endpoint "http://127.0.0.1:$PORT" --data-dir "$SERVER_DATA" --samples "$SAMPLES" \
            --header || echo "(freshness failed)"
        stop_server
    fi
else
    echo "($HYDRANT not built: hydrant rows skipped)"
fi

if [ "$MOTO" = 1 ]; then
    echo
    echo "### moto (python3 -m moto.server), same PutRecordBatch load as row a"
    echo
    if start_moto; then
        "$LOADGEN" --header-only --gen-cpu
        MOTO_ROW=$(lg --stream bench --create --label "f: moto, batch, 16 conns" --op batch \
            --connections 16 --duration "$SECS" --server-pid "$SERVER_PID") || true
        echo "$MOTO_ROW"
        stop_server
        if [ -n "$HY_ROW" ] && [ -n "$MOTO_ROW" ]; then
            echo
            "$PY" - "$(col "$HY_ROW" 6)" "$(col "$MOTO_ROW" 6)" "$(col "$HY_ROW" 7)" \
                "$(col "$MOTO_ROW" 7)" "$(col "$HY_ROW" 8)" "$(col "$MOTO_ROW" 8)" <<'EOF'
import sys
h, m, hp50, mp50, hp99, mp99 = (float(x) for x in sys.argv[1:])
ratio = lambda a, b: "%.1fx" % (a / b) if b > 0 else "n/a"
print("hydrant/moto: payload MB/s %s (%.1f vs %.1f); p50 latency %s lower (%.2f vs %.2f ms);"
      " p99 %s lower" % (ratio(h, m), h, m, ratio(mp50, hp50), hp50, mp50, ratio(mp99, hp99)))
EOF
        fi
    else
        echo "(moto failed to start; see $LOG_DIR/moto.log)"
        stop_server
    fi
fi

if [ -x "$BUILD/parse" ]; then
    echo
    echo "### PutRecordBatch body parsing (build/parse)"
    echo
    "$BUILD/parse" 2
fi
