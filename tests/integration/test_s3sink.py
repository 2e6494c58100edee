"""Remote S3 sink (--s3-endpoint / --bucket-endpoint): delivery into moto's S3 server and into a
second hydrant serving its S3 API, including that server killed (-9) and restarted mid-delivery,
during multipart uploads too: every acknowledged record arrives exactly once."""

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import HydrantTestCase, Server, wait_until  # noqa: E402
from test_s3 import s3_client  # noqa: E402

MiB = 1024 * 1024
CREDS = {"AWS_ACCESS_KEY_ID": harness.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": harness.SECRET_KEY}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Url(object):
    def __init__(self, url):
        self.url = url


def all_objects(s3, bucket):
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return [o for p in pages for o in p.get("Contents", [])]


def read_all(s3, bucket):
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in all_objects(s3, bucket)}


class MotoSinkTest(HydrantTestCase):
    def setUp(self):
        try:
            import moto  # noqa: F401
        except ImportError:
            self.skipTest("moto is not installed for %s" % sys.executable)
        self.port = free_port()
        self.tmp = tempfile.mkdtemp(prefix="hydrant-moto-")
        log = open(os.path.join(self.tmp, "moto.log"), "wb")
        self.moto = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        self.addCleanup(self.stop_moto)
        self.remote = s3_client(Url("http://127.0.0.1:%d" % self.port))
        wait_until(lambda: self.remote.list_buckets() is not None, 30, what="moto up")

    def stop_moto(self):
        self.moto.terminate()
        self.moto.wait(timeout=30)

    def test_small_and_multipart_objects_land_in_moto_and_local_buckets_stay_local(self):
        self.remote.create_bucket(Bucket="remote")
        srv = self.start_server(extra_args=["--bucket-endpoint", "remote=http://127.0.0.1:%d" % self.port,
                                            "--s3-path-style"], env=CREDS)
        fh = srv.client()
        harness.create_stream(fh, "far", bucket="remote", size=16, interval=5)
        harness.create_stream(fh, "near", bucket="localb", interval=0)
        harness.wait_active(fh, "far")
        harness.wait_active(fh, "near")
        fh.put_record(DeliveryStreamName="near", Record={"Data": b"local-record\n"})
        fh.put_record(DeliveryStreamName="far", Record={"Data": b"small-record\n"})
        got = wait_until(lambda: read_all(self.remote, "remote"), 30, what="small object in moto (5 s interval)")
        self.assertEqual(list(got.values()), [b"small-record\n"])
        wait_until(lambda: srv.objects("localb"), 30, what="local object")
        self.assertEqual(srv.read_object("localb", srv.objects("localb")[0]), b"local-record\n")
        # An object over one part (8 MiB) goes as a multipart upload.
        recs = [harness.frame(i, os.urandom(3000).hex().encode()) for i in range(3500)]  # ~21 MB
        harness.put_all(fh, "far", recs)
        want = b"".join(recs)

        def delivered():
            objs = all_objects(self.remote, "remote")
            data = b"".join(self.remote.get_object(Bucket="remote", Key=o["Key"])["Body"].read()
                            for o in sorted(objs, key=lambda o: o["Key"]))
            return objs if data.count(b"id:") >= len(recs) else None
        objs = wait_until(delivered, 90, what="21 MB delivered to moto")
        self.assertTrue(any(o["ETag"].strip('"').split("-")[-1].isdigit() and "-" in o["ETag"] for o in objs),
                        [o["ETag"] for o in objs])
        data = b"".join(read_all(self.remote, "remote")[k] for k in sorted(o["Key"] for o in objs))
        self.assertIn(want, data.replace(b"small-record\n", b""))


class KilledTargetTest(HydrantTestCase):
    def test_target_killed_and_restarted_mid_delivery_every_record_once(self):
        port = free_port()
        tmp = tempfile.mkdtemp(prefix="hydrant-target-")
        self._tmp_dirs.append(tmp)
        target = Server(os.path.join(tmp, "data"), os.path.join(tmp, "hydrant.log"),
                        extra_args=["--listen", "127.0.0.1:%d" % port])
        self._servers.append(target)
        self.addCleanup(target.stop)
        target.start()
        s3t = s3_client(target)
        s3t.create_bucket(Bucket="far")
        src = self.start_server(extra_args=["--s3-endpoint", "http://127.0.0.1:%d" % port, "--s3-path-style"],
                                env=CREDS)
        fh = src.client(retries=3)
        harness.create_stream(fh, "kill", bucket="far", size=12, interval=2)
        harness.wait_active(fh, "kill")
        n_total, acked = 6000, []
        stop = threading.Event()
        errors = []

        def producer():
            i = 0
            try:
                while i < n_total and not stop.is_set():
                    batch = [harness.frame(i + k, os.urandom(1500).hex().encode()) for k in range(200)]
                    r = fh.put_record_batch(DeliveryStreamName="kill", Records=[{"Data": d} for d in batch])
                    for k, res in enumerate(r["RequestResponses"]):
                        if "RecordId" in res:
                            acked.append(i + k)
                    i += 200
            except Exception as e:  # noqa: BLE001
                errors.append(e)
        t = threading.Thread(target=producer)
        t.start()
        # Kill the target twice while objects (multipart ones too: 12 MiB batches) are in flight.
        for _ in range(2):
            wait_until(lambda: len(acked) > 1500 * (_ + 1), 60, what="records acknowledged")
            target.kill9()
            time.sleep(1.5)  # a real outage: deliveries fail and retry meanwhile
            target.start()
        t.join(timeout=harness.scaled(120))
        stop.set()
        self.assertFalse(errors, errors)
        self.assertEqual(len(acked), n_total)
        s3t = s3_client(target)

        def all_there():
            seen = []
            for o in all_objects(s3t, "far"):
                body = s3t.get_object(Bucket="far", Key=o["Key"])["Body"].read()
                seen += [n for n, _p in harness.parse_frames(body)]
            return seen if len(seen) >= n_total else None
        seen = wait_until(all_there, 120, interval=0.5, what="every record at the target")
        self.assertEqual(sorted(seen), list(range(n_total)), "each acknowledged record exactly once")
        with open(src.log_path, "rb") as f:
            log = f.read()
        # The outages really hit deliveries (requests retried, batches replayed), multipart too.
        self.assertIn(b"request failed; retrying", log)
        self.assertTrue(any("-" in o["ETag"] for o in all_objects(s3t, "far")), "no multipart object")


if __name__ == "__main__":
    unittest.main()
