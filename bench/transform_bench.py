#!/usr/bin/env python3
"""Lambda processor throughput (bench/README.md, "Transform"): the same records through a stream
without a processor (the baseline: ingest plus delivery) and through the example enricher as a
warm Python worker, a warm Node.js worker and a Python function behind the Lambda invoke URL
convention. Prints records/s, MB/s of input, and the transformation's cost per record over the
baseline. Usage: bench/transform_bench.py [records] (default 20000 records of about 200 bytes)."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import harness  # noqa: E402

EX = os.path.join(ROOT, "examples", "functions")
PY = "/usr/bin/python3"


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    recs = [json.dumps({"n": i, "user": "u%05d" % (i % 977), "msg": "x" * 160}).encode() + b"\n"
            for i in range(n)]
    mb = sum(len(r) for r in recs) / 1e6
    tmp = tempfile.mkdtemp(prefix="hydrant-bench-fn-")
    inv = subprocess.Popen([PY, os.path.join(EX, "invoke_server.py"), os.path.join(EX, "enricher.py")],
                           cwd=EX, stdout=subprocess.PIPE)
    try:
        port = int(inv.stdout.readline())
        fns = {
            "py": {"command": [PY, os.path.join(EX, "worker.py"), os.path.join(EX, "enricher.py")]},
            "node": {"command": ["node", os.path.join(EX, "worker.js"), os.path.join(EX, "enricher.js")]},
            "url": {"url": "http://127.0.0.1:%d/2015-03-31/functions/function/invocations" % port},
        }
        path = os.path.join(tmp, "functions.json")
        with open(path, "w") as f:
            json.dump(fns, f)
        srv = harness.Server(os.path.join(tmp, "data"), os.path.join(tmp, "hydrant.log"),
                             extra_args=["--functions", path])
        srv.start()
        fh = srv.client()
        rows = []
        base = None
        for name in ("baseline", "py", "node", "url"):
            dest = harness.s3_dest(bucket=name, size=64, interval=0, prefix="out/")
            if name != "baseline":
                dest["ProcessingConfiguration"] = {"Enabled": True, "Processors": [{
                    "Type": "Lambda", "Parameters": [
                        {"ParameterName": "LambdaArn", "ParameterValue": name},
                        {"ParameterName": "BufferSizeInMBs", "ParameterValue": "1"}]}]}
            harness.call_lenient(fh, "create_delivery_stream", DeliveryStreamName=name,
                                 ExtendedS3DestinationConfiguration=dest)
            harness.wait_active(fh, name)
            t0 = time.monotonic()
            harness.put_all(fh, name, recs)

            def done():
                lines = 0
                for k in srv.objects(name):
                    lines += srv.read_object(name, k).count(b"\n")
                return lines >= n
            harness.wait_until(done, 600, interval=0.05, what=name)
            dt = time.monotonic() - t0
            if name == "baseline":
                base = dt
            rows.append((name, dt, n / dt, mb / dt,
                         "" if name == "baseline" else "%.1f" % ((dt - base) / n * 1e6)))
        srv.stop(signal.SIGTERM)
    finally:
        inv.kill()
        inv.wait()
    print("| function | seconds | records/s | input MB/s | cost per record over baseline (us) |")
    print("| --- | --- | --- | --- | --- |")
    for r in rows:
        print("| %s | %.2f | %.0f | %.2f | %s |" % r)
    print("\n%d records, %.1f MB of input; end to end (PutRecordBatch until every record is in an"
          " object)." % (n, mb))


if __name__ == "__main__":
    main()
