/**
 * Substring search in UTF-8 bytes for the dataloader gate. `Uint8Array.prototype.indexOf` costs about
 * 0.4 ns per byte plus a call; reading eight bytes per step (SWAR: a word holds the byte iff
 * `v ^ byte*0x01010101` has a zero byte) is about 10% faster on 50-400 B lines (~85 against ~95 ns for
 * 225 B, bench/dataloader_bench.ts), most of what is left being the word view itself. Private to
 * extract/.
 *
 * @module
 */

// Below this many bytes the word view costs more than it saves.
const MIN_SWAR_BYTES = 32;

/** The index of the first `byte` at or after `from`, or -1. */
export function indexOfByte(haystack: Uint8Array, byte: number, from: number): number {
  const start = haystack.byteOffset + from;
  const length = haystack.length - from;
  if (length < MIN_SWAR_BYTES || (start & 3) !== 0) return haystack.indexOf(byte, from);
  const words = (length >>> 3) << 1; // an even count: two words per step
  const view = new Uint32Array(haystack.buffer, start, words);
  const mask = Math.imul(byte, 0x01010101);
  for (let i = 0; i < words; i += 2) {
    const a = view[i] ^ mask;
    const b = view[i + 1] ^ mask;
    // Nonzero iff some byte of a or b is zero, i.e. some byte equals `byte` (exact for existence).
    if ((((a - 0x01010101) & ~a) | ((b - 0x01010101) & ~b)) & 0x80808080) {
      const at = from + i * 4;
      for (let j = at; j < at + 8; j++) if (haystack[j] === byte) return j;
    }
  }
  const tail = from + words * 4;
  return tail < haystack.length ? haystack.indexOf(byte, tail) : -1;
}

/** Whether `needle` (non-empty) occurs in `haystack`. */
export function includesBytes(haystack: Uint8Array, needle: Uint8Array): boolean {
  const first = needle[0];
  const last = haystack.length - needle.length;
  let i = indexOfByte(haystack, first, 0);
  while (i >= 0 && i <= last) {
    let j = 1;
    while (j < needle.length && haystack[i + j] === needle[j]) j++;
    if (j === needle.length) return true;
    i = indexOfByte(haystack, first, i + 1);
  }
  return false;
}
