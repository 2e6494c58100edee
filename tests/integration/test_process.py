"""Process life: refusing to start, a full disk, and recovery when space returns.

Runs under the base image's pyenv python3 (boto3 1.43). The full-disk test mounts a small tmpfs
as the data directory (root only); where mounting is not allowed it is skipped, saying so.
"""

import os
import resource
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import HydrantTestCase, Server, wait_until  # noqa: E402


def run_hydrant(args, timeout=10):
    """Run hydrant serve with args to completion; return (exit code, stderr text)."""
    p = subprocess.run([harness.HYDRANT_BIN, "serve"] + args, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=harness.scaled(timeout))
    return p.returncode, p.stderr.decode("utf-8", "replace")


class StartupTest(HydrantTestCase):
    def test_port_in_use_is_refused_with_a_clear_message(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        tmp = tempfile.mkdtemp(prefix="hydrant-it-")
        try:
            rc, err = run_hydrant(["--listen", "127.0.0.1:%d" % port, "--data-dir", tmp + "/d"])
        finally:
            s.close()
            shutil.rmtree(tmp, ignore_errors=True)
        self.assertEqual(rc, 1, err)
        self.assertIn("already in use", err)

    def test_unusable_data_dir_is_refused_with_a_clear_message(self):
        tmp = tempfile.mkdtemp(prefix="hydrant-it-")
        try:
            blocker = os.path.join(tmp, "file")
            with open(blocker, "w") as f:
                f.write("not a directory")
            rc, err = run_hydrant(["--listen", "127.0.0.1:0", "--data-dir", blocker + "/data"])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self.assertEqual(rc, 1, err)
        self.assertIn("cannot create the data directory", err)

    def test_second_process_on_the_same_data_dir_is_refused(self):
        srv = self.start_server()
        rc, err = run_hydrant(["--listen", "127.0.0.1:0", "--data-dir", srv.data_dir])
        self.assertEqual(rc, 1, err)
        self.assertIn("in use by another hydrant", err)
        self.assertEqual(srv.health(), 200)

    def test_bad_flag_value_is_refused(self):
        rc, err = run_hydrant(["--log-level", "loud"])
        self.assertEqual(rc, 2)
        self.assertIn("--log-level", err)


class ConnectionsTest(HydrantTestCase):
    def test_1500_concurrent_keep_alive_connections_are_all_served(self):
        n = 1500
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard < n + 100:
            raise unittest.SkipTest("RLIMIT_NOFILE hard limit %d is below %d" % (hard, n + 100))
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, n + 100), hard))
        self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        srv = self.start_server()
        socks = []
        self.addCleanup(lambda: [x.close() for x in socks])
        for _ in range(n):
            socks.append(socket.create_connection(("127.0.0.1", srv.port), timeout=10))
        # Every connection open at once, then one request on each; all must be answered.
        req = b"GET /_hydrant/health HTTP/1.1\r\nHost: x\r\n\r\n"
        for x in socks:
            x.sendall(req)
        sel = selectors.DefaultSelector()
        got = {}
        for x in socks:
            x.setblocking(False)
            sel.register(x, selectors.EVENT_READ)
            got[x] = b""
        done = 0

        def all_answered():
            nonlocal done
            for key, _ in sel.select(timeout=0.2):
                data = key.fileobj.recv(4096)
                self.assertTrue(data, "a connection was closed before its answer")
                got[key.fileobj] += data
                if got[key.fileobj].endswith(b"ok") or b"\r\n\r\n" in got[key.fileobj]:
                    sel.unregister(key.fileobj)
                    done += 1
            return done == n

        wait_until(all_answered, 30, interval=0, what="answers on all %d connections" % n)
        for x in socks:
            self.assertTrue(got[x].startswith(b"HTTP/1.1 200"), got[x][:80])
        # Keep-alive: the same connections serve a second round.
        for x in socks[:50]:
            x.setblocking(True)
            x.sendall(req)
            self.assertTrue(x.recv(4096).startswith(b"HTTP/1.1 200"))


