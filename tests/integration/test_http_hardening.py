"""HTTP hardening: one client must not starve the rest of a loop's buffered-bytes budget.

Raw sockets play the attackers (slow bodies, partial heads, concurrent chunked bodies) against the
real binary with its default limits (32 MiB per loop, two loops); a fresh client must still be
answered quickly, valid requests must all complete, the server's memory must stay bounded, and the
server must say (WARN, rate-limited) when the budget pushes back. Everything listens on 127.0.0.1
and every wait is bounded.
"""

import base64
import http.client
import json
import os
import resource
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import HydrantTestCase, scaled, wait_until  # noqa: E402

TARGET = harness.TARGET_PREFIX
# RSS bounds in MiB are for release builds; sanitizer builds (scaled runs) keep quarantined and
# shadow memory, so they get twice the room.
RSS_SLACK = 2 if harness.SCALE > 1 else 1


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return None


def raw_connect(port, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=scaled(timeout))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_response(sock):
    """One HTTP/1.1 response with Content-Length from a blocking socket: (status, body bytes)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError("connection closed before a response (got %r)" % data[:200])
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError("connection closed inside a response body")
        rest += chunk
    return status, rest[:length]


class HardeningTest(HydrantTestCase):
    def setUp(self):
        self.srv = self.start_server()
        self.socks = []
        self.addCleanup(self._close_socks)

    def _close_socks(self):
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass
        self.socks = []

    def fresh_put(self, stream, timeout=10):
        """A PutRecord on a new connection; returns (seconds taken, status, parsed body)."""
        body = json.dumps({"DeliveryStreamName": stream,
                           "Record": {"Data": base64.b64encode(b"fresh").decode()}}).encode()
        t0 = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=scaled(timeout))
        try:
            conn.request("POST", "/", body=body, headers={
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": TARGET + ".PutRecord"})
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        return time.monotonic() - t0, resp.status, json.loads(data.decode() or "null")

    def make_stream(self, name):
        fh = self.srv.client()
        harness.create_stream(fh, name, size=128, interval=900)
        harness.wait_active(fh, name)
        return fh

    def log_text(self):
        with open(self.srv.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def test_slow_bodies_do_not_stall_new_connections(self):
        self.make_stream("slow")
        head = ("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n"
                "X-Amz-Target: %s.PutRecord\r\nContent-Length: 8388608\r\n\r\n" % TARGET).encode()
        for _ in range(10):
            s = raw_connect(self.srv.port)
            s.sendall(head + b"{")
            self.socks.append(s)
        time.sleep(0.05)  # the repro's second byte, 50 ms later (not a synchronisation)
        for s in self.socks:
            s.sendall(b"\"")
        # The server must have pushed back (two loops, 24 MiB of body reservations each, five
        # 8 MiB bodies per loop) and said so.
        wait_until(lambda: "buffer budget pushing back" in self.log_text(), 10,
                   what="the budget WARN line")
        line = [x for x in self.log_text().splitlines() if "buffer budget pushing back" in x][0]
        obj = json.loads(line)
        self.assertEqual(obj["level"], "warn")
        for k in ("head_bytes", "body_reserved", "body_limit", "waiting_body"):
            self.assertIn(k, obj)
        # A fresh client is answered at once, several times over.
        worst = 0.0
        for _ in range(5):
            took, status, body = self.fresh_put("slow")
            self.assertEqual(status, 200, body)
            self.assertIn("RecordId", body)
            worst = max(worst, took)
        self.assertLess(worst, scaled(3.0), "a fresh PutRecord took %.2fs during the attack" % worst)
        rss = rss_mib(self.srv.proc.pid)
        sys.stderr.write("[slow bodies] fresh PutRecord worst %.3fs, server RSS %.0f MiB\n"
                         % (worst, rss))
        self.assertLess(rss, 200 * RSS_SLACK)
        # The stalled bodies lose their reservations (408) while others wait, so the ones in line
        # get theirs and stall in turn. The last two of each loop have nobody waiting behind them:
        # they keep their reservations until the request timeout (60 s), so only the first six
        # answers are awaited.
        answered = 0
        for s in self.socks:
            s.settimeout(0.2)
        deadline = time.monotonic() + scaled(20)
        pending = list(self.socks)
        while answered < 6 and time.monotonic() < deadline:
            for s in list(pending):
                try:
                    status, body = read_response(s)
                except (socket.timeout, TimeoutError):
                    continue
                self.assertEqual(status, 408, body)
                self.assertIn(b"while others wait for memory", body)
                pending.remove(s)
                answered += 1
        self.assertGreaterEqual(answered, 6, "stalled bodies evicted in time")

    def test_partial_header_flood_does_not_stall_new_connections(self):
        n = 1100
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard < n + 200:
            raise unittest.SkipTest("RLIMIT_NOFILE hard limit %d is below %d" % (hard, n + 200))
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, n + 200), hard))
        self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        self.make_stream("flood")
        part = b"GET / HTTP/1.1\r\nHost: x\r\nX-Fill: " + b"a" * 40000
        for _ in range(n):
            s = raw_connect(self.srv.port)
            s.setblocking(False)
            try:
                s.send(part)  # as much as the kernel takes; the rest stays unsent
            except BlockingIOError:
                pass
            self.socks.append(s)
        peak = rss_mib(self.srv.proc.pid)
        worst = 0.0
        for _ in range(5):
            took, status, body = self.fresh_put("flood")
            self.assertEqual(status, 200, body)
            worst = max(worst, took)
            peak = max(peak, rss_mib(self.srv.proc.pid))
        self.assertLess(worst, scaled(3.0), "a fresh PutRecord took %.2fs during the flood" % worst)
        # Growing 550 heads per loop to 40 KB is more than the head pool's growth half: the
        # server pushed back and said so, and still answers its own endpoints.
        wait_until(lambda: "buffer budget pushing back" in self.log_text(), 10,
                   what="the budget WARN line")
        self.assertEqual(self.srv.health(), 200)
        sys.stderr.write("[header flood] %d connections, fresh PutRecord worst %.3fs, server RSS "
                         "peak %.0f MiB\n" % (n, worst, peak))
        self.assertLess(peak, 200 * RSS_SLACK)

    def test_concurrent_chunked_batches_all_complete(self):
        fh = self.make_stream("chunky")
        n_conn, chunk = 20, 8000
        # 400 records of 9,900 bytes: 3.96 MB decoded (under the 4 MiB batch limit), about 5.3 MB
        # of JSON.
        records = [{"Data": base64.b64encode(bytes([65 + i % 26]) * 9900).decode()}
                   for i in range(400)]
        body = json.dumps({"DeliveryStreamName": "chunky", "Records": records}).encode()
        self.assertGreater(len(body), 5200000)
        head = ("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n"
                "X-Amz-Target: %s.PutRecordBatch\r\nTransfer-Encoding: chunked\r\n\r\n"
                % TARGET).encode()
        results = [None] * n_conn

        def client(i):
            try:
                s = raw_connect(self.srv.port, timeout=40)
                self.socks.append(s)
                s.sendall(head)
                sent = 0
                paused = False
                while sent < len(body):
                    part = body[sent:sent + chunk]
                    s.sendall(b"%x\r\n" % len(part) + part + b"\r\n")
                    sent += len(part)
                    if not paused and sent >= 3000000:
                        paused = True
                        time.sleep(1.0)  # the repro's pause, part of the traffic shape
                s.sendall(b"0\r\n\r\n")
                status, data = read_response(s)
                results[i] = (status, json.loads(data.decode()))
            except Exception as e:  # noqa: BLE001 - reported below with the connection number
                results[i] = ("error", repr(e))

        t0 = time.monotonic()
        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(n_conn)]
        for t in threads:
            t.start()
        peak = 0.0
        while any(t.is_alive() for t in threads) and time.monotonic() - t0 < scaled(45):
            peak = max(peak, rss_mib(self.srv.proc.pid) or 0)
            time.sleep(0.1)  # sampling interval for RSS, not a synchronisation
        for t in threads:
            t.join(max(0.1, scaled(45) - (time.monotonic() - t0)))
        took = time.monotonic() - t0
        for i, r in enumerate(results):
            self.assertIsNotNone(r, "connection %d did not finish in %.0fs" % (i, took))
            self.assertEqual(r[0], 200, "connection %d: %r" % (i, r))
            self.assertEqual(r[1]["FailedPutCount"], 0, "connection %d" % i)
            self.assertEqual(len(r[1]["RequestResponses"]), 400)
        sys.stderr.write("[chunked] %d x %.1f MB chunked batches done in %.1fs, server RSS peak "
                         "%.0f MiB\n" % (n_conn, len(body) / 1e6, took, peak))
        self.assertLess(took, scaled(40))
        self.assertLess(peak, 400 * RSS_SLACK)
        self.assertEqual(fh.describe_delivery_stream(DeliveryStreamName="chunky")
                         ["DeliveryStreamDescription"]["DeliveryStreamStatus"], "ACTIVE")


if __name__ == "__main__":
    unittest.main()
