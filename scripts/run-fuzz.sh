#!/usr/bin/env bash
# Run each libFuzzer binary for N seconds on its seed corpus (a copy, so seeds stay clean).
# FUZZ_SEED fixes libFuzzer's random seed (CI sets it, so a CI run repeats the exploration that
# was checked by hand instead of failing at random; longer runs by hand leave it unset).
set -euo pipefail
secs=$1; shift
for bin in "$@"; do
    name=$(basename "$bin" _fuzz)
    work=build/fuzz/corpus/$name; mkdir -p "$work"
    seeds=tests/fuzz/corpus/$name
    [ -d "$seeds" ] && cp -n "$seeds"/* "$work"/ 2>/dev/null || true
    echo "fuzz: $name for ${secs}s"
    seed=()
    [ -n "${FUZZ_SEED:-}" ] && seed=(-seed="$FUZZ_SEED")
    "$bin" "${seed[@]}" -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=0 "$work" 2>&1 | tail -3
done
