/**
 * OTLP protobuf encoding of log records (our own writer, byte-identical to `@opentelemetry/otlp-transformer`
 * for the same input; the transformer stays in the tests as the oracle) and decoding of the endpoint's
 * answer. Neither imports the transformer: docs/encoding.md has the decision and the numbers.
 *
 * @module
 */

import type { LogRecord } from "../record.ts";
import { type EncodedLogsRequest, LogsRequestEncoder } from "./_logs_request_encoder.ts";

export { type EncodedLogsRequest, LogsRequestEncoder };

let sharedEncoder: LogsRequestEncoder | undefined;

/**
 * Encodes `records` as one OTLP `ExportLogsServiceRequest` into a fresh buffer. Records are grouped into
 * ResourceLogs by the object identity of `record.resource` (and ScopeLogs by `record.instrumentationScope`),
 * in first-seen order, so callers share one resource object per container. A `Uint8Array` body is sent
 * as `string_value` with invalid UTF-8 replaced by U+FFFD; use {@linkcode LogsRequestEncoder} to learn
 * how many records needed that, and to encode without the copy.
 *
 * @example
 * ```ts
 * const resource = { attributes: { "k8s.pod.name": "web-0" } };
 * const scope = { name: "containerstdout", version: "0.1.0" };
 * const bytes = encodeLogsRequest([{
 *   hrTime: [1700000000, 0], hrTimeObserved: [1700000000, 5], body: new TextEncoder().encode("hello"),
 *   attributes: {}, droppedAttributesCount: 0, resource, instrumentationScope: scope,
 * }]);
 * ```
 */
export function encodeLogsRequest(records: readonly LogRecord[]): Uint8Array<ArrayBuffer> {
  sharedEncoder ??= new LogsRequestEncoder();
  return sharedEncoder.encode(records).bytes.slice();
}

/** What an OTLP `ExportLogsServiceResponse` says, or why it could not be read. */
export type LogsResponseResult =
  | { ok: true; rejectedLogRecords: number; errorMessage: string }
  | { ok: false; reason: "malformed_response"; detail: string };

const lenientUtf8 = new TextDecoder();

/**
 * Decodes an `ExportLogsServiceResponse { ExportLogsPartialSuccess partial_success = 1 }` with
 * `ExportLogsPartialSuccess { int64 rejected_log_records = 1; string error_message = 2 }`; unknown fields
 * are skipped. An empty body means full success. A body that is not a valid response (truncated, a group
 * wire type, a rejected count that is negative or above 2^53) is a `malformed_response` result, never a
 * throw.
 *
 * @example
 * ```ts
 * decodeLogsResponse(new Uint8Array()); // { ok: true, rejectedLogRecords: 0, errorMessage: "" }
 * ```
 */
export function decodeLogsResponse(bytes: Uint8Array): LogsResponseResult {
  const response = { rejected: 0, message: "" };
  const failure = readMessage(bytes, 0, bytes.length, (field, wireType, reader) => {
    if (field !== 1 || wireType !== 2) return false;
    const end = reader.lengthEnd();
    if (end < 0) return "truncated partial_success";
    const inner = readMessage(bytes, reader.pos, end, (innerField, innerType, innerReader) => {
      if (innerField === 1 && innerType === 0) {
        response.rejected = innerReader.varint();
        return response.rejected < 0 ? "truncated varint" : true;
      }
      if (innerField === 2 && innerType === 2) {
        const stringEnd = innerReader.lengthEnd();
        if (stringEnd < 0) return "truncated error_message";
        response.message = lenientUtf8.decode(bytes.subarray(innerReader.pos, stringEnd));
        innerReader.pos = stringEnd;
        return true;
      }
      return false;
    });
    reader.pos = end;
    return inner ?? true;
  });
  if (failure !== undefined) return { ok: false, reason: "malformed_response", detail: failure };
  if (!Number.isSafeInteger(response.rejected)) {
    return { ok: false, reason: "malformed_response", detail: `rejected_log_records ${response.rejected}` };
  }
  return { ok: true, rejectedLogRecords: response.rejected, errorMessage: response.message };
}

/** A position in a response body with the two reads a response needs. */
class ResponseReader {
  pos: number;
  readonly #bytes: Uint8Array;
  readonly #end: number;

  constructor(bytes: Uint8Array, pos: number, end: number) {
    this.#bytes = bytes;
    this.pos = pos;
    this.#end = end;
  }

  /** A varint as a number (exact below 2^53, like the transformer's reader), or -1 when truncated. */
  varint(): number {
    let result = 0;
    for (let shift = 0; this.pos < this.#end; shift += 7) {
      const byte = this.#bytes[this.pos++];
      result += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return result;
    }
    return -1;
  }

  /** Reads a length prefix and returns where those bytes end, or -1 when they run past the message. */
  lengthEnd(): number {
    const length = this.varint();
    if (length < 0 || this.pos + length > this.#end) return -1;
    return this.pos + length;
  }
}

/**
 * Walks the fields of `bytes[start, end)`; `onField` reads a field it knows (true), declines it (false:
 * skipped by wire type) or names what is wrong (a string). Returns the first problem, or undefined.
 */
function readMessage(
  bytes: Uint8Array,
  start: number,
  end: number,
  onField: (field: number, wireType: number, reader: ResponseReader) => boolean | string,
): string | undefined {
  const reader = new ResponseReader(bytes, start, end);
  while (reader.pos < end) {
    const tag = reader.varint();
    if (tag < 0) return "truncated tag";
    const field = Math.floor(tag / 8);
    const wireType = tag % 8;
    const handled = onField(field, wireType, reader);
    if (typeof handled === "string") return handled;
    if (handled) continue;
    const skipped = skipField(reader, wireType, end);
    if (skipped !== undefined) return skipped;
  }
  return undefined;
}

function skipField(reader: ResponseReader, wireType: number, end: number): string | undefined {
  switch (wireType) {
    case 0:
      return reader.varint() < 0 ? "truncated varint" : undefined;
    case 1:
    case 5: {
      const size = wireType === 1 ? 8 : 4;
      if (reader.pos + size > end) return "truncated fixed field";
      reader.pos += size;
      return undefined;
    }
    case 2: {
      const fieldEnd = reader.lengthEnd();
      if (fieldEnd < 0) return "truncated length-delimited field";
      reader.pos = fieldEnd;
      return undefined;
    }
    default:
      return `unsupported wire type ${wireType}`;
  }
}
