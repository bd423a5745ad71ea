import assert from "node:assert/strict";
import fc from "fast-check";
import { type StitchedRecord, Stitcher, type StitcherOptions } from "../../src/stitch/mod.ts";
import type { Stream } from "../../src/record.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytesOf = (text: string): Uint8Array => encoder.encode(text);
const asText = (bytes: Uint8Array): string => decoder.decode(bytes);

/** Bytes a CRI header such as `2024-05-01T12:34:56.123456789Z stdout P ` takes in the file. */
const HEADER_BYTES = 40;

const OPTIONS: StitcherOptions = { maxLogSizeBytes: 1 << 20, partialFlushTimeoutMs: 1000 };

/**
 * Feeds pieces the way the tailer does: each piece is a line of the file, at increasing offsets;
 * returns the records completed by F pieces.
 */
class FileFeeder {
  readonly stitcher: Stitcher;
  readonly maxLogSizeBytes: number;
  offset = 0;
  nowMs = 0;
  /** The time of the n-th piece is n seconds, so a record's time names its first piece. */
  pieceIndex = 0;

  constructor(options: StitcherOptions = OPTIONS) {
    this.stitcher = new Stitcher(options);
    this.maxLogSizeBytes = options.maxLogSizeBytes;
  }

  partial(stream: Stream, body: Uint8Array | string): void {
    const bytes = typeof body === "string" ? bytesOf(body) : body;
    const startOffset = this.offset;
    this.offset += HEADER_BYTES + bytes.length + 1;
    this.stitcher.appendPartial(stream, bytes, {
      startOffset,
      endOffset: this.offset,
      timeSec: this.pieceIndex++,
      timeNanos: 7,
      nowMs: this.nowMs,
    });
  }

  full(stream: Stream, body: Uint8Array | string): StitchedRecord {
    const bytes = typeof body === "string" ? bytesOf(body) : body;
    this.offset += HEADER_BYTES + bytes.length + 1;
    this.pieceIndex++;
    return this.stitcher.complete(stream, bytes, { endOffset: this.offset });
  }
}

/** Offset of the start of line `n` when every line before it had `bodyBytes[i]` body bytes. */
function lineStart(bodyBytes: number[], n: number): number {
  return bodyBytes.slice(0, n).reduce((sum, b) => sum + HEADER_BYTES + b + 1, 0);
}

Deno.test("stitcher keeps interleaved stdout and stderr pieces apart", () => {
  const f = new FileFeeder();
  f.partial("stdout", "out-1 ");
  f.partial("stderr", "err-1 ");
  f.partial("stdout", "out-2 ");
  assert.equal(f.stitcher.hasPending("stdout"), true);
  assert.equal(f.stitcher.hasPending("stderr"), true);
  const err = f.full("stderr", "err-2");
  const out = f.full("stdout", "out-3");
  const lines = [6, 6, 6, 5, 5];
  assert.deepEqual(err, {
    stream: "stderr",
    body: bytesOf("err-1 err-2"),
    timeSec: 1,
    timeNanos: 7,
    startOffset: lineStart(lines, 1),
    endOffset: lineStart(lines, 4),
    isTruncated: false,
    isUnfinished: false,
    pieceCount: 2,
  });
  assert.deepEqual(out, {
    stream: "stdout",
    body: bytesOf("out-1 out-2 out-3"),
    timeSec: 0,
    timeNanos: 7,
    startOffset: 0,
    endOffset: lineStart(lines, 5),
    isTruncated: false,
    isUnfinished: false,
    pieceCount: 3,
  });
  assert.equal(f.stitcher.hasPending("stdout"), false);
  assert.equal(f.stitcher.pendingBytes(), 0);
});

Deno.test("stitcher copies piece bytes so the caller may reuse its buffer", () => {
  const stitcher = new Stitcher(OPTIONS);
  const buffer = bytesOf("first|");
  stitcher.appendPartial("stdout", buffer.subarray(0, 6), {
    startOffset: 0,
    endOffset: 47,
    timeSec: 0,
    timeNanos: 0,
    nowMs: 0,
  });
  buffer.set(bytesOf("second"));
  const record = stitcher.complete("stdout", buffer.subarray(0, 6), { endOffset: 94 });
  assert.equal(asText(record.body), "first|second");
});

