import assert from "node:assert/strict";
import { AckTracker } from "../../src/ack/mod.ts";
import {
  Batcher,
  type BatcherOptions,
  type BatchExporter,
  type BatchOutcome,
} from "../../src/export/batcher.ts";
import type { LogRecord, ResourceRef } from "../../src/record.ts";
import { type AgentMetrics, createAgentMetrics } from "../../src/telemetry/agent_metrics.ts";
import { MetricsRegistry } from "../../src/telemetry/metrics.ts";
import { waitFor } from "../_helpers/agent_process.ts";

/** Waits for `check` to hold, polling often: outcomes land within a few microtasks. */
const until = (check: () => boolean): Promise<void> => waitFor(check, { timeoutMs: 5_000, intervalMs: 2 });

const RESOURCE: ResourceRef = { attributes: { "k8s.namespace.name": "ml", "k8s.pod.name": "trainer-0" } };
const SCOPE = { name: "containerstdout", version: "0.1.0" };

function record(body: string): LogRecord {
  return {
    hrTime: [1_700_000_000, 0],
    hrTimeObserved: [1_700_000_000, 0],
    body,
    attributes: {},
    droppedAttributesCount: 0,
    resource: RESOURCE,
    instrumentationScope: SCOPE,
  };
}

/** One export call the test answers by hand. */
interface ExportCall {
  readonly bodies: string[];
  readonly signal: AbortSignal;
  answer(outcome: BatchOutcome): void;
}

/**
 * An exporter that holds every request until the test answers it (or answers at once with `autoAnswer`),
 * and ends a request as "aborted" when its signal aborts, as the OTLP exporter does.
 */
class HeldExporter implements BatchExporter<readonly LogRecord[]> {
  readonly calls: ExportCall[] = [];
  inFlight = 0;
  maxInFlight = 0;
  autoAnswer: ((bodies: string[]) => BatchOutcome) | undefined;
  throwOnExport = false;

  #open: LogRecord[] = [];

  add(record: LogRecord): void {
    this.#open.push(record);
  }

  seal(): readonly LogRecord[] {
    const sealed = this.#open;
    this.#open = [];
    return sealed;
  }

  send(records: readonly LogRecord[], signal: AbortSignal): Promise<BatchOutcome> {
    if (this.throwOnExport) return Promise.reject(new Error("Exporter failed unexpectedly"));
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const bodies = records.map((r) => r.body as string);
    return new Promise((resolve) => {
      let isDone = false;
      const finish = (outcome: BatchOutcome): void => {
        if (isDone) return;
        isDone = true;
        this.inFlight--;
        signal.removeEventListener("abort", onAbort);
        resolve(outcome);
      };
      const onAbort = (): void => finish({ kind: "aborted" });
      signal.addEventListener("abort", onAbort, { once: true });
      if (this.autoAnswer !== undefined) {
        const outcome = this.autoAnswer(bodies);
        queueMicrotask(() => finish(outcome));
      }
      this.calls.push({ bodies, signal, answer: finish });
    });
  }
}

interface Harness extends AsyncDisposable {
  batcher: Batcher<string>;
  exporter: HeldExporter;
  ack: AckTracker<string>;
  metrics: AgentMetrics;
  settledCount: () => number;
}

const NEVER_MS = 3_600_000;

function harness(options: Partial<BatcherOptions<string>> = {}): Harness {
  const exporter = new HeldExporter();
  const ack = new AckTracker<string>();
  const metrics = createAgentMetrics(new MetricsRegistry());
  let settled = 0;
  const batcher = new Batcher<string>({
    maxRecords: 1000,
    maxBytes: 1 << 20,
    maxDelayMs: NEVER_MS,
    maxConcurrentRequests: 2,
    exporter,
    ack,
    metrics,
    onSettled: () => settled++,
    ...options,
  });
  return {
    batcher,
    exporter,
    ack,
    metrics,
    settledCount: () => settled,
    // Ends held exports and clears the age timer, so no test leaks either.
    [Symbol.asyncDispose]: () => batcher.abort(),
  };
}

