#!/bin/sh
# Pipeline benchmark (bench/README.md, "Pipeline"): build/pipeline_bench tables, then the jq
# command line on the same 1 KiB records for the JQ row. Usage: bench/pipeline.sh [MiB per row]
set -eu
mib=${1:-64}
dir=build/bench-data/pipeline
mkdir -p build/bench-data
build/pipeline_bench "$mib" "$dir"
n=$(wc -l < "$dir.jq-input")
start=$(date +%s.%N)
jq -c '{k: .k}' "$dir.jq-input" > /dev/null
end=$(date +%s.%N)
echo "| jq $(jq --version) command line | $(echo "$n / ($end - $start)" | bc -l | cut -d. -f1) |"
rm -f "$dir.jq-input"
