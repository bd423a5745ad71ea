import assert from "node:assert/strict";
import { join } from "node:path";
import {
  EMITTED_KEY_PREFIX,
  EmittedKeyStore,
  EVENT_RECORD_ORIGIN_FILE_KEY,
  EvictionJoin,
  type EvictionJoinOptions,
  EvictionStage,
  LAST_LINES_ATTRIBUTE,
} from "../../src/evict/mod.ts";
import type { LogRecord, RecordOrigin, RecordSink } from "../../src/record.ts";
import { createAgentMetrics } from "../../src/telemetry/agent_metrics.ts";
import { Logger } from "../../src/telemetry/log.ts";
import { MetricsRegistry } from "../../src/telemetry/metrics.ts";
import { waitUntil } from "../_fakes/apiserver.ts";
import { disruption, joinOptions, podPath, recordAt } from "./_join_helpers.ts";

class CollectingSink implements RecordSink {
  readonly pushed: { record: LogRecord; origin: RecordOrigin }[] = [];
  push(record: LogRecord, origin: RecordOrigin): void {
    this.pushed.push({ record, origin });
  }
  get events(): { record: LogRecord; origin: RecordOrigin }[] {
    return this.pushed.filter((p) => p.record.eventName !== undefined);
  }
}

interface Harness {
  stage: EvictionStage;
  sink: CollectingSink;
  metrics: ReturnType<typeof createAgentMetrics>;
}

function harness(
  options: { kv?: Deno.Kv; join?: Partial<EvictionJoinOptions>; now?: () => number } = {},
): Harness {
  const sink = new CollectingSink();
  const metrics = createAgentMetrics(new MetricsRegistry());
  const stage = new EvictionStage({
    next: sink,
    join: new EvictionJoin(joinOptions(options.join)),
    keys: options.kv === undefined ? null : new EmittedKeyStore({ kv: options.kv, ttlMs: 86_400_000 }),
    scope: { name: "containerstdout", version: "test" },
    nodeName: "node-a",
    metrics,
    logger: new Logger({ write: () => {} }),
    now: options.now,
  });
  return { stage, sink, metrics };
}

function origin(path = podPath("main"), offset = 0): RecordOrigin {
  return {
    fileKey: `file:${path.path}`,
    startOffset: offset,
    endOffset: offset + 10,
    sizeBytes: 100,
    podPath: path,
  };
}

Deno.test("eviction stage forwards every record and emits one event record with no file origin", async () => {
  const now = Date.now();
  const { stage, sink, metrics } = harness();
  await stage.start(AbortSignal.timeout(60_000));
  const main = podPath("main");
  stage.push(recordAt(main, now - 2_000, "epoch 3 step 120"), origin(main, 0));
  stage.detected(disruption({ timeMs: now, timePrecisionMs: 1 }));
  stage.push(recordAt(main, now - 1_000, "read after the event"), origin(main, 10));
  assert.equal(sink.events.length, 0, "waits for the pod's lines");
  stage.push(recordAt(main, now + 3_000, "after the window"), origin(main, 20));
  assert.equal(sink.pushed.length, 4, "three records forwarded, then the event record");
  const tagged = sink.pushed.slice(0, 3).map((p) => p.record.attributes["k8s.pod.eviction.reason"]);
  assert.deepEqual(tagged, [undefined, "EvictionByEvictionAPI", undefined]);
  const [{ record, origin: eventOrigin }] = sink.events;
  assert.equal(eventOrigin.fileKey, EVENT_RECORD_ORIGIN_FILE_KEY);
  assert.equal(eventOrigin.podPath, null);
  assert.equal(eventOrigin.endOffset - eventOrigin.startOffset, 0);
  assert.equal(record.eventName, "k8s.pod.evicted");
  assert.equal(record.severityNumber, 13);
  assert.equal(record.severityText, "WARN");
  assert.equal(record.body, "Eviction API: evicting");
  const lines = record.attributes[LAST_LINES_ATTRIBUTE] as Array<Record<string, unknown>>;
  assert.deepEqual(lines.map((l) => l.body), ["epoch 3 step 120", "read after the event"]);
  assert.equal(metrics.evictionEventRecords.get("k8s.pod.evicted"), 1);
  assert.equal(metrics.evictionTaggedRecords.get(), 1);
  await stage.stop();
  assert.equal(sink.events.length, 1, "nothing more at stop");
});

