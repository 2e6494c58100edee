"""The Glue-compatible catalog front (AWSGlue.* over AWS JSON 1.1) with real clients: boto3's
glue client (exception classes), aws-cli v2 and v1 (`aws glue create-table --table-input
file://...`), persistence across kill -9, and the model's refusals."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import HydrantTestCase  # noqa: E402
from test_cli import cli_env, find_cli  # noqa: E402

try:
    import boto3
    from botocore.config import Config
except ImportError:  # pragma: no cover
    boto3 = None

TABLE = {
    "Name": "Events",
    "TableType": "EXTERNAL_TABLE",
    "Parameters": {"classification": "parquet"},
    "StorageDescriptor": {
        "Columns": [
            {"Name": "id", "Type": "bigint"},
            {"Name": "msg", "Type": "string", "Comment": "text"},
            {"Name": "tags", "Type": "array<string>"},
            {"Name": "price", "Type": "decimal(10,2)"},
        ],
        "Location": "s3://lake/events/",
        "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        "SerdeInfo": {"SerializationLibrary":
                      "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
    },
}


def glue_client(server):
    cfg = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5,
                 read_timeout=30)
    s = boto3.session.Session(aws_access_key_id=harness.ACCESS_KEY,
                              aws_secret_access_key=harness.SECRET_KEY,
                              region_name=harness.REGION)
    return s.client("glue", endpoint_url=server.url, config=cfg)


@unittest.skipIf(boto3 is None, "boto3 missing")
class GlueBoto3Test(HydrantTestCase):
    def test_catalog_cycle_errors_and_kill9(self):
        srv = self.start_server()
        g = glue_client(srv)
        g.create_database(DatabaseInput={"Name": "Lake", "Description": "d"})
        with self.assertRaises(g.exceptions.AlreadyExistsException):
            g.create_database(DatabaseInput={"Name": "lake"})
        self.assertEqual(g.get_database(Name="LAKE")["Database"]["Name"], "lake")
        self.assertEqual([d["Name"] for d in g.get_databases()["DatabaseList"]], ["lake"])
        with self.assertRaises(g.exceptions.EntityNotFoundException) as cm:
            g.get_database(Name="nope")
        self.assertIn("nope", str(cm.exception))
        with self.assertRaises(g.exceptions.EntityNotFoundException):
            g.create_table(DatabaseName="nope", TableInput=TABLE)
        g.create_table(DatabaseName="lake", TableInput=TABLE)
        with self.assertRaises(g.exceptions.AlreadyExistsException):
            g.create_table(DatabaseName="lake", TableInput=TABLE)
        t = g.get_table(DatabaseName="lake", Name="events")["Table"]
        self.assertEqual(t["Name"], "events")
        self.assertEqual(t["DatabaseName"], "lake")
        self.assertEqual(t["StorageDescriptor"]["Columns"], TABLE["StorageDescriptor"]["Columns"])
        self.assertEqual(t["VersionId"], "0")
        upd = json.loads(json.dumps(TABLE))
        upd["StorageDescriptor"]["Columns"].append({"Name": "ts", "Type": "timestamp"})
        g.update_table(DatabaseName="lake", TableInput=upd)
        with self.assertRaises(g.exceptions.EntityNotFoundException):
            g.update_table(DatabaseName="lake", TableInput=dict(upd, Name="other"))
        # Acknowledged changes survive kill -9.
        srv.restart(kill=True)
        g = glue_client(srv)
        t = g.get_table(DatabaseName="lake", Name="events")["Table"]
        self.assertEqual(t["StorageDescriptor"]["Columns"][-1], {"Name": "ts", "Type": "timestamp"})
        self.assertEqual(t["VersionId"], "1")
        self.assertEqual([x["Name"] for x in g.get_tables(DatabaseName="lake")["TableList"]],
                         ["events"])
        g.delete_table(DatabaseName="lake", Name="events")
        with self.assertRaises(g.exceptions.EntityNotFoundException):
            g.get_table(DatabaseName="lake", Name="events")
        with self.assertRaises(g.exceptions.EntityNotFoundException):
            g.delete_table(DatabaseName="lake", Name="events")
        g.create_table(DatabaseName="lake", TableInput=TABLE)
        g.delete_database(Name="lake")
        srv.restart(kill=True)
        g = glue_client(srv)
        self.assertEqual(g.get_databases()["DatabaseList"], [])
        with self.assertRaises(g.exceptions.EntityNotFoundException):
            g.get_tables(DatabaseName="lake")

    def test_invalid_input_and_unknown_operation(self):
        srv = self.start_server()
        g = glue_client(srv)
        with self.assertRaises(g.exceptions.InvalidInputException) as cm:
            g.create_database(DatabaseInput={"Name": "x" * 256})
        self.assertIn("length between 1 and 255", str(cm.exception))
        with self.assertRaises(g.exceptions.InvalidInputException):
            g.create_database(DatabaseInput={"Name": "a\x01b"})
        status, _h, body = srv.raw_call("GetTable", {"DatabaseName": "x"}, target="AWSGlue.Nope")
        self.assertEqual((status, body["__type"]), (400, "UnknownOperationException"))
        status, _h, body = srv.raw_call("CreateDatabase", {}, target="AWSGlue.CreateDatabase")
        self.assertEqual((status, body["__type"]), (400, "InvalidInputException"))


class GlueCliTest(HydrantTestCase):
    def run_cli(self, aws, *args):
        return subprocess.run([aws, "--endpoint-url", self.srv.url, "--output", "json"] +
                              list(args), capture_output=True, text=True, timeout=120,
                              env=cli_env(None))

    def cycle(self, major):
        aws = find_cli(major)
        if aws is None:
            self.skipTest("aws-cli v%d not found" % major)
        self.srv = self.start_server()
        tmp = tempfile.mkdtemp(prefix="hydrant-glue-")
        path = os.path.join(tmp, "t.json")
        with open(path, "w") as f:
            json.dump(TABLE, f)
        r = self.run_cli(aws, "glue", "create-database", "--database-input", '{"Name":"db"}')
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_cli(aws, "glue", "create-table", "--database-name", "db",
                         "--table-input", "file://" + path)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_cli(aws, "glue", "get-table", "--database-name", "db", "--name", "events")
        self.assertEqual(r.returncode, 0, r.stderr)
        cols = json.loads(r.stdout)["Table"]["StorageDescriptor"]["Columns"]
        self.assertEqual([c["Type"] for c in cols], ["bigint", "string", "array<string>",
                                                      "decimal(10,2)"])
        r = self.run_cli(aws, "glue", "get-table", "--database-name", "db", "--name", "missing")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("EntityNotFoundException", r.stderr)

    def test_cli_v2(self):
        self.cycle(2)

    def test_cli_v1(self):
        self.cycle(1)


if __name__ == "__main__":
    unittest.main()
