"""The OIDC gate (/_hydrant/auth) for real: Debian's nginx runs examples/nginx/hydrant-auth.conf
with auth_request in front of an upstream that echoes the headers it got; keys come from an https
key server with a CA made here; tokens are signed here (the `cryptography` package, i.e. OpenSSL)
in the load balancer's padded form. Also Bearer ID tokens against a JWKS, single-flight fetching
and the metrics."""

import base64
import datetime
import http.client
import http.server
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

from harness import HydrantTestCase, REPO_ROOT, scaled, wait_until

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa, padding
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
    from cryptography.x509.oid import NameOID
except ImportError:  # pragma: no cover
    x509 = None

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SIGNER = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188"
KID = "0c7ac5e4-9b1d-4c8e-a9c1-1f0e1d2c3b4a"
ISSUER = "https://idp.example.com"


def b64u(data, padded=True):
    s = base64.urlsafe_b64encode(data).decode()
    return s if padded else s.rstrip("=")


def es256_sign(key, data):
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def mint(header, payload, key=None, alg="ES256", padded=True, hmac_secret=None):
    seg = (b64u(json.dumps(header).encode(), padded) + "." +
           b64u(json.dumps(payload).encode(), padded))
    data = seg.encode()
    if alg == "ES256":
        sig = es256_sign(key, data)
    elif alg == "RS256":
        sig = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    elif alg == "HS256":
        import hmac
        import hashlib
        sig = hmac.new(hmac_secret, data, hashlib.sha256).digest()
    else:
        sig = b""
    return seg + "." + b64u(sig, padded)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def make_ca_and_cert(d):
    """A test CA and a server certificate for 127.0.0.1 signed by it; returns the paths."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hydrant test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = {k: os.path.join(d, k) for k in ("ca.pem", "cert.pem", "key.pem")}
    with open(paths["ca.pem"], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths["cert.pem"], "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(paths["key.pem"], "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return paths


class KeyServer(object):
    """https key server: GET /<kid> -> PEM, GET /jwks -> JWKS; counts requests per path."""

    def __init__(self, paths, pems, jwks, port=0):
        self.pems, self.jwks, self.hits = pems, jwks, {}
        self.lock = threading.Lock()
        self.delay = 0.0
        owner = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                with owner.lock:
                    owner.hits[self.path] = owner.hits.get(self.path, 0) + 1
                if owner.delay:
                    time.sleep(owner.delay)  # a slow key server (not synchronisation)
                name = self.path.lstrip("/")
                if name == "jwks":
                    body, ct = json.dumps(owner.jwks).encode(), "application/json"
                elif name in owner.pems:
                    body, ct = owner.pems[name], "application/x-pem-file"
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", ct)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(paths["cert.pem"], paths["key.pem"])
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class EchoServer(object):
    """The protected app: answers 200 with the request headers as JSON."""

    def __init__(self):
        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = json.dumps({k.lower(): v for k, v in self.headers.items()}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def jwk_of(pub, kid):
    nums = pub.public_numbers()
    if isinstance(pub, rsa.RSAPublicKey):
        n = nums.n.to_bytes((nums.n.bit_length() + 7) // 8, "big")
        e = nums.e.to_bytes((nums.e.bit_length() + 7) // 8, "big")
        return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b64u(n, False),
                "e": b64u(e, False)}
    return {"kty": "EC", "kid": kid, "crv": "P-256", "x": b64u(nums.x.to_bytes(32, "big"), False),
            "y": b64u(nums.y.to_bytes(32, "big"), False)}


@unittest.skipIf(x509 is None, "python cryptography missing")
@unittest.skipIf(not os.path.exists(NGINX), "nginx missing (apt-get install nginx-light)")
class AuthGateTest(HydrantTestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hydrant-auth-")
        cls.paths = make_ca_and_cert(cls.tmp)
        cls.key = ec.generate_private_key(ec.SECP256R1())
        cls.other = ec.generate_private_key(ec.SECP256R1())
        cls.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = cls.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
        pems = {KID: pem}
        for i in range(3):
            pems["single-flight-%d" % i] = pem
        cls.pem = pem
        jwks = {"keys": [jwk_of(cls.rsa.public_key(), "rsa-1"), jwk_of(cls.key.public_key(), "ec-1")]}
        cls.keys = KeyServer(cls.paths, pems, jwks)
        cls.echo = EchoServer()
        cls.start_class_server(extra_args=[
            "--oidc-signers", "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/x/y," + SIGNER,
            "--oidc-key-url", "https://127.0.0.1:%d/{kid}" % cls.keys.port,
            "--oidc-ca-file", cls.paths["ca.pem"],
            "--oidc-valid-domains", "example.com,example.org",
            "--oidc-issuer", ISSUER,
            "--oidc-jwks-url", "https://127.0.0.1:%d/jwks" % cls.keys.port,
            "--oidc-audience", "client-1",
            "--oidc-fetch-timeout-ms", "1500",
        ])
        cls.nginx_port = free_port()
        cls.nginx = cls.start_nginx(cls.class_server.port, cls.echo.port, cls.nginx_port)

    @classmethod
    def start_nginx(cls, hydrant_port, app_port, port):
        with open(os.path.join(REPO_ROOT, "examples", "nginx", "hydrant-auth.conf")) as f:
            site = f.read()
        site = (site.replace("127.0.0.1:4566", "127.0.0.1:%d" % hydrant_port)
                .replace("127.0.0.1:3000", "127.0.0.1:%d" % app_port)
                .replace("127.0.0.1:8080", "127.0.0.1:%d" % port))
        d = cls.tmp
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write("""%(user)s
worker_processes 1;
pid %(d)s/nginx.pid;
error_log %(d)s/nginx-error.log info;
events { worker_connections 256; }
http {
    access_log %(d)s/nginx-access.log;
    client_body_temp_path %(d)s/body;
    proxy_temp_path %(d)s/proxy;
    fastcgi_temp_path %(d)s/fastcgi;
    uwsgi_temp_path %(d)s/uwsgi;
    scgi_temp_path %(d)s/scgi;
%(site)s
}
""" % {"d": d, "site": site, "user": "user root;" if os.geteuid() == 0 else ""})
        proc = subprocess.Popen([NGINX, "-p", d, "-c", conf, "-g", "daemon off;"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=open(os.path.join(d, "nginx-stderr.log"), "wb"))

        def up():
            if proc.poll() is not None:
                raise AssertionError("nginx exited: %s" % open(os.path.join(d, "nginx-stderr.log")).read())
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        try:
            wait_until(up, 10, what="nginx listening")
        except BaseException:
            proc.kill()
            raise
        return proc

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "nginx", None):
            cls.nginx.terminate()
            try:
                cls.nginx.wait(scaled(10))
            except subprocess.TimeoutExpired:
                cls.nginx.kill()
                cls.nginx.wait()
        super(AuthGateTest, cls).tearDownClass()
        cls.keys.stop()
        cls.echo.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # --- helpers ----------------------------------------------------------------------------

    def alb_token(self, kid=KID, alg="ES256", signer=SIGNER, exp_in=120, email="jo@example.com",
                  key=None, padded=True, hmac_secret=None):
        header = {"typ": "JWT", "kid": kid, "alg": alg, "iss": ISSUER, "client": "client-1",
                  "signer": signer, "exp": str(int(time.time()) + exp_in)}
        payload = {"sub": "1234567890", "email": email, "name": "Jo Doe", "given_name": "Jo",
                   "family_name": "Doe", "picture": "https://p.example/jo.png",
                   "exp": int(time.time()) + exp_in, "iss": ISSUER}
        return mint(header, payload, key or self.key, alg, padded, hmac_secret)

    def via_nginx(self, headers):
        conn = http.client.HTTPConnection("127.0.0.1", self.nginx_port, timeout=scaled(10))
        try:
            conn.request("GET", "/app/page", headers=headers)
            r = conn.getresponse()
            body = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, body
        finally:
            conn.close()

    def assertStatus(self, token, want, **extra):
        h = {"x-amzn-oidc-data": token} if token is not None else {}
        h.update(extra)
        status, _, body = self.via_nginx(h)
        self.assertEqual(status, want, body[:300])
        return body

    # --- through nginx ----------------------------------------------------------------------

    def test_valid_token_reaches_the_app_with_identity_headers(self):
        body = self.assertStatus(self.alb_token(), 200, **{"X-Auth-Email": "forged@evil.example",
                                                           "X-Auth-Sub": "forged"})
        seen = json.loads(body)
        self.assertEqual(seen.get("x-auth-email"), "jo@example.com")
        self.assertEqual(seen.get("x-auth-given-name"), "Jo")
        self.assertEqual(seen.get("x-auth-family-name"), "Doe")
        self.assertEqual(seen.get("x-auth-picture"), "https://p.example/jo.png")
        self.assertEqual(seen.get("x-auth-sub"), "1234567890")

    def test_padded_and_unpadded_segments_both_pass(self):
        padded = self.alb_token(padded=True)
        self.assertIn("=", padded)
        self.assertStatus(padded, 200)
        unpadded = self.alb_token(padded=False)
        self.assertNotIn("=", unpadded)
        self.assertStatus(unpadded, 200)

    def test_bad_tokens_are_refused_and_forged_headers_never_reach_the_app(self):
        good = self.alb_token()
        h, p, s = good.split(".")
        forged_payload = b64u(json.dumps({"sub": "1234567890", "email": "boss@example.com",
                                          "exp": int(time.time()) + 120}).encode())
        sig = bytearray(base64.urlsafe_b64decode(s))
        sig[10] ^= 1
        cases = {
            "expired": (self.alb_token(exp_in=-3600), "expired"),
            "tampered payload": (".".join([h, forged_payload, s]), "bad_signature"),
            "tampered signature": (".".join([h, p, b64u(bytes(sig))]), "bad_signature"),
            "wrong signer": (self.alb_token(
                signer="arn:aws:elasticloadbalancing:us-east-1:999999999999:loadbalancer/app/evil/1"),
                "bad_signer"),
            "wrong domain": (self.alb_token(email="mallory@evil.example"), "bad_domain"),
            "alg none": (mint({"alg": "none", "kid": KID, "signer": SIGNER,
                               "exp": str(int(time.time()) + 60)}, {"sub": "1"}, alg="none"),
                         "malformed"),
            "alg none with a signature": (self.alb_token(alg="none").rsplit(".", 1)[0] + "." + s,
                                          "bad_alg"),
            "HS256 with the public key as secret": (self.alb_token(alg="HS256", hmac_secret=self.pem),
                                                    "bad_alg"),
            "unknown kid": (self.alb_token(kid="11111111-2222-3333-4444-555555555555"),
                            "unknown_kid"),
            "kid with a path": (self.alb_token(kid="../jwks"), "unknown_kid"),
            "other key": (self.alb_token(key=self.other), "bad_signature"),
            "garbage": ("not-a-token", "malformed"),
        }
        for what, (tok, reason) in cases.items():
            with self.subTest(what):
                st, hdrs, _ = self.class_server.http("GET", "/_hydrant/auth",
                                                     headers={"x-amzn-oidc-data": tok})
                self.assertEqual((st, hdrs.get("x-auth-reason")), (401, reason))
                status, hdrs, body = self.via_nginx({"x-amzn-oidc-data": tok,
                                                     "X-Auth-Email": "forged@evil.example"})
                self.assertEqual(status, 401, body[:200])
                self.assertIn("bearer", hdrs.get("www-authenticate", "").lower())
        self.assertStatus(None, 401)
        # The wrong-domain denial names the user in a WARN line with the nginx request id.
        log = open(self.class_server.log_path).read()
        self.assertTrue(re.search(r'"level":"warn".*"reason":"bad_domain".*"user":"mallory@evil.example"', log)
                        or re.search(r'"level":"warn".*"user":"mallory@evil.example"', log), log[-2000:])
        self.assertRegex(log, r'"request_id":"[0-9a-f]{32}"')

    def test_single_flight_one_fetch_for_many_concurrent_requests(self):
        kid = "single-flight-0"
        self.keys.delay = 0.3
        try:
            results = []

            def one():
                results.append(self.via_nginx({"x-amzn-oidc-data": self.alb_token(kid=kid)})[0])
            ts = [threading.Thread(target=one) for _ in range(12)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(scaled(20))
        finally:
            self.keys.delay = 0.0
        self.assertEqual(results, [200] * 12)
        self.assertEqual(self.keys.hits.get("/" + kid), 1)

    def test_key_server_down_is_503_not_401(self):
        port = self.keys.port
        self.keys.stop()
        try:
            self.assertStatus(self.alb_token(kid="single-flight-1"), 503)
            # Known keys keep working from the cache while the key server is down.
            self.assertStatus(self.alb_token(), 200)
        finally:
            type(self).keys = KeyServer(self.paths, self.keys.pems, self.keys.jwks, port=port)
        # The outage is cached only briefly (5 s); a new kid is fetched at once.
        self.assertStatus(self.alb_token(kid="single-flight-2"), 200)

    # --- straight to hydrant ----------------------------------------------------------------

    def test_bearer_id_tokens_from_the_issuer_jwks(self):
        srv = self.class_server
        now = int(time.time())
        good = {"iss": ISSUER, "aud": "client-1", "sub": "u1", "email": "u1@example.org",
                "exp": now + 300}
        for kid, key, alg in (("rsa-1", self.rsa, "RS256"), ("ec-1", self.key, "ES256")):
            tok = mint({"alg": alg, "kid": kid}, good, key, alg, padded=False)
            st, hdrs, _ = srv.http("GET", "/_hydrant/auth", headers={"Authorization": "Bearer " + tok})
            self.assertEqual(st, 200)
            self.assertEqual(hdrs.get("x-auth-sub"), "u1")
            self.assertEqual(hdrs.get("x-auth-email"), "u1@example.org")
        bad = dict(good, aud="someone-else")
        tok = mint({"alg": "RS256", "kid": "rsa-1"}, bad, self.rsa, "RS256", padded=False)
        st, _, _ = srv.http("GET", "/_hydrant/auth", headers={"Authorization": "Bearer " + tok})
        self.assertEqual(st, 401)
        tok = mint({"alg": "RS256", "kid": "nope"}, good, self.rsa, "RS256", padded=False)
        st, _, _ = srv.http("GET", "/_hydrant/auth", headers={"Authorization": "Bearer " + tok})
        self.assertEqual(st, 401)

    def test_metrics_count_validations_and_fetches(self):
        self.assertStatus(self.alb_token(), 200)
        self.assertStatus(self.alb_token(exp_in=-3600), 401)
        st, _, body = self.class_server.http("GET", "/_hydrant/metrics")
        text = body.decode()
        ok = re.search(r'hydrant_auth_validations_total\{result="ok",reason="ok"\} (\d+)', text)
        exp = re.search(r'hydrant_auth_validations_total\{result="denied",reason="expired"\} (\d+)', text)
        self.assertTrue(ok and int(ok.group(1)) >= 1, text[-3000:])
        self.assertTrue(exp and int(exp.group(1)) >= 1)
        self.assertRegex(text, r'hydrant_auth_key_fetches_total\{cache="alb"\} [1-9]')
        self.assertRegex(text, r'hydrant_auth_key_cache_hits_total\{cache="alb"\} [1-9]')

    def test_statsd_receives_the_counters(self):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        udp.settimeout(scaled(5))
        self.addCleanup(udp.close)
        srv = self.start_server(extra_args=[
            "--oidc-signers", SIGNER, "--oidc-key-url", "https://127.0.0.1:1/{kid}",
            "--statsd", "127.0.0.1:%d" % udp.getsockname()[1], "--statsd-interval-ms", "100",
            "--statsd-prefix", "gate."])
        st, hdrs, _ = srv.http("GET", "/_hydrant/auth",
                               headers={"x-amzn-oidc-data": self.alb_token(exp_in=-3600)})
        self.assertEqual((st, hdrs.get("x-auth-reason")), (401, "expired"))
        got = b""
        deadline = time.monotonic() + scaled(5)
        while b"gate.auth_validations_total.denied.expired:1|c" not in got:
            self.assertLess(time.monotonic(), deadline, got[-500:])
            got += udp.recvfrom(65536)[0] + b"\n"
        self.assertIn(b"gate.auth_key_fetch_seconds_max.alb:0|g", got)


if __name__ == "__main__":
    unittest.main()
