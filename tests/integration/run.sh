#!/bin/sh
# Integration suite: tests/integration/run.sh [path-to-hydrant]
#   pyenv python3 (boto3 1.43) runs every module; Debian /usr/bin/python3 (boto3 1.26) runs
#   test_api and test_delivery. HYDRANT_SMOKE=1 runs only the smoke test (ASan builds).
#   Last line: "integration: N passed, N failed[, N skipped]"; exit 1 on any failure.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:-${HYDRANT_BIN:-$root/build/hydrant}}
case $bin in /*) ;; *) bin=$(pwd)/$bin ;; esac
if [ ! -x "$bin" ]; then
    echo "run.sh: no executable hydrant at $bin" >&2
    echo "integration: 0 passed, 1 failed"
    exit 1
fi
export HYDRANT_BIN="$bin"

pyenv_py=${HYDRANT_PY_PYENV:-}
if [ -z "$pyenv_py" ]; then
    for c in /root/.pyenv/shims/python3 "$HOME/.pyenv/shims/python3" "$(command -v python3 2>/dev/null)"; do
        if [ -n "$c" ] && [ -x "$c" ] && [ "$c" != /usr/bin/python3 ]; then pyenv_py=$c; break; fi
    done
fi
debian_py=${HYDRANT_PY_DEBIAN:-/usr/bin/python3}

passed=0 failed=0 skipped=0
out=$(mktemp /tmp/hydrant-it-run.XXXXXX)
trap 'rm -f "$out"' EXIT

run() { # run PYTHON LABEL MODULE...
    py=$1 label=$2
    shift 2
    if [ -z "$py" ] || ! [ -x "$py" ]; then
        echo "=== $label: interpreter not found, skipped" >&2
        skipped=$((skipped + 1))
        return
    fi
    if ! "$py" -c 'import boto3, botocore' >/dev/null 2>&1; then
        echo "=== $label ($py): boto3/botocore missing, skipped" >&2
        skipped=$((skipped + 1))
        return
    fi
    echo "=== $label: $("$py" -c 'import sys,boto3,botocore; print(sys.executable, "python", sys.version.split()[0], "boto3", boto3.__version__, "botocore", botocore.__version__)')" >&2
    (cd "$here" && "$py" runner.py "$@") >"$out"
    line=$(grep '^RESULT ' "$out" | tail -n 1)
    if [ -z "$line" ]; then
        echo "=== $label: runner crashed" >&2
        failed=$((failed + 1))
        return
    fi
    p=$(echo "$line" | sed 's/.*passed=\([0-9]*\).*/\1/')
    f=$(echo "$line" | sed 's/.*failed=\([0-9]*\).*/\1/')
    s=$(echo "$line" | sed 's/.*skipped=\([0-9]*\).*/\1/')
    echo "=== $label: $p passed, $f failed, $s skipped" >&2
    passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}

if [ "${HYDRANT_SMOKE:-0}" = 1 ]; then
    export HYDRANT_IT_TIMEOUT_SCALE=${HYDRANT_IT_TIMEOUT_SCALE:-4}
    run "$pyenv_py" "smoke (pyenv)" --smoke
else
    # One module a line, so parallel work merges cleanly.
    run "$pyenv_py" "pyenv python" \
        test_api \
        test_delivery \
        test_crash \
        test_cli \
        test_process \
        test_core \
        test_damage \
        test_input_hardening \
        test_readme \
        test_http_hardening \
        test_auth \
        test_sigv4 \
        test_analytics \
        test_pipeline \
        test_s3 \
        test_s3sink \
        test_encryption \
        test_kinesis \
        test_postgres \
        test_live_analytics \
        test_parquet \
        test_glue \
        test_alexa \
        test_transform \
        test_s3_auth \
        test_kinesis_source
    run "$debian_py" "debian python" test_api test_delivery
fi

if [ "$skipped" -gt 0 ]; then
    echo "integration: $passed passed, $failed failed, $skipped skipped"
else
    echo "integration: $passed passed, $failed failed"
fi
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
