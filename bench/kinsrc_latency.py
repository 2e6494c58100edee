"""End-to-end latency of a KinesisStreamAsSource delivery stream (issue 15): from the moment
Kinesis PutRecords returns to the moment the record is in a delivered object, with
BufferingHints IntervalInSeconds 0 (the minimum the API permits), side by side with a DirectPut
delivery stream fed by Firehose PutRecordBatch under the same conditions.

Starts its own hydrant (build/hydrant, the integration harness's Server) on a temporary data
directory, puts one marker record per sample (sequentially) and polls the bucket's directory.
Prints a markdown table (ms). Usage: python3 bench/kinsrc_latency.py [--samples N]
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import harness  # noqa: E402
from test_kinesis import UNLIMITED, kclient  # noqa: E402


def pct(v, p):
    return v[min(len(v) - 1, int(p / 100.0 * len(v)))]


def find(root, marker):
    if not os.path.isdir(root):
        return False
    for dirpath, _d, files in os.walk(root):
        for name in files:
            if name.startswith(".") or name.endswith((".tmp", ".part")):
                continue
            try:
                with open(os.path.join(dirpath, name), "rb") as f:
                    if marker in f.read():
                        return True
            except OSError:
                pass
    return False


def measure(srv, bucket, put, samples):
    lat = []
    for i in range(samples):
        marker = b"marker-%s-%06d" % (bucket.encode(), i)
        put(marker)
        t0 = time.monotonic()
        while not find(srv.s3_dir(bucket), marker):
            if time.monotonic() - t0 > 30:
                raise SystemExit("marker %r not delivered in 30 s" % marker)
            time.sleep(0.0005)
        lat.append((time.monotonic() - t0) * 1000.0)
        # Fresh objects each time: keep the directory small so polling stays cheap.
        shutil.rmtree(srv.s3_dir(bucket), ignore_errors=True)
    return sorted(lat)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=50)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="hydrant-bench-")
    srv = harness.Server(os.path.join(tmp, "data"), os.path.join(tmp, "hydrant.log"),
                         extra_args=UNLIMITED)
    srv.start()
    try:
        kin, fh = kclient(srv), srv.client()
        kin.create_stream(StreamName="lat-src", ShardCount=1)
        arn = kin.describe_stream_summary(StreamName="lat-src")["StreamDescriptionSummary"]["StreamARN"]
        harness.call_lenient(fh, "create_delivery_stream", DeliveryStreamName="lat-kin",
                             DeliveryStreamType="KinesisStreamAsSource",
                             KinesisStreamSourceConfiguration={"KinesisStreamARN": arn,
                                                               "RoleARN": harness.ROLE_ARN},
                             ExtendedS3DestinationConfiguration=harness.s3_dest(bucket="latkin"))
        harness.create_stream(fh, "lat-direct", bucket="latdirect", size=1, interval=0)
        harness.wait_active(fh, "lat-kin")
        harness.wait_active(fh, "lat-direct")
        rows = [
            ("KinesisStreamAsSource (Kinesis PutRecords)", measure(
                srv, "latkin", lambda m: kin.put_records(
                    StreamName="lat-src", Records=[{"Data": m, "PartitionKey": "k"}]),
                a.samples)),
            ("DirectPut (Firehose PutRecordBatch)", measure(
                srv, "latdirect", lambda m: fh.put_record_batch(
                    DeliveryStreamName="lat-direct", Records=[{"Data": m}]), a.samples)),
        ]
        print("| source | samples | p50 ms | p90 ms | p99 ms | max ms |")
        print("|---|---|---|---|---|---|")
        for name, v in rows:
            print("| %s | %d | %.1f | %.1f | %.1f | %.1f |" % (
                name, len(v), pct(v, 50), pct(v, 90), pct(v, 99), v[-1]))
    finally:
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
