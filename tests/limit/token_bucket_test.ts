import assert from "node:assert/strict";
import fc from "fast-check";
import { TokenBucket } from "../../src/limit/mod.ts";
import { assertProperty } from "../_helpers/property.ts";

const CASES: {
  name: string;
  ratePerSecond: number;
  capacity: number;
  steps: { atMs: number; cost: number; want: boolean }[];
}[] = [
  {
    name: "passes its burst at once and then refuses",
    ratePerSecond: 10,
    capacity: 3,
    steps: [
      { atMs: 0, cost: 1, want: true },
      { atMs: 0, cost: 1, want: true },
      { atMs: 0, cost: 1, want: true },
      { atMs: 0, cost: 1, want: false },
    ],
  },
  {
    name: "refills at its rate and not beyond its capacity",
    ratePerSecond: 10,
    capacity: 2,
    steps: [
      { atMs: 0, cost: 2, want: true },
      { atMs: 99, cost: 1, want: false },
      { atMs: 100, cost: 1, want: true },
      { atMs: 10_000, cost: 2, want: true },
      { atMs: 10_000, cost: 1, want: false },
    ],
  },
  {
    name: "charges a cost above its capacity as the capacity, so it passes with a full bucket",
    ratePerSecond: 1000,
    capacity: 100,
    steps: [
      { atMs: 0, cost: 5000, want: true },
      { atMs: 0, cost: 1, want: false },
      { atMs: 50, cost: 5000, want: false },
      { atMs: 100, cost: 5000, want: true },
    ],
  },
  {
    name: "refills nothing when the clock steps back and counts the later reading once",
    ratePerSecond: 10,
    capacity: 1,
    steps: [
      { atMs: 1000, cost: 1, want: true },
      { atMs: 500, cost: 1, want: false },
      { atMs: 1099, cost: 1, want: false },
      { atMs: 1100, cost: 1, want: true },
    ],
  },
];

for (const { name, ratePerSecond, capacity, steps } of CASES) {
  Deno.test(`token bucket ${name}`, () => {
    const bucket = new TokenBucket({ ratePerSecond, capacity, nowMs: steps[0].atMs });
    for (const [i, step] of steps.entries()) {
      assert.equal(bucket.tryTake(step.cost, step.atMs), step.want, `step ${i} at ${step.atMs} ms`);
    }
  });
}

Deno.test("token bucket says how long until a cost fits, and it fits then", () => {
  const bucket = new TokenBucket({ ratePerSecond: 3, capacity: 5, nowMs: 0 });
  assert.equal(bucket.msUntil(5, 0), 0);
  assert.ok(bucket.tryTake(5, 0));
  assert.equal(bucket.msUntil(1, 0), 334);
  assert.equal(bucket.has(1, 333), false);
  assert.equal(bucket.has(1, 334), true);
});

Deno.test("token bucket rejects a rate that is not positive and a capacity below one", () => {
  assert.throws(() => new TokenBucket({ ratePerSecond: 0, capacity: 1, nowMs: 0 }), RangeError);
  assert.throws(() => new TokenBucket({ ratePerSecond: Number.NaN, capacity: 1, nowMs: 0 }), RangeError);
  assert.throws(() => new TokenBucket({ ratePerSecond: 1, capacity: 0.5, nowMs: 0 }), RangeError);
});

const stepArb = fc.record({
  // Mostly forward, sometimes a step back (a clock correction).
  advanceMs: fc.oneof(fc.integer({ min: 0, max: 2_000 }), fc.integer({ min: -500, max: 0 })),
  cost: fc.oneof(
    fc.constant(1),
    fc.double({ min: 0.01, max: 50, noNaN: true }),
    fc.integer({ min: 1, max: 10_000 }),
  ),
  isAskOnly: fc.boolean(),
});
const bucketArb = fc.record({
  ratePerSecond: fc.oneof(
    fc.double({ min: 0.01, max: 1e7, noNaN: true }),
    fc.integer({ min: 1, max: 1_000 }),
  ),
  capacity: fc.oneof(fc.double({ min: 1, max: 1e6, noNaN: true }), fc.integer({ min: 1, max: 100 })),
  steps: fc.array(stepArb, { minLength: 1, maxLength: 200 }),
});

