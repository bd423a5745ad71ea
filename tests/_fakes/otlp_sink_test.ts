import assert from "node:assert/strict";
import { zstdCompressSync } from "node:zlib";
import { decodeLogsResponse, encodeLogsRequest } from "../../src/export/mod.ts";
import type { LogRecord, ResourceRef } from "../../src/record.ts";
import { type SinkAnswer, startOtlpSink } from "./otlp_sink.ts";

const SCOPE = { name: "containerstdout", version: "0.1.0" };
const POD_A: ResourceRef = { attributes: { "k8s.pod.name": "a", "k8s.container.restart_count": 2 } };
const POD_B: ResourceRef = { attributes: { "k8s.pod.name": "b" } };

function records(resource: ResourceRef, bodies: string[]): LogRecord[] {
  return bodies.map((body, i) => ({
    hrTime: [1_700_000_000 + i, 0],
    hrTimeObserved: [1_700_000_000 + i, 1],
    body,
    attributes: { "log.iostream": "stdout" },
    droppedAttributesCount: 0,
    resource,
    instrumentationScope: SCOPE,
  }));
}

async function gzip(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

interface PostOptions {
  isGzip?: boolean;
  /** A `Content-Encoding` other than gzip (the body is sent as given). */
  encoding?: string;
  contentType?: string;
  path?: string;
  method?: string;
  signal?: AbortSignal;
}

/** Posts `body` and returns the status, headers and the whole response body. */
async function post(
  url: string,
  body: Uint8Array<ArrayBuffer> | null,
  options: PostOptions = {},
): Promise<{ status: number; headers: Headers; body: Uint8Array }> {
  const headers: Record<string, string> = { "content-type": options.contentType ?? "application/x-protobuf" };
  if (options.isGzip) headers["content-encoding"] = "gzip";
  if (options.encoding !== undefined) headers["content-encoding"] = options.encoding;
  const response = await fetch(`${url}${options.path ?? "/v1/logs"}`, {
    method: options.method ?? "POST",
    headers,
    body,
    signal: options.signal,
  });
  return {
    status: response.status,
    headers: response.headers,
    body: new Uint8Array(await response.arrayBuffer()),
  };
}

Deno.test("otlp sink stores every record of a 200 request with its resource and request index", async () => {
  await using sink = await startOtlpSink();
  assert.match(sink.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const first = await post(
    sink.url,
    encodeLogsRequest([...records(POD_A, ["a1", "a2"]), ...records(POD_B, ["b1"])]),
  );
  const second = await post(sink.url, encodeLogsRequest(records(POD_B, ["b2"])));
  assert.equal(first.status, 200);
  assert.equal(first.headers.get("content-type"), "application/x-protobuf");
  assert.deepEqual(decodeLogsResponse(first.body), { ok: true, rejectedLogRecords: 0, errorMessage: "" });
  assert.equal(second.status, 200);
  await sink.waitForRecords(4, { timeoutMs: 1_000 });
  assert.deepEqual(
    sink.records.map((r) => [r.resource["k8s.pod.name"], r.record.body, r.requestIndex]),
    [["a", "a1", 0], ["a", "a2", 0], ["b", "b1", 0], ["b", "b2", 1]],
  );
  assert.deepEqual(sink.records[0].resource, { "k8s.pod.name": "a", "k8s.container.restart_count": 2 });
  assert.deepEqual(sink.records[0].record.attributes, { "log.iostream": "stdout" });
  assert.equal(sink.records[1].record.timeUnixNano, 1_700_000_001_000_000_000n);
  assert.equal(sink.requests.length, 2);
  assert.equal(sink.requests[0].status, 200);
  assert.equal(sink.requests[0].recordCount, 3);
  assert.equal(sink.requests[0].isGzip, false);
});

Deno.test("otlp sink gunzips a gzip request and counts its compressed bytes", async () => {
  await using sink = await startOtlpSink();
  const bodies = Array.from({ length: 50 }, (_, i) => `repetitive line ${i} ${"x".repeat(100)}`);
  const compressed = await gzip(encodeLogsRequest(records(POD_A, bodies)));
  assert.equal((await post(sink.url, compressed, { isGzip: true })).status, 200);
  assert.deepEqual(sink.records.map((r) => r.record.body), bodies);
  assert.deepEqual(sink.requests[0], {
    index: 0,
    status: 200,
    recordCount: 50,
    bytes: compressed.length,
    encoding: "gzip",
    isGzip: true,
  });
});

Deno.test("otlp sink decodes a zstd request and refuses an encoding it does not know with 415", async () => {
  await using sink = await startOtlpSink();
  const bodies = ["one", "two ✅"];
  const compressed = zstdCompressSync(encodeLogsRequest(records(POD_A, bodies)));
  assert.equal((await post(sink.url, new Uint8Array(compressed), { encoding: "zstd" })).status, 200);
  assert.deepEqual(sink.records.map((r) => r.record.body), bodies);
  assert.equal(sink.requests[0].encoding, "zstd");
  const refused = await post(sink.url, encodeLogsRequest(records(POD_A, ["x"])), { encoding: "br" });
  assert.equal(refused.status, 415);
  assert.match(sink.requests[1].error ?? "", /Unsupported content encoding: br/);
  assert.equal(sink.records.length, 2);
});

Deno.test("otlp sink answers a partial success that decodeLogsResponse reads, and stores the records", async () => {
  await using sink = await startOtlpSink({ mode: { status: 200, rejected: 1, message: "1 record too old" } });
  const answer = await post(sink.url, encodeLogsRequest(records(POD_A, ["x", "y"])));
  assert.equal(answer.status, 200);
  assert.deepEqual(decodeLogsResponse(answer.body), {
    ok: true,
    rejectedLogRecords: 1,
    errorMessage: "1 record too old",
  });
  assert.equal(sink.records.length, 2);
});

const REFUSAL_CASES: {
  name: string;
  answer: SinkAnswer;
  wantStatus: number;
  wantRetryAfter: string | null;
}[] = [
  {
    name: "503 with Retry-After",
    answer: { status: 503, retryAfterSeconds: 2 },
    wantStatus: 503,
    wantRetryAfter: "2",
  },
  { name: "429 without Retry-After", answer: { status: 429 }, wantStatus: 429, wantRetryAfter: null },
  {
    name: "503 with a Retry-After date",
    answer: { status: 503, headers: { "retry-after": "Wed, 21 Oct 2015 07:28:00 GMT" } },
    wantStatus: 503,
    wantRetryAfter: "Wed, 21 Oct 2015 07:28:00 GMT",
  },
  {
    name: "400 with a body",
    answer: { status: 400, body: "bad field" },
    wantStatus: 400,
    wantRetryAfter: null,
  },
];

for (const { name, answer, wantStatus, wantRetryAfter } of REFUSAL_CASES) {
  Deno.test(`otlp sink answers ${name} and stores no records`, async () => {
    await using sink = await startOtlpSink({ mode: answer });
    const response = await post(sink.url, encodeLogsRequest(records(POD_A, ["x"])));
    assert.equal(response.status, wantStatus);
    assert.equal(response.headers.get("retry-after"), wantRetryAfter);
    if ("body" in answer) assert.equal(new TextDecoder().decode(response.body), answer.body);
    assert.equal(sink.records.length, 0);
    assert.deepEqual(sink.requests.map((r) => [r.status, r.recordCount]), [[wantStatus, 1]]);
  });
}

Deno.test("otlp sink answers per request index when its mode is a function, and respondWith changes it", async () => {
  await using sink = await startOtlpSink({ mode: (index) => index < 2 ? { status: 503 } : { status: 200 } });
  const body = encodeLogsRequest(records(POD_A, ["x"]));
  const statuses = [];
  for (let i = 0; i < 3; i++) statuses.push((await post(sink.url, body)).status);
  sink.respondWith({ status: 429 });
  statuses.push((await post(sink.url, body)).status);
  assert.deepEqual(statuses, [503, 503, 200, 429]);
  assert.deepEqual(sink.records.map((r) => r.requestIndex), [2]);
});

const BAD_REQUEST_CASES: {
  name: string;
  options: PostOptions;
  body: Uint8Array<ArrayBuffer>;
  want: number;
}[] = [
  { name: "another path with 404", options: { path: "/v1/traces" }, body: new Uint8Array(0), want: 404 },
  { name: "a PUT with 405", options: { method: "PUT" }, body: new Uint8Array(0), want: 405 },
  {
    name: "a JSON request with 415",
    options: { contentType: "application/json" },
    body: new Uint8Array(0),
    want: 415,
  },
  {
    name: "a body that is not gzip with 400",
    options: { isGzip: true },
    body: new Uint8Array([1, 2, 3]),
    want: 400,
  },
  {
    name: "a body that is not protobuf with 400",
    options: {},
    body: new Uint8Array([0x0a, 0x09]),
    want: 400,
  },
];

for (const { name, options, body, want } of BAD_REQUEST_CASES) {
  Deno.test(`otlp sink refuses ${name}`, async () => {
    await using sink = await startOtlpSink();
    const response = await post(sink.url, body, options);
    assert.equal(response.status, want);
    assert.equal(sink.records.length, 0);
  });
}

Deno.test("otlp sink holds a hung request until the client gives up", async () => {
  await using sink = await startOtlpSink({ mode: { hang: true } });
  const controller = new AbortController();
  const pending = post(sink.url, encodeLogsRequest(records(POD_A, ["x"])), { signal: controller.signal });
  await sink.waitForRequests(1, { timeoutMs: 2_000 });
  assert.deepEqual(sink.requests.map((r) => [r.status, r.recordCount]), [[0, 1]]);
  controller.abort();
  await assert.rejects(
    pending,
    (error: unknown) => error instanceof DOMException && error.name === "AbortError",
  );
  assert.equal(sink.records.length, 0);
});

Deno.test("otlp sink releases a hung request when it closes", async () => {
  const sink = await startOtlpSink({ mode: { hang: true } });
  const pending = post(sink.url, encodeLogsRequest(records(POD_A, ["x"])));
  await sink.waitForRequests(1, { timeoutMs: 2_000 });
  await sink.close();
  assert.equal((await pending).status, 503);
  await sink.close();
});

Deno.test("otlp sink waitForRecords rejects after its timeout saying how many records came", async () => {
  await using sink = await startOtlpSink({ mode: (i) => i === 0 ? { status: 200 } : { status: 503 } });
  await post(sink.url, encodeLogsRequest(records(POD_A, ["x", "y"])));
  await post(sink.url, encodeLogsRequest(records(POD_A, ["z"])));
  await assert.rejects(
    sink.waitForRecords(5, { timeoutMs: 50 }),
    /^Error: Timed out waiting for OTLP records: wanted 5, got 2 in 2 requests \(statuses 200x1 503x1\)$/,
  );
  await assert.rejects(sink.waitForRequests(3, { timeoutMs: 20 }), /wanted 3, got 2/);
});

Deno.test("otlp sink waitForRecords resolves when records arrive later", async () => {
  await using sink = await startOtlpSink();
  const waiting = sink.waitForRecords(3, { timeoutMs: 5_000 });
  await post(sink.url, encodeLogsRequest(records(POD_A, ["1", "2"])));
  await post(sink.url, encodeLogsRequest(records(POD_A, ["3"])));
  await waiting;
  assert.equal(sink.records.length, 3);
});

Deno.test("otlp sink rejects pending waits when it closes", async () => {
  const sink = await startOtlpSink();
  const rejected = assert.rejects(
    sink.waitForRecords(1, { timeoutMs: 10_000 }),
    /^Error: OTLP sink closed while waiting: records 0$/,
  );
  await sink.close();
  await rejected;
  await assert.rejects(sink.waitForRecords(1), /OTLP sink is closed/);
});

Deno.test("otlp sink listens on a given port", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  await using sink = await startOtlpSink({ port });
  assert.equal(sink.port, port);
  assert.equal(sink.url, `http://127.0.0.1:${port}`);
  assert.equal((await post(sink.url, encodeLogsRequest(records(POD_A, ["x"])))).status, 200);
});
