"""SigV4 on the Firehose front with --credentials: real signers (boto3, aws-cli v1 and v2) are
accepted; wrong keys, secrets, tokens and every tampered part of a botocore-signed request are
refused with the error types AWS's JSON services use; per-key operation and stream limits."""

import datetime
import http.client
import json
import os
import shutil
import subprocess
import sys
import unittest
from unittest import mock

from harness import HydrantTestCase, REGION, ROLE_ARN, scaled, create_stream, s3_dest

try:
    import boto3
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.config import Config
    from botocore.credentials import Credentials
    from botocore.exceptions import ClientError
    from botocore import UNSIGNED
except ImportError:  # pragma: no cover
    boto3 = None

from test_readme import find_cli

KEY, SECRET = "AKIDSIGV4TEST", "sigv4-test-secret/+abc"
TEMP_KEY, TEMP_SECRET, TEMP_TOKEN = "ASIATEMPTEST", "temp-secret", "FwoGZXIvYXdzEJr//token=="
LIMITED_KEY, LIMITED_SECRET = "AKIDLIMITED", "limited-secret"


@unittest.skipIf(boto3 is None, "boto3 missing")
class SigV4Test(HydrantTestCase):
    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.creds_dir = tempfile.mkdtemp(prefix="hydrant-creds-")
        path = os.path.join(cls.creds_dir, "credentials.json")
        with open(path, "w") as f:
            json.dump([
                {"AccessKeyId": KEY, "SecretAccessKey": SECRET},
                {"AccessKeyId": TEMP_KEY, "SecretAccessKey": TEMP_SECRET, "SessionToken": TEMP_TOKEN},
                {"AccessKeyId": LIMITED_KEY, "SecretAccessKey": LIMITED_SECRET,
                 "Streams": ["logs-*"], "Operations": ["PutRecord", "PutRecordBatch",
                                                       "DescribeDeliveryStream"]},
            ], f)
        os.chmod(path, 0o600)
        cls.start_class_server(extra_args=["--credentials", path])
        cls.client_for(KEY, SECRET).create_delivery_stream(
            DeliveryStreamName="logs-a", ExtendedS3DestinationConfiguration=s3_dest())
        cls.client_for(KEY, SECRET).create_delivery_stream(
            DeliveryStreamName="orders", ExtendedS3DestinationConfiguration=s3_dest())

    @classmethod
    def tearDownClass(cls):
        super(SigV4Test, cls).tearDownClass()
        import shutil
        shutil.rmtree(cls.creds_dir, ignore_errors=True)

    @classmethod
    def client_for(cls, key, secret, token=None, unsigned=False):
        cfg = Config(retries={"total_max_attempts": 1}, connect_timeout=5,
                     read_timeout=scaled(30), signature_version=UNSIGNED if unsigned else None)
        s = boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret,
                                  aws_session_token=token, region_name=REGION)
        return s.client("firehose", endpoint_url=cls.class_server.url, config=cfg)

    def code_of(self, fn, **kw):
        with self.assertRaises(ClientError) as cm:
            fn(**kw)
        return cm.exception.response["Error"]["Code"], cm.exception.response["Error"]["Message"]

    # --- real signers -----------------------------------------------------------------------

    def test_boto3_signed_requests_are_served(self):
        c = self.client_for(KEY, SECRET)
        names = c.list_delivery_streams()["DeliveryStreamNames"]
        self.assertIn("logs-a", names)
        r = c.put_record_batch(DeliveryStreamName="logs-a",
                               Records=[{"Data": b"x" * 100} for _ in range(50)])
        self.assertEqual(r["FailedPutCount"], 0)
        t = self.client_for(TEMP_KEY, TEMP_SECRET, TEMP_TOKEN)
        self.assertEqual(t.put_record(DeliveryStreamName="orders", Record={"Data": b"1"})
                         ["Encrypted"], False)

    def test_boto3_wrong_secret_unknown_key_token_and_unsigned(self):
        self.assertEqual(self.code_of(self.client_for(KEY, "wrong").list_delivery_streams)[0],
                         "InvalidSignatureException")
        code, msg = self.code_of(self.client_for("AKIDNOBODY", SECRET).list_delivery_streams)
        self.assertEqual((code, msg), ("UnrecognizedClientException",
                                       "The security token included in the request is invalid."))
        self.assertEqual(self.code_of(self.client_for(TEMP_KEY, TEMP_SECRET).list_delivery_streams)[0],
                         "UnrecognizedClientException")
        self.assertEqual(self.code_of(self.client_for(TEMP_KEY, TEMP_SECRET, "other")
                                      .list_delivery_streams)[0], "UnrecognizedClientException")
        self.assertEqual(self.code_of(self.client_for(KEY, SECRET, unsigned=True)
                                      .list_delivery_streams)[0],
                         "MissingAuthenticationTokenException")

    def test_expired_and_future_signatures(self):
        c = self.client_for(KEY, SECRET)
        for minutes, word in ((-16, "Signature expired"), (16, "Signature not yet current")):
            then = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) + \
                datetime.timedelta(minutes=minutes)
            with mock.patch.object(botocore.auth, "get_current_datetime", return_value=then):
                code, msg = self.code_of(c.list_delivery_streams)
            self.assertEqual(code, "InvalidSignatureException")
            self.assertIn(word, msg)
        then = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - \
            datetime.timedelta(minutes=10)
        with mock.patch.object(botocore.auth, "get_current_datetime", return_value=then):
            c.list_delivery_streams()  # inside the 15-minute window

    def test_per_key_operations_and_streams(self):
        c = self.client_for(LIMITED_KEY, LIMITED_SECRET)
        c.put_record(DeliveryStreamName="logs-a", Record={"Data": b"ok"})
        code, msg = self.code_of(c.put_record, DeliveryStreamName="orders", Record={"Data": b"no"})
        self.assertEqual(code, "AccessDeniedException")
        self.assertIn("deliverystream/orders", msg)
        code, msg = self.code_of(c.list_delivery_streams)
        self.assertEqual(code, "AccessDeniedException")
        self.assertIn("firehose:ListDeliveryStreams", msg)

    def test_aws_cli_v1_and_v2_sign_and_fail_with_a_wrong_secret(self):
        ran = 0
        for major in (1, 2):
            cli = find_cli(major)
            if cli is None:
                continue
            ran += 1
            env = dict(os.environ, AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET,
                       AWS_DEFAULT_REGION=REGION, AWS_CONFIG_FILE="/dev/null",
                       AWS_SHARED_CREDENTIALS_FILE="/dev/null", AWS_PAGER="")
            args = [cli, "firehose", "list-delivery-streams", "--endpoint-url",
                    self.class_server.url, "--output", "json"]
            r = subprocess.run(args, env=env, capture_output=True, timeout=scaled(120))
            self.assertEqual(r.returncode, 0, r.stderr.decode()[-500:])
            self.assertIn("logs-a", json.loads(r.stdout)["DeliveryStreamNames"])
            env["AWS_SECRET_ACCESS_KEY"] = "wrong"
            r = subprocess.run(args, env=env, capture_output=True, timeout=scaled(120))
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(b"InvalidSignatureException", r.stderr)
        if not ran:
            self.skipTest("no aws-cli found")

    def test_aws_sdk_for_javascript_v3_signs(self):
        js = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js")
        node = shutil.which("node")
        if not node or not os.path.isdir(os.path.join(js, "node_modules", "@aws-sdk")):
            self.skipTest("node or tests/integration/js/node_modules missing (npm ci there)")
        def run(secret):
            r = subprocess.run([node, os.path.join(js, "sign.mjs"), self.class_server.url, KEY,
                                secret, "logs-a"], capture_output=True, timeout=scaled(60), cwd=js)
            self.assertEqual(r.returncode, 0, r.stderr.decode()[-500:])
            return json.loads(r.stdout.decode().strip().splitlines()[-1])
        out = run(SECRET)
        self.assertTrue(out["ok"], out)
        self.assertIn("logs-a", out["names"])
        out = run("wrong")
        self.assertEqual((out["ok"], out["name"]), (False, "InvalidSignatureException"), out)

    # --- tampering with a botocore-signed request --------------------------------------------

    def signed(self, body=b'{"Limit":5}', target="Firehose_20150804.ListDeliveryStreams",
               path="/", region=REGION, key=KEY, secret=SECRET):
        host = "127.0.0.1:%d" % self.class_server.port
        req = AWSRequest(method="POST", url="http://%s%s" % (host, path), data=body,
                         headers={"Content-Type": "application/x-amz-json-1.1",
                                  "X-Amz-Target": target})
        botocore.auth.SigV4Auth(Credentials(key, secret), "firehose", region).add_auth(req)
        return {"path": path, "body": body, "headers": dict(req.headers.items())}

    def send(self, r):
        conn = http.client.HTTPConnection("127.0.0.1", self.class_server.port, timeout=scaled(10))
        try:
            h = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in r["headers"].items()}
            conn.request("POST", r["path"], body=r["body"], headers=h)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, (json.loads(data).get("__type") if data else None)
        finally:
            conn.close()

    def test_each_tampered_part_is_refused(self):
        self.assertEqual(self.send(self.signed()), (200, None))
        cases = []
        r = self.signed(); r["body"] = b'{"Limit":6}'; cases.append(("body", r))
        r = self.signed(); r["headers"]["X-Amz-Target"] = "Firehose_20150804.DeleteDeliveryStream"
        cases.append(("header", r))
        r = self.signed(); r["path"] = "/x"; cases.append(("path", r))
        r = self.signed(path="/?a=1"); r["path"] = "/?a=2"; cases.append(("query", r))
        r = self.signed()
        d = r["headers"]["X-Amz-Date"]
        r["headers"]["X-Amz-Date"] = d[:-3] + ("%02dZ" % ((int(d[-3:-1]) + 1) % 60))
        cases.append(("date", r))
        r = self.signed(region="eu-west-1"); cases.append(("scope", r))
        r = self.signed(secret="other-secret"); cases.append(("key", r))
        for what, r in cases:
            with self.subTest(what):
                self.assertEqual(self.send(r), (400, "InvalidSignatureException"))
        r = self.signed()
        r["headers"]["Authorization"] = r["headers"]["Authorization"].replace("SignedHeaders=", "X=")
        self.assertEqual(self.send(r), (400, "IncompleteSignatureException"))

    def test_denials_are_logged_with_request_ids(self):
        self.code_of(self.client_for("AKIDLOGGED", SECRET).list_delivery_streams)
        with open(self.class_server.log_path) as f:
            log = f.read()
        self.assertRegex(log, r'"mod":"awsauth","msg":"denied","request_id":"[0-9a-f-]{36}",'
                              r'"reason":"unknown_key","akid":"AKIDLOGGED"')
        m = self.class_server.metrics()
        denied = m.get(("hydrant_sigv4_requests_total",
                        (("reason", "unknown_key"), ("result", "denied"), ("service", "firehose"))))
        ok = m.get(("hydrant_sigv4_requests_total",
                    (("reason", "ok"), ("result", "ok"), ("service", "firehose"))))
        self.assertGreaterEqual(denied or 0, 1)
        self.assertGreaterEqual(ok or 0, 1)


if __name__ == "__main__":
    unittest.main()
