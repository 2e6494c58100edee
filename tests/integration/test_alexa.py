"""The Alexa skill at /_hydrant/alexa.

Signed requests: a test CA, an intermediate and signing certificates made by the openssl command,
the chains served by a local HTTP server under /echo.api/ (hydrant told to fetch from there with
--alexa-test-cert-url-prefix and to trust the test root with --alexa-ca-file), requests signed
with the cryptography package: a good request is answered, every rejection of the spec is a 400.
Dialogue: virtual-alexa (npm, from the committed lockfile) drives a multi-turn conversation from
the interaction model `hydrant alexa-model` prints, against a hydrant with --alexa-insecure
(virtual-alexa sends no signature headers; the timestamp and skill-id checks stay on).
"""
import base64
import datetime
import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
import unittest

try:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
except ImportError:  # the signed tests skip; the dialogue does not need it
    hashes = None

from harness import (HydrantTestCase, Server, create_stream, put_all, scaled, wait_active,
                     wait_until, HYDRANT_BIN)

SKILL = "amzn1.ask.skill.11111111-2222-3333-4444-555555555555"
JS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js")


def sh(cwd, cmd):
    subprocess.run(cmd, shell=True, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_pki(d):
    """root CA -> inter -> good (SAN echo-api.amazon.com) and wrongsan; other CA -> selfish."""
    with open(os.path.join(d, "ca.ext"), "w") as f:
        f.write("basicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign,cRLSign\n")
    with open(os.path.join(d, "good.ext"), "w") as f:
        f.write("subjectAltName=DNS:echo-api.amazon.com\n")
    with open(os.path.join(d, "wrong.ext"), "w") as f:
        f.write("subjectAltName=DNS:wrong.example.com\n")
    for ca in ("root", "other"):
        sh(d, "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s.key -out %s.pem -days 2 "
              "-subj /CN=%s -addext basicConstraints=critical,CA:TRUE "
              "-addext keyUsage=keyCertSign,cRLSign" % (ca, ca, ca))
    sh(d, "openssl req -newkey rsa:2048 -nodes -keyout inter.key -out inter.csr -subj /CN=inter && "
          "openssl x509 -req -in inter.csr -CA root.pem -CAkey root.key -CAcreateserial -days 2 "
          "-extfile ca.ext -out inter.pem")
    os.mkdir(os.path.join(d, "echo.api"))
    for leaf, ca, ext in (("good", "inter", "good.ext"), ("wrongsan", "inter", "wrong.ext"),
                          ("selfish", "other", "good.ext")):
        sh(d, "openssl req -newkey rsa:2048 -nodes -keyout {l}.key -out {l}.csr -subj /CN={l} && "
              "openssl x509 -req -in {l}.csr -CA {c}.pem -CAkey {c}.key -CAcreateserial -days 1 "
              "-extfile {e} -out {l}.crt && cat {l}.crt inter.pem > echo.api/{l}.pem"
              .format(l=leaf, c=ca, e=ext))


def now_ts(delta_s=0):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=delta_s)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def envelope(kind="LaunchRequest", intent=None, skill=SKILL, ts=None, attrs=None):
    req = {"type": kind, "requestId": "amzn1.echo-api.request.1", "locale": "en-US",
           "timestamp": ts or now_ts()}
    if intent:
        req["intent"] = intent
    return {"version": "1.0",
            "session": {"new": attrs is None, "sessionId": "amzn1.echo-api.session.1",
                        "application": {"applicationId": skill},
                        "attributes": attrs or {}, "user": {"userId": "amzn1.ask.account.1"}},
            "context": {"System": {"application": {"applicationId": skill},
                                   "user": {"userId": "amzn1.ask.account.1"}}},
            "request": req}


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


