"""SigV4 on the S3 REST front with --credentials: real signers (boto3, aws-cli v1 and v2, the JS
SDK v3) are served, presigned URLs work until they expire, and every tampered part of a signed
request gets the S3 XML error AWS gives (SignatureDoesNotMatch, InvalidAccessKeyId,
AccessDenied, RequestTimeTooSkewed, AuthorizationHeaderMalformed, XAmzContentSHA256Mismatch),
bodiless on HEAD. aws-chunked bodies have each chunk signature checked; bodies over the HTTP
body limit (streamed to disk) have their signed SHA-256 checked. Per-key buckets/operations."""

import datetime
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.error
import urllib.request
from unittest import mock

import harness
from harness import HydrantTestCase, REGION, scaled
from test_cli import cli_env
from test_readme import find_cli

try:
    import boto3
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.config import Config
    from botocore.credentials import Credentials
    from botocore.exceptions import ClientError
except ImportError:  # pragma: no cover
    boto3 = None

KEY, SECRET = "AKIDS3AUTHTEST", "s3-auth-secret/+xyz"
RO_KEY, RO_SECRET = "AKIDS3READONLY", "read-only-secret"
MiB = 1 << 20
EMPTY_SHA = hashlib.sha256(b"").hexdigest()


if boto3 is not None:
    class FixedPayloadAuth(botocore.auth.S3SigV4Auth):
        """botocore's S3 signer with x-amz-content-sha256 forced (UNSIGNED-PAYLOAD, STREAMING-...)."""

        def __init__(self, credentials, service, region, payload):
            super().__init__(credentials, service, region)
            self.fixed = payload

        def payload(self, request):
            return self.fixed if self.fixed else super().payload(request)


