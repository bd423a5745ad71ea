import assert from "node:assert/strict";
import { Progress } from "../../src/progress/mod.ts";
import type { RecordOrigin } from "../../src/record.ts";

const origin = (startOffset: number): RecordOrigin => ({
  fileKey: "1:1",
  startOffset,
  endOffset: startOffset + 10,
  sizeBytes: 106,
  podPath: null,
});

Deno.test("progress keeps a held record's start as the frontier until it is marked done", () => {
  const p = new Progress({ cursorFlushIntervalMs: 1000 });
  p.hold(origin(50));
  p.hold(origin(80));
  assert.equal(p.lowestOutstanding("1:1"), 50);
  p.markDone(origin(50));
  assert.equal(p.lowestOutstanding("1:1"), 80);
  p.markDone(origin(80));
  assert.equal(p.lowestOutstanding("1:1"), Infinity);
  assert.equal(p.hasOutstanding("1:1"), false);
});

Deno.test("progress treats markDone of a record never held as done already", () => {
  const p = new Progress({ cursorFlushIntervalMs: 1000 });
  p.markDone(origin(10));
  assert.equal(p.lowestOutstanding("1:1"), Infinity);
});

Deno.test("progress schedules a commit soon after an acknowledgement and at the flush interval otherwise", () => {
  const p = new Progress({ cursorFlushIntervalMs: 1000, ackCommitGapMs: 200 });
  p.committing(10_000);
  assert.equal(p.commitDueMs(false), Infinity, "nothing moved: no commit");
  assert.equal(p.commitDueMs(true), 11_000, "reading moved a frontier: at the flush interval");
  p.ack.add(1, "1:1", 0);
  p.ack.settle(1);
  assert.equal(p.commitDueMs(false), 10_200, "an acknowledgement: after the short gap");
  p.committing(10_300);
  assert.equal(p.commitDueMs(false), Infinity);
});

Deno.test("progress resolves nextSettle when a batch settles", async () => {
  const p = new Progress({ cursorFlushIntervalMs: 1000 });
  const settled = p.nextSettle();
  p.ack.add(7, "1:1", 0);
  p.ack.settle(7);
  await settled;
});
