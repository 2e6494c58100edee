"""A function that drops and fails records on purpose, for trying the error output: records whose
JSON has "action": "drop" are Dropped, "fail" ProcessingFailed, anything else passes through
with a newline and, when the record has a "customer" field, metadata.partitionKeys for
!{partitionKeyFromLambda:customer}."""
import base64
import json


def lambda_handler(event, context):
    out = []
    for rec in event["records"]:
        raw = base64.b64decode(rec["data"])
        try:
            obj = json.loads(raw)
        except ValueError:
            obj = {}
        action = obj.get("action") if isinstance(obj, dict) else None
        if action == "drop":
            out.append({"recordId": rec["recordId"], "result": "Dropped"})
        elif action == "fail":
            out.append({"recordId": rec["recordId"], "result": "ProcessingFailed",
                        "data": rec["data"]})
        else:
            r = {"recordId": rec["recordId"], "result": "Ok",
                 "data": base64.b64encode(raw.rstrip(b"\n") + b"\n").decode()}
            if isinstance(obj, dict) and isinstance(obj.get("customer"), str):
                r["metadata"] = {"partitionKeys": {"customer": obj["customer"]}}
            out.append(r)
    return {"records": out}
