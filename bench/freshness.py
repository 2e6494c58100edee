#!/usr/bin/env python3
"""Freshness: time from a PutRecord acknowledgement until the record is in a delivered object.

Creates (idempotently) a stream whose S3 destination is the embedded bucket, with
IntervalInSeconds 0, then for each sample puts one unique marker record with boto3 and polls
<data-dir>/s3/<bucket>/ until a finished object containing the marker appears. Prints one markdown
row: samples, p50, p99, max in milliseconds (time measured from the moment PutRecord returned).

Objects are searched incrementally (files already scanned are remembered by size), and names
that look like temporary files (leading '.', '.tmp' or '.part' suffix) are skipped, so a
half-written object does not count.
"""
import argparse
import os
import sys
import time
import uuid

import boto3
from botocore.config import Config


def percentile(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    i = min(len(sorted_vals) - 1, int(p / 100.0 * len(sorted_vals)))
    return sorted_vals[i]


def is_temp(name):
    return name.startswith(".") or name.endswith(".tmp") or name.endswith(".part")


class Scanner:
    """Finds a marker in the objects under root, reading each file's new bytes only once."""

    def __init__(self, root):
        self.root = root
        self.seen = {}  # path -> bytes already searched
        self.tail = {}  # path -> last bytes, so a marker split across reads is still found

    def find(self, marker):
        needle = marker.encode()
        if not os.path.isdir(self.root):
            return False
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                if is_temp(name):
                    continue
                path = os.path.join(dirpath, name)
                try:
                    size = os.path.getsize(path)
                except OSError:
                    continue
                done = self.seen.get(path, 0)
                if size <= done:
                    continue
                try:
                    with open(path, "rb") as f:
                        f.seek(done)
                        data = f.read(size - done)
                except OSError:
                    continue
                chunk = self.tail.get(path, b"") + data
                self.seen[path] = done + len(data)
                self.tail[path] = chunk[-len(needle):]
                if needle in chunk:
                    return True
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--endpoint", required=True, help="http://127.0.0.1:PORT")
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--stream", default="fresh")
    ap.add_argument("--bucket", default=None, help="default: the stream name")
    ap.add_argument("--samples", type=int, default=50)
    ap.add_argument("--timeout", type=float, default=30.0, help="per sample, seconds")
    ap.add_argument("--poll-ms", type=float, default=1.0)
    ap.add_argument("--label", default="e: freshness (IntervalInSeconds 0)")
    ap.add_argument("--header", action="store_true")
    args = ap.parse_args()
    bucket = args.bucket or args.stream

    client = boto3.client(
        "firehose",
        endpoint_url=args.endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )
    try:
        client.create_delivery_stream(
            DeliveryStreamName=args.stream,
            DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "BucketARN": "arn:aws:s3:::" + bucket,
                "RoleARN": "arn:aws:iam::000000000000:role/x",
                "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0},
            },
        )
    except client.exceptions.ResourceInUseException:
        pass

    scanner = Scanner(os.path.join(args.data_dir, "s3", bucket))
    samples, missed = [], 0
    for _ in range(args.samples):
        marker = "fresh-" + uuid.uuid4().hex
        client.put_record(DeliveryStreamName=args.stream,
                          Record={"Data": (marker + "\n").encode()})
        acked = time.monotonic()
        deadline = acked + args.timeout
        while True:
            if scanner.find(marker):
                samples.append((time.monotonic() - acked) * 1000.0)
                break
            if time.monotonic() > deadline:
                missed += 1
                break
            time.sleep(args.poll_ms / 1000.0)

    samples.sort()
    if args.header:
        print("| run | samples | missed | p50 ms | p99 ms | max ms |")
        print("|---|--:|--:|--:|--:|--:|")
    print("| %s | %d | %d | %.1f | %.1f | %.1f |" % (
        args.label, len(samples), missed, percentile(samples, 50), percentile(samples, 99),
        samples[-1] if samples else float("nan")))
    return 0 if samples and not missed else 1


if __name__ == "__main__":
    sys.exit(main())
