import assert from "node:assert/strict";
import type { RateBudget } from "../../src/config/mod.ts";
import { parsePodLogPath } from "../../src/discovery/mod.ts";
import { type LimitOrigin, LimitStage, NamespaceLimiter } from "../../src/limit/mod.ts";

function budget(overrides: Partial<RateBudget>): RateBudget {
  return {
    recordsPerSecond: 1,
    burstRecords: 2,
    bytesPerSecond: null,
    burstBytes: null,
    onLimit: "drop",
    ...overrides,
  };
}

function originIn(namespace: string | null, sizeBytes = 100): LimitOrigin {
  const path = `/var/log/pods/${namespace}_pod-0_0f8e1a2b-1111-2222-3333-444455556666/main/0.log`;
  if (namespace === null) return { sizeBytes, podPath: null };
  const parsed = parsePodLogPath(path);
  assert.ok(parsed.ok);
  return { sizeBytes, podPath: parsed.value };
}

function stageWith(options: { namespaceBudgets: Record<string, RateBudget>; nowMs?: () => number }) {
  const forwarded: string[] = [];
  const dropped: string[] = [];
  const stage = new LimitStage<string, LimitOrigin>({
    limiter: new NamespaceLimiter({ namespaceBudgets: options.namespaceBudgets, maxKeys: 10 }),
    next: { push: (record) => forwarded.push(record) },
    onDropped: (record) => dropped.push(record),
    now: options.nowMs ?? (() => 0),
  });
  return { stage, forwarded, dropped };
}

Deno.test("limit stage forwards records under budget and reports the excess of a drop budget as dropped", () => {
  const { stage, forwarded, dropped } = stageWith({ namespaceBudgets: { noisy: budget({}) } });
  for (let i = 0; i < 4; i++) stage.push(`noisy-${i}`, originIn("noisy"));
  stage.push("quiet-0", originIn("quiet"));
  stage.push("no-pod-0", originIn(null));
  assert.deepEqual(forwarded, ["noisy-0", "noisy-1", "quiet-0", "no-pod-0"]);
  assert.deepEqual(dropped, ["noisy-2", "noisy-3"]);
  assert.equal(stage.readGate(originIn("noisy"), 0), 0);
});

Deno.test("limit stage decides by the time the record was read when its origin carries it, without a clock call", () => {
  const { stage, forwarded, dropped } = stageWith({
    namespaceBudgets: { noisy: budget({}) },
    nowMs: () => {
      throw new Error("clock read for a record that carries its read time");
    },
  });
  // Burst 2 at 1 record/s: two pass at t=0, the third is dropped, and one more passes a second later.
  for (const [name, readAtMs] of [["a", 0], ["b", 0], ["c", 0], ["d", 1_000]] as const) {
    stage.push(name, { ...originIn("noisy"), readAtMs });
  }
  assert.deepEqual(forwarded, ["a", "b", "d"]);
  assert.deepEqual(dropped, ["c"]);
});

Deno.test("limit stage forwards every record of a delay budget and closes the read gate of that namespace only", () => {
  let nowMs = 0;
  const { stage, forwarded, dropped } = stageWith({
    namespaceBudgets: { slow: budget({ onLimit: "delay", recordsPerSecond: 10 }) },
    nowMs: () => nowMs,
  });
  for (let i = 0; i < 4; i++) stage.push(`slow-${i}`, originIn("slow"));
  assert.deepEqual(forwarded, ["slow-0", "slow-1", "slow-2", "slow-3"]);
  assert.deepEqual(dropped, []);
  assert.equal(stage.readGate(originIn("slow"), nowMs), 300);
  assert.equal(stage.readGate(originIn("other"), nowMs), 0);
  assert.equal(stage.readGate(originIn(null), nowMs), 0);
  nowMs = 300;
  assert.equal(stage.readGate(originIn("slow"), nowMs), 0);
});
