"""Firehose API surface: every operation, every error case, with boto3 and raw HTTP."""

import datetime
import itertools
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import ClientError, HydrantTestCase, b64, s3_dest, wait_until  # noqa: E402

_counter = itertools.count(1)

ARN_RE = r"^arn:aws:firehose:us-east-1:[0-9]{12}:deliverystream/%s$"
BAD_NAME_PREFIX = "1 validation error detected: Value '%s' at 'deliveryStreamName' failed to satisfy constraint: Member must "


def uname(tag):
    return ("api-%d-%s" % (next(_counter), tag))[:64]


class ApiTest(HydrantTestCase):
    @classmethod
    def setUpClass(cls):
        if harness.boto3 is None:
            raise unittest.SkipTest("boto3 not installed for %s" % sys.executable)
        cls.start_class_server()
        cls.fh = cls.class_server.client()
        cls.fh_novalidate = cls.class_server.client(validate=False)

    def setUp(self):
        self.srv = self.class_server

    def make(self, tag, **kw):
        name = uname(tag)
        r = harness.create_stream(self.fh, name, **kw)
        self.assertRegex(r["DeliveryStreamARN"], ARN_RE % re.escape(name))
        harness.wait_active(self.fh, name)
        return name

    # --- create / describe ----------------------------------------------------------------

    def test_create_extended_s3_and_describe_shape(self):
        name = uname("ext")
        t0 = datetime.datetime.now(datetime.timezone.utc)
        r = harness.call_lenient(self.fh, "create_delivery_stream", 
            DeliveryStreamName=name, DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration=s3_dest(size=2, interval=60, prefix="p/",
                                                       compression="UNCOMPRESSED"))
        arn = r["DeliveryStreamARN"]
        self.assertRegex(arn, ARN_RE % re.escape(name))
        d = harness.wait_active(self.fh, name)
        self.assertEqual(d["DeliveryStreamName"], name)
        self.assertEqual(d["DeliveryStreamARN"], arn)
        self.assertEqual(d["DeliveryStreamStatus"], "ACTIVE")
        self.assertEqual(d["DeliveryStreamType"], "DirectPut")
        self.assertEqual(d["VersionId"], "1")
        self.assertIs(d["HasMoreDestinations"], False)
        ct = d["CreateTimestamp"]
        self.assertLess(abs((ct - t0).total_seconds()), 120, "CreateTimestamp %s vs now %s" % (ct, t0))
        self.assertEqual(len(d["Destinations"]), 1)
        dest = d["Destinations"][0]
        self.assertRegex(dest["DestinationId"], r"^[a-zA-Z0-9-]{1,100}$")
        e = dest["ExtendedS3DestinationDescription"]
        self.assertEqual(e["BucketARN"], "arn:aws:s3:::lake")
        self.assertEqual(e["RoleARN"], harness.ROLE_ARN)
        self.assertEqual(e["BufferingHints"], {"SizeInMBs": 2, "IntervalInSeconds": 60})
        self.assertEqual(e["CompressionFormat"], "UNCOMPRESSED")
        self.assertEqual(e.get("Prefix"), "p/")

    def test_create_defaults_buffering_and_compression(self):
        name = uname("defaults")
        harness.call_lenient(self.fh, "create_delivery_stream", 
            DeliveryStreamName=name,
            ExtendedS3DestinationConfiguration=s3_dest(hints=False))
        d = harness.wait_active(self.fh, name)
        self.assertEqual(d["DeliveryStreamType"], "DirectPut")
        e = d["Destinations"][0]["ExtendedS3DestinationDescription"]
        self.assertEqual(e["BufferingHints"], {"SizeInMBs": 5, "IntervalInSeconds": 300})
        self.assertEqual(e["CompressionFormat"], "UNCOMPRESSED")

    def test_create_s3_form(self):
        name = uname("s3form")
        self.fh_novalidate.create_delivery_stream(  # botocore 1.29's model says interval >= 60
            DeliveryStreamName=name,
            S3DestinationConfiguration={"RoleARN": harness.ROLE_ARN, "BucketARN": "arn:aws:s3:::lake2",
                                        "BufferingHints": {"SizeInMBs": 3, "IntervalInSeconds": 0}})
        d = harness.wait_active(self.fh, name)
        dest = d["Destinations"][0]
        desc = dest.get("S3DestinationDescription") or dest.get("ExtendedS3DestinationDescription")
        self.assertIsNotNone(desc, "no S3 description in %r" % dest)
        self.assertEqual(desc["BucketARN"], "arn:aws:s3:::lake2")
        self.assertEqual(desc["BufferingHints"], {"SizeInMBs": 3, "IntervalInSeconds": 0})
        r = self.fh.put_record(DeliveryStreamName=name, Record={"Data": b"s3-form-record\n"})
        self.assertTrue(r["RecordId"])
        keys = wait_until(lambda: self.srv.objects("lake2"), 10, what="object in bucket lake2")
        self.assertRegex(keys[0], harness.key_regex(name, 1))
        self.assertEqual(self.srv.read_object("lake2", keys[0]), b"s3-form-record\n")

    def test_create_existing_is_resource_in_use(self):
        name = self.make("dup")
        with self.assertRaises(self.fh.exceptions.ResourceInUseException):
            harness.create_stream(self.fh, name)
        st, h, body = self.srv.raw_call("CreateDeliveryStream", {
            "DeliveryStreamName": name, "ExtendedS3DestinationConfiguration": s3_dest()})
        self.assertRawError((st, h, body), "ResourceInUseException")
        self.assertIn(name, harness.error_message(body))

    def test_create_unsupported_processor_is_invalid_argument(self):
        name = uname("lambda")
        dest = s3_dest()
        dest["ProcessingConfiguration"] = {"Enabled": True, "Processors": [{"Type": "Lambda"}]}
        with self.assertRaises(self.fh.exceptions.InvalidArgumentException):
            harness.call_lenient(self.fh, "create_delivery_stream", DeliveryStreamName=name,
                                 ExtendedS3DestinationConfiguration=dest)
        self.assertClientError(self.fh.describe_delivery_stream, "ResourceNotFoundException",
                               DeliveryStreamName=name)

    def test_create_unsupported_destination_is_invalid_argument(self):
        name = uname("es")
        with self.assertRaises(self.fh.exceptions.InvalidArgumentException):
            harness.call_lenient(self.fh, "create_delivery_stream", 
                DeliveryStreamName=name,
                ElasticsearchDestinationConfiguration={
                    "RoleARN": harness.ROLE_ARN, "DomainARN": "arn:aws:es:us-east-1:123456789012:domain/d",
                    "IndexName": "i", "S3Configuration": {"RoleARN": harness.ROLE_ARN,
                                                          "BucketARN": "arn:aws:s3:::lake"}})
        resp = self.srv.raw_call("CreateDeliveryStream", {
            "DeliveryStreamName": name,
            "SplunkDestinationConfiguration": {
                "HECEndpoint": "https://splunk.example:8088", "HECEndpointType": "Raw",
                "HECToken": "t", "S3Configuration": {"RoleARN": harness.ROLE_ARN,
                                                     "BucketARN": "arn:aws:s3:::lake"}}})
        self.assertRawError(resp, "InvalidArgumentException")
        resp = self.srv.raw_call("CreateDeliveryStream", {"DeliveryStreamName": name})
        self.assertRawError(resp, ("InvalidArgumentException", "ValidationException"))
        self.assertClientError(self.fh.describe_delivery_stream, "ResourceNotFoundException",
                               DeliveryStreamName=name)

    def test_create_unsupported_source_is_invalid_argument(self):
        name = uname("kin")
        with self.assertRaises(self.fh.exceptions.InvalidArgumentException):
            harness.call_lenient(self.fh, "create_delivery_stream", 
                DeliveryStreamName=name, DeliveryStreamType="KinesisStreamAsSource",
                KinesisStreamSourceConfiguration={
                    "KinesisStreamARN": "arn:aws:kinesis:us-east-1:123456789012:stream/s",
                    "RoleARN": harness.ROLE_ARN},
                ExtendedS3DestinationConfiguration=s3_dest())
        self.assertClientError(self.fh.describe_delivery_stream, "ResourceNotFoundException",
                               DeliveryStreamName=name)

    def test_create_buffering_hints_out_of_range_rejected(self):
        for hints in ({"SizeInMBs": 0, "IntervalInSeconds": 60},
                      {"SizeInMBs": 129, "IntervalInSeconds": 60},
                      {"SizeInMBs": 5, "IntervalInSeconds": 901}):
            d = s3_dest()
            d["BufferingHints"] = hints
            resp = self.srv.raw_call("CreateDeliveryStream", {"DeliveryStreamName": uname("hints"),
                                                              "ExtendedS3DestinationConfiguration": d})
            self.assertRawError(resp, ("ValidationException", "InvalidArgumentException"))

    def test_describe_unknown_is_resource_not_found(self):
        with self.assertRaises(self.fh.exceptions.ResourceNotFoundException):
            self.fh.describe_delivery_stream(DeliveryStreamName="no-such-stream")
        resp = self.srv.raw_call("DescribeDeliveryStream", {"DeliveryStreamName": "no-such-stream"})
        body = self.assertRawError(resp, "ResourceNotFoundException")
        self.assertIn("no-such-stream", harness.error_message(body))

    # --- list -----------------------------------------------------------------------------

    def test_list_paging_and_type_filter(self):
        srv = self.start_server()  # own server: the listing must hold only these streams
        fh = srv.client()
        names = ["list-%s" % c for c in "edcba"]
        for n in names:
            harness.create_stream(fh, n)
        for n in names:
            harness.wait_active(fh, n)
        r = fh.list_delivery_streams()
        self.assertEqual(r["DeliveryStreamNames"], sorted(names))
        self.assertIs(r["HasMoreDeliveryStreams"], False)
        r = fh.list_delivery_streams(Limit=2)
        self.assertEqual(r["DeliveryStreamNames"], ["list-a", "list-b"])
        self.assertIs(r["HasMoreDeliveryStreams"], True)
        r = fh.list_delivery_streams(Limit=2, ExclusiveStartDeliveryStreamName="list-b")
        self.assertEqual(r["DeliveryStreamNames"], ["list-c", "list-d"])
        self.assertIs(r["HasMoreDeliveryStreams"], True)
        r = fh.list_delivery_streams(Limit=2, ExclusiveStartDeliveryStreamName="list-d")
        self.assertEqual(r["DeliveryStreamNames"], ["list-e"])
        self.assertIs(r["HasMoreDeliveryStreams"], False)
        r = fh.list_delivery_streams(Limit=5)
        self.assertEqual(r["DeliveryStreamNames"], sorted(names))
        self.assertIs(r["HasMoreDeliveryStreams"], False)
        r = fh.list_delivery_streams(DeliveryStreamType="DirectPut")
        self.assertEqual(r["DeliveryStreamNames"], sorted(names))
        r = fh.list_delivery_streams(DeliveryStreamType="KinesisStreamAsSource")
        self.assertEqual(r["DeliveryStreamNames"], [])
        self.assertIs(r["HasMoreDeliveryStreams"], False)
        # raw: same answer shape
        st, h, body = srv.raw_call("ListDeliveryStreams", {"Limit": 1})
        self.assertEqual(st, 200)
        self.assertEqual(body, {"DeliveryStreamNames": ["list-a"], "HasMoreDeliveryStreams": True})
        self.assertTrue(h.get("x-amzn-requestid"))
        self.assertTrue(h.get("content-type", "").startswith("application/x-amz-json-1.1"))

    def test_list_limit_out_of_range_rejected(self):
        resp = self.srv.raw_call("ListDeliveryStreams", {"Limit": 0})
        self.assertRawError(resp, ("ValidationException", "InvalidArgumentException"))

    # --- delete ---------------------------------------------------------------------------

    def test_delete_then_not_found_and_recreate(self):
        name = self.make("del")
        self.assertIn(name, self.fh.list_delivery_streams(Limit=10000)["DeliveryStreamNames"])
        self.fh.delete_delivery_stream(DeliveryStreamName=name)

        def gone():
            try:
                d = self.fh.describe_delivery_stream(DeliveryStreamName=name)
                self.assertIn(d["DeliveryStreamDescription"]["DeliveryStreamStatus"], ("DELETING",))
                return False
            except self.fh.exceptions.ResourceNotFoundException:
                return True
        wait_until(gone, 10, what="describe of deleted stream -> ResourceNotFoundException")
        self.assertNotIn(name, self.fh.list_delivery_streams(Limit=10000)["DeliveryStreamNames"])
        with self.assertRaises(self.fh.exceptions.ResourceNotFoundException):
            self.fh.put_record(DeliveryStreamName=name, Record={"Data": b"x"})
        harness.create_stream(self.fh, name)  # the name is free again
        d = harness.wait_active(self.fh, name)
        self.assertEqual(d["VersionId"], "1")

    def test_delete_unknown_is_resource_not_found(self):
        with self.assertRaises(self.fh.exceptions.ResourceNotFoundException):
            self.fh.delete_delivery_stream(DeliveryStreamName="never-existed")

    # --- update destination ---------------------------------------------------------------

    def test_update_destination_bumps_version_and_rejects_stale(self):
        name = self.make("upd", size=1, interval=60)
        d = self.fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
        dest_id = d["Destinations"][0]["DestinationId"]
        self.assertEqual(d["VersionId"], "1")
        self.fh.update_destination(
            DeliveryStreamName=name, CurrentDeliveryStreamVersionId="1", DestinationId=dest_id,
            ExtendedS3DestinationUpdate={"BufferingHints": {"SizeInMBs": 7, "IntervalInSeconds": 120},
                                         "Prefix": "after/"})
        d = self.fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
        self.assertEqual(d["VersionId"], "2")
        e = d["Destinations"][0]["ExtendedS3DestinationDescription"]
        self.assertEqual(e["BufferingHints"], {"SizeInMBs": 7, "IntervalInSeconds": 120})
        self.assertEqual(e.get("Prefix"), "after/")
        self.assertEqual(e["BucketARN"], "arn:aws:s3:::lake", "unchanged fields must merge")
        with self.assertRaises(self.fh.exceptions.ConcurrentModificationException):
            self.fh.update_destination(
                DeliveryStreamName=name, CurrentDeliveryStreamVersionId="1", DestinationId=dest_id,
                ExtendedS3DestinationUpdate={"Prefix": "stale/"})
        resp = self.srv.raw_call("UpdateDestination", {
            "DeliveryStreamName": name, "CurrentDeliveryStreamVersionId": "1",
            "DestinationId": dest_id, "ExtendedS3DestinationUpdate": {"Prefix": "stale/"}})
        self.assertRawError(resp, "ConcurrentModificationException")
        with self.assertRaises(self.fh.exceptions.InvalidArgumentException):
            self.fh.update_destination(
                DeliveryStreamName=name, CurrentDeliveryStreamVersionId="2", DestinationId=dest_id,
                ExtendedS3DestinationUpdate={"ProcessingConfiguration": {
                    "Enabled": True, "Processors": [{"Type": "Lambda"}]}})
        d = self.fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
        self.assertEqual(d["VersionId"], "2", "a rejected update must not bump the version")
        self.assertEqual(d["Destinations"][0]["ExtendedS3DestinationDescription"].get("Prefix"), "after/")

    def test_update_destination_unknown_stream(self):
        with self.assertRaises(self.fh.exceptions.ResourceNotFoundException):
            self.fh.update_destination(DeliveryStreamName="nope-upd", CurrentDeliveryStreamVersionId="1",
                                       DestinationId="destinationId-000000000001",
                                       ExtendedS3DestinationUpdate={"Prefix": "x/"})

    # --- tags -----------------------------------------------------------------------------

    def test_tags_add_list_sorted_page_untag(self):
        name = uname("tags")
        harness.call_lenient(self.fh, "create_delivery_stream", DeliveryStreamName=name,
                                       ExtendedS3DestinationConfiguration=s3_dest(),
                                       Tags=[{"Key": "k3", "Value": "v3"}])
        harness.wait_active(self.fh, name)
        r = self.fh.list_tags_for_delivery_stream(DeliveryStreamName=name)
        self.assertEqual(r["Tags"], [{"Key": "k3", "Value": "v3"}])
        self.assertIs(r["HasMoreTags"], False)
        self.fh.tag_delivery_stream(DeliveryStreamName=name, Tags=[
            {"Key": "k1", "Value": "v1"}, {"Key": "k4", "Value": ""}, {"Key": "k0", "Value": "v0"},
            {"Key": "k2", "Value": "v2"}])
        self.fh.tag_delivery_stream(DeliveryStreamName=name, Tags=[{"Key": "k1", "Value": "v1b"}])
        r = self.fh.list_tags_for_delivery_stream(DeliveryStreamName=name)
        tags = r["Tags"]
        self.assertEqual([t["Key"] for t in tags], ["k0", "k1", "k2", "k3", "k4"])
        self.assertEqual({t["Key"]: t.get("Value", "") for t in tags},
                         {"k0": "v0", "k1": "v1b", "k2": "v2", "k3": "v3", "k4": ""})
        self.assertIs(r["HasMoreTags"], False)
        r = self.fh.list_tags_for_delivery_stream(DeliveryStreamName=name, Limit=2)
        self.assertEqual([t["Key"] for t in r["Tags"]], ["k0", "k1"])
        self.assertIs(r["HasMoreTags"], True)
        r = self.fh.list_tags_for_delivery_stream(DeliveryStreamName=name, Limit=2, ExclusiveStartTagKey="k1")
        self.assertEqual([t["Key"] for t in r["Tags"]], ["k2", "k3"])
        self.assertIs(r["HasMoreTags"], True)
        r = self.fh.list_tags_for_delivery_stream(DeliveryStreamName=name, Limit=2, ExclusiveStartTagKey="k3")
        self.assertEqual([t["Key"] for t in r["Tags"]], ["k4"])
        self.assertIs(r["HasMoreTags"], False)
        self.fh.untag_delivery_stream(DeliveryStreamName=name, TagKeys=["k1", "k3"])
        r = self.fh.list_tags_for_delivery_stream(DeliveryStreamName=name)
        self.assertEqual([t["Key"] for t in r["Tags"]], ["k0", "k2", "k4"])

    def test_tags_limit_50_and_aws_prefix(self):
        name = self.make("taglim")
        self.fh.tag_delivery_stream(DeliveryStreamName=name,
                                    Tags=[{"Key": "t%02d" % i, "Value": str(i)} for i in range(50)])
        r = self.fh.list_tags_for_delivery_stream(DeliveryStreamName=name, Limit=50)
        self.assertEqual(len(r["Tags"]), 50)
        self.assertIs(r["HasMoreTags"], False)
        # overwriting an existing key does not count against the limit
        self.fh.tag_delivery_stream(DeliveryStreamName=name, Tags=[{"Key": "t00", "Value": "again"}])
        with self.assertRaises(self.fh.exceptions.LimitExceededException):
            self.fh.tag_delivery_stream(DeliveryStreamName=name, Tags=[{"Key": "t50", "Value": "x"}])
        resp = self.srv.raw_call("TagDeliveryStream", {"DeliveryStreamName": name,
                                                       "Tags": [{"Key": "t51", "Value": "x"}]})
        self.assertRawError(resp, "LimitExceededException")
        r = self.fh.list_tags_for_delivery_stream(DeliveryStreamName=name, Limit=50)
        self.assertEqual(len(r["Tags"]), 50)
        self.assertEqual([t for t in r["Tags"] if t["Key"] == "t00"], [{"Key": "t00", "Value": "again"}])
        name2 = self.make("tagaws")
        with self.assertRaises(self.fh.exceptions.InvalidArgumentException):
            self.fh.tag_delivery_stream(DeliveryStreamName=name2, Tags=[{"Key": "aws:owner", "Value": "x"}])
        self.assertEqual(self.fh.list_tags_for_delivery_stream(DeliveryStreamName=name2)["Tags"], [])

    def test_tags_unknown_stream(self):
        for fn, kw in ((self.fh.tag_delivery_stream, {"Tags": [{"Key": "a", "Value": "b"}]}),
                       (self.fh.untag_delivery_stream, {"TagKeys": ["a"]}),
                       (self.fh.list_tags_for_delivery_stream, {})):
            with self.assertRaises(self.fh.exceptions.ResourceNotFoundException):
                fn(DeliveryStreamName="nope-tags", **kw)

    # --- encryption -----------------------------------------------------------------------

    def test_start_stop_encryption_modeled_answer(self):
        name = self.make("enc")
        for op, kw in (("start", {"DeliveryStreamEncryptionConfigurationInput": {"KeyType": "AWS_OWNED_CMK"}}),
                       ("stop", {})):
            fn = getattr(self.fh, "%s_delivery_stream_encryption" % op)
            try:
                r = fn(DeliveryStreamName=name, **kw)
                self.assertEqual(r["ResponseMetadata"]["HTTPStatusCode"], 200)
                d = self.fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
                enc = d.get("DeliveryStreamEncryptionConfiguration", {})
                want = ("ENABLING", "ENABLED") if op == "start" else ("DISABLING", "DISABLED")
                self.assertIn(enc.get("Status"), want, "after %s: %r" % (op, enc))
            except self.fh.exceptions.InvalidArgumentException as e:
                self.assertTrue(str(e), "InvalidArgumentException without a message")
        try:
            self.fh.start_delivery_stream_encryption(DeliveryStreamName="nope-enc")
            self.fail("start encryption on unknown stream succeeded")
        except (self.fh.exceptions.ResourceNotFoundException, self.fh.exceptions.InvalidArgumentException):
            pass

    # --- put ------------------------------------------------------------------------------

    def test_put_record_and_batch(self):
        name = self.make("put", size=1, interval=0)
        r = self.fh.put_record(DeliveryStreamName=name, Record={"Data": b"one\n"})
        self.assertIsInstance(r["RecordId"], str)
        self.assertGreater(len(r["RecordId"]), 0)
        self.assertIs(r.get("Encrypted", False), False)
        r2 = self.fh.put_record(DeliveryStreamName=name, Record={"Data": b""})  # empty is allowed
        self.assertTrue(r2["RecordId"])
        recs = [{"Data": b"b%d\n" % i} for i in range(3)]
        b = self.fh.put_record_batch(DeliveryStreamName=name, Records=recs)
        self.assertEqual(b["FailedPutCount"], 0)
        self.assertEqual(len(b["RequestResponses"]), 3)
        ids = [x["RecordId"] for x in b["RequestResponses"]]
        self.assertTrue(all(ids))
        self.assertNotIn("ErrorCode", b["RequestResponses"][0])
        self.assertEqual(len(set(ids + [r["RecordId"], r2["RecordId"]])), 5, "RecordIds must be unique")
        # exactly 500 records is fine
        b = self.fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"x"}] * 500)
        self.assertEqual(b["FailedPutCount"], 0)
        self.assertEqual(len(b["RequestResponses"]), 500)
        # raw response shape
        st, h, body = self.srv.raw_call("PutRecord", {"DeliveryStreamName": name,
                                                      "Record": {"Data": b64(b"raw\n")}})
        self.assertEqual(st, 200, body)
        self.assertTrue(body["RecordId"])
        self.assertTrue(h.get("x-amzn-requestid"))

    def test_put_unknown_stream(self):
        with self.assertRaises(self.fh.exceptions.ResourceNotFoundException):
            self.fh.put_record(DeliveryStreamName="nope-put", Record={"Data": b"x"})
        with self.assertRaises(self.fh.exceptions.ResourceNotFoundException):
            self.fh.put_record_batch(DeliveryStreamName="nope-put", Records=[{"Data": b"x"}])

    def test_put_record_size_limits(self):
        name = self.make("big", size=128, interval=900)
        ok = self.srv.raw_call("PutRecord", {"DeliveryStreamName": name,
                                             "Record": {"Data": b64(b"a" * 1024000)}})
        self.assertEqual(ok[0], 200, "a 1,024,000-byte record must be accepted: %r" % (ok[2],))
        resp = self.srv.raw_call("PutRecord", {"DeliveryStreamName": name,
                                               "Record": {"Data": b64(b"a" * 1024001)}})
        self.assertRawError(resp, ("ValidationException", "InvalidArgumentException"))
        resp = self.srv.raw_call("PutRecordBatch", {"DeliveryStreamName": name,
                                                    "Records": [{"Data": b64(b"a" * 1024001)}]})
        self.assertRawError(resp, ("ValidationException", "InvalidArgumentException"))
        with self.assertRaises(ClientError):
            self.fh_novalidate.put_record(DeliveryStreamName=name, Record={"Data": b"a" * 1024001})

    def test_put_record_batch_limits(self):
        name = self.make("blim", size=128, interval=900)
        resp = self.srv.raw_call("PutRecordBatch", {"DeliveryStreamName": name,
                                                    "Records": [{"Data": b64(b"r")}] * 501})
        self.assertRawError(resp, ("ValidationException", "InvalidArgumentException"))
        resp = self.srv.raw_call("PutRecordBatch", {"DeliveryStreamName": name, "Records": []})
        self.assertRawError(resp, ("ValidationException", "InvalidArgumentException"))
        # five records of 1,000,000 bytes: each is legal, the batch is over 4 MiB
        resp = self.srv.raw_call("PutRecordBatch", {"DeliveryStreamName": name,
                                                    "Records": [{"Data": b64(b"z" * 1000000)}] * 5})
        self.assertRawError(resp, ("ValidationException", "InvalidArgumentException"))
        # four of them (4,000,000 bytes) are fine
        st, _h, body = self.srv.raw_call("PutRecordBatch", {"DeliveryStreamName": name,
                                                            "Records": [{"Data": b64(b"z" * 1000000)}] * 4})
        self.assertEqual(st, 200, body)
        self.assertEqual(body["FailedPutCount"], 0)
        self.assertEqual(len(body["RequestResponses"]), 4)
        with self.assertRaises(ClientError) as cm:
            self.fh_novalidate.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"r"}] * 501)
        self.assertIn(cm.exception.response["Error"]["Code"],
                      ("ValidationException", "InvalidArgumentException"))

    # --- protocol-level errors --------------------------------------------------------------

    def test_bad_base64_is_serialization_exception(self):
        name = self.make("b64")
        resp = self.srv.raw_call("PutRecord", {"DeliveryStreamName": name, "Record": {"Data": "***not base64***"}})
        self.assertRawError(resp, "SerializationException")
        resp = self.srv.raw_call("PutRecordBatch", {"DeliveryStreamName": name,
                                                    "Records": [{"Data": b64(b"ok")}, {"Data": "%%%"}]})
        self.assertRawError(resp, "SerializationException")

    def test_malformed_json_is_serialization_exception(self):
        for raw in (b'{"DeliveryStreamName":', b"not json", b'{"DeliveryStreamName": "a",}'):
            resp = self.srv.raw_call("DescribeDeliveryStream", raw=raw)
            self.assertRawError(resp, "SerializationException")
        resp = self.srv.raw_call("ListDeliveryStreams", raw=b"[1,2")
        self.assertRawError(resp, "SerializationException")

    def test_missing_stream_name_is_validation_exception(self):
        for op in ("DescribeDeliveryStream", "PutRecord", "PutRecordBatch", "DeleteDeliveryStream"):
            body = {"Record": {"Data": b64(b"x")}, "Records": [{"Data": b64(b"x")}]}
            resp = self.srv.raw_call(op, body)
            b = self.assertRawError(resp, "ValidationException", ctx=op)
            self.assertIn("deliveryStreamName", harness.error_message(b), op)

    def test_bad_stream_names_validation_message(self):
        long_name = "a" * 65
        resp = self.srv.raw_call("DescribeDeliveryStream", {"DeliveryStreamName": long_name})
        b = self.assertRawError(resp, "ValidationException")
        msg = harness.error_message(b)
        self.assertTrue(msg.startswith(BAD_NAME_PREFIX % long_name), msg)
        self.assertIn("Member must have length less than or equal to 64", msg)
        for bad in ("bad name!", "slash/name", "caf\u00e9"):
            for op, extra in (("DescribeDeliveryStream", {}),
                              ("CreateDeliveryStream", {"ExtendedS3DestinationConfiguration": s3_dest()}),
                              ("PutRecord", {"Record": {"Data": b64(b"x")}}),
                              ("PutRecordBatch", {"Records": [{"Data": b64(b"x")}]})):
                body = dict(extra, DeliveryStreamName=bad)
                resp = self.srv.raw_call(op, body)
                b = self.assertRawError(resp, "ValidationException", ctx="%s %r" % (op, bad))
                msg = harness.error_message(b)
                self.assertTrue(msg.startswith(BAD_NAME_PREFIX % bad), "%s: %s" % (op, msg))
                self.assertIn("Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+", msg)
        resp = self.srv.raw_call("DescribeDeliveryStream", {"DeliveryStreamName": ""})
        b = self.assertRawError(resp, "ValidationException")
        self.assertIn("deliveryStreamName", harness.error_message(b))
        # boto3 surfaces the same code
        self.assertClientError(self.fh_novalidate.describe_delivery_stream, "ValidationException",
                               DeliveryStreamName=long_name)

    def test_unknown_operation(self):
        # Kinesis_20131202.* has its own front now; DynamoDB's prefix is still nobody's.
        for target in ("Firehose_20150804.Frobnicate", "DynamoDB_20120810.ListTables", "Firehose_20150804"):
            resp = self.srv.raw_call(None, {}, target=target)
            self.assertRawError(resp, "UnknownOperationException")
        resp = self.srv.raw_call(None, {}, target=False)
        self.assertRawError(resp, "UnknownOperationException")

    def test_health_endpoint(self):
        st, _h, _b = self.srv.http("GET", "/_hydrant/health")
        self.assertEqual(st, 200)


if __name__ == "__main__":
    unittest.main()
