import assert from "node:assert/strict";
import fc from "fast-check";
import type { RateBudget } from "../../src/config/mod.ts";
import {
  ADMIT,
  CARDINALITY_CLEAR_MS,
  type CardinalityState,
  DELAY,
  DROP,
  type LimitDecision,
  type LimiterMetrics,
  NamespaceLimiter,
  type NamespaceLimiterOptions,
  OTHER_NAMESPACES_LABEL,
} from "../../src/limit/mod.ts";
import { createAgentMetrics } from "../../src/telemetry/agent_metrics.ts";
import { MetricsRegistry } from "../../src/telemetry/metrics.ts";
import { assertProperty } from "../_helpers/property.ts";

function budget(overrides: Partial<RateBudget> = {}): RateBudget {
  return {
    recordsPerSecond: 10,
    burstRecords: 2,
    bytesPerSecond: null,
    burstBytes: null,
    onLimit: "drop",
    ...overrides,
  };
}

function limiterMetrics(): { metrics: LimiterMetrics; registry: MetricsRegistry } {
  const registry = new MetricsRegistry();
  const m = createAgentMetrics(registry);
  return {
    registry,
    metrics: {
      droppedRecords: m.ratelimitDroppedRecords,
      droppedBytes: m.ratelimitDroppedBytes,
      delayedSeconds: m.ratelimitDelayedSeconds,
      limitedNamespaces: m.ratelimitLimitedNamespaces,
      keys: m.ratelimitKeys,
      keyEvictions: m.ratelimitKeyEvictions,
    },
  };
}

const NAMES: Record<LimitDecision, string> = { [ADMIT]: "admit", [DROP]: "drop", [DELAY]: "delay" };

const CASES: {
  name: string;
  options: Omit<NamespaceLimiterOptions, "maxKeys">;
  records: { namespace: string; sizeBytes?: number; atMs: number; want: LimitDecision }[];
}[] = [
  {
    name: "admits every record of a namespace without a budget when there is no default",
    options: { namespaceBudgets: { noisy: budget() } },
    records: [0, 0, 0, 0].map(() => ({ namespace: "quiet", atMs: 0, want: ADMIT })),
  },
  {
    name: "drops past the burst of a drop budget and admits again once tokens return",
    options: { namespaceBudgets: { noisy: budget() } },
    records: [
      { namespace: "noisy", atMs: 0, want: ADMIT },
      { namespace: "noisy", atMs: 0, want: ADMIT },
      { namespace: "noisy", atMs: 0, want: DROP },
      { namespace: "quiet", atMs: 0, want: ADMIT },
      { namespace: "noisy", atMs: 99, want: DROP },
      { namespace: "noisy", atMs: 100, want: ADMIT },
    ],
  },
  {
    name: "delays past the burst of a delay budget",
    options: { defaultBudget: budget({ onLimit: "delay", burstRecords: 1 }) },
    records: [
      { namespace: "a", atMs: 0, want: ADMIT },
      { namespace: "a", atMs: 0, want: DELAY },
      { namespace: "b", atMs: 0, want: ADMIT },
      { namespace: "a", atMs: 100, want: DELAY }, // the borrowed token is paid back first
      { namespace: "a", atMs: 300, want: ADMIT },
    ],
  },
  {
    name: "uses a namespace's own budget over the default",
    options: {
      defaultBudget: budget({ burstRecords: 1 }),
      namespaceBudgets: { big: budget({ burstRecords: 3 }) },
    },
    records: [
      { namespace: "small", atMs: 0, want: ADMIT },
      { namespace: "small", atMs: 0, want: DROP },
      { namespace: "big", atMs: 0, want: ADMIT },
      { namespace: "big", atMs: 0, want: ADMIT },
      { namespace: "big", atMs: 0, want: ADMIT },
      { namespace: "big", atMs: 0, want: DROP },
    ],
  },
  {
    name: "limits by bytes when the byte bucket runs out first",
    options: {
      defaultBudget: budget({
        burstRecords: 100,
        recordsPerSecond: 100,
        bytesPerSecond: 1000,
        burstBytes: 1000,
      }),
    },
    records: [
      { namespace: "a", sizeBytes: 600, atMs: 0, want: ADMIT },
      { namespace: "a", sizeBytes: 600, atMs: 0, want: DROP },
      { namespace: "a", sizeBytes: 400, atMs: 0, want: ADMIT },
      { namespace: "a", sizeBytes: 100, atMs: 99, want: DROP },
      { namespace: "a", sizeBytes: 100, atMs: 100, want: ADMIT },
    ],
  },
  {
    name: "admits a record larger than the byte burst once the byte bucket is full",
    options: { defaultBudget: budget({ burstRecords: 10, bytesPerSecond: 100, burstBytes: 100 }) },
    records: [
      { namespace: "a", sizeBytes: 10_000, atMs: 0, want: ADMIT },
      { namespace: "a", sizeBytes: 10_000, atMs: 500, want: DROP },
      { namespace: "a", sizeBytes: 10_000, atMs: 1000, want: ADMIT },
    ],
  },
];

