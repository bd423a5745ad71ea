/**
 * Writes OTLP AnyValue and KeyValue fields (common/v1) by otlp-transformer's type rules (plus the
 * `bigint` and `Float64Array` number markers of record.ts, which it does not know), with attribute
 * keys pre-encoded once and repeating string attributes of records copied from a per-key cache; and
 * bytes bodies as `string_value`, validated as UTF-8 where they land in the output.
 *
 * @module
 */

import type { Attributes } from "../record.ts";
import { EncodedAnyValue } from "../encoded_any_value.ts";
import { encodeStringField, type ProtoWriter, putVarint, varintSize } from "./_proto_writer.ts";
import { isWellFormedUtf8 } from "./_utf8.ts";

/** Encoded record attributes (tag, length, key, string value) per key, by value. */
interface ValueCache {
  key: string;
  /** null once the key's values proved too diverse to cache. */
  fields: Map<string, Uint8Array> | null;
  /** The value last written and its field: a hit without hashing the value. */
  lastValue: string;
  lastField: Uint8Array | undefined;
  lookups: number;
  misses: number;
}

/** LogRecord.attributes (6), length-delimited. */
export const RECORD_ATTRIBUTES_TAG = 0x32;
/** Values longer than this are encoded each time (a path fits; a message does not repeat). */
const MAX_CACHED_VALUE_CHARS = 256;
const MAX_CACHED_VALUES_PER_KEY = 1024;
/** A key missing on more than half of its first this-many lookups is no longer cached. */
const CACHE_PROBE_LOOKUPS = 1024;
/** Cached attribute keys at most; past it the cache starts over (JSON splat keys are unbounded). */
const MAX_CACHED_KEYS = 4096;
/** Attribute positions whose last cache is remembered. */
const POSITIONS = 8;
const MIN_INT64 = -(2 ** 63);
const MAX_INT64 = 2 ** 63;
const hasOwn = Object.prototype.hasOwnProperty;

/** Decodes invalid bodies the way the oracle test does: U+FFFD per maximal subpart, BOM kept. */
const lossyUtf8 = new TextDecoder("utf-8", { ignoreBOM: true });

/** The value half of the request encoder; shares its writer. */
export class AnyValueWriter {
  #w: ProtoWriter;
  #keys = new Map<string, Uint8Array>();
  #values = new Map<string, ValueCache>();
  #byPosition: (ValueCache | undefined)[] = new Array(POSITIONS).fill(undefined);
  /** Bytes bodies with invalid UTF-8 written since the owner last reset this. */
  invalidUtf8Records = 0;

  constructor(writer: ProtoWriter) {
    this.#w = writer;
  }

  /**
   * A bytes body as AnyValue `string_value`: copied into place once, validated there; invalid UTF-8 is
   * replaced (TextDecoder semantics) and the record counted.
   */
  utf8Body(bytes: Uint8Array): void {
    const w = this.#w;
    const n = bytes.length;
    const inner = varintSize(n);
    const anyLength = 1 + inner + n;
    const outer = varintSize(anyLength);
    w.ensure(outer + 1 + inner + n);
    const buf = w.buf;
    const start = w.pos + outer + 1 + inner;
    buf.set(bytes, start);
    if (!isWellFormedUtf8(buf, w.words, start, start + n)) {
      this.invalidUtf8Records++;
      this.anyValue(lossyUtf8.decode(bytes));
      return;
    }
    // Room was ensured above: the two lengths and the tag go straight into the buffer.
    let p = putVarint(buf, w.pos, anyLength);
    buf[p++] = 0x0a;
    putVarint(buf, p, n);
    w.pos = start + n;
  }

  /** A length-delimited AnyValue (the caller wrote the tag), by the oracle's type rules. */
  anyValue(value: unknown): void {
    const w = this.#w;
    if (typeof value === "string") {
      const n = value.length;
      const reserved = varintSize(n + 1 + varintSize(n));
      const slot = w.reserveLength(reserved);
      w.ensure(1);
      w.byte(0x0a); // string_value (1)
      w.string(value);
      w.finishLength(slot, reserved);
      return;
    }
    if (typeof value === "number") {
      w.ensure(11);
      if (Number.isInteger(value) && value >= MIN_INT64 && value < MAX_INT64) {
        const slot = w.reserveLength(1);
        w.byte(0x18); // int_value (3)
        w.int64(value);
        w.buf[slot] = w.pos - slot - 1;
      } else {
        w.byte(9);
        w.byte(0x21); // double_value (4)
        w.double(value);
      }
      return;
    }
    if (typeof value === "boolean") {
      w.ensure(3);
      w.byte(2);
      w.byte(0x10); // bool_value (2)
      w.byte(value ? 1 : 0);
      return;
    }
    // The number markers of record.ts (issue 10), which otlp-transformer does not know: a bigint is an
    // exact int64, a one-element Float64Array a double whose value happens to be integral.
    if (typeof value === "bigint") {
      w.ensure(2);
      const slot = w.reserveLength(1);
      w.byte(0x18); // int_value (3)
      w.int64Big(value);
      w.buf[slot] = w.pos - slot - 1;
      return;
    }
    if (value instanceof Float64Array) {
      w.ensure(10);
      w.byte(9);
      w.byte(0x21); // double_value (4)
      w.double(value[0]);
      return;
    }
    if (value instanceof EncodedAnyValue) {
      // Already encoded (a JSON object body): length and bytes.
      w.bytes(value.bytes);
      return;
    }
    if (value instanceof Uint8Array) {
      const reserved = varintSize(value.length + 6);
      const slot = w.reserveLength(reserved);
      w.ensure(1);
      w.byte(0x3a); // bytes_value (7)
      w.bytes(value);
      w.finishLength(slot, reserved);
      return;
    }
    if (Array.isArray(value)) {
      this.#arrayValue(value);
      return;
    }
    if (typeof value === "object" && value !== null) {
      this.#kvlistValue(value as Attributes);
      return;
    }
    w.ensure(1);
    w.byte(0); // anything else: an empty AnyValue, as the oracle writes it
  }