class AlexaSignedTest(HydrantTestCase):
    @classmethod
    def setUpClass(cls):
        if hashes is None:
            raise unittest.SkipTest("the cryptography package is missing")
        cls.pki = tempfile.mkdtemp(prefix="hydrant-alexa-pki-")
        try:
            make_pki(cls.pki)
        except (OSError, subprocess.CalledProcessError) as e:
            shutil.rmtree(cls.pki, ignore_errors=True)
            raise unittest.SkipTest("openssl cannot make the test PKI: %s" % e)
        handler = lambda *a, **kw: _Quiet(*a, directory=cls.pki, **kw)  # noqa: E731
        cls.fetches = 0
        cls.certsrv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=cls.certsrv.serve_forever, daemon=True).start()
        cls.prefix = "http://127.0.0.1:%d/echo.api/" % cls.certsrv.server_address[1]
        srv = cls.start_class_server(extra_args=[
            "--alexa-skill-id", SKILL, "--alexa-ca-file", os.path.join(cls.pki, "root.pem"),
            "--alexa-test-cert-url-prefix", cls.prefix])
        c = srv.client()
        create_stream(c, "orders")
        wait_active(c, "orders")
        put_all(c, "orders", [b"a", b"b", b"c"])

    @classmethod
    def tearDownClass(cls):
        cls.certsrv.shutdown()
        cls.certsrv.server_close()
        shutil.rmtree(cls.pki, ignore_errors=True)
        super().tearDownClass()

    def sign(self, body, key="good", algo=None):
        algo = algo or hashes.SHA256()
        with open(os.path.join(self.pki, key + ".key"), "rb") as f:
            k = serialization.load_pem_private_key(f.read(), None)
        return base64.b64encode(k.sign(body, padding.PKCS1v15(), algo)).decode()

    def post(self, env=None, body=None, chain="good", key="good", url=None, headers=None,
             sig=True):
        body = body if body is not None else json.dumps(env or envelope()).encode()
        h = {"Content-Type": "application/json; charset=utf-8"}
        if sig:
            h["SignatureCertChainUrl"] = url or (self.prefix + chain + ".pem")
            h["Signature-256"] = self.sign(body, key)
        h.update(headers or {})
        return self.class_server.http("POST", "/_hydrant/alexa", body=body, headers=h)

    def test_signed_requests_are_answered(self):
        st, hdrs, body = self.post()
        self.assertEqual(st, 200, body)
        self.assertTrue(hdrs["content-type"].startswith("application/json"))
        r = json.loads(body)
        self.assertEqual(r["version"], "1.0")
        self.assertIn("Welcome", r["response"]["outputSpeech"]["ssml"])
        self.assertFalse(r["response"]["shouldEndSession"])
        intent = {"name": "StreamStatusIntent", "confirmationStatus": "NONE",
                  "slots": {"stream": {"name": "stream", "value": "orders",
                                       "confirmationStatus": "NONE"}}}
        st, _h, body = self.post(envelope("IntentRequest", intent))
        self.assertEqual(st, 200, body)
        r = json.loads(body)
        self.assertIn('<say-as interpret-as="cardinal">3</say-as> records',
                      r["response"]["outputSpeech"]["ssml"])
        self.assertEqual(r["sessionAttributes"], {"stream": "orders"})
        self.assertEqual(r["response"]["card"]["type"], "Simple")
        # An unknown request type is ignored with a minimal 200; SessionEnded too.
        for kind in ("SessionEndedRequest", "AudioPlayer.PlaybackStarted"):
            st, _h, body = self.post(envelope(kind))
            self.assertEqual((st, json.loads(body)), (200, {"version": "1.0", "response": {}}))
        # Fractional seconds in the timestamp are fine.
        ts = now_ts()[:-1] + ".123Z"
        self.assertEqual(self.post(envelope(ts=ts))[0], 200)

    def test_every_rejection_is_400(self):
        good = json.dumps(envelope()).encode()
        cases = {
            "no signature headers": dict(sig=False),
            "plain Amazon URL outside the test prefix":
                dict(url="https://s3.amazonaws.com/echo.api/echo-api-cert.pem"),
            "path outside the prefix": dict(url=self.prefix + "../good.pem"),
            "case of the path": dict(url=self.prefix.replace("echo.api", "EcHo.aPi") + "good.pem"),
            "no such chain": dict(url=self.prefix + "missing.pem"),
            "wrong SAN": dict(chain="wrongsan", key="wrongsan"),
            "untrusted root": dict(chain="selfish", key="selfish"),
            "signed by another key": dict(key="selfish"),
            "old timestamp": dict(env=envelope(ts=now_ts(-200))),
            "future timestamp": dict(env=envelope(ts=now_ts(+200))),
            "garbled timestamp": dict(env=envelope(ts="yesterday")),
            "another skill": dict(env=envelope(skill="amzn1.ask.skill.other")),
            "not JSON": dict(body=b"not json"),
            "empty body": dict(body=b""),
        }
        for what, kw in cases.items():
            with self.subTest(what):
                st, _h, body = self.post(**kw)
                self.assertEqual(st, 400, body)
        # A body changed after signing.
        h = {"Content-Type": "application/json", "SignatureCertChainUrl": self.prefix + "good.pem",
             "Signature-256": self.sign(good)}
        st, _h, _b = self.class_server.http("POST", "/_hydrant/alexa", body=good + b" ", headers=h)
        self.assertEqual(st, 400)
        # Legacy SHA-1 only (Signature without Signature-256) is refused by default.
        h = {"Content-Type": "application/json", "SignatureCertChainUrl": self.prefix + "good.pem",
             "Signature": self.sign(good, algo=hashes.SHA1())}
        st, _h, _b = self.class_server.http("POST", "/_hydrant/alexa", body=good, headers=h)
        self.assertEqual(st, 400)
        # Still alive, still answering good requests, and GET is not the skill.
        self.assertEqual(self.post()[0], 200)
        self.assertEqual(self.class_server.http("GET", "/_hydrant/alexa")[0], 405)
        self.assertEqual(self.class_server.http("POST", "/_hydrant/alexa/x", body=good)[0], 404)


