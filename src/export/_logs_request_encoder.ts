/**
 * The OTLP `ExportLogsServiceRequest` writer for our record shape. Wire layout, field order and value
 * rules are those of `@opentelemetry/otlp-transformer` 0.301.1's `ProtobufLogsSerializer` (its output is
 * canonical protobuf, so ours is byte-identical for the same input; tests/export keeps it as the oracle).
 * See docs/encoding.md.
 *
 * @module
 */

import type { Attributes, HrTime, InstrumentationScope, LogRecord, ResourceRef } from "../record.ts";
import { encodeStringField, ProtoWriter, varintSize } from "./_proto_writer.ts";
import { AnyValueWriter, RECORD_ATTRIBUTES_TAG } from "./_any_value_writer.ts";

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

/** The records of one (resource, scope) pair: spans of encoded `log_records` fields in the record area. */
interface ScopeGroup {
  scope: InstrumentationScope;
  /** The scope's cached encoding. */
  message: CachedMessage;
  /** Start and end offsets in the record area, in pairs; consecutive records share one span. */
  spans: number[];
  /** Bytes of the spans together. */
  bytes: number;
}

interface ResourceGroup {
  resource: ResourceRef;
  /** The resource's cached encoding. */
  message: CachedMessage;
  scopes: ScopeGroup[];
  /** The scope group of this resource's latest record (records of one resource share one scope). */
  last: ScopeGroup | undefined;
}

const TWO_POW_32 = 4294967296;

/**
 * Encodes `ExportLogsServiceRequest` protobuf, caching the encoded resource per `ResourceRef` object (a
 * WeakMap: a new object, i.e. new pod metadata, is encoded afresh), the scope per scope object, and
 * attribute keys by name.
 *
 * A request is built one record at a time: {@linkcode add} encodes the record at once into a record area
 * (so the record object can die young, before a garbage collection would have to copy it), and
 * {@linkcode finish} writes the request around those bytes, grouped by resource and scope. Not
 * reentrant: one request is open at a time; `finish` is synchronous.
 */
export class LogsRequestEncoder {
  /** The record area: `log_records` fields of the open request, in arrival order. */
  #w = new ProtoWriter();
  /** The finished request. */
  #out = new ProtoWriter();
  #resources = new WeakMap<ResourceRef, CachedMessage>();
  #scopes = new WeakMap<InstrumentationScope, CachedMessage>();
  #values = new AnyValueWriter(this.#w);
  #groups: ResourceGroup[] = [];
  #byResource = new Map<ResourceRef, ResourceGroup>();
  #lastGroup: ResourceGroup | undefined;
  #count = 0;
  /** Average encoded record size so far: sizes each record's length slot. */
  #bytesPerRecord = 256;

  /** Records added since the last {@linkcode finish}. */
  get pendingRecords(): number {
    return this.#count;
  }