for (const { name, options, records } of CASES) {
  Deno.test(`namespace limiter ${name}`, () => {
    const limiter = new NamespaceLimiter({ ...options, maxKeys: 100 });
    const got = records.map((r) => NAMES[limiter.decide(r.namespace, r.sizeBytes ?? 100, r.atMs)]);
    assert.deepEqual(got, records.map((r) => NAMES[r.want]));
  });
}

Deno.test("namespace limiter with no budget at all is disabled and takes no keys", () => {
  const limiter = new NamespaceLimiter({ maxKeys: 10 });
  assert.equal(limiter.isEnabled, false);
  for (let i = 0; i < 100; i++) assert.equal(limiter.decide(`ns-${i}`, 100, i), ADMIT);
  assert.equal(limiter.keyCount, 0);
});

Deno.test("namespace limiter counts drops per namespace in records and bytes", () => {
  const { metrics } = limiterMetrics();
  const limiter = new NamespaceLimiter({
    namespaceBudgets: { noisy: budget({ burstRecords: 1 }) },
    maxKeys: 10,
    metrics,
  });
  for (let i = 0; i < 5; i++) limiter.decide("noisy", 250, 0);
  assert.equal(metrics.droppedRecords.get("noisy"), 4);
  assert.equal(metrics.droppedBytes.get("noisy"), 1000);
});

Deno.test("namespace limiter lets a delayed record go on in debt, pauses its namespace until the debt is paid, and counts the pause", () => {
  const { metrics } = limiterMetrics();
  const limiter = new NamespaceLimiter({
    defaultBudget: budget({ onLimit: "delay", burstRecords: 1, recordsPerSecond: 4 }),
    maxKeys: 10,
    metrics,
  });
  assert.equal(limiter.decide("slow", 10, 1000), ADMIT);
  assert.equal(limiter.msUntilReadable("slow", 1000), 0); // out of tokens, but nothing borrowed yet
  assert.equal(limiter.decide("slow", 10, 1000), DELAY); // read in the same round: goes on, borrowed
  assert.equal(limiter.isLimited("slow", 1000), true);
  assert.equal(limiter.msUntilReadable("slow", 1000), 500);
  assert.equal(limiter.msUntilReadable("other", 1000), 0);
  limiter.collect(1100); // a scrape in the middle of the pause adds the time so far
  assert.equal(metrics.delayedSeconds.get("slow"), 0.1);
  assert.equal(metrics.limitedNamespaces.get("delay"), 1);
  assert.equal(limiter.msUntilReadable("slow", 1250), 250);
  assert.equal(limiter.msUntilReadable("slow", 1500), 0);
  assert.equal(metrics.delayedSeconds.get("slow"), 0.5);
  assert.equal(limiter.isLimited("slow", 1500), false);
  assert.equal(limiter.decide("slow", 10, 1500), ADMIT);
  limiter.collect(1500);
  assert.equal(metrics.limitedNamespaces.get("delay"), 0);
  assert.equal(metrics.delayedSeconds.get("slow"), 0.5);
});

