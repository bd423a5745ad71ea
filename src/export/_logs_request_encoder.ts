/**
 * The OTLP `ExportLogsServiceRequest` writer for our record shape. Wire layout, field order and value
 * rules are those of `@opentelemetry/otlp-transformer` 0.301.1's `ProtobufLogsSerializer` (its output is
 * canonical protobuf, so ours is byte-identical for the same input; tests/export keeps it as the oracle).
 * See docs/encoding.md.
 *
 * @module
 */

import type { Attributes, HrTime, InstrumentationScope, LogRecord, ResourceRef } from "../record.ts";
import { ProtoWriter, varintSize } from "./_proto_writer.ts";
import { isWellFormedUtf8 } from "./_utf8.ts";

/** One encoded request; `bytes` is a view of the encoder's buffer, valid until its next `encode`. */
export interface EncodedLogsRequest {
  bytes: Uint8Array<ArrayBuffer>;
  /** Records whose `Uint8Array` body held invalid UTF-8 (sent with U+FFFD replacements). */
  invalidUtf8Records: number;
}

/** Fields of the sdk-logs record shape our records never set today but the wire format carries. */
interface WireRecordExtras {
  spanContext?: { traceId?: string; spanId?: string; traceFlags?: number };
}
interface WireResourceExtras {
  schemaUrl?: string;
}
interface WireScopeExtras {
  schemaUrl?: string;
  attributes?: Attributes;
  droppedAttributesCount?: number;
}

/** Pre-encoded fields of one resource or scope object. */
interface CachedMessage {
  /** The whole `resource = 1` / `scope = 1` field: tag, length, message. */
  field: Uint8Array;
  /** The `schema_url = 3` field of the enclosing ResourceLogs / ScopeLogs, or null. */
  schemaUrl: Uint8Array | null;
}

interface ScopeGroup {
  scope: InstrumentationScope;
  head: number;
  tail: number;
  count: number;
}

interface ResourceGroup {
  resource: ResourceRef;
  scopes: ScopeGroup[];
  /** The scope group of this resource's latest record (records of one resource share one scope). */
  last: ScopeGroup | undefined;
  count: number;
}

/** Encoded record attributes (tag, length, key, string value) per key, by value. */
interface ValueCache {
  /** null once the key's values proved too diverse to cache. */
  fields: Map<string, Uint8Array> | null;
  lookups: number;
  misses: number;
}

/** LogRecord.attributes (6), length-delimited. */
const RECORD_ATTRIBUTES_TAG = 0x32;
/** Values longer than this are encoded each time (a path fits; a message does not repeat). */
const MAX_CACHED_VALUE_CHARS = 256;
const MAX_CACHED_VALUES_PER_KEY = 1024;
/** A key missing on more than half of its first this-many lookups is no longer cached. */
const CACHE_PROBE_LOOKUPS = 1024;
/** Cached attribute keys at most; past it the cache starts over (JSON splat keys are unbounded). */
const MAX_CACHED_KEYS = 4096;
const TWO_POW_32 = 4294967296;
const MIN_INT64 = -(2 ** 63);
const MAX_INT64 = 2 ** 63;
const hasOwn = Object.prototype.hasOwnProperty;

/** Decodes invalid bodies the way the oracle test does: U+FFFD per maximal subpart, BOM kept. */
const lossyUtf8 = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * Encodes record batches into `ExportLogsServiceRequest` protobuf, reusing one output buffer and caching
 * the encoded resource per `ResourceRef` object (a WeakMap: a new object, i.e. new pod metadata, is
 * encoded afresh), the scope per scope object, and attribute keys by name. Not reentrant; `encode` is
 * synchronous, so one encoder serves every concurrent export of a process.
 */
export class LogsRequestEncoder {
  #w = new ProtoWriter();
  #resources = new WeakMap<ResourceRef, CachedMessage>();
  #scopes = new WeakMap<InstrumentationScope, CachedMessage>();
  #keys = new Map<string, Uint8Array>();
  #values = new Map<string, ValueCache>();
  #next = new Int32Array(1024);
  /** Average encoded record size of the previous batch: sizes the length slots of groups. */
  #bytesPerRecord = 256;
  #invalid = 0;
  #cachedSeconds = NaN;
  #baseLow = 0;
  #baseHigh = 0;

