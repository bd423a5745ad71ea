/**
 * The ack tracker on the hot path: one `add` per record pushed into a batch. Baseline: a plain `Map.set`
 * per record, the least any per-file bookkeeping could cost. Each iteration fills one batch of 2048
 * records and settles it, so the tracker stays at its steady-state size.
 *
 * @module
 */

import { AckTracker } from "../src/ack/mod.ts";
import { seededRandom } from "./_seeded_random.ts";

const RECORDS_PER_BATCH = 2048;

const random = seededRandom(11);
const FILE_KEYS = Array.from({ length: 64 }, (_, i) => `66305:${4_000_000 + i}`);

/** One file: records in file order, 50-400 bytes apart (the tracker's fast path). */
const ONE_FILE = Array.from({ length: RECORDS_PER_BATCH }, () => FILE_KEYS[0]);
/** 64 busy containers read in turns of 1-32 records, as the tailer hands them over. */
const INTERLEAVED: string[] = [];
while (INTERLEAVED.length < RECORDS_PER_BATCH) {
  const file = FILE_KEYS[Math.floor(random() * FILE_KEYS.length)];
  const run = 1 + Math.floor(random() * 32);
  for (let i = 0; i < run && INTERLEAVED.length < RECORDS_PER_BATCH; i++) INTERLEAVED.push(file);
}
const LINE_BYTES = Array.from({ length: RECORDS_PER_BATCH }, () => 50 + Math.floor(random() * 350));

function fillAndSettle(
  tracker: AckTracker<string>,
  batchId: number,
  files: string[],
  offsets: Map<string, number>,
): void {
  for (let i = 0; i < files.length; i++) {
    const file = files[i];
    const offset = offsets.get(file) ?? 0;
    tracker.add(batchId, file, offset);
    offsets.set(file, offset + LINE_BYTES[i]);
  }
  tracker.settle(batchId);
}

function trackerBench(files: string[]): () => void {
  const tracker = new AckTracker<string>();
  const offsets = new Map<string, number>();
  let batchId = 0;
  return () => fillAndSettle(tracker, ++batchId, files, offsets);
}

function mapBench(files: string[]): () => void {
  const lowest = new Map<string, number>();
  const offsets = new Map<string, number>();
  return () => {
    for (let i = 0; i < files.length; i++) {
      const file = files[i];
      const offset = offsets.get(file) ?? 0;
      lowest.set(file, offset);
      offsets.set(file, offset + LINE_BYTES[i]);
    }
    lowest.clear();
  };
}

Deno.bench({
  name: "ack: Map.set per record, 2048 records of one file",
  group: "ack one file",
  baseline: true,
  fn: mapBench(ONE_FILE),
});
Deno.bench({
  name: "ack: add per record, 2048 records of one file",
  group: "ack one file",
  fn: trackerBench(ONE_FILE),
});

Deno.bench({
  name: "ack: Map.set per record, 2048 records of 64 interleaved files",
  group: "ack interleaved",
  baseline: true,
  fn: mapBench(INTERLEAVED),
});
Deno.bench({
  name: "ack: add per record, 2048 records of 64 interleaved files",
  group: "ack interleaved",
  fn: trackerBench(INTERLEAVED),
});