Deno.test("namespace limiter never pauses reading for a drop budget", () => {
  const limiter = new NamespaceLimiter({ defaultBudget: budget({ burstRecords: 1 }), maxKeys: 10 });
  limiter.decide("noisy", 1, 0);
  assert.equal(limiter.decide("noisy", 1, 0), DROP);
  assert.equal(limiter.msUntilReadable("noisy", 0), 0);
});

Deno.test("namespace limiter gauges the namespaces limited now, by on_limit", () => {
  const { metrics } = limiterMetrics();
  const limiter = new NamespaceLimiter({
    namespaceBudgets: {
      a: budget({ burstRecords: 1 }),
      b: budget({ burstRecords: 1 }),
      c: budget({ burstRecords: 1 }),
    },
    maxKeys: 10,
    metrics,
  });
  for (const ns of ["a", "b", "c"]) limiter.decide(ns, 1, 0);
  limiter.decide("a", 1, 0);
  limiter.decide("b", 1, 0);
  limiter.collect(0);
  assert.equal(metrics.limitedNamespaces.get("drop"), 2);
  assert.equal(metrics.keys.get(), 3);
  limiter.collect(100); // tokens back: no longer limited even without a new record
  assert.equal(metrics.limitedNamespaces.get("drop"), 0);
});

Deno.test("namespace limiter bounds the namespace label values and puts the rest in _other", () => {
  const { metrics, registry } = limiterMetrics();
  const limiter = new NamespaceLimiter({
    defaultBudget: budget({ burstRecords: 1 }),
    maxKeys: 10_000,
    metrics,
    maxNamespaceLabels: 20,
  });
  for (let i = 0; i < 5000; i++) {
    limiter.decide(`ns-${i}`, 10, 0);
    limiter.decide(`ns-${i}`, 10, 0);
  }
  const series = registry.render().split("\n").filter((l) =>
    l.startsWith("containerstdout_ratelimit_dropped_records_total{")
  );
  assert.equal(series.length, 21);
  assert.equal(metrics.droppedRecords.get(OTHER_NAMESPACES_LABEL), 4980);
  assert.equal(metrics.droppedRecords.total(), 5000);
  assert.equal(metrics.droppedBytes.total(), 50_000);
});

Deno.test("namespace limiter evicting idle keys at max_keys raises nothing", () => {
  const { metrics } = limiterMetrics();
  const states: CardinalityState[] = [];
  const limiter = new NamespaceLimiter({
    defaultBudget: budget({ burstRecords: 5 }),
    maxKeys: 3,
    metrics,
    onCardinality: (s) => states.push(s),
  });
  for (let i = 0; i < 10; i++) assert.equal(limiter.decide(`ns-${i}`, 1, 0), ADMIT);
  assert.equal(limiter.keyCount, 3);
  assert.equal(metrics.keyEvictions.get("idle"), 7);
  assert.deepEqual(states, []);
});

Deno.test("namespace limiter evicting a key still limited raises RateLimitCardinality once and clears after a quiet period", () => {
  const { metrics } = limiterMetrics();
  const states: CardinalityState[] = [];
  const limiter = new NamespaceLimiter({
    defaultBudget: budget({ burstRecords: 1, recordsPerSecond: 0.001 }),
    maxKeys: 2,
    metrics,
    onCardinality: (s) => states.push(s),
  });
  for (let i = 0; i < 6; i++) {
    limiter.decide(`ns-${i}`, 1, 0);
    assert.equal(limiter.decide(`ns-${i}`, 1, 0), DROP);
  }
  assert.equal(metrics.keyEvictions.get("limited"), 4);
  assert.equal(states.length, 1);
  assert.equal(states[0].isOver, true);
  assert.match(states[0].reason, /egress_rate_limit\.max_keys 2 \(first: ns-0\)/);
  limiter.collect(CARDINALITY_CLEAR_MS - 1);
  assert.equal(states.length, 1);
  limiter.collect(CARDINALITY_CLEAR_MS);
  assert.deepEqual(states[1], { isOver: false, reason: "" });
});

