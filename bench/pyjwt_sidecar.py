"""The comparison sidecar for bench/auth_bench.py: an ALB-token verifier written like the Python
sidecar of the write-up the issue cites (PyJWT's ES256 algorithm over the padded segments, keys
fetched per kid over https and kept in a dict), served by gunicorn (Debian's python3-jwt and
gunicorn). Environment: KEY_URL (template with {kid}), CA_FILE, SIGNER."""

import base64
import json
import os
import ssl
import time
import urllib.request

from jwt.algorithms import ECAlgorithm

KEY_URL = os.environ["KEY_URL"]
SIGNER = os.environ["SIGNER"]
CTX = ssl.create_default_context(cafile=os.environ.get("CA_FILE"))
ALG = ECAlgorithm(ECAlgorithm.SHA256)
KEYS = {}


def b64(seg):
    return base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4))


def key_for(kid):
    if kid not in KEYS:
        with urllib.request.urlopen(KEY_URL.replace("{kid}", kid), context=CTX, timeout=2) as r:
            KEYS[kid] = ALG.prepare_key(r.read())
    return KEYS[kid]


def app(environ, start_response):
    tok = environ.get("HTTP_X_AMZN_OIDC_DATA", "")
    try:
        h64, p64, s64 = tok.split(".")
        header = json.loads(b64(h64))
        if header.get("alg") != "ES256" or header.get("signer") != SIGNER:
            raise ValueError("alg/signer")
        if int(header["exp"]) < time.time():
            raise ValueError("expired")
        if not ALG.verify((h64 + "." + p64).encode(), key_for(header["kid"]), b64(s64)):
            raise ValueError("signature")
        claims = json.loads(b64(p64))
    except Exception:  # noqa: BLE001 - any failure is a 401
        start_response("401 Unauthorized", [("Content-Length", "0")])
        return [b""]
    hdrs = [("X-Auth-Sub", claims.get("sub", "")), ("X-Auth-Email", claims.get("email", "")),
            ("Content-Length", "3")]
    start_response("200 OK", hdrs)
    return [b"ok\n"]
