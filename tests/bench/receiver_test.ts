import assert from "node:assert/strict";
import { zstdCompressSync } from "node:zlib";
import { ExpectedModel } from "../../bench/e2e/expected.ts";
import { type GeneratedFile, planTree } from "../../bench/e2e/generator.ts";
import { Receiver, type ReceiverCounts } from "../../bench/e2e/receiver.ts";
import type { LogRecord, ResourceRef } from "../../src/record.ts";
import { encodeLogsRequest } from "../../src/export/mod.ts";

const BASE_SEC = 1714564800;
const SCOPE = { name: "containerstdout", version: "test" };

function resourceOf(file: GeneratedFile): ResourceRef {
  return {
    attributes: {
      "k8s.namespace.name": file.namespace,
      "k8s.pod.name": file.podName,
      "k8s.pod.uid": file.podUid,
      "k8s.container.name": file.containerName,
      "k8s.container.restart_count": file.restartCount,
    },
  };
}

interface Sent {
  file: GeneratedFile;
  resource?: ResourceRef;
  stream?: string;
  timeNs: number;
  body: string;
  pathSuffix?: string;
}

function record(s: Sent): LogRecord {
  const sec = BASE_SEC + Math.floor(s.timeNs / 1e9);
  return {
    hrTime: [sec, s.timeNs % 1e9],
    hrTimeObserved: [sec, 0],
    body: s.body,
    attributes: {
      "log.iostream": s.stream ?? "stdout",
      "log.file.path": `/logs/${s.file.relPath}${s.pathSuffix ?? ""}`,
    },
    droppedAttributesCount: 0,
    resource: s.resource ?? resourceOf(s.file),
    instrumentationScope: SCOPE,
  };
}

