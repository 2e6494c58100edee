// @aws-sdk/client-s3 (JS v3) against hydrant's S3 API: node s3_sdk.mjs http://127.0.0.1:PORT
// Exits non-zero with a message on the first mismatch. JS v3 sends streamed bodies as aws-chunked
// with a CRC32 trailer (over http too), so this exercises the decoder with the real client.
import { Readable } from "node:stream";
import { createHash } from "node:crypto";
import {
  S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, HeadObjectCommand,
  ListObjectsV2Command, DeleteObjectsCommand, CreateMultipartUploadCommand, UploadPartCommand,
  CompleteMultipartUploadCommand, CopyObjectCommand,
} from "@aws-sdk/client-s3";

// Optional: node s3_sdk.mjs URL ACCESS_KEY SECRET (hydrant with --credentials verifies them).
const endpoint = process.argv[2];
const s3 = new S3Client({
  endpoint, region: "us-east-1", forcePathStyle: true, maxAttempts: 1,
  credentials: { accessKeyId: process.argv[3] || "AKIDEXAMPLE", secretAccessKey: process.argv[4] || "secret" },
});
const fail = (msg) => { console.error("FAIL: " + msg); process.exit(1); };
const eq = (a, b, what) => { if (a !== b) fail(`${what}: ${JSON.stringify(a)} != ${JSON.stringify(b)}`); };
const md5 = (b) => createHash("md5").update(b).digest("hex");

const B = "js-sdk";
try {
  await s3.send(new CreateBucketCommand({ Bucket: B }));
} catch (e) {
  // A refused signer: print the SDK's error name (the caller checks it) and stop.
  console.log("denied " + e.name + " " + (e.$metadata || {}).httpStatusCode);
  process.exit(0);
}
// buffer body (content-length, checksum header)
let r = await s3.send(new PutObjectCommand({ Bucket: B, Key: "a/hello.txt", Body: "hello world",
  ContentType: "text/plain", Metadata: { color: "blue" } }));
eq(r.ETag, '"5eb63bbbe01eeed093cb22bb8f5acdc3"', "buffer put ETag");
// stream body of unknown length: aws-chunked with a trailer
const big = Buffer.alloc(3 * 1024 * 1024 + 5, 7);
r = await s3.send(new PutObjectCommand({ Bucket: B, Key: "a/stream.bin",
  Body: Readable.from([big.subarray(0, 1000000), big.subarray(1000000)]), ContentLength: big.length }));
eq(r.ETag, `"${md5(big)}"`, "stream put ETag");
const r2 = await s3.send(new PutObjectCommand({ Bucket: B, Key: "a/nolength.bin",
  Body: Readable.from([Buffer.from("no "), Buffer.from("length")]) })).catch((e) => ({ err: e }));
if (!r2.err) eq(r2.ETag, `"${md5(Buffer.from("no length"))}"`, "unknown-length put ETag");
let g = await s3.send(new GetObjectCommand({ Bucket: B, Key: "a/stream.bin" }));
const got = Buffer.from(await g.Body.transformToByteArray());
eq(got.length, big.length, "stream get length");
eq(md5(got), md5(big), "stream get bytes");
g = await s3.send(new GetObjectCommand({ Bucket: B, Key: "a/hello.txt", Range: "bytes=6-" }));
eq(await g.Body.transformToString(), "world", "range get");
eq(g.ContentRange, "bytes 6-10/11", "content-range");
const h = await s3.send(new HeadObjectCommand({ Bucket: B, Key: "a/hello.txt" }));
eq(h.ContentType, "text/plain", "content-type");
eq(h.Metadata.color, "blue", "metadata");
await s3.send(new CopyObjectCommand({ Bucket: B, Key: "b/copy.txt", CopySource: `${B}/a/hello.txt` }));
// multipart
const up = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: "mp" }));
const p1 = await s3.send(new UploadPartCommand({ Bucket: B, Key: "mp", UploadId: up.UploadId, PartNumber: 1,
  Body: Buffer.alloc(5 * 1024 * 1024, "a") }));
const p2 = await s3.send(new UploadPartCommand({ Bucket: B, Key: "mp", UploadId: up.UploadId, PartNumber: 2,
  Body: Buffer.from("hello world") }));
const c = await s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: "mp", UploadId: up.UploadId,
  MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag }, { PartNumber: 2, ETag: p2.ETag }] } }));
eq(c.ETag, '"4ba54d90a25d93d94b7b41c987352341-2"', "multipart ETag");
const l = await s3.send(new ListObjectsV2Command({ Bucket: B, Delimiter: "/" }));
eq(JSON.stringify((l.CommonPrefixes || []).map((p) => p.Prefix)), '["a/","b/"]', "common prefixes");
eq(JSON.stringify((l.Contents || []).map((o) => o.Key)), '["mp"]', "keys");
const d = await s3.send(new DeleteObjectsCommand({ Bucket: B, Delete: { Objects: [{ Key: "mp" }, { Key: "b/copy.txt" }] } }));
eq((d.Deleted || []).length, 2, "deleted");
try {
  await s3.send(new GetObjectCommand({ Bucket: B, Key: "nope" }));
  fail("missing key found");
} catch (e) {
  eq(e.name, "NoSuchKey", "error name");
}
console.log("ok" + (r2.err ? " (unknown-length put refused by the SDK: " + r2.err.name + ")" : ""));
