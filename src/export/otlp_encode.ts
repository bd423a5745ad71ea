/**
 * OTLP protobuf encoding of log records and decoding of the endpoint's answer, over the pinned
 * `@opentelemetry/otlp-transformer` serializer.
 *
 * @module
 */

import { ProtobufLogsSerializer } from "@opentelemetry/otlp-transformer";
import type { LogRecord } from "../record.ts";

type SerializerRecords = Parameters<typeof ProtobufLogsSerializer.serializeRequest>[0];
type SerializerRecord = SerializerRecords[number];

/**
 * Compile-time proof that every field the serializer reads from a record exists on {@linkcode LogRecord}
 * with a type it accepts. `resource.attributes` is left out: the serializer types it as flat OTel
 * attributes, but its writer encodes nested objects as a kvlist, which our resources use.
 */
type ReadFields =
  | "hrTime"
  | "hrTimeObserved"
  | "attributes"
  | "droppedAttributesCount"
  | "severityNumber"
  | "severityText";
type FieldsFit = Pick<LogRecord, ReadFields> extends Pick<SerializerRecord, ReadFields> ? true : never;
type ScopeFits = LogRecord["instrumentationScope"] extends Pick<
  SerializerRecord["instrumentationScope"],
  "name" | "version"
> ? true
  : never;
const RECORD_SHAPE_FITS: FieldsFit & ScopeFits = true;
void RECORD_SHAPE_FITS;

/**
 * Encodes `records` as one OTLP `ExportLogsServiceRequest`. Records are grouped into ResourceLogs by the
 * object identity of `record.resource` (and ScopeLogs by `record.instrumentationScope`), in first-seen
 * order, so callers share one resource object per container.
 *
 * @example
 * ```ts
 * const resource = { attributes: { "k8s.pod.name": "web-0" } };
 * const scope = { name: "containerstdout", version: "0.1.0" };
 * const bytes = encodeLogsRequest([{
 *   hrTime: [1700000000, 0], hrTimeObserved: [1700000000, 5], body: "hello", attributes: {},
 *   droppedAttributesCount: 0, resource, instrumentationScope: scope,
 * }]);
 * ```
 */
export function encodeLogsRequest(records: readonly LogRecord[]): Uint8Array<ArrayBuffer> {
  const bytes = ProtobufLogsSerializer.serializeRequest(
    withTextBodies(records) as unknown as SerializerRecords,
  );
  if (bytes === undefined) throw new Error(`OTLP serializer returned nothing: records ${records.length}`);
  // The writer allocates a plain ArrayBuffer; TS 6 only knows it as ArrayBufferLike, which fetch refuses.
  return bytes as Uint8Array<ArrayBuffer>;
}

// Throwaway shim until the issue 9 encoder lands (its otlp_encode.ts replaces this file): the old
// serializer only knows string bodies, so a UTF-8 byte body is decoded right before it. Non-fatal
// decoding replaces invalid sequences with U+FFFD, so the wire stays a valid `string_value`.
const bodyDecoder = new TextDecoder("utf-8", { ignoreBOM: true });

function withTextBodies(records: readonly LogRecord[]): readonly LogRecord[] {
  let out: LogRecord[] | null = null;
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    if (!(r.body instanceof Uint8Array)) continue;
    out ??= records.slice();
    out[i] = { ...r, body: bodyDecoder.decode(r.body) };
  }
  return out ?? records;
}

/** What an OTLP `ExportLogsServiceResponse` says, or why it could not be read. */
export type LogsResponseResult =
  | { ok: true; rejectedLogRecords: number; errorMessage: string }
  | { ok: false; reason: "malformed_response"; detail: string };

/**
 * Decodes an `ExportLogsServiceResponse`. An empty body means full success. A body that is not a valid
 * response is a `malformed_response` result, never a throw.
 *
 * @example
 * ```ts
 * decodeLogsResponse(new Uint8Array()); // { ok: true, rejectedLogRecords: 0, errorMessage: "" }
 * ```
 */
export function decodeLogsResponse(bytes: Uint8Array): LogsResponseResult {
  try {
    const response = ProtobufLogsSerializer.deserializeResponse(bytes);
    const rejected = response.partialSuccess?.rejectedLogRecords ?? 0;
    if (!Number.isSafeInteger(rejected) || rejected < 0) {
      return { ok: false, reason: "malformed_response", detail: `rejected_log_records ${rejected}` };
    }
    return {
      ok: true,
      rejectedLogRecords: rejected,
      errorMessage: response.partialSuccess?.errorMessage ?? "",
    };
  } catch (thrown) {
    const detail = thrown instanceof Error ? thrown.message : String(thrown);
    return { ok: false, reason: "malformed_response", detail };
  }
}
