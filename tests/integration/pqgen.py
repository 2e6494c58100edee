"""JSON lines of mixed validity for the JSON->Parquet converter: pqgen.py N SEED DIR writes
DIR/all.jsonl (every record), DIR/valid.jsonl (the convertible ones), DIR/bad.json (1-based line
numbers of the others) and DIR/schema.json (Glue columns). Shared by test_parquet.py and
bench/parquet.sh."""
import json
import os
import random
import sys

SCHEMA = [("id", "bigint"), ("b", "boolean"), ("t", "tinyint"), ("s", "smallint"), ("i", "int"),
          ("bi", "bigint"), ("d", "double"), ("f", "float"), ("dec", "decimal(12,3)"),
          ("big", "decimal(30,5)"), ("name", "string"), ("vc", "varchar(5)"), ("dt", "date"),
          ("ts", "timestamp"), ("tags", "array<string>"), ("m", "map<string,int>"),
          ("st", "struct<a:int,b:string>"), ("l2", "array<array<int>>")]
# The same columns in DuckDB's words, and the select list both sides are compared on.
DUCK_COLUMNS = ("id BIGINT, b BOOLEAN, t TINYINT, s SMALLINT, i INTEGER, bi BIGINT, d DOUBLE, "
                "f FLOAT, dec DECIMAL(12,3), big DECIMAL(30,5), name VARCHAR, vc VARCHAR, dt DATE, "
                "ts TIMESTAMP, tags VARCHAR[], m MAP(VARCHAR, INTEGER), "
                "st STRUCT(a INTEGER, b VARCHAR), l2 INTEGER[][]")
DUCK_SELECT = ("id, b, t, s, i, bi, d, f, dec, big, name, vc, dt, epoch_us(ts) AS ts, tags, m, st, "
               "l2")

n = int(sys.argv[1])
random.seed(int(sys.argv[2]))
d = sys.argv[3]
with open(os.path.join(d, "schema.json"), "w") as fh:
    json.dump([{"Name": a, "Type": b} for a, b in SCHEMA], fh)
out = open(os.path.join(d, "all.jsonl"), "w")
valid = open(os.path.join(d, "valid.jsonl"), "w")
bad = []
words = ["alpha", "b\u00e9ta", "ga\"mma", "de\nlta", "", "\u20ac\U0001F600"]
for k in range(n):
    r = {"id": k}
    def maybe(key, fn, p=0.1):
        if random.random() > p:
            r[key] = fn()
    maybe("b", lambda: random.random() < 0.5)
    maybe("t", lambda: random.randint(-128, 127))
    maybe("s", lambda: random.randint(-32768, 32767))
    maybe("i", lambda: random.randint(-2**31, 2**31 - 1))
    maybe("bi", lambda: random.randint(-2**63, 2**63 - 1))
    maybe("d", lambda: random.choice([0.0, -0.0, 1.5, -2.25, 1e300, 5e-324, random.uniform(-1e6, 1e6)]))
    maybe("f", lambda: random.choice([0.5, -1.25, 3.0, 1024.0]))
    maybe("dec", lambda: "%d.%03d" % (random.randint(-10**8, 10**8), random.randint(0, 999)))
    maybe("big", lambda: "%d.%05d" % (random.randint(-10**24, 10**24), random.randint(0, 99999)))
    maybe("name", lambda: random.choice(words))
    maybe("vc", lambda: random.choice(["ab", "abcde", ""]))
    maybe("dt", lambda: "%04d-%02d-%02d" % (random.randint(1900, 2100), random.randint(1, 12), random.randint(1, 28)))
    maybe("ts", lambda: "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (random.randint(1950, 2100), random.randint(1, 12), random.randint(1, 28), random.randint(0, 23), random.randint(0, 59), random.randint(0, 59), random.randint(0, 999999)))
    maybe("tags", lambda: random.choice([[], [None], ["x", "y"], [random.choice(words) for _ in range(random.randint(0, 4))]]))
    maybe("m", lambda: {("k%d" % j): random.choice([None, random.randint(-5, 5)]) for j in range(random.randint(0, 3))})
    maybe("st", lambda: random.choice([{}, {"a": random.randint(-9, 9)}, {"a": None, "b": random.choice(words)}]))
    maybe("l2", lambda: [random.choice([None, [], [random.randint(-9, 9) for _ in range(random.randint(1, 3))]]) for _ in range(random.randint(0, 3))])
    line = json.dumps(r, ensure_ascii=random.random() < 0.5)
    roll = random.random()
    if roll < 0.15:
        kind = random.randrange(8)
        if kind == 0: line = line[:-3]
        elif kind == 1: line = json.dumps([r])
        elif kind == 2: r["t"] = 300; line = json.dumps(r)
        elif kind == 3: r["i"] = "abc"; line = json.dumps(r)
        elif kind == 4: r["dec"] = "123456789012.5"; line = json.dumps(r)
        elif kind == 5: r["dt"] = "2020-13-01"; line = json.dumps(r)
        elif kind == 6: r["ts"] = "yesterday"; line = json.dumps(r)
        else: r["tags"] = {"not": "a list"}; line = json.dumps(r)
        bad.append(k + 1)
    else:
        valid.write(line + "\n")
    out.write(line + "\n")
out.close()
valid.close()
with open(os.path.join(d, "bad.json"), "w") as fh:
    json.dump(bad, fh)
