"""hydrant detect and hydrant nab on the shared NAB files (HYDRANT_NAB_DIR, default
/work/shared/nab): output shape, determinism, causality, the published baseline scores, the
LSTM study case through the CLI, and bad input."""

import csv
import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

NAB = os.environ.get("HYDRANT_NAB_DIR", "/work/shared/nab")
CPU = "realAWSCloudwatch/rds_cpu_utilization_e47b3b.csv"
TRAIN = "realAWSCloudwatch/rds_cpu_utilization_cc0c53.csv"


def run(*args, timeout=120):
    return subprocess.run([harness.HYDRANT_BIN] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=harness.scaled(timeout))


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


class AnalyticsCliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(harness.HYDRANT_BIN):
            raise unittest.SkipTest("hydrant binary not found")
        if not os.path.exists(os.path.join(NAB, "labels", "combined_windows.json")):
            raise unittest.SkipTest("NAB data not found at %s (HYDRANT_NAB_DIR)" % NAB)
        cls.tmp = tempfile.mkdtemp(prefix="hydrant-an-")

    def detect(self, inp, out, *extra):
        r = run("detect", "--input", inp, "--output", out, *extra)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        return read_rows(out)

    def test_detect_writes_one_scored_row_per_input_row(self):
        src = os.path.join(NAB, "data", CPU)
        rows = self.detect(src, os.path.join(self.tmp, "a.csv"))
        inp = read_rows(src)
        self.assertEqual(rows[0], ["timestamp", "value", "anomaly_score"])
        self.assertEqual(len(rows), len(inp))
        for got, want in zip(rows[1:], inp[1:]):
            self.assertEqual(got[0], want[0])
            self.assertEqual(float(got[1]), float(want[1]))
            self.assertTrue(0.0 <= float(got[2]) <= 1.0)
        # the labelled spike of 2014-04-13 06:52 is flagged at once
        spike = [r for r in rows if r[0] == "2014-04-13 06:52:00"][0]
        self.assertGreaterEqual(float(spike[2]), 0.9)

    def test_detect_is_deterministic_and_causal(self):
        src = os.path.join(NAB, "data", CPU)
        full = self.detect(src, os.path.join(self.tmp, "full.csv"))
        again = self.detect(src, os.path.join(self.tmp, "again.csv"))
        self.assertEqual(full, again)
        k = 1500
        cut = os.path.join(self.tmp, "cut.csv")
        with open(src) as f:
            lines = f.readlines()
        with open(cut, "w") as f:
            f.writelines(lines[:k + 1])
        part = self.detect(cut, os.path.join(self.tmp, "part.csv"))
        self.assertEqual(len(part), k + 1)
        self.assertEqual(part, full[:k + 1])

    def test_detect_rejects_bad_input(self):
        bad = os.path.join(self.tmp, "bad.csv")
        with open(bad, "w") as f:
            f.write("timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,oops\n")
        r = run("detect", "--input", bad, "--output", os.path.join(self.tmp, "x.csv"))
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"line 3", r.stderr)
        r = run("detect", "--detector", "nope", "--input", bad, "--output", "-")
        self.assertEqual(r.returncode, 2)
        r = run("detect", "--input", bad)
        self.assertEqual(r.returncode, 2)
        r = run("detect", "--input", os.path.join(self.tmp, "missing.csv"), "--output", "-")
        self.assertEqual(r.returncode, 1)
        r = run("detect", "--detector", "lstm", "--input", bad, "--output", "-")
        self.assertEqual(r.returncode, 2)

    def test_nab_table_reproduces_published_baselines(self):
        r = run("nab", "--data", NAB, "--detector", "all", timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        out = r.stdout.decode()
        self.assertIn("44 files, 280333 rows, 83 windows", out)

        def row(name):
            m = re.search(r"^\| %s\s*\|\s*([-\d.]+)\s*\|\s*([-\d.]+)\s*\|\s*([-\d.]+)" % name, out,
                          re.M)
            self.assertIsNotNone(m, out)
            return [float(x) for x in m.groups()]

        self.assertEqual(row("windowedGaussian"), [41.51, 16.53, 51.37])
        self.assertEqual(row("null"), [0.0, 0.0, 0.0])
        # the default beats numenta HTM's 71.36 on these files (regression guard)
        self.assertGreater(row("ensemble")[0], 71.36)
        # the default ensemble2 beats contextOSE's 72.82 and the first ensemble on all profiles
        self.assertGreater(row("ensemble2")[0], 72.82)
        for a, b in zip(row("ensemble2"), row("ensemble")):
            self.assertGreater(a, b)
        r = run("nab", "--data", os.path.join(self.tmp, "nowhere"))
        self.assertEqual(r.returncode, 1)

    def test_lstm_study_case_through_the_cli(self):
        out = os.path.join(self.tmp, "lstm.csv")
        rows = self.detect(os.path.join(NAB, "data", CPU), out, "--detector", "lstm", "--train",
                           os.path.join(NAB, "data", TRAIN), "--labels",
                           os.path.join(NAB, "labels", "combined_labels.json"))
        flagged = [r[0] for r in rows[1:] if float(r[2]) >= 0.5]
        windows = [("2014-04-12 22:32:00", "2014-04-13 15:12:00"),
                   ("2014-04-18 15:07:00", "2014-04-19 07:47:00")]
        for lo, hi in windows:
            self.assertTrue(any(lo <= t <= hi for t in flagged), (lo, flagged))
        outside = [t for t in flagged if not any(lo <= t <= hi for lo, hi in windows)]
        self.assertLessEqual(len(outside), 1, outside)


if __name__ == "__main__":
    unittest.main()
