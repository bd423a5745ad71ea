/**
 * Stitching P..P F pieces: one long record, and a realistic stream where 5% of lines are in P/F runs.
 *
 * @module
 */

import { Stitcher } from "../src/stitch/mod.ts";
import type { Stream } from "../src/record.ts";
import { seededRandom } from "./_seeded_random.ts";

const random = seededRandom(7);
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const HEADER_BYTES = 40;
const PIECE_BYTES = 16 * 1024;
const TEXT = "step 1200 loss 0.2531 rank 3 allreduce 12.5 ms 学習ステップ ✓ ";

/** Bytes of repeated text cut at an exact length, so pieces split multibyte characters too. */
function textBytes(length: number): Uint8Array {
  const unit = encoder.encode(TEXT);
  const out = new Uint8Array(length);
  for (let at = 0; at < length; at += unit.length) {
    out.set(unit.subarray(0, Math.min(unit.length, length - at)), at);
  }
  return out;
}

// The tailer's reusable read buffer: pieces are views into it, as in production.
const LONG_RECORD = textBytes(64 * PIECE_BYTES);
const piecesOf = (count: number): Uint8Array[] =>
  Array.from({ length: count }, (_, i) => LONG_RECORD.subarray(i * PIECE_BYTES, (i + 1) * PIECE_BYTES));
const PIECES_5 = piecesOf(5);
const PIECES_64 = piecesOf(64);

interface Line {
  stream: Stream;
  isPartial: boolean;
  body: Uint8Array;
}

/** Lengths of P/F runs (1-4 P pieces and an F piece) that add up to exactly `totalLines`. */
function runLengths(totalLines: number): number[] {
  const lengths: number[] = [];
  let remaining = totalLines;
  while (remaining > 0) {
    let length = remaining <= 5 ? remaining : 2 + Math.floor(random() * 4);
    if (remaining - length === 1) length -= 1;
    lengths.push(length);
    remaining -= length;
  }
  return lengths;
}

/** `count` lines of 50-400 B; 5% of them belong to P/F runs, placed at seeded random positions. */
function buildStream(count: number): Line[] {
  const body = (): Uint8Array => textBytes(10 + Math.floor(random() * 350));
  const stream = (): Stream => random() < 0.8 ? "stdout" : "stderr";
  const runs = runLengths(Math.round(count * 0.05));
  const singles = count - runs.reduce((sum, n) => sum + n, 0);
  const units: Line[][] = Array.from(
    { length: singles },
    () => [{ stream: stream(), isPartial: false, body: body() }],
  );
  for (const length of runs) {
    const s = stream();
    units.push(Array.from({ length }, (_, i) => ({ stream: s, isPartial: i < length - 1, body: body() })));
  }
  for (let i = units.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [units[i], units[j]] = [units[j], units[i]];
  }
  return units.flat();
}

const STREAM = buildStream(1000);
const inRuns = STREAM.filter((line, i) => line.isPartial || (i > 0 && STREAM[i - 1].isPartial)).length;
console.log(`stream: ${STREAM.length} lines, ${((inRuns / STREAM.length) * 100).toFixed(1)}% in P/F runs`);

const stitcher = new Stitcher({ maxLogSizeBytes: 1 << 20, partialFlushTimeoutMs: 5000 });

function stitchRecord(pieces: Uint8Array[]): number {
  let offset = 0;
  const last = pieces.length - 1;
  for (let i = 0; i < last; i++) {
    const startOffset = offset;
    offset += HEADER_BYTES + pieces[i].length + 1;
    stitcher.appendPartial("stdout", pieces[i], {
      startOffset,
      endOffset: offset,
      timeSec: 1,
      timeNanos: 0,
      nowMs: 0,
    });
  }
  offset += HEADER_BYTES + pieces[last].length + 1;
  return stitcher.complete("stdout", pieces[last], { endOffset: offset }).body.length;
}

/** The quadratic alternative: grow one buffer by copying all of it on every piece. */
function concatEveryPiece(pieces: Uint8Array[]): number {
  let joined = new Uint8Array(0);
  for (const piece of pieces) {
    const next = new Uint8Array(joined.length + piece.length);
    next.set(joined);
    next.set(piece, joined.length);
    joined = next;
  }
  return decoder.decode(joined).length;
}

/** What the tailer does per line: F lines with nothing pending bypass the stitcher. */
function stitchStream(): number {
  let offset = 0;
  let records = 0;
  for (const line of STREAM) {
    const startOffset = offset;
    offset += HEADER_BYTES + line.body.length + 1;
    if (line.isPartial) {
      stitcher.appendPartial(line.stream, line.body, {
        startOffset,
        endOffset: offset,
        timeSec: 1,
        timeNanos: 0,
        nowMs: 0,
      });
    } else if (stitcher.hasPending(line.stream)) {
      stitcher.complete(line.stream, line.body, { endOffset: offset });
      records++;
    }
  }
  return records;
}

Deno.bench("stitch: one 80 KiB record of 4 P pieces + F (16 KiB pieces)", () => {
  stitchRecord(PIECES_5);
});
Deno.bench("stitch: one 1 MiB record of 63 P pieces + F (Stitcher)", {
  group: "stitch 1 MiB",
  baseline: true,
}, () => {
  stitchRecord(PIECES_64);
});
Deno.bench(
  "stitch: one 1 MiB record of 63 P pieces + F (copy all per piece)",
  { group: "stitch 1 MiB" },
  () => {
    concatEveryPiece(PIECES_64);
  },
);
Deno.bench("stitch: 1000 lines of 50-400 B, 5% in P/F runs", () => {
  stitchStream();
});
