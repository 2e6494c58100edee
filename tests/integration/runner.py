"""Run integration test modules with unittest and print one machine-readable summary line:

    RESULT passed=N failed=N skipped=N

Usage: runner.py [--smoke] MODULE...   (--smoke: only test_delivery.SmokeTest)
"""

import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def main(argv):
    smoke = "--smoke" in argv
    names = [a for a in argv if not a.startswith("--")]
    loader = unittest.TestLoader()
    if smoke:
        suite = loader.loadTestsFromName("test_delivery.SmokeTest")
    else:
        suite = unittest.TestSuite(loader.loadTestsFromName(n) for n in names)
    t0 = time.time()
    res = unittest.TextTestRunner(verbosity=2, stream=sys.stderr).run(suite)
    failed = len(res.failures) + len(res.errors) + len(res.unexpectedSuccesses)
    skipped = len(res.skipped)
    passed = res.testsRun - failed - skipped - len(res.expectedFailures)
    for test, reason in res.skipped:
        sys.stderr.write("skipped %s: %s\n" % (test.id(), reason))
    sys.stdout.write("RESULT passed=%d failed=%d skipped=%d seconds=%.0f\n"
                     % (passed, failed, skipped, time.time() - t0))
    sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
