/**
 * The JSON stage's fast path: a JSON object body goes from its UTF-8 bytes straight to the protobuf of
 * an OTLP kvlist AnyValue, without a JS string for the text or an object per container. A typical
 * structured log line (a flat object of short strings and numbers) costs one pass over its bytes.
 *
 * The `JSON.parse` path in json_body.ts defines the result; this path must give the same bytes and the
 * same severity and time, and a property test holds the two equal. Whatever it does not handle the
 * same way cheaply, it declines (returns null) and the caller takes the `JSON.parse` path:
 * - anything that is not one well-formed object with only JSON whitespace around it (the other path
 *   tells malformed from trailing text);
 * - invalid UTF-8, a U+FFFD in the text (the other path skips such bodies as `invalid_utf8`), and
 *   lone surrogate escapes (`\ud800`);
 * - a key holding an escape, a key made of digits only (V8 orders integer-like keys first), and a key
 *   written twice in one object (`JSON.parse` keeps the last value at the first position);
 * - a body over `maxKeys` entries and elements (counting the well-known keys), or a container deeper
 *   than `maxDepth` (the other path cuts and counts them), or an object of more than 64 keys (duplicate
 *   keys are found by a scan, which must stay short);
 * - a well-known key (level, time) whose value is text with an escape or non-ASCII, an integral
 *   number written with a fraction or exponent, or an integer of 16 digits or more: there the other
 *   path's value depends on the exact-number reviver.
 *
 * Numbers follow record.ts's rules with the source text at hand: an integer token is `int_value`
 * (exact: beyond 2^53 through BigInt, beyond int64 its text as a string), a token with a fraction or
 * exponent is `double_value`.
 *
 * @module
 */

import { EncodedAnyValue, ProtoWriter, putVarint, utf8SequenceLength, varintSize } from "../export/mod.ts";
import type { HrTime, ReadTurns } from "../record.ts";
import { type Severity, severityOf, timeOf } from "./_well_known.ts";

/**
 * A transcoded body: the kvlist AnyValue without the well-known keys that set a record field. The
 * transcoder reuses this object: read it before the next call.
 */
export interface TranscodedJson {
  value: EncodedAnyValue;
  severity: Severity | null;
  time: HrTime | null;
  /** A level / time key was present but named no severity / time (it stays in the kvlist). */
  keptLevel: boolean;
  keptTime: boolean;
}

/** level, severity, lvl (in the order they are looked for), then time, ts, timestamp. */
const WELL_KNOWN = ["level", "severity", "lvl", "time", "ts", "timestamp"].map((k) =>
  new TextEncoder().encode(k)
);
const FIRST_TIME_KEY = 3;
if (new Set(WELL_KNOWN.map((name) => name.length)).size !== WELL_KNOWN.length) {
  throw new Error("Well-known JSON keys must differ in length (wellKnownIndex picks by length)");
}
/** The WELL_KNOWN index of the one name of each length (2..9), or -1. */
const WELL_KNOWN_BY_LENGTH: readonly number[] = Array.from(
  { length: 10 },
  (_, n) => WELL_KNOWN.findIndex((name) => name.length === n),
);
/** Stands for a container value of a well-known key: it names neither a severity nor a time. */
const CONTAINER = Object.freeze({});
const MIN_INT64 = -(2n ** 63n);
const MAX_INT64 = 2n ** 63n - 1n;
/** Objects with more keys than this are declined (the duplicate check is a scan of the keys so far). */
const MAX_KEYS_PER_OBJECT = 64;
/** Level texts whose severity is remembered. */
const SEVERITY_CACHE_SIZE = 8;
/** Integer tokens of at most this many digits are exact in a double and are read digit by digit. */
const EXACT_DIGITS = 15;
/** Powers of ten a double holds exactly (10^0 .. 10^22). */
const EXACT_POWERS_OF_TEN = Array.from({ length: 23 }, (_, k) => 10 ** k);
/**
 * The output buffer bodies are written in, one after another; each body is a view of it, so a body
 * costs no allocation of its own. A new buffer starts when the next body might not fit; the old one
 * lives as long as a body views it (the encoder copies bodies as it batches them; the eviction rings
 * copy the ones they keep). With the read loop's turns ({@linkcode ReadTurns}) the buffers are reused
 * from the next turn on: a 2M-line ingest writes some 2,300 of them, and left to the garbage collector
 * they piled up as dead external memory between full collections and fragmented the malloc heap.
 */
