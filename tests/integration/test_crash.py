"""kill -9 at random moments under load: every acknowledged record is delivered exactly once."""

import collections
import os
import random
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import HydrantTestCase, wait_until  # noqa: E402

ROUNDS = int(os.environ.get("HYDRANT_IT_CRASH_ROUNDS", "4"))
PRODUCERS = 3
STREAMS = {"crash-fast": "", "crash-slow": "slow/"}  # stream -> prefix; both in bucket "crash"


class Ledger(object):
    def __init__(self):
        self.lock = threading.Lock()
        self.acked = set()
        self.sent = set()
        self.errors = collections.Counter()

    def n_acked(self):
        with self.lock:
            return len(self.acked)


class Producer(threading.Thread):
    def __init__(self, url_client, pid, rnd_round, ledger, stop):
        threading.Thread.__init__(self, name="producer-%d" % pid, daemon=True)
        self.fh = url_client
        self.pid = pid
        self.round = rnd_round
        self.ledger = ledger
        self.stop_evt = stop
        self.rnd = random.Random(pid * 1000 + rnd_round)
        self.seq = 0

    def run(self):
        streams = sorted(STREAMS)
        while not self.stop_evt.is_set():
            stream = streams[self.seq % len(streams)]
            recs = []
            for _ in range(self.rnd.randrange(1, 120)):
                self.seq += 1
                pad = "x" * self.rnd.randrange(0, 300)
                recs.append(("r:%s:%d:%d:%d:%s\n" % (stream, self.round, self.pid, self.seq, pad)).encode())
            with self.ledger.lock:
                self.ledger.sent.update(recs)
            try:
                r = self.fh.put_record_batch(DeliveryStreamName=stream, Records=[{"Data": d} for d in recs])
            except Exception as e:  # noqa: BLE001 - the server is killed under us on purpose
                with self.ledger.lock:
                    self.ledger.errors[type(e).__name__] += 1
                self.stop_evt.wait(0.02)
                continue
            ok = [d for d, x in zip(recs, r["RequestResponses"]) if x.get("RecordId") and "ErrorCode" not in x]
            with self.ledger.lock:
                if len(r["RequestResponses"]) != len(recs):
                    self.ledger.errors["bad RequestResponses length"] += 1
                    continue
                self.ledger.acked.update(ok)
                if len(ok) != len(recs):
                    self.ledger.errors["partial failure"] += 1


