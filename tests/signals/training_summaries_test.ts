import assert from "node:assert/strict";
import { TrainingSummaries } from "../../src/signals/mod.ts";

const BOUNDS = [0.01, 0.1, 1];

Deno.test("training summaries are exact per job and rank for a known input", () => {
  const s = new TrainingSummaries({ bounds: BOUNDS, maxSeries: 10 });
  // rank 0: two paired steps and one data-only line; rank 1: input-bound.
  s.observe("job-a", "0", 0.005, 0.5);
  s.observe("job-a", "0", 0.05, 0.5);
  s.observe("job-a", "0", 2, null);
  s.observe("job-a", "1", 0.4, 0.5);
  s.observe("job-a", "1", 0.6, 0.5);
  const [r0, r1] = s.snapshot();
  assert.deepEqual(r0, {
    job: "job-a",
    rank: "0",
    dataTime: { count: 3, sum: 2.055, bucketCounts: [1, 1, 0, 1] },
    iterTime: { count: 2, sum: 1, bucketCounts: [0, 0, 2, 0] },
    pairedDataSum: 0.055,
    pairedIterSum: 1,
    inputBoundRatio: 0.055,
  });
  assert.equal(r1.rank, "1");
  assert.deepEqual(r1.dataTime.bucketCounts, [0, 0, 2, 0]);
  assert.equal(r1.inputBoundRatio, 1);
});

Deno.test("training summaries put a value equal to a bound in that bound's bucket", () => {
  const s = new TrainingSummaries({ bounds: BOUNDS, maxSeries: 10 });
  for (const v of [0.01, 0.1, 1, 1.0000001]) s.observe("j", "0", v, null);
  assert.deepEqual(s.snapshot()[0].dataTime.bucketCounts, [1, 1, 1, 1]);
});

Deno.test("training summaries report no ratio before a step with both timings", () => {
  const s = new TrainingSummaries({ bounds: BOUNDS, maxSeries: 10 });
  s.observe("j", "0", null, 0.3);
  assert.equal(s.snapshot()[0].inputBoundRatio, null);
});

Deno.test("training summaries fold series past the ceiling into other and count each observation", () => {
  let overflow = 0;
  const s = new TrainingSummaries({ bounds: BOUNDS, maxSeries: 2, onOverflow: () => overflow++ });
  for (let rank = 0; rank < 5; rank++) s.observe("j", String(rank), 0.1, 1);
  s.observe("j", "0", 0.1, 1); // known series keep their own slot
  s.observe("j", "4", 0.1, 1);
  const snapshot = s.snapshot();
  assert.deepEqual(snapshot.map((r) => [r.job, r.rank, r.dataTime.count]), [
    ["j", "0", 2],
    ["j", "1", 1],
    ["other", "other", 4],
  ]);
  assert.equal(overflow, 4);
});