const OUTPUT_CHUNK_BYTES = 64 * 1024;
/** Output buffers kept for reuse at most (what one turn of JSON-heavy reads writes, about 2 MiB). */
const MAX_FREE_CHUNKS = 32;

const EMPTY_VALUE = new EncodedAnyValue(Uint8Array.of(0x32, 0));

/** Transcodes JSON object bodies; one instance per stage, reused for every body. */
export class JsonTranscoder {
  #w = new ProtoWriter();
  #turns: ReadTurns | null;
  /** The turn the output buffers in `#used` were written in. */
  #turn = -1;
  /** Output buffers written in this turn (the standard size only), and the ones free for reuse. */
  #used: Uint8Array<ArrayBuffer>[] = [];
  #free: Uint8Array<ArrayBuffer>[] = [];
  #src: Uint8Array = new Uint8Array(0);
  #keysLeft = 0;
  #maxDepth = 0;
  /** Key byte ranges of the objects being read, for duplicate detection (a scope per open object). */
  #keyStart = new Int32Array(64);
  #keyEnd = new Int32Array(64);
  #keyHashes = new Int32Array(64);
  #keyCount = 0;
  /** Set by #scanKey: a hash of the key's bytes (duplicates are compared byte by byte after it). */
  #keyHash = 0;
  /** The well-known key (WELL_KNOWN index) that decided the severity / the time so far, or -1. */
  #levelKey = -1;
  #timeKey = -1;
  #severities: { bytes: Uint8Array; severity: Severity | null }[] = [];
  #severityNext = 0;
  #result: TranscodedJson = {
    value: EMPTY_VALUE,
    severity: null,
    time: null,
    keptLevel: false,
    keptTime: false,
  };
  /** Set by #scanString: the string's UTF-8 length once unescaped, and whether it had escapes. */
  #strLength = 0;
  #strEscaped = false;
  /** Set by #number: the token's JS value and whether every reading of the token gives it. */
  #numValue = 0;
  #numIsPlain = false;
  /** The kind of the value last written, and for a string its source range (for well-known keys). */
  #lastKind = 0;
  #lastStart = 0;
  #lastEnd = 0;

  /**
   * With `turns`, output buffers are reused once the turn that wrote in them is over (see
   * {@linkcode ReadTurns}); without, each body's buffer is left to the garbage collector.
   */
  constructor(turns: ReadTurns | null = null) {
    this.#turns = turns;
    this.#turn = turns?.current ?? -1;
    this.#newChunk(OUTPUT_CHUNK_BYTES);
  }

  /**
   * The kvlist AnyValue of the object in `src`, or null when the body must take the `JSON.parse` path
   * (see the module doc).
   */
  transcode(src: Uint8Array, maxDepth: number, maxKeys: number): TranscodedJson | null {
    this.#src = src;
    this.#maxDepth = maxDepth;
    this.#keysLeft = maxKeys;
    this.#keyCount = 0;
    this.#levelKey = -1;
    this.#timeKey = -1;
    const result = this.#result;
    result.severity = null;
    result.time = null;
    result.keptLevel = false;
    result.keptTime = false;
    let i = skipBlanks(src, 0);
    if (src[i] !== 0x7b) return null;
    if (this.#turns !== null && this.#turns.current !== this.#turn) this.#recycle();
    const w = this.#w;
    // Room for about 3 output bytes per input byte (`[1,1]`: 2 bytes in, 4 out) in this chunk; a body
    // that writes more (negative integers take 10-byte varints) grows the buffer as it writes (ensure).
    const bound = 3 * src.length + 16;
    if (w.buf.length - w.pos < bound) this.#newChunk(Math.max(OUTPUT_CHUNK_BYTES, bound));
    const start = w.pos;
    w.byte(0x32); // kvlist_value (6)
    const reserved = varintSize(src.length);
    const slot = w.reserveLength(reserved);
    i = this.#object(i + 1, 1);
    if (i < 0 || skipBlanks(src, i) !== src.length) {
      w.pos = start;
      return null;
    }
    w.finishLength(slot, reserved);
    result.value = new EncodedAnyValue(w.buf.subarray(start, w.pos));
    return result;
  }

  /** Moves the output to a buffer of `bytes` (at least the standard size): a free one when it can. */
  #newChunk(bytes: number): void {
    const w = this.#w;
    if (bytes === OUTPUT_CHUNK_BYTES && this.#free.length > 0) w.useBuffer(this.#free.pop()!);
    else w.startNewBuffer(bytes);
    if (this.#turns !== null && w.buf.length === OUTPUT_CHUNK_BYTES) this.#used.push(w.buf);
  }

  /** A new turn: no body of an earlier one is alive, so every buffer written so far is free again. */
  #recycle(): void {
    this.#turn = this.#turns!.current;
    for (const chunk of this.#used) if (this.#free.length < MAX_FREE_CHUNKS) this.#free.push(chunk);
    this.#used = [];
    this.#newChunk(OUTPUT_CHUNK_BYTES);
  }

  /**
   * After the entry of top-level well-known key `known` was written at `entryStart`: the first key of
   * its kind decides the severity or time, and leaves the kvlist (the output goes back to the entry's
   * start) when it names one. A key of the same kind that the `JSON.parse` path would look at first,
   * coming after the one that decided, declines the body (false): rare, and undoing is not worth it.
   */
  #wellKnown(known: number, entryStart: number): boolean {
    const isLevel = known < FIRST_TIME_KEY;
    const decided = isLevel ? this.#levelKey : this.#timeKey;
    if (decided >= 0) return known > decided && this.#knownValue() !== undefined;
    const result = this.#result;
    let found: Severity | HrTime | null;
    if (isLevel) {
      // A level word, the common case, is looked up by its bytes: no string is built on a hit.
      const severity = this.#lastKind === KIND_STRING && !this.#strEscaped
        ? this.#severityOfBytes()
        : severityOfValue(this.#knownValue());
      if (severity === undefined) return false;
      this.#levelKey = known;
      found = result.severity = severity;
      result.keptLevel = severity === null;
    } else {
      const value = this.#knownValue();
      if (value === undefined) return false;
      this.#timeKey = known;
      found = result.time = timeOf(value);
      result.keptTime = found === null;
    }
    if (found !== null) this.#w.pos = entryStart;
    return true;
  }

  /**
   * severityOf for the level text just read (`src[#lastStart, #lastEnd)`, unescaped), remembered by its
   * bytes for the last few texts: one logger writes the same few level words on every line. Undefined
   * for non-ASCII text (declined, see #knownValue).
   */
  #severityOfBytes(): Severity | null | undefined {
    const src = this.#src;
    const start = this.#lastStart;
    const n = this.#lastEnd - start;
    const cache = this.#severities;
    for (let k = 0; k < cache.length; k++) {
      const bytes = cache[k].bytes;
      if (bytes.length !== n) continue;
      let j = 0;
      while (j < n && src[start + j] === bytes[j]) j++;
      if (j === n) return cache[k].severity;
    }
    const text = this.#knownValue();
    if (text === undefined) return undefined;
    const entry = { bytes: src.slice(start, start + n), severity: severityOf(text) };
    if (cache.length < SEVERITY_CACHE_SIZE) cache.push(entry);
    else cache[this.#severityNext++ % SEVERITY_CACHE_SIZE] = entry;
    return entry.severity;
  }

  /** The entries of an object whose `{` is just before `i`, at nesting level `depth`; -1 to decline. */
  #object(i: number, depth: number): number {
    const src = this.#src;
    const scope = this.#keyCount;
    i = skipBlanks(src, i);
    if (src[i] === 0x7d) return i + 1;
    for (;;) {
      if (src[i] !== 0x22) return -1;
      const keyStart = i + 1;
      const keyEnd = this.#scanKey(keyStart);
      // Duplicates are found by a scan of the object's keys so far: bounded, so a line with a huge
      // object (json.max_keys allows 100,000) cannot cost quadratic time; JSON.parse takes those.
      if (keyEnd < 0 || this.#keyCount - scope >= MAX_KEYS_PER_OBJECT) return -1;
      if (this.#isDuplicate(scope, keyStart, keyEnd)) return -1;
      if (--this.#keysLeft < 0) return -1;
      this.#pushKey(keyStart, keyEnd);
      // Compact JSON has no blanks: test one byte before calling the skip (the same below).
      i = keyEnd + 1;
      if (src[i] <= 0x20) i = skipBlanks(src, i);
      if (src[i] !== 0x3a) return -1;
      i++;
      if (src[i] <= 0x20) i = skipBlanks(src, i);
      const known = depth === 1 ? wellKnownIndex(src, keyStart, keyEnd) : -1;
      const entryStart = this.#w.pos;
      i = this.#entry(keyStart, keyEnd, i, depth);
      if (i < 0) return -1;
      if (known >= 0 && !this.#wellKnown(known, entryStart)) return -1;
      if (src[i] <= 0x20) i = skipBlanks(src, i);
      const c = src[i];
      if (c === 0x2c) {
        i++;
        if (src[i] <= 0x20) i = skipBlanks(src, i);
        continue;
      }
      if (c !== 0x7d) return -1;
      this.#keyCount = scope;
      return i + 1;
    }
  }

  /**
   * The JS value the `JSON.parse` path would give a well-known key's value, read back from the value
   * just written, or undefined when that value depends on the exact-number reviver or needs decoding.
   */
  #knownValue(): unknown {
    const kind = this.#lastKind;
    if (kind === KIND_STRING) {
      if (this.#strEscaped) return undefined;
      const src = this.#src;
      let text = "";
      for (let j = this.#lastStart; j < this.#lastEnd; j++) {
        const b = src[j];
        if (b >= 0x80) return undefined;
        text += String.fromCharCode(b);
      }
      return text;
    }
    if (kind === KIND_NUMBER) return this.#numIsPlain ? this.#numValue : undefined;
    if (kind === KIND_TRUE) return true;
    if (kind === KIND_FALSE) return false;
    if (kind === KIND_NULL) return null;
    return CONTAINER;
  }

  /** One KeyValue entry (tag, length, key, value); returns the index after the value or -1. */
  #entry(keyStart: number, keyEnd: number, i: number, depth: number): number {
    const w = this.#w;
    const src = this.#src;
    const keyLength = keyEnd - keyStart;
    const keyField = 1 + varintSize(keyLength) + keyLength;
    if (src[i] === 0x22) {
      // A string: its length is known before it is written, so every length is exact from the start.
      const end = this.#scanString(i + 1);
      if (end < 0) return -1;
      const n = this.#strLength;
      const anyLength = 1 + varintSize(n) + n;
      const entryLength = keyField + 1 + varintSize(anyLength) + anyLength;
      w.ensure(1 + varintSize(entryLength) + entryLength);
      w.byte(0x0a); // KeyValueList.values (1)
      w.pos = putVarint(w.buf, w.pos, entryLength);
      this.#key(keyStart, keyLength);
      w.byte(0x12); // KeyValue.value (2)
      return this.#stringValue(i + 1, end, anyLength);
    }
    w.ensure(1 + 5 + keyField + 1);
    w.byte(0x0a); // KeyValueList.values (1)
    const reserved = varintSize(keyField + 13);
    const slot = w.reserveLength(reserved);
    this.#key(keyStart, keyLength);
    w.byte(0x12); // KeyValue.value (2)
    i = this.#value(i, depth);
    if (i < 0) return -1;
    w.finishLength(slot, reserved);
    return i;
  }

  /**
   * The length-prefixed AnyValue of the string `src[start, end)` just scanned (`anyLength` is its size);
   * room was ensured. Returns the index after the closing quote.
   */
  #stringValue(start: number, end: number, anyLength: number): number {
    const w = this.#w;
    w.pos = putVarint(w.buf, w.pos, anyLength);
    w.byte(0x0a); // string_value (1)
    this.#string(start, end);
    this.#lastKind = KIND_STRING;
    this.#lastStart = start;
    this.#lastEnd = end;
    return end + 1;
  }

  /** The key field (tag 1, length, bytes); room was ensured. */
  #key(keyStart: number, keyLength: number): void {
    const w = this.#w;
    const buf = w.buf;
    let p = w.pos;
    buf[p++] = 0x0a; // KeyValue.key (1)
    p = putVarint(buf, p, keyLength);
    const src = this.#src;
    for (let j = 0; j < keyLength; j++) buf[p++] = src[keyStart + j];
    w.pos = p;
  }

  /**
   * A length-prefixed AnyValue for the JSON value at `i` (the caller wrote the tag); `depth` is the
   * nesting level of the enclosing container. Returns the index after the value or -1.
   */
  #value(i: number, depth: number): number {
    const w = this.#w;
    const src = this.#src;
    const c = src[i];
    if (c === 0x22) {
      const end = this.#scanString(i + 1);
      if (end < 0) return -1;
      const n = this.#strLength;
      const anyLength = 1 + varintSize(n) + n;
      w.ensure(varintSize(anyLength) + anyLength);
      return this.#stringValue(i + 1, end, anyLength);
    }
    if (c === 0x7b || c === 0x5b) {
      if (depth + 1 > this.#maxDepth) return -1;
      const slot = w.reserveLength(1);
      w.ensure(2);
      w.byte(c === 0x7b ? 0x32 : 0x2a); // kvlist_value (6) / array_value (5)
      const inner = w.reserveLength(1);
      const end = c === 0x7b ? this.#object(i + 1, depth + 1) : this.#array(i + 1, depth + 1);
      if (end < 0) return -1;
      w.finishLength(inner, 1);
      w.finishLength(slot, 1);
      this.#lastKind = KIND_CONTAINER;
      return end;
    }
    if (c === 0x74) return this.#literal(i, TRUE_BYTES, KIND_TRUE); // true
    if (c === 0x66) return this.#literal(i, FALSE_BYTES, KIND_FALSE); // false
    if (c === 0x6e) return this.#literal(i, NULL_BYTES, KIND_NULL); // null
    return this.#number(i);
  }

  #literal(i: number, literal: Uint8Array, kind: number): number {
    const src = this.#src;
    for (let j = 0; j < literal.length; j++) if (src[i + j] !== literal[j]) return -1;
    const w = this.#w;
    w.ensure(3);
    if (kind === KIND_NULL) w.byte(0); // an empty AnyValue
    else {
      w.byte(2);
      w.byte(0x10); // bool_value (2)
      w.byte(kind === KIND_TRUE ? 1 : 0);
    }
    this.#lastKind = kind;
    return i + literal.length;
  }

  /** The elements of an array whose `[` is just before `i`; returns the index after `]` or -1. */
  #array(i: number, depth: number): number {
    const src = this.#src;
    const w = this.#w;
    i = skipBlanks(src, i);
    if (src[i] === 0x5d) return i + 1;
    for (;;) {
      if (--this.#keysLeft < 0) return -1;
      w.ensure(1);
      w.byte(0x0a); // ArrayValue.values (1)
      i = this.#value(i, depth);
      if (i < 0) return -1;
      i = skipBlanks(src, i);
      const c = src[i];
      if (c === 0x2c) {
        i = skipBlanks(src, i + 1);
        continue;
      }
      return c === 0x5d ? i + 1 : -1;
    }
  }

  /** A number token as a length-prefixed AnyValue; returns the index after it or -1. */
  #number(i: number): number {
    const src = this.#src;
    const start = i;
    const isNegative = src[i] === 0x2d;
    if (isNegative) i++;
    const digitsStart = i;
    if (src[i] === 0x30) i++;
    else if (src[i] >= 0x31 && src[i] <= 0x39) {
      while (src[i] >= 0x30 && src[i] <= 0x39) i++;
    } else return -1;
    const digits = i - digitsStart;
    let isInteger = true;
    let fractionDigits = 0;
    if (src[i] === 0x2e) {
      i++;
      const fractionStart = i;
      while (src[i] >= 0x30 && src[i] <= 0x39) i++;
      fractionDigits = i - fractionStart;
      if (fractionDigits === 0) return -1;
      isInteger = false;
    }
    let exponent = 0;
    let exponentDigits = 0;
    if (src[i] === 0x65 || src[i] === 0x45) {
      i++;
      const isNegativeExponent = src[i] === 0x2d;
      if (isNegativeExponent || src[i] === 0x2b) i++;
      const exponentStart = i;
      while (src[i] >= 0x30 && src[i] <= 0x39) exponent = exponent * 10 + (src[i++] - 0x30);
      exponentDigits = i - exponentStart;
      if (exponentDigits === 0) return -1;
      if (isNegativeExponent) exponent = -exponent;
      isInteger = false;
    }
    const w = this.#w;
    this.#lastKind = KIND_NUMBER;
    if (isInteger && digits <= EXACT_DIGITS) {
      let v = 0;
      for (let j = digitsStart; j < i; j++) v = v * 10 + (src[j] - 0x30);
      if (isNegative) v = -v;
      this.#numValue = v;
      this.#numIsPlain = true;
      this.#int(v);
      return i;
    }
    if (!isInteger && digits + fractionDigits <= EXACT_DIGITS && exponentDigits <= 3) {
      // Digits that fit a double exactly, scaled by an exact power of ten: one correctly rounded
      // operation on exact operands, so the same double Number() reads (Clinger's fast path).
      const scale = fractionDigits - exponent;
      if (scale >= -22 && scale <= 22) {
        let m = 0;
        for (let j = digitsStart; j < i; j++) {
          const d = src[j] - 0x30;
          if (d >= 0 && d <= 9) m = m * 10 + d;
          else if (src[j] !== 0x2e) break; // the exponent
        }
        let value = scale >= 0 ? m / EXACT_POWERS_OF_TEN[scale] : m * EXACT_POWERS_OF_TEN[-scale];
        if (isNegative) value = -value;
        this.#double(value);
        return i;
      }
    }
    const token = latin1(src, start, i);
    const value = Number(token);
    this.#numValue = value;
    if (!isInteger) {
      this.#double(value);
      return i;
    }
    this.#numIsPlain = false;
    if (Number.isSafeInteger(value)) {
      this.#int(value);
      return i;
    }
    const big = BigInt(token);
    if (big >= MIN_INT64 && big <= MAX_INT64) {
      w.ensure(2);
      const slot = w.reserveLength(1);
      w.byte(0x18); // int_value (3)
      w.int64Big(big);
      w.buf[slot] = w.pos - slot - 1;
      return i;
    }
    // Beyond int64: its text, as the reviver keeps it.
    const n = i - start;
    const anyLength = 1 + varintSize(n) + n;
    w.ensure(varintSize(anyLength) + anyLength);
    w.pos = putVarint(w.buf, w.pos, anyLength);
    w.byte(0x0a); // string_value (1)
    w.pos = putVarint(w.buf, w.pos, n);
    for (let j = start; j < i; j++) w.byte(src[j]);
    return i;
  }

  /** A double token's value; only a non-integral one reads the same with and without the reviver. */
  #double(value: number): void {
    this.#numValue = value;
    this.#numIsPlain = !Number.isInteger(value);
    const w = this.#w;
    w.ensure(10);
    w.byte(9);
    w.byte(0x21); // double_value (4)
    w.double(value);
  }

  #int(v: number): void {
    const w = this.#w;
    w.ensure(2);
    const slot = w.reserveLength(1);
    w.byte(0x18); // int_value (3)
    w.int64(v);
    w.buf[slot] = w.pos - slot - 1;
  }

  /**
   * Scans the key whose first byte is at `i` (after the opening quote) in one pass: returns the index of
   * its closing quote, or -1 for what #scanString refuses, an escape, or digits only. Sets #keyHash.
   */
  #scanKey(i: number): number {
    const src = this.#src;
    const end = src.length;
    const start = i;
    let hash = 0;
    let isDigits = true;
    while (i < end) {
      const b = src[i];
      if (b === 0x22) {
        if (isDigits && i > start) return -1;
        this.#keyHash = hash;
        return i;
      }
      if (b < 0x20 || b === 0x5c) return -1;
      if (b >= 0x80) {
        const n = sequenceLength(src, i, end);
        if (n === 0) return -1;
        for (let j = i; j < i + n; j++) hash = (Math.imul(hash, 31) + src[j]) | 0;
        i += n;
        isDigits = false;
        continue;
      }
      if (b < 0x30 || b > 0x39) isDigits = false;
      hash = (Math.imul(hash, 31) + b) | 0;
      i++;
    }
    return -1;
  }

  /**
   * Scans the string whose first byte is at `i` (after the opening quote): returns the index of the
   * closing quote, or -1 for a control character, invalid UTF-8, a U+FFFD, a bad or lone-surrogate
   * escape, or no closing quote. Sets #strLength and #strEscaped.
   */
  #scanString(i: number): number {
    const src = this.#src;
    const end = src.length;
    let length = 0;
    let isEscaped = false;
    for (;;) {
      const runStart = i;
      let b = 0;
      while (i < end && IS_PLAIN[b = src[i]] === 1) i++;
      length += i - runStart;
      if (i >= end) return -1;
      if (b === 0x22) {
        this.#strLength = length;
        this.#strEscaped = isEscaped;
        return i;
      }
      if (b < 0x20) return -1;
      if (b === 0x5c) {
        isEscaped = true;
        const e = src[i + 1];
        if (e === 0x75) { // \uXXXX
          const unit = hex4(src, i + 2);
          if (unit < 0 || (unit >= 0xdc00 && unit <= 0xdfff)) return -1;
          if (unit >= 0xd800 && unit <= 0xdbff) {
            const low = src[i + 6] === 0x5c && src[i + 7] === 0x75 ? hex4(src, i + 8) : -1;
            if (low < 0xdc00 || low > 0xdfff) return -1;
            length += 4;
            i += 12;
          } else {
            length += unit < 0x80 ? 1 : unit < 0x800 ? 2 : 3;
            i += 6;
          }
        } else if (isSimpleEscape(e)) {
          length += 1;
          i += 2;
        } else return -1;
        continue;
      }
      const n = sequenceLength(src, i, end);
      if (n === 0) return -1;
      length += n;
      i += n;
    }
  }

  /** Writes the string `src[start, end)` (scanned just before), unescaped; the caller ensured the room. */
  #string(start: number, end: number): void {
    const w = this.#w;
    const n = this.#strLength;
    w.pos = putVarint(w.buf, w.pos, n);
    const src = this.#src;
    const buf = w.buf;
    if (!this.#strEscaped) {
      if (n <= 16) {
        let p = w.pos;
        for (let j = start; j < end; j++) buf[p++] = src[j];
      } else buf.set(src.subarray(start, end), w.pos);
      w.pos += n;
      return;
    }
    let p = w.pos;
    let i = start;
    while (i < end) {
      const b = src[i];
      if (b !== 0x5c) {
        buf[p++] = b;
        i++;
        continue;
      }
      const e = src[i + 1];
      if (e !== 0x75) {
        buf[p++] = SIMPLE_ESCAPES[e];
        i += 2;
        continue;
      }
      let cp = hex4(src, i + 2);
      i += 6;
      if (cp >= 0xd800 && cp <= 0xdbff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (hex4(src, i + 2) - 0xdc00);
        i += 6;
      }
      if (cp < 0x80) buf[p++] = cp;
      else if (cp < 0x800) {
        buf[p++] = 0xc0 | (cp >> 6);
        buf[p++] = 0x80 | (cp & 0x3f);
      } else if (cp < 0x10000) {
        buf[p++] = 0xe0 | (cp >> 12);
        buf[p++] = 0x80 | ((cp >> 6) & 0x3f);
        buf[p++] = 0x80 | (cp & 0x3f);
      } else {
        buf[p++] = 0xf0 | (cp >> 18);
        buf[p++] = 0x80 | ((cp >> 12) & 0x3f);
        buf[p++] = 0x80 | ((cp >> 6) & 0x3f);
        buf[p++] = 0x80 | (cp & 0x3f);
      }
    }
    w.pos = p;
  }

  #isDuplicate(scope: number, start: number, end: number): boolean {
    const src = this.#src;
    const length = end - start;
    const hash = this.#keyHash;
    for (let k = scope; k < this.#keyCount; k++) {
      if (this.#keyHashes[k] !== hash) continue;
      const s = this.#keyStart[k];
      if (this.#keyEnd[k] - s !== length) continue;
      let j = 0;
      while (j < length && src[s + j] === src[start + j]) j++;
      if (j === length) return true;
    }
    return false;
  }

  #pushKey(start: number, end: number): void {
    if (this.#keyCount === this.#keyStart.length) {
      const grow = (a: Int32Array) => {
        const next = new Int32Array(a.length * 2);
        next.set(a);
        return next;
      };
      this.#keyStart = grow(this.#keyStart);
      this.#keyEnd = grow(this.#keyEnd);
      this.#keyHashes = grow(this.#keyHashes);
    }
    this.#keyStart[this.#keyCount] = start;
    this.#keyEnd[this.#keyCount] = end;
    this.#keyHashes[this.#keyCount] = this.#keyHash;
    this.#keyCount++;
  }
}