class CrashTest(HydrantTestCase):
    def setUp(self):
        if harness.boto3 is None:
            raise unittest.SkipTest("boto3 not installed for %s" % sys.executable)

    def create_streams(self, srv):
        fh = srv.client()
        harness.create_stream(fh, "crash-fast", bucket="crash", size=1, interval=0)
        harness.create_stream(fh, "crash-slow", bucket="crash", size=1, interval=60, prefix="slow/")
        for s in STREAMS:
            harness.wait_active(fh, s)

    def check_delivered(self, srv, ledger, bucket="crash"):
        counts = collections.Counter()
        rx = {s: harness.key_regex(s, 1, prefix=p) for s, p in STREAMS.items()}
        for k in srv.objects(bucket):
            stream = "crash-slow" if k.startswith("slow/") else "crash-fast"
            self.assertRegex(k, rx[stream])
            data = srv.read_object(bucket, k)
            self.assertTrue(data.endswith(b"\n"), "object %s does not end on a record boundary" % k)
            for line in data.split(b"\n")[:-1]:
                rec = line + b"\n"
                self.assertIn(rec, ledger.sent, "object %s holds a record never sent: %r" % (k, rec[:80]))
                self.assertTrue(rec.startswith(b"r:%s:" % stream.encode()),
                                "record of another stream in %s: %r" % (k, rec[:60]))
                counts[rec] += 1
        # kill -9 leaves half-written objects only in s3/.tmp, and every start sweeps it.
        tmp = os.path.join(srv.data_dir, "s3", ".tmp")
        self.assertEqual(os.listdir(tmp) if os.path.isdir(tmp) else [], [],
                         "temp files left after the final graceful stop")
        dup = [r for r, c in counts.items() if c > 1]
        missing = [r for r in ledger.acked if counts[r] != 1]
        self.assertEqual(dup, [], "%d records delivered more than once, e.g. %r" % (len(dup), dup[:3]))
        self.assertEqual(missing, [], "%d of %d acknowledged records not delivered, e.g. %r"
                         % (len(missing), len(ledger.acked), sorted(missing)[:3]))
        return counts

    def test_kill9_under_load_delivers_acked_exactly_once(self):
        rnd = random.Random(harness.seed())
        t_start = time.monotonic()
        srv = self.start_server()
        self.create_streams(srv)
        ledger = Ledger()
        for rnd_no in range(ROUNDS):
            stop = threading.Event()
            producers = [Producer(srv.client(retries=1, read_timeout=5), pid, rnd_no, ledger, stop)
                         for pid in range(PRODUCERS)]
            before = ledger.n_acked()
            for p in producers:
                p.start()
            try:
                wait_until(lambda: ledger.n_acked() > before, 10, what="acks in round %d" % rnd_no)
                time.sleep(rnd.uniform(0.2, 2.0))  # the random kill moment, not synchronisation
                rc = srv.kill9()
                self.assertEqual(rc, -signal.SIGKILL, "server died on its own before kill -9 (rc %r)" % rc)
            finally:
                stop.set()
                for p in producers:
                    p.join(harness.scaled(15))
                    self.assertFalse(p.is_alive(), "producer thread stuck")
            srv.start()
            # streams survive the crash
            self.assertEqual(sorted(srv.client().list_delivery_streams()["DeliveryStreamNames"]), sorted(STREAMS))
        # a last burst after the final recovery, then a graceful stop flushes everything
        fh = srv.client()
        tail = [("r:crash-fast:99:0:%d:\n" % i).encode() for i in range(50)]
        with ledger.lock:
            ledger.sent.update(tail)
        r = fh.put_record_batch(DeliveryStreamName="crash-fast", Records=[{"Data": d} for d in tail])
        self.assertEqual(r["FailedPutCount"], 0)
        ledger.acked.update(tail)
        rc = srv.stop(signal.SIGTERM)
        self.assertEqual(rc, 0, "exit code of the final SIGTERM")
        sys.stderr.write("[crash] %d sent, %d acked, client errors %s, %.1fs\n"
                         % (len(ledger.sent), len(ledger.acked), dict(ledger.errors), time.monotonic() - t_start))
        self.assertGreater(len(ledger.acked), 100, "too little load to mean anything")
        counts = self.check_delivered(srv, ledger)
        self.assertGreaterEqual(sum(counts.values()), len(ledger.acked))
        self.assertLess(time.monotonic() - t_start, harness.scaled(60), "crash test over its time bound")

    def test_kill9_right_after_ack_loses_nothing(self):
        srv = self.start_server()
        fh = srv.client()
        harness.create_stream(fh, "crash-fast", bucket="crash", size=128, interval=900)
        harness.wait_active(fh, "crash-fast")
        ledger = Ledger()
        recs = [("r:crash-fast:0:0:%d:%s\n" % (i, "y" * (i % 100))).encode() for i in range(400)]
        ledger.sent.update(recs)
        harness.put_all(fh, "crash-fast", recs, batch=100)
        ledger.acked.update(recs)
        self.assertEqual(srv.kill9(), -signal.SIGKILL)
        srv.start()
        srv.kill9()  # crash again right after recovery
        srv.start()
        d = srv.client().describe_delivery_stream(DeliveryStreamName="crash-fast")["DeliveryStreamDescription"]
        self.assertEqual(d["DeliveryStreamStatus"], "ACTIVE")
        self.assertEqual(srv.stop(signal.SIGTERM), 0)
        counts = self.check_delivered(srv, ledger)
        self.assertEqual(sum(counts.values()), 400)


if __name__ == "__main__":
    unittest.main()
