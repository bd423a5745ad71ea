import assert from "node:assert/strict";
import { type ExportOutcome, OtlpExporter, type OtlpExporterOptions } from "../../src/export/mod.ts";
import type { LogRecord, ResourceRef } from "../../src/record.ts";
import { type AgentMetrics, createAgentMetrics } from "../../src/telemetry/agent_metrics.ts";
import { Logger } from "../../src/telemetry/log.ts";
import { MetricsRegistry } from "../../src/telemetry/metrics.ts";
import { type SinkAnswer, startOtlpSink } from "../_fakes/otlp_sink.ts";

const SCOPE = { name: "containerstdout", version: "0.1.0" };
const START_MS = 1_700_000_000_000;

const POD_A: ResourceRef = {
  attributes: {
    "k8s.namespace.name": "train",
    "k8s.pod.name": "worker-0",
    "k8s.pod.uid": "0f3c2a4e-0000-4000-8000-000000000001",
    "k8s.container.name": "main",
    "k8s.container.restart_count": 0,
  },
};
const POD_B: ResourceRef = {
  attributes: { "k8s.namespace.name": "train", "k8s.pod.name": "worker-1", "k8s.container.restart_count": 3 },
};

function makeBatch(count: number): LogRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    hrTime: [1_700_000_000 + i, 250_000_000],
    hrTimeObserved: [1_700_000_100, i],
    body: `{"step":${i},"loss":0.${i},"msg":"température ✓"}`,
    attributes: {
      "log.iostream": i % 2 === 0 ? "stdout" : "stderr",
      "log.file.path": `/var/log/pods/x/${i}.log`,
    },
    droppedAttributesCount: 0,
    resource: i % 3 === 0 ? POD_B : POD_A,
    instrumentationScope: SCOPE,
  }));
}

/** A clock that only moves when the exporter sleeps, and the delays it asked for. */
interface FakeTime {
  now: () => number;
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  sleepsMs: number[];
}

function fakeTime(): FakeTime {
  let nowMs = START_MS;
  const sleepsMs: number[] = [];
  return {
    now: () => nowMs,
    sleep: (ms) => {
      sleepsMs.push(ms);
      nowMs += ms;
      return Promise.resolve();
    },
    sleepsMs,
  };
}

interface Harness {
  exporter: OtlpExporter;
  metrics: AgentMetrics;
  logs: Record<string, unknown>[];
}

function harness(endpoint: string, options: Partial<OtlpExporterOptions> = {}): Harness {
  const metrics = createAgentMetrics(new MetricsRegistry());
  const logs: Record<string, unknown>[] = [];
  const logger = new Logger({ write: (line) => logs.push(JSON.parse(line)) });
  const exporter = new OtlpExporter({
    endpoint,
    headers: {},
    compression: "gzip",
    timeoutMs: 5_000,
    retryInitialIntervalMs: 100,
    retryMaxIntervalMs: 1_000,
    retryMaxElapsedMs: 0,
    metrics,
    logger,
    random: () => 0.5,
    ...options,
  });
  return { exporter, metrics, logs };
}

function neverAborted(): AbortSignal {
  return new AbortController().signal;
}

/** Polls `condition` every few ms until it holds; fails after `timeoutMs`. */
async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

for (const compression of ["gzip", "zstd", "none"] as const) {
  Deno.test(`otlp exporter delivers every record and resource attribute with compression ${compression}`, async () => {
    await using sink = await startOtlpSink();
    const time = fakeTime();
    const { exporter, metrics } = harness(sink.url, { compression, ...time });
    const batch = makeBatch(30);
    const outcome = await exporter.export(batch, neverAborted());
    assert.deepEqual(outcome, { kind: "delivered", rejectedRecords: 0 });
    assert.equal(sink.records.length, 30);
    // Grouped by resource, in order within each resource.
    const want = [...batch.filter((r) => r.resource === POD_B), ...batch.filter((r) => r.resource === POD_A)];
    sink.records.forEach(({ resource, record }, i) => {
      const r = want[i];
      assert.deepEqual(resource, r.resource.attributes);
      assert.deepEqual(record, {
        timeUnixNano: BigInt(r.hrTime[0]) * 1_000_000_000n + BigInt(r.hrTime[1]),
        observedTimeUnixNano: BigInt(r.hrTimeObserved[0]) * 1_000_000_000n + BigInt(r.hrTimeObserved[1]),
        body: r.body,
        attributes: r.attributes,
        severityNumber: 0,
        severityText: "",
      });
    });
    assert.deepEqual(sink.requests.map((r) => [r.status, r.encoding]), [[
      200,
      compression === "none" ? null : compression,
    ]]);
    assert.equal(metrics.exportBytes.total(), sink.requests[0].bytes);
    assert.equal(metrics.exportRequests.get("success"), 1);
    assert.equal(metrics.exportRecords.get("delivered"), 30);
    assert.equal(metrics.exportRetries.total(), 0);
    assert.deepEqual(time.sleepsMs, []);
  });
}

