"""KinesisStreamAsSource: a delivery stream reading a hydrant data stream (issue 15 item 2).

Real peers: boto3's kinesis and firehose clients. Records are self-delimiting frames, so every
delivered object parses back into the records it holds and each can be counted."""
import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import HydrantTestCase, frame, parse_frames, s3_dest, wait_until  # noqa: E402
from test_kinesis import UNLIMITED, kclient  # noqa: E402


def delivered(srv, bucket):
    """Every frame id in every object of bucket, with its count."""
    seen = {}
    for key in srv.objects(bucket):
        for n, _ in parse_frames(srv.read_object(bucket, key)):
            seen[n] = seen.get(n, 0) + 1
    return seen


def put_frames(kin, stream, ids, payload=b"x" * 64):
    """Kinesis PutRecords of frame(n) for n in ids; returns the ids acknowledged."""
    r = kin.put_records(StreamName=stream,
                        Records=[{"Data": frame(n, payload), "PartitionKey": "pk%d" % n}
                                 for n in ids])
    return [n for n, e in zip(ids, r["Records"]) if "ErrorCode" not in e]


def create_source(srv, fh, kin, name, data_stream, bucket):
    arn = kin.describe_stream_summary(StreamName=data_stream)["StreamDescriptionSummary"]["StreamARN"]
    harness.call_lenient(fh, "create_delivery_stream", DeliveryStreamName=name,
                         DeliveryStreamType="KinesisStreamAsSource",
                         KinesisStreamSourceConfiguration={"KinesisStreamARN": arn,
                                                           "RoleARN": harness.ROLE_ARN},
                         ExtendedS3DestinationConfiguration=s3_dest(bucket=bucket, size=1,
                                                                    interval=0))
    harness.wait_active(fh, name)
    return arn