  /**
   * Encodes `records` as one request. ResourceLogs follow the first-seen order of resource objects,
   * ScopeLogs the first-seen order of scope objects within a resource, records their input order.
   */
  encode(records: readonly LogRecord[]): EncodedLogsRequest {
    const w = this.#w;
    w.reset();
    this.#invalid = 0;
    const groups = this.#group(records);
    for (const group of groups) this.#resourceLogs(records, group);
    if (records.length > 0) this.#bytesPerRecord = Math.max(16, Math.ceil(w.pos / records.length));
    return { bytes: w.buf.subarray(0, w.pos), invalidUtf8Records: this.#invalid };
  }

  /** Groups record indexes into linked lists (`#next`) per (resource, scope), in first-seen order. */
  #group(records: readonly LogRecord[]): ResourceGroup[] {
    if (this.#next.length < records.length) this.#next = new Int32Array(records.length * 2);
    const next = this.#next;
    const groups: ResourceGroup[] = [];
    const byResource = new Map<ResourceRef, ResourceGroup>();
    let lastGroup: ResourceGroup | undefined;
    for (let i = 0; i < records.length; i++) {
      const record = records[i];
      let group = lastGroup !== undefined && lastGroup.resource === record.resource
        ? lastGroup
        : byResource.get(record.resource);
      if (group === undefined) {
        group = { resource: record.resource, scopes: [], last: undefined, count: 0 };
        byResource.set(record.resource, group);
        groups.push(group);
      }
      const scope = record.instrumentationScope;
      let scopeGroup = group.last !== undefined && group.last.scope === scope ? group.last : undefined;
      if (scopeGroup === undefined) {
        for (const candidate of group.scopes) if (candidate.scope === scope) scopeGroup = candidate;
      }
      if (scopeGroup === undefined) {
        scopeGroup = { scope, head: i, tail: i, count: 0 };
        group.scopes.push(scopeGroup);
      } else next[scopeGroup.tail] = i;
      scopeGroup.tail = i;
      scopeGroup.count++;
      group.count++;
      group.last = scopeGroup;
      lastGroup = group;
    }
    return groups;
  }

  /** ExportLogsServiceRequest.resource_logs (1) */
  #resourceLogs(records: readonly LogRecord[], group: ResourceGroup): void {
    const w = this.#w;
    const resource = this.#resource(group.resource);
    w.ensure(1);
    w.byte(0x0a);
    const reserved = varintSize(resource.field.length + group.count * this.#bytesPerRecord);
    const slot = w.reserveLength(reserved);
    w.raw(resource.field);
    for (const scopeGroup of group.scopes) this.#scopeLogs(records, scopeGroup);
    if (resource.schemaUrl !== null) w.raw(resource.schemaUrl);
    w.finishLength(slot, reserved);
  }

  /**
   * The cached encoding of `resource`. A miss encodes it once past the writer's position (scratch space
   * the caller then overwrites) and keeps a copy.
   */
  #resource(resource: ResourceRef): CachedMessage {
    const cached = this.#resources.get(resource);
    if (cached !== undefined) return cached;
    const w = this.#w;
    const start = w.pos;
    w.ensure(1);
    w.byte(0x0a); // ResourceLogs.resource (1)
    const slot = w.reserveLength(1);
    if (resource.attributes) this.#attributes(resource.attributes, 0x0a); // Resource.attributes (1)
    w.ensure(2);
    w.byte(0x10); // Resource.dropped_attributes_count (2), always written as 0
    w.byte(0);
    w.finishLength(slot, 1);
    const schemaUrl = (resource as WireResourceExtras).schemaUrl;
    const entry = { field: w.buf.slice(start, w.pos), schemaUrl: stringField(0x1a, schemaUrl) };
    w.pos = start;
    this.#resources.set(resource, entry);
    return entry;
  }

  /** ResourceLogs.scope_logs (2) */
  #scopeLogs(records: readonly LogRecord[], group: ScopeGroup): void {
    const w = this.#w;
    const scope = this.#scope(group.scope);
    w.ensure(1);
    w.byte(0x12);
    const reserved = varintSize(scope.field.length + group.count * this.#bytesPerRecord);
    const slot = w.reserveLength(reserved);
    w.raw(scope.field);
    const next = this.#next;
    for (let i = group.head, k = 0; k < group.count; k++, i = next[i]) {
      w.ensure(1);
      w.byte(0x12); // ScopeLogs.log_records (2)
      this.#logRecord(records[i]);
    }
    if (scope.schemaUrl !== null) w.raw(scope.schemaUrl);
    w.finishLength(slot, reserved);
  }

