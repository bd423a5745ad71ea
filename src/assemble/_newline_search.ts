/**
 * A newline search four bytes at a time. `Uint8Array.prototype.indexOf` costs about 100 ns per 170-byte
 * CRI line here (a generic element loop); testing a 32-bit word for a `"\n"` byte with the has-zero-byte
 * trick halves that, and the search runs once per line on the hot path (bench/RESULTS.md).
 *
 * @module
 */

const NEWLINE = 10;
const NEWLINES = 0x0a0a0a0a;
const ONES = 0x01010101;
const HIGHS = 0x80808080;

/** The bytes of `bytes` as 32-bit words (same memory), or null when its offset is not 4-byte aligned. */
export function wordsOf(bytes: Uint8Array): Uint32Array | null {
  if ((bytes.byteOffset & 3) !== 0) return null;
  return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2);
}

/** Index of the first `"\n"` in `bytes[from, end)`, or -1; `words` is {@linkcode wordsOf}(bytes). */
export function indexOfNewline(bytes: Uint8Array, words: Uint32Array, from: number, end: number): number {
  let i = from;
  // Byte by byte up to a word boundary.
  for (; (i & 3) !== 0 && i < end; i++) {
    if (bytes[i] === NEWLINE) return i;
  }
  // Whole words inside [i, end).
  const wordEnd = end >>> 2;
  for (let w = i >>> 2; w < wordEnd; w++) {
    // A byte of x is zero exactly where the word holds a newline; the expression is nonzero iff one is.
    const x = words[w] ^ NEWLINES;
    if (((x - ONES) & ~x & HIGHS) !== 0) {
      let j = w << 2;
      while (bytes[j] !== NEWLINE) j++;
      return j;
    }
  }
  // The bytes after the last whole word.
  for (i = Math.max(i, wordEnd << 2); i < end; i++) {
    if (bytes[i] === NEWLINE) return i;
  }
  return -1;
}
