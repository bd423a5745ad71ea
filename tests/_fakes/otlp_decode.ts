/**
 * A small hand-written protobuf decoder for OTLP `ExportLogsServiceRequest` (opentelemetry-proto
 * logs/v1, common/v1, resource/v1) and an encoder for `ExportLogsServiceResponse`, for test sinks and
 * bench receivers. Unknown fields are skipped by wire type. Request bodies are first undone from their
 * `Content-Encoding` ({@linkcode decodeContentEncoding}).
 *
 * @module
 */

import { zstdDecompressSync } from "node:zlib";

/**
 * A request body before its `Content-Encoding`: gzip (the runtime's `DecompressionStream`), zstd, or none
 * (null). Throws `Unsupported content encoding: <name>` for any other, which receivers answer with 415.
 */
export async function decodeContentEncoding(
  encoding: string | null,
  bytes: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array> {
  if (encoding === null) return bytes;
  if (encoding === "gzip") {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }
  if (encoding === "zstd") return zstdDecompressSync(bytes);
  throw new Error(`Unsupported content encoding: ${encoding}`);
}

/** One decoded log record. Times are nanoseconds since the epoch. */
export interface DecodedRecord {
  timeUnixNano: bigint;
  observedTimeUnixNano: bigint;
  /** The decoded AnyValue: `undefined` when absent, `null` when empty. */
  body: unknown;
  attributes: Record<string, unknown>;
  severityNumber: number;
  severityText: string;
  /** `event_name`, present only when the record carries one. */
  eventName?: string;
  /** `dropped_attributes_count`, present only when not 0. */
  droppedAttributesCount?: number;
}

/** One decoded ResourceLogs: its resource attributes and its scopes in wire order. */
export interface DecodedResourceLogs {
  resource: Record<string, unknown>;
  scopes: { name: string; version: string; records: DecodedRecord[] }[];
}

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;
const TWO_POW_32 = 4294967296;

/** Strict, and keeps a leading U+FEFF: a string field is given back exactly as sent. */
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** A cursor over one message's bytes; sub-messages get their own reader over a subarray. */
class Reader {
  readonly buf: Uint8Array;
  pos: number;
  readonly end: number;

  constructor(buf: Uint8Array, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  get isAtEnd(): boolean {
    return this.pos >= this.end;
  }

  fail(what: string): never {
    throw new Error(`Malformed OTLP protobuf: ${what} at byte ${this.pos}`);
  }

  /** A varint of up to 32 significant bits (tags, lengths, enums, counts). */
  uint32(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (this.pos >= this.end) this.fail("truncated varint");
      const byte = this.buf[this.pos++];
      result += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return result > 0xffffffff ? result % TWO_POW_32 : result;
    }
    // Longer encodings (sign-extended negatives) keep only their low 32 bits, as protobuf does.
    this.skipVarintRest();
    return result % TWO_POW_32;
  }

  /** A full 64-bit varint as two unsigned 32-bit halves. */
  varint64(): [low: number, high: number] {
    let low = 0;
    let high = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail("truncated varint");
      const byte = this.buf[this.pos++];
      const bits = byte & 0x7f;
      if (i < 4) low |= bits << (7 * i);
      else if (i === 4) {
        low |= (bits & 0x0f) << 28;
        high |= bits >> 4;
      } else high |= bits << (7 * i - 32);
      if (byte < 0x80) return [low >>> 0, high >>> 0];
    }
    return this.fail("varint longer than 10 bytes");
  }

  skipVarintRest(): void {
    for (let i = 0; i < 5; i++) {
      if (this.pos >= this.end) this.fail("truncated varint");
      if (this.buf[this.pos++] < 0x80) return;
    }
    this.fail("varint longer than 10 bytes");
  }

  fixed64(): bigint {
    if (this.pos + 8 > this.end) this.fail("truncated fixed64");
    const b = this.buf;
    const p = this.pos;
    const low = (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
    const high = (b[p + 4] | (b[p + 5] << 8) | (b[p + 6] << 16) | (b[p + 7] << 24)) >>> 0;
    this.pos = p + 8;
    return (BigInt(high) << 32n) | BigInt(low);
  }

  double(): number {
    if (this.pos + 8 > this.end) this.fail("truncated double");
    const view = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8);
    this.pos += 8;
    return view.getFloat64(0, true);
  }

  /** Reads a length prefix and returns a reader over that many bytes, moving past them. */
  sub(): Reader {
    const length = this.uint32();
    const start = this.pos;
    if (start + length > this.end) this.fail(`length ${length} past the end`);
    this.pos = start + length;
    return new Reader(this.buf, start, start + length);
  }

  bytes(): Uint8Array {
    const r = this.sub();
    return this.buf.slice(r.pos, r.end);
  }

  string(): string {
    const r = this.sub();
    if (r.end === r.pos) return "";
    try {
      return utf8.decode(this.buf.subarray(r.pos, r.end));
    } catch {
      return this.fail("invalid UTF-8 in a string");
    }
  }

  skip(wireType: number): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.varint64();
        return;
      case WIRE_I64:
        if (this.pos + 8 > this.end) this.fail("truncated fixed64");
        this.pos += 8;
        return;
      case WIRE_LEN:
        this.sub();
        return;
      case WIRE_I32:
        if (this.pos + 4 > this.end) this.fail("truncated fixed32");
        this.pos += 4;
        return;
      default:
        this.fail(`unsupported wire type ${wireType}`);
    }
  }

  /** Returns true when the wire type is the one the field number requires; fails otherwise. */
  expect(wireType: number, wanted: number): boolean {
    if (wireType === wanted) return true;
    this.fail(`wire type ${wireType} where ${wanted} was expected`);
  }
}