Deno.test("otlp exporter gzip and zstd make a repetitive batch smaller on the wire", async () => {
  await using sink = await startOtlpSink();
  for (const compression of ["none", "gzip", "zstd"] as const) {
    await harness(sink.url, { compression }).exporter.export(makeBatch(200), neverAborted());
  }
  const [plain, gzip, zstd] = sink.requests.map((r) => r.bytes);
  assert.ok(gzip * 3 < plain, `gzip ${gzip} B vs plain ${plain} B`);
  assert.ok(zstd * 3 < plain, `zstd ${zstd} B vs plain ${plain} B`);
  assert.deepEqual(sink.requests.map((r) => r.recordCount), [200, 200, 200]);
});

Deno.test("otlp exporter names exporter.compression when an endpoint refuses its zstd bodies", async () => {
  for (const [compression, status] of [["zstd", 415], ["zstd", 400], ["gzip", 415]] as const) {
    await using sink = await startOtlpSink({ mode: { status, body: "unsupported Content-Encoding" } });
    const { exporter, logs } = harness(sink.url, { compression });
    const outcome = await exporter.export(makeBatch(3), neverAborted());
    assert.deepEqual(outcome, { kind: "dropped", reason: "permanent_status", status });
    const refused = logs.find((l) => l.msg === "OTLP endpoint refused a batch permanently; records dropped");
    assert.ok(refused !== undefined, JSON.stringify(logs));
    assert.equal(refused.status, status);
    assert.equal(refused.body, "unsupported Content-Encoding");
    if (compression === "zstd") assert.match(String(refused.hint), /exporter\.compression is zstd/);
    else assert.equal(refused.hint, undefined);
  }
});

Deno.test("otlp exporter posts to /v1/logs with its headers, even when the endpoint ends with a slash", async () => {
  const seen: { path: string; headers: Headers }[] = [];
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    await request.arrayBuffer();
    seen.push({ path: new URL(request.url).pathname, headers: request.headers });
    return new Response(null, { status: 200 });
  });
  const endpoint = `http://127.0.0.1:${server.addr.port}//`;
  const headers = {
    authorization: "Bearer t0k3n",
    "x-scope-orgid": "tenant-1",
    "content-type": "text/plain",
  };
  const { exporter } = harness(endpoint, { headers });
  assert.equal((await exporter.export(makeBatch(1), neverAborted())).kind, "delivered");
  assert.equal(seen.length, 1);
  assert.equal(seen[0].path, "/v1/logs");
  assert.equal(seen[0].headers.get("authorization"), "Bearer t0k3n");
  assert.equal(seen[0].headers.get("x-scope-orgid"), "tenant-1");
  assert.equal(seen[0].headers.get("content-type"), "application/x-protobuf");
  assert.equal(seen[0].headers.get("content-encoding"), "gzip");
});

Deno.test("otlp exporter retries 503 with Retry-After until 200, losing and duplicating nothing", async () => {
  await using sink = await startOtlpSink({
    mode: (index) => index < 3 ? { status: 503, retryAfterSeconds: 2 } : { status: 200 },
  });
  const time = fakeTime();
  const { exporter, metrics, logs } = harness(sink.url, time);
  const outcome = await exporter.export(makeBatch(12), neverAborted());
  assert.deepEqual(outcome, { kind: "delivered", rejectedRecords: 0 });
  assert.deepEqual(sink.requests.map((r) => r.status), [503, 503, 503, 200]);
  assert.deepEqual(sink.records.map((r) => r.requestIndex), Array(12).fill(3));
  assert.equal(new Set(sink.records.map((r) => r.record.body)).size, 12);
  assert.deepEqual(time.sleepsMs, [2_000, 2_000, 2_000]);
  assert.equal(metrics.exportRetries.get("retryable_status"), 3);
  assert.equal(metrics.exportRequests.get("retryable_status"), 3);
  assert.equal(metrics.exportRequests.get("success"), 1);
  assert.equal(metrics.exportRecords.get("delivered"), 12);
  assert.equal(metrics.exportBytes.total(), sink.requests.reduce((sum, r) => sum + r.bytes, 0));
  assert.equal(logs.length, 1, "one retry warning per interval");
  assert.equal(logs[0].reason, "retryable_status");
});

