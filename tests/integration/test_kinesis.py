"""Kinesis Data Streams API against the real binary: boto3, aws-cli v2 and v1, raw HTTP.

Covers streams, shards, puts (routing by MD5 and ExplicitHashKey, limits), every iterator type,
GetRecords paging, signed and expiring iterators (forged with the data dir's key), retention
(with a shortened hour), tags, errors, and durability across SIGTERM and kill -9.
"""

import base64
import hashlib
import hmac
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import ClientError, HydrantTestCase, wait_until  # noqa: E402

try:
    from botocore.config import Config
    import boto3
except ImportError:  # run.sh reports the skip
    boto3 = None

MAX_HASH = 2 ** 128 - 1
UNLIMITED = ["--kinesis-shard-kib-per-s", "0", "--kinesis-shard-records-per-s", "0"]


def kclient(srv, retries=1, validate=True):
    if boto3 is None:
        raise unittest.SkipTest("boto3 missing")
    cfg = Config(retries={"total_max_attempts": retries, "mode": "standard"},
                 parameter_validation=validate, connect_timeout=5,
                 read_timeout=harness.scaled(30), max_pool_connections=20)
    s = boto3.session.Session(aws_access_key_id=harness.ACCESS_KEY,
                              aws_secret_access_key=harness.SECRET_KEY, region_name=harness.REGION)
    return s.client("kinesis", endpoint_url=srv.url, config=cfg)


def raw(srv, op, body, headers=None):
    h = {"X-Amz-Target": "Kinesis_20131202." + op}
    return srv.raw_call(op, raw=body if isinstance(body, bytes) else json.dumps(body).encode(),
                        target=h["X-Amz-Target"], headers=headers)


def hash_key(pk):
    return int.from_bytes(hashlib.md5(pk.encode()).digest(), "big")


def shard_for(shards, key):
    for s in shards:
        r = s["HashKeyRange"]
        if int(r["StartingHashKey"]) <= key <= int(r["EndingHashKey"]):
            return s["ShardId"]
    raise AssertionError("no shard holds %d" % key)


def read_shard(k, stream, shard_id, it_type="TRIM_HORIZON", limit=10000, **kw):
    """Every record of a shard from it_type until an empty read at the tip."""
    it = k.get_shard_iterator(StreamName=stream, ShardId=shard_id, ShardIteratorType=it_type,
                              **kw)["ShardIterator"]
    out = []
    while True:
        r = k.get_records(ShardIterator=it, Limit=limit)
        out.extend(r["Records"])
        it = r["NextShardIterator"]
        if not r["Records"] and r["MillisBehindLatest"] == 0:
            return out


def read_all(k, stream):
    out = {}
    for s in k.list_shards(StreamName=stream)["Shards"]:
        out[s["ShardId"]] = read_shard(k, stream, s["ShardId"])
    return out


def forge_iterator(data_dir, name, shard_index, seq, issued_ms, stream_id):
    with open(os.path.join(data_dir, "datastreams", "iterator.key"), "rb") as f:
        key = f.read()
    nb = name.encode()
    head = struct.pack("<BQIQQB", 1, stream_id, shard_index, seq, issued_ms, len(nb)) + nb
    mac = hmac.new(key, head, hashlib.sha256).digest()[:16]
    return base64.b64encode(head + mac).decode()


def decode_iterator(it):
    raw_b = base64.b64decode(it)
    v, sid, idx, seq, issued, nl = struct.unpack("<BQIQQB", raw_b[:30])
    return {"stream_id": sid, "shard": idx, "seq": seq, "issued": issued,
            "name": raw_b[30:30 + nl].decode()}


