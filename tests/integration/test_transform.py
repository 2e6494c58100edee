"""The Lambda processor against local functions (--functions): the example functions as warm
command workers (Python and Node.js) and behind the Lambda invoke URL convention, the error
output for failed records, retries of failed invocations, the 6 MB payload split, and
exactly-once across kill -9 while the function runs. Streams are defined with boto3."""

import base64
import collections
import gzip
import json
import os
import signal
import subprocess
import sys
import tempfile
import unittest

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(harness.REPO_ROOT, "examples", "functions")
FAULTY = os.path.join(HERE, "fixtures", "faulty_fn.py")
PY = "/usr/bin/python3"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:%s"


def lambda_processor(arn, retries=None, size_mb=None):
    params = [{"ParameterName": "LambdaArn", "ParameterValue": arn}]
    if retries is not None:
        params.append({"ParameterName": "NumberOfRetries", "ParameterValue": str(retries)})
    if size_mb is not None:
        params.append({"ParameterName": "BufferSizeInMBs", "ParameterValue": str(size_mb)})
    return {"Type": "Lambda", "Parameters": params}


def rec(n, action=None, customer=None, pad=0):
    o = {"n": n}
    if action:
        o["action"] = action
    if customer:
        o["customer"] = customer
    if pad:
        o["pad"] = "x" * pad
    return json.dumps(o, sort_keys=True).encode()


