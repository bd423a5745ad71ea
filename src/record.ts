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

/**
 * A log record shaped like sdk-logs `ReadableLogRecord` (the OTLP encoder's input).
 *
 * `body` is a `Uint8Array` when it is the record's text as UTF-8 bytes straight from the file (its own
 * copy; it may hold invalid UTF-8, which the encoder replaces with U+FFFD and counts); on the wire it is
 * an AnyValue `string_value`, never `bytes_value`. Any other body is an AttrValue: a string, a kvlist
 * object, an array, a number (int vs double by the AttrValue rules) or a boolean.
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
  /** OTLP LogRecord `event_name` (field 12), for event records such as evictions. */
  eventName?: string;
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
