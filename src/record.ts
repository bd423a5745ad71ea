/**
 * Data types that cross stage boundaries. Types only: no code lives here.
 *
 * @module
 */

/** The CRI stream a line was written to. */
export type Stream = "stdout" | "stderr";

/** Seconds and nanoseconds since the Unix epoch, the shape the OTLP serializer reads. */
export type HrTime = [seconds: number, nanos: number];

/** An OTLP attribute value as the serializer accepts it. */
export type AttrValue = string | number | boolean | AttrValue[] | { [key: string]: AttrValue };

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

/** A log record shaped like sdk-logs `ReadableLogRecord`, so the serializer reads it directly. */
export interface LogRecord {
  hrTime: HrTime;
  hrTimeObserved: HrTime;
  body: string;
  attributes: Attributes;
  droppedAttributesCount: number;
  resource: ResourceRef;
  instrumentationScope: InstrumentationScope;
  severityNumber?: number;
  severityText?: string;
  /** OTLP `LogRecord.event_name` (field 12): set on event records such as `k8s.pod.evicted`. */
  eventName?: string;
}

/**
 * Where a record came from: the bytes of one file it covers. An event record made by a stage (an
 * eviction record) has no file: its `fileKey` is the empty string, its offsets 0, and progress has
 * nothing to acknowledge for it.
 */
export interface RecordOrigin {
  /** The file identity the record was read from; `""` for a record that covers no file bytes. */
  fileKey: string;
  /** Byte offset of the record's first byte in the file. */
  startOffset: number;
  /** Byte offset just past the record's last byte. */
  endOffset: number;
  /** Size estimate of the record in memory, for the in-flight ceiling. */
  sizeBytes: number;
  /** What the file's path says (null when the path is not a kubelet pod log path). */
  podPath: PodLogPath | null;
}

/** Receives records one at a time: the next stage, or the batcher at the end of the chain. */
export interface RecordSink {
  push(record: LogRecord, origin: RecordOrigin): void;
}

/** A record stage: sees each record, may change or drop it, and forwards it to the sink it was built with. */
export type RecordStage = RecordSink;

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
