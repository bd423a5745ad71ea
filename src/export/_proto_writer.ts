/**
 * A protobuf writer over one growing, reused buffer: varints, fixed64, doubles, strings written once
 * (ASCII loop or `encodeInto`, no length pre-pass) and length slots reserved ahead and fixed up after.
 *
 * @module
 */

const INITIAL_BYTES = 64 * 1024;
/** A buffer grown past this is dropped after use, so one huge batch does not pin its memory. */
const KEEP_MAX_BYTES = 8 * 1024 * 1024;
/** Strings shorter than this take the charCodeAt loop; longer ones pay `encodeInto`'s fixed ~90 ns. */
const SHORT_STRING_CHARS = 48;
const TWO_POW_32 = 4294967296;

/** Bytes of the varint encoding of `v` (a non-negative integer below 2^32). */
export function varintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  return 5;
}

/** Writes the varint of `v` (below 2^32) at `p` without a capacity check; returns the offset after it. */
export function putVarint(buf: Uint8Array, p: number, v: number): number {
  while (v > 0x7f) {
    buf[p++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[p++] = v;
  return p;
}

const textEncoder = new TextEncoder();

/**
 * A standalone length-delimited field: `tag`, the UTF-8 length of `value`, its bytes, then `extraBytes`
 * zero bytes for the caller to fill (pre-encoded keys and fixed fields).
 */
export function encodeStringField(tag: number, value: string, extraBytes = 0): Uint8Array {
  const utf8 = textEncoder.encode(value);
  const out = new Uint8Array(1 + varintSize(utf8.length) + utf8.length + extraBytes);
  out[0] = tag;
  out.set(utf8, putVarint(out, 1, utf8.length));
  return out;
}

/** Writes one protobuf message at a time into a buffer it keeps between messages. */
export class ProtoWriter {
  /** The buffer; its byteOffset is 0, so `words` views it 4-byte aligned. */
  buf: Uint8Array<ArrayBuffer>;
  /** The same bytes as 32-bit words (word-at-a-time ASCII checks). */
  words: Int32Array<ArrayBuffer>;
  #view: DataView<ArrayBuffer>;
  pos = 0;

  constructor() {
    this.buf = new Uint8Array(INITIAL_BYTES);
    this.words = new Int32Array(this.buf.buffer);
    this.#view = new DataView(this.buf.buffer);
  }

  /** Starts a new message at offset 0, shrinking a buffer a huge message left behind. */
  reset(): void {
    this.pos = 0;
    if (this.buf.length > KEEP_MAX_BYTES) this.#replace(new Uint8Array(INITIAL_BYTES));
  }

  /**
   * Moves to a fresh buffer of `bytes` at offset 0, leaving the old one to whatever views it (a writer
   * used as an arena: each message stays a view of the buffer it was written in).
   */
  startNewBuffer(bytes: number): void {
    // A whole number of words, for `words`.
    this.#replace(new Uint8Array((bytes + 7) & ~7));
    this.pos = 0;
  }

  /** Moves to `buf` (a buffer from an earlier {@linkcode startNewBuffer}, reused), at offset 0. */
  useBuffer(buf: Uint8Array<ArrayBuffer>): void {
    this.#replace(buf);
    this.pos = 0;
  }

  /** Makes room for `n` more bytes after `pos`. */
  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.#grow(this.pos + n);
  }

  #grow(needed: number): void {
    let size = this.buf.length * 2;
    while (size < needed) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.#replace(next);
  }

  #replace(next: Uint8Array<ArrayBuffer>): void {
    this.buf = next;
    this.words = new Int32Array(next.buffer);
    this.#view = new DataView(next.buffer);
  }

  /** One byte (a tag below field 16 or a small constant); the caller ensured room. */
  byte(b: number): void {
    this.buf[this.pos++] = b;
  }

  /** Copies `bytes` (pre-encoded fields); ensures room. */
  raw(bytes: Uint8Array): void {
    const n = bytes.length;
    this.ensure(n);
    const buf = this.buf;
    let p = this.pos;
    if (n <= 16) {
      for (let i = 0; i < n; i++) buf[p++] = bytes[i];
    } else {
      buf.set(bytes, p);
      p += n;
    }
    this.pos = p;
  }

  /** A varint of an integer in [0, 2^32); ensures room. */
  uint32(v: number): void {
    this.ensure(5);
    this.pos = putVarint(this.buf, this.pos, v);
  }

  /**
   * A varint of any number the way otlp-transformer writes `int64`/`uint32` fields: values in [0, 2^32)
   * directly, others as 64-bit two's complement (negatives take 10 bytes); non-numbers write 0.
   */
  int64(value: number): void {
    if (value >= 0 && value <= 0xffffffff) {
      this.uint32(value >>> 0);
      return;
    }
    let low: number;
    let high: number;
    if (value >= 0) {
      low = value >>> 0;
      high = (value / TWO_POW_32) >>> 0;
    } else {
      const abs = Math.abs(value);
      low = ~(abs >>> 0) >>> 0;
      high = ~((abs / TWO_POW_32) >>> 0) >>> 0;
      low = (low + 1) >>> 0;
      if (low === 0) high = (high + 1) >>> 0;
    }
    this.#varint64(low, high);
  }

  /** A varint of a bigint as 64-bit two's complement (an exact int64 from a JSON body, issue 10). */
  int64Big(value: bigint): void {
    const u = BigInt.asUintN(64, value);
    const low = Number(u & 0xffffffffn);
    const high = Number(u >> 32n);
    this.#varint64(low, high);
  }

  /** A varint of the 64-bit value `high * 2^32 + low` (both unsigned 32-bit); ensures room. */
  #varint64(low: number, high: number): void {
    this.ensure(10);
    const buf = this.buf;
    let p = this.pos;
    while (high > 0 || low > 0x7f) {
      buf[p++] = (low & 0x7f) | 0x80;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    buf[p++] = low & 0x7f;
    this.pos = p;
  }

  /** A fixed32 (little-endian); ensures room. */
  fixed32(v: number): void {
    this.ensure(4);
    this.#view.setUint32(this.pos, v >>> 0, true);
    this.pos += 4;
  }

  /** A fixed64 from two 32-bit halves (little-endian); ensures room. */
  fixed64(low: number, high: number): void {
    this.ensure(8);
    this.fixed64Unchecked(low, high);
  }

  /** {@linkcode fixed64} where the caller ensured room. */
  fixed64Unchecked(low: number, high: number): void {
    const buf = this.buf;
    const p = this.pos;
    buf[p] = low;
    buf[p + 1] = low >>> 8;
    buf[p + 2] = low >>> 16;
    buf[p + 3] = low >>> 24;
    buf[p + 4] = high;
    buf[p + 5] = high >>> 8;
    buf[p + 6] = high >>> 16;
    buf[p + 7] = high >>> 24;
    this.pos = p + 8;
  }

  /** A double (little-endian IEEE 754); ensures room. */
  double(v: number): void {
    this.ensure(8);
    this.#view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  /** A length-prefixed byte string; ensures room. */
  bytes(bytes: Uint8Array): void {
    this.uint32(bytes.length);
    this.raw(bytes);
  }

  /**
   * A length-prefixed UTF-8 string, written in one pass: short strings through an ASCII loop that falls
   * back on the first non-ASCII unit, others with `encodeInto` after a length slot sized for the ASCII
   * case and moved when the UTF-8 length needs another size. Lone surrogates become U+FFFD, as in
   * TextEncoder.
   */
  string(s: string): void {
    const n = s.length;
    if (n < SHORT_STRING_CHARS) {
      this.ensure(1 + n);
      const buf = this.buf;
      const start = this.pos;
      let p = start + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[p++] = c;
      }
      if (i === n) {
        buf[start] = n;
        this.pos = p;
        return;
      }
    }
    this.#encodeString(s);
  }

  #encodeString(s: string): void {
    const n = s.length;
    const reserved = varintSize(n);
    // UTF-16 units -> at most 3 UTF-8 bytes each; +2 leaves room to grow the length slot.
    this.ensure(reserved + 3 * n + 2);
    const slot = this.pos;
    const start = slot + reserved;
    const written = n === 0 ? 0 : textEncoder.encodeInto(s, this.buf.subarray(start)).written;
    this.pos = start + written;
    this.finishLength(slot, reserved);
  }

  /**
   * Reserves a length slot of `size` bytes (`varintSize` of the predicted length); returns its offset
   * for {@linkcode finishLength}. Ensures room for the slot.
   */
  reserveLength(size: number): number {
    this.ensure(size);
    const slot = this.pos;
    this.pos += size;
    return slot;
  }

  /**
   * Writes the length of everything after a slot of `reserved` bytes at `slot`, moving the content when
   * the length needs another size (canonical, shortest varints only).
   */
  finishLength(slot: number, reserved: number): void {
    const length = this.pos - slot - reserved;
    const size = varintSize(length);
    if (size !== reserved) {
      if (size > reserved) this.ensure(size - reserved);
      this.buf.copyWithin(slot + size, slot + reserved, this.pos);
      this.pos += size - reserved;
    }
    putVarint(this.buf, slot, length);
  }
}