class KinesisApiTest(HydrantTestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = cls.start_class_server(extra_args=["--kinesis-max-shards", "40"])

    def setUp(self):
        self.k = kclient(self.srv)

    def err(self, fn, code, **kw):
        with self.assertRaises(ClientError) as cm:
            fn(**kw)
        self.assertEqual(cm.exception.response["Error"]["Code"], code,
                         cm.exception.response["Error"])
        return cm.exception.response["Error"].get("Message", "")

    def test_create_describe_list_delete(self):
        k = self.k
        k.create_stream(StreamName="cd-a", ShardCount=3)
        d = k.describe_stream(StreamName="cd-a")["StreamDescription"]
        self.assertEqual(d["StreamStatus"], "ACTIVE")
        self.assertEqual(d["RetentionPeriodHours"], 24)
        self.assertEqual(d["StreamModeDetails"], {"StreamMode": "PROVISIONED"})
        self.assertEqual(d["StreamARN"], "arn:aws:kinesis:us-east-1:000000000000:stream/cd-a")
        self.assertFalse(d["HasMoreShards"])
        self.assertEqual([s["ShardId"] for s in d["Shards"]],
                         ["shardId-%012d" % i for i in range(3)])
        # The ranges cover [0, 2^128-1] without gaps.
        self.assertEqual(int(d["Shards"][0]["HashKeyRange"]["StartingHashKey"]), 0)
        self.assertEqual(int(d["Shards"][-1]["HashKeyRange"]["EndingHashKey"]), MAX_HASH)
        for a, b in zip(d["Shards"], d["Shards"][1:]):
            self.assertEqual(int(a["HashKeyRange"]["EndingHashKey"]) + 1,
                             int(b["HashKeyRange"]["StartingHashKey"]))
        # DescribeStream pages by ExclusiveStartShardId (the paginator).
        pages = list(k.get_paginator("describe_stream").paginate(
            StreamName="cd-a", PaginationConfig={"PageSize": 1}))
        self.assertEqual(len(pages), 3)
        s = k.describe_stream_summary(StreamName="cd-a")["StreamDescriptionSummary"]
        self.assertEqual(s["OpenShardCount"], 3)
        self.assertEqual(s["ConsumerCount"], 0)
        # StreamARN alone works; both must agree; neither is refused.
        s2 = k.describe_stream_summary(StreamARN=d["StreamARN"])["StreamDescriptionSummary"]
        self.assertEqual(s2["StreamName"], "cd-a")
        self.err(k.describe_stream_summary, "InvalidArgumentException", StreamName="cd-b",
                 StreamARN=d["StreamARN"])
        st, _h, body = raw(self.srv, "DescribeStreamSummary", {})
        self.assertEqual((st, body["__type"]), (400, "InvalidArgumentException"))
        self.assertIn("can't be empty at the same time", body["message"])
        self.err(k.create_stream, "ResourceInUseException", StreamName="cd-a", ShardCount=1)
        k.delete_stream(StreamName="cd-a", EnforceConsumerDeletion=True)
        m = self.err(k.describe_stream, "ResourceNotFoundException", StreamName="cd-a")
        self.assertEqual(m, "Stream cd-a under account 000000000000 not found.")
        self.err(k.delete_stream, "ResourceNotFoundException", StreamName="cd-a")
        # A name reused after a delete is a new, empty stream.
        k.create_stream(StreamName="cd-a", ShardCount=1)
        self.assertEqual(read_all(k, "cd-a"), {"shardId-000000000000": []})
        k.delete_stream(StreamName="cd-a")

    def test_modes_limits_and_validation(self):
        k = self.k
        k.create_stream(StreamName="od", StreamModeDetails={"StreamMode": "ON_DEMAND"})
        d = k.describe_stream_summary(StreamName="od")["StreamDescriptionSummary"]
        self.assertEqual((d["OpenShardCount"], d["StreamModeDetails"]["StreamMode"]), (4, "ON_DEMAND"))
        self.err(k.create_stream, "ValidationException", StreamName="od2", ShardCount=2,
                 StreamModeDetails={"StreamMode": "ON_DEMAND"})
        self.err(k.create_stream, "InvalidArgumentException", StreamName="od3")
        m = self.err(k.create_stream, "LimitExceededException", StreamName="big", ShardCount=41)
        self.assertIn("shard limit", m)
        kv = kclient(self.srv, validate=False)
        m = self.err(kv.create_stream, "ValidationException", StreamName="bad name!", ShardCount=1)
        self.assertIn("Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+", m)
        self.err(kv.create_stream, "ValidationException", StreamName="x", ShardCount=0)
        self.err(kv.create_stream, "ValidationException", StreamName="x" * 129, ShardCount=1)
        # Dot names are names like any other, not directories.
        for n in (".", "..", ".deleted-x"):
            kv.create_stream(StreamName=n, ShardCount=1)
            kv.put_record(StreamName=n, Data=b"dot", PartitionKey="p")
            self.assertEqual([r["Data"] for r in read_all(kv, n)["shardId-000000000000"]], [b"dot"])
            kv.delete_stream(StreamName=n)
        k.delete_stream(StreamName="od")

    def test_list_streams_and_shards_paging(self):
        k = self.k
        names = ["ls-%d" % i for i in range(5)]
        for n in names:
            k.create_stream(StreamName=n, ShardCount=1 if n != "ls-0" else 5)
        got = []
        for page in k.get_paginator("list_streams").paginate(PaginationConfig={"PageSize": 2}):
            self.assertLessEqual(len(page["StreamNames"]), 2)
            got.extend(page["StreamNames"])
            self.assertEqual([s["StreamName"] for s in page["StreamSummaries"]], page["StreamNames"])
        self.assertEqual([n for n in got if n.startswith("ls-")], names)
        r = k.list_streams(ExclusiveStartStreamName="ls-2", Limit=1)
        self.assertEqual((r["StreamNames"], r["HasMoreStreams"]), (["ls-3"], True))
        # Paging as the docs say: later pages carry NextToken alone (AWS refuses it together with
        # StreamName, which botocore's paginator sends: boto/botocore#2009).
        shards, kw = [], {"StreamName": "ls-0", "MaxResults": 2}
        while True:
            page = k.list_shards(**kw)
            shards.extend(s["ShardId"] for s in page["Shards"])
            if "NextToken" not in page:
                break
            kw = {"NextToken": page["NextToken"], "MaxResults": 2}
        self.assertEqual(shards, ["shardId-%012d" % i for i in range(5)])
        r = k.list_shards(StreamName="ls-0", MaxResults=2)
        m = self.err(k.list_shards, "InvalidArgumentException", StreamName="ls-0",
                     NextToken=r["NextToken"])
        self.assertEqual(m, "NextToken and StreamName cannot be provided together.")
        self.err(k.list_shards, "InvalidArgumentException", NextToken="garbage")
        r = k.list_shards(StreamName="ls-0", ExclusiveStartShardId="shardId-000000000002")
        self.assertEqual([s["ShardId"] for s in r["Shards"]], ["shardId-000000000003",
                                                              "shardId-000000000004"])
        r = k.list_shards(StreamName="ls-0", ShardFilter={"Type": "AFTER_SHARD_ID",
                                                          "ShardId": "shardId-000000000003"})
        self.assertEqual([s["ShardId"] for s in r["Shards"]], ["shardId-000000000004"])
        for n in names:
            k.delete_stream(StreamName=n)

    def test_put_routing_and_read_back(self):
        k = self.k
        k.create_stream(StreamName="rt", ShardCount=4)
        shards = k.list_shards(StreamName="rt")["Shards"]
        sent = {}
        for i in range(40):
            pk = "user-%d" % i
            data = ("rec-%d" % i).encode() + bytes(range(256))
            r = k.put_record(StreamName="rt", Data=data, PartitionKey=pk)
            self.assertEqual(r["ShardId"], shard_for(shards, hash_key(pk)), pk)
            self.assertEqual(r["EncryptionType"], "NONE")
            sent[r["SequenceNumber"]] = (pk, data, r["ShardId"])
        # ExplicitHashKey overrides the partition key's hash.
        for key, want in ((0, 0), (MAX_HASH, 3), (int(shards[2]["HashKeyRange"]["StartingHashKey"]), 2)):
            r = k.put_record(StreamName="rt", Data=b"e", PartitionKey="same", ExplicitHashKey=str(key))
            self.assertEqual(r["ShardId"], "shardId-%012d" % want)
            sent[r["SequenceNumber"]] = ("same", b"e", r["ShardId"])
        kv = kclient(self.srv, validate=False)
        m = self.err(kv.put_record, "InvalidArgumentException", StreamName="rt", Data=b"e",
                     PartitionKey="p", ExplicitHashKey=str(MAX_HASH + 1))
        self.assertIn("ExplicitHashKey must be in the range", m)
        self.err(kv.put_record, "ValidationException", StreamName="rt", Data=b"e",
                 PartitionKey="p", ExplicitHashKey="-1")
        self.err(kv.put_record, "ValidationException", StreamName="rt", Data=b"e", PartitionKey="")
        self.err(kv.put_record, "ValidationException", StreamName="rt", Data=b"e",
                 PartitionKey="p" * 257)
        self.err(k.put_record, "ResourceNotFoundException", StreamName="nope", Data=b"e",
                 PartitionKey="p")
        got = read_all(k, "rt")
        n = 0
        for sid, recs in got.items():
            seqs = [int(r["SequenceNumber"]) for r in recs]
            self.assertEqual(seqs, sorted(set(seqs)), "sequence numbers grow within a shard")
            for r in recs:
                pk, data, shard = sent[r["SequenceNumber"]]
                self.assertEqual((r["PartitionKey"], r["Data"], sid), (pk, data, shard))
                age = time.time() - r["ApproximateArrivalTimestamp"].timestamp()
                self.assertTrue(-5 < age < 120, age)
                n += 1
        self.assertEqual(n, len(sent))
        k.delete_stream(StreamName="rt")

    def test_put_records_batches_and_limits(self):
        k = self.k
        k.create_stream(StreamName="pr", ShardCount=3)
        recs = [{"Data": ("d%d" % i).encode() * 10, "PartitionKey": "k%d" % (i % 37)}
                for i in range(500)]
        r = k.put_records(StreamName="pr", Records=recs)
        self.assertEqual(r["FailedRecordCount"], 0)
        self.assertEqual(len(r["Records"]), 500)
        shards = k.list_shards(StreamName="pr")["Shards"]
        for rec, res in zip(recs, r["Records"]):
            self.assertEqual(res["ShardId"], shard_for(shards, hash_key(rec["PartitionKey"])))
        # Order per partition key is request order.
        got = read_all(k, "pr")
        per_key = {}
        for recs_s in got.values():
            for x in recs_s:
                per_key.setdefault(x["PartitionKey"], []).append(x["Data"])
        for key, datas in per_key.items():
            self.assertEqual(datas, [x["Data"] for x in recs if x["PartitionKey"] == key])
        kv = kclient(self.srv, validate=False)
        self.err(kv.put_records, "ValidationException", StreamName="pr",
                 Records=[{"Data": b"x", "PartitionKey": "p"}] * 501)
        self.err(kv.put_records, "ValidationException", StreamName="pr", Records=[])
        big = b"x" * (1024 * 1024 - 1)
        m = self.err(k.put_records, "InvalidArgumentException", StreamName="pr",
                     Records=[{"Data": big, "PartitionKey": "p"}] * 5 + [{"Data": b"y" * 100,
                                                                          "PartitionKey": "p"}])
        self.assertIn("5 MiB", m)
        self.err(k.put_record, "InvalidArgumentException", StreamName="pr", Data=big + b"xx",
                 PartitionKey="p")
        # The largest record: 1 MiB of data plus key, exactly.
        r = k.put_record(StreamName="pr", Data=big, PartitionKey="p")
        it = k.get_shard_iterator(StreamName="pr", ShardId=r["ShardId"],
                                  ShardIteratorType="AT_SEQUENCE_NUMBER",
                                  StartingSequenceNumber=r["SequenceNumber"])["ShardIterator"]
        self.assertEqual(k.get_records(ShardIterator=it, Limit=1)["Records"][0]["Data"], big)
        st, _h, body = raw(self.srv, "PutRecords", {"StreamName": "pr", "Records": [
            {"Data": "not base64!", "PartitionKey": "p"}]})
        self.assertEqual((st, body["__type"]), (400, "SerializationException"))
        st, _h, body = raw(self.srv, "PutRecords", b"{not json")
        self.assertEqual((st, body["__type"]), (400, "SerializationException"))
        k.delete_stream(StreamName="pr")

    def test_iterator_types(self):
        k = self.k
        k.create_stream(StreamName="it", ShardCount=1)
        sid = "shardId-000000000000"
        first = [k.put_record(StreamName="it", Data=b"a%d" % i, PartitionKey="p") for i in range(5)]
        latest = k.get_shard_iterator(StreamName="it", ShardId=sid,
                                      ShardIteratorType="LATEST")["ShardIterator"]
        # botocore sends Timestamp in whole seconds: start the second half on a new second.
        t_mid = int(time.time()) + 1
        wait_until(lambda: time.time() >= t_mid + 0.01, 3)
        later = [k.put_record(StreamName="it", Data=b"b%d" % i, PartitionKey="p") for i in range(3)]
        r = k.get_records(ShardIterator=latest)
        self.assertEqual([x["Data"] for x in r["Records"]], [b"b0", b"b1", b"b2"])
        self.assertEqual(r["MillisBehindLatest"], 0)
        self.assertEqual(len(read_shard(k, "it", sid)), 8)
        at = read_shard(k, "it", sid, "AT_SEQUENCE_NUMBER",
                        StartingSequenceNumber=first[3]["SequenceNumber"])
        self.assertEqual([x["Data"] for x in at], [b"a3", b"a4", b"b0", b"b1", b"b2"])
        after = read_shard(k, "it", sid, "AFTER_SEQUENCE_NUMBER",
                           StartingSequenceNumber=later[1]["SequenceNumber"])
        self.assertEqual([x["Data"] for x in after], [b"b2"])
        ts = read_shard(k, "it", sid, "AT_TIMESTAMP", Timestamp=t_mid)
        self.assertEqual([x["Data"] for x in ts], [b"b0", b"b1", b"b2"])
        old = read_shard(k, "it", sid, "AT_TIMESTAMP", Timestamp=0)
        self.assertEqual(len(old), 8)
        # Paging with Limit, and MillisBehindLatest while behind.
        it = k.get_shard_iterator(StreamName="it", ShardId=sid,
                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        r = k.get_records(ShardIterator=it, Limit=3)
        self.assertEqual(len(r["Records"]), 3)
        self.assertGreaterEqual(r["MillisBehindLatest"], 0)
        r2 = k.get_records(ShardIterator=r["NextShardIterator"], Limit=3)
        self.assertEqual([x["Data"] for x in r2["Records"]], [b"a3", b"a4", b"b0"])
        # Errors.
        m = self.err(k.get_shard_iterator, "InvalidArgumentException", StreamName="it",
                     ShardId=sid, ShardIteratorType="AT_SEQUENCE_NUMBER")
        self.assertIn("Must either specify", m)
        self.err(k.get_shard_iterator, "InvalidArgumentException", StreamName="it", ShardId=sid,
                 ShardIteratorType="LATEST", StartingSequenceNumber=first[0]["SequenceNumber"])
        self.err(k.get_shard_iterator, "InvalidArgumentException", StreamName="it", ShardId=sid,
                 ShardIteratorType="AT_TIMESTAMP")
        self.err(k.get_shard_iterator, "InvalidArgumentException", StreamName="it", ShardId=sid,
                 ShardIteratorType="AT_TIMESTAMP", Timestamp=time.time() + 3600)
        self.err(k.get_shard_iterator, "ResourceNotFoundException", StreamName="it",
                 ShardId="shardId-000000000009", ShardIteratorType="LATEST")
        self.err(k.get_shard_iterator, "InvalidArgumentException", StreamName="it", ShardId=sid,
                 ShardIteratorType="AT_SEQUENCE_NUMBER", StartingSequenceNumber="12345")
        # A number from another shard, and one from another stream.
        k.create_stream(StreamName="it2", ShardCount=2)
        shards2 = k.list_shards(StreamName="it2")["Shards"]
        r = k.put_record(StreamName="it2", Data=b"z", PartitionKey="p", ExplicitHashKey="0")
        m = self.err(k.get_shard_iterator, "InvalidArgumentException", StreamName="it2",
                     ShardId=shards2[1]["ShardId"], ShardIteratorType="AT_SEQUENCE_NUMBER",
                     StartingSequenceNumber=r["SequenceNumber"])
        self.assertIn("It encodes shardId-000000000000", m)
        k.delete_stream(StreamName="it2")
        k.delete_stream(StreamName="it")

    def test_iterators_are_signed_and_expire(self):
        k = self.k
        k.create_stream(StreamName="sig", ShardCount=1)
        k.put_record(StreamName="sig", Data=b"one", PartitionKey="p")
        it = k.get_shard_iterator(StreamName="sig", ShardId="shardId-000000000000",
                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        self.assertLessEqual(len(it), 512)
        fields = decode_iterator(it)
        for pos in (0, 5, 20, len(it) // 2, len(it) - 3):
            c = "A" if it[pos] != "A" else "B"
            bad = it[:pos] + c + it[pos + 1:]
            m = self.err(k.get_records, "InvalidArgumentException", ShardIterator=bad)
            self.assertEqual(m, "Invalid ShardIterator.")
        self.err(k.get_records, "InvalidArgumentException", ShardIterator="x" * 100)
        # Signed with the data dir's key: one issued six minutes ago has expired.
        old = forge_iterator(self.srv.data_dir, "sig", 0, fields["seq"],
                             int(time.time() * 1000) - 360000, fields["stream_id"])
        m = self.err(k.get_records, "ExpiredIteratorException", ShardIterator=old)
        self.assertIn("tolerated delay of 300000 milliseconds", m)
        fresh = forge_iterator(self.srv.data_dir, "sig", 0, fields["seq"],
                               int(time.time() * 1000), fields["stream_id"])
        self.assertEqual([x["Data"] for x in k.get_records(ShardIterator=fresh)["Records"]],
                         [b"one"])
        # After the stream is deleted (and a new one takes its name) its iterators are refused.
        k.delete_stream(StreamName="sig")
        k.create_stream(StreamName="sig", ShardCount=1)
        self.err(k.get_records, "ResourceNotFoundException", ShardIterator=it)
        k.delete_stream(StreamName="sig")

    def test_retention_and_tags(self):
        k = self.k
        k.create_stream(StreamName="rtag", ShardCount=1, Tags={"team": "a", "env": "dev"})
        k.increase_stream_retention_period(StreamName="rtag", RetentionPeriodHours=48)
        self.assertEqual(k.describe_stream_summary(StreamName="rtag")["StreamDescriptionSummary"]
                         ["RetentionPeriodHours"], 48)
        self.err(k.increase_stream_retention_period, "InvalidArgumentException",
                 StreamName="rtag", RetentionPeriodHours=30)
        self.err(k.increase_stream_retention_period, "InvalidArgumentException",
                 StreamName="rtag", RetentionPeriodHours=8761)
        self.err(k.decrease_stream_retention_period, "InvalidArgumentException",
                 StreamName="rtag", RetentionPeriodHours=23)
        self.err(k.decrease_stream_retention_period, "InvalidArgumentException",
                 StreamName="rtag", RetentionPeriodHours=100)
        k.decrease_stream_retention_period(StreamName="rtag", RetentionPeriodHours=24)
        k.add_tags_to_stream(StreamName="rtag", Tags={"team": "b", "cost": "1"})
        r = k.list_tags_for_stream(StreamName="rtag")
        self.assertEqual(r["Tags"], [{"Key": "cost", "Value": "1"}, {"Key": "env", "Value": "dev"},
                                     {"Key": "team", "Value": "b"}])
        self.assertFalse(r["HasMoreTags"])
        r = k.list_tags_for_stream(StreamName="rtag", Limit=1, ExclusiveStartTagKey="cost")
        self.assertEqual((r["Tags"], r["HasMoreTags"]), ([{"Key": "env", "Value": "dev"}], True))
        k.remove_tags_from_stream(StreamName="rtag", TagKeys=["env", "missing"])
        self.assertEqual(len(k.list_tags_for_stream(StreamName="rtag")["Tags"]), 2)
        self.err(k.add_tags_to_stream, "InvalidArgumentException", StreamName="rtag",
                 Tags={"t%d" % i: "v" for i in range(49)})
        k.delete_stream(StreamName="rtag")

    def test_protocol_errors(self):
        st, _h, body = raw(self.srv, "NoSuchOp", {})
        self.assertEqual((st, body["__type"]), (400, "UnknownOperationException"))
        st, _h, body = raw(self.srv, "SubscribeToShard", {})
        self.assertEqual((st, body["__type"]), (400, "InvalidArgumentException"))
        self.assertIn("not supported", body["message"])
        st, _h, body = raw(self.srv, "ListStreams", b"\xa0",
                           headers={"Content-Type": "application/x-amz-cbor-1.1"})
        self.assertEqual((st, body["__type"]), (400, "SerializationException"))
        self.assertIn("CBOR", body["message"])
        st, _h, body = raw(self.srv, "ListStreams", b"[]")
        self.assertEqual((st, body["__type"]), (400, "SerializationException"))
        st, _h, body = raw(self.srv, "CreateStream", {"StreamName": "a\u0000b", "ShardCount": 1})
        self.assertEqual(st, 400)
        # Firehose keeps its own target prefix on the same port.
        st, _h, body = self.srv.raw_call("ListDeliveryStreams", {})
        self.assertEqual(st, 200)


class KinesisDurabilityTest(HydrantTestCase):
    def test_restart_keeps_streams_and_records(self):
        srv = self.start_server()
        k = kclient(srv)
        k.create_stream(StreamName="keep", ShardCount=2, Tags={"a": "b"})
        k.increase_stream_retention_period(StreamName="keep", RetentionPeriodHours=100)
        acked = {}
        for i in range(200):
            r = k.put_record(StreamName="keep", Data=b"v%d" % i, PartitionKey="p%d" % i)
            acked[r["SequenceNumber"]] = b"v%d" % i
        srv.restart()
        k = kclient(srv)
        d = k.describe_stream_summary(StreamName="keep")["StreamDescriptionSummary"]
        self.assertEqual((d["RetentionPeriodHours"], d["OpenShardCount"]), (100, 2))
        self.assertEqual(k.list_tags_for_stream(StreamName="keep")["Tags"], [{"Key": "a", "Value": "b"}])
        got = {r["SequenceNumber"]: r["Data"] for recs in read_all(k, "keep").values() for r in recs}
        self.assertEqual(got, acked)
        # Sequence numbers go on growing after a restart.
        r = k.put_record(StreamName="keep", Data=b"after", PartitionKey="p0")
        same = [s for s in acked if s[22:32] == r["SequenceNumber"][22:32]]
        self.assertGreater(int(r["SequenceNumber"]), max(int(s) for s in same))

    def test_kill9_under_load_loses_no_acknowledged_record(self):
        srv = self.start_server(extra_args=UNLIMITED)
        k = kclient(srv)
        k.create_stream(StreamName="crash", ShardCount=4)
        seed = int(os.environ.get("HYDRANT_IT_SEED", "0") or "0") or random.randrange(1 << 30)
        sys.stderr.write("[kinesis kill9] seed %d\n" % seed)
        rnd = random.Random(seed)
        acked, lock, stop = {}, threading.Lock(), threading.Event()
        url = srv.url

        def producer(pid):
            c = kclient(srv)
            n = 0
            while not stop.is_set():
                batch = []
                for _ in range(rnd.randrange(1, 200)):
                    n += 1
                    batch.append(("%d:%d:" % (pid, n)).encode() + b"x" * rnd.randrange(0, 500))
                try:
                    r = c.put_records(StreamName="crash", Records=[
                        {"Data": d, "PartitionKey": "k%d" % (hash(d) % 50)} for d in batch])
                except Exception:  # noqa: BLE001 - the server dies under us on purpose
                    return
                with lock:
                    for d, res in zip(batch, r["Records"]):
                        if "SequenceNumber" in res:
                            acked[d] = res["SequenceNumber"]

        threads = [threading.Thread(target=producer, args=(p,), daemon=True) for p in range(3)]
        for t in threads:
            t.start()
        wait_until(lambda: len(acked) > 3000 + rnd.randrange(3000), 60, what="acks before kill")
        srv.kill9()
        stop.set()
        for t in threads:
            t.join(30)
        self.assertEqual(srv.url, url)
        srv.start()
        k = kclient(srv)
        got = {}
        for recs in read_all(k, "crash").values():
            for r in recs:
                self.assertNotIn(r["Data"], got, "a record read twice")
                got[r["Data"]] = r["SequenceNumber"]
        missing = [d for d in acked if d not in got]
        self.assertEqual(missing, [], "%d acknowledged records lost" % len(missing))
        for d, s in acked.items():
            self.assertEqual(got[d], s)


class KinesisRetentionTest(HydrantTestCase):
    def test_records_expire_and_segments_are_trimmed(self):
        # One "hour" is 100 ms: the 24-hour minimum retention is 2.4 s.
        srv = self.start_server(extra_args=["--kinesis-hour-ms", "100"] + UNLIMITED)
        k = kclient(srv)
        k.create_stream(StreamName="ret", ShardCount=1)
        chunk = [{"Data": b"o" * 1000000, "PartitionKey": "p"}] * 4
        for _ in range(5):  # 20 MB: several 8 MiB segments
            self.assertEqual(k.put_records(StreamName="ret", Records=chunk)["FailedRecordCount"], 0)
        k.put_record(StreamName="ret", Data=b"old-small", PartitionKey="p")
        sdir = os.path.join(srv.data_dir, "datastreams", "ret", "shards", "000000000000")
        segs = lambda: sorted(f for f in os.listdir(sdir) if f.endswith(".seg"))  # noqa: E731
        n0 = len(segs())
        self.assertGreaterEqual(n0, 2)
        wait_until(lambda: read_shard(k, "ret", "shardId-000000000000") == [], 30,
                   what="old records expired")
        k.put_record(StreamName="ret", Data=b"new", PartitionKey="p")
        self.assertEqual([r["Data"] for r in read_shard(k, "ret", "shardId-000000000000")],
                         [b"new"])
        wait_until(lambda: len(segs()) < n0, 30, what="expired segments removed")
        # A longer retention keeps records longer; the stream keeps working.
        k.increase_stream_retention_period(StreamName="ret", RetentionPeriodHours=1000)
        k.put_record(StreamName="ret", Data=b"kept", PartitionKey="p")
        t0 = time.time()
        wait_until(lambda: time.time() > t0 + 3, 10)
        self.assertIn(b"kept", [r["Data"] for r in read_shard(k, "ret", "shardId-000000000000")])


class KinesisLimitsTest(HydrantTestCase):
    def test_shard_rate_answers_provisioned_throughput_exceeded(self):
        srv = self.start_server(extra_args=["--kinesis-shard-records-per-s", "20"])
        k = kclient(srv)
        k.create_stream(StreamName="lim", ShardCount=2)
        k.create_stream(StreamName="lim-od", StreamModeDetails={"StreamMode": "ON_DEMAND"})
        recs = [{"Data": b"x", "PartitionKey": "p", "ExplicitHashKey": "0"}] * 20
        self.assertEqual(k.put_records(StreamName="lim", Records=recs)["FailedRecordCount"], 0)
        r = k.put_records(StreamName="lim", Records=recs + [
            {"Data": b"y", "PartitionKey": "p", "ExplicitHashKey": str(MAX_HASH)}])
        # Shard 0 is out of tokens; shard 1 is not: a partial failure, per record.
        self.assertEqual(r["FailedRecordCount"], 20)
        self.assertEqual(r["Records"][0]["ErrorCode"], "ProvisionedThroughputExceededException")
        self.assertEqual(r["Records"][0]["ErrorMessage"], "Rate exceeded for shard "
                         "shardId-000000000000 in stream lim under account 000000000000.")
        self.assertIn("SequenceNumber", r["Records"][20])
        with self.assertRaises(ClientError) as cm:
            k.put_record(StreamName="lim", Data=b"z", PartitionKey="p", ExplicitHashKey="0")
        self.assertEqual(cm.exception.response["Error"]["Code"],
                         "ProvisionedThroughputExceededException")
        # ON_DEMAND streams are not limited per shard.
        self.assertEqual(k.put_records(StreamName="lim-od", Records=recs * 3)["FailedRecordCount"], 0)
        # The bucket refills: the shard accepts again within a second.
        wait_until(lambda: k.put_record(StreamName="lim", Data=b"z", PartitionKey="p",
                                        ExplicitHashKey="0"), 5, what="the shard accepts again")

    def test_stream_byte_cap(self):
        srv = self.start_server(extra_args=["--stream-quota-mib", "16"] + UNLIMITED)
        k = kclient(srv)
        k.create_stream(StreamName="cap", ShardCount=1)
        chunk = [{"Data": b"c" * 1000000, "PartitionKey": "p"}] * 4
        failed = 0
        for _ in range(8):
            failed = k.put_records(StreamName="cap", Records=chunk)["FailedRecordCount"]
            if failed:
                break
        self.assertEqual(failed, 4, "a 16 MiB cap refuses the fifth 4 MB batch at the latest")


class LineageConsumer(object):
    """A reader written against the documented resharding rules: a shard is read from
    TRIM_HORIZON only once every parent still listed was read to its end (NextShardIterator
    null); a drained closed shard's ChildShards become eligible."""

    def __init__(self, k, stream):
        self.k, self.stream = k, stream
        self.done, self.iters, self.records = set(), {}, []
        self.calls = 0

    def shards(self):
        out, kw = [], {"StreamName": self.stream}
        while True:
            r = self.k.list_shards(**kw)
            out.extend(r["Shards"])
            if "NextToken" not in r:
                return out
            kw = {"NextToken": r["NextToken"]}

    def step(self):
        """One pass over every shard; returns True when a pass found nothing new anywhere."""
        listed = self.shards()
        ids = set(s["ShardId"] for s in listed)
        for s in listed:
            sid = s["ShardId"]
            if sid in self.done or sid in self.iters:
                continue
            parents = [p for p in (s.get("ParentShardId"), s.get("AdjacentParentShardId"))
                       if p and p in ids]
            if all(p in self.done for p in parents):
                self.iters[sid] = self.k.get_shard_iterator(
                    StreamName=self.stream, ShardId=sid,
                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        quiet = True
        for sid in sorted(self.iters):
            r = self.k.get_records(ShardIterator=self.iters[sid], Limit=1000)
            self.calls += 1
            self.records.extend((sid, x["PartitionKey"], x["Data"]) for x in r["Records"])
            if r["Records"] or r.get("MillisBehindLatest"):
                quiet = False
            if r.get("NextShardIterator") is None:
                del self.iters[sid]
                self.done.add(sid)
                quiet = False
            else:
                self.iters[sid] = r["NextShardIterator"]
        return quiet


class KinesisReshardTest(HydrantTestCase):
    def test_consumer_reads_every_record_once_in_order_across_split_merge_and_scaling(self):
        srv = self.start_server(extra_args=UNLIMITED)
        k = kclient(srv)
        k.create_stream(StreamName="rs", ShardCount=2)
        stop = threading.Event()
        acked = {}  # key -> last acknowledged counter
        lock = threading.Lock()
        errors = []

        def producer(pid):
            c = kclient(srv)
            keys = ["p%d-k%d" % (pid, i) for i in range(40)]
            nxt = dict((key, 0) for key in keys)
            while not stop.is_set():
                # One record per key per call, a refused one sent again before the next: the
                # order per key is the producer's, and every counter is written at most once.
                batch = [{"Data": ("%s:%d" % (key, nxt[key])).encode(), "PartitionKey": key}
                         for key in keys]
                try:
                    r = c.put_records(StreamName="rs", Records=batch)
                except Exception as e:  # noqa: BLE001
                    errors.append(e)
                    return
                with lock:
                    for rec, res in zip(batch, r["Records"]):
                        key = rec["PartitionKey"]
                        if "SequenceNumber" in res:
                            acked[key] = nxt[key]
                            nxt[key] += 1

        threads = [threading.Thread(target=producer, args=(p,), daemon=True) for p in range(2)]
        for t in threads:
            t.start()
        consumer = LineageConsumer(kclient(srv), "rs")
        consumer.step()
        total = lambda: sum(v + 1 for v in acked.values())  # noqa: E731
        steps = [
            lambda: k.split_shard(StreamName="rs", ShardToSplit="shardId-000000000000",
                                  NewStartingHashKey=str(2 ** 126)),
            lambda: k.merge_shards(StreamName="rs", ShardToMerge="shardId-000000000003",
                                   AdjacentShardToMerge="shardId-000000000001"),
            lambda: k.update_shard_count(StreamName="rs", TargetShardCount=4,
                                         ScalingType="UNIFORM_SCALING"),
            lambda: k.update_shard_count(StreamName="rs", TargetShardCount=2,
                                         ScalingType="UNIFORM_SCALING"),
        ]
        for step in steps:
            goal = total() + 1500
            while total() < goal:
                consumer.step()
            step()
        goal = total() + 1500
        while total() < goal:
            consumer.step()
        stop.set()
        for t in threads:
            t.join(30)
        self.assertEqual(errors, [])
        deadline = time.monotonic() + harness.scaled(60)
        while not consumer.step():
            self.assertLess(time.monotonic(), deadline, "consumer never caught up")
        seen = {}
        for sid, key, data in consumer.records:
            k2, n = data.decode().rsplit(":", 1)
            self.assertEqual(k2, key)
            seen.setdefault(key, []).append(int(n))
        for key, last in acked.items():
            self.assertEqual(seen.get(key), list(range(last + 1)),
                             "key %s: every record once, in order" % key)
        shards = consumer.shards()
        self.assertEqual(sum(1 for s in shards if "EndingSequenceNumber" not in
                             s["SequenceNumberRange"]), 2)
        sys.stderr.write("[reshard] %d records, %d shards, %d GetRecords\n"
                         % (len(consumer.records), len(shards), consumer.calls))
        kv = kclient(srv, validate=False)
        with self.assertRaises(ClientError) as cm:
            kv.split_shard(StreamName="rs", ShardToSplit="shardId-000000000000",
                           NewStartingHashKey="5")
        self.assertEqual(cm.exception.response["Error"]["Code"], "ResourceInUseException")
        k.create_stream(StreamName="rs-od", StreamModeDetails={"StreamMode": "ON_DEMAND"})
        with self.assertRaises(ClientError) as cm:
            k.update_shard_count(StreamName="rs-od", TargetShardCount=8,
                                 ScalingType="UNIFORM_SCALING")
        self.assertEqual(cm.exception.response["Error"]["Code"], "ValidationException")


class KinesisJsSdkTest(HydrantTestCase):
    """@aws-sdk/client-kinesis (JS v3, npm, from tests/integration/js/package-lock.json)."""

    JS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js")

    @classmethod
    def setUpClass(cls):
        node, npm = shutil.which("node"), shutil.which("npm")
        if not node:
            raise unittest.SkipTest("node not found")
        if not os.path.isdir(os.path.join(cls.JS, "node_modules", "@aws-sdk", "client-kinesis")):
            if not npm:
                raise unittest.SkipTest("npm not found for tests/integration/js")
            p = subprocess.run([npm, "ci", "--prefix", cls.JS, "--no-audit", "--no-fund"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
            if p.returncode != 0:
                raise unittest.SkipTest("npm ci in tests/integration/js failed: %s" % p.stdout[-300:])
        cls.node = node
        cls.srv = cls.start_class_server()

    def test_js_sdk_round_trip(self):
        p = subprocess.run([self.node, os.path.join(self.JS, "kinesis_smoke.mjs"), self.srv.url,
                            "js"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=harness.scaled(120))
        self.assertEqual(p.returncode, 0, p.stderr.decode()[-2000:])
        r = json.loads(p.stdout.decode().strip().splitlines()[-1])
        self.assertEqual(r["failed"], 0)
        self.assertEqual(r["shards"], 2)
        self.assertEqual(sorted(r["got"]), sorted("js-%d" % i for i in range(21)))
        self.assertTrue(r["arrivalIsDate"])
        self.assertTrue(0 <= r["arrivalAgeMs"] < 120000, r)
        self.assertEqual((r["target"], r["open"]), (4, 4))


class KinesisSigV4Test(HydrantTestCase):
    """With --credentials the Kinesis front is behind SigV4 (scope service kinesis) too."""

    def test_signed_requests_pass_and_others_are_refused(self):
        d = tempfile.mkdtemp(prefix="hydrant-kcreds-")
        self._tmp_dirs.append(d)
        path = os.path.join(d, "credentials.json")
        with open(path, "w") as f:
            json.dump([{"AccessKeyId": "AKIDKINESIS", "SecretAccessKey": "kinesis-secret"}], f)
        srv = self.start_server(extra_args=["--credentials", path])
        cfg = Config(retries={"total_max_attempts": 1, "mode": "standard"})

        def client(key, secret):
            return boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret,
                                         region_name=harness.REGION).client(
                "kinesis", endpoint_url=srv.url, config=cfg)

        good = client("AKIDKINESIS", "kinesis-secret")
        good.create_stream(StreamName="auth", ShardCount=1)
        good.put_record(StreamName="auth", Data=b"signed", PartitionKey="p")
        self.assertEqual([r["Data"] for r in read_all(good, "auth")["shardId-000000000000"]],
                         [b"signed"])
        for key, secret, code in (("AKIDKINESIS", "wrong", "InvalidSignatureException"),
                                  ("AKIDOTHER", "x", "UnrecognizedClientException")):
            with self.assertRaises(ClientError) as cm:
                client(key, secret).put_record(StreamName="auth", Data=b"x", PartitionKey="p")
            self.assertEqual(cm.exception.response["Error"]["Code"], code)
        st, _h, body = raw(srv, "ListStreams", {})
        self.assertEqual((st, body["__type"]), (403, "MissingAuthenticationTokenException"))


class _KinesisCli(HydrantTestCase):
    MAJOR = None

    @classmethod
    def setUpClass(cls):
        import test_cli
        cls.aws = test_cli.find_cli(cls.MAJOR)
        if cls.aws is None:
            raise unittest.SkipTest("aws-cli v%d not found" % cls.MAJOR)
        cls.env_fn = staticmethod(test_cli.cli_env)
        cls.srv = cls.start_class_server()
        cls.tmp = os.path.join(cls._class_tmp, "cli")
        os.makedirs(cls.tmp)
        with open(os.path.join(cls.tmp, "config"), "w") as f:
            f.write("[default]\ncli_binary_format = raw-in-base64-out\n")

    def cli(self, *args, check=True):
        cmd = [self.aws, "--endpoint-url", self.srv.url, "--output", "json", "kinesis"] + list(args)
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=harness.scaled(90), env=self.env_fn(self.tmp))
        if check and p.returncode != 0:
            self.fail("%s: rc %d\n%s" % (" ".join(args[:2]), p.returncode, p.stderr.decode()))
        out = p.stdout.decode()
        return p.returncode, (json.loads(out) if out.strip() else {}), p.stderr.decode()

    def test_cli_round_trip(self):
        name = "cli%d" % self.MAJOR
        self.cli("create-stream", "--stream-name", name, "--shard-count", "2")
        self.cli("wait", "stream-exists", "--stream-name", name)
        _, r, _ = self.cli("put-record", "--stream-name", name, "--data", "hello",
                           "--partition-key", "k1")
        self.assertTrue(r["SequenceNumber"].isdigit())
        _, r, _ = self.cli("put-records", "--stream-name", name, "--records",
                           json.dumps([{"Data": "r%d" % i, "PartitionKey": "k%d" % i} for i in range(10)]))
        self.assertEqual(r["FailedRecordCount"], 0)
        _, shards, _ = self.cli("list-shards", "--stream-name", name)
        self.assertEqual(len(shards["Shards"]), 2)
        datas = []
        for s in shards["Shards"]:
            _, it, _ = self.cli("get-shard-iterator", "--stream-name", name, "--shard-id",
                                s["ShardId"], "--shard-iterator-type", "TRIM_HORIZON")
            _, g, _ = self.cli("get-records", "--shard-iterator", it["ShardIterator"])
            datas.extend(base64.b64decode(x["Data"]) for x in g["Records"])
        self.assertEqual(sorted(datas), sorted([b"hello"] + [b"r%d" % i for i in range(10)]))
        _, ls, _ = self.cli("list-streams")
        self.assertIn(name, ls["StreamNames"])
        _, r, _ = self.cli("update-shard-count", "--stream-name", name, "--target-shard-count",
                           "4", "--scaling-type", "UNIFORM_SCALING")
        self.assertEqual((r["CurrentShardCount"], r["TargetShardCount"]), (2, 4))
        _, shards, _ = self.cli("list-shards", "--stream-name", name)
        self.assertEqual(len(shards["Shards"]), 6)  # two closed parents, four children
        rc, _, err = self.cli("describe-stream", "--stream-name", "missing", check=False)
        self.assertIn("ResourceNotFoundException", err)
        self.cli("delete-stream", "--stream-name", name)


class KinesisCliV2Test(_KinesisCli):
    MAJOR = 2


class KinesisCliV1Test(_KinesisCli):
    MAJOR = 1


del _KinesisCli

if __name__ == "__main__":
    unittest.main()
