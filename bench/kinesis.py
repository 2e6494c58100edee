#!/usr/bin/env python3
"""Kinesis Data Streams benchmark: hydrant against kinesalite, same load, same run.

For each server and shard count (1, 4, 16): PutRecords for --seconds from --procs processes
(each with --conns keep-alive connections; 500 records of --record-size bytes per call, random
partition keys, prebuilt bodies so the client spends little CPU), then GetRecords of everything
back (one reader per shard, Limit 10000, following NextShardIterator). Prints payload MB/s and
per-call p50/p99 for both phases.

hydrant acknowledges after fdatasync (durable); kinesalite keeps streams in memory (no --path)
and acknowledges at once. hydrant runs with per-shard rate limits off (0), as kinesalite has none.

kinesalite comes from npm, installed project-locally from the committed lockfile:
    npm ci --prefix bench/kinesalite
Usage: python3 bench/kinesis.py [--seconds 10] [--shards 1,4,16] [--servers hydrant,kinesalite]
"""

import argparse
import base64
import http.client
import json
import multiprocessing
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KL_BIN = os.path.join(ROOT, "bench", "kinesalite", "node_modules", ".bin", "kinesalite")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def call(conn, op, body):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    conn.request("POST", "/", body=data, headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Kinesis_20131202." + op,
        "X-Amz-Date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
        "Authorization": "AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/kinesis/aws4_request, "
                         "SignedHeaders=host, Signature=0"})
    r = conn.getresponse()
    out = r.read()
    if r.status != 200:
        raise RuntimeError("%s -> %d %s" % (op, r.status, out[:200]))
    return json.loads(out) if out else {}