Deno.test("stitcher joins an empty F piece and empty P pieces", () => {
  const f = new FileFeeder();
  f.partial("stdout", "");
  f.partial("stdout", "a");
  f.partial("stdout", "");
  const record = f.full("stdout", "");
  assert.equal(asText(record.body), "a");
  assert.equal(record.pieceCount, 4);
});

const SPLIT_CHARS = [
  { bytes: 2, char: "é" },
  { bytes: 3, char: "€" },
  { bytes: 4, char: "😀" },
];

for (const { bytes, char } of SPLIT_CHARS) {
  const text = `a${char}b`;
  for (let cut = 1; cut < bytes; cut++) {
    Deno.test(`stitcher joins P pieces that split a ${bytes}-byte UTF-8 character after byte ${cut}`, () => {
      const all = bytesOf(text);
      const f = new FileFeeder();
      f.partial("stdout", all.subarray(0, 1 + cut));
      assert.equal(asText(f.full("stdout", all.subarray(1 + cut)).body), text);
    });
  }
  Deno.test(`stitcher joins a ${bytes}-byte UTF-8 character given one byte per P piece`, () => {
    const all = bytesOf(text);
    const f = new FileFeeder();
    for (let i = 0; i < all.length - 1; i++) f.partial("stderr", all.subarray(i, i + 1));
    const record = f.full("stderr", all.subarray(all.length - 1));
    assert.equal(asText(record.body), text);
    assert.equal(record.pieceCount, all.length);
  });
}

Deno.test("stitcher replaces invalid UTF-8 in joined pieces with U+FFFD", () => {
  const f = new FileFeeder();
  f.partial("stdout", Uint8Array.of(0x61, 0xe2, 0x82));
  assert.equal(asText(f.full("stdout", Uint8Array.of(0x62)).body), "a\uFFFDb");
});

Deno.test("stitcher truncates a record over maxLogSizeBytes and discards its later pieces", () => {
  const f = new FileFeeder({ maxLogSizeBytes: 10, partialFlushTimeoutMs: 1000 });
  f.partial("stdout", "aaaa");
  f.partial("stdout", "bbbb");
  f.partial("stdout", "cccc");
  assert.equal(f.stitcher.pendingBytes(), 10);
  f.partial("stdout", "dddd");
  assert.equal(f.stitcher.pendingBytes(), 10);
  const truncated = f.full("stdout", "eeee");
  assert.equal(asText(truncated.body), "aaaabbbbcc");
  assert.equal(truncated.isTruncated, true);
  assert.equal(truncated.isUnfinished, false);
  assert.equal(truncated.pieceCount, 5);
  assert.equal(truncated.endOffset, f.offset, "the cursor moves past the discarded pieces");
  assert.equal(f.stitcher.pendingBytes(), 0);

  f.partial("stdout", "next ");
  const next = f.full("stdout", "one");
  assert.equal(asText(next.body), "next one");
  assert.equal(next.isTruncated, false);
  assert.equal(next.startOffset, truncated.endOffset);
});

Deno.test("stitcher keeps a record of exactly maxLogSizeBytes whole", () => {
  const f = new FileFeeder({ maxLogSizeBytes: 8, partialFlushTimeoutMs: 1000 });
  f.partial("stdout", "1234");
  f.partial("stdout", "5678");
  const record = f.full("stdout", "");
  assert.equal(asText(record.body), "12345678");
  assert.equal(record.isTruncated, false);
});

Deno.test("stitcher cuts a truncated record on a UTF-8 character boundary at every cap", () => {
  const text = "ab é€😀 c😀€é";
  const all = bytesOf(text);
  for (let cap = 1; cap < all.length; cap++) {
    const f = new FileFeeder({ maxLogSizeBytes: cap, partialFlushTimeoutMs: 1000 });
    // Split in three at fixed points so cuts land in the first, middle and last piece.
    f.partial("stdout", all.subarray(0, 5));
    f.partial("stdout", all.subarray(5, 12));
    const record = f.full("stdout", all.subarray(12));
    const kept = bytesOf(asText(record.body)).length;
    assert.equal(record.isTruncated, true, `cap ${cap}`);
    assert.ok(text.startsWith(asText(record.body)), `cap ${cap}: ${JSON.stringify(asText(record.body))}`);
    assert.ok(!asText(record.body).includes("\uFFFD"), `cap ${cap}: ${JSON.stringify(asText(record.body))}`);
    assert.ok(kept <= cap && kept > cap - 4, `cap ${cap}: kept ${kept} bytes`);
  }
});

