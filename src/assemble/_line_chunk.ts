/**
 * The assembler's own copy of one read's whole lines, and a newline search over it four bytes at a
 * time. `Uint8Array.prototype.indexOf` costs about 100 ns per 170-byte CRI line here (a generic element
 * loop); testing a 32-bit word for a `"\n"` byte with the has-zero-byte trick halves that, and the
 * search runs once per line on the hot path (bench/RESULTS.md).
 *
 * @module
 */

const NEWLINE = 10;
const NEWLINES = 0x0a0a0a0a;
const ONES = 0x01010101;
const HIGHS = 0x80808080;

/** A copy of whole lines, padded to a multiple of four bytes, with a word view for the search. */
export interface LineChunk {
  /** The lines, then up to three zero bytes of padding (never a newline). */
  readonly bytes: Uint8Array;
  /** The same memory as 32-bit words (the copy starts at offset 0, so it is aligned). */
  readonly words: Uint32Array;
  /** Bytes of lines (the padding excluded). */
  readonly length: number;
}

/** Copies `buf[start, end)` into a fresh, padded chunk. */
export function copyLines(buf: Uint8Array, start: number, end: number): LineChunk {
  const length = end - start;
  const bytes = new Uint8Array((length + 3) & ~3);
  bytes.set(buf.subarray(start, end));
  return { bytes, words: new Uint32Array(bytes.buffer), length };
}

/** Index of the first `"\n"` at or after `from` in the chunk's lines, or -1. */
export function indexOfNewline(chunk: LineChunk, from: number): number {
  const { bytes, words, length } = chunk;
  let i = from;
  // Byte by byte up to a word boundary.
  for (; (i & 3) !== 0; i++) {
    if (i >= length) return -1;
    if (bytes[i] === NEWLINE) return i;
  }
  const lastWord = (length + 3) >>> 2;
  for (let w = i >>> 2; w < lastWord; w++) {
    // A byte of x is zero exactly where the word holds a newline; the expression is nonzero iff one is.
    const x = words[w] ^ NEWLINES;
    if (((x - ONES) & ~x & HIGHS) !== 0) {
      // The padding is zeros, so the newline found is inside the lines.
      let j = w << 2;
      while (bytes[j] !== NEWLINE) j++;
      return j;
    }
  }
  return -1;
}
