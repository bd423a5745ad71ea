import assert from "node:assert/strict";
import fc from "fast-check";
import { AckTracker } from "../../src/ack/mod.ts";
import { assertProperty } from "../_helpers/property.ts";

type Op =
  | { kind: "add"; batchId: number; file: string; startOffset: number }
  | { kind: "settle"; batchId: number };

const FILES = ["1:10", "1:11", "2:10", "2:99"];

const addRunArb: fc.Arbitrary<Op[]> = fc.record({
  batchId: fc.integer({ min: 1, max: 6 }),
  file: fc.constantFrom(...FILES),
  startOffset: fc.nat({ max: 5000 }),
  // Mostly rising (the tracker's fast path), sometimes jumping back.
  deltas: fc.array(fc.integer({ min: -300, max: 500 }), { maxLength: 6 }),
}).map(({ batchId, file, startOffset, deltas }) => {
  const offsets = [startOffset];
  for (const d of deltas) offsets.push(Math.max(0, offsets[offsets.length - 1] + d));
  return offsets.map((offset): Op => ({ kind: "add", batchId, file, startOffset: offset }));
});

/**
 * Interleavings the batcher can produce and some it cannot: runs of records of one file in one batch,
 * jumps back, batches reopened after a settle, and settles of unknown batches.
 */
const opsArb: fc.Arbitrary<Op[]> = fc.array(
  fc.oneof(
    { weight: 3, arbitrary: addRunArb },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 0, max: 7 }).map((batchId): Op[] => [{ kind: "settle", batchId }]),
    },
  ),
  { minLength: 1, maxLength: 40 },
).map((runs) => runs.flat());

/** The reference: every unsettled add, kept as a plain list. */
class AckModel {
  adds: Array<{ batchId: number; file: string; startOffset: number }> = [];

  apply(op: Op): void {
    if (op.kind === "add") this.adds.push(op);
    else this.adds = this.adds.filter((a) => a.batchId !== op.batchId);
  }

  lowestOutstanding(file: string): number {
    let min = Infinity;
    for (const a of this.adds) if (a.file === file && a.startOffset < min) min = a.startOffset;
    return min;
  }

  outstandingBatches(): number {
    return new Set(this.adds.map((a) => a.batchId)).size;
  }
}

function applyOp(tracker: AckTracker<string>, op: Op): void {
  if (op.kind === "add") tracker.add(op.batchId, op.file, op.startOffset);
  else tracker.settle(op.batchId);
}

function assertMatchesModel(tracker: AckTracker<string>, model: AckModel, step: number): void {
  for (const file of FILES) {
    const want = model.lowestOutstanding(file);
    assert.equal(tracker.lowestOutstanding(file), want, `lowestOutstanding(${file}) after step ${step}`);
    assert.equal(
      tracker.hasOutstanding(file),
      want !== Infinity,
      `hasOutstanding(${file}) after step ${step}`,
    );
  }
  assert.equal(
    tracker.outstandingBatches(),
    model.outstandingBatches(),
    `outstandingBatches after step ${step}`,
  );
}

/** True when some batch got offsets of one file that went down after going up, across several files. */
function isInteresting(ops: Op[]): boolean {
  const files = new Set<string>();
  const lastOffset = new Map<string, number>();
  let hasOutOfOrder = false;
  for (const op of ops) {
    if (op.kind !== "add") continue;
    files.add(op.file);
    const key = `${op.batchId}/${op.file}`;
    const last = lastOffset.get(key);
    if (last !== undefined && op.startOffset < last) hasOutOfOrder = true;
    lastOffset.set(key, op.startOffset);
  }
  return files.size >= 2 && hasOutOfOrder;
}

Deno.test("ack tracker lowest outstanding offset equals the minimum over unsettled adds under any interleaving", () => {
  let interesting = 0;
  let runs = 0;
  assertProperty(
    fc.property(opsArb, (ops) => {
      runs++;
      if (isInteresting(ops)) interesting++;
      const tracker = new AckTracker<string>();
      const model = new AckModel();
      ops.forEach((op, step) => {
        applyOp(tracker, op);
        model.apply(op);
        assertMatchesModel(tracker, model, step);
      });
    }),
    400,
  );
  // The property is only worth something if the generator mixes files and sends offsets out of order.
  assert.ok(
    interesting >= runs / 2,
    `only ${interesting} of ${runs} runs had several files and out-of-order offsets`,
  );
});

