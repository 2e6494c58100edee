#!/usr/bin/env bash
# JSON->Parquet: hydrant's converter and writer (build/pqconv, one thread) against DuckDB's
# COPY (SELECT * FROM read_json(...)) TO '...parquet' with SET threads=1, on the same file, in the
# same run. Two inputs: flat (about 1 KiB records, 20 mixed columns) and nested
# (tests/integration/pqgen.py's 18 columns with lists, a map, a struct, a list of lists).
# Usage: bench/parquet.sh [records, default 100000]. Prints a markdown table.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-100000}
dir=$(mktemp -d /tmp/hydrant-pqbench.XXXXXX)
trap 'rm -rf "$dir"' EXIT
[ -x "$root/build/pqconv" ] || make -C "$root" build/pqconv >/dev/null
python3 - "$n" "$dir" <<'PY'
import json, random, sys
n, d = int(sys.argv[1]), sys.argv[2]
random.seed(3)
cols = [("id", "bigint", "BIGINT")] + \
    [("i%d" % k, "int", "INTEGER") for k in range(4)] + \
    [("l%d" % k, "bigint", "BIGINT") for k in range(3)] + \
    [("d%d" % k, "double", "DOUBLE") for k in range(3)] + \
    [("b", "boolean", "BOOLEAN"), ("dec", "decimal(12,2)", "DECIMAL(12,2)"),
     ("ts", "timestamp", "TIMESTAMP"), ("dt", "date", "DATE")] + \
    [("s%d" % k, "string", "VARCHAR") for k in range(5)]
json.dump([{"Name": a, "Type": b} for a, b, _ in cols], open(d + "/flat.schema.json", "w"))
open(d + "/flat.duck", "w").write(", ".join("%s %s" % (a, c) for a, _, c in cols))
words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
with open(d + "/flat.jsonl", "w") as f:
    for k in range(n):
        r = {"id": k}
        for a, t, _ in cols[1:]:
            if t == "int": r[a] = random.randint(-10**6, 10**6)
            elif t == "bigint": r[a] = random.randint(-10**15, 10**15)
            elif t == "double": r[a] = random.uniform(-1e6, 1e6)
            elif t == "boolean": r[a] = random.random() < .5
            elif t.startswith("decimal"): r[a] = "%d.%02d" % (random.randint(-10**8, 10**8), random.randint(0, 99))
            elif t == "timestamp": r[a] = "2026-%02d-%02d %02d:%02d:%02d.%03d" % (random.randint(1, 12), random.randint(1, 28), random.randint(0, 23), random.randint(0, 59), random.randint(0, 59), random.randint(0, 999))
            elif t == "date": r[a] = "2026-%02d-%02d" % (random.randint(1, 12), random.randint(1, 28))
            else: r[a] = " ".join(random.choice(words) for _ in range(random.randint(20, 28)))
        f.write(json.dumps(r) + "\n")
PY
python3 "$root/tests/integration/pqgen.py" "$n" 5 "$dir" >/dev/null
cp "$dir/valid.jsonl" "$dir/nested.jsonl"
cp "$dir/schema.json" "$dir/nested.schema.json"
python3 -c "import ast,sys; t=ast.parse(open(sys.argv[1]).read()); print([ast.literal_eval(x.value) for x in t.body if isinstance(x, ast.Assign) and x.targets[0].id=='DUCK_COLUMNS'][0])" \
    "$root/tests/integration/pqgen.py" > "$dir/nested.duck"
echo "| input | records | MB | codec | hydrant rows/s | hydrant MB/s | DuckDB rows/s | DuckDB MB/s | hydrant bytes | DuckDB bytes |"
echo "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for input in flat nested; do
    recs=$(wc -l < "$dir/$input.jsonl")
    mb=$(stat -c %s "$dir/$input.jsonl")
    for codec in SNAPPY ZSTD; do
        h=$("$root/build/pqconv" "$dir/$input.schema.json" "$dir/$input.jsonl" "$dir/h.parquet" "$codec" 2>/dev/null)
        d=$(node "$root/bench/parquet_duck.mjs" "$dir/$input.jsonl" "$dir/d.parquet" "$codec" "$(cat "$dir/$input.duck")")
        python3 - "$input" "$recs" "$mb" "$codec" "$h" "$d" <<'PY'
import json, sys
name, recs, size, codec, h, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], json.loads(sys.argv[5]), json.loads(sys.argv[6])
print("| %s | %d | %.1f | %s | %.0f | %.1f | %.0f | %.1f | %d | %d |" % (
    name, recs, size / 1e6, codec, h["rows_per_s"], size / h["seconds"] / 1e6,
    recs / d["seconds"], size / d["seconds"] / 1e6, h["bytes"], d["bytes"]))
PY
    done
done
