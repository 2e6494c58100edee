"""The service core as users see it: --streams declarations, the router's fronts, and puts that
wait for room in the log instead of being refused.

Runs under the base image's pyenv python3 (boto3 1.43); raw HTTP through http.client where a
request must be shaped exactly.
"""

import base64
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import HydrantTestCase, Server, s3_dest, wait_until  # noqa: E402


def declaration(name, prefix="p/", interval=0, **extra):
    d = {"DeliveryStreamName": name, "DeliveryStreamType": "DirectPut",
         "ExtendedS3DestinationConfiguration": dict(s3_dest(interval=interval), Prefix=prefix)}
    d.update(extra)
    return d


class StreamsFileTest(HydrantTestCase):
    def write(self, tmp, entries):
        path = os.path.join(tmp, "streams.json")
        with open(path, "w") as f:
            json.dump(entries, f)
        return path

    def test_declared_streams_are_created_kept_and_updated_idempotently(self):
        tmp = tempfile.mkdtemp(prefix="hydrant-it-")
        self._tmp_dirs.append(tmp)
        path = self.write(tmp, [declaration("decl-a", Tags=[{"Key": "team", "Value": "x"}]),
                                declaration("decl-b")])
        srv = self.start_server(extra_args=["--streams", path])
        c = srv.client()
        names = c.list_delivery_streams()["DeliveryStreamNames"]
        self.assertEqual(sorted(names), ["decl-a", "decl-b"])
        tags = c.list_tags_for_delivery_stream(DeliveryStreamName="decl-a")["Tags"]
        self.assertEqual(tags, [{"Key": "team", "Value": "x"}])
        c.put_record(DeliveryStreamName="decl-a", Record={"Data": b"one"})
        # Same file again: nothing changes (VersionId stays 1).
        srv.restart()
        c = srv.client()
        d = c.describe_delivery_stream(DeliveryStreamName="decl-a")["DeliveryStreamDescription"]
        self.assertEqual(d["VersionId"], "1")
        # A changed destination is applied like UpdateDestination; the other stream is left alone.
        self.write(tmp, [declaration("decl-a", prefix="changed/"), declaration("decl-b")])
        srv.restart()
        c = srv.client()
        d = c.describe_delivery_stream(DeliveryStreamName="decl-a")["DeliveryStreamDescription"]
        self.assertEqual(d["VersionId"], "2")
        ext = d["Destinations"][0]["ExtendedS3DestinationDescription"]
        self.assertEqual(ext["Prefix"], "changed/")
        d = c.describe_delivery_stream(DeliveryStreamName="decl-b")["DeliveryStreamDescription"]
        self.assertEqual(d["VersionId"], "1")
        # The record acknowledged before the update was delivered under the old prefix.
        wait_until(lambda: any(k.startswith("p/") for k in srv.objects("lake")), 10,
                   what="object under p/")

    def test_an_invalid_entry_stops_start_up_with_the_api_message(self):
        tmp = tempfile.mkdtemp(prefix="hydrant-it-")
        self._tmp_dirs.append(tmp)
        bad = declaration("bad name!")
        path = self.write(tmp, [declaration("fine"), bad])
        p = subprocess.run([harness.HYDRANT_BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir",
                            os.path.join(tmp, "d"), "--streams", path],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=harness.scaled(20))
        err = p.stderr.decode("utf-8", "replace")
        self.assertNotEqual(p.returncode, 0, err)
        self.assertIn("ValidationException", err)
        self.assertIn("Value 'bad name!' at 'deliveryStreamName' failed to satisfy constraint: "
                      "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+", err)
        # A NUL inside a name must not cut it short into another stream's name (and invalid
        # UTF-8 is refused as the API refuses it).
        for raw in (b'[{"DeliveryStreamName":"fine\\u0000x","DeliveryStreamType":"DirectPut"}]',
                    b'[{"DeliveryStreamName":"k\xff\xfe","DeliveryStreamType":"DirectPut"}]'):
            with open(path, "wb") as f:
                f.write(raw)
            p = subprocess.run([harness.HYDRANT_BIN, "serve", "--listen", "127.0.0.1:0",
                                "--data-dir", os.path.join(tmp, "d2"), "--streams", path],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=harness.scaled(20))
            self.assertNotEqual(p.returncode, 0, raw)
            self.assertFalse(os.path.exists(os.path.join(tmp, "d2", "streams", "fine")), raw)
        # Not a JSON array at all.
        with open(path, "w") as f:
            f.write('{"DeliveryStreamName":"x"}')
        p = subprocess.run([harness.HYDRANT_BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir",
                            os.path.join(tmp, "d"), "--streams", path],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=harness.scaled(20))
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("not a JSON array", p.stderr.decode("utf-8", "replace"))