  /**
   * Encodes `records` as one request. ResourceLogs follow the first-seen order of resource objects,
   * ScopeLogs the first-seen order of scope objects within a resource, records their input order.
   * Throws when a request built with {@linkcode add} is open.
   */
  encode(records: readonly LogRecord[]): EncodedLogsRequest {
    if (this.#count > 0) throw new Error("LogsRequestEncoder.encode called while a request is open");
    for (let i = 0; i < records.length; i++) this.add(records[i]);
    return this.finish();
  }

  /** Adds one record to the open request, encoding it now. */
  add(record: LogRecord): void {
    const w = this.#w;
    if (this.#count === 0) {
      w.reset();
      this.#values.invalidUtf8Records = 0;
    }
    const scopeGroup = this.#scopeGroupOf(record);
    const start = w.pos;
    w.ensure(1);
    w.byte(0x12); // ScopeLogs.log_records (2)
    this.#logRecord(record);
    const end = w.pos;
    const spans = scopeGroup.spans;
    if (spans.length > 0 && spans[spans.length - 1] === start) spans[spans.length - 1] = end;
    else spans.push(start, end);
    scopeGroup.bytes += end - start;
    this.#count++;
  }

  /** Writes the open request around its records and closes it; the bytes are valid until the next finish. */
  finish(): EncodedLogsRequest {
    const out = this.#out;
    out.reset();
    const area = this.#w.buf;
    for (const group of this.#groups) {
      const resource = group.message;
      let resourceBytes = resource.field.length + (resource.schemaUrl?.length ?? 0);
      for (const scopeGroup of group.scopes) {
        const scopeBytes = scopeLength(scopeGroup);
        resourceBytes += 1 + varintSize(scopeBytes) + scopeBytes;
      }
      out.ensure(1);
      out.byte(0x0a); // ExportLogsServiceRequest.resource_logs (1)
      out.uint32(resourceBytes);
      out.raw(resource.field);
      for (const scopeGroup of group.scopes) {
        const scope = scopeGroup.message;
        out.ensure(1);
        out.byte(0x12); // ResourceLogs.scope_logs (2)
        out.uint32(scopeLength(scopeGroup));
        out.raw(scope.field);
        const spans = scopeGroup.spans;
        for (let i = 0; i < spans.length; i += 2) out.raw(area.subarray(spans[i], spans[i + 1]));
        if (scope.schemaUrl !== null) out.raw(scope.schemaUrl);
      }
      if (resource.schemaUrl !== null) out.raw(resource.schemaUrl);
    }
    if (this.#count > 0) this.#bytesPerRecord = Math.max(16, Math.ceil(this.#w.pos / this.#count));
    const invalidUtf8Records = this.#values.invalidUtf8Records;
    this.#values.invalidUtf8Records = 0;
    this.#groups = [];
    this.#byResource.clear();
    this.#lastGroup = undefined;
    this.#count = 0;
    return { bytes: out.buf.subarray(0, out.pos), invalidUtf8Records };
  }

  /** The (resource, scope) group of `record`, created in first-seen order (caching both encodings). */
  #scopeGroupOf(record: LogRecord): ScopeGroup {
    const last = this.#lastGroup;
    let group = last !== undefined && last.resource === record.resource
      ? last
      : this.#byResource.get(record.resource);
    if (group === undefined) {
      group = {
        resource: record.resource,
        message: this.#resource(record.resource),
        scopes: [],
        last: undefined,
      };
      this.#byResource.set(record.resource, group);
      this.#groups.push(group);
    }
    this.#lastGroup = group;
    const scope = record.instrumentationScope;
    let scopeGroup = group.last !== undefined && group.last.scope === scope ? group.last : undefined;
    if (scopeGroup === undefined) {
      for (const candidate of group.scopes) if (candidate.scope === scope) scopeGroup = candidate;
    }
    if (scopeGroup === undefined) {
      scopeGroup = { scope, message: this.#scope(scope), spans: [], bytes: 0 };
      group.scopes.push(scopeGroup);
    }
    group.last = scopeGroup;
    return scopeGroup;
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
    if (resource.attributes) this.#values.attributes(resource.attributes, 0x0a); // Resource.attributes (1)
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
    if (extras.attributes) this.#values.attributes(extras.attributes, 0x1a);
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
    // Room for the slot, both times, a severity and the dropped count: the fixed fields skip their checks.
    w.ensure(48);
    const slot = w.pos;
    w.pos += reserved;
    w.byte(0x09); // time_unix_nano (1) fixed64
    this.#hrTime(record.hrTime);
    const severity = record.severityNumber;
    if (severity !== undefined && severity !== 0) {
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
      if (body instanceof Uint8Array) this.#values.utf8Body(body);
      else this.#values.anyValue(body);
    }
    if (record.attributes) this.#values.attributes(record.attributes, RECORD_ATTRIBUTES_TAG); // attributes (6)
    w.ensure(20);
    w.byte(0x38); // dropped_attributes_count (7), always written
    const dropped = record.droppedAttributesCount;
    if (dropped === 0) w.byte(0);
    else w.int64(dropped);
    const span = (record as LogRecord & WireRecordExtras).spanContext;
    if (span !== undefined) {
      this.#spanContext(span);
      w.ensure(9);
    }
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
   * [seconds, nanos] as fixed64 nanoseconds, split into 32-bit halves without BigInt. The low half is
   * exact from 32-bit arithmetic (`Math.imul` keeps the low 32 bits of the product). The high half is
   * the whole quotient of (total - low) / 2^32: in doubles the total is off by a few ulps at most (under
   * 2^12 for any time below 2^64 ns), far less than the 2^31 that rounding to the nearest whole number
   * tolerates, so `Math.round` makes it exact. Branch-free and cache-free: per record it costs a few
   * multiplications, whether or not records share seconds.
   */
  #hrTime(time: HrTime): void {
    const seconds = time[0];
    const nanos = time[1];
    const lowWord = (Math.imul(seconds, 1e9) + nanos) >>> 0;
    const high = Math.round((seconds * 1e9 + nanos - lowWord) / TWO_POW_32);
    this.#w.fixed64Unchecked(lowWord, high >>> 0);
  }
}

/** Length of a ScopeLogs message: its scope field, its records, its schema URL. */
function scopeLength(group: ScopeGroup): number {
  return group.message.field.length + group.bytes + (group.message.schemaUrl?.length ?? 0);
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
  return value ? encodeStringField(tag, value) : null;
}
