/**
 * Data types that cross stage boundaries. Types only: no code lives here.
 *
 * @module
 */

import type { EncodedAnyValue } from "./encoded_any_value.ts";

/** The CRI stream a line was written to. */
export type Stream = "stdout" | "stderr";

/** Seconds and nanoseconds since the Unix epoch, the shape the OTLP serializer reads. */
export type HrTime = [seconds: number, nanos: number];

/**
 * An OTLP AnyValue. How numbers map to the wire (issue 10; the encoder honours it):
 * - `number`: `int_value` when `Number.isInteger(value)` (and within int64), else `double_value`;
 * - `bigint`: `int_value`, exact (an int64 beyond 2^53, e.g. from a JSON body; always within int64);
 * - a one-element `Float64Array`: `double_value` of element 0. It marks a double whose value happens to
 *   be integral (`1.0` in JSON, a `data_time: 2` timing), which a plain number would send as an int;
 * - `null` (a JSON null): an empty AnyValue;
 * - arrays are `array_value`, plain objects `kvlist_value`.
 * Neither `bigint` nor `Float64Array` can come out of `JSON.parse`, so the markers never collide with
 * parsed data.
 * - an {@linkcode EncodedAnyValue}: the value's protobuf encoding, copied as it is (a JSON object body
 *   the JSON stage transcoded from its bytes).
 */
export type AttrValue =
  | string
  | number
  | boolean
  | null
  | bigint
  | Float64Array
  | EncodedAnyValue
  | AttrValue[]
  | { [key: string]: AttrValue };

/** Attributes keyed by their OTel name. */
export type Attributes = Record<string, AttrValue>;

/**
 * One resource object per container (per pod-metadata version). The OTLP serializer groups records
 * into ResourceLogs by the object identity of this value, so it must be shared, never copied.
 */
export interface ResourceRef {
  readonly attributes: Attributes;
}

/** The instrumentation scope stamped on every record; one shared object for the whole agent. */
export interface InstrumentationScope {
  readonly name: string;
  readonly version: string;
}

/**
 * A log record shaped like sdk-logs `ReadableLogRecord`. The body is either the record's text as UTF-8
 * bytes straight from the file (its own copy, never a view into a reused buffer; it may hold invalid
 * UTF-8, which the encoder replaces and counts; on the wire an AnyValue `string_value`) or an AttrValue
 * (a string, a kvlist object in JSON mode, an array, a number).
 */
export interface LogRecord {
  hrTime: HrTime;
  hrTimeObserved: HrTime;
  body: Uint8Array | AttrValue;
  attributes: Attributes;
  droppedAttributesCount: number;
  resource: ResourceRef;
  instrumentationScope: InstrumentationScope;
  severityNumber?: number;
  severityText?: string;
  /** OTLP LogRecord field 12 `event_name` (eviction event records). */
  eventName?: string;
}

/** Where a record came from: the file and the byte range its lines cover. Travels beside the record. */
export interface RecordOrigin {
  /**
   * The file identity (`dev:ino`) the record was read from; `""` for a record that covers no file bytes
   * (an eviction event record made by a stage: progress has nothing to acknowledge for it).
   */
  readonly fileKey: string;
  /** Byte offset of the record's first line start. */
  readonly startOffset: number;
  /** Byte offset just past its last line (its `"\n"` included). */
  readonly endOffset: number;
  /** The record's size estimate in bytes, as memory accounting and batching count it. */
  readonly sizeBytes: number;
  /** What the file's path says, or null for a file outside the kubelet layout. */
  readonly podPath: PodLogPath | null;
  /**
   * When the read loop read the record (its clock, epoch ms). Stages that need the time use it instead of
   * reading a clock per record (a `Date.now()` costs ~47 ns, about 2% of ingest CPU per call site);
   * absent, they read their own clock.
   */
  readonly readAtMs?: number;
}

/**
 * The read loop's turns. A record lives within the turn that read it: each stage uses it, or copies what
 * it keeps, before the turn ends (the encoder copies a record as it is batched, the eviction rings copy
 * the bodies they keep at the end of the turn). So whatever a turn's records view (the read buffer, the
 * JSON stage's output) is free for reuse once the next turn starts. The tailer counts a turn each time it
 * reuses its read buffer; buffers reused on this count follow the same rule as that buffer.
 */
export class ReadTurns {
  #turn = 0;

  /** The current turn's number. */
  get current(): number {
    return this.#turn;
  }

  /** A new turn starts: the records of earlier turns are gone. */
  next(): void {
    this.#turn++;
  }
}

/** Receives records one at a time, each with its origin. */
export interface RecordSink {
  push(record: LogRecord, origin: RecordOrigin): void;
}

/**
 * A stage of the record chain between the assembler and the batcher. It is built with the next stage
 * (a {@linkcode RecordSink}) and calls only that one. A stage that drops a record on purpose tells
 * progress it is done (so the cursor can pass it) and the loss ledger why; it never calls back up.
 */
export type RecordStage = RecordSink;

/** Where a tailed file is in its life, as `/status` shows it. */
export type FileState =
  | "reading"
  | "waiting_for_descriptor"
  | "rotated_draining"
  | "refused"
  | "quarantined"
  | "idle_closed";

/** One tailed file as the reader side sees it (for `/status`). */
export interface FileStatus {
  readonly path: string;
  /** `dev:ino`. */
  readonly identity: string;
  /** The next byte the reader will read. */
  readonly offset: number;
  readonly sizeBytes: number;
  readonly bytesBehind: number;
  readonly state: FileState;
  readonly namespace: string | null;
  readonly podName: string | null;
}

/** What the path of a kubelet log file says about it. */
export interface PodLogPath {
  /** The path as found under the log root. */
  readonly path: string;
  readonly namespace: string;
  readonly podName: string;
  /** The pod UID, or the static pod's config hash when `isStaticPod`. */
  readonly podUid: string;
  readonly containerName: string;
  /** `<N>.log`: the container's restart count. */
  readonly restartCount: number;
  /** True when the directory holds a config hash (static/mirror pod) instead of a UID. */
  readonly isStaticPod: boolean;
  /** `<ns>_<pod>_<uid>/<container>`: one key per container directory. */
  readonly containerKey: string;
}

/** The record attribute names of training attribution (OTel `gen_ai.training.*`), set by enrich/. */
export const RANK_ATTRIBUTE = "gen_ai.training.rank";
/** See {@linkcode RANK_ATTRIBUTE}. */
export const RANK_SOURCE_ATTRIBUTE = "gen_ai.training.rank.source";
/** See {@linkcode RANK_ATTRIBUTE}. */
export const JOB_ID_ATTRIBUTE = "gen_ai.training.job_id";
