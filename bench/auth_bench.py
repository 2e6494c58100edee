"""OIDC gate and SigV4 benchmarks (bench/README.md, "Access"). Prints markdown tables.

  python3 bench/auth_bench.py            (after `make all build/authbench build/authload build/loadgen`)

Environment: BENCH_SECONDS (5) per row, BENCH_CONNS (16) connections, BENCH_NGINX_WORKERS (1).
Rows:
  in-process   build/authbench: OpenSSL's raw P-256 verify vs the gate cold (new token, key cached)
               and warm (the same token again)
  over HTTP    build/authload (closed loop, keep-alive) against hydrant's /_hydrant/auth and a
               PyJWT + gunicorn sidecar (bench/pyjwt_sidecar.py, Debian python3-jwt/gunicorn),
               directly and through nginx auth_request (examples/nginx/hydrant-auth.conf); the
               first request of each (key fetch included) is timed separately ("cold key")
  SigV4        build/loadgen PutRecordBatch 500 x 1 KiB, 16 connections, against hydrant with and
               without --credentials, alternating
Servers listen on 127.0.0.1 only and are stopped at the end.
"""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from test_auth import KeyServer, make_ca_and_cert, mint, free_port, SIGNER, KID  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

SECS = os.environ.get("BENCH_SECONDS", "5")
CONNS = os.environ.get("BENCH_CONNS", "16")
BUILD = os.path.join(ROOT, "build")
procs = []


def wait_port(port, proc, what):
    deadline = time.time() + 20
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit("%s exited" % what)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)  # polling a port, not synchronising on time
    raise SystemExit("%s did not listen" % what)


def start(args, port, what, env=None, log=None):
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log or subprocess.DEVNULL,
                         stderr=log or subprocess.DEVNULL, env=env)
    procs.append(p)
    wait_port(port, p, what)
    return p


def timed_get(port, path, headers):
    t = time.perf_counter()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", path, headers=headers)
    st = c.getresponse().status
    c.close()
    return st, (time.perf_counter() - t) * 1000


def authload(port, path, hfile, label):
    r = subprocess.run([os.path.join(BUILD, "authload"), "127.0.0.1", str(port), path, hfile,
                        CONNS, SECS, label], capture_output=True, text=True)
    return r.stdout.strip() or ("| %s | failed: %s |" % (label, r.stderr.strip()[:100]))