const KIND_STRING = 1;
const KIND_NUMBER = 2;
const KIND_TRUE = 3;
const KIND_FALSE = 4;
const KIND_NULL = 5;
const KIND_CONTAINER = 6;
const TRUE_BYTES = new TextEncoder().encode("true");
const FALSE_BYTES = new TextEncoder().encode("false");
const NULL_BYTES = new TextEncoder().encode("null");

/** 1 for a byte that stands for itself in a JSON string: printable ASCII other than `"` and `\\`. */
const IS_PLAIN = new Uint8Array(256);
for (let b = 0x20; b < 0x80; b++) IS_PLAIN[b] = b === 0x22 || b === 0x5c ? 0 : 1;

/** The byte each one-character escape stands for, by the character after the backslash (0: none). */
const SIMPLE_ESCAPES = new Uint8Array(128);
SIMPLE_ESCAPES[0x22] = 0x22; // \"
SIMPLE_ESCAPES[0x5c] = 0x5c; // \\
SIMPLE_ESCAPES[0x2f] = 0x2f; // \/
SIMPLE_ESCAPES[0x62] = 0x08; // \b
SIMPLE_ESCAPES[0x66] = 0x0c; // \f
SIMPLE_ESCAPES[0x6e] = 0x0a; // \n
SIMPLE_ESCAPES[0x72] = 0x0d; // \r
SIMPLE_ESCAPES[0x74] = 0x09; // \t

