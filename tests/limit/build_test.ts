import assert from "node:assert/strict";
import { validateConfig } from "../../src/config/mod.ts";
import { buildEgressBudgets } from "../../src/limit/mod.ts";
import type { RecordOrigin } from "../../src/record.ts";
import { createAgentMetrics } from "../../src/telemetry/agent_metrics.ts";
import { KindTracker } from "../../src/telemetry/kinds.ts";
import { MetricsRegistry } from "../../src/telemetry/metrics.ts";

function parts(raw: unknown) {
  const result = validateConfig(raw, { env: () => undefined });
  assert.ok(result.ok);
  const registry = new MetricsRegistry();
  const metrics = createAgentMetrics(registry);
  const kinds = new KindTracker({ registry });
  const dropped: RecordOrigin[] = [];
  const forwarded: unknown[] = [];
  const budgets = buildEgressBudgets({
    config: result.value,
    metrics,
    kinds,
    next: { push: (record) => forwarded.push(record) },
    onDropped: (origin) => dropped.push(origin),
    now: () => 0,
  });
  return { budgets, kinds, dropped, forwarded };
}

function origin(namespace: string): RecordOrigin {
  const podPath = {
    path: `/var/log/pods/${namespace}_p_0f8e1a2b-1111-2222-3333-444455556666/c/0.log`,
    namespace,
    podName: "p",
    podUid: "0f8e1a2b-1111-2222-3333-444455556666",
    containerName: "c",
    restartCount: 0,
    isStaticPod: false,
    containerKey: `${namespace}_p_0f8e1a2b-1111-2222-3333-444455556666/c`,
  };
  return { fileKey: `1:${namespace}`, startOffset: 0, endOffset: 10, sizeBytes: 10, podPath };
}

Deno.test("egress budgets build nothing without an egress_rate_limit budget", () => {
  assert.equal(parts({}).budgets, null);
  assert.equal(parts({ egress_rate_limit: { max_keys: 5 } }).budgets, null);
});

Deno.test("egress budgets raise RateLimitCardinality through the Kind tracker when a limited key is evicted", () => {
  const { budgets, kinds, dropped } = parts({
    egress_rate_limit: {
      default: { records_per_second: 0.01, burst_records: 1, on_limit: "drop" },
      max_keys: 1,
    },
  });
  assert.ok(budgets !== null);
  const record = {} as Parameters<typeof budgets.stage.push>[0];
  for (const ns of ["a", "a", "b"]) budgets.stage.push(record, origin(ns));
  assert.equal(dropped.length, 1);
  assert.equal(kinds.isRaised("RateLimitCardinality"), true);
});
