#!/usr/bin/env python3
"""S3 API benchmark: hydrant's S3 front against moto's S3 server on the same machine.

Rows: PUT and GET of 4 KiB and 1 MiB objects on 16 keep-alive connections (objects/s, p99 ms),
ListObjectsV2 pages of 1,000 keys over N keys (pages/s), and a multipart upload (MB/s, 8 MiB
parts, one connection). Requests are raw HTTP/1.1 (unsigned: neither server checks signatures
here), sent by 4 processes x 4 threads, so a fast server is measured against a Python client:
hydrant's numbers are a lower bound. Usage: bench/s3bench.py [--secs 5] [--list-keys 10000]
[--mpu-mib 256] [--only hydrant|moto]
"""
import argparse
import http.client
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HYDRANT = os.environ.get("HYDRANT_BIN", os.path.join(ROOT, "build", "hydrant"))
PROCS, THREADS = 4, 4


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_up(port, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/")
            c.getresponse().read()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server on %d did not come up" % port)


def req(conn, method, path, body=None, headers=None):
    h = {"Authorization": "AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/s3/aws4_request, "
                          "SignedHeaders=host, Signature=00", "x-amz-content-sha256": "UNSIGNED-PAYLOAD"}
    if headers:
        h.update(headers)
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    if r.status >= 300:
        raise RuntimeError("%s %s -> %d %s" % (method, path, r.status, data[:200]))
    return data


def worker(args):
    port, op, size, secs, wid, nkeys = args
    if op == "GET":
        nkeys = 4  # the PUT row before wrote at least these per thread
    body = os.urandom(size) if op == "PUT" else None
    lat = []
    lock = threading.Lock()
    stop = time.time() + secs

    def run(tid):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        i = 0
        mine = []
        while time.time() < stop:
            key = "/bench/o%d-%d/%d" % (size, (wid * THREADS + tid), i % nkeys)
            t = time.perf_counter()
            req(c, op, key, body)
            mine.append(time.perf_counter() - t)
            i += 1
        with lock:
            lat.extend(mine)
    ts = [threading.Thread(target=run, args=(t,)) for t in range(THREADS)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return lat


def load(port, op, size, secs, nkeys=50):
    with multiprocessing.Pool(PROCS) as pool:
        t = time.time()
        res = pool.map(worker, [(port, op, size, secs, w, nkeys) for w in range(PROCS)])
        took = time.time() - t
    lat = sorted(x for r in res for x in r)
    p99 = lat[int(len(lat) * 0.99)] * 1000 if lat else 0
    return len(lat) / took, p99


def listing(port, nkeys, secs):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    req(c, "PUT", "/benchlist")
    for i in range(nkeys):
        req(c, "PUT", "/benchlist/k/%07d" % i, b"x")
    pages = 0
    t = time.time()
    while time.time() - t < secs:
        req(c, "GET", "/benchlist?list-type=2&max-keys=1000&start-after=k/%07d" % ((pages * 1000) % nkeys))
        pages += 1
    return pages / (time.time() - t)


def multipart(port, mib):
    import re
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    part = os.urandom(8 << 20)
    t = time.time()
    out = req(c, "POST", "/bench/mpu?uploads")
    up = re.search(rb"<UploadId>([^<]+)</UploadId>", out).group(1).decode()
    parts = []
    for n in range(1, mib // 8 + 1):
        c.request("PUT", "/bench/mpu?partNumber=%d&uploadId=%s" % (n, up), body=part)
        r = c.getresponse()
        r.read()
        parts.append((n, r.getheader("ETag")))
    xml = "<CompleteMultipartUpload>%s</CompleteMultipartUpload>" % "".join(
        "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>" % p for p in parts)
    req(c, "POST", "/bench/mpu?uploadId=" + up, xml.encode())
    return (mib * 1048576 / 1e6) / (time.time() - t)


def bench(name, port, a):
    req(http.client.HTTPConnection("127.0.0.1", port, timeout=30), "PUT", "/bench")
    rows = []
    for size, label in ((4096, "4 KiB"), (1 << 20, "1 MiB")):
        for op in ("PUT", "GET"):
            ops, p99 = load(port, op, size, a.secs)
            rows.append(("%s %s x16" % (op, label), "%.0f obj/s" % ops, "p99 %.1f ms" % p99))
    rows.append(("ListObjectsV2 (%d keys)" % a.list_keys, "%.1f pages/s" % listing(port, a.list_keys, a.secs), ""))
    rows.append(("multipart %d MiB" % a.mpu_mib, "%.0f MB/s" % multipart(port, a.mpu_mib), ""))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--secs", type=float, default=5)
    ap.add_argument("--list-keys", type=int, default=10000)
    ap.add_argument("--mpu-mib", type=int, default=256)
    ap.add_argument("--only", choices=("hydrant", "moto"))
    a = ap.parse_args()
    results = {}
    tmp = tempfile.mkdtemp(prefix="s3bench-")
    procs = []
    try:
        if a.only != "moto":
            port = free_port()
            log = open(os.path.join(tmp, "hydrant.log"), "wb")
            procs.append(subprocess.Popen([HYDRANT, "serve", "--listen", "127.0.0.1:%d" % port,
                                           "--data-dir", os.path.join(tmp, "data"), "--log-level", "warn"],
                                          stdout=log, stderr=log))
            wait_up(port)
            results["hydrant"] = bench("hydrant", port, a)
        if a.only != "hydrant":
            port = free_port()
            log = open(os.path.join(tmp, "moto.log"), "wb")
            procs.append(subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                          stdout=log, stderr=log))
            wait_up(port)
            results["moto"] = bench("moto", port, a)
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    names = list(results)
    print("%-26s %s" % ("row", "".join("%-30s" % n for n in names)))
    for i, row in enumerate(next(iter(results.values()))):
        cells = "".join("%-30s" % ("%s %s" % results[n][i][1:]).strip() for n in names)
        print("%-26s %s" % (row[0], cells))
    print("(%d processes x %d threads of Python clients; %ss per row; machine shared: noisy)"
          % (PROCS, THREADS, a.secs))


if __name__ == "__main__":
    main()