Deno.test("otlp exporter wakes a request sleeping in backoff as soon as another request gets through", async () => {
  await using sink = await startOtlpSink({ mode: { status: 503 } });
  // Backoffs taken while `isLong` never end on their own (only a wake-up or an abort ends them); later
  // ones end at once, so the second request keeps probing the endpoint.
  let isLong = true;
  let longSleeps = 0;
  const sleep = (_ms: number, signal: AbortSignal): Promise<void> => {
    if (!isLong) return new Promise((resolve) => setTimeout(resolve, 1));
    longSleeps++;
    return new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
  };
  const { exporter, metrics } = harness(sink.url, { sleep });
  let waiterOutcome: ExportOutcome | undefined;
  const waiting = exporter.send(exporter.prepare(makeBatch(3)), neverAborted()).then((o) =>
    waiterOutcome = o
  );
  await until(() => longSleeps === 1, "the first request sleeps in its backoff");
  isLong = false;
  const probing = exporter.send(exporter.prepare(makeBatch(2)), neverAborted());
  await until(() => sink.requests.length >= 3, "the second request retries");
  sink.respondWith({ status: 200 });
  assert.deepEqual(await probing, { kind: "delivered", rejectedRecords: 0 });
  // Without the wake-up the first request would sleep until its backoff ends: here, never.
  await until(() => waiterOutcome !== undefined, "the sleeping request is retried after the success");
  await waiting;
  assert.deepEqual(waiterOutcome, { kind: "delivered", rejectedRecords: 0 });
  assert.equal(longSleeps, 1);
  assert.equal(metrics.exportRecords.get("delivered"), 5);
  assert.equal(sink.records.length, 5, "each record accepted once");
});

const BACKOFF_CASES: { name: string; random: number; want: number[] }[] = [
  { name: "the top of each interval", random: 1, want: [100, 200, 400, 800, 1_000, 1_000] },
  { name: "the floor", random: 0, want: [100, 100, 100, 100, 100, 100] },
  { name: "the middle of each interval", random: 0.5, want: [100, 150, 250, 450, 550, 550] },
];

for (const { name, random, want } of BACKOFF_CASES) {
  Deno.test(`otlp exporter backs off exponentially on 429 with jitter at ${name}`, async () => {
    await using sink = await startOtlpSink({
      mode: (index) => index < 6 ? { status: 429 } : { status: 200 },
    });
    const time = fakeTime();
    const { exporter } = harness(sink.url, { ...time, random: () => random });
    assert.equal((await exporter.export(makeBatch(2), neverAborted())).kind, "delivered");
    assert.deepEqual(time.sleepsMs, want);
    assert.equal(sink.records.length, 2);
  });
}

const RETRY_AFTER_CASES: { name: string; answer: SinkAnswer; want: number }[] = [
  { name: "delay-seconds", answer: { status: 503, retryAfterSeconds: 7 }, want: 7_000 },
  { name: "fractional seconds", answer: { status: 503, headers: { "retry-after": "1.5" } }, want: 1_500 },
  {
    name: "an HTTP date",
    answer: { status: 429, headers: { "retry-after": new Date(START_MS + 30_000).toUTCString() } },
    want: 30_000,
  },
  {
    name: "an HTTP date in the past (the backoff floor applies)",
    answer: { status: 429, headers: { "retry-after": new Date(START_MS - 30_000).toUTCString() } },
    want: 100,
  },
  { name: "zero (the backoff floor applies)", answer: { status: 503, retryAfterSeconds: 0 }, want: 100 },
  { name: "a day (capped at 5 minutes)", answer: { status: 503, retryAfterSeconds: 86_400 }, want: 300_000 },
  { name: "garbage (ignored)", answer: { status: 503, headers: { "retry-after": "soon" } }, want: 100 },
  {
    name: "a bare negative number (ignored)",
    answer: { status: 503, headers: { "retry-after": "-5" } },
    want: 100,
  },
];