/** A signed int64 from two halves: a number when safe, else a bigint. */
function int64(low: number, high: number): number | bigint {
  if (high < 0x200000) return high * TWO_POW_32 + low;
  if (high >= 0xffe00000 && (high > 0xffe00000 || low > 0)) {
    // Negative and above -2^53: two's complement fits a double exactly.
    return (high - TWO_POW_32) * TWO_POW_32 + low;
  }
  return BigInt.asIntN(64, (BigInt(high) << 32n) | BigInt(low));
}

function setKey(target: Record<string, unknown>, key: string, value: unknown): void {
  // A plain assignment of "__proto__" would replace the prototype instead of adding a key.
  if (key === "__proto__") {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else target[key] = value;
}

function readAnyValue(r: Reader): unknown {
  let value: unknown = null;
  while (!r.isAtEnd) {
    const tag = r.uint32();
    const wireType = tag & 7;
    switch (tag >>> 3) {
      case 1:
        r.expect(wireType, WIRE_LEN);
        value = r.string();
        break;
      case 2: {
        r.expect(wireType, WIRE_VARINT);
        const [low, high] = r.varint64();
        value = low !== 0 || high !== 0;
        break;
      }
      case 3: {
        r.expect(wireType, WIRE_VARINT);
        const [low, high] = r.varint64();
        value = int64(low, high);
        break;
      }
      case 4:
        r.expect(wireType, WIRE_I64);
        value = r.double();
        break;
      case 5:
        r.expect(wireType, WIRE_LEN);
        value = readArray(r.sub());
        break;
      case 6:
        r.expect(wireType, WIRE_LEN);
        value = readKeyValues(r.sub(), 1);
        break;
      case 7:
        r.expect(wireType, WIRE_LEN);
        value = r.bytes();
        break;
      default:
        r.skip(wireType);
    }
  }
  return value;
}

/** ArrayValue { repeated AnyValue values = 1 } */
function readArray(r: Reader): unknown[] {
  const values: unknown[] = [];
  while (!r.isAtEnd) {
    const tag = r.uint32();
    if (tag >>> 3 === 1 && r.expect(tag & 7, WIRE_LEN)) values.push(readAnyValue(r.sub()));
    else r.skip(tag & 7);
  }
  return values;
}

/** Reads every `repeated KeyValue` with field number `field` of a message into one object. */
function readKeyValues(r: Reader, field: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  while (!r.isAtEnd) {
    const tag = r.uint32();
    if (tag >>> 3 === field && r.expect(tag & 7, WIRE_LEN)) readKeyValueInto(r.sub(), out);
    else r.skip(tag & 7);
  }
  return out;
}

/** KeyValue { string key = 1; AnyValue value = 2 } */
function readKeyValueInto(r: Reader, out: Record<string, unknown>): void {
  let key = "";
  let value: unknown = null;
  while (!r.isAtEnd) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === 1 && r.expect(tag & 7, WIRE_LEN)) key = r.string();
    else if (field === 2 && r.expect(tag & 7, WIRE_LEN)) value = readAnyValue(r.sub());
    else r.skip(tag & 7);
  }
  setKey(out, key, value);
}

/**
 * LogRecord fields 1..12; event name and a non-zero dropped count are kept, trace context and flags are
 * checked and skipped.
 */
function readLogRecord(r: Reader): DecodedRecord {
  const record: DecodedRecord = {
    timeUnixNano: 0n,
    observedTimeUnixNano: 0n,
    body: undefined,
    attributes: {},
    severityNumber: 0,
    severityText: "",
  };
  while (!r.isAtEnd) {
    const tag = r.uint32();
    const wireType = tag & 7;
    switch (tag >>> 3) {
      case 1:
        r.expect(wireType, WIRE_I64);
        record.timeUnixNano = r.fixed64();
        break;
      case 2:
        r.expect(wireType, WIRE_VARINT);
        record.severityNumber = r.uint32() | 0;
        break;
      case 3:
        r.expect(wireType, WIRE_LEN);
        record.severityText = r.string();
        break;
      case 5:
        r.expect(wireType, WIRE_LEN);
        record.body = readAnyValue(r.sub());
        break;
      case 6:
        r.expect(wireType, WIRE_LEN);
        readKeyValueInto(r.sub(), record.attributes);
        break;
      case 7: {
        r.expect(wireType, WIRE_VARINT);
        const dropped = r.uint32();
        if (dropped !== 0) record.droppedAttributesCount = dropped;
        else delete record.droppedAttributesCount;
        break;
      }
      case 8: // flags fixed32
        r.expect(wireType, WIRE_I32);
        r.skip(wireType);
        break;
      case 9: // trace_id bytes
      case 10: // span_id bytes
        r.expect(wireType, WIRE_LEN);
        r.skip(wireType);
        break;
      case 12:
        r.expect(wireType, WIRE_LEN);
        record.eventName = r.string();
        break;
      case 11:
        r.expect(wireType, WIRE_I64);
        record.observedTimeUnixNano = r.fixed64();
        break;
      default:
        r.skip(wireType);
    }
  }
  return record;
}