async function post(url: string, records: LogRecord[], isGzip = true): Promise<number> {
  const bytes = encodeLogsRequest(records);
  const body = isGzip
    ? await new Response(new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer()
    : bytes;
  const response = await fetch(`${url}/v1/logs`, {
    method: "POST",
    headers: { "content-type": "application/x-protobuf", ...(isGzip ? { "content-encoding": "gzip" } : {}) },
    body,
  });
  await response.body?.cancel();
  return response.status;
}

function setUp(): { files: GeneratedFile[]; model: ExpectedModel } {
  const files = planTree({ seed: 2, pods: 1, containersPerPod: 2 });
  const model = new ExpectedModel(files, BASE_SEC);
  model.add(0, "stdout", 1_000, "first");
  model.add(0, "stdout", 2_000, "second ✅");
  model.add(0, "stderr", 1_500, "");
  model.add(1, "stdout", 3_000, "other file");
  return { files, model };
}

function pick(counts: ReceiverCounts, keys: (keyof ReceiverCounts)[]): Partial<ReceiverCounts> {
  return Object.fromEntries(keys.map((k) => [k, counts[k]]));
}

const CASES: {
  name: string;
  send: (files: GeneratedFile[]) => Sent[][];
  want: Partial<ReceiverCounts>;
  problem?: string;
}[] = [
  {
    name: "every expected record once: nothing lost",
    send: ([a, b]) => [[
      { file: a, timeNs: 1_000, body: "first" },
      { file: a, stream: "stderr", timeNs: 1_500, body: "" },
    ], [{ file: a, timeNs: 2_000, body: "second ✅", pathSuffix: ".20240501-120000" }, {
      file: b,
      timeNs: 3_000,
      body: "other file",
    }]],
    want: { received: 4, matched: 4, lost: 0, duplicated: 0, unexpected: 0, outOfOrder: 0 },
  },
  {
    name: "a resent record as duplicated and a missing one as lost",
    send: ([a]) => [[{ file: a, timeNs: 1_000, body: "first" }], [{ file: a, timeNs: 1_000, body: "first" }]],
    want: { received: 2, matched: 1, lost: 3, duplicated: 1, unexpected: 0 },
  },
  {
    name: "an earlier record after a later one of the same stream as out of order",
    send: (
      [a],
    ) => [[{ file: a, timeNs: 2_000, body: "second ✅" }, { file: a, timeNs: 1_000, body: "first" }]],
    want: { matched: 2, outOfOrder: 1 },
  },
  {
    name: "changed content, an unknown time and a wrong stream as unexpected",
    send: ([a]) => [[
      { file: a, timeNs: 1_000, body: "first!" },
      { file: a, timeNs: 1_001, body: "first" },
      { file: a, stream: "stdin", timeNs: 1_000, body: "first" },
    ]],
    want: { received: 3, matched: 0, unexpected: 3, lost: 4 },
    problem: "content_mismatch",
  },
  {
    name: "a record whose resource names another container as a resource mismatch",
    send: ([a, b]) => [[{ file: a, resource: resourceOf(b), timeNs: 1_000, body: "first" }]],
    want: { matched: 1, resourceMismatch: 1 },
    problem: "resource_mismatch",
  },
  {
    name: "a restart count sent as a string as a resource mismatch",
    send: ([a]) => [[{
      file: a,
      resource: {
        attributes: { ...resourceOf(a).attributes, "k8s.container.restart_count": String(a.restartCount) },
      },
      timeNs: 1_000,
      body: "first",
    }]],
    want: { matched: 1, resourceMismatch: 1 },
  },
];

for (const { name, send, want, problem } of CASES) {
  Deno.test(`Receiver counts ${name}`, async () => {
    const { files, model } = setUp();
    await using receiver = await Receiver.start(model);
    for (const batch of send(files)) assert.equal(await post(receiver.url, batch.map(record)), 200);
    await receiver.settled();
    assert.deepEqual(pick(receiver.counts(), Object.keys(want) as (keyof ReceiverCounts)[]), want);
    if (problem !== undefined) assert.ok(receiver.examples().some((e) => e.kind === problem), problem);
  });
}

Deno.test("Receiver answers 503 without counting records while unavailable", async () => {
  const { files, model } = setUp();
  await using receiver = await Receiver.start(model, { retryAfterSec: 2 });
  receiver.answerWith("unavailable");
  assert.equal(await post(receiver.url, [record({ file: files[0], timeNs: 1_000, body: "first" })]), 503);
  receiver.answerWith("ok");
  assert.equal(
    await post(receiver.url, [record({ file: files[0], timeNs: 1_000, body: "first" })], false),
    200,
  );
  assert.deepEqual(pick(receiver.counts(), ["requests", "refusedRequests", "received", "matched"]), {
    requests: 2,
    refusedRequests: 1,
    received: 1,
    matched: 1,
  });
});

Deno.test("Receiver refuses connections while down and listens on the same port when back up", async () => {
  const { files, model } = setUp();
  await using receiver = await Receiver.start(model);
  const url = receiver.url;
  await receiver.goDown();
  await assert.rejects(post(url, [record({ file: files[0], timeNs: 1_000, body: "first" })]));
  await receiver.comeUp();
  assert.equal(receiver.url, url);
  assert.equal(await post(url, [record({ file: files[0], timeNs: 1_000, body: "first" })]), 200);
  await receiver.settled();
  assert.equal(receiver.counts().matched, 1);
});

Deno.test("Receiver measures latency from the record time to its receipt", async () => {
  const { files, model } = setUp();
  let nowMs = BASE_SEC * 1000 + 100;
  await using receiver = await Receiver.start(model, { measureLatency: true, nowMs: () => nowMs });
  await post(receiver.url, [record({ file: files[0], timeNs: 1_000, body: "first" })]);
  nowMs += 900;
  await post(receiver.url, [record({ file: files[0], timeNs: 2_000, body: "second ✅" })]);
  await receiver.settled();
  const latency = receiver.latency();
  assert.equal(latency.count, 2);
  assert.ok(Math.abs(latency.p50Ms - 100) <= 0.2, `p50 ${latency.p50Ms}`);
  assert.ok(Math.abs(latency.maxMs - 1000) <= 0.2, `max ${latency.maxMs}`);
});

Deno.test("Receiver keeps when each record first arrived, and which requests a duplicate repeats", async () => {
  const { files, model } = setUp();
  let nowMs = 10_000;
  await using receiver = await Receiver.start(model, { nowMs: () => nowMs });
  const first = record({ file: files[0], timeNs: 1_000, body: "first" });
  const second = record({ file: files[0], timeNs: 2_000, body: "second ✅" });
  const other = record({ file: files[1], timeNs: 3_000, body: "other file" });
  await post(receiver.url, [first, second]);
  nowMs = 10_200;
  await post(receiver.url, [other]);
  nowMs = 10_500;
  // After a restart: the first request's records and the second's come again, in one request.
  await post(receiver.url, [first, second, other]);
  await receiver.settled();
  assert.equal(receiver.counts().duplicated, 3);
  assert.deepEqual(receiver.duplicatedRequestTimesMs(), [10_000, 10_200]);
  assert.equal(receiver.firstReceivedBetween(10_000, 10_200), 2);
  assert.equal(receiver.firstReceivedBetween(10_100, 11_000), 1);
  assert.equal(receiver.firstReceivedBetween(10_300, 11_000), 0, "a repeat is not a first receipt");
});

Deno.test("Receiver decodes zstd bodies (compression: zstd) like gzip ones", async () => {
  const { files, model } = setUp();
  await using receiver = await Receiver.start(model);
  const body = zstdCompressSync(
    encodeLogsRequest([record({ file: files[0], timeNs: 1_000, body: "first" })]),
  );
  const response = await fetch(`${receiver.url}/v1/logs`, {
    method: "POST",
    headers: { "content-type": "application/x-protobuf", "content-encoding": "zstd" },
    body: new Uint8Array(body),
  });
  await response.body?.cancel();
  assert.equal(response.status, 200);
  await receiver.settled();
  assert.deepEqual(pick(receiver.counts(), ["received", "matched", "unexpected"]), {
    received: 1,
    matched: 1,
    unexpected: 0,
  });
});

Deno.test("Receiver counts a body that is not OTLP as a malformed request", async () => {
  const { model } = setUp();
  await using receiver = await Receiver.start(model);
  const response = await fetch(`${receiver.url}/v1/logs`, {
    method: "POST",
    body: new Uint8Array([0x0a, 0xff]),
  });
  await response.body?.cancel();
  await receiver.settled();
  assert.equal(receiver.counts().problems.malformed_request, 1);
  assert.equal(receiver.counts().received, 0);
});
