/**
 * The limiter decision per record (issue 11 target: at most 100 ns per record at p50). Each bench decides
 * a batch of 1,000 records, so the reported time per iteration in microseconds is nanoseconds per record.
 * Inputs are built once: a realistic mix of 50-400 B records in runs from one file (one namespace) at a
 * time, over a clock that advances 2 us per record (500k records/s).
 *
 * Run: `deno bench -A bench/limit_bench.ts`
 *
 * @module
 */

import type { RateBudget } from "../src/config/mod.ts";
import { LimitStage, NamespaceLimiter } from "../src/limit/mod.ts";
import { parsePodLogPath } from "../src/discovery/mod.ts";
import type { PodLogPath } from "../src/record.ts";
import { createAgentMetrics } from "../src/telemetry/agent_metrics.ts";
import { MetricsRegistry } from "../src/telemetry/metrics.ts";
import { seededRandom } from "./_seeded_random.ts";

const BATCH = 1000;
const random = seededRandom(11);

interface Input {
  namespaces: string[];
  sizes: number[];
}

/** `BATCH` records from `namespaceCount` namespaces, in runs of about `runLength` records per namespace. */
function inputs(namespaceCount: number, runLength: number): Input {
  const namespaces: string[] = [];
  const sizes: number[] = [];
  const names = Array.from({ length: namespaceCount }, (_, i) => `team-${i}-training`);
  let current = names[0];
  for (let i = 0; i < BATCH; i++) {
    if (random() < 1 / runLength) current = names[Math.floor(random() * names.length)];
    namespaces.push(current);
    sizes.push(50 + Math.floor(random() * 350));
  }
  return { namespaces, sizes };
}

const GENEROUS: RateBudget = {
  recordsPerSecond: 1e9,
  burstRecords: 1e9,
  bytesPerSecond: 1e12,
  burstBytes: 1e12,
  onLimit: "delay",
};
const TIGHT_DROP: RateBudget = {
  recordsPerSecond: 100,
  burstRecords: 200,
  bytesPerSecond: null,
  burstBytes: null,
  onLimit: "drop",
};

function limiterWith(
  options: { defaultBudget?: RateBudget | null; budgets?: Record<string, RateBudget>; maxKeys?: number },
): NamespaceLimiter {
  const m = createAgentMetrics(new MetricsRegistry());
  return new NamespaceLimiter({
    defaultBudget: options.defaultBudget ?? null,
    namespaceBudgets: options.budgets ?? {},
    maxKeys: options.maxKeys ?? 1000,
    metrics: {
      droppedRecords: m.ratelimitDroppedRecords,
      droppedBytes: m.ratelimitDroppedBytes,
      delayedSeconds: m.ratelimitDelayedSeconds,
      limitedNamespaces: m.ratelimitLimitedNamespaces,
      keys: m.ratelimitKeys,
      keyEvictions: m.ratelimitKeyEvictions,
    },
  });
}

let clockUs = 0;
let sink = 0;

function decideBatch(limiter: NamespaceLimiter, input: Input): void {
  const { namespaces, sizes } = input;
  for (let i = 0; i < BATCH; i++) {
    clockUs += 2;
    sink += limiter.decide(namespaces[i], sizes[i], clockUs / 1000);
  }
}

const MIX_50 = inputs(50, 64);
const MIX_5000 = inputs(5000, 8);
const ONE = inputs(1, 1e9);

const cases: { name: string; limiter: NamespaceLimiter; input: Input; isBaseline?: boolean }[] = [
  { name: "no egress_rate_limit block", limiter: limiterWith({}), input: MIX_50, isBaseline: true },
  { name: "one namespace, under budget", limiter: limiterWith({ defaultBudget: GENEROUS }), input: ONE },
  {
    name: "50 namespaces in runs of 64, under budget",
    limiter: limiterWith({ defaultBudget: GENEROUS }),
    input: MIX_50,
  },
  {
    name: "50 namespaces, one with a budget (the others unlimited)",
    limiter: limiterWith({ budgets: { "team-0-training": GENEROUS } }),
    input: MIX_50,
  },
  {
    name: "50 namespaces in runs of 64, over a drop budget",
    limiter: limiterWith({ defaultBudget: TIGHT_DROP }),
    input: MIX_50,
  },
  {
    name: "5000 namespaces in runs of 8, max_keys 1000 (LRU eviction)",
    limiter: limiterWith({ defaultBudget: GENEROUS, maxKeys: 1000 }),
    input: MIX_5000,
  },
];

for (const { name, limiter, input, isBaseline } of cases) {
  Deno.bench({
    name: `limit: decide ${BATCH} records, ${name}`,
    group: "limit: decide 1000 records (us per iteration = ns per record)",
    baseline: isBaseline,
    fn: () => decideBatch(limiter, input),
  });
}

// The whole stage as the agent runs it: namespace from the origin's pod path, Date.now per record.
function podPathOf(namespace: string): PodLogPath {
  const parsed = parsePodLogPath(`/var/log/pods/${namespace}_p_0f8e1a2b-1111-2222-3333-444455556666/c/0.log`);
  if (!parsed.ok) throw new Error(`Bad bench path for ${namespace}`);
  return parsed.value;
}
const ORIGINS = MIX_50.namespaces.map((ns, i) => ({ sizeBytes: MIX_50.sizes[i], podPath: podPathOf(ns) }));
const stage = new LimitStage<number, { sizeBytes: number; podPath: PodLogPath | null }>({
  limiter: limiterWith({ defaultBudget: GENEROUS }),
  next: { push: (record) => sink += record },
  onDropped: () => sink--,
});
Deno.bench({
  name: `limit: LimitStage.push ${BATCH} records, 50 namespaces under budget (Date.now per record)`,
  group: "limit: decide 1000 records (us per iteration = ns per record)",
  fn: () => {
    for (let i = 0; i < BATCH; i++) stage.push(1, ORIGINS[i]);
  },
});

globalThis.addEventListener("unload", () => {
  if (sink === -1) console.log(sink); // keeps the decisions observable so they are not optimised away
});
