"""End-to-end delivery into the embedded bucket: content, key names, buffering, restarts, SIGTERM."""

import collections
import os
import random
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import HydrantTestCase, frame, parse_frames, put_all, wait_until  # noqa: E402

MiB = 1024 * 1024


def delivered(srv, bucket):
    """(keys, concatenated bytes) of every object in a bucket, keys in sorted order."""
    keys = srv.objects(bucket)
    return keys, [srv.read_object(bucket, k) for k in keys]


def frames_in(srv, bucket):
    """Counter of (n, payload) over all objects; each object must hold whole frames."""
    keys, blobs = delivered(srv, bucket)
    c = collections.Counter()
    for k, b in zip(keys, blobs):
        try:
            c.update(parse_frames(b))
        except ValueError as e:
            raise AssertionError("object %s is not a concatenation of whole records: %s" % (k, e))
    return c


def utc_hour_window(t0, t1):
    """Set of 'YYYY/MM/dd/HH' strings for the hours between two epoch times."""
    return {time.strftime("%Y/%m/%d/%H", time.gmtime(t)) for t in range(int(t0) - 1, int(t1) + 62, 60)}


def skip_without_boto3():
    if harness.boto3 is None:
        raise unittest.SkipTest("boto3 not installed for %s" % sys.executable)


class SmokeTest(HydrantTestCase):
    """Short path used by the ASan build: create, put a batch, see it delivered, SIGTERM."""

    def setUp(self):
        skip_without_boto3()

    def test_smoke_create_put_deliver_sigterm(self):
        srv = self.start_server()
        fh = srv.client()
        harness.create_stream(fh, "smoke", bucket="smoke", size=1, interval=0)
        harness.create_stream(fh, "smoke-held", bucket="smokeheld", size=128, interval=900)
        harness.wait_active(fh, "smoke")
        harness.wait_active(fh, "smoke-held")
        recs = [frame(i, os.urandom(i % 300)) for i in range(200)]
        put_all(fh, "smoke", recs, batch=100)
        put_all(fh, "smoke-held", recs, batch=100)
        want = collections.Counter(parse_frames(b"".join(recs)))
        wait_until(lambda: frames_in(srv, "smoke") == want, 10, what="200 records delivered once")
        self.assertEqual(srv.objects("smokeheld"), [], "interval 900 stream delivered early")
        rc = srv.stop(signal.SIGTERM)
        self.assertEqual(rc, 0, "exit code after SIGTERM")
        self.assertEqual(frames_in(srv, "smokeheld"), want, "SIGTERM must flush the held buffer")
        self.assertEqual(frames_in(srv, "smoke"), want)


