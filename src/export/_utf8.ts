/**
 * UTF-8 validation of bytes already copied into the encoder's (4-byte aligned) output buffer: ASCII
 * checked a 32-bit word at a time, the rest by the well-formedness table of Unicode 15 section 3.9
 * (Table 3-7), the same definition TextDecoder applies.
 *
 * @module
 */

/** High bit of each byte of a word: any set means a non-ASCII byte. */
const HIGH_BITS = 0x80808080 | 0;

/**
 * True when `buf[start, end)` is well-formed UTF-8. `words` views the same buffer as `Int32Array` from
 * byte 0, so ASCII runs are checked four (and sixteen) bytes per step.
 */
export function isWellFormedUtf8(buf: Uint8Array, words: Int32Array, start: number, end: number): boolean {
  let i = start;
  while (i < end && (i & 3) !== 0) {
    if (buf[i] >= 0x80) return isWellFormedFrom(buf, i, end);
    i++;
  }
  let w = i >> 2;
  const wordEnd = end >> 2;
  while (w + 4 <= wordEnd && ((words[w] | words[w + 1] | words[w + 2] | words[w + 3]) & HIGH_BITS) === 0) {
    w += 4;
  }
  while (w < wordEnd && (words[w] & HIGH_BITS) === 0) w++;
  i = w << 2;
  if (i < start) i = start;
  return isWellFormedFrom(buf, i, end);
}

/** Byte-wise check of `buf[i, end)` (Table 3-7: shortest forms only, no surrogates, up to U+10FFFF). */
function isWellFormedFrom(buf: Uint8Array, i: number, end: number): boolean {
  while (i < end) {
    if (buf[i] < 0x80) {
      i++;
      continue;
    }
    const n = utf8SequenceLength(buf, i, end);
    if (n === 0) return false;
    i += n;
  }
  return true;
}

/**
 * The length of the well-formed multi-byte sequence that starts at `buf[i]` (a byte of 0x80 or more) and
 * ends before `end`, or 0 when it is ill-formed (Table 3-7 of Unicode 15 section 3.9).
 */
export function utf8SequenceLength(buf: Uint8Array, i: number, end: number): number {
  const b = buf[i];
  if (b >= 0xc2 && b <= 0xdf) return i + 1 < end && (buf[i + 1] & 0xc0) === 0x80 ? 2 : 0;
  if (b >= 0xe0 && b <= 0xef) {
    if (i + 2 >= end) return 0;
    const b1 = buf[i + 1];
    const low = b === 0xe0 ? 0xa0 : 0x80;
    const high = b === 0xed ? 0x9f : 0xbf;
    return b1 < low || b1 > high || (buf[i + 2] & 0xc0) !== 0x80 ? 0 : 3;
  }
  if (b >= 0xf0 && b <= 0xf4) {
    if (i + 3 >= end) return 0;
    const b1 = buf[i + 1];
    const low = b === 0xf0 ? 0x90 : 0x80;
    const high = b === 0xf4 ? 0x8f : 0xbf;
    if (b1 < low || b1 > high || (buf[i + 2] & 0xc0) !== 0x80 || (buf[i + 3] & 0xc0) !== 0x80) return 0;
    return 4;
  }
  return 0;
}
