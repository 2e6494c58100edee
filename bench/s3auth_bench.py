#!/usr/bin/env python3
"""Cost of SigV4 on the S3 front: PUT 4 KiB objects against hydrant open and with --credentials.

Each thread replays one request signed once by botocore (hex x-amz-content-sha256, so the server
hashes the body and checks the signature on every request; a signature stays valid for 15
minutes), so client-side signing is not measured. 4 threads, keep-alive, raw http.client.
Usage: bench/s3auth_bench.py [--secs 5]. Prints a table.
"""
import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HYDRANT = os.environ.get("HYDRANT_BIN", os.path.join(ROOT, "build", "hydrant"))
THREADS = 4
KEY, SECRET = "AKIDBENCH", "bench-secret"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def request(port, method, path, body=b"", signed=True):
    url = "http://127.0.0.1:%d%s" % (port, path)
    r = AWSRequest(method=method, url=url, data=body, headers={})
    if signed:
        botocore.auth.S3SigV4Auth(Credentials(KEY, SECRET), "s3", "us-east-1").add_auth(r)
    h = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in r.headers.items()}
    h["Content-Length"] = str(len(body))
    return method, path, body, h


def start(tmp, creds):
    port = free_port()
    args = [HYDRANT, "serve", "--listen", "127.0.0.1:%d" % port, "--data-dir", os.path.join(tmp, "d")]
    if creds:
        args += ["--credentials", creds]
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.time() + 30
    while time.time() < end:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            m, path, body, h = request(port, "PUT", "/bench", signed=bool(creds))
            c.request(m, path, body=body, headers=h)
            c.getresponse().read()
            return p, port
        except OSError:
            time.sleep(0.05)
    p.kill()
    raise SystemExit("hydrant did not start")


def run(port, signed, secs):
    body = os.urandom(4096)
    counts, lat = [0] * THREADS, [[] for _ in range(THREADS)]
    stop = time.time() + secs

    def worker(i):
        m, path, b, h = request(port, "PUT", "/bench/obj-%d" % i, body, signed)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.time() < stop:
            t = time.perf_counter()
            c.request(m, path, body=b, headers=h)
            r = c.getresponse()
            r.read()
            if r.status != 200:
                raise SystemExit("PUT answered %d" % r.status)
            lat[i].append(time.perf_counter() - t)
            counts[i] += 1
    ts = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    all_lat = sorted(x for l in lat for x in l)
    return sum(counts) / secs, all_lat[len(all_lat) // 2] * 1e3, all_lat[int(len(all_lat) * 0.99)] * 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--secs", type=float, default=5)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="hydrant-s3auth-bench-")
    creds = os.path.join(tmp, "creds.json")
    with open(creds, "w") as f:
        json.dump([{"AccessKeyId": KEY, "SecretAccessKey": SECRET}], f)
    os.chmod(creds, 0o600)
    print("| S3 PUT 4 KiB, %d threads, %.0f s | PUT/s | p50 ms | p99 ms |" % (THREADS, a.secs))
    print("| --- | --: | --: | --: |")
    try:
        for label, cr in (("open (no --credentials)", None), ("SigV4 verified", creds)):
            sub = os.path.join(tmp, label[:4])
            os.makedirs(sub)
            p, port = start(sub, cr)
            try:
                rate, p50, p99 = run(port, cr is not None, a.secs)
                print("| %s | %.0f | %.2f | %.2f |" % (label, rate, p50, p99))
            finally:
                p.terminate()
                p.wait()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
