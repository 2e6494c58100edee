"""The record enricher every Firehose transformation tutorial shows: each record is a JSON object;
the function adds a field and a trailing newline (so the S3 objects are JSON lines).

Deploy as is to AWS Lambda (handler enricher.lambda_handler), or run it under hydrant with
worker.py (warm command) or invoke_server.py (the Lambda invoke URL convention)."""
import base64
import json


def lambda_handler(event, context):
    out = []
    for rec in event["records"]:
        try:
            obj = json.loads(base64.b64decode(rec["data"]))
            obj["enriched"] = True
            obj["stream"] = event["deliveryStreamArn"].rsplit("/", 1)[-1]
            data = (json.dumps(obj, sort_keys=True) + "\n").encode()
            out.append({"recordId": rec["recordId"], "result": "Ok",
                        "data": base64.b64encode(data).decode()})
        except (ValueError, TypeError):
            out.append({"recordId": rec["recordId"], "result": "ProcessingFailed",
                        "data": rec["data"]})
    return {"records": out}
