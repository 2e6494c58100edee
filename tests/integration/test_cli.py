"""The AWS CLI (v2 from Debian, v1 from pyenv) against hydrant, via subprocess."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import HydrantTestCase, wait_until  # noqa: E402


def find_cli(major):
    """Path of an aws executable whose --version says aws-cli/<major>., or None."""
    env_name = "HYDRANT_AWS_V%d" % major
    cands = [os.environ.get(env_name)]
    if major == 2:
        cands += ["/usr/bin/aws", "/usr/local/bin/aws"]
    else:
        cands += [os.path.expanduser("~/.pyenv/shims/aws"), "/root/.pyenv/shims/aws"]
    cands.append(shutil.which("aws"))
    for c in cands:
        if not c or not os.path.exists(c):
            continue
        try:
            out = subprocess.run([c, "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 timeout=60, env=cli_env(None)).stdout.decode()
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.startswith("aws-cli/%d." % major):
            return c
    return None


def cli_env(tmp):
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("AWS_"):
            del env[k]
    env.update({"AWS_ACCESS_KEY_ID": harness.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": harness.SECRET_KEY,
                "AWS_DEFAULT_REGION": harness.REGION, "AWS_REGION": harness.REGION, "AWS_PAGER": "",
                "AWS_MAX_ATTEMPTS": "1"})
    if tmp:
        env["AWS_CONFIG_FILE"] = os.path.join(tmp, "config")
        env["AWS_SHARED_CREDENTIALS_FILE"] = os.path.join(tmp, "credentials")
    return env


class CliCase(HydrantTestCase):
    MAJOR = None

    @classmethod
    def setUpClass(cls):
        cls.aws = find_cli(cls.MAJOR)
        if cls.aws is None:
            raise unittest.SkipTest("aws-cli v%d not found" % cls.MAJOR)
        cls.start_class_server()
        cls.tmp = tempfile.mkdtemp(prefix="hydrant-cli-")
        # Older CLI models (v2.9) say IntervalInSeconds >= 60; let the server judge instead.
        with open(os.path.join(cls.tmp, "config"), "w") as f:
            f.write("[default]\nparameter_validation = false\n")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(getattr(cls, "tmp", "") or "/nonexistent", ignore_errors=True)
        super(CliCase, cls).tearDownClass()

    def setUp(self):
        self.srv = self.class_server

    def aws_cli(self, *args, **kw):
        """Run `aws --endpoint-url URL --output json firehose ARGS`; returns (rc, stdout, stderr)."""
        cmd = [self.aws, "--endpoint-url", self.srv.url, "--output", "json", "firehose"] + list(args)
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=harness.scaled(90), env=cli_env(self.tmp))
        out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
        if kw.get("check", True) and p.returncode != 0:
            self.fail("%s failed (rc %d):\nstdout: %s\nstderr: %s" % (" ".join(args[:2]), p.returncode, out, err))
        return p.returncode, out, err

    def aws_json(self, *args):
        _rc, out, _err = self.aws_cli(*args)
        return json.loads(out) if out.strip() else {}

    def create(self, name, bucket):
        dest = json.dumps({"RoleARN": harness.ROLE_ARN, "BucketARN": "arn:aws:s3:::" + bucket,
                           "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0}})
        r = self.aws_json("create-delivery-stream", "--delivery-stream-name", name,
                          "--delivery-stream-type", "DirectPut", "--extended-s3-destination-configuration", dest)
        self.assertTrue(r["DeliveryStreamARN"].endswith(":deliverystream/" + name), r)
        wait_until(lambda: self.aws_json("describe-delivery-stream", "--delivery-stream-name", name)
                   ["DeliveryStreamDescription"]["DeliveryStreamStatus"] == "ACTIVE", 20, what="ACTIVE")

    def delivered(self, bucket):
        return b"".join(self.srv.read_object(bucket, k) for k in self.srv.objects(bucket))


class CliV2Test(CliCase):
    MAJOR = 2

    def test_cli_v2_full_cycle(self):
        name, bucket = "cli2", "cli2"
        self.create(name, bucket)
        d = self.aws_json("describe-delivery-stream", "--delivery-stream-name", name)["DeliveryStreamDescription"]
        self.assertEqual(d["VersionId"], "1")
        self.assertEqual(d["Destinations"][0]["ExtendedS3DestinationDescription"]["BufferingHints"],
                         {"SizeInMBs": 1, "IntervalInSeconds": 0})
        lst = self.aws_json("list-delivery-streams")
        self.assertIn(name, lst["DeliveryStreamNames"])
        r = self.aws_json("put-record", "--cli-binary-format", "raw-in-base64-out",
                          "--delivery-stream-name", name, "--record", '{"Data":"hello-v2\\n"}')
        self.assertTrue(r["RecordId"])
        wait_until(lambda: self.delivered(bucket) == b"hello-v2\n", 10, what="put-record delivered")
        # v2 default: Data is base64
        self.aws_json("put-record", "--delivery-stream-name", name, "--record", "Data=YjY0LXYyCg==")
        wait_until(lambda: b"b64-v2\n" in self.delivered(bucket), 10, what="base64 put-record delivered")
        r = self.aws_json("put-record-batch", "--cli-binary-format", "raw-in-base64-out",
                          "--delivery-stream-name", name,
                          "--records", '[{"Data":"batch-a\\n"},{"Data":"batch-b\\n"}]')
        self.assertEqual(r["FailedPutCount"], 0)
        self.assertEqual(len(r["RequestResponses"]), 2)
        wait_until(lambda: self.delivered(bucket).count(b"batch-") == 2, 10, what="batch delivered")
        self.assertEqual(sorted(self.delivered(bucket).split(b"\n")),
                         sorted([b"", b"hello-v2", b"b64-v2", b"batch-a", b"batch-b"]))
        dest_id = d["Destinations"][0]["DestinationId"]
        self.aws_cli("update-destination", "--delivery-stream-name", name,
                     "--current-delivery-stream-version-id", "1", "--destination-id", dest_id,
                     "--extended-s3-destination-update",
                     '{"BufferingHints":{"SizeInMBs":2,"IntervalInSeconds":0}}')
        d = self.aws_json("describe-delivery-stream", "--delivery-stream-name", name)["DeliveryStreamDescription"]
        self.assertEqual(d["VersionId"], "2")
        rc, _out, err = self.aws_cli("update-destination", "--delivery-stream-name", name,
                                     "--current-delivery-stream-version-id", "1", "--destination-id", dest_id,
                                     "--extended-s3-destination-update", '{"Prefix":"x/"}', check=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("ConcurrentModificationException", err)
        self.aws_cli("tag-delivery-stream", "--delivery-stream-name", name,
                     "--tags", "Key=b,Value=2", "Key=a,Value=1")
        t = self.aws_json("list-tags-for-delivery-stream", "--delivery-stream-name", name)
        self.assertEqual(t["Tags"], [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
        self.assertIs(t["HasMoreTags"], False)
        self.aws_cli("untag-delivery-stream", "--delivery-stream-name", name, "--tag-keys", "a")
        t = self.aws_json("list-tags-for-delivery-stream", "--delivery-stream-name", name)
        self.assertEqual(t["Tags"], [{"Key": "b", "Value": "2"}])
        self.aws_cli("delete-delivery-stream", "--delivery-stream-name", name)

        def gone():
            rc2, _o, e = self.aws_cli("describe-delivery-stream", "--delivery-stream-name", name, check=False)
            return rc2 != 0 and "ResourceNotFoundException" in e
        wait_until(gone, 20, interval=0.2, what="deleted stream not found")

    def test_cli_v2_error_exit_code(self):
        rc, out, err = self.aws_cli("describe-delivery-stream", "--delivery-stream-name", "no-such-cli",
                                    check=False)
        self.assertNotEqual(rc, 0)
        self.assertEqual(rc, 254, "aws-cli v2 exit code for a service error")
        self.assertIn("ResourceNotFoundException", err)
        self.assertIn("DescribeDeliveryStream", err)
        self.assertEqual(out.strip(), "")


class CliV1Test(CliCase):
    MAJOR = 1

    def test_cli_v1_put_record_raw_text(self):
        name, bucket = "cli1", "cli1"
        self.create(name, bucket)
        r = self.aws_json("put-record", "--delivery-stream-name", name, "--record", "Data=hello-v1")
        self.assertTrue(r["RecordId"])
        wait_until(lambda: self.delivered(bucket) == b"hello-v1", 10, what="v1 put-record delivered")
        r = self.aws_json("put-record-batch", "--delivery-stream-name", name,
                          "--records", '[{"Data":"one"},{"Data":"two"}]')
        self.assertEqual(r["FailedPutCount"], 0)
        wait_until(lambda: len(self.delivered(bucket)) == len(b"hello-v1onetwo"), 10, what="v1 batch delivered")
        data = self.delivered(bucket)
        for piece in (b"hello-v1", b"one", b"two"):
            self.assertEqual(data.count(piece), 1, data)
        rc, _o, err = self.aws_cli("describe-delivery-stream", "--delivery-stream-name", "nope-v1", check=False)
        self.assertEqual(rc, 255)
        self.assertIn("ResourceNotFoundException", err)


if __name__ == "__main__":
    unittest.main()
