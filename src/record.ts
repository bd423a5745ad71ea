/**
 * Data types that cross stage boundaries. Types only: no code lives here.
 *
 * @module
 */

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
 */
export type AttrValue =
  | string
  | number
  | boolean
  | null
  | bigint
  | Float64Array
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

/** A log record shaped like sdk-logs `ReadableLogRecord`, so the serializer reads it directly. */
export interface LogRecord {
  hrTime: HrTime;
  hrTimeObserved: HrTime;
  /**
   * The record's text as UTF-8 bytes straight from the file (a `Uint8Array`, its own copy), or a value:
   * a string, or a kvlist object when a JSON body was splat into a map (issue 10).
   */
  body: Uint8Array | AttrValue;
  attributes: Attributes;
  droppedAttributesCount: number;
  resource: ResourceRef;
  instrumentationScope: InstrumentationScope;
  severityNumber?: number;
  severityText?: string;
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