Deno.test("stitcher flushes a P piece without its F on flushAll", () => {
  const reasons = ["rotated_eof", "deleted_eof", "shutdown", "truncated_file"] as const;
  for (const reason of reasons) {
    const f = new FileFeeder();
    f.partial("stderr", "half a line");
    f.partial("stdout", "other");
    const records = f.stitcher.flushAll(reason);
    assert.deepEqual(records.map((r) => [r.stream, asText(r.body), r.isUnfinished, r.flushReason]), [
      ["stderr", "half a line", true, reason],
      ["stdout", "other", true, reason],
    ]);
    assert.equal(f.stitcher.hasPending("stdout") || f.stitcher.hasPending("stderr"), false);
    assert.equal(f.stitcher.pendingStartOffset(), Infinity);
    assert.deepEqual(f.stitcher.flushAll(reason), []);
  }
});

Deno.test("stitcher flushExpired flushes only records idle longer than the timeout", () => {
  const f = new FileFeeder({ maxLogSizeBytes: 1024, partialFlushTimeoutMs: 1000 });
  f.nowMs = 10_000;
  f.partial("stdout", "old ");
  f.nowMs = 10_600;
  f.partial("stderr", "young");
  f.nowMs = 10_900;
  f.partial("stdout", "refreshed");
  assert.equal(f.stitcher.nextExpiryMs(), 11_600);

  const rows = [
    { nowMs: 11_000, want: [] },
    { nowMs: 11_600, want: [] }, // exactly the timeout: not more than it
    { nowMs: 11_601, want: ["stderr:young"] },
    { nowMs: 11_900, want: [] },
    { nowMs: 11_901, want: ["stdout:old refreshed"] },
  ];
  for (const { nowMs, want } of rows) {
    const flushed = f.stitcher.flushExpired(nowMs);
    assert.deepEqual(flushed.map((r) => `${r.stream}:${asText(r.body)}`), want, `at ${nowMs} ms`);
    for (const r of flushed) assert.deepEqual([r.isUnfinished, r.flushReason], [true, "timeout"]);
  }
  assert.equal(f.stitcher.nextExpiryMs(), Infinity);
});

Deno.test("stitcher pendingStartOffset is the start of the oldest pending record", () => {
  const f = new FileFeeder();
  assert.equal(f.stitcher.pendingStartOffset(), Infinity);
  f.partial("stdout", "a");
  const stdoutStart = 0;
  assert.equal(f.stitcher.pendingStartOffset(), stdoutStart);
  const stderrStart = f.offset;
  f.partial("stderr", "b");
  f.partial("stdout", "c");
  assert.equal(f.stitcher.pendingStartOffset(), stdoutStart, "later pieces do not move it");
  f.full("stdout", "d");
  assert.equal(f.stitcher.pendingStartOffset(), stderrStart);
  f.partial("stdout", "e");
  assert.equal(f.stitcher.pendingStartOffset(), stderrStart);
  f.full("stderr", "f");
  assert.ok(f.stitcher.pendingStartOffset() > stderrStart);
  f.full("stdout", "g");
  assert.equal(f.stitcher.pendingStartOffset(), Infinity);
});

Deno.test("stitcher complete throws when the stream has nothing pending", () => {
  const stitcher = new Stitcher(OPTIONS);
  assert.throws(() => stitcher.complete("stdout", bytesOf("x"), { endOffset: 1 }), {
    message: "Cannot complete a record: no pending record on stdout",
  });
});

