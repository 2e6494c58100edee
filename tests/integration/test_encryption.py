"""Encryption at rest: Start/StopDeliveryStreamEncryption with hydrant's master key and with
customer keys from --kms-keys (boto3 and aws-cli v2), key rotation, kill -9 under load while
sealed, and a restart without the key (the stream fails loudly and delivers nothing wrong)."""

import collections
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import HydrantTestCase, wait_until  # noqa: E402
from test_cli import cli_env, find_cli  # noqa: E402

ARN1 = "arn:aws:kms:us-east-1:123456789012:key/11111111-1111-1111-1111-111111111111"
ARN2 = "arn:aws:kms:us-east-1:123456789012:key/22222222-2222-2222-2222-222222222222"
ARN3 = "arn:aws:kms:us-east-1:123456789012:key/33333333-3333-3333-3333-333333333333"
MARK = b"SEALED-PLAINTEXT-MARKER"


def log_bytes(srv, stream):
    d = os.path.join(srv.data_dir, "streams", stream, "log")
    out = b""
    for n in sorted(os.listdir(d)):
        if n.endswith(".seg"):
            with open(os.path.join(d, n), "rb") as f:
                out += f.read()
    return out


def delivered(srv, bucket):
    recs = collections.Counter()
    for k in srv.objects(bucket):
        for n, payload in harness.parse_frames(srv.read_object(bucket, k)):
            recs[(n, payload)] += 1
    return recs