  #scope(scope: InstrumentationScope): CachedMessage {
    const cached = this.#scopes.get(scope);
    if (cached !== undefined) return cached;
    const w = this.#w;
    const start = w.pos;
    const extras = scope as InstrumentationScope & WireScopeExtras;
    w.ensure(1);
    w.byte(0x0a); // ScopeLogs.scope (1)
    const slot = w.reserveLength(1);
    w.ensure(1);
    w.byte(0x0a); // InstrumentationScope.name (1), always written
    w.string(scope.name);
    if (scope.version) {
      w.ensure(1);
      w.byte(0x12);
      w.string(scope.version);
    }
    if (extras.attributes) this.#attributes(extras.attributes, 0x1a);
    if (extras.droppedAttributesCount) {
      w.ensure(1);
      w.byte(0x20);
      w.int64(extras.droppedAttributesCount);
    }
    w.finishLength(slot, 1);
    const entry = { field: w.buf.slice(start, w.pos), schemaUrl: stringField(0x1a, extras.schemaUrl) };
    w.pos = start;
    this.#scopes.set(scope, entry);
    return entry;
  }

  /** ScopeLogs.log_records (2): one LogRecord message, fields in the oracle's order. */
  #logRecord(record: LogRecord): void {
    const w = this.#w;
    const reserved = varintSize(this.#bytesPerRecord);
    const slot = w.reserveLength(reserved);
    w.ensure(1);
    w.byte(0x09); // time_unix_nano (1) fixed64
    this.#hrTime(record.hrTime);
    const severity = record.severityNumber;
    if (severity !== undefined && severity !== 0) {
      w.ensure(1);
      w.byte(0x10); // severity_number (2)
      w.int64(severity);
    }
    if (record.severityText) {
      w.ensure(1);
      w.byte(0x1a); // severity_text (3)
      w.string(record.severityText);
    }
    const body = record.body;
    if (body !== undefined) {
      w.ensure(1);
      w.byte(0x2a); // body (5)
      if (body instanceof Uint8Array) this.#utf8Body(body);
      else this.#anyValue(body);
    }
    if (record.attributes) this.#attributes(record.attributes, 0x32); // attributes (6)
    w.ensure(1);
    w.byte(0x38); // dropped_attributes_count (7), always written
    w.int64(record.droppedAttributesCount);
    const span = (record as LogRecord & WireRecordExtras).spanContext;
    if (span !== undefined) this.#spanContext(span);
    w.ensure(1);
    w.byte(0x59); // observed_time_unix_nano (11) fixed64
    this.#hrTime(record.hrTimeObserved);
    if (record.eventName) {
      w.ensure(1);
      w.byte(0x62); // event_name (12)
      w.string(record.eventName);
    }
    w.finishLength(slot, reserved);
  }

  /** flags (8) fixed32, trace_id (9), span_id (10), written only when set, as the oracle does. */
  #spanContext(span: NonNullable<WireRecordExtras["spanContext"]>): void {
    const w = this.#w;
    if (span.traceFlags) {
      w.ensure(1);
      w.byte(0x45);
      w.fixed32(span.traceFlags);
    }
    if (span.traceId) {
      w.ensure(1);
      w.byte(0x4a);
      w.bytes(hexToBinary(span.traceId));
    }
    if (span.spanId) {
      w.ensure(1);
      w.byte(0x52);
      w.bytes(hexToBinary(span.spanId));
    }
  }

  /**
   * [seconds, nanos] as fixed64 nanoseconds, split into 32-bit halves without BigInt (the oracle's
   * arithmetic). `seconds * 1e9` is cached for the last second seen: records of a batch share seconds.
   */
  #hrTime(time: HrTime): void {
    const seconds = time[0];
    if (seconds !== this.#cachedSeconds) {
      // seconds * 1e9 exceeds 2^53; multiply the low 16 bits and the rest of the seconds apart.
      const fromLow = (seconds & 0xffff) * 1e9;
      const fromHigh = ((seconds / 0x10000) >>> 0) * 1e9;
      this.#baseLow = (fromLow >>> 0) + (((fromHigh & 0xffff) * 0x10000) >>> 0);
      this.#baseHigh = Math.floor(fromLow / TWO_POW_32) + ((fromHigh / 0x10000) >>> 0);
      this.#cachedSeconds = seconds;
    }
    const lowWithCarry = this.#baseLow + time[1];
    this.#w.fixed64(lowWithCarry >>> 0, (this.#baseHigh + Math.floor(lowWithCarry / TWO_POW_32)) >>> 0);
  }

  /**
   * A bytes body as AnyValue `string_value`: copied into place once, validated there; invalid UTF-8 is
   * replaced (TextDecoder semantics) and the record counted.
   */
  #utf8Body(bytes: Uint8Array): void {
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
      this.#invalid++;
      this.#anyValue(lossyUtf8.decode(bytes));
      return;
    }
    w.uint32(anyLength);
    w.byte(0x0a);
    w.uint32(n);
    w.pos = start + n;
  }

  /** A length-delimited AnyValue (the caller wrote the tag), by the oracle's type rules. */
  #anyValue(value: unknown): void {
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
      this.#anyValue(item);
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
    this.#attributes(entries, 0x0a);
    w.finishLength(inner, 1);
    w.finishLength(outer, 1);
  }

  /** Every own enumerable key of `attributes` as a KeyValue field with tag byte `tag`, in for-in order. */
  #attributes(attributes: Attributes, tag: number): void {
    for (const key in attributes) {
      if (!hasOwn.call(attributes, key)) continue;
      const value = attributes[key];
      if (
        tag === RECORD_ATTRIBUTES_TAG && typeof value === "string" && value.length <= MAX_CACHED_VALUE_CHARS
      ) {
        this.#cachedStringAttribute(key, value);
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
    this.#anyValue(value);
    w.finishLength(slot, reserved);
  }

  /**
   * A record attribute with a string value, copied whole from a per-key cache of encoded fields: most
   * record attributes repeat (`log.iostream`, `log.file.path`). A key whose values mostly miss (a JSON
   * field holding unique text) stops being cached after its first {@linkcode CACHE_PROBE_LOOKUPS}.
   */
  #cachedStringAttribute(key: string, value: string): void {
    const w = this.#w;
    let cache = this.#values.get(key);
    if (cache === undefined) {
      if (this.#values.size >= MAX_CACHED_KEYS) this.#values.clear();
      cache = { fields: new Map(), lookups: 0, misses: 0 };
      this.#values.set(key, cache);
    }
    const fields = cache.fields;
    if (fields === null) {
      this.#keyValue(key, value, RECORD_ATTRIBUTES_TAG);
      return;
    }
    cache.lookups++;
    const field = fields.get(value);
    if (field !== undefined) {
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

  /** KeyValue.key (1) with its string, then the value tag (2): pre-encoded once per key name. */
  #keyField(key: string): Uint8Array {
    let field = this.#keys.get(key);
    if (field !== undefined) return field;
    const utf8 = new TextEncoder().encode(key);
    const length = varintSize(utf8.length);
    field = new Uint8Array(1 + length + utf8.length + 1);
    field[0] = 0x0a;
    let p = 1;
    let v = utf8.length;
    while (v > 0x7f) {
      field[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    field[p++] = v;
    field.set(utf8, p);
    field[field.length - 1] = 0x12;
    if (this.#keys.size >= MAX_CACHED_KEYS) this.#keys.clear();
    this.#keys.set(key, field);
    return field;
  }
}

/** Hex trace/span ids to bytes exactly as otlp-transformer's `hexToBinary` does (no validation). */
function hexToBinary(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  let offset = 0;
  for (let i = 0; i < hex.length; i += 2) {
    out[offset++] = (hexDigit(hex.charCodeAt(i)) << 4) | hexDigit(hex.charCodeAt(i + 1));
  }
  return out;
}

function hexDigit(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 102) return code - 87;
  return code - 55;
}

/** A standalone string field (tag byte + string), or null for an empty or missing value. */
function stringField(tag: number, value: string | undefined): Uint8Array | null {
  if (!value) return null;
  const bytes = new TextEncoder().encode(value);
  const out = new Uint8Array(1 + varintSize(bytes.length) + bytes.length);
  out[0] = tag;
  let p = 1;
  let v = bytes.length;
  while (v > 0x7f) {
    out[p++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[p++] = v;
  out.set(bytes, p);
  return out;
}
