"""PostgreSQL as a Redshift-style destination, against a real throw-away PostgreSQL 15 cluster:
CSV, JSON 'auto' and GZIP loads, rows PostgreSQL rejects isolated into hydrant_load_errors, kill -9
under load and PostgreSQL down for a while (every acknowledged record exactly once), the retry
window ending in errors/manifests/, and CopyOptions/JDBC URLs refused at create."""

import gzip
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import HydrantTestCase, wait_until  # noqa: E402

PG_BIN = "/usr/lib/postgresql/15/bin"
PG_USER = "hy"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Postgres(object):
    """initdb under a temp dir, postgres on 127.0.0.1 and a free port; run as the postgres
    system user when we are root (postgres refuses to run as root)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="hydrant-pg-")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.as_user = []
        if os.geteuid() == 0:
            os.chown(self.dir, *self._ids("postgres"))
            self.as_user = ["runuser", "-u", "postgres", "--"]
        subprocess.run(self.as_user + [os.path.join(PG_BIN, "initdb"), "-D", self.data, "-A", "trust",
                                       "-U", PG_USER, "--no-sync", "-E", "UTF8"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.start()

    @staticmethod
    def _ids(user):
        import pwd
        p = pwd.getpwnam(user)
        return p.pw_uid, p.pw_gid

    def start(self):
        subprocess.run(self.as_user + [os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-w", "-l",
                                       os.path.join(self.dir, "log"), "-o",
                                       "-h 127.0.0.1 -p %d -k %s -c fsync=off" % (self.port, self.dir),
                                       "start"], check=True, stdout=subprocess.DEVNULL)

    def stop(self, mode="fast"):
        subprocess.run(self.as_user + [os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-m", mode,
                                       "-w", "stop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def destroy(self):
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    def sql(self, q):
        r = subprocess.run(["psql", "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                            "-p", str(self.port), "-U", PG_USER, "-d", "postgres", "-c", q],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
        return [line.split("\t") for line in r.stdout.decode().splitlines() if line]

    def jdbc(self, scheme="postgresql"):
        return "jdbc:%s://127.0.0.1:%d/postgres" % (scheme, self.port)


def redshift(pg, table, columns=None, options=None, bucket="stage", interval=0, retry=60, scheme="postgresql",
             compression=None):
    cc = {"DataTableName": table}
    if columns:
        cc["DataTableColumns"] = columns
    if options is not None:
        cc["CopyOptions"] = options
    s3 = {"RoleARN": harness.ROLE_ARN, "BucketARN": "arn:aws:s3:::" + bucket,
          "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": interval}}
    if compression:
        s3["CompressionFormat"] = compression
    return {"RoleARN": harness.ROLE_ARN, "ClusterJDBCURL": pg.jdbc(scheme), "CopyCommand": cc,
            "Username": PG_USER, "Password": "unused", "RetryOptions": {"DurationInSeconds": retry},
            "S3Configuration": s3}


def create(client, name, cfg):
    client.create_delivery_stream(DeliveryStreamName=name, DeliveryStreamType="DirectPut",
                                  RedshiftDestinationConfiguration=cfg)
    harness.wait_active(client, name)


def count(pg, table, where="true"):
    return int(pg.sql("SELECT count(*) FROM %s WHERE %s" % (table, where))[0][0])


@unittest.skipUnless(os.path.exists(os.path.join(PG_BIN, "initdb")), "PostgreSQL 15 server not installed")
class PostgresTest(HydrantTestCase):
    pg = None

    @classmethod
    def setUpClass(cls):
        cls.pg = Postgres()
        try:
            cls.start_class_server()
        except BaseException:
            cls.pg.destroy()
            raise

    @classmethod
    def tearDownClass(cls):
        super(PostgresTest, cls).tearDownClass()
        if cls.pg:
            cls.pg.destroy()

    def test_csv_load_manifest_describe_metrics(self):
        srv, pg = self.class_server, self.pg
        pg.sql("CREATE TABLE csv_t (id int PRIMARY KEY, name text, score numeric)")
        fh = srv.client()
        create(fh, "pg-csv", redshift(pg, "csv_t", "id, name, score", "CSV NULL AS 'none' QUOTE AS '''' ",
                                      scheme="redshift" if False else "postgresql"))
        recs = [b"%d,'name, %d',%s\n" % (i, i, b"none" if i % 10 == 0 else b"%d.5" % i) for i in range(300)]
        harness.put_all(fh, "pg-csv", recs)
        wait_until(lambda: count(pg, "csv_t") == 300, 20, what="300 rows in csv_t")
        self.assertEqual(pg.sql("SELECT name, score FROM csv_t WHERE id = 7"), [["name, 7", "7.5"]])
        self.assertEqual(count(pg, "csv_t", "score IS NULL"), 30)
        # Staged objects and Firehose manifests beside them, each manifest recorded once.
        objs = srv.objects("stage")
        manifests = [k for k in objs if k.startswith("manifests/")]
        self.assertTrue(manifests, objs)
        m = json.loads(srv.read_object("stage", manifests[0]))
        url = m["entries"][0]["url"]
        self.assertTrue(url.startswith("s3://stage/pg-csv-"), m)
        self.assertTrue(m["entries"][0]["mandatory"])
        self.assertIn(url[len("s3://stage/"):], objs)
        loaded = pg.sql("SELECT manifest, rows FROM hydrant_loads WHERE file LIKE 's3://stage/pg-csv-%'")
        self.assertEqual(sorted(r[0] for r in loaded), sorted("stage/" + k for k in manifests))
        self.assertEqual(sum(int(r[1]) for r in loaded), 300)
        d = fh.describe_delivery_stream(DeliveryStreamName="pg-csv")["DeliveryStreamDescription"]
        rd = d["Destinations"][0]["RedshiftDestinationDescription"]
        self.assertEqual(rd["ClusterJDBCURL"], pg.jdbc())
        self.assertEqual(rd["CopyCommand"]["DataTableName"], "csv_t")
        self.assertEqual(rd["Username"], PG_USER)
        self.assertNotIn("Password", rd)
        self.assertEqual(rd["S3DestinationDescription"]["BucketARN"], "arn:aws:s3:::stage")
        self.assertEqual(rd["RetryOptions"]["DurationInSeconds"], 60)
        self.assertEqual(srv.metric("hydrant_delivery_to_redshift_records_total", stream="pg-csv"), 300)
        self.assertGreaterEqual(srv.metric("hydrant_delivery_to_redshift_success_total", stream="pg-csv"), 1)
        self.assertGreater(srv.metric("hydrant_delivery_to_redshift_bytes_total", stream="pg-csv"), 0)

    def test_json_auto_gzip(self):
        srv, pg = self.class_server, self.pg
        pg.sql("CREATE TABLE json_t (id int, name text, ok boolean, attrs text)")
        fh = srv.client()
        create(fh, "pg-json", redshift(pg, "json_t", "id,name,ok,attrs", "JSON 'auto' GZIP", compression="GZIP",
                                       scheme="redshift"))
        recs = [json.dumps({"ID": i, "name": 'q"uote,%d' % i, "ok": i % 2 == 0, "attrs": {"k": [i]},
                            "extra": "ignored"}).encode() for i in range(200)]
        recs.append(json.dumps({"id": 200}).encode())  # missing keys -> NULL
        harness.put_all(fh, "pg-json", recs)
        wait_until(lambda: count(pg, "json_t") == 201, 20, what="201 rows in json_t")
        self.assertEqual(pg.sql("SELECT name, ok, attrs FROM json_t WHERE id = 4"), [['q"uote,4', "t", '{"k":[4]}']])
        self.assertEqual(pg.sql("SELECT name IS NULL, ok IS NULL FROM json_t WHERE id = 200"), [["t", "t"]])
        staged = [k for k in srv.objects("stage") if k.startswith("pg-json-")]
        self.assertTrue(staged and all(k.endswith(".gz") for k in staged), staged)
        lines = b"".join(gzip.decompress(srv.read_object("stage", k)) for k in staged).splitlines()
        self.assertEqual(len(lines), 201)

    def test_rejected_rows_isolated(self):
        srv, pg = self.class_server, self.pg
        pg.sql("CREATE TABLE typed_t (id int, n int NOT NULL)")
        fh = srv.client()
        create(fh, "pg-typed", redshift(pg, "typed_t", "id,n", "DELIMITER ';'"))
        recs = []
        for i in range(100):
            if i % 25 == 3:
                recs.append(b"%d;not-a-number\n" % i)
            elif i == 50:
                recs.append(b"50;\\N\n")  # NOT NULL violation
            else:
                recs.append(b"%d;%d\n" % (i, i * 2))
        harness.put_all(fh, "pg-typed", recs)
        wait_until(lambda: count(pg, "hydrant_load_errors", "file LIKE 's3://stage/pg-typed-%'") == 5, 20,
                   what="5 rows in hydrant_load_errors")
        wait_until(lambda: count(pg, "typed_t") == 95, 20, what="95 rows in typed_t")
        errs = pg.sql("SELECT raw_line, colname, err, line FROM hydrant_load_errors "
                      "WHERE file LIKE 's3://stage/pg-typed-%' ORDER BY raw_line")
        self.assertEqual(sorted(e[0] for e in errs),
                         sorted(["3;not-a-number", "28;not-a-number", "53;not-a-number", "78;not-a-number", "50;\\N"]))
        for e in errs:
            self.assertEqual(e[1], "n", e)
            self.assertTrue(e[2], e)
            self.assertGreaterEqual(int(e[3]), 1)
        # Each record is in the table or in the errors, never both, never neither.
        loaded = {int(r[0]) for r in pg.sql("SELECT id FROM typed_t")}
        failed = {int(e[0].split(";")[0]) for e in errs}
        self.assertEqual(loaded | failed, set(range(100)))
        self.assertFalse(loaded & failed)

    def test_bad_options_refused_at_create(self):
        srv, pg = self.class_server, self.pg
        fh = srv.client()
        for opts, word in (("CSV TIMEFORMAT 'auto'", "TIMEFORMAT"), ("MANIFEST", "MANIFEST"),
                           ("JSON 's3://bucket/paths.json'", "JSON"), ("CSV JSON 'auto'", "JSON")):
            e = self.assertClientError(lambda: fh.create_delivery_stream(
                DeliveryStreamName="pg-bad", RedshiftDestinationConfiguration=redshift(pg, "t", "a", opts)),
                "InvalidArgumentException")
            self.assertIn(word, e.response["Error"]["Message"])
        cfg = redshift(pg, "t")
        for url in ("jdbc:mysql://127.0.0.1:3306/db", "jdbc:postgresql://127.0.0.1:99999/db",
                    "jdbc:redshift://127.0.0.1:5439"):
            cfg["ClusterJDBCURL"] = url
            self.assertClientError(lambda: fh.create_delivery_stream(
                DeliveryStreamName="pg-bad", RedshiftDestinationConfiguration=cfg), "InvalidArgumentException")
        self.assertNotIn("pg-bad", fh.list_delivery_streams()["DeliveryStreamNames"])

    def test_retry_window_ends_in_error_manifests(self):
        srv, pg = self.class_server, self.pg
        fh = srv.client()
        create(fh, "pg-missing", redshift(pg, "no_such_table", "a", retry=1))
        harness.put_all(fh, "pg-missing", [b"1\n", b"2\n"])
        key = wait_until(lambda: [k for k in srv.objects("stage") if k.startswith("errors/manifests/pg-missing-")],
                         20, what="an errors/manifests/ object")
        m = json.loads(srv.read_object("stage", key[0]))
        self.assertTrue(m["entries"][0]["url"].startswith("s3://stage/pg-missing-"))
        self.assertEqual(count(pg, "hydrant_loads", "file LIKE 's3://stage/pg-missing-%'"), 0)

    def test_postgres_down_then_up_loads_once(self):
        srv, pg = self.class_server, self.pg
        pg.sql("CREATE TABLE down_t (id int)")
        fh = srv.client()
        create(fh, "pg-down", redshift(pg, "down_t", "id", "CSV"))
        harness.put_all(fh, "pg-down", [b"%d\n" % i for i in range(50)])
        wait_until(lambda: count(pg, "down_t") == 50, 20, what="first 50 rows")
        pg.stop()
        try:
            harness.put_all(fh, "pg-down", [b"%d\n" % i for i in range(50, 150)])
            wait_until(lambda: "connect" in srv.log_tail(200) and "pg-down" in srv.log_tail(200), 15,
                       what="a failed load attempt logged")
        finally:
            pg.start()
        wait_until(lambda: count(pg, "down_t") == 150, 30, what="150 rows after PostgreSQL is back")
        self.assertEqual(count(pg, "(SELECT id FROM down_t GROUP BY id HAVING count(*) > 1) d"), 0)


@unittest.skipUnless(os.path.exists(os.path.join(PG_BIN, "initdb")), "PostgreSQL 15 server not installed")
class PostgresCrashTest(HydrantTestCase):
    def test_replay_of_a_committed_batch_commits_nothing(self):
        """The window between COMMIT and the cursor file, made deterministic: put a committed
        batch's intent back into the cursor file (what a kill -9 right after COMMIT leaves)."""
        pg = Postgres()
        self.addCleanup(pg.destroy)
        pg.sql("CREATE TABLE replay_t (id int)")
        srv = self.start_server()
        fh = srv.client()
        create(fh, "pg-replay", redshift(pg, "replay_t", "id", "CSV"))
        harness.put_all(fh, "pg-replay", [b"%d\n" % i for i in range(40)])
        wait_until(lambda: count(pg, "replay_t") == 40, 20, what="40 rows")
        manifest = pg.sql("SELECT manifest FROM hydrant_loads ORDER BY manifest LIMIT 1")[0][0]
        f, l = [int(x) for x in manifest.rsplit("-", 2)[1:]]
        self.assertEqual(srv.kill9(), -signal.SIGKILL)
        state = os.path.join(srv.data_dir, "streams", "pg-replay", "consumers", "warehouse.state")
        with open(state) as fp:
            self.assertEqual(fp.read().split()[1], "0")
        with open(state, "w") as fp:
            fp.write("%d %d\n" % (f, l))
        srv.start()
        def replayed():
            with open(state) as fp:
                c, intent = [int(x) for x in fp.read().split()]
            return c >= l and intent == 0
        wait_until(replayed, 20, what="the batch replayed and the cursor past it")
        harness.put_all(srv.client(), "pg-replay", [b"%d\n" % i for i in range(40, 50)])
        wait_until(lambda: count(pg, "replay_t") >= 50, 20, what="50 rows")
        self.assertEqual(pg.sql("SELECT count(*), count(DISTINCT id) FROM replay_t"), [["50", "50"]])

    def test_kill9_under_load_exactly_once(self):
        pg = Postgres()
        self.addCleanup(pg.destroy)
        pg.sql("CREATE TABLE crash_t (id int, producer int)")
        srv = self.start_server()
        fh = srv.client()
        create(fh, "pg-crash", redshift(pg, "crash_t", "id,producer", "CSV"))
        seed = int(os.environ.get("HYDRANT_IT_SEED", random.randrange(1 << 30)))
        rnd = random.Random(seed)
        sys.stderr.write("[test_postgres] seed %d\n" % seed)
        acked = set()
        next_id = 0
        for rnd_i in range(4):
            stop = threading.Event()
            lock = threading.Lock()
            client = srv.client()

            def produce():
                nonlocal next_id
                while not stop.is_set():
                    with lock:
                        ids = list(range(next_id, next_id + 20))
                        next_id += 20
                    try:
                        r = client.put_record_batch(DeliveryStreamName="pg-crash",
                                                    Records=[{"Data": b"%d,%d\n" % (i, rnd_i)} for i in ids])
                    except Exception:  # noqa: BLE001 - the server is killed under us on purpose
                        return
                    with lock:
                        for i, rr in zip(ids, r["RequestResponses"]):
                            if "RecordId" in rr:
                                acked.add(i)
            t = threading.Thread(target=produce, daemon=True)
            t.start()
            time.sleep(rnd.uniform(0.3, 1.5))  # the random kill moment, not synchronisation
            self.assertEqual(srv.kill9(), -signal.SIGKILL)
            stop.set()
            t.join(10)
            srv.start()
            fh = srv.client()
        with lock:
            want = set(acked)
        wait_until(lambda: want <= {int(r[0]) for r in pg.sql("SELECT id FROM crash_t")}, 30, 0.3,
                   what="%d acknowledged rows" % len(want))
        dups = pg.sql("SELECT id, count(*) FROM crash_t GROUP BY id HAVING count(*) > 1 LIMIT 5")
        self.assertEqual(dups, [], "duplicated rows after kill -9")
        got = {int(r[0]) for r in pg.sql("SELECT id FROM crash_t")}
        self.assertFalse(want - got, "acknowledged rows missing")


if __name__ == "__main__":
    unittest.main()
