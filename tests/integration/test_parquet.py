"""Parquet writer read back by independent readers.

build/tests/pqwriter_test writes one file per codec (UNCOMPRESSED, SNAPPY, GZIP, ZSTD) x data
page version (1, 2) x dictionary (on, off), each 3,000 rows of every flat Hive type with nulls,
NaN, +-0.0, infinities, integer and decimal extremes, empty and multi-byte strings, pre-1970
timestamps, cut into several row groups and pages; plus expect.json with the exact values. The
same matrix writes a nested table (array<string>, map<string,int>, struct<int, array<double>,
struct<string>>, array<array<bigint>>) with null, empty and null-element lists and null map
values; nested.expect.json holds it as JSON.
js/pqcheck.mjs reads every file with DuckDB (@duckdb/node-api) and hyparquet and compares value
by value, and checks the footer statistics DuckDB decodes.
"""
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import scaled

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
JS = os.path.join(HERE, "js")


def writer_test_bin():
    hydrant = os.environ.get("HYDRANT_BIN", os.path.join(ROOT, "build", "hydrant"))
    return os.path.join(os.path.dirname(hydrant), "tests", "pqwriter_test")


class ParquetReaders(unittest.TestCase):
    def setUp(self):
        self.node = shutil.which("node")
        mods = os.path.join(JS, "node_modules")
        if not self.node or not os.path.isdir(os.path.join(mods, "@duckdb", "node-api")) or \
                not os.path.isdir(os.path.join(mods, "hyparquet")):
            self.skipTest("node or tests/integration/js/node_modules missing (make test-deps)")
        self.bin = writer_test_bin()
        if not os.access(self.bin, os.X_OK):
            self.skipTest("no %s (make unit builds it)" % self.bin)
        self.dir = tempfile.mkdtemp(prefix="hydrant-pq-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def check(self):
        return subprocess.run([self.node, os.path.join(JS, "pqcheck.mjs"), self.dir],
                              capture_output=True, text=True, timeout=scaled(180), cwd=JS)

    def test_every_type_codec_and_page_version_reads_back_exactly(self):
        env = dict(os.environ, PQWRITER_TEST_OUT=self.dir)
        r = subprocess.run([self.bin], env=env, capture_output=True, text=True,
                           timeout=scaled(120))
        self.assertEqual(r.returncode, 0, r.stdout[-2000:] + r.stderr[-2000:])
        files = sorted(f for f in os.listdir(self.dir) if f.endswith(".parquet"))
        self.assertEqual(len(files), 32)
        c = self.check()
        self.assertEqual(c.returncode, 0, c.stdout[-3000:] + c.stderr[-3000:])
        self.assertIn('"files":32', c.stdout)
        self.assertIn('"mismatches":0', c.stdout)

    def test_checker_notices_a_wrong_value(self):
        # The comparison must be able to fail: one expected value changed in one file's copy.
        env = dict(os.environ, PQWRITER_TEST_OUT=self.dir)
        r = subprocess.run([self.bin], env=env, capture_output=True, timeout=scaled(120))
        self.assertEqual(r.returncode, 0)
        for f in os.listdir(self.dir):
            if f.endswith(".parquet") and f != "SNAPPY-v1-dict.parquet":
                os.unlink(os.path.join(self.dir, f))
        p = os.path.join(self.dir, "expect.json")
        with open(p) as fh:
            text = fh.read()
        self.assertIn('"-719162"', text)
        with open(p, "w") as fh:
            fh.write(text.replace('"-719162"', '"-719161"', 1))
        c = self.check()
        self.assertEqual(c.returncode, 1, c.stdout[-2000:])
        self.assertIn('"want":"-719161"', c.stdout.replace(" ", "").replace("\n", ""))


if __name__ == "__main__":
    unittest.main()
