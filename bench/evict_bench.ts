/**
 * The eviction stage on the record path: the cost every record pays (remembered in its container's ring,
 * forwarded), with no disruption known, with a known disruption of another pod, and of the pod itself
 * (tagging). Inputs: 200 containers, 50-400 B bodies, built once from a seeded generator.
 *
 * @module
 */

import { parsePodLogPath } from "../src/discovery/mod.ts";
import { EvictionJoin, EvictionStage } from "../src/evict/mod.ts";
import type { LogRecord, PodLogPath, RecordOrigin } from "../src/record.ts";
import { createAgentMetrics } from "../src/telemetry/agent_metrics.ts";
import { Logger } from "../src/telemetry/log.ts";
import { MetricsRegistry } from "../src/telemetry/metrics.ts";
import { seededRandom } from "./_seeded_random.ts";

const random = seededRandom(10);
const encoder = new TextEncoder();
const CONTAINERS = 200;
const RECORDS = 10_000;
const NOW_MS = Date.parse("2026-03-01T12:00:00Z");

const paths: PodLogPath[] = Array.from({ length: CONTAINERS }, (_, i) => {
  const uid = `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`;
  const r = parsePodLogPath(`/var/log/pods/ml_trainer-${i}_${uid}/main/0.log`);
  if (!r.ok) throw new Error(r.reason);
  return r.value;
});

const inputs: { record: LogRecord; origin: RecordOrigin }[] = Array.from({ length: RECORDS }, (_, i) => {
  const path = paths[Math.floor(random() * CONTAINERS)];
  const size = 50 + Math.floor(random() * 350);
  const atMs = NOW_MS - 10_000 + i;
  return {
    record: {
      hrTime: [Math.floor(atMs / 1000), (atMs % 1000) * 1e6],
      hrTimeObserved: [Math.floor(atMs / 1000), 0],
      body: encoder.encode(`step ${i} loss 0.25 `.padEnd(size, "x")) as unknown as string,
      attributes: { "log.iostream": "stdout" },
      droppedAttributesCount: 0,
      resource: { attributes: {} },
      instrumentationScope: { name: "containerstdout", version: "bench" },
    },
    origin: {
      fileKey: path.path,
      startOffset: i * 100,
      endOffset: i * 100 + size,
      sizeBytes: size,
      podPath: path,
    },
  };
});

function stage(known: "none" | "other_pod" | "own_pod"): EvictionStage {
  const join = new EvictionJoin({
    lastLines: 50,
    maxLineBytes: 4096,
    maxContainerBytes: 64 * 1024,
    maxTotalBytes: 16 * 1024 * 1024,
    matchWindowMs: 30_000,
    maxWaitMs: 5_000,
    dedupTtlMs: 86_400_000,
  });
  const uid = known === "own_pod" ? paths[0].podUid : "ffffffff-0000-4000-8000-000000000000";
  if (known !== "none") {
    join.restore([{
      key: `${uid}|k8s.pod.evicted`,
      podUid: uid,
      eventName: "k8s.pod.evicted",
      reason: "Evicted",
      containerName: null,
      restartCount: null,
      timeMs: NOW_MS,
      windowStartMs: NOW_MS - 30_000,
      windowEndMs: NOW_MS + 1_000,
      atMs: NOW_MS,
    }], NOW_MS);
  }
  return new EvictionStage({
    next: { push: () => {} },
    join,
    scope: { name: "containerstdout", version: "bench" },
    metrics: createAgentMetrics(new MetricsRegistry()),
    logger: new Logger({ write: () => {} }),
    now: () => NOW_MS,
  });
}

for (
  const [name, known] of [
    ["no disruption known", "none"],
    ["a disruption of another pod known", "other_pod"],
    ["a disruption of a pod being read (tags its records)", "own_pod"],
  ] as const
) {
  const s = stage(known);
  Deno.bench({
    name: `evict: push 10,000 records over 200 containers, ${name}`,
    group: "evict",
    baseline: known === "none",
    fn: () => {
      for (const { record, origin } of inputs) s.push(record, origin);
    },
  });
}