for (const { name, answer, want } of RETRY_AFTER_CASES) {
  Deno.test(`otlp exporter honours a Retry-After of ${name}`, async () => {
    await using sink = await startOtlpSink({ mode: (index) => index === 0 ? answer : { status: 200 } });
    const time = fakeTime();
    const { exporter } = harness(sink.url, { ...time, random: () => 0 });
    assert.equal((await exporter.export(makeBatch(1), neverAborted())).kind, "delivered");
    assert.deepEqual(time.sleepsMs, [want]);
  });
}

for (const status of [429, 502, 503, 504]) {
  Deno.test(`otlp exporter retries status ${status}`, async () => {
    await using sink = await startOtlpSink({ mode: (index) => index === 0 ? { status } : { status: 200 } });
    const { exporter, metrics } = harness(sink.url, fakeTime());
    assert.equal((await exporter.export(makeBatch(3), neverAborted())).kind, "delivered");
    assert.deepEqual(sink.requests.map((r) => r.status), [status, 200]);
    assert.equal(metrics.exportRetries.get("retryable_status"), 1);
  });
}

for (const status of [400, 401, 403, 404, 413, 500, 501]) {
  Deno.test(`otlp exporter drops a batch answered ${status}, counts it and logs once with a body excerpt`, async () => {
    await using sink = await startOtlpSink({ mode: { status, body: `refused: ${"x".repeat(2_000)}` } });
    const time = fakeTime();
    const { exporter, metrics, logs } = harness(sink.url, time);
    const first = await exporter.export(makeBatch(5), neverAborted());
    const second = await exporter.export(makeBatch(2), neverAborted());
    const want: ExportOutcome = { kind: "dropped", reason: "permanent_status", status };
    assert.deepEqual([first, second], [want, want]);
    assert.equal(sink.requests.length, 2, "never retried");
    assert.equal(metrics.exportRecords.get("dropped"), 7);
    assert.equal(metrics.exportRequests.get("permanent_status"), 2);
    assert.equal(metrics.exportRetries.total(), 0);
    assert.deepEqual(time.sleepsMs, []);
    assert.equal(logs.length, 1, "one line per status per interval");
    assert.equal(logs[0].level, "error");
    assert.equal(logs[0].status, status);
    assert.equal(logs[0].records, 5);
    assert.match(String(logs[0].body), /^refused: x+$/);
    assert.equal(String(logs[0].body).length, 512);
  });
}

Deno.test("otlp exporter counts a partial success as delivered with its rejected records, and does not retry", async () => {
  await using sink = await startOtlpSink({
    mode: { status: 200, rejected: 2, message: "2 records too old" },
  });
  const { exporter, metrics, logs } = harness(sink.url, fakeTime());
  const outcome = await exporter.export(makeBatch(10), neverAborted());
  assert.deepEqual(outcome, { kind: "delivered", rejectedRecords: 2 });
  assert.equal(sink.requests.length, 1);
  assert.equal(metrics.exportRequests.get("partial"), 1);
  assert.equal(metrics.exportRecords.get("delivered"), 8);
  assert.equal(metrics.exportRecords.get("rejected"), 2);
  assert.equal(logs.length, 1);
  assert.equal(logs[0].message, "2 records too old");
  assert.equal(logs[0].rejected, 2);
});

Deno.test("otlp exporter never meters more rejected records than the batch holds", async () => {
  await using sink = await startOtlpSink({ mode: { status: 200, rejected: 50, message: "" } });
  const { exporter, metrics } = harness(sink.url, fakeTime());
  assert.deepEqual(await exporter.export(makeBatch(3), neverAborted()), {
    kind: "delivered",
    rejectedRecords: 50,
  });
  assert.equal(metrics.exportRecords.get("rejected"), 3);
  assert.equal(metrics.exportRecords.get("delivered"), 0);
});