Deno.test("ack tracker cursor never passes an unacknowledged byte while batches settle out of order", () => {
  assertProperty(
    fc.property(
      fc.array(fc.nat({ max: 200 }), { minLength: 1, maxLength: 60 }),
      fc.integer({ min: 1, max: 8 }),
      fc.infiniteStream(fc.nat()),
      (lengths, recordsPerBatch, picks) => {
        // One file read front to back; records go into batches in order; batches settle in any order.
        const tracker = new AckTracker<string>();
        const starts: number[] = [];
        let offset = 0;
        lengths.forEach((length, i) => {
          starts.push(offset);
          tracker.add(Math.floor(i / recordsPerBatch) + 1, "f", offset);
          offset += length + 1;
        });
        const open = [...new Set(starts.map((_, i) => Math.floor(i / recordsPerBatch) + 1))];
        const pick = picks[Symbol.iterator]();
        while (open.length > 0) {
          const [batchId] = open.splice(pick.next().value % open.length, 1);
          tracker.settle(batchId);
          const cursor = tracker.lowestOutstanding("f");
          const unacked = starts.filter((_, i) => open.includes(Math.floor(i / recordsPerBatch) + 1));
          assert.equal(cursor, unacked.length === 0 ? Infinity : Math.min(...unacked));
        }
      },
    ),
    300,
  );
});

Deno.test("ack tracker settle is idempotent for any history", () => {
  assertProperty(
    fc.property(opsArb, fc.integer({ min: 0, max: 7 }), (ops, batchId) => {
      const once = new AckTracker<string>();
      const twice = new AckTracker<string>();
      for (const op of ops) {
        applyOp(once, op);
        applyOp(twice, op);
      }
      once.settle(batchId);
      twice.settle(batchId);
      twice.settle(batchId);
      for (const file of FILES) assert.equal(twice.lowestOutstanding(file), once.lowestOutstanding(file));
      assert.equal(twice.outstandingBatches(), once.outstandingBatches());
    }),
    300,
  );
});

interface AckCase {
  name: string;
  ops: Op[];
  want: Record<string, number>;
}

const add = (batchId: number, file: string, startOffset: number): Op => ({
  kind: "add",
  batchId,
  file,
  startOffset,
});
const settle = (batchId: number): Op => ({ kind: "settle", batchId });

const CASES: AckCase[] = [
  { name: "an empty tracker has nothing outstanding", ops: [], want: { a: Infinity } },
  { name: "one batch keeps its first offset", ops: [add(1, "a", 10), add(1, "a", 20)], want: { a: 10 } },
  {
    name: "a lower offset after a higher one in the same batch lowers the minimum",
    ops: [add(1, "a", 20), add(1, "a", 30), add(1, "a", 5)],
    want: { a: 5 },
  },
  {
    name: "settling the older batch moves the cursor to the next batch",
    ops: [add(1, "a", 0), add(2, "a", 100), settle(1)],
    want: { a: 100 },
  },
  {
    name: "settling the newer batch first keeps the cursor at the older one",
    ops: [add(1, "a", 0), add(2, "a", 100), settle(2)],
    want: { a: 0 },
  },
  {
    name: "files are tracked apart within one batch",
    ops: [add(1, "a", 7), add(1, "b", 3), add(1, "a", 9)],
    want: { a: 7, b: 3 },
  },
  {
    name: "a batch id reused after its settle starts afresh",
    ops: [add(1, "a", 50), settle(1), add(1, "a", 80)],
    want: { a: 80 },
  },
  { name: "settling an unknown batch changes nothing", ops: [add(1, "a", 4), settle(9)], want: { a: 4 } },
];

for (const { name, ops, want } of CASES) {
  Deno.test(`ack tracker: ${name}`, () => {
    const tracker = new AckTracker<string>();
    for (const op of ops) applyOp(tracker, op);
    for (const [file, offset] of Object.entries(want)) {
      assert.equal(tracker.lowestOutstanding(file), offset);
      assert.equal(tracker.hasOutstanding(file), offset !== Infinity);
    }
  });
}