class TransformTest(harness.HydrantTestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="hydrant-fn-")
        self.addCleanup(lambda: __import__("shutil").rmtree(self.tmp, ignore_errors=True))

    def fault_dir(self, name):
        d = os.path.join(self.tmp, name)
        os.makedirs(d, exist_ok=True)
        return d

    def faulty(self, name, fault, timeout_ms=None, **env):
        d = self.fault_dir(name)
        envs = ["FAULT=" + fault, "FAULT_DIR=" + d] + ["%s=%s" % kv for kv in env.items()]
        f = {"command": ["env"] + envs + [PY, FAULTY]}
        if timeout_ms:
            f["timeout_ms"] = timeout_ms
        return f

    def serve(self, functions):
        path = os.path.join(self.tmp, "functions.json")
        with open(path, "w") as f:
            json.dump(functions, f)
        return self.start_server(extra_args=["--functions", path])

    def make(self, fh, name, processors, prefix="out/", size=1, interval=0, dynamic=False):
        dest = harness.s3_dest(bucket=name, size=size, interval=interval, prefix=prefix)
        dest["ErrorOutputPrefix"] = "err/!{firehose:error-output-type}/"
        dest["ProcessingConfiguration"] = {"Enabled": True, "Processors": processors}
        if dynamic:
            dest["DynamicPartitioningConfiguration"] = {"Enabled": True}
        harness.call_lenient(fh, "create_delivery_stream", DeliveryStreamName=name,
                             ExtendedS3DestinationConfiguration=dest)
        harness.wait_active(fh, name)

    def collect(self, srv, bucket):
        """(Counter of data lines by key prefix dir, list of error records with their type)."""
        data, errors = collections.Counter(), []
        for k in srv.objects(bucket):
            body = srv.read_object(bucket, k)
            if k.startswith("err/"):
                for line in body.splitlines():
                    e = json.loads(line)
                    e["_type"] = k.split("/")[1]
                    errors.append(e)
            else:
                for line in body.splitlines(True):
                    data[(k.split("/")[0] if "=" in k else "", line)] += 1
        return data, errors

    def settle(self, srv, bucket, lines):
        """Wait until the bucket holds this many lines (data and error records), so a stop finds
        nothing left to transform (a failing function is not retried once a stop is asked)."""
        def count():
            n = 0
            for k in srv.objects(bucket):
                n += srv.read_object(bucket, k).count(b"\n")
            return n >= lines
        harness.wait_until(count, harness.scaled(30), what="%d lines in %s" % (lines, bucket))

    def invocations(self, name):
        p = os.path.join(self.tmp, name, "invocations")
        if not os.path.exists(p):
            return []
        with open(p) as f:
            return [int(x) for x in f.read().split()]

    # ------------------------------------------------------------------------------------------

    def check_dropper(self, srv, bucket, recs, arn):
        data, errors = self.collect(srv, bucket)
        want_ok = collections.Counter(("", r + b"\n") for r in recs if b'"action"' not in r)
        self.assertEqual(data, want_ok, "Ok records exactly once, Dropped and failed ones absent")
        failed = sorted(base64.b64decode(e["rawData"]) for e in errors)
        self.assertEqual(failed, sorted(r for r in recs if b'"fail"' in r))
        for e in errors:
            self.assertEqual(e["_type"], "processing-failed")
            self.assertEqual(e["errorCode"], "Lambda.ProcessingFailed")
            self.assertEqual(e["lambdaArn"], arn)
            self.assertEqual(e["attemptsMade"], 1)
            self.assertIsInstance(e["arrivalTimestamp"], int)
            self.assertGreaterEqual(e["attemptEndingTimestamp"], e["arrivalTimestamp"])

    def test_python_worker_drops_and_fails_records_into_the_error_output(self):
        arn = ARN % "dropper"
        srv = self.serve({arn: {"command": [PY, os.path.join(EXAMPLES, "worker.py"),
                                            os.path.join(EXAMPLES, "dropper.py")]}})
        fh = srv.client()
        self.make(fh, "drop", [lambda_processor(arn)])
        recs = [rec(i, action=(None, None, "drop", "fail")[i % 4]) for i in range(400)]
        harness.put_all(fh, "drop", recs)
        self.settle(srv, "drop", 300)
        harness.wait_until(lambda: srv.metric("hydrant_succeed_processing_records_total",
                                              stream="drop") == 300, 10, what="the metric")
        self.assertGreaterEqual(srv.metric("hydrant_execute_processing_total", stream="drop"), 1)
        self.assertEqual(srv.stop(signal.SIGTERM), 0)
        self.check_dropper(srv, "drop", recs, arn)

    def test_node_worker_and_python_url_function_enrich_every_record(self):
        port_proc = subprocess.Popen([PY, os.path.join(EXAMPLES, "invoke_server.py"),
                                      os.path.join(EXAMPLES, "enricher.py")],
                                     cwd=EXAMPLES, stdout=subprocess.PIPE)
        self.addCleanup(port_proc.wait)
        self.addCleanup(port_proc.kill)
        port = int(port_proc.stdout.readline())
        url = "http://127.0.0.1:%d/2015-03-31/functions/function/invocations" % port
        srv = self.serve({
            "enrich-node": {"command": ["node", os.path.join(EXAMPLES, "worker.js"),
                                        os.path.join(EXAMPLES, "enricher.js")]},
            "enrich-url": {"url": url, "timeout_ms": 10000}})
        fh = srv.client()
        self.make(fh, "node", [lambda_processor(ARN % "enrich-node")])
        self.make(fh, "url", [lambda_processor(ARN % "enrich-url" + ":$LATEST")])
        recs = [rec(i) for i in range(300)] + [b"not json"]
        harness.put_all(fh, "node", recs)
        harness.put_all(fh, "url", recs)
        self.settle(srv, "node", len(recs))
        self.settle(srv, "url", len(recs))
        self.assertEqual(srv.stop(signal.SIGTERM), 0)
        for name in ("node", "url"):
            data, errors = self.collect(srv, name)
            got = sorted(json.loads(line)["n"] for (_, line), c in data.items() for _ in range(c))
            self.assertEqual(got, list(range(300)), name)
            for (_, line) in data:
                o = json.loads(line)
                self.assertTrue(o["enriched"])
                self.assertEqual(o["stream"], name)
            self.assertEqual([base64.b64decode(e["rawData"]) for e in errors], [b"not json"], name)

    def test_partition_keys_from_lambda_name_the_objects(self):
        arn = ARN % "dropper"
        srv = self.serve({arn: {"command": [PY, os.path.join(EXAMPLES, "worker.py"),
                                            os.path.join(EXAMPLES, "dropper.py")]}})
        fh = srv.client()
        self.make(fh, "dp", [lambda_processor(arn)], prefix="customer=!{partitionKeyFromLambda:customer}/",
                  dynamic=True)
        recs = [rec(i, customer="c%d" % (i % 3)) for i in range(90)] + [rec(1000)]
        harness.put_all(fh, "dp", recs)
        self.settle(srv, "dp", len(recs))
        self.assertEqual(srv.stop(signal.SIGTERM), 0)
        data, errors = self.collect(srv, "dp")
        want = collections.Counter(("customer=c%d" % (i % 3), recs[i] + b"\n") for i in range(90))
        self.assertEqual(data, want)
        self.assertEqual([(e["_type"], base64.b64decode(e["rawData"])) for e in errors],
                         [("partitioning-failed", rec(1000) + b"\n")])

    def test_failed_invocations_are_retried_then_delivered_once(self):
        srv = self.serve({"crash": self.faulty("crash", "crash_once"),
                          "hang": self.faulty("hang", "hang_once", timeout_ms=1000),
                          "garbage": self.faulty("garbage", "garbage_once")})
        fh = srv.client()
        for name in ("crash", "hang", "garbage"):
            self.make(fh, name, [lambda_processor(ARN % name, retries=2)])
        recs = [rec(i) for i in range(200)]
        for name in ("crash", "hang", "garbage"):
            harness.put_all(fh, name, recs)
        for name in ("crash", "hang", "garbage"):
            self.settle(srv, name, len(recs))
        self.assertEqual(srv.stop(signal.SIGTERM), 0)
        for name in ("crash", "hang", "garbage"):
            data, errors = self.collect(srv, name)
            self.assertEqual(data, collections.Counter(("", r + b"\n") for r in recs), name)
            self.assertEqual(errors, [], name)
            self.assertGreaterEqual(len(self.invocations(name)), 2, name)

    def test_bad_answers_send_records_to_processing_failed(self):
        srv = self.serve({"garbage": self.faulty("garbage", "garbage"),
                          "unknown": self.faulty("unknown", "unknown"),
                          "ids": self.faulty("ids", "none")})
        fh = srv.client()
        self.make(fh, "garbage", [lambda_processor(ARN % "garbage", retries=1)])
        self.make(fh, "unknown", [lambda_processor(ARN % "unknown", retries=0)])
        self.make(fh, "ids", [lambda_processor(ARN % "ids")])
        recs = [rec(i) for i in range(50)]
        harness.put_all(fh, "garbage", recs)
        harness.put_all(fh, "unknown", recs)
        mixed = [rec(i, action=(None, "omit", "dup")[i % 3]) for i in range(60)]
        harness.put_all(fh, "ids", mixed)
        self.settle(srv, "garbage", 50)
        self.settle(srv, "unknown", 50)
        self.settle(srv, "ids", 60)
        self.assertEqual(srv.stop(signal.SIGTERM), 0)
        for name, code, attempts in (("garbage", "Lambda.JsonProcessingException", 2),
                                     ("unknown", "Lambda.InvalidRecordId", 1)):
            data, errors = self.collect(srv, name)
            self.assertEqual(data, collections.Counter(), name)
            self.assertEqual(sorted(base64.b64decode(e["rawData"]) for e in errors), sorted(recs))
            self.assertEqual({(e["errorCode"], e["attemptsMade"], e["_type"]) for e in errors},
                             {(code, attempts, "processing-failed")}, name)
            self.assertEqual(len(self.invocations(name)), attempts, name)
        data, errors = self.collect(srv, "ids")
        self.assertEqual(data, collections.Counter(("", r + b"\n") for r in mixed[0::3]))
        by_code = collections.defaultdict(list)
        for e in errors:
            by_code[e["errorCode"]].append(base64.b64decode(e["rawData"]))
        self.assertEqual(sorted(by_code["Lambda.MissingRecordId"]), sorted(mixed[1::3]))
        self.assertEqual(sorted(by_code["Lambda.DuplicatedRecordId"]), sorted(mixed[2::3]))
        self.assertEqual(len(errors), 40)

    def test_invocations_stay_within_the_6mb_payload(self):
        srv = self.serve({"big": self.faulty("big", "none")})
        fh = srv.client()
        self.make(fh, "big", [{"Type": "Decompression", "Parameters": [
            {"ParameterName": "CompressionFormat", "ParameterValue": "GZIP"}]},
            lambda_processor(ARN % "big", size_mb=3)], size=64)
        # 2.5 MB records (6.7 MB of base64 for two): the round is split; a 5 MB record alone
        # exceeds the payload and fails.
        recs = [rec(i, pad=2500 * 1024) for i in range(3)]
        huge = rec(99, pad=5 * 1024 * 1024)
        harness.put_all(fh, "big", [gzip.compress(r) for r in recs] + [gzip.compress(huge)])
        self.settle(srv, "big", 4)
        self.assertEqual(srv.stop(signal.SIGTERM), 0)
        data, errors = self.collect(srv, "big")
        self.assertEqual(data, collections.Counter(("", r + b"\n") for r in recs))
        self.assertEqual([(e["errorCode"], base64.b64decode(e["rawData"])) for e in errors],
                         [("Lambda.PayloadTooLarge", huge)])
        sizes = self.invocations("big")
        self.assertGreaterEqual(len(sizes), 2)
        self.assertLessEqual(max(sizes), 6 * 1024 * 1024)

    def test_kill9_while_the_function_runs_delivers_each_record_once(self):
        srv = self.serve({"slow": self.faulty("slow", "slow", SLOW_S="0.3")})
        fh = srv.client()
        self.make(fh, "slow", [lambda_processor(ARN % "slow", size_mb=0.2)], size=1, interval=0)
        recs = [rec(i, pad=1000) for i in range(2400)]  # about 2.4 MB: 12 invocations
        harness.put_all(fh, "slow", recs)
        for round_ in range(2):
            seen = len(self.invocations("slow"))
            harness.wait_until(lambda: len(self.invocations("slow")) >= seen + 2, 30,
                               what="the function invoked")
            srv.restart(kill=True)
        self.settle(srv, "slow", len(recs))
        self.assertEqual(srv.stop(signal.SIGTERM), 0)
        data, errors = self.collect(srv, "slow")
        self.assertEqual(errors, [])
        self.assertEqual(data, collections.Counter(("", r + b"\n") for r in recs),
                         "records lost or duplicated after kill -9 during transformation")

    def test_source_record_backup_keeps_the_untransformed_records(self):
        srv = self.serve({"slow": self.faulty("slow", "slow", SLOW_S="0.1")})
        fh = srv.client()
        dest = harness.s3_dest(bucket="tx", size=1, interval=0, prefix="out/")
        dest["ErrorOutputPrefix"] = "err/!{firehose:error-output-type}/"
        dest["ProcessingConfiguration"] = {"Enabled": True, "Processors": [
            lambda_processor(ARN % "slow", size_mb=0.2)]}
        dest["S3BackupMode"] = "Enabled"
        with self.assertRaises(harness.ClientError) as cm:
            harness.call_lenient(fh, "create_delivery_stream", DeliveryStreamName="tx",
                                 ExtendedS3DestinationConfiguration=dest)
        self.assertIn("S3BackupConfiguration", cm.exception.response["Error"]["Message"])
        dest["S3BackupConfiguration"] = {"RoleARN": harness.ROLE_ARN, "BucketARN": "arn:aws:s3:::src",
                                         "Prefix": "raw/"}
        harness.call_lenient(fh, "create_delivery_stream", DeliveryStreamName="tx",
                             ExtendedS3DestinationConfiguration=dest)
        d = fh.describe_delivery_stream(DeliveryStreamName="tx")["DeliveryStreamDescription"]
        ext = d["Destinations"][0]["ExtendedS3DestinationDescription"]
        self.assertEqual(ext["S3BackupMode"], "Enabled")
        self.assertEqual(ext["S3BackupDescription"]["BucketARN"], "arn:aws:s3:::src")
        self.assertEqual(ext["S3BackupDescription"]["Prefix"], "raw/")
        with self.assertRaises(harness.ClientError) as cm:
            harness.call_lenient(fh, "update_destination", DeliveryStreamName="tx",
                                 CurrentDeliveryStreamVersionId=d["VersionId"],
                                 DestinationId=d["Destinations"][0]["DestinationId"],
                                 ExtendedS3DestinationUpdate={"S3BackupMode": "Disabled"})
        self.assertIn("cannot be disabled", cm.exception.response["Error"]["Message"])
        recs = [rec(i, action="fail" if i % 10 == 0 else None, pad=1000) for i in range(1200)]
        harness.put_all(fh, "tx", recs)
        seen = len(self.invocations("slow"))
        harness.wait_until(lambda: len(self.invocations("slow")) >= seen + 2, 30,
                           what="the function invoked")
        srv.restart(kill=True)
        self.settle(srv, "tx", len(recs))
        self.assertEqual(srv.stop(signal.SIGTERM), 0)
        data, errors = self.collect(srv, "tx")
        self.assertEqual(data, collections.Counter(("", r + b"\n") for r in recs if b'"fail"' not in r))
        self.assertEqual(sorted(base64.b64decode(e["rawData"]) for e in errors), sorted(recs[0::10]))
        keys = srv.objects("src")
        self.assertTrue(keys and all(k.startswith("raw/") for k in keys), keys)
        dec, got = json.JSONDecoder(), collections.Counter()
        for k in keys:
            body = srv.read_object("src", k).decode()
            at = 0
            while at < len(body):
                obj, at = dec.raw_decode(body, at)
                got[json.dumps(obj, sort_keys=True).encode()] += 1
        self.assertEqual(got, collections.Counter(recs), "each source record backed up once")

    def test_lambda_processor_parameters_are_checked(self):
        srv = self.serve({"f": {"url": "http://127.0.0.1:9/2015-03-31/functions/function/invocations"}})
        fh = srv.client()
        cases = [
            ([{"Type": "Lambda"}], "LambdaArn"),
            ([lambda_processor(ARN % "unmapped")], "--functions"),
            ([lambda_processor(ARN % "f", retries=301)], "NumberOfRetries"),
            ([lambda_processor(ARN % "f", size_mb=4)], "BufferSizeInMBs"),
        ]
        for procs, message in cases:
            with self.assertRaises(harness.ClientError) as cm:
                self.make(fh, "bad", procs)
            self.assertEqual(cm.exception.response["Error"]["Code"], "InvalidArgumentException")
            self.assertIn(message, cm.exception.response["Error"]["Message"])
        self.make(fh, "ok", [lambda_processor("f", retries=0)])


if __name__ == "__main__":
    unittest.main()