Deno.test("otlp exporter treats a 2xx with an unreadable body as delivered and logs it", async () => {
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    await request.arrayBuffer();
    return new Response("<html>ok</html>", { status: 200 });
  });
  const { exporter, metrics, logs } = harness(`http://127.0.0.1:${server.addr.port}`, fakeTime());
  assert.deepEqual(await exporter.export(makeBatch(4), neverAborted()), {
    kind: "delivered",
    rejectedRecords: 0,
  });
  assert.equal(metrics.exportRecords.get("delivered"), 4);
  assert.equal(logs.length, 1);
  assert.match(String(logs[0].msg), /not a valid response/);
});

Deno.test("otlp exporter counts a 2xx whose body stalls past the timeout as delivered, not resent", async () => {
  let requestCount = 0;
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    await request.arrayBuffer();
    requestCount++;
    // Headers and one byte go out at once; the rest never comes.
    const body = new ReadableStream<Uint8Array>({ start: (c) => c.enqueue(new Uint8Array([0x0a])) });
    return new Response(body, { status: 200, headers: { "content-type": "application/x-protobuf" } });
  });
  const { exporter, metrics } = harness(`http://127.0.0.1:${server.addr.port}`, {
    timeoutMs: 150,
    ...fakeTime(),
  });
  assert.deepEqual(await exporter.export(makeBatch(2), neverAborted()), {
    kind: "delivered",
    rejectedRecords: 0,
  });
  assert.equal(requestCount, 1);
  assert.equal(metrics.exportRecords.get("delivered"), 2);
  assert.equal(metrics.exportRetries.total(), 0);
});

Deno.test("otlp exporter times out a hung request and retries it", async () => {
  await using sink = await startOtlpSink({ mode: (index) => index === 0 ? { hang: true } : { status: 200 } });
  const { exporter, metrics } = harness(sink.url, { timeoutMs: 150, sleep: fakeTime().sleep });
  const outcome = await exporter.export(makeBatch(6), neverAborted());
  assert.deepEqual(outcome, { kind: "delivered", rejectedRecords: 0 });
  assert.deepEqual(sink.requests.map((r) => r.status), [0, 200]);
  assert.equal(sink.records.length, 6);
  assert.equal(metrics.exportRequests.get("timeout"), 1);
  assert.equal(metrics.exportRetries.get("timeout"), 1);
});

Deno.test("otlp exporter retries a refused connection until the endpoint comes up", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const { exporter, metrics } = harness(`http://127.0.0.1:${port}`, {
    retryInitialIntervalMs: 5,
    retryMaxIntervalMs: 20,
  });
  const pending = exporter.export(makeBatch(8), neverAborted());
  await until(() => metrics.exportRetries.get("network_error") >= 2, "two network_error retries");
  await using sink = await startOtlpSink({ port });
  assert.deepEqual(await pending, { kind: "delivered", rejectedRecords: 0 });
  assert.equal(sink.records.length, 8);
  assert.deepEqual(sink.requests.map((r) => r.status), [200]);
  assert.ok(metrics.exportRequests.get("network_error") >= 2);
});

Deno.test("otlp exporter returns aborted without a request when the signal already fired", async () => {
  await using sink = await startOtlpSink();
  const { exporter, metrics } = harness(sink.url);
  assert.deepEqual(await exporter.export(makeBatch(3), AbortSignal.abort()), { kind: "aborted" });
  assert.equal(sink.requests.length, 0);
  assert.equal(metrics.exportRecords.total(), 0);
});

Deno.test("otlp exporter returns aborted quickly when the signal fires during a hung request", async () => {
  await using sink = await startOtlpSink({ mode: { hang: true } });
  const { exporter, metrics } = harness(sink.url, { timeoutMs: 30_000 });
  const controller = new AbortController();
  const pending = exporter.export(makeBatch(3), controller.signal);
  await sink.waitForRequests(1, { timeoutMs: 5_000 });
  const abortedAtMs = performance.now();
  controller.abort();
  assert.deepEqual(await pending, { kind: "aborted" });
  assert.ok(performance.now() - abortedAtMs < 1_000);
  assert.equal(metrics.exportRecords.total(), 0, "an aborted batch is neither delivered nor dropped");
  assert.equal(metrics.exportRequests.total(), 0);
});

