"""Hostile input through the Firehose API: NUL in names, invalid UTF-8, dot names, unusual prefixes.

Raw HTTP (http.client) sends what SDKs refuse to; boto3 checks what SDKs then see, also after a
restart.
"""

import itertools
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import HydrantTestCase, b64, s3_dest, wait_until  # noqa: E402

_counter = itertools.count(1)
ACCOUNT = "000000000000"
NAME_PATTERN = "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"


def uname(tag):
    return ("ih-%d-%s" % (next(_counter), tag))[:64]


def not_found(name):
    return "Firehose %s under account %s not found." % (name, ACCOUNT)


class InputHardeningTest(HydrantTestCase):
    @classmethod
    def setUpClass(cls):
        if harness.boto3 is None:
            raise unittest.SkipTest("boto3 not installed for %s" % sys.executable)

    def setUp(self):
        self.srv = self.start_server()
        self.fh = self.srv.client()

    def make(self, name, **kw):
        harness.create_stream(self.fh, name, **kw)
        harness.wait_active(self.fh, name)
        return name

    def raw(self, op, text):
        return self.srv.raw_call(op, raw=text if isinstance(text, bytes) else text.encode())

    def assertMessage(self, resp, code, message):
        body = self.assertRawError(resp, code)
        self.assertEqual(harness.error_message(body), message)

    # --- NUL ------------------------------------------------------------------------------

    def test_delete_with_nul_in_name_is_a_validation_error_and_keeps_the_stream(self):
        name = self.make(uname("t1"))
        r = self.raw("DeleteDeliveryStream", '{"DeliveryStreamName":"%s\\u0000zz"}' % name)
        self.assertMessage(r, "ValidationException",
                           "1 validation error detected: Value '%s\x00zz' at 'deliveryStreamName' "
                           "failed to satisfy constraint: %s" % (name, NAME_PATTERN))
        self.assertEqual(self.fh.describe_delivery_stream(DeliveryStreamName=name)
                         ["DeliveryStreamDescription"]["DeliveryStreamStatus"], "ACTIVE")

    def test_put_with_nul_in_name_does_not_land_in_the_prefix_stream(self):
        name = self.make(uname("s1"), bucket="nulput")
        for op, rec in (("PutRecord", '"Record":{"Data":"eA=="}'),
                        ("PutRecordBatch", '"Records":[{"Data":"eA=="}]')):
            r = self.raw(op, '{"DeliveryStreamName":"%s\\u0000x",%s}' % (name, rec))
            self.assertMessage(r, "ValidationException",
                               "1 validation error detected: Value '%s\x00x' at "
                               "'deliveryStreamName' failed to satisfy constraint: %s"
                               % (name, NAME_PATTERN))
        self.fh.put_record(DeliveryStreamName=name, Record={"Data": b"ok"})
        self.assertEqual(self.srv.stop(), 0)
        objs = self.srv.objects("nulput")
        self.assertEqual([self.srv.read_object("nulput", k) for k in objs], [b"ok"])

    def test_member_name_with_nul_is_an_unknown_member(self):
        name = self.make(uname("key"))
        # "DeliveryStreamName\u0000x" is not DeliveryStreamName: the required member is missing.
        r = self.raw("DescribeDeliveryStream", '{"DeliveryStreamName\\u0000x":"%s"}' % name)
        self.assertMessage(r, "ValidationException",
                           "1 validation error detected: Value null at 'deliveryStreamName' "
                           "failed to satisfy constraint: Member must not be null")

    def test_data_with_nul_is_malformed_base64(self):
        name = self.make(uname("data"))
        r = self.raw("PutRecord", '{"DeliveryStreamName":"%s","Record":{"Data":"eA==\\u0000AAA"}}'
                     % name)
        self.assertMessage(r, "SerializationException",
                           "Base64 encoded value at 'record.data' is malformed")

    def test_prefix_with_nul_cannot_be_stored(self):
        name = uname("pfx")
        body = {"DeliveryStreamName": name, "ExtendedS3DestinationConfiguration": s3_dest(prefix="a\x00b/")}
        r = self.raw("CreateDeliveryStream", json.dumps(body))
        self.assertMessage(r, "InvalidArgumentException",
                           "Value at 'ExtendedS3DestinationConfiguration.Prefix' contains the "
                           "character U+0000, which cannot be stored")
        self.assertNotIn(name, self.fh.list_delivery_streams()["DeliveryStreamNames"])

    # --- invalid UTF-8 ------------------------------------------------------------------------

    def assertSdkStillReads(self, name):
        self.fh.describe_delivery_stream(DeliveryStreamName=name)
        self.fh.list_tags_for_delivery_stream(DeliveryStreamName=name)

    def test_tag_key_with_invalid_utf8_is_a_serialization_error(self):
        name = self.make(uname("tag"))
        body = b'{"DeliveryStreamName":"' + name.encode() + b'","Tags":[{"Key":"k\xff\xfe","Value":"v"}]}'
        self.assertMessage(self.raw("TagDeliveryStream", body), "SerializationException",
                           "Invalid UTF-8 in the request body")
        self.assertSdkStillReads(name)
        self.srv.restart()
        self.fh = self.srv.client()
        self.assertSdkStillReads(name)
        self.assertEqual(self.fh.list_tags_for_delivery_stream(DeliveryStreamName=name)["Tags"], [])

    def test_prefix_with_invalid_utf8_is_a_serialization_error(self):
        name = self.make(uname("upd"))
        d = self.fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
        body = (b'{"DeliveryStreamName":"' + name.encode() + b'","CurrentDeliveryStreamVersionId":"'
                + d["VersionId"].encode() + b'","DestinationId":"' +
                d["Destinations"][0]["DestinationId"].encode() +
                b'","ExtendedS3DestinationUpdate":{"Prefix":"p\xff/"}}')
        self.assertMessage(self.raw("UpdateDestination", body), "SerializationException",
                           "Invalid UTF-8 in the request body")
        self.srv.restart()
        self.fh = self.srv.client()
        self.assertSdkStillReads(name)

    def test_invalid_utf8_and_lone_surrogates_everywhere_are_serialization_errors(self):
        name = self.make(uname("u8"))
        bad = [
            (b'{"DeliveryStreamName":"' + name.encode() + b'\xc3","Record":{"Data":"eA=="}}', "utf8"),
            (b'{"DeliveryStreamName":"' + name.encode() + b'","Record":{"Data":"eA==\xff"}}', "utf8"),
            (b'{"DeliveryStreamName":"' + name.encode() + b'","Records":[{"Data":"\xed\xa0\x80"}]}', "utf8"),
            (b'{"DeliveryStreamName":"' + name.encode() + b'\\ud800","Record":{"Data":"eA=="}}', "sur"),
            (b'{"DeliveryStreamName":"' + name.encode() + b'\\udc00x","Records":[{"Data":"eA=="}]}', "sur"),
            (b'{"DeliveryStreamName":"' + name.encode() + b'","Record":{"Data":"eA=="},"x\xc0\xaf":1}', "utf8"),
        ]
        msgs = {"utf8": "Invalid UTF-8 in the request body",
                "sur": "Unpaired UTF-16 surrogate escape in a JSON string"}
        for body, kind in bad:
            op = "PutRecordBatch" if b'"Records"' in body else "PutRecord"
            self.assertMessage(self.raw(op, body), "SerializationException", msgs[kind])
        # A valid pair is a character like any other (here in a tag value).
        ok = ('{"DeliveryStreamName":"%s","Tags":[{"Key":"k","Value":"\\ud83d\\ude00"}]}' % name)
        st, _h, _b = self.raw("TagDeliveryStream", ok)
        self.assertEqual(st, 200)
        tags = self.fh.list_tags_for_delivery_stream(DeliveryStreamName=name)["Tags"]
        self.assertEqual(tags, [{"Key": "k", "Value": "\U0001F600"}])

    def test_lengths_count_utf16_units(self):
        name = self.make(uname("len"))
        # 64 astral characters are 128 UTF-16 units: a 128-unit tag key is fine, 129 is not.
        key = "\U0001F600" * 64
        self.fh.tag_delivery_stream(DeliveryStreamName=name, Tags=[{"Key": key, "Value": "v"}])
        r = self.srv.raw_call("TagDeliveryStream", {"DeliveryStreamName": name,
                                                    "Tags": [{"Key": key + "a", "Value": "v"}]})
        body = self.assertRawError(r, "ValidationException")
        self.assertIn("Member must have length less than or equal to 128", harness.error_message(body))

    # --- dot names -----------------------------------------------------------------------------

    def test_dot_names_are_streams_end_to_end(self):
        names = [".", "..", ".deleted-x", ".hidden"]
        for n in names:
            self.make(n, bucket="dots", prefix=n + "/")
            self.fh.put_record(DeliveryStreamName=n, Record={"Data": ("before-%s;" % n).encode()})
        listed = self.fh.list_delivery_streams()["DeliveryStreamNames"]
        for n in names:
            self.assertIn(n, listed)
        self.srv.restart()
        self.fh = self.srv.client()
        listed = self.fh.list_delivery_streams()["DeliveryStreamNames"]
        for n in names:
            self.assertIn(n, listed)
            self.fh.put_record(DeliveryStreamName=n, Record={"Data": ("after-%s;" % n).encode()})
        # A second create of each name is refused (the name exists), nothing else.
        for n in names:
            self.assertClientError(harness.call_lenient, "ResourceInUseException", self.fh,
                                   "create_delivery_stream", DeliveryStreamName=n,
                                   ExtendedS3DestinationConfiguration=s3_dest("dots"))
        self.assertEqual(self.srv.stop(), 0)
        got = {}
        for k in self.srv.objects("dots"):
            got.setdefault(k.split("/")[0], []).append(self.srv.read_object("dots", k))
        # Two objects per stream (one per run), whose keys may sort either way within a second.
        got = {k: b"".join(sorted(v)) for k, v in got.items()}
        # Prefix "." and ".." are the key segments "." and "..", stored escaped in the bucket.
        self.assertEqual(got, {"%.": b"after-.;before-.;", "%..": b"after-..;before-..;",
                               ".deleted-x": b"after-.deleted-x;before-.deleted-x;",
                               ".hidden": b"after-.hidden;before-.hidden;"})
        self.srv.start()
        self.fh = self.srv.client()
        for n in names:
            self.fh.delete_delivery_stream(DeliveryStreamName=n)
        wait_until(lambda: not set(names) & set(self.fh.list_delivery_streams()["DeliveryStreamNames"]),
                   what="dot streams deleted")
        for n in names:
            r = self.srv.raw_call("DescribeDeliveryStream", {"DeliveryStreamName": n})
            self.assertMessage(r, "ResourceNotFoundException", not_found(n))
        self.srv.restart()
        self.fh = self.srv.client()
        self.assertFalse(set(names) & set(self.fh.list_delivery_streams()["DeliveryStreamNames"]))
        self.assertEqual(sorted(os.listdir(os.path.join(self.srv.data_dir, "streams"))), [])

    # --- prefixes ----------------------------------------------------------------------------

    def test_prefix_is_the_key_prefix_even_when_unusual(self):
        cases = {"../": "%../", "/abs/": "%/abs/", "a//b/": "a/%/b/", "./x/": "%./x/"}
        for i, prefix in enumerate(sorted(cases)):
            name = self.make(uname("p%d" % i), bucket="pfx%d" % i, prefix=prefix)
            d = self.fh.describe_delivery_stream(DeliveryStreamName=name)
            self.assertEqual(d["DeliveryStreamDescription"]["Destinations"][0]
                             ["ExtendedS3DestinationDescription"]["Prefix"], prefix)
            self.fh.put_record(DeliveryStreamName=name, Record={"Data": b"x"})
        self.assertEqual(self.srv.stop(), 0)
        for i, prefix in enumerate(sorted(cases)):
            objs = self.srv.objects("pfx%d" % i)
            self.assertEqual(len(objs), 1, objs)
            self.assertTrue(objs[0].startswith(cases[prefix]), (prefix, objs))
            self.assertRegex(objs[0][len(cases[prefix]):], r"^\d{4}/\d{2}/\d{2}/\d{2}/ih-")
        # Nothing escaped the buckets.
        self.assertEqual(sorted(x for x in os.listdir(os.path.join(self.srv.data_dir, "s3"))
                                if not x.startswith(".")),
                         ["pfx%d" % i for i in range(len(cases))])

    def test_bucket_names_starting_with_a_dot_are_refused(self):
        for bucket in (".tmp", "..", ".x"):
            r = self.srv.raw_call("CreateDeliveryStream", {
                "DeliveryStreamName": uname("b"),
                "ExtendedS3DestinationConfiguration": s3_dest(bucket)})
            self.assertMessage(r, "InvalidArgumentException",
                               "BucketARN arn:aws:s3:::%s does not name a usable bucket" % bucket)


if __name__ == "__main__":
    unittest.main()