Deno.test("namespace limiter forgets the last namespace when its key is evicted", () => {
  const limiter = new NamespaceLimiter({
    defaultBudget: budget({ burstRecords: 1, recordsPerSecond: 0.001 }),
    maxKeys: 1,
  });
  assert.equal(limiter.decide("a", 1, 0), ADMIT);
  assert.equal(limiter.decide("b", 1, 0), ADMIT); // evicts a
  assert.equal(limiter.decide("a", 1, 0), ADMIT); // a starts over with a full bucket
  assert.equal(limiter.decide("a", 1, 0), DROP);
});

Deno.test("namespace limiter passes per namespace at most burst plus rate times elapsed, and never drops under delay (property)", () => {
  const namespaceArb = fc.constantFrom("a", "b", "c", "d");
  const budgetArb = fc.record({
    recordsPerSecond: fc.double({ min: 0.5, max: 5000, noNaN: true }),
    burstRecords: fc.integer({ min: 1, max: 50 }),
    bytesPerSecond: fc.option(fc.integer({ min: 1, max: 100_000 }), { nil: null }),
    onLimit: fc.constantFrom("drop" as const, "delay" as const),
  }).map((b): RateBudget => ({ ...b, burstBytes: b.bytesPerSecond }));
  let limitedCount = 0;
  assertProperty(
    fc.property(
      fc.dictionary(namespaceArb, budgetArb, { maxKeys: 3 }),
      fc.option(budgetArb, { nil: null }),
      fc.integer({ min: 1, max: 4 }),
      fc.array(
        fc.record({
          namespace: namespaceArb,
          sizeBytes: fc.integer({ min: 1, max: 5000 }),
          advanceMs: fc.integer({ min: 0, max: 50 }),
        }),
        { maxLength: 300 },
      ),
      (namespaceBudgets, defaultBudget, maxKeys, records) => {
        const limiter = new NamespaceLimiter({ namespaceBudgets, defaultBudget, maxKeys });
        const passed = new Map<string, number>();
        let nowMs = 0;
        for (const r of records) {
          nowMs += r.advanceMs;
          // The read loop honours readGate: a paused namespace's records stay in its files for now.
          if (limiter.msUntilReadable(r.namespace, nowMs) > 0) continue;
          const decision = limiter.decide(r.namespace, r.sizeBytes, nowMs);
          const b = namespaceBudgets[r.namespace] ?? defaultBudget;
          if (decision !== ADMIT) limitedCount++;
          if (b === null) {
            if (decision !== ADMIT) return false;
            continue;
          }
          if (decision === DROP && b.onLimit !== "drop") return false;
          if (
            decision === DELAY && (b.onLimit !== "delay" || limiter.msUntilReadable(r.namespace, nowMs) === 0)
          ) {
            return false;
          }
          if (decision !== DROP) passed.set(r.namespace, (passed.get(r.namespace) ?? 0) + 1);
          // With at least as many keys as namespaces nothing is evicted, so the bound is exact: the burst,
          // the refill, and for delay the one record that went on in debt before the pause.
          const n = passed.get(r.namespace) ?? 0;
          const slack = b.onLimit === "delay" ? 1 : 0;
          if (maxKeys >= 4 && n > b.burstRecords + (b.recordsPerSecond * nowMs) / 1000 + slack + 1e-9) {
            return false;
          }
        }
        return true;
      },
    ),
    300,
  );
  assert.ok(limitedCount > 0, "the generator never reached a limit");
});

Deno.test("namespace limiter gives label slots only to namespaces that were limited", () => {
  const { metrics } = limiterMetrics();
  const limiter = new NamespaceLimiter({
    defaultBudget: budget({ burstRecords: 1 }),
    maxKeys: 100,
    metrics,
    maxNamespaceLabels: 2,
  });
  for (let i = 0; i < 30; i++) limiter.decide(`calm-${i}`, 10, 0);
  limiter.decide("loud", 10, 0);
  limiter.decide("loud", 10, 0);
  assert.equal(metrics.droppedRecords.get("loud"), 1);
  assert.equal(metrics.droppedRecords.get(OTHER_NAMESPACES_LABEL), 0);
});