class KinesisSourceTest(HydrantTestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = cls.start_class_server(extra_args=UNLIMITED)

    def setUp(self):
        self.kin = kclient(self.srv)
        self.fh = self.srv.client()

    def test_delivers_every_record_once_across_a_split(self):
        self.kin.create_stream(StreamName="ks-src", ShardCount=2)
        arn = create_source(self.srv, self.fh, self.kin, "ks-dest", "ks-src", "kslake")
        acked = []
        for i in range(0, 1000, 250):
            acked += put_frames(self.kin, "ks-src", list(range(i, i + 250)))
        # Resharding: the delivery stream follows parents into their children.
        self.kin.update_shard_count(StreamName="ks-src", TargetShardCount=4,
                                    ScalingType="UNIFORM_SCALING")
        for i in range(1000, 2000, 250):
            acked += put_frames(self.kin, "ks-src", list(range(i, i + 250)))
        self.assertEqual(len(acked), 2000)
        wait_until(lambda: len(delivered(self.srv, "kslake")) >= 2000, harness.scaled(20),
                   what="2000 records delivered")
        seen = delivered(self.srv, "kslake")
        self.assertEqual(sorted(seen), sorted(acked))
        self.assertEqual([n for n, c in seen.items() if c != 1], [])
        d = self.fh.describe_delivery_stream(DeliveryStreamName="ks-dest")["DeliveryStreamDescription"]
        self.assertEqual(d["DeliveryStreamType"], "KinesisStreamAsSource")
        k = d["Source"]["KinesisStreamSourceDescription"]
        self.assertEqual(k["KinesisStreamARN"], arn)
        self.assertEqual(k["RoleARN"], harness.ROLE_ARN)
        self.assertGreater(k["DeliveryStartTimestamp"].timestamp(), 1.6e9)
        self.assertNotIn("Source", d["Destinations"][0]["ExtendedS3DestinationDescription"])

    def test_starts_at_latest(self):
        self.kin.create_stream(StreamName="ks-old", ShardCount=1)
        put_frames(self.kin, "ks-old", [900001, 900002])
        create_source(self.srv, self.fh, self.kin, "ks-old-dest", "ks-old", "oldlake")
        put_frames(self.kin, "ks-old", [900003])
        wait_until(lambda: delivered(self.srv, "oldlake"), harness.scaled(10), what="delivery")
        self.assertEqual(delivered(self.srv, "oldlake"), {900003: 1})

    def test_puts_refused(self):
        self.kin.create_stream(StreamName="ks-np", ShardCount=1)
        create_source(self.srv, self.fh, self.kin, "ks-np-dest", "ks-np", "nplake")
        msg = "This operation is not permitted on KinesisStreamAsSource delivery stream type."
        with self.assertRaises(self.fh.exceptions.InvalidArgumentException) as cm:
            self.fh.put_record(DeliveryStreamName="ks-np-dest", Record={"Data": b"x"})
        self.assertEqual(cm.exception.response["Error"]["Message"], msg)
        with self.assertRaises(self.fh.exceptions.InvalidArgumentException) as cm:
            self.fh.put_record_batch(DeliveryStreamName="ks-np-dest", Records=[{"Data": b"x"}])
        self.assertEqual(cm.exception.response["Error"]["Message"], msg)

    def test_bad_sources_refused(self):
        missing = "arn:aws:kinesis:%s:000000000000:stream/no-such" % harness.REGION
        with self.assertRaises(self.fh.exceptions.InvalidArgumentException) as cm:
            harness.call_lenient(self.fh, "create_delivery_stream", DeliveryStreamName="ks-bad",
                                 DeliveryStreamType="KinesisStreamAsSource",
                                 KinesisStreamSourceConfiguration={"KinesisStreamARN": missing,
                                                                   "RoleARN": harness.ROLE_ARN},
                                 ExtendedS3DestinationConfiguration=s3_dest())
        self.assertIn("no-such", cm.exception.response["Error"]["Message"])
        with self.assertRaises(self.fh.exceptions.InvalidArgumentException):
            harness.call_lenient(self.fh, "create_delivery_stream", DeliveryStreamName="ks-bad",
                                 DeliveryStreamType="KinesisStreamAsSource",
                                 ExtendedS3DestinationConfiguration=s3_dest())
        with self.assertRaises(self.fh.exceptions.ResourceNotFoundException):
            self.fh.describe_delivery_stream(DeliveryStreamName="ks-bad")


class KinesisSourceExpiryTest(HydrantTestCase):
    def test_records_expired_before_read_are_reported(self):
        # A retention "hour" of 50 ms: records live 1.2 s. The delivery stalls (its bucket path
        # is a file), its 1 MiB log fills, the pump stops moving, the rest expires unread.
        srv = self.start_server(extra_args=["--stream-quota-mib", "1", "--kinesis-hour-ms", "50"]
                                + UNLIMITED)
        os.makedirs(os.path.dirname(srv.s3_dir("exlake")), exist_ok=True)
        with open(srv.s3_dir("exlake"), "w") as f:
            f.write("not a bucket")
        kin = kclient(srv)
        kin.create_stream(StreamName="ex-src", ShardCount=1)
        create_source(srv, srv.client(), kin, "ex-dest", "ex-src", "exlake")
        acked = []
        for i in range(0, 2000, 250):
            acked += put_frames(kin, "ex-src", list(range(i, i + 250)), payload=b"e" * 1000)
        self.assertEqual(len(acked), 2000)

        def expired():
            return srv.metric("hydrant_kinesis_source_expired_records_total", stream="ex-dest") or 0
        wait_until(lambda: expired() > 0, harness.scaled(20), what="expired records reported")
        with open(srv.log_path) as f:
            self.assertIn("records expired from the data stream", f.read())
        os.remove(srv.s3_dir("exlake"))
        # Every record is either delivered exactly once or counted as expired.
        wait_until(lambda: len(delivered(srv, "exlake")) + expired() == 2000, harness.scaled(30),
                   what="delivered + expired == put")
        seen = delivered(srv, "exlake")
        self.assertEqual([n for n, c in seen.items() if c != 1], [])
        self.assertTrue(set(seen) <= set(acked))
        self.assertGreater(len(seen), 0)


class KinesisSourceCrashTest(HydrantTestCase):
    def test_kill9_under_load_every_acknowledged_record_once(self):
        srv = self.start_server(extra_args=UNLIMITED)
        kin = kclient(srv)
        kin.create_stream(StreamName="cr-src", ShardCount=2)
        create_source(srv, srv.client(), kin, "cr-dest", "cr-src", "crlake")
        acked, stop = [], threading.Event()
        state = {"next": 0}

        def produce():
            while not stop.is_set():
                ids = list(range(state["next"], state["next"] + 100))
                state["next"] += 100
                try:
                    acked.extend(put_frames(kin, "cr-src", ids))
                except Exception:  # the server died under the call: not acknowledged
                    return

        t = threading.Thread(target=produce)
        t.start()
        wait_until(lambda: len(delivered(srv, "crlake")) >= 1500, harness.scaled(20),
                   what="deliveries under load")
        srv.kill9()
        stop.set()
        t.join(harness.scaled(30))
        srv.restart()
        kin = kclient(srv)
        acked.extend(put_frames(kin, "cr-src", list(range(10 ** 6, 10 ** 6 + 100))))
        want = set(acked)
        wait_until(lambda: want <= set(delivered(srv, "crlake")), harness.scaled(30),
                   what="every acknowledged record delivered after the restart")
        seen = delivered(srv, "crlake")
        self.assertEqual([n for n, c in seen.items() if c != 1], [])
        # Records put while the server died may be in or out, but never twice.
        self.assertTrue(set(seen) <= want | set(range(state["next"])))


if __name__ == "__main__":
    unittest.main()