Deno.test("eviction stage takes a record's time from its origin's read time, not a clock call per record", () => {
  const { stage, sink } = harness({
    now: () => {
      throw new Error("clock read for a record that carries its read time");
    },
  });
  const main = podPath("main");
  const readAtMs = Date.now();
  stage.push(recordAt(main, readAtMs - 1_000, "epoch 3 step 120"), { ...origin(main, 0), readAtMs });
  stage.push(recordAt(main, readAtMs - 500, "epoch 3 step 121"), { ...origin(main, 10), readAtMs });
  assert.equal(sink.pushed.length, 2);
});

Deno.test("eviction stage emits a pending detection when eviction.max_wait passes", async () => {
  const { stage, sink } = harness({ join: { maxWaitMs: 20 } });
  await stage.start(AbortSignal.timeout(60_000));
  stage.detected(disruption({ timeMs: Date.now() }));
  await waitUntil(() => sink.events.length === 1, "the event record after max_wait");
  await stage.stop();
});

Deno.test("eviction stage emits pending detections at stop", async () => {
  const { stage, sink } = harness();
  await stage.start(AbortSignal.timeout(60_000));
  stage.detected(disruption({ timeMs: Date.now() }));
  await stage.stop();
  assert.equal(sink.events.length, 1);
});

Deno.test("eviction stage restarted on the same cursor KV does not emit the same pod UID and reason again", async () => {
  const dir = await Deno.makeTempDir({ prefix: "evict_stage_" });
  try {
    const path = join(dir, "cursor.kv");
    const timeMs = Date.now() - 5_000;
    {
      using kv = await Deno.openKv(path);
      const { stage, sink } = harness({ kv });
      await stage.start(AbortSignal.timeout(60_000));
      stage.detected(disruption({ timeMs }));
      await stage.stop();
      assert.equal(sink.events.length, 1);
      const stored = await Array.fromAsync(kv.list({ prefix: [...EMITTED_KEY_PREFIX] }));
      assert.equal(stored.length, 1);
    }
    using kv = await Deno.openKv(path);
    const { stage, sink, metrics } = harness({ kv });
    await stage.start(AbortSignal.timeout(60_000));
    stage.detected(disruption({ timeMs, source: "pod_status", reason: "Evicted" }));
    const main = podPath("main");
    stage.push(recordAt(main, timeMs - 100, "last words read after the restart"), origin(main));
    await stage.stop();
    assert.equal(sink.events.length, 0);
    assert.equal(sink.pushed[0].record.attributes["k8s.pod.eviction.reason"], "EvictionByEvictionAPI");
    assert.equal(metrics.evictionDetections.get("k8s.pod.evicted", "pod_status", "duplicate"), 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("eviction stage leaves records of static pods and of non-pod files alone", async () => {
  const { stage, sink } = harness();
  await stage.start(AbortSignal.timeout(60_000));
  const record = recordAt(podPath("main"), Date.now(), "plain file");
  stage.push(record, { fileKey: "f", startOffset: 0, endOffset: 5, sizeBytes: 10, podPath: null });
  await stage.stop();
  assert.equal(sink.pushed.length, 1);
  assert.equal(sink.pushed[0].record, record);
});

Deno.test("eviction stage counts a failed load of emitted keys and keeps passing records", async () => {
  const kv = await Deno.openKv(":memory:");
  kv.close();
  const { stage, sink, metrics } = harness({ kv });
  await stage.start(AbortSignal.timeout(60_000));
  assert.equal(metrics.evictionKeyStoreFailures.get("load"), 1);
  assert.match(stage.health().detail, /Cannot load emitted eviction keys/);
  const main = podPath("main");
  stage.push(recordAt(main, Date.now(), "still flowing"), origin(main));
  await stage.stop();
  assert.equal(sink.pushed.length, 1);
});
