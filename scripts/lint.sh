#!/usr/bin/env bash
# Style gate: banned functions, no printf outside the logger and CLI entry points, cppcheck.
# Formatting is pinned by .clang-format: any difference fails.
set -u
cd "$(dirname "$0")/.."
fail=0
banned='\b(sprintf|vsprintf|strcpy|strcat|gets|atoi|atol|strtok|system)\s*\('
if grep -rnE "$banned" src; then echo "lint: banned function above"; fail=1; fi
if grep -rnE '\b(malloc|calloc|realloc|free)\s*\(' src | grep -v '^src/base/mem.c' | grep -vE 'hy_(malloc|calloc|realloc|free)|cJSON_free|_free\('; then
    echo "lint: bare allocation outside src/base/mem.c"; fail=1; fi
if grep -rnE '\b(printf|fprintf|puts)\s*\(' src | grep -v '/\*' | grep -vE '^src/(base/log.c|base/hyassert.c|main.c|analytics/ancli.c):'; then
    echo "lint: printf outside the logger/CLI"; fail=1; fi
if command -v cppcheck >/dev/null; then
    cppcheck -q --error-exitcode=1 --enable=warning,portability --inline-suppr \
        --suppress=missingIncludeSystem -Isrc src || fail=1
fi
if command -v clang-format >/dev/null; then
    out=$(find src tests/unit tests/fuzz bench -name node_modules -prune -o -name '*.[ch]' -print0 |
        xargs -0 clang-format --dry-run --Werror 2>&1 | head -20)
    if [ -n "$out" ]; then
        printf '%s\n' "$out"; echo "lint: run clang-format -i on the files above"; fail=1
    fi
fi
[ $fail -eq 0 ] && echo "lint: ok"
exit $fail