Deno.test("otlp exporter returns aborted quickly when the signal fires during a backoff wait", async () => {
  await using sink = await startOtlpSink({ mode: { status: 503, retryAfterSeconds: 60 } });
  const { exporter, metrics } = harness(sink.url);
  const controller = new AbortController();
  const pending = exporter.export(makeBatch(3), controller.signal);
  await until(() => metrics.exportRetries.total() === 1, "the first retry wait");
  const abortedAtMs = performance.now();
  controller.abort();
  assert.deepEqual(await pending, { kind: "aborted" });
  assert.ok(performance.now() - abortedAtMs < 1_000);
  assert.equal(sink.requests.length, 1);
  assert.equal(metrics.exportRecords.total(), 0);
});

Deno.test("otlp exporter returns aborted when an injected sleep rejects on abort", async () => {
  await using sink = await startOtlpSink({ mode: { status: 503 } });
  const controller = new AbortController();
  const { exporter } = harness(sink.url, {
    sleep: () => {
      controller.abort();
      return Promise.reject(new DOMException("aborted", "AbortError"));
    },
  });
  assert.deepEqual(await exporter.export(makeBatch(1), controller.signal), { kind: "aborted" });
});

Deno.test("otlp exporter drops a batch as retry_exhausted once retryMaxElapsedMs would pass", async () => {
  await using sink = await startOtlpSink({ mode: { status: 503 } });
  const time = fakeTime();
  const { exporter, metrics, logs } = harness(sink.url, {
    ...time,
    retryMaxElapsedMs: 1_000,
    random: () => 1,
  });
  const outcome = await exporter.export(makeBatch(4), neverAborted());
  assert.deepEqual(outcome, { kind: "dropped", reason: "retry_exhausted", status: 503 });
  // 100 + 200 + 400 = 700 ms; the next 800 ms wait would end past 1000 ms.
  assert.deepEqual(time.sleepsMs, [100, 200, 400]);
  assert.equal(sink.requests.length, 4);
  assert.equal(metrics.exportRecords.get("dropped"), 4);
  assert.equal(metrics.exportRetries.total(), 3);
  const exhausted = logs.find((line) => String(line.msg).includes("retries exhausted"));
  assert.equal(exhausted?.attempts, 4);
  assert.equal(exhausted?.lastStatus, 503);
});

Deno.test("otlp exporter reports retry_exhausted without a status after network errors", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const { exporter } = harness(`http://127.0.0.1:${port}`, { ...fakeTime(), retryMaxElapsedMs: 500 });
  assert.deepEqual(await exporter.export(makeBatch(1), neverAborted()), {
    kind: "dropped",
    reason: "retry_exhausted",
  });
});

Deno.test("otlp exporter delivers an empty batch without a request", async () => {
  await using sink = await startOtlpSink();
  const { exporter } = harness(sink.url);
  assert.deepEqual(await exporter.export([], neverAborted()), { kind: "delivered", rejectedRecords: 0 });
  assert.equal(sink.requests.length, 0);
});

const BAD_OPTION_CASES: { name: string; options: Partial<OtlpExporterOptions>; want: RegExp }[] = [
  {
    name: "an endpoint that is not a URL",
    options: { endpoint: "collector:4318" },
    want: /endpoint must be http/,
  },
  { name: "an unparseable endpoint", options: { endpoint: "::" }, want: /endpoint is not a URL: ::$/ },
  { name: "a zero timeout", options: { timeoutMs: 0 }, want: /timeoutMs must be a positive number, got 0$/ },
  {
    name: "a negative initial interval",
    options: { retryInitialIntervalMs: -1 },
    want: /retryInitialIntervalMs must be a positive number, got -1$/,
  },
  {
    name: "a max interval below the initial one",
    options: { retryInitialIntervalMs: 500, retryMaxIntervalMs: 100 },
    want: /retryMaxIntervalMs 100 is below retryInitialIntervalMs 500$/,
  },
  { name: "a negative max elapsed", options: { retryMaxElapsedMs: -1 }, want: /retryMaxElapsedMs -1$/ },
];

for (const { name, options, want } of BAD_OPTION_CASES) {
  Deno.test(`otlp exporter refuses ${name}`, () => {
    assert.throws(() => harness("http://127.0.0.1:4318", options), (error: unknown) => {
      assert.ok(error instanceof RangeError);
      assert.match(error.message, /^Invalid OTLP exporter option: /);
      assert.match(error.message, want);
      return true;
    });
  });
}
