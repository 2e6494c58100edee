"""A damaged stream log (the hardening issue's repros 5 and 6): every intact acknowledged record
is delivered exactly once, the damaged one is quarantined in a corrupted-log error object,
counted in metrics and shown in FailureDescription until acknowledged."""

import base64
import glob
import json
import os
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import HydrantTestCase, wait_until  # noqa: E402

REC_LEN = 1024
FRAME_LEN = 24 + REC_LEN  # the WAL's frame header, then the data


def record(i):
    head = b"rec:%06d:" % i
    return head + bytes([ord("a") + i % 26]) * (REC_LEN - len(head))


def seq_of(record_id):
    """RecordIds are 56 hex digits with the sequence number in chars 16..31."""
    return int(record_id[16:32], 16)


def flip(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0xFF]))


class DamageTest(HydrantTestCase):

    def fill(self, srv, name, n):
        c = srv.client()
        harness.create_stream(c, name, bucket=name, size=128, interval=900)
        harness.wait_active(c, name)
        return harness.put_all(c, name, [record(i) for i in range(n)])

    def segments(self, srv, name):
        return sorted(glob.glob(os.path.join(srv.data_dir, "streams", name, "log", "*.seg")))

    def delivered(self, srv, bucket):
        """(count per record index in data objects, [parsed corrupted-log objects])."""
        counts, quarantined = {}, []
        for key in srv.objects(bucket):
            data = srv.read_object(bucket, key)
            if key.startswith("corrupted-log/"):
                quarantined.append((key, json.loads(data.decode())))
                continue
            self.assertEqual(len(data) % REC_LEN, 0, key)
            for at in range(0, len(data), REC_LEN):
                i = int(data[at + 4:at + 10])
                self.assertEqual(data[at:at + REC_LEN], record(i))
                counts[i] = counts.get(i, 0) + 1
        return counts, quarantined

    def describe(self, srv, name):
        return srv.client().describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]

    def quarantined(self, srv, name):
        return srv.metric("hydrant_delivery_quarantined_spans_total", stream=name) or 0

    def test_flip_in_last_segment_quarantines_the_record_and_delivers_the_rest(self):
        srv = self.start_server()
        n = 10000
        ids = self.fill(srv, "dmg", n)
        self.assertEqual(srv.kill9(), -signal.SIGKILL)
        seg = self.segments(srv, "dmg")[-1]
        offset = os.path.getsize(seg) // 2
        victim = offset // FRAME_LEN  # one segment: frame k holds record k
        flip(seg, offset)
        srv.start()

        wait_until(lambda: self.quarantined(srv, "dmg") >= 1, 20, what="the span quarantined")
        self.assertEqual(self.quarantined(srv, "dmg"), 1)
        self.assertGreaterEqual(srv.metric("hydrant_log_damaged_spans_total", stream="dmg"), 1)
        self.assertGreaterEqual(srv.metric("hydrant_log_damaged_bytes_total", stream="dmg"), FRAME_LEN)
        self.assertEqual(srv.metric("hydrant_delivery_quarantined_bytes_total", stream="dmg"), FRAME_LEN)
        fd = self.describe(srv, "dmg").get("FailureDescription")
        self.assertIsNotNone(fd)
        self.assertEqual(fd["Type"], "UNKNOWN_ERROR")
        self.assertIn("corrupted-log/", fd["Details"])
        self.assertIn("sequence numbers %d to %d" % (victim + 1, victim + 1), fd["Details"])
        self.assertEqual(srv.health(), 200)  # the stream keeps working

        # No RecordId acknowledged before is handed out again.
        r = srv.client().put_record(DeliveryStreamName="dmg", Record={"Data": record(n)})
        self.assertGreater(seq_of(r["RecordId"]), max(seq_of(x) for x in ids))

        # SIGTERM delivers everything buffered; the failure survives the restart.
        self.assertEqual(srv.stop(signal.SIGTERM), 0)
        srv.start()
        fd2 = self.describe(srv, "dmg").get("FailureDescription")
        self.assertEqual(fd2, fd)

        counts, quarantined = self.delivered(srv, "dmg")
        for i in range(n + 1):
            self.assertEqual(counts.get(i, 0), 0 if i == victim else 1, "record %d" % i)
        self.assertEqual(len(quarantined), 1)
        key, q = quarantined[0]
        self.assertIn(key, fd["Details"])
        self.assertEqual(q["deliveryStreamName"], "dmg")
        self.assertEqual(q["errorCode"], "CorruptedLog")
        self.assertEqual(q["firstSequenceNumber"], victim + 1)
        self.assertEqual(q["sequenceCount"], 1)
        self.assertEqual(q["location"], 1)
        self.assertEqual(q["offset"], victim * FRAME_LEN)
        self.assertEqual(q["length"], FRAME_LEN)
        self.assertFalse(q["truncated"])
        raw = base64.b64decode(q["rawData"])
        self.assertEqual(len(raw), FRAME_LEN)
        want = bytearray(open(seg, "rb").read()[victim * FRAME_LEN:(victim + 1) * FRAME_LEN])
        self.assertEqual(raw, bytes(want))  # the damaged bytes as they are on disk

        # An operator acknowledges: FailureDescription goes, and stays gone after a restart.
        status, _h, body = srv.http("POST", "/_hydrant/streams/dmg/acknowledge-failure")
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body.decode()), {"DeliveryStreamName": "dmg", "Cleared": True})
        self.assertNotIn("FailureDescription", self.describe(srv, "dmg"))
        status, _h, body = srv.http("POST", "/_hydrant/streams/nope/acknowledge-failure")
        self.assertEqual(status, 404)
        status, _h, body = srv.http("GET", "/_hydrant/streams/dmg/acknowledge-failure")
        self.assertEqual(status, 405)
        srv.restart()
        self.assertNotIn("FailureDescription", self.describe(srv, "dmg"))
        self.assertEqual(self.quarantined(srv, "dmg"), 0)  # nothing met again after restart

    def test_flip_in_first_of_several_segments_delivers_every_later_record(self):
        srv = self.start_server(extra_args=["--stream-quota-mib", "16"])  # 2 MiB segments
        n = 6000
        self.fill(srv, "first", n)
        self.assertEqual(srv.kill9(), -signal.SIGKILL)
        segs = self.segments(srv, "first")
        self.assertGreaterEqual(len(segs), 3)
        offset = 1 << 20
        victim = offset // FRAME_LEN
        flip(segs[0], offset)
        srv.start()
        wait_until(lambda: self.quarantined(srv, "first") >= 1, 20, what="the span quarantined")
        self.assertIsNotNone(self.describe(srv, "first").get("FailureDescription"))
        self.assertEqual(srv.stop(signal.SIGTERM), 0)
        srv.start()
        counts, quarantined = self.delivered(srv, "first")
        for i in range(n):
            self.assertEqual(counts.get(i, 0), 0 if i == victim else 1, "record %d" % i)
        self.assertEqual(len(quarantined), 1)
        self.assertEqual(quarantined[0][1]["firstSequenceNumber"], victim + 1)
        with open(srv.log_path, "rb") as f:
            log = f.read().decode("utf-8", "replace")
        self.assertNotIn("log read failed", log)


if __name__ == "__main__":
    unittest.main()