class AlexaDialogTest(HydrantTestCase):
    def test_virtual_alexa_dialogue(self):
        node = shutil.which("node")
        if not node or not os.path.isdir(os.path.join(JS, "node_modules", "virtual-alexa")):
            self.skipTest("node or tests/integration/js/node_modules missing (npm ci there)")
        srv = self.start_class_server(extra_args=["--alexa-skill-id", SKILL, "--alexa-insecure"])
        self.assertIn("alexa-insecure", srv.log_tail())
        c = srv.client()
        for name in ("orders", "click-stream"):
            create_stream(c, name)
            wait_active(c, name)
        put_all(c, "orders", [b"x"] * 5)
        model = os.path.join(self._class_tmp, "model.json")
        with open(model, "w") as f:
            subprocess.run([HYDRANT_BIN, "alexa-model", "--data-dir", srv.data_dir], stdout=f,
                           check=True, timeout=scaled(10))
        with open(model) as f:
            values = json.load(f)["interactionModel"]["languageModel"]["types"][0]["values"]
        self.assertEqual(sorted(v["id"] for v in values), ["click-stream", "orders"])
        r = subprocess.run([node, os.path.join(JS, "alexa_dialog.mjs"), srv.url + "/_hydrant/alexa",
                            model, SKILL], capture_output=True, text=True, timeout=scaled(60))
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        turns = {}
        for line in r.stdout.splitlines():
            t = json.loads(line)
            turns[t["turn"]] = t["response"]

        def speech(turn):
            return turns[turn]["response"]["outputSpeech"]["ssml"]
        self.assertIn("Welcome", speech("launch"))
        self.assertIn("click stream, and orders", speech("list"))
        self.assertIn('<say-as interpret-as="cardinal">5</say-as> records', speech("status orders"))
        # Follow-ups without a name use the stream named before (session attributes).
        self.assertIn("stream orders", speech("fresh it").lower())
        self.assertIn("stream orders received", speech("records it"))
        self.assertEqual(turns["other one"]["sessionAttributes"], {"stream": "click-stream"})
        self.assertIn("stream click stream", speech("wrong it"))
        self.assertIn("No anomaly detector is configured", speech("wrong it"))
        self.assertIn("not by time span", speech("intend span"))
        self.assertIn("reprompt", turns["help"]["response"])
        self.assertFalse(turns["help"]["response"]["shouldEndSession"])
        self.assertTrue(turns["stop"]["response"]["shouldEndSession"])
        # Insecure skips only the signature: the skill id and the clock still count.
        st, _h, _b = srv.http("POST", "/_hydrant/alexa",
                              body=json.dumps(envelope(skill="amzn1.ask.skill.other")).encode())
        self.assertEqual(st, 400)
        st, _h, _b = srv.http("POST", "/_hydrant/alexa",
                              body=json.dumps(envelope(ts=now_ts(-600))).encode())
        self.assertEqual(st, 400)


if __name__ == "__main__":
    unittest.main()
