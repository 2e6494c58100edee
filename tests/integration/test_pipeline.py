"""Delivery pipeline end to end: compression (checked with the standard tools), file extensions,
hydrant's own ZSTD option, AppendDelimiterToRecord, what the front echoes and refuses, and
exactly-once of compressed objects across kill -9."""

import base64
import collections
import gzip
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import HydrantTestCase, frame, parse_frames, put_all, wait_until  # noqa: E402

DEBIAN_PY = "/usr/bin/python3"  # python3-snappy is Debian's package, for Debian's python


def tool(argv, data):
    """Run a standard decompressor on data; return its stdout (fail on a non-zero exit)."""
    p = subprocess.run(argv, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if p.returncode != 0:
        raise AssertionError("%s failed (%d): %s" % (argv[0], p.returncode, p.stderr[:300]))
    return p.stdout


def unzip(data):
    """unzip -p of the single entry (unzip reads a file, not a pipe)."""
    d = tempfile.mkdtemp(prefix="hydrant-zip-")
    try:
        path = os.path.join(d, "o.zip")
        with open(path, "wb") as f:
            f.write(data)
        listing = tool(["unzip", "-Z1", path], b"").decode().split()
        if len(listing) != 1:
            raise AssertionError("ZIP holds %r, not one entry" % listing)
        tool(["unzip", "-tq", path], b"")
        return tool(["unzip", "-p", path], b"")
    finally:
        shutil.rmtree(d, ignore_errors=True)


# Debian 12's python3-snappy 0.6.1 cannot compute CRC-32C on Python 3.11 (its C helper raises
# "PY_SSIZE_T_CLEAN macro must be defined"), so the framing reader gets a table-driven one; the
# chunk parsing and decompression stay the package's own.
SNAPPY_DECODE = """
import sys, snappy, snappy.snappy as s
T = []
for n in range(256):
    c = n
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    T.append(c)
def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = T[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF
s._crc32c = crc32c
snappy.%s(sys.stdin.buffer, sys.stdout.buffer)
"""

DECODERS = {
    "UNCOMPRESSED": lambda b: b,
    "GZIP": lambda b: tool(["gzip", "-dc"], b),
    "ZIP": unzip,
    "Snappy": lambda b: tool([DEBIAN_PY, "-c", SNAPPY_DECODE % "stream_decompress"], b),
    "HADOOP_SNAPPY": lambda b: tool([DEBIAN_PY, "-c", SNAPPY_DECODE % "hadoop_stream_decompress"], b),
    "ZSTD": lambda b: tool(["zstd", "-dcq"], b),
}
EXTS = {"UNCOMPRESSED": "", "GZIP": ".gz", "ZIP": ".zip", "Snappy": ".snappy",
        "HADOOP_SNAPPY": ".snappy", "ZSTD": ".zst"}


def have_tools():
    missing = [t for t in ("gzip", "unzip", "zstd") if shutil.which(t) is None]
    if subprocess.run([DEBIAN_PY, "-c", "import snappy"], stderr=subprocess.DEVNULL).returncode:
        missing.append("python3-snappy")
    return missing


def records(n, seed):
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        kind = i % 3
        if kind == 0:
            payload = json.dumps({"i": i, "user": "u%d" % rnd.randrange(50), "pad": "x" * rnd.randrange(1200)}).encode()
        elif kind == 1:
            payload = bytes(rnd.randrange(256) for _ in range(rnd.randrange(300)))
        else:
            payload = b""
        out.append(frame(i, payload))
    return out


class PipelineTest(HydrantTestCase):
    def setUp(self):
        if harness.boto3 is None:
            raise unittest.SkipTest("boto3 not installed")
        missing = have_tools()
        if missing:
            self.fail("test tools missing: %s (scripts/deps.sh test installs them)" % missing)

    def decoded(self, srv, bucket, codec):
        keys = srv.objects(bucket)
        blobs = []
        for k in keys:
            self.assertTrue(k.endswith(EXTS[codec]) if EXTS[codec] else "." not in k.rsplit("/", 1)[-1],
                            "key %s lacks the %s extension" % (k, codec))
            blobs.append(DECODERS[codec](srv.read_object(bucket, k)))
        return keys, blobs

    def test_every_codec_round_trips_byte_exact_with_the_standard_tools(self):
        codecs = ["GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY", "ZSTD"]
        decl = [{"DeliveryStreamName": "c-zstd", "HydrantOptions": {"CompressionFormat": "ZSTD"},
                 "ExtendedS3DestinationConfiguration": harness.s3_dest(
                     bucket="b-zstd", size=1, interval=900)}]
        tmp = tempfile.mkdtemp(prefix="hydrant-decl-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "streams.json")
        with open(path, "w") as f:
            json.dump(decl, f)
        srv = self.start_server(extra_args=["--streams", path])
        fh = srv.client()
        for c in codecs[:-1]:
            harness.create_stream(fh, "c-" + c.lower().replace("_", "-"), bucket="b-" + c.lower().replace("_", "-"),
                                  size=1, interval=900, compression=c)
        recs = records(6000, 7)  # about 1.3 MB: at least one size cut per stream
        for c in codecs:
            name = "c-" + c.lower().replace("_", "-")
            harness.wait_active(fh, name)
            put_all(fh, name, recs)
        self.assertEqual(srv.stop(signal.SIGTERM), 0)
        for c in codecs:
            bucket = "b-" + c.lower().replace("_", "-")
            keys, blobs = self.decoded(srv, bucket, c)
            self.assertGreaterEqual(len(keys), 2, "%s: expected a size cut" % c)
            # Each object is cut on a record boundary; in log order they are the input exactly.
            blobs.sort(key=lambda b: parse_frames(b)[0][0])
            self.assertEqual(b"".join(blobs), b"".join(recs), "%s: bytes differ after decompression" % c)

    def test_file_extension_compression_and_processors_are_echoed_by_describe(self):
        srv = self.start_server()
        fh = srv.client()
        dest = harness.s3_dest(bucket="ext", size=1, interval=0, compression="GZIP")
        dest["FileExtension"] = ".json.gz"
        dest["ProcessingConfiguration"] = {"Enabled": True, "Processors": [{"Type": "AppendDelimiterToRecord"}]}
        harness.call_lenient(fh, "create_delivery_stream", DeliveryStreamName="ext",
                             ExtendedS3DestinationConfiguration=dest)
        d = harness.wait_active(fh, "ext")
        ext = d["Destinations"][0]["ExtendedS3DestinationDescription"]
        self.assertEqual(ext["CompressionFormat"], "GZIP")
        self.assertEqual(ext.get("FileExtension"), ".json.gz")
        self.assertEqual(ext["ProcessingConfiguration"],
                         {"Enabled": True, "Processors": [{"Type": "AppendDelimiterToRecord"}]})
        self.assertEqual(d["Destinations"][0]["S3DestinationDescription"]["CompressionFormat"], "GZIP")
        put_all(fh, "ext", [b'{"a":1}', b'{"a":2}', b""])
        keys = wait_until(lambda: srv.objects("ext"), 10, what="object delivered")
        self.assertTrue(all(k.endswith(".json.gz") for k in keys), keys)
        body = b"".join(DECODERS["GZIP"](srv.read_object("ext", k)) for k in keys)
        self.assertEqual(body, b'{"a":1}\n{"a":2}\n\n')

    def test_zstd_is_not_an_aws_enum_and_hydrant_options_stay_hidden(self):
        decl = [{"DeliveryStreamName": "z", "HydrantOptions": {"CompressionFormat": "ZSTD"},
                 "ExtendedS3DestinationConfiguration": harness.s3_dest(bucket="z", size=1, interval=0)}]
        tmp = tempfile.mkdtemp(prefix="hydrant-decl-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "streams.json")
        with open(path, "w") as f:
            json.dump(decl, f)
        srv = self.start_server(extra_args=["--streams", path])
        fh = srv.client()
        d = harness.wait_active(fh, "z")
        ext = d["Destinations"][0]["ExtendedS3DestinationDescription"]
        self.assertEqual(ext["CompressionFormat"], "UNCOMPRESSED")
        self.assertNotIn("Hydrant", json.dumps(d, default=str))
        # The AWS enum refuses ZSTD (server side; the client's own check is bypassed).
        with self.assertRaises(harness.ClientError) as cm:
            harness.lenient(fh).create_delivery_stream(
                DeliveryStreamName="z2", ExtendedS3DestinationConfiguration=harness.s3_dest(compression="ZSTD"))
        self.assertEqual(cm.exception.response["Error"]["Code"], "ValidationException")
        put_all(fh, "z", [b"zz" * 1000])
        keys = wait_until(lambda: srv.objects("z"), 10, what="zstd object")
        self.assertTrue(keys[0].endswith(".zst"), keys)
        self.assertEqual(DECODERS["ZSTD"](srv.read_object("z", keys[0])), b"zz" * 1000)
        # A bad option stops start-up with the reason.
        decl[0]["HydrantOptions"] = {"CompressionFormat": "LZ4"}
        with open(path, "w") as f:
            json.dump(decl, f)
        srv.stop()
        p = subprocess.run([harness.HYDRANT_BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir",
                            os.path.join(tmp, "d2"), "--streams", path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"Unknown CompressionFormat", p.stderr)

    def test_unsupported_processors_are_refused_by_name(self):
        srv = self.start_server()
        fh = srv.client()
        dest = harness.s3_dest(bucket="p")
        dest["ProcessingConfiguration"] = {"Enabled": True, "Processors": [
            {"Type": "Lambda", "Parameters": [{"ParameterName": "LambdaArn",
                                               "ParameterValue": "arn:aws:lambda:us-east-1:123456789012:function:f"}]}]}
        with self.assertRaises(harness.ClientError) as cm:
            fh.create_delivery_stream(DeliveryStreamName="p", ExtendedS3DestinationConfiguration=dest)
        self.assertEqual(cm.exception.response["Error"]["Code"], "InvalidArgumentException")
        self.assertIn("Lambda", cm.exception.response["Error"]["Message"])

    def test_compressed_objects_are_exactly_once_across_kill9(self):
        seed = int(os.environ.get("HYDRANT_IT_SEED") or random.randrange(1 << 30))
        sys.stderr.write("[pipeline] seed %d\n" % seed)
        rnd = random.Random(seed)
        srv = self.start_server()
        fh = srv.client()
        for c in ("GZIP", "ZIP", "Snappy"):
            harness.create_stream(fh, "k-" + c.lower(), bucket="k-" + c.lower(), size=1, interval=900,
                                  compression=c)
            harness.wait_active(fh, "k-" + c.lower())
        recs = records(9000, seed)
        sent = 0
        for round_ in range(3):
            n = rnd.randrange(1000, 3000)
            chunk = recs[sent:sent + n]
            for c in ("GZIP", "ZIP", "Snappy"):
                put_all(fh, "k-" + c.lower(), chunk)
            sent += len(chunk)
            srv.restart(kill=True)
            fh = srv.client()
        self.assertEqual(srv.stop(signal.SIGTERM), 0)
        for c in ("GZIP", "ZIP", "Snappy"):
            keys, blobs = self.decoded(srv, "k-" + c.lower(), c)
            got = collections.Counter()
            for b in blobs:
                got.update(parse_frames(b))
            want = collections.Counter(parse_frames(b"".join(recs[:sent])))
            self.assertEqual(got, want, "%s: records lost or duplicated after kill -9" % c)




    def make(self, fh, name, processors, prefix="out/", error_prefix="err/!{firehose:error-output-type}/"):
        dest = harness.s3_dest(bucket=name, size=1, interval=900, prefix=prefix)
        dest["ErrorOutputPrefix"] = error_prefix
        dest["ProcessingConfiguration"] = {"Enabled": True, "Processors": processors}
        harness.call_lenient(fh, "create_delivery_stream", DeliveryStreamName=name,
                             ExtendedS3DestinationConfiguration=dest)
        harness.wait_active(fh, name)

    def bodies(self, srv, bucket):
        """{first path segment after the prefix: concatenated bytes} over a bucket's objects."""
        out = collections.defaultdict(bytes)
        for k in srv.objects(bucket):
            out[k.split("/")[0] + ("/" + k.split("/")[1] if k.startswith("err/") else "")] += \
                srv.read_object(bucket, k)
        return out

    def test_cloudwatch_logs_subscription_payloads_become_their_log_events(self):
        srv = self.start_server()
        fh = srv.client()
        self.make(fh, "cwl", [
            {"Type": "Decompression", "Parameters": [{"ParameterName": "CompressionFormat", "ParameterValue": "GZIP"}]},
            {"Type": "CloudWatchLogProcessing", "Parameters": [{"ParameterName": "DataMessageExtraction", "ParameterValue": "true"}]},
            {"Type": "AppendDelimiterToRecord"}])
        def payload(kind, msgs):
            doc = {"messageType": kind, "owner": "123456789012", "logGroup": "g", "logStream": "s",
                   "subscriptionFilters": ["f"],
                   "logEvents": [{"id": str(i), "timestamp": 1764475200000 + i, "message": m}
                                 for i, m in enumerate(msgs)]}
            return gzip.compress(json.dumps(doc).encode())
        recs = [payload("CONTROL_MESSAGE", ["CWL CONTROL MESSAGE: Checking health of destination Firehose."]),
                payload("DATA_MESSAGE", ["first line", "second \"quoted\" line"]),
                b"not gzip at all",
                payload("DATA_MESSAGE", ["third line"])]
        put_all(fh, "cwl", recs)
        self.assertEqual(srv.stop(signal.SIGTERM), 0)
        b = self.bodies(srv, "cwl")
        self.assertEqual(b["out"], b'first line\nsecond "quoted" line\nthird line\n')
        errs = [json.loads(l) for l in b["err/decompression-failed"].splitlines()]
        self.assertEqual([base64.b64decode(e["rawData"]) for e in errs], [b"not gzip at all"])
        self.assertEqual(set(b), {"out", "err/decompression-failed"})

    def test_record_deaggregation_json_and_delimited(self):
        srv = self.start_server()
        fh = srv.client()
        self.make(fh, "dj", [{"Type": "RecordDeAggregation", "Parameters": [
            {"ParameterName": "SubRecordType", "ParameterValue": "JSON"}]}, {"Type": "AppendDelimiterToRecord"}])
        self.make(fh, "dd", [{"Type": "RecordDeAggregation", "Parameters": [
            {"ParameterName": "SubRecordType", "ParameterValue": "DELIMITED"},
            {"ParameterName": "Delimiter", "ParameterValue": "IyMjIw=="}]}, {"Type": "AppendDelimiterToRecord"}])
        put_all(fh, "dj", [b'{"a":1}{"a":2}\n {"a":"}{"}\n', b'{"a":', b'[1,2]'])
        put_all(fh, "dd", [b"x####y########z", b"####", b"plain"])
        self.assertEqual(srv.stop(signal.SIGTERM), 0)
        j = self.bodies(srv, "dj")
        self.assertEqual(j["out"], b'{"a":1}\n{"a":2}\n{"a":"}{"}\n[1,2]\n')
        errs = [json.loads(l) for l in j["err/processing-failed"].splitlines()]
        self.assertEqual([base64.b64decode(e["rawData"]) for e in errs], [b'{"a":'])
        self.assertEqual(self.bodies(srv, "dd")["out"], b"x\ny\nz\nplain\n")

    def test_processor_parameters_are_validated(self):
        srv = self.start_server()
        fh = srv.client()
        cases = [
            ([{"Type": "RecordDeAggregation", "Parameters": [{"ParameterName": "SubRecordType", "ParameterValue": "XML"}]}],
             "SubRecordType"),
            ([{"Type": "RecordDeAggregation", "Parameters": [{"ParameterName": "SubRecordType", "ParameterValue": "DELIMITED"}]}],
             "Delimiter"),
            ([{"Type": "CloudWatchLogProcessing", "Parameters": [{"ParameterName": "DataMessageExtraction", "ParameterValue": "true"}]}],
             "Decompression"),
            ([{"Type": "AppendDelimiterToRecord", "Parameters": [{"ParameterName": "Delimiter", "ParameterValue": "Cg=="}]}],
             "parameters"),
            ([{"Type": "MetadataExtraction", "Parameters": [{"ParameterName": "MetadataExtractionQuery", "ParameterValue": "{a:.a}"},
                                                            {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"}]}],
             "Dynamic Partitioning"),
        ]
        for procs, needle in cases:
            dest = harness.s3_dest(bucket="v")
            dest["ProcessingConfiguration"] = {"Enabled": True, "Processors": procs}
            with self.assertRaises(harness.ClientError) as cm:
                harness.lenient(fh).create_delivery_stream(DeliveryStreamName="v", ExtendedS3DestinationConfiguration=dest)
            self.assertEqual(cm.exception.response["Error"]["Code"], "InvalidArgumentException", procs)
            self.assertIn(needle, cm.exception.response["Error"]["Message"], procs)

    def test_custom_time_zone_sets_prefix_and_suffix_times(self):
        srv = self.start_server()
        fh = srv.client()
        dest = harness.s3_dest(bucket="tz", size=1, interval=0, prefix="h=!{timestamp:yyyy-MM-dd'T'HH}/")
        dest["ErrorOutputPrefix"] = "e/!{firehose:error-output-type}/"
        dest["CustomTimeZone"] = "Asia/Tokyo"
        harness.call_lenient(fh, "create_delivery_stream", DeliveryStreamName="tz",
                             ExtendedS3DestinationConfiguration=dest)
        d = harness.wait_active(fh, "tz")
        self.assertEqual(d["Destinations"][0]["ExtendedS3DestinationDescription"].get("CustomTimeZone"), "Asia/Tokyo")
        t0 = time.time()
        put_all(fh, "tz", [b"x"])
        keys = wait_until(lambda: srv.objects("tz"), 10, what="object")
        t1 = time.time()
        jst = {time.strftime("%Y-%m-%dT%H", time.gmtime(t + 9 * 3600)) for t in (t0 - 1, t1 + 1)}
        m = re.match(r"^h=([0-9T-]+)/tz-1-(\d{4}-\d\d-\d\d-\d\d)-", keys[0])
        self.assertIsNotNone(m, keys)
        self.assertIn(m.group(1), jst)
        self.assertEqual(m.group(2), m.group(1).replace("T", "-"), "suffix in the same zone")
        dest["CustomTimeZone"] = "Mars/Olympus"
        with self.assertRaises(harness.ClientError) as cm:
            harness.lenient(fh).create_delivery_stream(DeliveryStreamName="tz2", ExtendedS3DestinationConfiguration=dest)
        self.assertEqual(cm.exception.response["Error"]["Code"], "InvalidArgumentException")
        self.assertIn("CustomTimeZone", cm.exception.response["Error"]["Message"])

    def test_prefix_rules_answer_invalid_argument_with_the_rule(self):
        srv = self.start_server()
        fh = srv.client()
        dp = {"Enabled": True}
        mx = {"Enabled": True, "Processors": [{"Type": "MetadataExtraction", "Parameters": [
            {"ParameterName": "MetadataExtractionQuery", "ParameterValue": "{k: .k}"},
            {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"}]}]}
        cases = [
            ({"Prefix": "!{timestamp:yyyy}/"},
             "ErrorOutputPrefix is required when Prefix contains expressions"),
            ({"Prefix": "!{timestamp:yyyy}/", "ErrorOutputPrefix": "err/"},
             "ErrorOutputPrefix must contain !{firehose:error-output-type} when Prefix contains expressions"),
            ({"Prefix": "k=!{partitionKeyFromQuery:k}/", "ErrorOutputPrefix": "e/!{firehose:error-output-type}/"},
             "Dynamic Partitioning Namespaces can only be part of a prefix expression when Dynamic "
             "Partitioning is enabled"),
            ({"Prefix": "!{firehose:error-output-type}/", "ErrorOutputPrefix": "e/!{firehose:error-output-type}/"},
             "!{firehose:error-output-type} may only be used in ErrorOutputPrefix"),
            ({"Prefix": "a!{b"}, "'!{' may only start an expression of the form !{namespace:value}"),
            ({"Prefix": "!{timestamp:yyyy", "ErrorOutputPrefix": "e/"}, "Prefix expression is missing its closing '}'"),
            ({"Prefix": "!{timestamp:qq}/", "ErrorOutputPrefix": "e/!{firehose:error-output-type}/"},
             "Unsupported timestamp pattern"),
            ({"Prefix": "!{other:x}/", "ErrorOutputPrefix": "e/!{firehose:error-output-type}/"},
             "Unknown prefix expression namespace"),
            ({"Prefix": "k=!{partitionKeyFromQuery:k}/", "DynamicPartitioningConfiguration": dp,
              "ProcessingConfiguration": mx}, "ErrorOutputPrefix is required when Dynamic Partitioning is enabled"),
            ({"Prefix": "k=!{partitionKeyFromQuery:k}/", "ErrorOutputPrefix": "e/!{partitionKeyFromQuery:k}/",
              "DynamicPartitioningConfiguration": dp, "ProcessingConfiguration": mx},
             "Dynamic Partitioning Namespaces cannot be part of ErrorOutputPrefix"),
            ({"Prefix": "k=!{partitionKeyFromLambda:k}/", "ErrorOutputPrefix": "e/!{firehose:error-output-type}/",
              "DynamicPartitioningConfiguration": dp, "ProcessingConfiguration": mx}, "partitionKeyFromLambda"),
            ({"Prefix": "k=!{partitionKeyFromQuery:k}/", "ErrorOutputPrefix": "e/!{firehose:error-output-type}/",
              "DynamicPartitioningConfiguration": dp}, "requires a MetadataExtraction or Lambda processor"),
        ]
        for extra, message in cases:
            dest = harness.s3_dest(bucket="rules")
            dest.update(extra)
            with self.assertRaises(harness.ClientError) as cm:
                harness.lenient(fh).create_delivery_stream(DeliveryStreamName="rules",
                                                           ExtendedS3DestinationConfiguration=dest)
            err = cm.exception.response["Error"]
            self.assertEqual(err["Code"], "InvalidArgumentException", extra)
            self.assertIn(message, err["Message"], extra)
        # Dynamic partitioning is chosen at creation only.
        harness.create_stream(fh, "rules-ok", bucket="rules")
        d = harness.wait_active(fh, "rules-ok")
        with self.assertRaises(harness.ClientError) as cm:
            harness.lenient(fh).update_destination(
                DeliveryStreamName="rules-ok", CurrentDeliveryStreamVersionId=d["VersionId"],
                DestinationId=d["Destinations"][0]["DestinationId"],
                ExtendedS3DestinationUpdate={"DynamicPartitioningConfiguration": dp})
        self.assertEqual(cm.exception.response["Error"]["Code"], "InvalidArgumentException")
        self.assertIn("Dynamic partitioning can only be enabled", cm.exception.response["Error"]["Message"])


def part_decl(name, bucket, cap=3, size=1, interval=900, compression=None):
    dest = harness.s3_dest(bucket=bucket, size=size, interval=interval, compression=compression)
    dest["Prefix"] = "data/customer=!{partitionKeyFromQuery:customer}/dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/"
    dest["ErrorOutputPrefix"] = "errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/"
    dest["DynamicPartitioningConfiguration"] = {"Enabled": True}
    dest["ProcessingConfiguration"] = {"Enabled": True, "Processors": [
        {"Type": "MetadataExtraction", "Parameters": [
            {"ParameterName": "MetadataExtractionQuery", "ParameterValue": "{customer: .customer}"},
            {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"}]},
        {"Type": "AppendDelimiterToRecord"}]}
    return {"DeliveryStreamName": name, "HydrantOptions": {"MaxActivePartitions": cap},
            "ExtendedS3DestinationConfiguration": dest}


def split_partitioned(srv, bucket):
    """{partition prefix dir: [records]} for data objects, and [(errorCode, raw)] for errors."""
    data = collections.defaultdict(list)
    errors = []
    for k in srv.objects(bucket):
        body = srv.read_object(bucket, k)
        if k.startswith("errors/"):
            for line in body.splitlines():
                e = json.loads(line)
                errors.append((k.split("/")[1], e["errorCode"], base64.b64decode(e["rawData"])))
        else:
            parts = k.split("/")
            data["/".join(parts[:4])].extend(body.split(b"\n")[:-1])
    return data, errors


class PartitionTest(HydrantTestCase):
    def setUp(self):
        if harness.boto3 is None:
            raise unittest.SkipTest("boto3 not installed")

    def server_with(self, decls):
        tmp = tempfile.mkdtemp(prefix="hydrant-decl-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "streams.json")
        with open(path, "w") as f:
            json.dump(decls, f)
        return self.start_server(extra_args=["--streams", path])

    def test_mixed_records_land_in_exactly_the_expected_keys(self):
        srv = self.server_with([part_decl("dp", "dp", cap=3)])
        fh = srv.client()
        harness.wait_active(fh, "dp")
        recs = []
        for i in range(40):
            recs.append(json.dumps({"customer": "abc"[i % 3], "i": i}).encode())
        recs += [b'{"other": 1}', b"not json", b'{"customer": 7}', b'{"customer": "d", "i": 99}',
                 b'{"customer": "a"} {"customer": "b"}']
        put_all(fh, "dp", recs)
        t = time.time()
        self.assertEqual(srv.stop(signal.SIGTERM), 0)
        day, hour = time.strftime("%Y-%m-%d", time.gmtime(t)), time.strftime("%H", time.gmtime(t))
        keys = srv.objects("dp")
        key_re = re.compile(r"^data/customer=[abc]/dt=%s/hour=%s/dp-1-\d{4}(-\d\d){5}-[0-9a-f-]{36}$" % (day, hour))
        err_re = re.compile(r"^errors/partitioning-failed/dt=%s/dp-1-\d{4}(-\d\d){5}-[0-9a-f-]{36}$" % day)
        self.assertEqual(len(keys), 4, keys)
        self.assertEqual(sum(1 for k in keys if key_re.match(k)), 3, keys)
        self.assertEqual(sum(1 for k in keys if err_re.match(k)), 1, keys)
        data, errors = split_partitioned(srv, "dp")
        for c in "abc":
            want = [r for r in recs[:40] if json.loads(r)["customer"] == c]
            got = data["data/customer=%s/dt=%s/hour=%s" % (c, day, hour)]
            self.assertEqual(got, want, "partition %s" % c)
        self.assertEqual(sorted(r for _t, _c, r in errors), sorted(recs[40:]))
        codes = {r: c for _t, c, r in errors}
        self.assertEqual(codes[b'{"customer": "d", "i": 99}'],
                         "DynamicPartitioning.ActivePartitionsLimitExceeded")
        self.assertEqual(codes[b"not json"], "DynamicPartitioning.MetadataExtractionFailed")

    def test_partitioned_delivery_is_exactly_once_across_kill9(self):
        seed = int(os.environ.get("HYDRANT_IT_SEED") or random.randrange(1 << 30))
        sys.stderr.write("[partition] seed %d\n" % seed)
        rnd = random.Random(seed)
        srv = self.server_with([part_decl("dpk", "dpk", cap=3, size=1, compression="GZIP")])
        fh = srv.client()
        harness.wait_active(fh, "dpk")
        recs = []
        for i in range(12000):
            c = rnd.choice("abcd")
            if rnd.random() < 0.02:
                recs.append(b"bad %d" % i)
            else:
                recs.append(json.dumps({"customer": c, "i": i, "pad": "p" * rnd.randrange(300)}).encode())
        sent = 0
        for _ in range(3):
            n = rnd.randrange(2000, 4000)
            put_all(fh, "dpk", recs[sent:sent + n])
            sent += n
            srv.restart(kill=True)
            fh = srv.client()
        self.assertEqual(srv.stop(signal.SIGTERM), 0)
        got = collections.Counter()
        for k in srv.objects("dpk"):
            body = srv.read_object("dpk", k)
            if k.startswith("errors/"):
                got.update(base64.b64decode(json.loads(l)["rawData"]) for l in body.splitlines())
            else:
                self.assertTrue(k.endswith(".gz"), k)
                got.update(DECODERS["GZIP"](body).split(b"\n")[:-1])
        self.assertEqual(got, collections.Counter(recs[:sent]), "records lost or duplicated")


if __name__ == "__main__":
    unittest.main()
