#!/usr/bin/env bash
# The parameter search behind the default detector, reproducible (bench/README.md, "Analytics"):
# every setting in bench/nabsweep.grid (146: the first ensemble's search space and the settings
# tried for ensemble2) scored on the shared NAB files, then the leave-one-category-out estimate of
# the whole search (setting and threshold chosen on 4 categories, the 5th scored). Prints the 10
# best settings, the two shipped ones and the estimate. Environment: NAB_DIR, BUILD. ~2 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
NAB=${NAB_DIR:-/work/shared/nab}
BUILD=${BUILD:-build}
make -s "$BUILD/nabsweep" >/dev/null
out=$("$BUILD/nabsweep" "$NAB" <bench/nabsweep.grid)
echo "## Settings by shared standard score (standard low_FP low_FN, TP, FP, threshold | knobs)"
echo
echo '```'
grep -v '^LOCO' <<<"$out" | sort -rn | head -10
echo '```'
echo
echo "## The shipped settings with the threshold chosen on the other categories only"
echo
echo '```'
for set in "ensemble:20=0" "ensemble2:9=1 0=10 1=5 20=1"; do
    echo "${set%%:*}: $("$BUILD/nabsweep" "$NAB" <<<"${set#*:}" | grep 'LOCO standard')"
done
echo '```'
echo
echo "## Leave-one-category-out over the whole search"
echo
echo '```'
grep '^LOCO' <<<"$out"
echo '```'
