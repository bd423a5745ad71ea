import assert from "node:assert/strict";
import fc from "fast-check";
import { type LineSink, LineSplitter } from "../../src/tailer/line_splitter.ts";
import { assertProperty } from "../_helpers/property.ts";

interface Line {
  bytes: number[];
  lineBytes: number;
  start: number;
  end: number;
}

/** Feeds `file` through a splitter in reads of `cuts` sizes into a buffer of `bufferBytes`, like the reader. */
function split(file: Uint8Array, bufferBytes: number, maxLineHeadBytes: number, reads: number[]): Line[] {
  const out: Line[] = [];
  const sink: LineSink = {
    lines(buf, start, end, baseOffset) {
      let b = start;
      while (b < end) {
        const nb = buf.indexOf(10, b);
        out.push({
          bytes: [...buf.subarray(b, nb)],
          lineBytes: nb - b,
          start: baseOffset + b - start,
          end: baseOffset + nb + 1 - start,
        });
        b = nb + 1;
      }
    },
    longLine(head, lineBytes, start, end) {
      out.push({ bytes: [...head], lineBytes, start, end });
    },
  };
  const splitter = new LineSplitter({ maxLineHeadBytes, offset: 0 });
  const buf = new Uint8Array(bufferBytes);
  let at = 0;
  let i = 0;
  while (at < file.length) {
    const carry = splitter.prefill(buf);
    const room = buf.length - carry;
    const n = Math.min(room, Math.max(1, reads[i++ % reads.length] ?? room), file.length - at);
    buf.set(file.subarray(at, at + n), carry);
    at += n;
    splitter.push(buf, carry + n, sink);
  }
  splitter.finish(sink);
  return out;
}

/** What any chunking must give: every line with its offsets and length. */
function expected(file: Uint8Array): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  let b = 0;
  while (b < file.length) {
    let nb = file.indexOf(10, b);
    const hasNewline = nb >= 0;
    if (!hasNewline) nb = file.length;
    out.push([b, hasNewline ? nb + 1 : nb, nb - b]);
    b = nb + 1;
  }
  return out;
}

Deno.test("line splitter gives the same lines and offsets for any chunking of a file", () => {
  assertProperty(
    fc.property(
      fc.array(fc.oneof(fc.constant(10), fc.integer({ min: 0, max: 255 })), { maxLength: 400 }),
      fc.integer({ min: 8, max: 64 }),
      fc.integer({ min: 1, max: 100 }),
      fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 }),
      (bytes, bufferBytes, maxLineHeadBytes, reads) => {
        const file = Uint8Array.from(bytes);
        const got = split(file, bufferBytes, maxLineHeadBytes, reads);
        const want = expected(file);
        assert.deepEqual(got.map((l) => [l.start, l.end, l.lineBytes]), want);
        for (const l of got) {
          assert.deepEqual(
            l.bytes,
            [...file.subarray(l.start, l.start + l.bytes.length)],
            "a prefix of the line",
          );
          const isWhole = l.bytes.length === l.lineBytes;
          assert.ok(isWhole || l.bytes.length === maxLineHeadBytes, "whole, or cut at the head bound");
        }
      },
    ),
    1000,
  );
});

Deno.test("line splitter keeps one buffer plus the head bound of a long line in memory", () => {
  const line = new Uint8Array(10_000).fill(120);
  const file = new Uint8Array(line.length + 1);
  file.set(line);
  file[line.length] = 10;
  const got = split(file, 64, 100, [64]);
  assert.equal(got.length, 1);
  assert.deepEqual([got[0].lineBytes, got[0].bytes.length, got[0].start, got[0].end], [
    10_000,
    100,
    0,
    10_001,
  ]);
});