def main():
    tmp = tempfile.mkdtemp(prefix="hydrant-authbench-")
    try:
        print("machine: %d cores (shared with other builds while measured: numbers are noisy)\n"
              % os.cpu_count())
        print("### In-process (single thread)\n")
        sys.stdout.flush()
        subprocess.run([os.path.join(BUILD, "authbench"), "5000"])

        paths = make_ca_and_cert(tmp)
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
        keys = KeyServer(paths, {KID: pem}, {})
        url = "https://127.0.0.1:%d/{kid}" % keys.port
        hp, sp, np_h, np_s, app = free_port(), free_port(), free_port(), free_port(), free_port()
        np_p = free_port()
        log = open(os.path.join(tmp, "servers.log"), "wb")
        start([os.path.join(BUILD, "hydrant"), "serve", "--listen", "127.0.0.1:%d" % hp,
               "--data-dir", os.path.join(tmp, "data"), "--log-level", "warn",
               "--oidc-signers", SIGNER, "--oidc-key-url", url, "--oidc-ca-file", paths["ca.pem"]],
              hp, "hydrant", log=log)
        env = dict(os.environ, KEY_URL=url, CA_FILE=paths["ca.pem"], SIGNER=SIGNER)
        start(["/usr/bin/gunicorn", "-w", "2", "-b", "127.0.0.1:%d" % sp, "--chdir",
               os.path.join(ROOT, "bench"), "pyjwt_sidecar:app"], sp, "gunicorn", env=env, log=log)
        with open(os.path.join(ROOT, "examples", "nginx", "hydrant-auth.conf")) as f:
            site = f.read()
        site_h = (site.replace("127.0.0.1:4566", "127.0.0.1:%d" % hp)
                  .replace("127.0.0.1:3000", "127.0.0.1:%d" % app)
                  .replace("127.0.0.1:8080", "127.0.0.1:%d" % np_h))
        site_s = (site.replace("hydrant_auth", "sidecar_auth").replace("app_backend", "app2")
                  .replace("127.0.0.1:4566", "127.0.0.1:%d" % sp)
                  .replace("127.0.0.1:3000", "127.0.0.1:%d" % app)
                  .replace("127.0.0.1:8080", "127.0.0.1:%d" % np_s))
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write("%s\nworker_processes %s;\npid %s/nginx.pid;\nerror_log %s/nginx.log;\n"
                    "events { worker_connections 1024; }\nhttp {\naccess_log off;\n"
                    "client_body_temp_path %s/b; proxy_temp_path %s/p; fastcgi_temp_path %s/f;\n"
                    "uwsgi_temp_path %s/u; scgi_temp_path %s/s;\n"
                    "server { listen 127.0.0.1:%d; location / { return 200 \"app\\n\"; } }\n"
                    "server { listen 127.0.0.1:%d; location / { proxy_pass http://app_backend;\n"
                    "  proxy_http_version 1.1; proxy_set_header Connection \"\"; } }\n"
                    "%s\n%s\n}\n" % ("user root;" if os.geteuid() == 0 else "",
                                     os.environ.get("BENCH_NGINX_WORKERS", "1"), tmp, tmp, tmp,
                                     tmp, tmp, tmp, tmp, app, np_p, site_h, site_s))
        start([shutil.which("nginx") or "/usr/sbin/nginx", "-p", tmp, "-c", conf, "-g",
               "daemon off;"], np_s, "nginx", log=log)

        exp_in = 3600
        tok = mint({"typ": "JWT", "kid": KID, "alg": "ES256", "signer": SIGNER,
                    "exp": str(int(time.time()) + exp_in)},
                   {"sub": "1234567890", "email": "jo@example.com", "given_name": "Jo",
                    "family_name": "Doe", "exp": int(time.time()) + exp_in}, key)
        hfile = os.path.join(tmp, "headers")
        with open(hfile, "w") as f:
            f.write("x-amzn-oidc-data: %s\r\n" % tok)
        h = {"x-amzn-oidc-data": tok}
        print("\n### Cold key (first request: key fetched over https from the local key server)\n")
        print("| target | status | first request ms | second request ms |\n|---|---|--:|--:|")
        for label, port, path in (("hydrant /_hydrant/auth", hp, "/_hydrant/auth"),
                                  ("PyJWT sidecar", sp, "/")):
            st, ms1 = timed_get(port, path, h)
            _, ms2 = timed_get(port, path, h)
            print("| %s | %d | %.1f | %.1f |" % (label, st, ms1, ms2))
        for port in (np_h, np_s):  # warm each gunicorn worker / path once
            timed_get(port, "/", h)
        print("\n### Over HTTP, warm key (%s connections, %s s each; authload on the same cores)\n"
              % (CONNS, SECS))
        print("| target | req/s | p50 us | p99 us | max us | 2xx/4xx/5xx/other | reconnects |\n"
              "|---|--:|--:|--:|--:|---|--:|")
        sys.stdout.flush()
        for label, port, path in (
                ("hydrant /_hydrant/auth, direct", hp, "/_hydrant/auth"),
                ("PyJWT+gunicorn sidecar (2 workers), direct", sp, "/"),
                ("nginx auth_request -> hydrant -> app", np_h, "/"),
                ("nginx auth_request -> PyJWT sidecar -> app", np_s, "/"),
                ("nginx proxy -> app, no auth_request (proxy floor)", np_p, "/"),
                ("nginx -> app, no auth_request (floor)", app, "/")):
            print(authload(port, path, hfile, label))
            sys.stdout.flush()
        keys.stop()
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(20)
        procs.clear()

        print("\n### SigV4: PutRecordBatch 500 x 1 KiB, %s connections, %s s per run, alternating\n"
              % (CONNS, SECS))
        creds = os.path.join(tmp, "creds.json")
        with open(creds, "w") as f:
            json.dump([{"AccessKeyId": "test", "SecretAccessKey": "test"}], f)
        os.chmod(creds, 0o600)
        header = True
        for i in range(2):
            for signed in (False, True):
                port = free_port()
                data = os.path.join(tmp, "sv-%d-%d" % (i, signed))
                args = [os.path.join(BUILD, "hydrant"), "serve", "--listen",
                        "127.0.0.1:%d" % port, "--data-dir", data, "--log-level", "warn"]
                if signed:
                    args += ["--credentials", creds]
                p = start(args, port, "hydrant", log=log)
                lg = [os.path.join(BUILD, "loadgen"), "--url", "http://127.0.0.1:%d" % port,
                      "--stream", "bench", "--create", "--op", "batch", "--connections",
                      CONNS, "--duration", SECS, "--quiet", "--server-pid", str(p.pid),
                      "--access-key", "test", "--secret-key", "test", "--label",
                      "%s #%d" % ("SigV4 verified" if signed else "open (unsigned check)", i + 1)]
                if header:
                    lg.append("--header")
                    header = False
                r = subprocess.run(lg, capture_output=True, text=True)
                print(r.stdout.strip() or r.stderr.strip()[-300:])
                sys.stdout.flush()
                p.send_signal(signal.SIGTERM)
                p.wait(60)
                procs.remove(p)
                shutil.rmtree(data, ignore_errors=True)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