class DeliveryTest(HydrantTestCase):
    def setUp(self):
        skip_without_boto3()
        self.srv = self.start_server()
        self.fh = self.srv.client()

    def make(self, name, **kw):
        harness.create_stream(self.fh, name, **kw)
        harness.wait_active(self.fh, name)

    def test_10000_records_round_trip_exactly_once(self):
        rnd = random.Random(harness.seed())
        self.make("bulk", bucket="bulk", size=1, interval=0)
        recs = []
        for i in range(10000):
            ln = rnd.choice((0, 1, 7, 100, 1000, rnd.randrange(0, 5000)))
            payload = bytes(rnd.getrandbits(8) for _ in range(min(ln, 64))) + b"%d" % i * (ln // 8)
            recs.append(frame(i, payload))
        t0 = time.time()
        ids = put_all(self.fh, "bulk", recs, batch=500)
        t1 = time.time()
        self.assertEqual(len(ids), 10000)
        self.assertEqual(len(set(ids)), 10000, "RecordIds must be unique")
        want = collections.Counter(parse_frames(b"".join(recs)))
        self.assertEqual(len(want), 10000)
        got = wait_until(lambda: (lambda c: c if sum(c.values()) >= 10000 else None)(frames_in(self.srv, "bulk")),
                         30, interval=0.2, what="10000 records delivered")
        self.assertEqual(got, want, "delivered multiset differs: missing %d, extra %d" % (
            len(want - got), len(got - want)))
        rx = harness.key_regex("bulk", 1)
        hours = utc_hour_window(t0, t1 + 30)
        for k in self.srv.objects("bulk"):
            m = rx.match(k)
            self.assertIsNotNone(m, "bad key %r" % k)
            self.assertEqual(m.group("pdate").replace("/", "-"), m.group("sdate"),
                             "prefix and suffix times must come from the same instant: %s" % k)
            self.assertIn(m.group("pdate"), hours, "key time not near now: %s" % k)

    def test_binary_records_as_one_stream(self):
        rnd = random.Random(harness.seed())
        self.make("bin", bucket="bin", size=128, interval=900)
        recs = [bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(1, 2000))) for _ in range(1500)]
        recs[0] = bytes(range(256))  # every byte value
        recs[1] = b"\x00\n\r\"\\{}" * 10
        put_all(self.fh, "bin", recs, batch=250)
        self.assertEqual(self.srv.objects("bin"), [], "interval 900 / 128 MB delivered early")
        rc = self.srv.stop(signal.SIGTERM)
        self.assertEqual(rc, 0)
        keys = self.srv.objects("bin")
        self.assertGreaterEqual(len(keys), 1)
        paths = [os.path.join(self.srv.s3_dir("bin"), k) for k in keys]
        paths.sort(key=lambda p: (os.stat(p).st_mtime_ns, p))  # one producer: delivery order
        data = b"".join(open(p, "rb").read() for p in paths)
        self.assertEqual(len(data), sum(len(r) for r in recs))
        self.assertTrue(data == b"".join(recs), "delivered bytes differ from the records sent")

    def test_interval_zero_delivers_promptly(self):
        self.make("prompt", bucket="prompt", size=128, interval=0)
        t0 = time.monotonic()
        self.fh.put_record(DeliveryStreamName="prompt", Record={"Data": b"hello prompt\n"})
        keys = wait_until(lambda: self.srv.objects("prompt"), 10, what="object for interval 0")
        self.assertLess(time.monotonic() - t0, harness.scaled(10))
        self.assertEqual(len(keys), 1)
        self.assertRegex(keys[0], harness.key_regex("prompt", 1))
        self.assertEqual(self.srv.read_object("prompt", keys[0]), b"hello prompt\n")

    def test_size_hint_cuts_objects_before_interval(self):
        self.make("sized", bucket="sized", size=1, interval=900)
        recs = [frame(i, b"s" * 10000) for i in range(315)]  # ~3 MiB
        total = sum(len(r) for r in recs)
        self.assertGreater(total, 3 * MiB)
        put_all(self.fh, "sized", recs, batch=100)
        keys = wait_until(lambda: (lambda k: k if len(k) >= 2 else None)(self.srv.objects("sized")),
                          20, what=">= 2 objects from SizeInMBs=1 with 3 MiB put")
        for k in keys:
            size = os.path.getsize(os.path.join(self.srv.s3_dir("sized"), k))
            self.assertLessEqual(size, 2 * MiB, "object %s is %d bytes with SizeInMBs=1" % (k, size))
        rc = self.srv.stop(signal.SIGTERM)
        self.assertEqual(rc, 0)
        self.assertEqual(frames_in(self.srv, "sized"), collections.Counter(parse_frames(b"".join(recs))))

    def test_update_destination_version_in_key(self):
        self.make("ver", bucket="ver", size=1, interval=0)
        self.fh.put_record(DeliveryStreamName="ver", Record={"Data": frame(1, b"before")})
        wait_until(lambda: frames_in(self.srv, "ver")[(1, b"before")] == 1, 10, what="first record delivered")
        before = set(self.srv.objects("ver"))
        for k in before:
            self.assertRegex(k, harness.key_regex("ver", 1))
        d = self.fh.describe_delivery_stream(DeliveryStreamName="ver")["DeliveryStreamDescription"]
        harness.call_lenient(self.fh, "update_destination", DeliveryStreamName="ver",
                             CurrentDeliveryStreamVersionId=d["VersionId"],
                             DestinationId=d["Destinations"][0]["DestinationId"],
                             ExtendedS3DestinationUpdate={"BufferingHints": {"SizeInMBs": 2, "IntervalInSeconds": 0}})
        self.fh.put_record(DeliveryStreamName="ver", Record={"Data": frame(2, b"after")})

        def new_objects():
            return [k for k in self.srv.objects("ver") if k not in before]
        new = wait_until(new_objects, 10, what="object after UpdateDestination")
        rx2 = harness.key_regex("ver", 2)
        for k in new:
            self.assertRegex(k, rx2)
        got = b"".join(self.srv.read_object("ver", k) for k in new)
        self.assertEqual(parse_frames(got), [(2, b"after")])

    def test_custom_prefix(self):
        self.make("pref", bucket="pref", size=1, interval=0, prefix="logs/")
        self.fh.put_record(DeliveryStreamName="pref", Record={"Data": b"prefixed\n"})
        keys = wait_until(lambda: self.srv.objects("pref"), 10, what="object with prefix")
        self.assertEqual(len(keys), 1)
        self.assertRegex(keys[0], harness.key_regex("pref", 1, prefix="logs/"))
        self.assertTrue(keys[0].startswith("logs/%s/" % time.strftime("%Y", time.gmtime()))
                        or keys[0].startswith("logs/%d/" % (time.gmtime().tm_year - 1)), keys[0])

    def test_restart_keeps_streams_and_delivers(self):
        self.make("keep", bucket="keep", size=128, interval=900)
        self.fh.tag_delivery_stream(DeliveryStreamName="keep", Tags=[{"Key": "team", "Value": "data"}])
        d1 = self.fh.describe_delivery_stream(DeliveryStreamName="keep")["DeliveryStreamDescription"]
        recs = [frame(i, b"k" * (i % 50)) for i in range(300)]
        put_all(self.fh, "keep", recs)
        self.assertEqual(self.srv.objects("keep"), [])
        rc = self.srv.restart()
        self.assertEqual(rc, 0, "graceful stop exit code")
        self.assertEqual(frames_in(self.srv, "keep"), collections.Counter(parse_frames(b"".join(recs))),
                         "records put before a graceful restart must be delivered")
        fh = self.srv.client()
        d2 = fh.describe_delivery_stream(DeliveryStreamName="keep")["DeliveryStreamDescription"]
        for f in ("DeliveryStreamARN", "VersionId", "DeliveryStreamStatus", "DeliveryStreamType", "CreateTimestamp"):
            self.assertEqual(d2[f], d1[f], f)
        self.assertEqual(d2["Destinations"], d1["Destinations"])
        self.assertEqual(fh.list_delivery_streams()["DeliveryStreamNames"], ["keep"])
        self.assertEqual(fh.list_tags_for_delivery_stream(DeliveryStreamName="keep")["Tags"],
                         [{"Key": "team", "Value": "data"}])
        more = [frame(1000 + i, b"after restart") for i in range(10)]
        put_all(fh, "keep", more)
        self.assertEqual(self.srv.stop(), 0)
        self.assertEqual(frames_in(self.srv, "keep"),
                         collections.Counter(parse_frames(b"".join(recs + more))))

    def test_sigterm_flushes_long_interval(self):
        self.make("flush", bucket="flush", size=128, interval=900)
        self.make("flush2", bucket="flush", size=64, interval=600, prefix="two/")
        recs = [frame(i, os.urandom(i % 200)) for i in range(1000)]
        put_all(self.fh, "flush", recs)
        put_all(self.fh, "flush2", recs[:10])
        self.assertEqual(self.srv.objects("flush"), [])
        t0 = time.monotonic()
        rc = self.srv.stop(signal.SIGTERM)
        self.assertEqual(rc, 0, "exit code after SIGTERM")
        self.assertLess(time.monotonic() - t0, harness.scaled(15), "SIGTERM flush took too long")
        keys = self.srv.objects("flush")
        one = [k for k in keys if not k.startswith("two/")]
        two = [k for k in keys if k.startswith("two/")]
        for k in one:
            self.assertRegex(k, harness.key_regex("flush", 1))
        for k in two:
            self.assertRegex(k, harness.key_regex("flush2", 1, prefix="two/"))
        got1 = collections.Counter(parse_frames(b"".join(self.srv.read_object("flush", k) for k in one)))
        got2 = collections.Counter(parse_frames(b"".join(self.srv.read_object("flush", k) for k in two)))
        self.assertEqual(got1, collections.Counter(parse_frames(b"".join(recs))))
        self.assertEqual(got2, collections.Counter(parse_frames(b"".join(recs[:10]))))

    def test_sigint_also_flushes(self):
        self.make("intr", bucket="intr", size=128, interval=900)
        put_all(self.fh, "intr", [b"sigint\n"])
        self.assertEqual(self.srv.stop(signal.SIGINT), 0)
        keys = self.srv.objects("intr")
        self.assertEqual(b"".join(self.srv.read_object("intr", k) for k in keys), b"sigint\n")

    def test_metrics_count_incoming_and_delivered(self):
        self.make("met", bucket="met", size=1, interval=0)
        self.make("met-idle", bucket="met", size=1, interval=0)
        recs = [frame(i, b"m" * i) for i in range(123)]
        put_all(self.fh, "met", recs[:100])
        self.fh.put_record(DeliveryStreamName="met", Record={"Data": recs[100]})
        put_all(self.fh, "met", recs[101:])
        m = self.srv.metrics()
        self.assertEqual(m.get(("hydrant_incoming_records_total", (("stream", "met"),))), 123.0)
        self.assertIn(m.get(("hydrant_incoming_records_total", (("stream", "met-idle"),))), (None, 0.0))
        wait_until(lambda: self.srv.metric("hydrant_delivery_to_s3_records_total", stream="met") == 123.0,
                   10, what='hydrant_delivery_to_s3_records_total{stream="met"} == 123')
        self.assertEqual(sum(frames_in(self.srv, "met").values()), 123)
        # The active log segment stays on disk after delivery; an unused stream keeps nothing.
        self.assertGreater(self.srv.metric("hydrant_log_retained_bytes", stream="met"), 0)
        self.assertEqual(self.srv.metric("hydrant_log_retained_bytes", stream="met-idle"), 0.0)
        st, h, body = self.srv.http("GET", "/_hydrant/metrics")
        self.assertEqual(st, 200)
        self.assertIn("text/plain", h.get("content-type", ""))


if __name__ == "__main__":
    unittest.main()