@unittest.skipIf(boto3 is None, "boto3 missing")
class S3AuthTest(HydrantTestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hydrant-s3auth-")
        path = os.path.join(cls.tmp, "credentials.json")
        with open(path, "w") as f:
            json.dump([
                {"AccessKeyId": KEY, "SecretAccessKey": SECRET},
                {"AccessKeyId": RO_KEY, "SecretAccessKey": RO_SECRET, "Buckets": ["pub*"],
                 "Operations": ["s3:GetObject", "s3:HeadObject", "s3:List*"]},
            ], f)
        os.chmod(path, 0o600)
        cls.start_class_server(extra_args=["--credentials", path])
        c = cls.client(KEY, SECRET)
        for b in ("lake", "pub1"):
            c.create_bucket(Bucket=b)
        c.put_object(Bucket="lake", Key="hello.txt", Body=b"hello world")
        c.put_object(Bucket="pub1", Key="p.txt", Body=b"public")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super(S3AuthTest, cls).tearDownClass()

    @classmethod
    def client(cls, key, secret):
        cfg = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=scaled(60),
                     s3={"addressing_style": "path"}, signature_version="s3v4")
        return boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret,
                                     region_name=REGION).client(
            "s3", endpoint_url=cls.class_server.url, config=cfg)

    def error_of(self, fn, **kw):
        with self.assertRaises(ClientError) as cm:
            fn(**kw)
        e = cm.exception.response
        return e["ResponseMetadata"]["HTTPStatusCode"], e["Error"]["Code"]

    # --- raw requests signed by botocore, then tampered -------------------------------------

    def signed(self, method="PUT", path="/lake/t.txt", body=b"payload", headers=None,
               key=KEY, secret=SECRET, region=REGION, content_sha=None, when=None):
        url = "http://127.0.0.1:%d%s" % (self.class_server.port, path)
        h = dict(headers or {})
        req = AWSRequest(method=method, url=url, data=body, headers=h)
        signer = FixedPayloadAuth(Credentials(key, secret), "s3", region, content_sha)
        if when is not None:
            with mock.patch.object(botocore.auth, "get_current_datetime", return_value=when):
                signer.add_auth(req)
        else:
            signer.add_auth(req)
        return {"method": method, "path": path, "body": body,
                "headers": {k: (v.decode() if isinstance(v, bytes) else v)
                            for k, v in req.headers.items()}}

    def send(self, r):
        conn = http.client.HTTPConnection("127.0.0.1", self.class_server.port, timeout=scaled(30))
        try:
            conn.request(r["method"], r["path"], body=r["body"], headers=r["headers"])
            resp = conn.getresponse()
            data = resp.read()
            m = re.search(rb"<Code>([^<]*)</Code>", data)
            return resp.status, (m.group(1).decode() if m else None), data
        finally:
            conn.close()

    def test_signed_put_and_each_tampered_part(self):
        self.assertEqual(self.send(self.signed())[:2], (200, None))
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        cases = []
        r = self.signed(); r["body"] = b"PAYLOAD"
        cases.append(("body", r, 400, "XAmzContentSHA256Mismatch"))
        r = self.signed(headers={"Content-Type": "text/plain"})
        r["headers"]["Content-Type"] = "text/html"
        cases.append(("header", r, 403, "SignatureDoesNotMatch"))
        r = self.signed(); r["path"] = "/lake/u.txt"
        cases.append(("path", r, 403, "SignatureDoesNotMatch"))
        r = self.signed(path="/lake/t.txt?tagging"); r["path"] = "/lake/t.txt?acl"
        cases.append(("query", r, 403, "SignatureDoesNotMatch"))
        r = self.signed()
        d = r["headers"]["X-Amz-Date"]
        r["headers"]["X-Amz-Date"] = d[:-3] + ("%02dZ" % ((int(d[-3:-1]) + 1) % 60))
        cases.append(("date", r, 403, "SignatureDoesNotMatch"))
        cases.append(("key", self.signed(key="AKIDNOSUCHKEY"), 403, "InvalidAccessKeyId"))
        cases.append(("secret", self.signed(secret="wrong"), 403, "SignatureDoesNotMatch"))
        cases.append(("skew", self.signed(when=now - datetime.timedelta(minutes=16)), 403,
                      "RequestTimeTooSkewed"))
        cases.append(("region", self.signed(region="eu-west-1"), 400,
                      "AuthorizationHeaderMalformed"))
        r = self.signed()
        r["headers"]["Authorization"] = r["headers"]["Authorization"].replace("SignedHeaders=", "X=")
        cases.append(("malformed", r, 400, "AuthorizationHeaderMalformed"))
        r = self.signed(); del r["headers"]["Authorization"]
        cases.append(("missing", r, 403, "AccessDenied"))
        for what, r, status, code in cases:
            with self.subTest(what):
                self.assertEqual(self.send(r)[:2], (status, code))
        # Inside the 15-minute window an old signature still verifies.
        self.assertEqual(self.send(self.signed(when=now - datetime.timedelta(minutes=10)))[0], 200)
        # HEAD refusals carry no body.
        st, _code, data = self.send(self.signed(method="HEAD", body=b"", secret="wrong"))
        self.assertEqual((st, data), (403, b""))

    def test_unsigned_payload_and_signed_chunks(self):
        r = self.signed(path="/lake/u.txt", body=b"unsigned body", content_sha="UNSIGNED-PAYLOAD")
        self.assertEqual(self.send(r)[:2], (200, None))
        data = os.urandom(200000)
        self.assertEqual(self.send(self.chunked(data))[:2], (200, None))
        got = self.client(KEY, SECRET).get_object(Bucket="lake", Key="c.bin")["Body"].read()
        self.assertEqual(got, data)
        bad = self.chunked(data)
        i = bad["body"].index(b"\r\n") + 100  # a byte of the first chunk's data
        bad["body"] = bad["body"][:i] + bytes([bad["body"][i] ^ 1]) + bad["body"][i + 1:]
        self.assertEqual(self.send(bad)[:2], (403, "SignatureDoesNotMatch"))
        bad = self.chunked(data)
        bad["body"] = re.sub(rb"0;chunk-signature=[0-9a-f]{64}", b"0;chunk-signature=" + b"0" * 64,
                             bad["body"])
        self.assertEqual(self.send(bad)[:2], (403, "SignatureDoesNotMatch"))

    def chunked(self, data, size=65536, path="/lake/c.bin"):
        """A STREAMING-AWS4-HMAC-SHA256-PAYLOAD upload: the head signed by botocore, each chunk
        signed here as AWS's S3 documentation describes (the unit test checks AWS's vector)."""
        chunks = [data[i:i + size] for i in range(0, len(data), size)] + [b""]
        framed = sum(len("%x;chunk-signature=" % len(c)) + 64 + 4 + len(c) for c in chunks)
        r = self.signed(path=path, body=b"", content_sha="STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                        headers={"Content-Encoding": "aws-chunked", "Content-Length": str(framed),
                                 "x-amz-decoded-content-length": str(len(data))})
        auth = r["headers"]["Authorization"]
        prev = re.search(r"Signature=([0-9a-f]{64})", auth).group(1)
        date = r["headers"]["X-Amz-Date"]
        scope = "%s/%s/s3/aws4_request" % (date[:8], REGION)
        k = ("AWS4" + SECRET).encode()
        for part in (date[:8], REGION, "s3", "aws4_request"):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        body = b""
        for c in chunks:
            sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", date, scope, prev, EMPTY_SHA,
                             hashlib.sha256(c).hexdigest()])
            prev = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
            body += b"%x;chunk-signature=%s\r\n%s\r\n" % (len(c), prev.encode(), c)
        r["body"] = body
        return r

    def test_streamed_body_hash_checked(self):
        """Over the 8 MiB body limit the body streams to disk; its signed hash is checked."""
        data = os.urandom(9 * MiB)
        c = self.client(KEY, SECRET)
        c.put_object(Bucket="lake", Key="big.bin", Body=data)
        self.assertEqual(c.head_object(Bucket="lake", Key="big.bin")["ContentLength"], len(data))
        r = self.signed(path="/lake/big2.bin", body=data)
        r["body"] = data[:-1] + bytes([data[-1] ^ 1])
        self.assertEqual(self.send(r)[:2], (400, "XAmzContentSHA256Mismatch"))
        self.assertEqual(self.error_of(c.head_object, Bucket="lake", Key="big2.bin")[0], 404)
        r = self.signed(path="/lake/big3.bin", body=data, secret="wrong")
        self.assertEqual(self.send(r)[:2], (403, "SignatureDoesNotMatch"))
        # Signed aws-chunked over the limit: decoded and verified chunk by chunk on the way in.
        r = self.chunked(data, size=MiB, path="/lake/big4.bin")
        self.assertEqual(self.send(r)[:2], (200, None))
        self.assertEqual(c.get_object(Bucket="lake", Key="big4.bin")["Body"].read(), data)
        body = r["body"]
        i = len(body) - MiB  # inside a late chunk's data
        r["body"] = body[:i] + bytes([body[i] ^ 1]) + body[i + 1:]
        self.assertEqual(self.send(r)[:2], (403, "SignatureDoesNotMatch"))
        self.assertEqual(c.get_object(Bucket="lake", Key="big4.bin")["Body"].read(), data)

    # --- boto3 ------------------------------------------------------------------------------

    def test_boto3_presigned_urls_and_errors(self):
        c = self.client(KEY, SECRET)
        self.assertEqual(c.get_object(Bucket="lake", Key="hello.txt")["Body"].read(), b"hello world")
        url = c.generate_presigned_url("get_object", Params={"Bucket": "lake", "Key": "hello.txt"},
                                       ExpiresIn=60)
        with urllib.request.urlopen(url, timeout=scaled(10)) as resp:
            self.assertEqual(resp.read(), b"hello world")
        for bad in (url.replace("hello.txt", "hello.tx"), url.replace("X-Amz-Expires=60", "X-Amz-Expires=61")):
            with self.assertRaises(urllib.error.HTTPError) as cm:
                urllib.request.urlopen(bad, timeout=scaled(10))
            self.assertEqual(cm.exception.code, 403)
            self.assertIn(b"<Code>SignatureDoesNotMatch</Code>", cm.exception.read())
        past = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - \
            datetime.timedelta(minutes=5)
        with mock.patch.object(botocore.auth, "get_current_datetime", return_value=past):
            old = c.generate_presigned_url("get_object", Params={"Bucket": "lake", "Key": "hello.txt"},
                                           ExpiresIn=60)
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen(old, timeout=scaled(10))
        self.assertEqual(cm.exception.code, 403)
        body = cm.exception.read()
        self.assertIn(b"<Code>AccessDenied</Code>", body)
        self.assertIn(b"Request has expired", body)
        self.assertEqual(self.error_of(self.client("AKIDNOPE", SECRET).list_buckets),
                         (403, "InvalidAccessKeyId"))
        self.assertEqual(self.error_of(self.client(KEY, "wrong").list_buckets),
                         (403, "SignatureDoesNotMatch"))
        # HEAD: no body, botocore reports the status.
        self.assertEqual(self.error_of(self.client(KEY, "wrong").head_object, Bucket="lake",
                                       Key="hello.txt"), (403, "403"))
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen(self.class_server.url + "/lake/hello.txt", timeout=scaled(10))
        self.assertEqual(cm.exception.code, 403)
        self.assertIn(b"<Code>AccessDenied</Code>", cm.exception.read())

    def test_per_key_buckets_and_operations(self):
        ro = self.client(RO_KEY, RO_SECRET)
        self.assertEqual(ro.get_object(Bucket="pub1", Key="p.txt")["Body"].read(), b"public")
        self.assertEqual([o["Key"] for o in ro.list_objects_v2(Bucket="pub1")["Contents"]], ["p.txt"])
        self.assertEqual(self.error_of(ro.get_object, Bucket="lake", Key="hello.txt"),
                         (403, "AccessDenied"))
        self.assertEqual(self.error_of(ro.put_object, Bucket="pub1", Key="x", Body=b"x"),
                         (403, "AccessDenied"))
        self.assertEqual(self.error_of(ro.copy_object, Bucket="pub1", Key="x",
                                       CopySource="lake/hello.txt"), (403, "AccessDenied"))
        with open(self.class_server.log_path) as f:
            log = f.read()
        self.assertRegex(log, r'"mod":"s3auth","msg":"request denied","request_id":"[0-9A-F]{16}",'
                              r'"reason":"bucket_not_allowed","akid":"AKIDS3READONLY"')

    # --- aws-cli v1 and v2, the JS SDK v3 -----------------------------------------------------

    def cli(self, cmd, *args, secret=SECRET):
        env = cli_env(self.tmp)
        env.update(AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=secret)
        p = subprocess.run(cmd + ["--endpoint-url", self.class_server.url] + list(args),
                           capture_output=True, timeout=scaled(180), env=env)
        return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")

    def test_aws_cli_v1_and_v2(self):
        # aws-cli v1 presigns with SigV2 unless told (hydrant, like S3, answers InvalidRequest).
        with open(os.path.join(self.tmp, "config"), "w") as f:
            f.write("[default]\ns3 =\n    signature_version = s3v4\n")
        big = os.path.join(self.tmp, "big")
        with open(big, "wb") as f:
            f.write(os.urandom(3 * MiB))
        v1 = subprocess.run([sys.executable, "-m", "awscli", "--version"], capture_output=True,
                            env=cli_env(None)).stdout.decode()
        clis = [("v1", [sys.executable, "-m", "awscli"])] if v1.startswith("aws-cli/1.") else []
        v2 = find_cli(2)
        clis += [("v2", [v2])] if v2 else []
        if not clis:
            self.skipTest("no aws-cli found")
        for name, cmd in clis:
            with self.subTest(name):
                rc, _o, err = self.cli(cmd, "s3", "cp", "--only-show-errors", big,
                                       "s3://lake/cli-%s.bin" % name)
                self.assertEqual(rc, 0, err[-1000:])
                got = self.client(KEY, SECRET).get_object(Bucket="lake", Key="cli-%s.bin" % name)
                with open(big, "rb") as f:
                    self.assertEqual(got["Body"].read(), f.read())
                rc, url, err = self.cli(cmd, "s3", "presign", "s3://lake/hello.txt")
                self.assertEqual(rc, 0, err)
                with urllib.request.urlopen(url.strip(), timeout=scaled(10)) as resp:
                    self.assertEqual(resp.read(), b"hello world")
                rc, _o, err = self.cli(cmd, "s3", "cp", big, "s3://lake/no.bin", secret="wrong")
                self.assertNotEqual(rc, 0)
                self.assertIn("SignatureDoesNotMatch", err)

    def test_aws_sdk_for_javascript_v3(self):
        js = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js")
        node = shutil.which("node")
        if not node or not os.path.isdir(os.path.join(js, "node_modules", "@aws-sdk", "client-s3")):
            self.skipTest("node or tests/integration/js/node_modules missing (make test-deps)")
        for secret, want in ((SECRET, "ok"), ("wrong", "denied SignatureDoesNotMatch 403")):
            p = subprocess.run([node, "s3_sdk.mjs", self.class_server.url, KEY, secret], cwd=js,
                               capture_output=True, timeout=scaled(120))
            out = p.stdout.decode("utf-8", "replace")
            self.assertEqual(p.returncode, 0, out + p.stderr.decode("utf-8", "replace")[-2000:])
            self.assertTrue(out.startswith(want), out)


if __name__ == "__main__":
    unittest.main()