function isSimpleEscape(e: number): boolean {
  return e < 0x80 && SIMPLE_ESCAPES[e] !== 0;
}

/** The value of four hex digits at `i`, or -1. */
function hex4(src: Uint8Array, i: number): number {
  let v = 0;
  for (let j = i; j < i + 4; j++) {
    const c = src[j];
    let d: number;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) d = c - 0x57;
    else if (c >= 0x41 && c <= 0x46) d = c - 0x37;
    else return -1;
    v = v * 16 + d;
  }
  return v;
}

/**
 * The length of the well-formed UTF-8 sequence at `i` (Unicode Table 3-7), or 0 when it is not one or
 * is U+FFFD (EF BF BD), which the `JSON.parse` path cannot tell from a replaced invalid byte.
 */
function sequenceLength(src: Uint8Array, i: number, end: number): number {
  const n = utf8SequenceLength(src, i, end);
  return n === 3 && src[i] === 0xef && src[i + 1] === 0xbf && src[i + 2] === 0xbd ? 0 : n;
}

function skipBlanks(src: Uint8Array, i: number): number {
  for (let c = src[i]; c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d; c = src[++i]);
  return i;
}

/** severityOf, passing on undefined (a value #knownValue could not give). */
function severityOfValue(value: unknown): Severity | null | undefined {
  return value === undefined ? undefined : severityOf(value);
}

/** The index in WELL_KNOWN of the key `src[start, end)`, or -1. */
function wellKnownIndex(src: Uint8Array, start: number, end: number): number {
  // Each well-known name has a length of its own: the length picks the one candidate.
  const k = WELL_KNOWN_BY_LENGTH[end - start] ?? -1;
  if (k < 0) return -1;
  const name = WELL_KNOWN[k];
  for (let j = 0; j < name.length; j++) if (src[start + j] !== name[j]) return -1;
  return k;
}

/** The ASCII text of `src[start, end)` (a number token). */
function latin1(src: Uint8Array, start: number, end: number): string {
  let s = "";
  for (let j = start; j < end; j++) s += String.fromCharCode(src[j]);
  return s;
}
