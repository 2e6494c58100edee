#!/usr/bin/env bash
# Analytics benchmarks (bench/README.md, "Analytics"): prints markdown tables on stdout.
#   1. NAB scores of every streaming detector on the shared files, all three profiles, with the
#      detector throughput (points/s, one thread, the whole corpus in memory), beside the
#      published SHARED rows from the data's README;
#   2. the LSTM autoencoder on the study's case: training + scoring wall time and peak RSS.
# Environment: NAB_DIR (default /work/shared/nab), BUILD (default build), BENCH_REPEAT (default 3:
# the best points/s of that many runs is shown, the scores are identical every run).
set -euo pipefail
cd "$(dirname "$0")/.."
NAB=${NAB_DIR:-/work/shared/nab}
BUILD=${BUILD:-build}
HYDRANT=$BUILD/hydrant
REPEAT=${BENCH_REPEAT:-3}
[ -x "$HYDRANT" ] || { echo "analytics.sh: build $HYDRANT first" >&2; exit 1; }

echo "## NAB, shared files (44 files, 83 windows), threshold optimised per profile"
echo
echo "| detector | standard | low_FP | low_FN | points/s (best of $REPEAT) |"
echo "|---|---|---|---|---|"
declare -A best
for i in $(seq "$REPEAT"); do
    while IFS='|' read -r _ name std fp fn _ _ _ pps _; do
        name=$(echo "$name" | xargs); pps=$(echo "$pps" | xargs)
        key="$name|$(echo "$std" | xargs)|$(echo "$fp" | xargs)|$(echo "$fn" | xargs)"
        prev=${best[$key]:-0}
        if [ "${pps%.*}" -gt "${prev%.*}" ]; then best[$key]=$pps; fi
    done < <("$HYDRANT" nab --data "$NAB" --detector all | grep -E '^\| [A-Za-z]' | grep -v '^| detector')
done
for key in "${!best[@]}"; do
    IFS='|' read -r name std fp fn <<<"$key"
    echo "| hydrant $name | $std | $fp | $fn | ${best[$key]} |"
done | sort -t'|' -k3 -rn
# The published rows, from $NAB/README.md (NAB's own scorer on NAB's stored results).
awk -F'|' '/^\| (ARTime|numenta|randomCutForest|windowedGaussian|contextOSE)/ {
    printf "| published %s | %s | %s | %s | |\n", $2, $3, $4, $5 }' "$NAB/README.md" | sed 's/  */ /g'
echo
echo "## LSTM autoencoder, study case (train cc0c53, test e47b3b)"
echo
out=$(mktemp /tmp/hydrant-lstm.XXXXXX)
trap 'rm -f "$out" "$out.time"' EXIT
/usr/bin/time -f '%e %M' -o "$out.time" "$HYDRANT" detect --detector lstm \
    --train "$NAB/data/realAWSCloudwatch/rds_cpu_utilization_cc0c53.csv" \
    --labels "$NAB/labels/combined_labels.json" \
    --input "$NAB/data/realAWSCloudwatch/rds_cpu_utilization_e47b3b.csv" --output "$out"
read -r secs kb <"$out.time"
flagged=$(awk -F, 'NR > 1 && $3 >= 0.5' "$out" | wc -l)
echo "| train 4,032 rows x 15 epochs + score 4,032 rows | wall s | peak RSS MiB | rows flagged |"
echo "|---|---|---|---|"
echo "| hydrant detect --detector lstm | $secs | $((kb / 1024)) | $flagged |"
