#!/usr/bin/python3
"""Run a Lambda-style handler as hydrant's warm command worker: one event (JSON) per line on stdin,
the handler's return value as one line on stdout. A handler exception answers Lambda's error
shape {"errorMessage", "errorType"}, which hydrant retries like a failed invocation.

    {"arn:aws:lambda:...:function:enrich": {"command": ["python3", "worker.py", "enricher.py"]}}
"""
import importlib.util
import json
import os
import sys


def load(path, name="lambda_handler"):
    spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return getattr(mod, name)


def main():
    handler = load(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "lambda_handler")
    out = sys.stdout
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            result = handler(json.loads(line), None)
        except Exception as e:  # the function's error, reported as Lambda does
            result = {"errorMessage": str(e), "errorType": type(e).__name__}
        out.write(json.dumps(result, separators=(",", ":")) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
