"""README quick start: run its shell block verbatim, with aws-cli v1 and v2, and check its promise.

The block (between the <!-- quick-start --> markers in README.md) is run by sh -e with only two
substitutions, so it can talk to the harness's server: the endpoint http://127.0.0.1:4566 becomes
the server's URL, and the data dir hydrant-data/ becomes the server's. The block waits for the
object until delivery; instead of its 60 s buffering interval, the test stops hydrant (SIGTERM
delivers everything buffered, as the README says) once the put has answered.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import HydrantTestCase  # noqa: E402

README = os.path.join(harness.REPO_ROOT, "README.md")
ENDPOINT = "http://127.0.0.1:4566"
DATA_DIR = "hydrant-data/"


def quick_start_block():
    with open(README, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"<!-- quick-start[^>]*-->\s*```sh\n(.*?)```\s*<!-- /quick-start -->", text, re.S)
    if not m:
        raise AssertionError("README.md has no quick-start block between the markers")
    return m.group(1)


def find_cli(major):
    """An aws executable of the given major version, or None."""
    cands = ["/usr/bin/aws"] if major == 2 else []
    for d in ("/root/.pyenv/shims", os.path.expanduser("~/.pyenv/shims")):
        cands.append(os.path.join(d, "aws"))
    cands.append(shutil.which("aws") or "")
    for c in cands:
        if not c or not os.access(c, os.X_OK):
            continue
        try:
            r = subprocess.run([c, "--version"], capture_output=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if (r.stdout + r.stderr).decode("utf-8", "replace").startswith("aws-cli/%d." % major):
            return c
    return None


class ReadmeQuickStartTest(HydrantTestCase):
    def run_block(self, major):
        cli = find_cli(major)
        if cli is None:
            self.skipTest("no aws-cli v%d found" % major)
        srv = self.start_server()
        block = quick_start_block()
        self.assertIn(ENDPOINT, block)
        self.assertIn(DATA_DIR, block)
        block = block.replace(ENDPOINT, srv.url).replace(DATA_DIR, srv.data_dir + "/")
        work = tempfile.mkdtemp(prefix="hydrant-readme-")
        self.addCleanup(shutil.rmtree, work, True)
        bindir = os.path.join(work, "bin")
        os.mkdir(bindir)
        os.symlink(cli, os.path.join(bindir, "aws"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
        env["HOME"] = work  # nothing from the user's ~/.aws
        proc = subprocess.Popen(["sh", "-e", "-c", block], cwd=work, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        out = b""
        while b"FailedPutCount" not in out:
            line = proc.stdout.readline()
            if not line:
                break
            out += line
        self.assertIn(b'"FailedPutCount": 0', out,
                      "the put did not answer; stderr: %s" % proc.stderr.read().decode("utf-8", "replace"))
        self.assertEqual(srv.stop(signal.SIGTERM), 0)
        try:
            rest, err = proc.communicate(timeout=harness.scaled(60))
        except subprocess.TimeoutExpired:
            proc.kill()
            rest, err = proc.communicate()
            self.fail("the block did not finish after hydrant stopped: %r" % err)
        out += rest
        self.assertEqual(proc.returncode, 0, err.decode("utf-8", "replace"))
        # What the README promises: the last line prints the object, "helloworld".
        self.assertEqual(out.decode().splitlines()[-1], "helloworld")
        objs = harness.list_objects(srv.s3_dir("lake"))
        self.assertEqual(len(objs), 1, objs)
        self.assertRegex(objs[0], r"^\d{4}/\d{2}/\d{2}/\d{2}/clicks-1-")
        self.assertEqual(srv.read_object("lake", objs[0]), b"helloworld")

    def test_quick_start_with_aws_cli_v1(self):
        self.run_block(1)

    def test_quick_start_with_aws_cli_v2(self):
        self.run_block(2)


if __name__ == "__main__":
    unittest.main()