/** InstrumentationScope { name = 1; version = 2; attributes = 3; dropped = 4 } */
function readScope(r: Reader): { name: string; version: string } {
  const scope = { name: "", version: "" };
  while (!r.isAtEnd) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === 1 && r.expect(tag & 7, WIRE_LEN)) scope.name = r.string();
    else if (field === 2 && r.expect(tag & 7, WIRE_LEN)) scope.version = r.string();
    else r.skip(tag & 7);
  }
  return scope;
}

/** ScopeLogs { scope = 1; repeated LogRecord log_records = 2; schema_url = 3 } */
function readScopeLogs(r: Reader): DecodedResourceLogs["scopes"][number] {
  let scope = { name: "", version: "" };
  const records: DecodedRecord[] = [];
  while (!r.isAtEnd) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === 1 && r.expect(tag & 7, WIRE_LEN)) scope = readScope(r.sub());
    else if (field === 2 && r.expect(tag & 7, WIRE_LEN)) records.push(readLogRecord(r.sub()));
    else r.skip(tag & 7);
  }
  return { name: scope.name, version: scope.version, records };
}

/** ResourceLogs { Resource resource = 1; repeated ScopeLogs scope_logs = 2; schema_url = 3 } */
function readResourceLogs(r: Reader): DecodedResourceLogs {
  const out: DecodedResourceLogs = { resource: {}, scopes: [] };
  while (!r.isAtEnd) {
    const tag = r.uint32();
    const field = tag >>> 3;
    // Resource { repeated KeyValue attributes = 1; dropped_attributes_count = 2 }
    if (field === 1 && r.expect(tag & 7, WIRE_LEN)) out.resource = readKeyValues(r.sub(), 1);
    else if (field === 2 && r.expect(tag & 7, WIRE_LEN)) out.scopes.push(readScopeLogs(r.sub()));
    else r.skip(tag & 7);
  }
  return out;
}

/**
 * Decodes an `ExportLogsServiceRequest` (already gunzipped). Int values decode as numbers when they are
 * safe integers, else as bigints; bytes values as `Uint8Array`.
 *
 * @throws {Error} "Malformed OTLP protobuf: ..." when the bytes are not a valid request.
 * @example
 * ```ts
 * const [first] = decodeLogsRequest(body);
 * first.scopes[0].records[0].body; // "hello"
 * ```
 */
export function decodeLogsRequest(bytes: Uint8Array): DecodedResourceLogs[] {
  const r = new Reader(bytes);
  const out: DecodedResourceLogs[] = [];
  while (!r.isAtEnd) {
    const tag = r.uint32();
    if (tag >>> 3 === 1 && r.expect(tag & 7, WIRE_LEN)) out.push(readResourceLogs(r.sub()));
    else r.skip(tag & 7);
  }
  return out;
}

function pushVarint(out: number[], value: number): void {
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

function pushLengthDelimited(out: number[], field: number, payload: ArrayLike<number>): void {
  pushVarint(out, (field << 3) | WIRE_LEN);
  pushVarint(out, payload.length);
  for (let i = 0; i < payload.length; i++) out.push(payload[i]);
}

/**
 * Encodes `ExportLogsServiceResponse{partial_success{rejected_log_records, error_message}}`. With
 * nothing rejected and no message it is the empty message (full success).
 *
 * @example
 * ```ts
 * encodeLogsResponse(2, "2 records too old"); // partial success
 * ```
 */
export function encodeLogsResponse(rejected: number, message: string): Uint8Array<ArrayBuffer> {
  if (!Number.isSafeInteger(rejected) || rejected < 0) {
    throw new RangeError(`Invalid rejected record count: ${rejected}`);
  }
  if (rejected === 0 && message === "") return new Uint8Array(0);
  const partial: number[] = [];
  if (rejected > 0) {
    pushVarint(partial, (1 << 3) | WIRE_VARINT);
    pushVarint(partial, rejected);
  }
  if (message !== "") pushLengthDelimited(partial, 2, new TextEncoder().encode(message));
  const out: number[] = [];
  pushLengthDelimited(out, 1, partial);
  return new Uint8Array(out);
}