Deno.test("token bucket never holds more than its capacity nor less than zero (property)", () => {
  let refusals = 0;
  let takes = 0;
  assertProperty(
    fc.property(bucketArb, ({ ratePerSecond, capacity, steps }) => {
      const bucket = new TokenBucket({ ratePerSecond, capacity, nowMs: 0 });
      let nowMs = 0;
      for (const step of steps) {
        nowMs += step.advanceMs;
        if (step.isAskOnly) bucket.msUntil(step.cost, nowMs);
        else if (bucket.tryTake(step.cost, nowMs)) takes++;
        else refusals++;
        const tokens = bucket.tokens(nowMs);
        if (!(tokens >= 0 && tokens <= capacity)) return false;
      }
      return true;
    }),
  );
  // The generator reached both sides of the decision.
  assert.ok(takes > 0 && refusals > 0, `takes ${takes}, refusals ${refusals}`);
});

Deno.test("token bucket passes at most its capacity plus its rate times the elapsed time (property)", () => {
  assertProperty(
    fc.property(bucketArb, ({ ratePerSecond, capacity, steps }) => {
      const bucket = new TokenBucket({ ratePerSecond, capacity, nowMs: 0 });
      let nowMs = 0;
      let latestMs = 0;
      let charged = 0;
      for (const step of steps) {
        nowMs += step.advanceMs;
        latestMs = Math.max(latestMs, nowMs);
        if (bucket.tryTake(step.cost, nowMs)) charged += Math.min(step.cost, capacity);
        const allowance = capacity + (ratePerSecond / 1000) * latestMs;
        if (charged > allowance * (1 + 1e-9)) return false;
      }
      return true;
    }),
  );
});

Deno.test("token bucket admits a cost exactly when msUntil says it can (property)", () => {
  assertProperty(
    fc.property(
      bucketArb,
      fc.double({ min: 0.01, max: 1e6, noNaN: true }),
      ({ ratePerSecond, capacity, steps }, cost) => {
        const bucket = new TokenBucket({ ratePerSecond, capacity, nowMs: 0 });
        let nowMs = 0;
        for (const step of steps) {
          nowMs += Math.max(0, step.advanceMs);
          bucket.tryTake(step.cost, nowMs);
        }
        const waitMs = bucket.msUntil(cost, nowMs);
        const isAvailableNow = bucket.has(cost, nowMs);
        return (waitMs === 0) === isAvailableNow && bucket.has(cost, nowMs + waitMs);
      },
    ),
  );
});

Deno.test("token bucket in debt charges no more than its capacity plus its rate times the elapsed time minus what it holds (property)", () => {
  let debts = 0;
  assertProperty(
    fc.property(bucketArb, fc.array(fc.boolean(), { minLength: 200, maxLength: 200 }), (b, isBorrow) => {
      const bucket = new TokenBucket({ ratePerSecond: b.ratePerSecond, capacity: b.capacity, nowMs: 0 });
      let nowMs = 0;
      let charged = 0;
      for (const [i, step] of b.steps.entries()) {
        nowMs += Math.max(0, step.advanceMs);
        if (isBorrow[i]) {
          bucket.borrow(step.cost);
          charged += Math.min(step.cost, b.capacity);
        } else if (bucket.tryTake(step.cost, nowMs)) charged += Math.min(step.cost, b.capacity);
        const tokens = bucket.tokens(nowMs);
        if (tokens < 0) debts++;
        const allowance = b.capacity + (b.ratePerSecond / 1000) * nowMs;
        if (tokens > b.capacity || charged + tokens > allowance + 1e-6 * allowance) return false;
      }
      return true;
    }),
  );
  assert.ok(debts > 0, "the generator never put a bucket in debt");
});
