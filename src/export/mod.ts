/**
 * The export stage: OTLP protobuf encoding and the OTLP/HTTP exporter with retry.
 *
 * @module
 */

export { EncodedAnyValue } from "../encoded_any_value.ts";
export { type BodyCodec, BodyCompressor, compressLevel1, gzipLevel1 } from "./compress.ts";
export { ProtoWriter, putVarint, varintSize } from "./_proto_writer.ts";
export { utf8SequenceLength } from "./_utf8.ts";
export {
  decodeLogsResponse,
  type EncodedLogsRequest,
  encodeLogsRequest,
  LogsRequestEncoder,
  type LogsResponseResult,
} from "./otlp_encode.ts";
export {
  type ExportDropReason,
  type ExportOutcome,
  type ExportRequestOutcome,
  type ExportRetryReason,
  OtlpExporter,
  type OtlpExporterOptions,
} from "./otlp_exporter.ts";