def wait_port(port, proc, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError("server exited")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not listen")


def start(server, tmp):
    port = free_port()
    log = open(os.path.join(tmp, server + ".log"), "wb")
    if server == "hydrant":
        args = [os.path.join(ROOT, "build", "hydrant"), "serve", "--listen", "127.0.0.1:%d" % port,
                "--data-dir", os.path.join(tmp, "data"), "--log-level", "warn",
                "--kinesis-shard-kib-per-s", "0", "--kinesis-shard-records-per-s", "0"]
    else:
        args = [KL_BIN, "--port", str(port), "--host", "127.0.0.1", "--shardLimit", "100",
                "--createStreamMs", "0", "--deleteStreamMs", "0", "--updateStreamMs", "0"]
    proc = subprocess.Popen(args, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    wait_port(port, proc)
    return proc, port


def cpu_ticks(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return int(parts[11]) + int(parts[12])
    except OSError:
        return 0


def put_worker(port, stream, seconds, conns, record_size, seed, q):
    rnd = random.Random(seed)
    bodies = []
    for b in range(4):
        recs = [{"Data": base64.b64encode(os.urandom(record_size)).decode(),
                 "PartitionKey": "pk-%d" % rnd.randrange(1 << 30)} for _ in range(500)]
        bodies.append(json.dumps({"StreamName": stream, "Records": recs}).encode())
    lat, ok_bytes, failed = [], [0], [0]
    lock = threading.Lock()
    stop_at = time.time() + seconds

    def run(i):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        n = i
        while time.time() < stop_at:
            t0 = time.perf_counter()
            r = call(c, "PutRecords", bodies[n % len(bodies)])
            dt = time.perf_counter() - t0
            n += 1
            with lock:
                lat.append(dt)
                ok_bytes[0] += (500 - r["FailedRecordCount"]) * record_size
                failed[0] += r["FailedRecordCount"]
        c.close()

    ts = [threading.Thread(target=run, args=(i,)) for i in range(conns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    q.put((lat, ok_bytes[0], failed[0]))


def get_all(port, stream, shards):
    lat, total = [], [0]
    lock = threading.Lock()

    def run(sid):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        it = call(c, "GetShardIterator", {"StreamName": stream, "ShardId": sid,
                                          "ShardIteratorType": "TRIM_HORIZON"})["ShardIterator"]
        while it:
            t0 = time.perf_counter()
            r = call(c, "GetRecords", {"ShardIterator": it, "Limit": 10000})
            dt = time.perf_counter() - t0
            # Decoded size from the base64 length: decoding would make the client the bottleneck.
            n = sum(len(x["Data"]) // 4 * 3 - x["Data"][-2:].count("=") for x in r["Records"])
            with lock:
                lat.append(dt)
                total[0] += n
            if not r["Records"] and r.get("MillisBehindLatest", 0) == 0:
                break
            it = r.get("NextShardIterator")
        c.close()

    ts = [threading.Thread(target=run, args=(s,)) for s in shards]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return lat, total[0], time.perf_counter() - t0


def pct(v, p):
    if not v:
        return float("nan")
    v = sorted(v)
    return v[min(len(v) - 1, int(p * len(v)))] * 1000


def bench_one(server, nshards, a, tmp):
    proc, port = start(server, tmp)
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        stream = "bench%d" % nshards
        call(c, "CreateStream", {"StreamName": stream, "ShardCount": nshards})
        while call(c, "DescribeStreamSummary", {"StreamName": stream})[
                "StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
            time.sleep(0.05)
        shards = [s["ShardId"] for s in call(c, "ListShards", {"StreamName": stream})["Shards"]]
        c.close()
        q = multiprocessing.Queue()
        cpu0, t0 = cpu_ticks(proc.pid), time.perf_counter()
        ps = [multiprocessing.Process(target=put_worker, args=(
            port, stream, a.seconds, a.conns, a.record_size, i, q)) for i in range(a.procs)]
        for p in ps:
            p.start()
        res = [q.get() for _ in ps]
        for p in ps:
            p.join()
        wall = time.perf_counter() - t0
        cpu = (cpu_ticks(proc.pid) - cpu0) / os.sysconf("SC_CLK_TCK") / wall * 100
        lat = [x for r in res for x in r[0]]
        put_mb = sum(r[1] for r in res) / wall / 1e6
        failed = sum(r[2] for r in res)
        glat, gbytes, gwall = get_all(port, stream, shards)
        return {"server": server, "shards": nshards, "put_mbs": put_mb, "put_p50": pct(lat, 0.5),
                "put_p99": pct(lat, 0.99), "calls": len(lat), "failed": failed, "cpu": cpu,
                "get_mbs": gbytes / gwall / 1e6, "get_p99": pct(glat, 0.99), "read_mb": gbytes / 1e6}
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--shards", default="1,4,16")
    ap.add_argument("--servers", default="hydrant,kinesalite")
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--conns", type=int, default=4, help="connections per process")
    ap.add_argument("--record-size", type=int, default=1024)
    a = ap.parse_args()
    servers = a.servers.split(",")
    if "kinesalite" in servers and not os.path.exists(KL_BIN):
        sys.exit("kinesalite missing: npm ci --prefix bench/kinesalite")
    print("PutRecords: %d procs x %d connections, 500 x %d B records per call, %.0f s; "
          "GetRecords: one reader per shard, Limit 10000" % (a.procs, a.conns, a.record_size,
                                                             a.seconds))
    print("| server | shards | put MB/s | put p50 ms | put p99 ms | calls | failed recs | "
          "server CPU | get MB/s | get p99 ms | read MB |")
    print("| --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |")
    for n in [int(x) for x in a.shards.split(",")]:
        for s in servers:
            tmp = tempfile.mkdtemp(prefix="hydrant-kbench-")
            try:
                r = bench_one(s, n, a, tmp)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            print("| %(server)s | %(shards)d | %(put_mbs).1f | %(put_p50).1f | %(put_p99).1f | "
                  "%(calls)d | %(failed)d | %(cpu).0f %% | %(get_mbs).1f | %(get_p99).1f | "
                  "%(read_mb).1f |" % r)
            sys.stdout.flush()


if __name__ == "__main__":
    main()
