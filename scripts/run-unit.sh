#!/usr/bin/env bash
# Run each unit-test binary in its own process (one crash cannot hide the others) and print one
# closing line in the plain "N passed, N failed" form over all cmocka tests.
set -u
pass=0; fail=0; bad=()
for t in "$@"; do
    out=$("$t" 2>&1); rc=$?
    printf '%s\n' "$out" | grep -E '^\[  (FAILED|PASSED|  ERROR) \]|^\[  ERROR   \]|FAILED' || true
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0}))
    if [ $rc -ne 0 ]; then bad+=("$t"); [ -z "$f" ] && fail=$((fail + 1)); printf '%s\n' "$out" | tail -20; fi
done
echo "unit: $pass passed, $fail failed"
[ ${#bad[@]} -eq 0 ] || { echo "failing: ${bad[*]}"; exit 1; }