class EncryptionTest(HydrantTestCase):
    def setUp(self):
        if harness.boto3 is None:
            raise unittest.SkipTest("boto3 not installed for %s" % sys.executable)
        self.keydir = self.tmp_dir()
        self.k1, self.k2, self.k3 = (os.urandom(32).hex() for _ in range(3))

    def tmp_dir(self):
        import tempfile
        d = tempfile.mkdtemp(prefix="hydrant-kms-")
        self.addCleanup(lambda: __import__("shutil").rmtree(d, ignore_errors=True))
        return d

    def keys_file(self, entries):
        p = os.path.join(self.keydir, "keys-%d.json" % len(os.listdir(self.keydir)))
        with open(p, "w") as f:
            json.dump(entries, f)
        return p

    def describe_enc(self, fh, name):
        d = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
        return d, d["DeliveryStreamEncryptionConfiguration"]

    def test_rotation_and_kill9_deliver_every_acked_record_once(self):
        keys = self.keys_file({ARN1: self.k1, ARN2: self.k2,
                               ARN3: {"command": ["sh", "-c", "printf '%s\\n' " + self.k3]}})
        srv = self.start_server(extra_args=["--kms-keys", keys])
        fh = srv.client()
        # A long buffer keeps the records in the log, so the segments can be inspected.
        harness.create_stream(fh, "enc", bucket="enc", size=128, interval=900)
        harness.wait_active(fh, "enc")
        _d, enc = self.describe_enc(fh, "enc")
        self.assertEqual(enc["Status"], "DISABLED")
        sent = {}
        n = [0]

        def put(tag, count):
            recs = []
            for _ in range(count):
                n[0] += 1
                payload = b"%s:%s:" % (tag, MARK) + os.urandom(n[0] % 50)
                sent[n[0]] = payload
                recs.append(harness.frame(n[0], payload))
            harness.put_all(fh, "enc", recs, batch=100)

        put(b"plain", 50)
        self.assertIn(b"plain:" + MARK, log_bytes(srv, "enc"), "plain records must be visible (test sanity)")
        plain_len = len(log_bytes(srv, "enc"))
        fh.start_delivery_stream_encryption(DeliveryStreamName="enc")  # AWS_OWNED_CMK by default
        _d, enc = self.describe_enc(fh, "enc")
        self.assertEqual((enc["Status"], enc["KeyType"]), ("ENABLED", "AWS_OWNED_CMK"))
        self.assertNotIn("KeyARN", enc)
        mk = os.path.join(srv.data_dir, "kms", "master.key")
        self.assertEqual(stat.S_IMODE(os.stat(mk).st_mode), 0o600)
        put(b"owned", 50)
        fh.start_delivery_stream_encryption(
            DeliveryStreamName="enc",
            DeliveryStreamEncryptionConfigurationInput={"KeyType": "CUSTOMER_MANAGED_CMK", "KeyARN": ARN1})
        put(b"cmk1", 50)
        fh.stop_delivery_stream_encryption(DeliveryStreamName="enc")
        self.assertEqual(self.describe_enc(fh, "enc")[1]["Status"], "DISABLED")
        put(b"off", 20)
        # The switch to another key goes through aws-cli v2 when it is there.
        aws = find_cli(2)
        inp = json.dumps({"KeyType": "CUSTOMER_MANAGED_CMK", "KeyARN": ARN2})
        if aws:
            p = subprocess.run([aws, "--endpoint-url", srv.url, "--output", "json", "firehose",
                                "start-delivery-stream-encryption", "--delivery-stream-name", "enc",
                                "--delivery-stream-encryption-configuration-input", inp],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(None),
                               timeout=harness.scaled(90))
            self.assertEqual(p.returncode, 0, p.stderr.decode())
            p = subprocess.run([aws, "--endpoint-url", srv.url, "--output", "json", "firehose",
                                "describe-delivery-stream", "--delivery-stream-name", "enc"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(None),
                               timeout=harness.scaled(90))
            enc = json.loads(p.stdout)["DeliveryStreamDescription"]["DeliveryStreamEncryptionConfiguration"]
        else:
            fh.start_delivery_stream_encryption(
                DeliveryStreamName="enc",
                DeliveryStreamEncryptionConfigurationInput={"KeyType": "CUSTOMER_MANAGED_CMK", "KeyARN": ARN2})
            enc = self.describe_enc(fh, "enc")[1]
        self.assertEqual((enc["Status"], enc["KeyType"], enc["KeyARN"]), ("ENABLED", "CUSTOMER_MANAGED_CMK", ARN2))
        put(b"cmk2", 50)
        # Unknown key: refused with the modeled error, nothing changes.
        with self.assertRaises(fh.exceptions.InvalidKMSResourceException):
            fh.start_delivery_stream_encryption(
                DeliveryStreamName="enc",
                DeliveryStreamEncryptionConfigurationInput={"KeyType": "CUSTOMER_MANAGED_CMK", "KeyARN": ARN1 + "0"})
        self.assertEqual(self.describe_enc(fh, "enc")[1].get("KeyARN"), ARN2)

        # Segments: only the plain records (and the 20 written while off) show the marker.
        seg = log_bytes(srv, "enc")
        self.assertEqual(seg.count(MARK), 50 + 20, "sealed records leaked plaintext into the log")
        self.assertNotIn(b"owned:" + MARK, seg[plain_len:])

        # kill -9 under load with the command key (ARN3), then a restart.
        fh.start_delivery_stream_encryption(
            DeliveryStreamName="enc",
            DeliveryStreamEncryptionConfigurationInput={"KeyType": "CUSTOMER_MANAGED_CMK", "KeyARN": ARN3})
        acked = dict(sent)
        lock = threading.Lock()
        stop = threading.Event()

        def producer(pid):
            c = srv.client(retries=1, read_timeout=5)
            i = 0
            while not stop.is_set():
                i += 1
                base = 1000000 * (pid + 1) + 1000 * i
                recs = [(base + j, b"load:%s:" % MARK + os.urandom(j % 40)) for j in range(100)]
                try:
                    r = c.put_record_batch(DeliveryStreamName="enc",
                                           Records=[{"Data": harness.frame(k, v)} for k, v in recs])
                except Exception:  # noqa: BLE001 - killed under us on purpose
                    return
                with lock:
                    for (k, v), x in zip(recs, r["RequestResponses"]):
                        if "ErrorCode" not in x:
                            acked[k] = v
        threads = [threading.Thread(target=producer, args=(p,), daemon=True) for p in range(2)]
        for t in threads:
            t.start()
        try:
            wait_until(lambda: len(acked) > len(sent) + 500, 20, what="load acknowledged")
            self.assertEqual(srv.kill9(), -signal.SIGKILL)
        finally:
            stop.set()
            for t in threads:
                t.join(harness.scaled(15))
        srv.start()
        fh = srv.client()
        _d, enc = self.describe_enc(fh, "enc")
        self.assertEqual((enc["Status"], enc.get("KeyARN")), ("ENABLED", ARN3))
        put(b"after", 30)
        with lock:
            acked.update({k: sent[k] for k in sent})
        self.assertEqual(srv.stop(signal.SIGTERM), 0)
        got = delivered(srv, "enc")
        dup = [k for k, c in got.items() if c > 1]
        self.assertEqual(dup, [], "records delivered twice")
        by_n = {k: v for (k, v) in got}
        self.assertEqual(len(by_n), len(got), "one id delivered with two payloads")
        missing = [k for k in acked if by_n.get(k) != acked[k]]
        self.assertEqual(missing, [], "%d acknowledged records missing or not byte-exact" % len(missing))

    def test_missing_key_at_restart_fails_loudly_and_delivers_nothing_wrong(self):
        with_key = self.keys_file({ARN1: self.k1})
        srv = self.start_server(extra_args=["--kms-keys", with_key])
        fh = srv.client()
        harness.call_lenient(fh, "create_delivery_stream", DeliveryStreamName="locked",
                             DeliveryStreamType="DirectPut",
                             DeliveryStreamEncryptionConfigurationInput={"KeyType": "CUSTOMER_MANAGED_CMK",
                                                                         "KeyARN": ARN1},
                             ExtendedS3DestinationConfiguration=harness.s3_dest("locked", size=128, interval=900))
        harness.wait_active(fh, "locked")
        self.assertEqual(self.describe_enc(fh, "locked")[1]["Status"], "ENABLED")
        with self.assertRaises(fh.exceptions.InvalidKMSResourceException):
            harness.call_lenient(fh, "create_delivery_stream", DeliveryStreamName="nokey",
                                 DeliveryStreamType="DirectPut",
                                 DeliveryStreamEncryptionConfigurationInput={"KeyType": "CUSTOMER_MANAGED_CMK",
                                                                             "KeyARN": ARN2},
                                 ExtendedS3DestinationConfiguration=harness.s3_dest("x"))
        self.assertNotIn("nokey", fh.list_delivery_streams()["DeliveryStreamNames"])
        for bad in ({"KeyType": "CUSTOMER_MANAGED_CMK"}, {"KeyType": "AWS_OWNED_CMK", "KeyARN": ARN1}):
            with self.assertRaises(fh.exceptions.InvalidArgumentException):
                fh.start_delivery_stream_encryption(DeliveryStreamName="locked",
                                                    DeliveryStreamEncryptionConfigurationInput=bad)
        self.assertEqual(self.describe_enc(fh, "locked")[1].get("KeyARN"), ARN1)
        sent = {i: b"secret:%s:" % MARK + os.urandom(i % 30) for i in range(1, 301)}
        harness.put_all(fh, "locked", [harness.frame(k, v) for k, v in sent.items()], batch=100)
        self.assertNotIn(MARK, log_bytes(srv, "locked"))
        self.assertEqual(srv.kill9(), -signal.SIGKILL)  # the records stay undelivered in the log

        # Restart without the key: the stream says why, refuses puts and delivers nothing.
        srv.extra_args = ["--kms-keys", self.keys_file({ARN2: self.k2})]
        srv.start()
        fh = srv.client()
        d, enc = self.describe_enc(fh, "locked")
        self.assertEqual(enc["Status"], "ENABLING_FAILED")
        self.assertEqual(enc["FailureDescription"]["Type"], "KMS_KEY_NOT_FOUND")
        self.assertIn(ARN1, enc["FailureDescription"]["Details"])
        with self.assertRaises(fh.exceptions.InvalidKMSResourceException):
            fh.put_record(DeliveryStreamName="locked", Record={"Data": b"x"})

        def reported():
            dd = fh.describe_delivery_stream(DeliveryStreamName="locked")["DeliveryStreamDescription"]
            return dd.get("FailureDescription")
        fd = wait_until(reported, 15, what="FailureDescription of the stuck delivery")
        self.assertIn("sealed with a key", fd["Details"])
        self.assertEqual(srv.stop(signal.SIGTERM), 0)
        self.assertEqual(srv.objects("locked"), [], "objects written without the key")

        # With the key back, every record arrives once and byte-exact.
        srv.extra_args = ["--kms-keys", with_key]
        srv.start()
        fh = srv.client()
        self.assertEqual(self.describe_enc(fh, "locked")[1]["Status"], "ENABLED")
        self.assertEqual(srv.stop(signal.SIGTERM), 0)
        got = delivered(srv, "locked")
        self.assertEqual(sorted(got.values()), [1] * len(sent))
        self.assertEqual(dict(got), {(k, v): 1 for k, v in sent.items()})

    def test_streams_file_declares_encryption_and_refuses_unknown_keys(self):
        keys = self.keys_file({ARN1: self.k1})
        decl = os.path.join(self.keydir, "streams.json")
        entry = {"DeliveryStreamName": "declared", "DeliveryStreamType": "DirectPut",
                 "DeliveryStreamEncryptionConfigurationInput": {"KeyType": "CUSTOMER_MANAGED_CMK", "KeyARN": ARN1},
                 "ExtendedS3DestinationConfiguration": harness.s3_dest("decl")}
        with open(decl, "w") as f:
            json.dump([entry], f)
        srv = self.start_server(extra_args=["--kms-keys", keys, "--streams", decl])
        enc = self.describe_enc(srv.client(), "declared")[1]
        self.assertEqual((enc["Status"], enc["KeyARN"]), ("ENABLED", ARN1))
        self.assertEqual(srv.stop(signal.SIGTERM), 0)
        entry["DeliveryStreamEncryptionConfigurationInput"]["KeyARN"] = ARN2
        with open(decl, "w") as f:
            json.dump([entry], f)
        with self.assertRaises(AssertionError):
            srv.start()
        self.assertIn("encryption key not available", srv.log_tail(20))


if __name__ == "__main__":
    unittest.main()
