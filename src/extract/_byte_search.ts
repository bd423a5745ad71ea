/**
 * Substring search in UTF-8 bytes for the dataloader gate. `Uint8Array.prototype.indexOf` costs about
 * 0.4 ns per byte plus a call (~95 ns for a 225 B line). Copying the body into an aligned scratch
 * buffer (native memcpy) and reading it four bytes at a time (SWAR: a word holds the byte iff
 * `word ^ byte*0x01010101` has a zero byte) takes that to ~62 ns, without allocating a view per body
 * (bench/dataloader_bench.ts). This is most of what a non-candidate record pays for both extract
 * stages. Private to extract/.
 *
 * @module
 */

/** Bodies up to this size are copied into the scratch buffer; longer ones use `indexOf`. */
const SCRATCH_BYTES = 4096;

/** A byte-string searcher with its own scratch buffer (one per owner; not reentrant). */
export class ByteSearch {
  #scratch = new Uint8Array(SCRATCH_BYTES);
  #words = new Uint32Array(this.#scratch.buffer);

  /** Whether `needle` (non-empty) occurs in `haystack`. */
  includes(haystack: Uint8Array, needle: Uint8Array): boolean {
    const n = haystack.length;
    const isCopied = n <= SCRATCH_BYTES;
    if (isCopied) this.#scratch.set(haystack);
    const first = needle[0];
    const last = n - needle.length;
    let i = isCopied ? this.#indexOf(first, 0, n) : haystack.indexOf(first);
    while (i >= 0 && i <= last) {
      let j = 1;
      while (j < needle.length && haystack[i + j] === needle[j]) j++;
      if (j === needle.length) return true;
      i = isCopied ? this.#indexOf(first, i + 1, n) : haystack.indexOf(first, i + 1);
    }
    return false;
  }

  /** The first `byte` at or after `from` in the scratch copy of `n` bytes, or -1. */
  #indexOf(byte: number, from: number, n: number): number {
    const bytes = this.#scratch;
    let i = from;
    // Bytes up to the next word boundary one by one, then whole words, then the tail.
    for (; i < n && (i & 3) !== 0; i++) if (bytes[i] === byte) return i;
    const words = this.#words;
    const mask = Math.imul(byte, 0x01010101);
    const endWord = n >>> 2;
    for (let w = i >>> 2; w < endWord; w++) {
      const v = words[w] ^ mask;
      // Nonzero iff some byte of v is zero, i.e. some byte of the word equals `byte` (exact for existence).
      if (((v - 0x01010101) & ~v & 0x80808080) !== 0) {
        for (let j = w * 4; j < w * 4 + 4; j++) if (bytes[j] === byte) return j;
      }
    }
    for (i = Math.max(i, endWord * 4); i < n; i++) if (bytes[i] === byte) return i;
    return -1;
  }
}
