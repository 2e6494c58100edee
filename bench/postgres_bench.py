#!/usr/bin/env python3
"""Rows/s into PostgreSQL: hydrant's Redshift-style destination against psql's \\copy of the same
CSV into the same throw-away server, in the same run. Usage: bench/postgres_bench.py [ROWS]

hydrant side: every record is put first (boto3, PutRecordBatch of 500) while the table does not
exist yet, so hydrant stages the batches and retries; then the table is created and the load rate
is taken from hydrant_loads (the full batches, back to back: see below), which leaves out the
producer, the retry backoff and the buffering interval of the last, partial batch.
"""
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import harness  # noqa: E402
import test_postgres as tp  # noqa: E402


def main():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 300000
    recs = [b"%d,sku-%06d,%d,%d.25\n" % (i, i % 100000, i % 7, i) for i in range(rows)]
    mb = sum(map(len, recs)) / 1e6
    pg = tp.Postgres()
    tmp = tempfile.mkdtemp(prefix="hydrant-pgbench-")
    srv = harness.Server(os.path.join(tmp, "data"), os.path.join(tmp, "hydrant.log"))
    try:
        cols = "(id int, sku text, qty int, price numeric)"
        path = os.path.join(tmp, "rows.csv")
        with open(path, "wb") as f:
            f.write(b"".join(recs))
        os.chmod(tmp, 0o755)
        os.chmod(path, 0o644)
        pg.sql("CREATE TABLE via_psql " + cols)
        t0 = time.monotonic()
        pg.sql("\\copy via_psql from '%s' with (format csv)" % path)
        psql_s = time.monotonic() - t0
        srv.start()
        fh = srv.client()
        cfg = tp.redshift(pg, "via_hydrant", "id,sku,qty,price", "CSV", retry=3600)
        cfg["S3Configuration"]["BufferingHints"] = {"SizeInMBs": 1, "IntervalInSeconds": 1}
        tp.create(fh, "bench", cfg)
        t0 = time.monotonic()
        harness.put_all(fh, "bench", recs)
        put_s = time.monotonic() - t0
        pg.sql("CREATE TABLE via_hydrant " + cols)
        t1 = time.monotonic()
        harness.wait_until(lambda: tp.count(pg, "via_hydrant") == rows, 600, 0.2, "all rows")
        wall_s = time.monotonic() - t1
        b = pg.sql("SELECT rows, extract(epoch FROM loaded_at) FROM hydrant_loads ORDER BY loaded_at")
        # Batches 0..n-3 are full (size-triggered) and loaded back to back: their rows over the
        # time from the start of batch 0 to the start of batch n-2. The last batch is partial
        # and waits for the buffering interval, so it is left out.
        span = float(b[-2][1]) - float(b[0][1]) if len(b) >= 3 else 0
        later = sum(int(r[0]) for r in b[:-2])
        print("| path | rows | MB | seconds | rows/s |")
        print("| --- | --: | --: | --: | --: |")
        print("| psql \\copy from file | %d | %.1f | %.2f | %.0f |" % (rows, mb, psql_s, rows / psql_s))
        if span > 0:
            print("| hydrant: stage + manifest + COPY FROM STDIN, %d full 1 MB batches | %d | %.1f | %.2f | %.0f |"
                  % (len(b) - 2, later, mb * later / rows, span, later / span))
        print("| hydrant, table created -> all rows (incl. retry backoff) | %d | %.1f | %.2f | %.0f |"
              % (rows, mb, wall_s, rows / wall_s))
        print("| producer: boto3 PutRecordBatch, 1 thread | %d | %.1f | %.2f | %.0f |"
              % (rows, mb, put_s, rows / put_s))
    finally:
        srv.stop()
        pg.destroy()
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