class RouterTest(HydrantTestCase):
    @classmethod
    def setUpClass(cls):
        cls.start_class_server()

    def test_hydrant_paths_go_to_the_admin_front(self):
        srv = self.class_server
        status, _, body = srv.http("GET", "/_hydrant/health")
        self.assertEqual((status, body), (200, b"ok\n"))
        status, _, _ = srv.http("GET", "/_hydrant/metrics?x=1")
        self.assertEqual(status, 200)
        status, headers, _ = srv.http("POST", "/_hydrant/health", body=b"{}")
        self.assertEqual(status, 405)
        status, _, _ = srv.http("GET", "/_hydrant/nothing-here")
        self.assertEqual(status, 404)

    def test_firehose_front_takes_its_target_and_the_fallback(self):
        srv = self.class_server
        status, headers, body = srv.raw_call("ListDeliveryStreams", body={})
        self.assertEqual(status, 200, body)
        status, headers, body = srv.raw_call("ListDeliveryStreams", body={},
                                             target="DynamoDB_20120810.ListTables")
        self.assertEqual(status, 400)
        self.assertEqual(body["__type"], "UnknownOperationException")
        # The Kinesis prefix has its own front.
        status, headers, body = srv.raw_call("ListStreams", body={},
                                             target="Kinesis_20131202.ListStreams")
        self.assertEqual((status, body["StreamNames"]), (200, []))
        status, _, body = srv.http("GET", "/somebucket/key")
        self.assertEqual(status, 404)


class DestinationCheckTest(HydrantTestCase):
    @classmethod
    def setUpClass(cls):
        cls.start_class_server()

    def test_prefix_rules_reach_the_client_as_invalid_argument(self):
        # The delivery consumer owns the prefix-expression rules; the front asks the service.
        c = self.class_server.client()
        bad = dict(s3_dest(), Prefix="y=!{timestamp:yyyy}/")
        with self.assertRaises(c.exceptions.InvalidArgumentException):
            c.create_delivery_stream(DeliveryStreamName="chk", DeliveryStreamType="DirectPut",
                                     ExtendedS3DestinationConfiguration=bad)
        good = dict(bad, ErrorOutputPrefix="err/!{firehose:error-output-type}/")
        c.create_delivery_stream(DeliveryStreamName="chk", DeliveryStreamType="DirectPut",
                                 ExtendedS3DestinationConfiguration=good)
        d = c.describe_delivery_stream(DeliveryStreamName="chk")["DeliveryStreamDescription"]
        with self.assertRaises(c.exceptions.InvalidArgumentException):
            c.update_destination(DeliveryStreamName="chk", CurrentDeliveryStreamVersionId="1",
                                 DestinationId=d["Destinations"][0]["DestinationId"],
                                 ExtendedS3DestinationUpdate={"ErrorOutputPrefix": "plain/"})


class BackpressureTest(HydrantTestCase):
    def test_concurrent_large_batches_wait_for_room_instead_of_failing(self):
        # The service-core issue's repro: 40 concurrent 4 MB PutRecordBatch calls on one stream
        # saw a third refused with "Slow down." while the quota was nowhere near.
        srv = self.start_server()
        c = srv.client()
        harness.create_stream(c, "bp", size=128, interval=0)
        record = base64.b64encode(os.urandom(1000000)).decode()
        body = json.dumps({"DeliveryStreamName": "bp",
                           "Records": [{"Data": record}] * 4}).encode()
        results = []
        lock = threading.Lock()

        def one():
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=harness.scaled(60))
            try:
                conn.request("POST", "/", body=body, headers={
                    "X-Amz-Target": "Firehose_20150804.PutRecordBatch",
                    "Content-Type": "application/x-amz-json-1.1"})
                r = conn.getresponse()
                data = r.read()
                out = (r.status, json.loads(data).get("FailedPutCount", data))
            except Exception as e:  # noqa: BLE001 - reported below
                out = ("error", repr(e))
            finally:
                conn.close()
            with lock:
                results.append(out)

        threads = [threading.Thread(target=one) for _ in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(harness.scaled(120))
        self.assertEqual(len(results), 40)
        self.assertEqual(results, [(200, 0)] * 40)
        self.assertEqual(srv.metric("hydrant_throttled_records_total", stream="bp"), 0)
        # Nothing is left waiting for room once every put was answered.
        self.assertEqual(srv.metric("hydrant_log_parked_appends", stream="bp"), 0)
        wait_until(lambda: srv.metric("hydrant_delivery_to_s3_records_total", stream="bp") == 160,
                   30, what="160 records delivered")


if __name__ == "__main__":
    unittest.main()
