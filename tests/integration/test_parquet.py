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


class JsonToParquet(unittest.TestCase):
    """build/pqconv (pqconvert + pqwriter, the conversion path) on 20,000 JSON lines of which
    about 15 % cannot be converted (truncated JSON, a top-level array, integers out of range or
    not numbers, decimals past their precision, bad dates and timestamps, an object for a list).
    The rows must equal DuckDB's own read_json of the valid lines, and the refused lines must be
    exactly the invalid ones."""

    def setUp(self):
        self.node = shutil.which("node")
        if not self.node or not os.path.isdir(os.path.join(JS, "node_modules", "@duckdb")):
            self.skipTest("node or tests/integration/js/node_modules missing (make test-deps)")
        self.bin = os.path.join(os.path.dirname(writer_test_bin()), "..", "pqconv")
        if not os.access(self.bin, os.X_OK):
            self.skipTest("no build/pqconv (make test builds it)")
        self.dir = tempfile.mkdtemp(prefix="hydrant-pqj-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def test_rows_equal_duckdb_read_json_and_invalid_lines_refused(self):
        import json
        sys_path = os.path.join(HERE, "pqgen.py")
        subprocess.run(["python3", sys_path, "20000", "7", self.dir], check=True,
                       timeout=scaled(120))
        out = os.path.join(self.dir, "out.parquet")
        for codec in ("SNAPPY", "GZIP"):
            r = subprocess.run([self.bin, os.path.join(self.dir, "schema.json"),
                                os.path.join(self.dir, "all.jsonl"), out, codec],
                               capture_output=True, text=True, timeout=scaled(120))
            self.assertEqual(r.returncode, 0, r.stderr[-2000:])
            with open(os.path.join(self.dir, "bad.json")) as fh:
                bad = json.load(fh)
            refused = [int(x.split()[1].rstrip(":")) for x in r.stderr.splitlines()
                       if x.startswith("line ")]
            self.assertEqual(refused, bad)
            stats = json.loads(r.stdout)
            self.assertEqual(stats["rows"] + stats["failed"], 20000)
            cols, sel = duck_columns(sys_path)
            c = subprocess.run([self.node, os.path.join(JS, "pqjson.mjs"), out,
                                os.path.join(self.dir, "valid.jsonl"), cols, sel],
                               capture_output=True, text=True, timeout=scaled(180), cwd=JS)
            self.assertEqual(c.returncode, 0, c.stdout[-3000:] + c.stderr[-3000:])
            self.assertIn('"only_ours":0,"only_oracle":0', c.stdout)


def duck_columns(path):
    """DUCK_COLUMNS and DUCK_SELECT from pqgen.py without running its generator."""
    import ast
    with open(path) as fh:
        tree = ast.parse(fh.read())
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and node.targets[0].id in ("DUCK_COLUMNS", "DUCK_SELECT"):
            found[node.targets[0].id] = ast.literal_eval(node.value)
    return found["DUCK_COLUMNS"], found["DUCK_SELECT"]


if __name__ == "__main__":
    unittest.main()