Deno.test("stitcher rejects out-of-range options", () => {
  const rows: { options: StitcherOptions; message: RegExp }[] = [
    {
      options: { maxLogSizeBytes: 0, partialFlushTimeoutMs: 1 },
      message: /maxLogSizeBytes must be a positive integer, got 0$/,
    },
    { options: { maxLogSizeBytes: 1.5, partialFlushTimeoutMs: 1 }, message: /maxLogSizeBytes .* got 1.5$/ },
    {
      options: { maxLogSizeBytes: 1, partialFlushTimeoutMs: -1 },
      message: /partialFlushTimeoutMs must be >= 0, got -1$/,
    },
    {
      options: { maxLogSizeBytes: 1, partialFlushTimeoutMs: NaN },
      message: /partialFlushTimeoutMs .* got NaN$/,
    },
  ];
  for (const { options, message } of rows) {
    assert.throws(() => new Stitcher(options), { name: "RangeError", message });
  }
});

/** A byte string and the cut points that split it into pieces (the last piece is the F piece). */
const splitBytesArb = fc.uint8Array({ maxLength: 200 }).chain((bytes) =>
  fc.uniqueArray(fc.integer({ min: 0, max: bytes.length }), { maxLength: 8 }).map((cuts) => ({
    bytes,
    cuts: cuts.sort((a, b) => a - b),
  }))
);

function stitchSplit(f: FileFeeder, stream: Stream, bytes: Uint8Array, cuts: number[]): StitchedRecord {
  let from = 0;
  let kept = 0;
  for (const cut of cuts) {
    f.partial(stream, bytes.subarray(from, cut));
    kept += cut - from;
    assert.equal(f.stitcher.pendingBytes(), Math.min(kept, f.maxLogSizeBytes));
    from = cut;
  }
  return cuts.length === 0 ? stitchWhole(f, stream, bytes) : f.full(stream, bytes.subarray(from));
}

/** A record with no P piece never reaches the stitcher; give it one empty P piece to exercise F alone. */
function stitchWhole(f: FileFeeder, stream: Stream, bytes: Uint8Array): StitchedRecord {
  f.partial(stream, new Uint8Array(0));
  return f.full(stream, bytes);
}

Deno.test("stitcher rebuilds any byte string from any split into P pieces and an F piece", () => {
  let multiPieceRuns = 0;
  fc.assert(
    fc.property(splitBytesArb, ({ bytes, cuts }) => {
      if (cuts.length >= 2) multiPieceRuns++;
      const f = new FileFeeder();
      const record = stitchSplit(f, "stdout", bytes, cuts);
      assert.equal(asText(record.body), decoder.decode(bytes));
      assert.equal(record.isTruncated, false);
      assert.equal(record.pieceCount, Math.max(cuts.length, 1) + 1);
      assert.deepEqual([record.startOffset, record.endOffset], [0, f.offset]);
      assert.equal(f.stitcher.pendingBytes(), 0);
    }),
    { numRuns: 1000 },
  );
  assert.ok(multiPieceRuns >= 300, `Generator produced only ${multiPieceRuns} splits into 3+ pieces`);
});

Deno.test("stitcher keeps a character-aligned prefix of any text over the cap", () => {
  let truncatedRuns = 0;
  fc.assert(
    fc.property(
      fc.string({ unit: "grapheme", maxLength: 60 }),
      fc.integer({ min: 1, max: 120 }),
      fc.uniqueArray(fc.nat({ max: 300 }), { maxLength: 6 }),
      (text, cap, rawCuts) => {
        const bytes = bytesOf(text);
        const cuts = rawCuts.filter((c) => c <= bytes.length).sort((a, b) => a - b);
        const f = new FileFeeder({ maxLogSizeBytes: cap, partialFlushTimeoutMs: 1000 });
        const record = stitchSplit(f, "stderr", bytes, cuts);
        if (bytes.length <= cap) {
          assert.deepEqual([asText(record.body), record.isTruncated], [text, false]);
          return;
        }
        truncatedRuns++;
        const kept = bytesOf(asText(record.body)).length;
        assert.equal(record.isTruncated, true);
        assert.ok(text.startsWith(asText(record.body)), JSON.stringify({ text, body: asText(record.body) }));
        assert.ok(kept <= cap && kept > cap - 4, `kept ${kept} bytes under a cap of ${cap}`);
        assert.equal(record.endOffset, f.offset);
      },
    ),
    { numRuns: 1000 },
  );
  // About a fifth of the runs exceed the cap (191-260 of 1000 seen); 100 leaves room for any seed.
  assert.ok(truncatedRuns >= 100, `Generator produced only ${truncatedRuns} truncated records`);
});
