import assert from "node:assert/strict";
import { LossLedger } from "../../src/ledger/mod.ts";
import { createAgentMetrics } from "../../src/telemetry/agent_metrics.ts";
import { KindTracker } from "../../src/telemetry/kinds.ts";
import { Logger } from "../../src/telemetry/log.ts";
import { MetricsRegistry } from "../../src/telemetry/metrics.ts";

function build(nowMs: { value: number }) {
  const registry = new MetricsRegistry();
  const metrics = createAgentMetrics(registry);
  const kinds = new KindTracker({ registry });
  const logs: string[] = [];
  const ledger = new LossLedger({
    metrics,
    kinds,
    logger: new Logger({ level: "debug", write: (l) => logs.push(l) }),
    lossKindHoldMs: 1000,
    descriptorWaitBoundMs: 500,
    now: () => nowMs.value,
  });
  return { ledger, metrics, kinds, logs };
}

Deno.test("ledger counts and logs a refused file once however many scans report it", () => {
  const { ledger, metrics, logs } = build({ value: 0 });
  for (let i = 0; i < 5; i++) ledger.refused("/logs/a/0.log", "/etc/secret", "symlink_outside_roots", "x");
  assert.equal(metrics.filesRefused.get("symlink_outside_roots"), 1);
  assert.equal(logs.filter((l) => l.includes("refused")).length, 1);
});

Deno.test("ledger raises the loss Kind of a loss and clears it after the hold time", () => {
  const now = { value: 0 };
  const { ledger, metrics, kinds } = build(now);
  ledger.lost("/logs/a/0.log", 100, "deleted_while_paused");
  assert.equal(metrics.bytesLost.get("deleted_while_paused"), 100);
  assert.ok(kinds.isRaised("BackpressureDrop"));
  now.value = 1500;
  ledger.tick(false, 0);
  assert.ok(!kinds.isRaised("BackpressureDrop"));
});

Deno.test("ledger raises DescriptorStarvation while the oldest descriptor wait passes its bound", () => {
  const { ledger, kinds } = build({ value: 0 });
  ledger.tick(false, 400);
  assert.ok(!kinds.isRaised("DescriptorStarvation"));
  ledger.tick(false, 600);
  assert.ok(kinds.isRaised("DescriptorStarvation"));
  ledger.tick(false, 0);
  assert.ok(!kinds.isRaised("DescriptorStarvation"));
});