  /** AnyValue.array_value (5): ArrayValue { repeated AnyValue values = 1 } */
  #arrayValue(values: readonly unknown[]): void {
    const w = this.#w;
    const outer = w.reserveLength(1);
    w.ensure(1);
    w.byte(0x2a);
    const inner = w.reserveLength(1);
    for (const item of values) {
      w.ensure(1);
      w.byte(0x0a);
      this.anyValue(item);
    }
    w.finishLength(inner, 1);
    w.finishLength(outer, 1);
  }

  /** AnyValue.kvlist_value (6): KeyValueList { repeated KeyValue values = 1 } */
  #kvlistValue(entries: Attributes): void {
    const w = this.#w;
    const outer = w.reserveLength(1);
    w.ensure(1);
    w.byte(0x32);
    const inner = w.reserveLength(1);
    this.attributes(entries, 0x0a);
    w.finishLength(inner, 1);
    w.finishLength(outer, 1);
  }

  /** Every own enumerable key of `attributes` as a KeyValue field with tag byte `tag`, in for-in order. */
  attributes(attributes: Attributes, tag: number): void {
    let position = 0;
    for (const key in attributes) {
      if (!hasOwn.call(attributes, key)) continue;
      const value = attributes[key];
      if (
        tag === RECORD_ATTRIBUTES_TAG && typeof value === "string" && value.length <= MAX_CACHED_VALUE_CHARS
      ) {
        this.#cachedStringAttribute(key, value, position++);
        continue;
      }
      this.#keyValue(key, value, tag);
    }
  }

  /** One KeyValue field: tag byte, length, pre-encoded key, value. */
  #keyValue(key: string, value: unknown, tag: number): void {
    const w = this.#w;
    const keyField = this.#keyField(key);
    w.ensure(1);
    w.byte(tag);
    const predicted = keyField.length + (typeof value === "string" ? value.length + 3 : 12);
    const reserved = varintSize(predicted);
    const slot = w.reserveLength(reserved);
    w.raw(keyField);
    this.anyValue(value);
    w.finishLength(slot, reserved);
  }

  /**
   * A record attribute with a string value, copied whole from a per-key cache of encoded fields: most
   * record attributes repeat (`log.iostream`, `log.file.path`). A key whose values mostly miss (a JSON
   * field holding unique text) stops being cached after its first {@linkcode CACHE_PROBE_LOOKUPS}.
   */
  #cachedStringAttribute(key: string, value: string, position: number): void {
    const w = this.#w;
    // Records share their attribute keys in the same order: remember the cache last used at a position.
    let cache = position < POSITIONS ? this.#byPosition[position] : undefined;
    if (cache === undefined || cache.key !== key) {
      cache = this.#valueCache(key);
      if (position < POSITIONS) this.#byPosition[position] = cache;
    }
    const fields = cache.fields;
    if (fields === null) {
      this.#keyValue(key, value, RECORD_ATTRIBUTES_TAG);
      return;
    }
    cache.lookups++;
    // Consecutive records of one file share values: compare before hashing.
    const field = value === cache.lastValue ? cache.lastField : fields.get(value);
    if (field !== undefined) {
      cache.lastValue = value;
      cache.lastField = field;
      w.raw(field);
      return;
    }
    const start = w.pos;
    this.#keyValue(key, value, RECORD_ATTRIBUTES_TAG);
    if (++cache.misses * 2 > CACHE_PROBE_LOOKUPS && cache.lookups <= CACHE_PROBE_LOOKUPS) {
      // More than half of the first probe's lookups missed: this key's values do not repeat.
      cache.fields = null;
      return;
    }
    if (fields.size >= MAX_CACHED_VALUES_PER_KEY) fields.clear();
    fields.set(value, w.buf.slice(start, w.pos));
  }

  #valueCache(key: string): ValueCache {
    let cache = this.#values.get(key);
    if (cache === undefined) {
      if (this.#values.size >= MAX_CACHED_KEYS) {
        this.#values.clear();
        this.#byPosition.fill(undefined);
      }
      cache = { key, fields: new Map(), lastValue: "", lastField: undefined, lookups: 0, misses: 0 };
      this.#values.set(key, cache);
    }
    return cache;
  }

  /** KeyValue.key (1) with its string, then the value tag (2): pre-encoded once per key name. */
  #keyField(key: string): Uint8Array {
    let field = this.#keys.get(key);
    if (field !== undefined) return field;
    field = encodeStringField(0x0a, key, 1);
    field[field.length - 1] = 0x12;
    if (this.#keys.size >= MAX_CACHED_KEYS) this.#keys.clear();
    this.#keys.set(key, field);
    return field;
  }
}