class DeleteTest(HydrantTestCase):
    def test_delete_keeps_a_stream_whose_records_cannot_be_delivered(self):
        srv = self.start_server()
        fh = srv.client()
        # Break the sink before the stream exists: its bucket path is a plain file, so no
        # object can ever be opened, and the records stay in the log.
        bucket = srv.s3_dir("doomed")
        with open(bucket, "w") as f:
            f.write("in the way")
        harness.create_stream(fh, "doomed", bucket="doomed", size=128, interval=900)
        harness.wait_active(fh, "doomed")
        recs = [harness.frame(i, b"payload-%d" % i) for i in range(20)]
        harness.put_all(fh, "doomed", recs)
        fh.delete_delivery_stream(DeliveryStreamName="doomed")
        wait_until(lambda: b"stream kept in DELETING" in open(srv.log_path, "rb").read(), 20,
                   what="the delete to give up on the failing sink")
        d = fh.describe_delivery_stream(DeliveryStreamName="doomed")["DeliveryStreamDescription"]
        self.assertEqual(d["DeliveryStreamStatus"], "DELETING")
        # Repair and restart: the deletion resumes, delivers every record, then removes the stream.
        os.unlink(bucket)
        srv.restart()
        fh = srv.client()
        wait_until(lambda: "doomed" not in fh.list_delivery_streams()["DeliveryStreamNames"], 20,
                   what="the resumed deletion to finish")
        got = []
        for key in srv.objects("doomed"):
            got.extend(harness.parse_frames(srv.read_object("doomed", key)))
        self.assertEqual(sorted(n for n, _ in got), list(range(20)))


class DiskFullTest(HydrantTestCase):
    """The data dir on a 16 MiB tmpfs, half taken by a filler file. Puts fill the rest: they must
    answer "Slow down." and nothing accepted may be lost; once the filler is removed, puts succeed
    again, and after SIGTERM every acknowledged record is delivered exactly once."""

    def setUp(self):
        self.mnt = tempfile.mkdtemp(prefix="hydrant-it-mnt-")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", self.mnt],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            os.rmdir(self.mnt)
            raise unittest.SkipTest("cannot mount a tmpfs here (%s)" % r.stdout.decode().strip())
        self.addCleanup(self._unmount)

    def _unmount(self):
        subprocess.run(["umount", "-l", self.mnt])
        shutil.rmtree(self.mnt, ignore_errors=True)

    def test_full_disk_slows_down_loses_nothing_and_recovers(self):
        filler = os.path.join(self.mnt, "filler")
        with open(filler, "wb") as f:
            f.write(b"\0" * (9 << 20))
        log = os.path.join(tempfile.mkdtemp(prefix="hydrant-it-"), "hydrant.log")
        self._tmp_dirs.append(os.path.dirname(log))
        srv = Server(os.path.join(self.mnt, "data"), log)
        self._servers.append(srv)
        self.addCleanup(srv.stop)
        srv.start()
        fh = srv.client(retries=1)
        # Long interval: nothing is delivered (and no log segment trimmed) while the disk fills.
        harness.create_stream(fh, "full", bucket="full", size=128, interval=900)
        harness.wait_active(fh, "full")

        acked = {}
        n = 0
        slowed = 0

        def put_batch(count=50, size=20000):
            nonlocal n, slowed
            recs = []
            for _ in range(count):
                recs.append(harness.frame(n, bytes([65 + n % 26]) * size))
                n += 1
            r = fh.put_record_batch(DeliveryStreamName="full", Records=[{"Data": d} for d in recs])
            for rec, res in zip(recs, r["RequestResponses"]):
                if "RecordId" in res:
                    acked[harness.parse_frames(rec)[0][0]] = rec
                else:
                    self.assertEqual(res["ErrorCode"], "ServiceUnavailableException")
                    self.assertEqual(res["ErrorMessage"], "Slow down.")
                    slowed += 1
            return r["FailedPutCount"]

        # Fill: about 7 MiB of room, 1 MB a batch; stop at the first refused batch.
        for _ in range(20):
            if put_batch():
                break
        self.assertGreater(slowed, 0, "the disk never filled: no 'Slow down.' answer")
        self.assertGreater(len(acked), 0)
        # Still full: PutRecord gets the whole-request error.
        with self.assertRaises(fh.exceptions.ServiceUnavailableException):
            fh.put_record(DeliveryStreamName="full", Record={"Data": b"x" * 900000})
        self.assertEqual(srv.health(), 200)

        # Space returns: puts succeed again without a restart.
        os.unlink(filler)
        before = len(acked)
        wait_until(lambda: put_batch(count=5) == 0, 10, what="puts succeed after space returns")
        self.assertGreater(len(acked), before)

        # kill -9 then restart: the log recovers (no corrupt tail from the failed writes).
        srv.kill9()
        srv.start()
        fh = srv.client(retries=1)
        self.assertEqual(put_batch(count=5), 0)
        self.assertEqual(srv.stop(), 0)

        got = {}
        for key in srv.objects("full"):
            for rid, payload in harness.parse_frames(srv.read_object("full", key)):
                self.assertNotIn(rid, got, "record %d delivered twice" % rid)
                got[rid] = payload
        for rid, rec in acked.items():
            self.assertIn(rid, got, "acknowledged record %d lost" % rid)
            self.assertEqual(harness.frame(rid, got[rid]), rec)
        # Refused records are not in the log: nothing beyond what was acknowledged appears.
        self.assertEqual(set(got), set(acked))


if __name__ == "__main__":
    unittest.main()
