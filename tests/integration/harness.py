"""Integration-test harness: start the real build/hydrant, talk to it, stop it.

Standard library + boto3 only, so the same file runs under the pyenv python (boto3 1.43) and
Debian's /usr/bin/python3 (boto3 1.26). No pytest.

Environment:
  HYDRANT_BIN               binary to test (default <repo>/build/hydrant)
  HYDRANT_IT_TIMEOUT_SCALE  multiply every wait bound (e.g. 3 for ASan builds)
  HYDRANT_IT_LOG_LEVEL      --log-level for started servers (default info)
  HYDRANT_IT_KEEP           keep temp data dirs (their paths are printed)
  HYDRANT_IT_SEED           seed for the randomised tests (printed when used)
"""

import base64
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HYDRANT_BIN = os.environ.get("HYDRANT_BIN") or os.path.join(REPO_ROOT, "build", "hydrant")
SCALE = float(os.environ.get("HYDRANT_IT_TIMEOUT_SCALE", "1") or "1")
LOG_LEVEL = os.environ.get("HYDRANT_IT_LOG_LEVEL", "info")
TARGET_PREFIX = "Firehose_20150804"
REGION = "us-east-1"
ROLE_ARN = "arn:aws:iam::123456789012:role/firehose-delivery"
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

# Keep any configured proxy away from 127.0.0.1, and keep user AWS config out of the tests.
os.environ["NO_PROXY"] = ",".join(x for x in (os.environ.get("NO_PROXY"), "127.0.0.1,localhost") if x)
os.environ["no_proxy"] = os.environ["NO_PROXY"]
for _v in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_FIREHOSE", "AWS_PROFILE"):
    os.environ.pop(_v, None)

try:
    import boto3
    import botocore
    import botocore.exceptions
    from botocore.config import Config
    from botocore.exceptions import ClientError
except ImportError:  # run.sh reports the skip; tests needing boto3 skip themselves
    boto3 = None
    botocore = None
    Config = None
    ClientError = Exception


def scaled(seconds):
    return seconds * SCALE


class WaitTimeout(AssertionError):
    pass


def wait_until(predicate, timeout=10.0, interval=0.05, what="condition"):
    """Poll predicate() until it returns a truthy value; return that value.

    Exceptions from predicate count as "not yet"; the last one is reported on timeout.
    """
    deadline = time.monotonic() + scaled(timeout)
    last = None
    last_exc = None
    while True:
        try:
            last = predicate()
            last_exc = None
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - polled conditions may fail transiently
            last_exc = e
        if time.monotonic() >= deadline:
            detail = "last exception: %r" % (last_exc,) if last_exc else "last value: %r" % (last,)
            if len(detail) > 2000:
                detail = detail[:2000] + "..."
            raise WaitTimeout("timed out after %.1fs waiting for %s (%s)" % (scaled(timeout), what, detail))
        time.sleep(interval)


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode("ascii")


def error_code(body, headers):
    """The AWS error code as clients derive it, from __type (after '#') or x-amzn-ErrorType."""
    if isinstance(body, dict) and body.get("__type"):
        return body["__type"].split("#")[-1]
    h = headers.get("x-amzn-errortype")
    return h.split(":")[0] if h else None


def short(x, n=600):
    """repr(x), cut to n characters for assertion messages."""
    r = repr(x)
    return r if len(r) <= n else r[:n] + "...(%d chars)" % len(r)


def error_message(body):
    if not isinstance(body, dict):
        return None
    return body.get("message", body.get("Message"))


