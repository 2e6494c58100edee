// The AWS SDK for JavaScript v3 against hydrant (tests/integration/test_sigv4.py):
//   node sign.mjs ENDPOINT KEY SECRET STREAM
// Lists the streams and puts one record; prints {"ok":true,"names":[...]} or
// {"ok":false,"name":"<error name>","message":"..."} (the SDK's error class name).
import { FirehoseClient, ListDeliveryStreamsCommand, PutRecordCommand } from "@aws-sdk/client-firehose";

const [endpoint, accessKeyId, secretAccessKey, stream] = process.argv.slice(2);
const client = new FirehoseClient({
  endpoint, region: "us-east-1", maxAttempts: 1,
  credentials: { accessKeyId, secretAccessKey },
});
try {
  const l = await client.send(new ListDeliveryStreamsCommand({}));
  await client.send(new PutRecordCommand({
    DeliveryStreamName: stream, Record: { Data: new TextEncoder().encode("from js\n") },
  }));
  console.log(JSON.stringify({ ok: true, names: l.DeliveryStreamNames }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, name: e.name, message: e.message }));
}
