#!/usr/bin/python3
"""Serve a Lambda-style handler at the Lambda invoke URL convention (what the Runtime Interface
Emulator serves): POST /2015-03-31/functions/function/invocations with the event as the body,
the return value as the answer; a handler exception answers 200 with X-Amz-Function-Error.

    python3 invoke_server.py enricher.py [PORT]     (127.0.0.1; PORT 0 picks one and prints it)
"""
import http.server
import json
import sys

from worker import load

PATH = "/2015-03-31/functions/function/invocations"


def make_handler(fn):
    class Invoke(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path != PATH:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            extra = {}
            try:
                result = fn(json.loads(body), None)
            except Exception as e:
                result = {"errorMessage": str(e), "errorType": type(e).__name__}
                extra["X-Amz-Function-Error"] = "Unhandled"
            data = json.dumps(result, separators=(",", ":")).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in extra.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    return Invoke


def main():
    fn = load(sys.argv[1])
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), make_handler(fn))
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