_METRIC_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?$')
_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """Prometheus text -> {(name, ((label, value), ...sorted)): float}."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = _METRIC_RE.match(line)
        if not m:
            raise ValueError("unparsable metrics line: %r" % line)
        labels = tuple(sorted(_LABEL_RE.findall(m.group(3) or "")))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def list_objects(bucket_dir):
    """Sorted keys of the objects in a local bucket dir (temp files '.x.tmp.N' are skipped)."""
    keys = []
    if not os.path.isdir(bucket_dir):
        return keys
    for root, _dirs, files in os.walk(bucket_dir):
        for f in files:
            if f.startswith(".") and ".tmp." in f:
                continue
            keys.append(os.path.relpath(os.path.join(root, f), bucket_dir).replace(os.sep, "/"))
    keys.sort()
    return keys


def key_regex(stream, version=None, prefix=""):
    """Regex for a delivered key: <prefix>YYYY/MM/dd/HH/<stream>-<ver>-yyyy-MM-dd-HH-mm-ss-<uuid>.

    Groups: pdate (prefix YYYY/MM/dd/HH), version, sdate (suffix yyyy-MM-dd-HH), stime (mm-ss).
    """
    ver = re.escape(str(version)) if version is not None else r"[0-9]+"
    return re.compile(
        r"^" + re.escape(prefix) +
        r"(?P<pdate>\d{4}/\d{2}/\d{2}/\d{2})/" + re.escape(stream) + r"-(?P<version>" + ver + r")-"
        r"(?P<sdate>\d{4}-\d{2}-\d{2}-\d{2})-(?P<stime>\d{2}-\d{2})-"
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class Server(object):
    """One hydrant process on a data dir. restart() keeps the data dir and picks a new port."""

    def __init__(self, data_dir, log_path, extra_args=(), env=None):
        self.data_dir = data_dir
        self.log_path = log_path
        self.extra_args = list(extra_args)
        self.env = env
        self.proc = None
        self.port = None
        self.returncodes = []

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def s3_dir(self, bucket):
        return os.path.join(self.data_dir, "s3", bucket)

    def start(self, timeout=10.0):
        if not os.path.exists(HYDRANT_BIN):
            raise unittest.SkipTest("hydrant binary not found: %s (set HYDRANT_BIN)" % HYDRANT_BIN)
        env = dict(os.environ)
        for k in ("HYDRANT_LISTEN", "HYDRANT_DATA_DIR", "HYDRANT_LOG_LEVEL"):
            env.pop(k, None)
        if self.env:
            env.update(self.env)
        with open(self.log_path, "ab") as f:
            f.write(("=== start %s ===\n" % time.strftime("%H:%M:%S")).encode())
            offset = f.tell()
        args = [HYDRANT_BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", self.data_dir,
                "--log-level", LOG_LEVEL] + self.extra_args
        errf = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=errf, stderr=errf,
                                         env=env, close_fds=True)
        finally:
            errf.close()
        self.port = None
        try:
            self.port = wait_until(lambda: self._find_port(offset), timeout,
                                   what="the 'listening' log line of %s" % HYDRANT_BIN)
            wait_until(lambda: self.health() == 200, timeout, what="GET /_hydrant/health == 200")
        except Exception:
            self.kill9()
            raise
        return self

    def _find_port(self, offset):
        if self.proc.poll() is not None:
            raise AssertionError("hydrant exited with %s before listening; log tail:\n%s"
                                 % (self.proc.returncode, self.log_tail()))
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            data = f.read()
        for line in data.splitlines():
            line = line.strip()
            if not line.startswith(b"{"):
                continue
            try:
                obj = json.loads(line.decode("utf-8", "replace"))
            except ValueError:
                continue
            if isinstance(obj, dict) and obj.get("msg") == "listening" and obj.get("port") is not None:
                port = int(obj["port"])
                if port > 0:
                    return port
        return None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=20.0):
        """Send sig and wait for exit; kill -9 after the bound. Returns the exit code."""
        if self.proc is None:
            return None
        rc = self.proc.poll()
        if rc is None:
            try:
                self.proc.send_signal(sig)
                rc = self.proc.wait(scaled(timeout))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                rc = "timeout (killed after %.0fs)" % scaled(timeout)
        self.returncodes.append(rc)
        self.proc = None
        return rc

    def kill9(self):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.kill()
        rc = self.proc.wait()
        self.returncodes.append(rc)
        self.proc = None
        return rc

    def restart(self, kill=False, timeout=10.0):
        """Stop (SIGTERM, or kill -9 when kill=True) and start again on the same data dir."""
        rc = self.kill9() if kill else self.stop()
        self.start(timeout)
        return rc

    def log_tail(self, n=60):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError as e:
            return "(no log: %s)" % e
        return "\n".join(lines[-n:])

    # --- HTTP -----------------------------------------------------------------------------

    def http(self, method, path, body=None, headers=None, timeout=30.0):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=scaled(timeout))
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            hdrs = {k.lower(): v for k, v in resp.getheaders()}
            return resp.status, hdrs, data
        finally:
            conn.close()

    def health(self):
        try:
            return self.http("GET", "/_hydrant/health", timeout=2)[0]
        except (OSError, http.client.HTTPException):
            return None

    def raw_call(self, op, body=None, raw=None, target=None, headers=None):
        """POST one AWS JSON 1.1 call. Returns (status, lower-cased headers, parsed JSON or None).

        body is JSON-encoded unless raw (bytes) is given. target overrides the whole
        X-Amz-Target header (None header when target is False).
        """
        data = raw if raw is not None else json.dumps(body if body is not None else {}).encode()
        h = {"Content-Type": "application/x-amz-json-1.1"}
        if target is not False:
            h["X-Amz-Target"] = target or ("%s.%s" % (TARGET_PREFIX, op))
        if headers:
            h.update(headers)
        status, hdrs, resp = self.http("POST", "/", body=data, headers=h)
        try:
            parsed = json.loads(resp.decode("utf-8")) if resp else None
        except ValueError:
            parsed = None
        return status, hdrs, parsed

    def metrics(self):
        status, _h, data = self.http("GET", "/_hydrant/metrics")
        if status != 200:
            raise AssertionError("GET /_hydrant/metrics -> %d" % status)
        return parse_metrics(data.decode("utf-8"))

    def metric(self, name, **labels):
        """Value of one series (None when absent)."""
        return self.metrics().get((name, tuple(sorted(labels.items()))))

    # --- clients --------------------------------------------------------------------------

    def client(self, retries=1, validate=True, read_timeout=30):
        """boto3 firehose client; retries = total attempts (1 = no retry)."""
        if boto3 is None:
            raise unittest.SkipTest("boto3 is not installed for %s" % sys.executable)
        cfg = Config(retries={"total_max_attempts": retries, "mode": "standard"},
                     parameter_validation=validate, connect_timeout=5,
                     read_timeout=scaled(read_timeout), max_pool_connections=20)
        session = boto3.session.Session(aws_access_key_id=ACCESS_KEY,
                                        aws_secret_access_key=SECRET_KEY, region_name=REGION)
        return session.client("firehose", endpoint_url=self.url, config=cfg)

    def objects(self, bucket):
        return list_objects(self.s3_dir(bucket))

    def read_object(self, bucket, key):
        with open(os.path.join(self.s3_dir(bucket), key), "rb") as f:
            return f.read()


def s3_dest(bucket="lake", size=1, interval=0, prefix=None, compression=None, hints=True):
    """An ExtendedS3DestinationConfiguration."""
    d = {"RoleARN": ROLE_ARN, "BucketARN": "arn:aws:s3:::" + bucket}
    if hints:
        d["BufferingHints"] = {"SizeInMBs": size, "IntervalInSeconds": interval}
    if prefix is not None:
        d["Prefix"] = prefix
    if compression is not None:
        d["CompressionFormat"] = compression
    return d


_lenient_clients = {}


def lenient(client):
    """A client for the same endpoint without client-side parameter validation. Older botocore
    models (1.29: IntervalInSeconds >= 60) reject values the current API allows."""
    url = client.meta.endpoint_url
    if url not in _lenient_clients:
        cfg = Config(retries={"total_max_attempts": 1, "mode": "standard"}, parameter_validation=False)
        session = boto3.session.Session(aws_access_key_id=ACCESS_KEY,
                                        aws_secret_access_key=SECRET_KEY, region_name=REGION)
        _lenient_clients[url] = session.client("firehose", endpoint_url=url, config=cfg)
    return _lenient_clients[url]


def call_lenient(client, method, **kw):
    """client.<method>(**kw), retried without client-side validation if only that rejects it."""
    try:
        return getattr(client, method)(**kw)
    except botocore.exceptions.ParamValidationError:
        pass
    try:
        return getattr(lenient(client), method)(**kw)
    except ClientError as e:  # re-raise as the caller's client's modeled class
        cls = getattr(client.exceptions, e.response.get("Error", {}).get("Code", ""), None)
        if cls is None:
            raise
        raise cls(e.response, e.operation_name)


def create_stream(client, name, **kw):
    return call_lenient(client, "create_delivery_stream", DeliveryStreamName=name,
                        DeliveryStreamType="DirectPut",
                        ExtendedS3DestinationConfiguration=s3_dest(**kw))


def wait_active(client, name, timeout=10.0):
    def active():
        d = client.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
        return d if d["DeliveryStreamStatus"] == "ACTIVE" else None
    return wait_until(active, timeout, what="stream %s ACTIVE" % name)


def put_all(client, name, records, batch=500, max_bytes=3 * 1024 * 1024):
    """put_record_batch every record (bytes); fail on any per-record failure. Returns RecordIds."""
    ids = []
    i = 0
    while i < len(records):
        chunk, size = [], 0
        while i < len(records) and len(chunk) < batch and (not chunk or size + len(records[i]) <= max_bytes):
            chunk.append(records[i])
            size += len(records[i])
            i += 1
        r = client.put_record_batch(DeliveryStreamName=name, Records=[{"Data": d} for d in chunk])
        if r["FailedPutCount"] != 0:
            raise AssertionError("FailedPutCount %d: %r" % (
                r["FailedPutCount"], [x for x in r["RequestResponses"] if "ErrorCode" in x][:3]))
        if len(r["RequestResponses"]) != len(chunk):
            raise AssertionError("RequestResponses has %d entries for %d records"
                                 % (len(r["RequestResponses"]), len(chunk)))
        ids.extend(x["RecordId"] for x in r["RequestResponses"])
    return ids


def frame(n, payload):
    """Self-delimiting record: b'id:<n>:<len>:' + payload + b'\\n' (payload may be any bytes)."""
    return b"id:%d:%d:" % (n, len(payload)) + payload + b"\n"


def parse_frames(data):
    """Inverse of frame over a concatenation; raises ValueError on any garbage."""
    out = []
    pos = 0
    n_end = len(data)
    while pos < n_end:
        if data[pos:pos + 3] != b"id:":
            raise ValueError("bad frame start at %d: %r" % (pos, data[pos:pos + 20]))
        c1 = data.index(b":", pos + 3)
        c2 = data.index(b":", c1 + 1)
        n = int(data[pos + 3:c1])
        ln = int(data[c1 + 1:c2])
        start = c2 + 1
        if start + ln + 1 > n_end or data[start + ln:start + ln + 1] != b"\n":
            raise ValueError("frame %d truncated or unterminated at %d" % (n, pos))
        out.append((n, data[start:start + ln]))
        pos = start + ln + 1
    return out


class HydrantTestCase(unittest.TestCase):
    """Base class: servers started through start_server() are stopped at teardown, and when a
    test fails the tail of every server log it used is printed."""

    class_server = None
    _class_tmp = None

    @classmethod
    def start_class_server(cls, **kw):
        cls._class_tmp = tempfile.mkdtemp(prefix="hydrant-it-")
        cls.class_server = Server(os.path.join(cls._class_tmp, "data"),
                                  os.path.join(cls._class_tmp, "hydrant.log"), **kw)
        try:
            cls.class_server.start()
        except BaseException:
            cls._drop_class_tmp(force_print=True)
            raise
        return cls.class_server

    @classmethod
    def tearDownClass(cls):
        if cls.class_server is not None:
            rc = cls.class_server.stop()
            if rc != 0:
                sys.stderr.write("\n[harness] class server exit code %r; log tail:\n%s\n"
                                 % (rc, cls.class_server.log_tail()))
            cls.class_server = None
        cls._drop_class_tmp()

    @classmethod
    def _drop_class_tmp(cls, force_print=False):
        if cls._class_tmp:
            if force_print and cls.class_server is not None:
                sys.stderr.write("\n[harness] log tail:\n%s\n" % cls.class_server.log_tail())
            if os.environ.get("HYDRANT_IT_KEEP"):
                sys.stderr.write("[harness] kept %s\n" % cls._class_tmp)
            else:
                shutil.rmtree(cls._class_tmp, ignore_errors=True)
            cls._class_tmp = None

    def start_server(self, **kw):
        tmp = tempfile.mkdtemp(prefix="hydrant-it-")
        self._tmp_dirs.append(tmp)
        srv = Server(os.path.join(tmp, "data"), os.path.join(tmp, "hydrant.log"), **kw)
        self._servers.append(srv)
        self.addCleanup(srv.stop)
        srv.start()
        return srv

    def run(self, result=None):
        self._servers = []
        self._tmp_dirs = []
        before = (len(result.failures) + len(result.errors)) if result is not None else 0
        try:
            return super(HydrantTestCase, self).run(result)
        finally:
            failed = result is not None and len(result.failures) + len(result.errors) > before
            if failed:
                servers = list(self._servers)
                if self.class_server is not None:
                    servers.append(self.class_server)
                for s in servers:
                    sys.stderr.write("\n[harness] %s: server log %s (exit codes %r), tail:\n%s\n"
                                     % (self.id(), s.log_path, s.returncodes, s.log_tail()))
            for s in self._servers:  # cleanup already stopped them; be sure
                if s.proc is not None:
                    s.kill9()
            for t in self._tmp_dirs:
                if os.environ.get("HYDRANT_IT_KEEP"):
                    sys.stderr.write("[harness] kept %s\n" % t)
                else:
                    shutil.rmtree(t, ignore_errors=True)

    # --- assertions ---------------------------------------------------------------------------

    def assertClientError(self, fn, code, *args, **kw):
        """Call fn; assert botocore ClientError with this code; return the error."""
        with self.assertRaises(ClientError) as cm:
            fn(*args, **kw)
        got = cm.exception.response.get("Error", {}).get("Code")
        self.assertEqual(got, code, "expected %s, got %s: %s" % (code, got, cm.exception))
        return cm.exception

    def assertRawError(self, resp, code, status=400, ctx=""):
        """resp from raw_call: assert AWS error shape, __type, x-amzn-ErrorType, RequestId."""
        st, hdrs, body = resp
        ctx = ctx + ": " if ctx else ""
        codes = code if isinstance(code, (tuple, list)) else (code,)
        self.assertIsInstance(body, dict, "error body is not JSON: status %s headers %r" % (st, hdrs))
        got = error_code(body, {})
        self.assertIn(got, codes, ctx + "__type %r, expected %r (status %s, body %s)" % (got, codes, st, short(body)))
        if isinstance(status, (tuple, list)):
            self.assertIn(st, status, "status for %s (body %s)" % (got, short(body)))
        else:
            self.assertEqual(st, status, "status for %s (body %s)" % (got, short(body)))
        et = hdrs.get("x-amzn-errortype")
        self.assertIsNotNone(et, "missing x-amzn-ErrorType header")
        self.assertEqual(et.split(":")[0], got, "x-amzn-ErrorType disagrees with __type")
        self.assertTrue(hdrs.get("x-amzn-requestid"), "missing x-amzn-RequestId header")
        self.assertTrue(hdrs.get("content-type", "").startswith("application/x-amz-json-1.1"),
                        "content-type %r" % hdrs.get("content-type"))
        self.assertIsInstance(error_message(body), str, "error body has no message: %r" % body)
        return body


def seed():
    s = os.environ.get("HYDRANT_IT_SEED")
    s = int(s) if s else int(time.time() * 1000) % 1000000
    sys.stderr.write("[harness] random seed %d (HYDRANT_IT_SEED to repeat)\n" % s)
    return s
