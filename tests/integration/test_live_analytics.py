"""Live analytics (issue 11 item 4): settings through /_hydrant/streams/<name>/analytics and the
--streams file, a NAB file pushed through PutRecordBatch as JSON records, anomaly events found in
the target stream's delivered objects equal to what `hydrant detect` gives for the same file,
also across a kill -9 in the middle."""

import csv
import http.server
import io
import json
import os
import socket
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

NAB = os.environ.get("HYDRANT_NAB_DIR", "/work/shared/nab")
CPU = "realAWSCloudwatch/rds_cpu_utilization_e47b3b.csv"
THRESHOLD = 0.5


def nab_rows():
    with open(os.path.join(NAB, "data", CPU), newline="") as f:
        rows = list(csv.reader(f))[1:]
    return [(ts, float(v)) for ts, v in rows]


def expected_events():
    """Rows of `hydrant detect` with score >= threshold: (timestamp, value, score)."""
    r = subprocess.run([harness.HYDRANT_BIN, "detect", "--input", os.path.join(NAB, "data", CPU),
                        "--output", "-"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=harness.scaled(60))
    if r.returncode != 0:
        raise AssertionError(r.stderr.decode())
    rows = list(csv.reader(io.StringIO(r.stdout.decode())))[1:]
    return [(ts, float(v), float(s)) for ts, v, s in rows if float(s) >= THRESHOLD]


def records(rows):
    return [json.dumps({"timestamp": ts, "value": v}).encode() + b"\n" for ts, v in rows]


SETTINGS = {"value": ".value", "timestamp": ".timestamp", "threshold": THRESHOLD,
            "target_stream": "anomalies"}


class LiveAnalyticsTest(harness.HydrantTestCase):
    @classmethod
    def setUpClass(cls):
        if boto3_missing():
            raise unittest.SkipTest("boto3 not available")
        if not os.path.exists(os.path.join(NAB, "data", CPU)):
            raise unittest.SkipTest("NAB data not found at %s (HYDRANT_NAB_DIR)" % NAB)
        if not os.path.exists(harness.HYDRANT_BIN):
            raise unittest.SkipTest("hydrant binary not found")
        cls.want = expected_events()
        assert cls.want, "the NAB file gives no anomaly at %s" % THRESHOLD

    def setup_streams(self, srv):
        c = srv.client()
        harness.create_stream(c, "metrics", bucket="lake", size=1, interval=0)
        harness.create_stream(c, "anomalies", bucket="alerts", size=1, interval=0)
        harness.wait_active(c, "metrics")
        harness.wait_active(c, "anomalies")
        st, _, body = srv.http("PUT", "/_hydrant/streams/metrics/analytics", json.dumps(SETTINGS))
        self.assertEqual(st, 200, body)
        return c

    def events(self, srv):
        out = []
        for key in srv.objects("alerts"):
            for line in srv.read_object("alerts", key).splitlines():
                out.append(json.loads(line))
        return out

    def wait_events(self, srv, n_points):
        harness.wait_until(lambda: (srv.metric("hydrant_analytics_points_total",
                                               stream="metrics") or 0) >= n_points,
                           harness.scaled(30), what="%d points scored" % n_points)
        n_anom = srv.metric("hydrant_analytics_anomalies_total", stream="metrics")

        def delivered():
            ev = self.events(srv)
            return ev if len({e["seq"] for e in ev}) >= len(self.want) else None
        return harness.wait_until(delivered, harness.scaled(30),
                                  what="%d anomaly events delivered (%s counted)"
                                  % (len(self.want), n_anom))

    def check(self, ev):
        by_seq = {}
        for e in ev:
            self.assertEqual(set(e), {"stream", "key", "timestamp", "value", "score", "detector",
                                      "seq"})
            self.assertEqual(e["stream"], "metrics")
            self.assertEqual(e["detector"], "ensemble2")  # the default detector
            self.assertIsNone(e["key"])
            prev = by_seq.setdefault(e["seq"], e)
            self.assertEqual(prev, e, "a replayed event differs from the first")
        got = [(e["timestamp"], e["value"], e["score"])
               for e in sorted(by_seq.values(), key=lambda e: e["seq"])]
        self.assertEqual(got, self.want)

    def test_events_equal_hydrant_detect(self):
        srv = self.start_server()
        c = self.setup_streams(srv)
        rows = nab_rows()
        harness.put_all(c, "metrics", records(rows))
        ev = self.wait_events(srv, len(rows))
        self.check(ev)
        self.assertEqual(len(ev), len(self.want), "no duplicates without a crash")
        self.assertEqual(srv.metric("hydrant_analytics_parse_failures_total", stream="metrics"), 0)
        # the source's own delivery is untouched by analytics
        harness.wait_until(lambda: srv.metric("hydrant_delivery_to_s3_records_total",
                                              stream="metrics") == len(rows),
                           harness.scaled(20), what="source records delivered")

    def test_kill9_in_the_middle_gives_the_same_events(self):
        srv = self.start_server()
        c = self.setup_streams(srv)
        rows = nab_rows()
        half = len(rows) // 2
        harness.put_all(c, "metrics", records(rows[:half]))
        # kill while analytics is (most likely) mid-way through the first half
        harness.wait_until(lambda: (srv.metric("hydrant_analytics_points_total",
                                               stream="metrics") or 0) > 0,
                           harness.scaled(20), what="scoring started")
        srv.kill9()
        srv.start()
        c = srv.client()
        harness.put_all(c, "metrics", records(rows[half:]))
        # points after the restart count from 0: wait for the events instead
        def delivered():
            ev = self.events(srv)
            return ev if len({e["seq"] for e in ev}) >= len(self.want) else None
        ev = harness.wait_until(delivered, harness.scaled(40), what="anomaly events delivered")
        self.check(ev)

    def test_settings_endpoint(self):
        srv = self.start_server()
        c = srv.client()
        harness.create_stream(c, "src", bucket="lake")
        harness.wait_active(c, "src")
        path = "/_hydrant/streams/src/analytics"
        st, _, body = srv.http("GET", path)
        self.assertEqual(st, 404, body)
        bad = [
            (b"not json", "JSON object"),
            (json.dumps({"target_stream": "t"}), "value is required"),
            (json.dumps({"value": ".a | (", "target_stream": "t"}), "not a valid jq program"),
            (json.dumps({"value": ".a", "target_stream": "t", "detector": "nope"}),
             "unknown detector"),
            (json.dumps({"value": ".a", "target_stream": "t", "threshold": 2}), "threshold"),
            (json.dumps({"value": ".a", "target_stream": "src"}), "another stream"),
            (json.dumps({"value": ".a"}), "target_stream is required"),
            (json.dumps({"value": ".a", "target_stream": "t", "max_keys": 5}), "needs key"),
            (json.dumps({"value": ".a", "target_stream": "t", "extra": 1}), "unknown field"),
            (json.dumps({"value": ".a", "target_stream": "t", "webhook": "ftp://x"}), "webhook"),
        ]
        for b, msg in bad:
            st, hdr, body = srv.http("PUT", path, b)
            self.assertEqual(st, 400, (b, body))
            self.assertIn(msg, json.loads(body)["message"], b)
        st, _, body = srv.http("PUT", "/_hydrant/streams/nope/analytics", json.dumps(SETTINGS))
        self.assertEqual(st, 404, body)
        st, _, body = srv.http("POST", path, b"{}")
        self.assertEqual(st, 405, body)
        good = {"value": ".cpu", "key": ".host", "max_keys": 10, "target_stream": "t"}
        st, _, body = srv.http("PUT", path, json.dumps(good))
        self.assertEqual(st, 200, body)
        stored = json.loads(body)["Analytics"]
        self.assertEqual(stored, dict(good, detector="ensemble2", threshold=0.5))
        # persisted with the stream, invisible in the AWS shape
        srv.restart()
        st, _, body = srv.http("GET", path)
        self.assertEqual(st, 200, body)
        self.assertEqual(json.loads(body)["Analytics"], stored)
        d = srv.client().describe_delivery_stream(DeliveryStreamName="src")
        self.assertNotIn("value", json.dumps(d["DeliveryStreamDescription"], default=str))
        st, _, body = srv.http("DELETE", path)
        self.assertEqual((st, json.loads(body)["Removed"]), (200, True), body)
        st, _, body = srv.http("DELETE", path)
        self.assertEqual((st, json.loads(body)["Removed"]), (200, False), body)
        st, _, body = srv.http("GET", path)
        self.assertEqual(st, 404, body)

    def test_streams_file_field(self):
        entry = {"DeliveryStreamName": "m", "DeliveryStreamType": "DirectPut",
                 "ExtendedS3DestinationConfiguration": harness.s3_dest(bucket="lake"),
                 "HydrantAnalytics": {"value": ".v", "target_stream": "a"}}
        tmp = self.start_server().data_dir + "-streams.json"
        with open(tmp, "w") as f:
            json.dump([entry], f)
        srv = self.start_server(extra_args=["--streams", tmp])
        st, _, body = srv.http("GET", "/_hydrant/streams/m/analytics")
        self.assertEqual(st, 200, body)
        self.assertEqual(json.loads(body)["Analytics"]["value"], ".v")
        entry["HydrantAnalytics"]["detector"] = "nope"
        with open(tmp, "w") as f:
            json.dump([entry], f)
        srv.stop()
        with self.assertRaises(AssertionError) as cm:
            srv.start(timeout=harness.scaled(5))
        self.assertIn("HydrantAnalytics: unknown detector", srv.log_tail())
        del cm


class Hook(http.server.BaseHTTPRequestHandler):
    bodies = []

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        Hook.bodies.append((self.headers.get("Content-Type"), self.rfile.read(n)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *a):
        pass


class WebhookTest(harness.HydrantTestCase):
    def test_webhook_gets_the_events_and_a_dead_one_is_counted(self):
        if not os.path.exists(os.path.join(NAB, "data", CPU)):
            self.skipTest("NAB data not found")
        httpd = http.server.HTTPServer(("127.0.0.1", 0), Hook)
        t = threading.Thread(target=httpd.serve_forever, daemon=True)
        t.start()
        self.addCleanup(httpd.server_close)
        self.addCleanup(httpd.shutdown)
        Hook.bodies = []
        dead = socket.socket()
        dead.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        self.addCleanup(dead.close)
        srv = self.start_server()
        c = srv.client()
        for name in ("m1", "m2", "alerts"):
            harness.create_stream(c, name, bucket="lake-" + name, size=1, interval=0)
            harness.wait_active(c, name)
        for name, url in (("m1", "http://127.0.0.1:%d/hook" % httpd.server_port),
                          ("m2", "http://127.0.0.1:%d/hook" % dead.getsockname()[1])):
            st, _, body = srv.http("PUT", "/_hydrant/streams/%s/analytics" % name,
                                   json.dumps(dict(SETTINGS, target_stream="alerts",
                                                   webhook=url)))
            self.assertEqual(st, 200, body)
        rows = nab_rows()
        harness.put_all(c, "m1", records(rows))
        harness.put_all(c, "m2", records(rows))
        want = len(expected_events())

        def hooked():
            lines = [json.loads(x) for _, b in Hook.bodies for x in b.splitlines()]
            return lines if len(lines) >= want else None
        lines = harness.wait_until(hooked, harness.scaled(30), what="%d events POSTed" % want)
        self.assertEqual(len(lines), want)
        self.assertTrue(all(ct == "application/x-ndjson" for ct, _ in Hook.bodies))
        self.assertTrue(all(e["stream"] == "m1" for e in lines))
        harness.wait_until(lambda: (srv.metric("hydrant_analytics_webhook_failures_total",
                                               stream="m2") or 0) > 0,
                           harness.scaled(30), what="the dead webhook counted")
        # both streams' events still land in the target stream
        def landed():
            ev = [json.loads(x) for k in srv.objects("lake-alerts")
                  for x in srv.read_object("lake-alerts", k).splitlines()]
            return ev if len(ev) >= 2 * want else None
        ev = harness.wait_until(landed, harness.scaled(30), what="events of both streams")
        self.assertEqual(sorted(e["stream"] for e in ev), ["m1"] * want + ["m2"] * want)


def boto3_missing():
    return harness.boto3 is None


if __name__ == "__main__":
    unittest.main()