/** Pushes `count` records of `file`, 100 bytes apart, starting at `firstOffset`. */
function pushMany(batcher: Batcher<string>, file: string, count: number, firstOffset = 0, bytes = 10): void {
  for (let i = 0; i < count; i++) {
    const offset = firstOffset + i * 100;
    batcher.push(record(`${file}@${offset}`), file, offset, bytes);
  }
}

interface SealCase {
  name: string;
  options: Partial<BatcherOptions<string>>;
  recordBytes: number;
  pushes: number;
  /** Sizes of the batches sealed by the pushes alone (no flush, no timer). */
  wantSealed: number[];
}

const SEAL_CASES: SealCase[] = [
  { name: "max records", options: { maxRecords: 3 }, recordBytes: 10, pushes: 7, wantSealed: [3, 3] },
  { name: "max bytes", options: { maxBytes: 100 }, recordBytes: 40, pushes: 7, wantSealed: [3, 3] },
  {
    name: "max bytes reached by one record",
    options: { maxBytes: 100 },
    recordBytes: 500,
    pushes: 2,
    wantSealed: [1, 1],
  },
  { name: "neither bound", options: {}, recordBytes: 10, pushes: 50, wantSealed: [] },
];

for (const { name, options, recordBytes, pushes, wantSealed } of SEAL_CASES) {
  Deno.test(`batcher seals a batch on ${name}`, async () => {
    await using h = harness({ ...options, maxConcurrentRequests: 10 });
    pushMany(h.batcher, "f", pushes, 0, recordBytes);
    assert.deepEqual(h.exporter.calls.map((c) => c.bodies.length), wantSealed);
    const sealedRecords = wantSealed.reduce((a, b) => a + b, 0);
    assert.equal(h.batcher.pendingBatches(), wantSealed.length + (pushes > sealedRecords ? 1 : 0));
    // Records leave in the order they came.
    assert.deepEqual(
      h.exporter.calls.flatMap((c) => c.bodies),
      Array.from({ length: sealedRecords }, (_, i) => `f@${i * 100}`),
    );
  });
}

Deno.test("batcher seals a partly filled batch after max delay", async () => {
  await using h = harness({ maxDelayMs: 20 });
  pushMany(h.batcher, "f", 2);
  assert.equal(h.exporter.calls.length, 0, "not sealed before its age is reached");
  await until(() => h.exporter.calls.length === 1);
  assert.deepEqual(h.exporter.calls[0].bodies, ["f@0", "f@100"]);
  // The next record starts a new batch with a new age timer.
  pushMany(h.batcher, "f", 1, 200);
  await until(() => h.exporter.calls.length === 2);
  assert.deepEqual(h.exporter.calls[1].bodies, ["f@200"]);
});

Deno.test("batcher flush with nothing buffered starts no export", async () => {
  await using h = harness();
  h.batcher.flush();
  assert.equal(h.exporter.calls.length, 0);
  assert.equal(h.batcher.pendingBatches(), 0);
});

Deno.test("batcher keeps at most maxConcurrentRequests exports in flight", async () => {
  await using h = harness({ maxRecords: 1, maxConcurrentRequests: 2 });
  pushMany(h.batcher, "f", 5);
  assert.equal(h.exporter.calls.length, 2);
  assert.equal(h.batcher.pendingBatches(), 5);
  assert.equal(h.metrics.exportQueueBatches.get(), 5);
  h.exporter.calls[0].answer({ kind: "delivered", rejectedRecords: 0 });
  await until(() => h.exporter.calls.length === 3);
  assert.equal(h.exporter.inFlight, 2);
  for (let answered = 1; answered < 5; answered++) {
    h.exporter.calls[answered].answer({ kind: "delivered", rejectedRecords: 0 });
    await until(() => h.batcher.pendingBatches() === 4 - answered);
  }
  assert.equal(h.exporter.maxInFlight, 2);
  assert.equal(h.metrics.exportQueueBatches.get(), 0);
});

