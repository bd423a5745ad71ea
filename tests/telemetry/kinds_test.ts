import assert from "node:assert/strict";
import { type Kind, KINDS, type KindState, KindTracker } from "../../src/telemetry/kinds.ts";
import { MetricsRegistry } from "../../src/telemetry/metrics.ts";

interface Setup {
  tracker: KindTracker;
  registry: MetricsRegistry;
  changes: KindState[];
  clock: { nowMs: number };
}

function setup(): Setup {
  const registry = new MetricsRegistry();
  const changes: KindState[] = [];
  const clock = { nowMs: 1_000 };
  const tracker = new KindTracker({ registry, now: () => clock.nowMs, onChange: (s) => changes.push(s) });
  return { tracker, registry, changes, clock };
}

/** The value of `containerstdout_degraded{kind=...}` (or the composite) as `/metrics` shows it. */
function scrape(registry: MetricsRegistry, kind?: Kind): number {
  const text = registry.render();
  const series = kind === undefined
    ? "containerstdout_degraded_any"
    : `containerstdout_degraded{kind="${kind}"}`;
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  assert.ok(line !== undefined, `no series ${series} in:\n${text}`);
  return Number(line.slice(series.length + 1));
}

Deno.test("kinds start cleared with a zero gauge per Kind and a zero composite", () => {
  const { tracker, registry, changes } = setup();
  for (const kind of KINDS) {
    assert.equal(tracker.isRaised(kind), false);
    assert.equal(scrape(registry, kind), 0);
  }
  assert.equal(scrape(registry), 0);
  assert.equal(tracker.isDegraded(), false);
  assert.equal(changes.length, 0);
});

Deno.test("kinds list exactly the names of the design, in order", () => {
  assert.deepEqual(KINDS, [
    "RotationStalled",
    "BackpressureDrop",
    "CursorWriteFailed",
    "Watch",
    "FingerprintCardinality",
    "AttributionCardinality",
    "RateLimitCardinality",
    "DescriptorStarvation",
  ]);
});

type Step = { raise: Kind; reason: string } | { clear: Kind } | { tick: number };

interface TransitionCase {
  name: string;
  steps: Step[];
  /** onChange calls as `kind:raised:reason@sinceMs`. */
  wantChanges: string[];
  wantRaised: Kind[];
}

const CASES: TransitionCase[] = [
  {
    name: "a raise notifies once and a repeated raise with the same reason not again",
    steps: [{ raise: "Watch", reason: "informer not synced" }, { tick: 5 }, {
      raise: "Watch",
      reason: "informer not synced",
    }],
    wantChanges: ["Watch:true:informer not synced@1000"],
    wantRaised: ["Watch"],
  },
  {
    name: "a new reason notifies again but keeps the time it was first raised",
    steps: [{ raise: "Watch", reason: "not synced" }, { tick: 5 }, {
      raise: "Watch",
      reason: "watch silent 60s",
    }],
    wantChanges: ["Watch:true:not synced@1000", "Watch:true:watch silent 60s@1000"],
    wantRaised: ["Watch"],
  },
  {
    name: "a clear notifies once and a clear of a cleared Kind not at all",
    steps: [
      { clear: "RotationStalled" },
      { raise: "RotationStalled", reason: "0.log.20240101 undrained" },
      { tick: 7 },
      { clear: "RotationStalled" },
      { clear: "RotationStalled" },
    ],
    wantChanges: ["RotationStalled:true:0.log.20240101 undrained@1000", "RotationStalled:false:@1007"],
    wantRaised: [],
  },
  {
    name: "Kinds are independent",
    steps: [
      { raise: "BackpressureDrop", reason: "memory ceiling" },
      { raise: "CursorWriteFailed", reason: "disk full" },
      { clear: "BackpressureDrop" },
    ],
    wantChanges: [
      "BackpressureDrop:true:memory ceiling@1000",
      "CursorWriteFailed:true:disk full@1000",
      "BackpressureDrop:false:@1000",
    ],
    wantRaised: ["CursorWriteFailed"],
  },
];

for (const { name, steps, wantChanges, wantRaised } of CASES) {
  Deno.test(`kinds: ${name}`, () => {
    const { tracker, registry, changes, clock } = setup();
    for (const step of steps) {
      if ("tick" in step) clock.nowMs += step.tick;
      else if ("raise" in step) tracker.raise(step.raise, step.reason);
      else tracker.clear(step.clear);
    }
    assert.deepEqual(changes.map((s) => `${s.kind}:${s.isRaised}:${s.reason}@${s.sinceMs}`), wantChanges);
    for (const kind of KINDS) {
      const isRaised = wantRaised.includes(kind);
      assert.equal(tracker.isRaised(kind), isRaised, kind);
      assert.equal(scrape(registry, kind), isRaised ? 1 : 0, `gauge of ${kind}`);
    }
    assert.equal(tracker.isDegraded(), wantRaised.length > 0);
    assert.equal(scrape(registry), wantRaised.length > 0 ? 1 : 0);
  });
}

Deno.test("kinds composite stays raised until the last Kind clears", () => {
  const { tracker, registry } = setup();
  for (const kind of KINDS) tracker.raise(kind, `reason of ${kind}`);
  for (const [i, kind] of KINDS.entries()) {
    assert.equal(scrape(registry), 1, `before clearing ${kind}`);
    tracker.clear(kind);
    assert.equal(tracker.isDegraded(), i < KINDS.length - 1);
  }
  assert.equal(scrape(registry), 0);
});

Deno.test("kinds states list every Kind in order with its reason", () => {
  const { tracker, clock } = setup();
  clock.nowMs = 2_000;
  tracker.raise("FingerprintCardinality", "5001 identities > 5000");
  const states = tracker.states();
  assert.deepEqual(states.map((s) => s.kind), [...KINDS]);
  assert.deepEqual(states.find((s) => s.kind === "FingerprintCardinality"), {
    kind: "FingerprintCardinality",
    isRaised: true,
    reason: "5001 identities > 5000",
    sinceMs: 2_000,
  });
  assert.equal(states.filter((s) => s.isRaised).length, 1);
});
