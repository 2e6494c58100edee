// The AWS SDK for JavaScript v3 against hydrant's Kinesis front: create a stream, put records,
// read them back through every shard, reshard, delete. Usage: node kinesis_smoke.mjs ENDPOINT
// NAME. The SDK speaks HTTP/2 to Kinesis by default; hydrant serves HTTP/1.1, so the client is
// given the HTTP/1.1 handler (kinesis-data-streams.md, section 0). Prints one JSON line.
import {
  KinesisClient, CreateStreamCommand, PutRecordCommand, PutRecordsCommand, ListShardsCommand,
  GetShardIteratorCommand, GetRecordsCommand, UpdateShardCountCommand, DeleteStreamCommand,
  DescribeStreamSummaryCommand,
} from "@aws-sdk/client-kinesis";
import { NodeHttpHandler } from "@smithy/node-http-handler";

const [endpoint, name] = process.argv.slice(2);
const k = new KinesisClient({
  endpoint, region: "us-east-1", maxAttempts: 1,
  credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "x" },
  requestHandler: new NodeHttpHandler(),
});
const enc = new TextEncoder(), dec = new TextDecoder();
await k.send(new CreateStreamCommand({ StreamName: name, ShardCount: 2 }));
const one = await k.send(new PutRecordCommand({
  StreamName: name, Data: enc.encode("js-0"), PartitionKey: "k0" }));
const many = await k.send(new PutRecordsCommand({ StreamName: name, Records: Array.from(
  { length: 20 }, (_, i) => ({ Data: enc.encode(`js-${i + 1}`), PartitionKey: `k${i + 1}` })) }));
const shards = (await k.send(new ListShardsCommand({ StreamName: name }))).Shards;
const got = [];
let lastArrival = null;
for (const s of shards) {
  const it = (await k.send(new GetShardIteratorCommand({
    StreamName: name, ShardId: s.ShardId, ShardIteratorType: "TRIM_HORIZON" }))).ShardIterator;
  const r = await k.send(new GetRecordsCommand({ ShardIterator: it }));
  for (const x of r.Records) {
    got.push(dec.decode(x.Data));
    lastArrival = x.ApproximateArrivalTimestamp;
  }
}
const up = await k.send(new UpdateShardCountCommand({
  StreamName: name, TargetShardCount: 4, ScalingType: "UNIFORM_SCALING" }));
const sum = (await k.send(new DescribeStreamSummaryCommand({ StreamName: name })))
  .StreamDescriptionSummary;
await k.send(new DeleteStreamCommand({ StreamName: name }));
console.log(JSON.stringify({
  firstSeq: one.SequenceNumber, failed: many.FailedRecordCount, shards: shards.length,
  got: got.sort(), arrivalIsDate: lastArrival instanceof Date,
  arrivalAgeMs: lastArrival ? Date.now() - lastArrival.getTime() : null,
  target: up.TargetShardCount, open: sum.OpenShardCount,
}));