Deno.test("batcher settles delivered and dropped batches in the ack tracker but not aborted ones", async () => {
  await using h = harness({ maxRecords: 2, maxConcurrentRequests: 3 });
  h.batcher.push(record("a0"), "a", 0, 10);
  h.batcher.push(record("a10"), "a", 10, 10); // batch 1: a@0, a@10
  h.batcher.push(record("a20"), "a", 20, 10);
  h.batcher.push(record("b0"), "b", 0, 10); // batch 2: a@20, b@0
  h.batcher.push(record("a30"), "a", 30, 10);
  h.batcher.push(record("b5"), "b", 5, 10); // batch 3: a@30, b@5
  const [first, second, third] = h.exporter.calls;
  assert.equal(h.batcher.inflightBytes(), 60);

  second.answer({ kind: "delivered", rejectedRecords: 0 });
  await until(() => h.settledCount() === 1);
  assert.equal(h.ack.lowestOutstanding("a"), 0, "an older batch still holds a@0");
  assert.equal(h.ack.lowestOutstanding("b"), 5);

  first.answer({ kind: "dropped", reason: "permanent_4xx", status: 400 });
  await until(() => h.settledCount() === 2);
  assert.equal(h.ack.lowestOutstanding("a"), 30);

  third.answer({ kind: "aborted" });
  await until(() => h.batcher.pendingBatches() === 0);
  assert.equal(h.settledCount(), 2, "an aborted batch is not settled");
  assert.equal(h.ack.lowestOutstanding("a"), 30);
  assert.equal(h.ack.lowestOutstanding("b"), 5);
  assert.equal(h.batcher.inflightBytes(), 20, "an aborted batch's bytes stay in flight");
});

Deno.test("batcher inflight bytes go back to 0 once every batch is delivered or dropped", async () => {
  await using h = harness({ maxRecords: 4 });
  let n = 0;
  h.exporter.autoAnswer = () =>
    n++ % 2 === 0 ? { kind: "delivered", rejectedRecords: 1 } : { kind: "dropped", reason: "rate_limited" };
  pushMany(h.batcher, "a", 10, 0, 33);
  pushMany(h.batcher, "b", 9, 0, 7);
  assert.equal(h.batcher.inflightBytes(), 10 * 33 + 9 * 7);
  assert.equal(await h.batcher.drain(5_000), true);
  assert.equal(h.batcher.inflightBytes(), 0);
  assert.equal(h.ack.outstandingBatches(), 0);
  assert.equal(h.ack.hasOutstanding("a"), false);
  assert.equal(h.settledCount(), 5);
});

Deno.test("batcher drain seals the open batch and waits for its outcome", async () => {
  await using h = harness();
  h.exporter.autoAnswer = () => ({ kind: "delivered", rejectedRecords: 0 });
  pushMany(h.batcher, "f", 3);
  assert.equal(h.exporter.calls.length, 0);
  assert.equal(await h.batcher.drain(5_000), true);
  assert.deepEqual(h.exporter.calls.map((c) => c.bodies.length), [3]);
  assert.equal(h.batcher.pendingBatches(), 0);
});

Deno.test("batcher drain gives up after its timeout while an export hangs", async () => {
  await using h = harness();
  pushMany(h.batcher, "f", 3);
  const started = Date.now();
  assert.equal(await h.batcher.drain(60), false);
  assert.ok(Date.now() - started >= 55, "waited for the timeout");
  assert.equal(h.batcher.pendingBatches(), 1);
  assert.equal(h.ack.lowestOutstanding("f"), 0);
});

Deno.test("batcher abort ends exports in flight, drops the queue and leaves every batch unacknowledged", async () => {
  await using h = harness({ maxRecords: 1, maxConcurrentRequests: 2 });
  pushMany(h.batcher, "f", 4);
  const [first, second] = h.exporter.calls;
  await h.batcher.abort();
  assert.ok(first.signal.aborted && second.signal.aborted, "in-flight exports saw the abort");
  assert.equal(h.exporter.inFlight, 0);
  assert.equal(h.exporter.calls.length, 2, "queued batches were never exported");
  assert.equal(h.settledCount(), 0);
  assert.equal(h.ack.lowestOutstanding("f"), 0);
  assert.equal(h.ack.outstandingBatches(), 4);
});

Deno.test("batcher treats an exporter that throws like an aborted export", async () => {
  await using h = harness({ maxRecords: 1 });
  h.exporter.throwOnExport = true;
  pushMany(h.batcher, "f", 2, 500);
  assert.equal(await h.batcher.drain(5_000), true);
  assert.equal(h.settledCount(), 0);
  assert.equal(h.ack.lowestOutstanding("f"), 500);
});
