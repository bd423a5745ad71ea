/**
 * Turns an {@linkcode EvictionEvent} into the one OTLP log record that reports it. Pure.
 *
 * The record:
 * - `event_name` `k8s.pod.evicted` / `k8s.pod.preempted` / `k8s.container.oom_killed`, severity WARN (13);
 * - time: the Kubernetes time of the disruption (detection time when it gives none); body: its message;
 * - resource: the pod (the resource of its latest record without the container keys, or the pod's
 *   identity from the detection when none of its records was read);
 * - attributes: `k8s.pod.eviction.reason`, `k8s.pod.eviction.source`, for an OOM kill
 *   `k8s.container.name` and `k8s.container.restart_count` (the killed instance), the rank and job
 *   attribution of the pod's latest record, and `k8s.pod.last_lines`: an array of kvlists
 *   `{ k8s.container.name, k8s.container.restart_count, time, log.iostream, body }`, oldest first,
 *   merged across containers (`time` is RFC 3339 with nanoseconds). `k8s.pod.last_lines.cut_count`
 *   counts bodies cut to `eviction.max_line_size`.
 *
 * @module
 */

import type { Attributes, AttrValue, HrTime, InstrumentationScope, LogRecord } from "../record.ts";
import { msToHr } from "../assemble/mod.ts";
import type { EvictionEvent } from "./eviction_join.ts";
import type { RememberedLine } from "./last_lines.ts";

/** The attribute that tags a record written inside a disruption's window. */
export const EVICTION_REASON_ATTRIBUTE = "k8s.pod.eviction.reason";
/** Which object said so: `pod_status`, `pod_condition`, `container_status` or `event`. */
export const EVICTION_SOURCE_ATTRIBUTE = "k8s.pod.eviction.source";
/** The last lines carried by an event record. */
export const LAST_LINES_ATTRIBUTE = "k8s.pod.last_lines";
/** How many of them had their body cut. */
export const LAST_LINES_CUT_ATTRIBUTE = "k8s.pod.last_lines.cut_count";

/** OTLP severity number of WARN. */
export const SEVERITY_WARN = 13;

/** Record attributes copied from the pod's latest record (rank and job attribution). */
const ATTRIBUTION_KEYS = ["gen_ai.training.rank", "gen_ai.training.rank.source", "gen_ai.training.job_id"];

const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });

/** Options for {@linkcode buildEventRecord}. */
export interface BuildEventRecordOptions {
  scope: InstrumentationScope;
  /** Observed time of the record (ms since the epoch). */
  nowMs: number;
  /** `k8s.node.name` for a resource built from the detection alone; empty to omit. @default "" */
  nodeName?: string;
}

/** The event record of one disruption. */
export function buildEventRecord(event: EvictionEvent, options: BuildEventRecordOptions): LogRecord {
  const { disruption: d, key } = event;
  const attributes: Attributes = {
    [EVICTION_REASON_ATTRIBUTE]: d.reason,
    [EVICTION_SOURCE_ATTRIBUTE]: d.source,
  };
  if (d.containerName !== null) attributes["k8s.container.name"] = d.containerName;
  if (d.restartCount !== null) attributes["k8s.container.restart_count"] = d.restartCount;
  const latest = event.context?.attributes;
  if (latest !== undefined) {
    for (const k of ATTRIBUTION_KEYS) if (Object.hasOwn(latest, k)) attributes[k] = latest[k];
  }
  let cut = 0;
  attributes[LAST_LINES_ATTRIBUTE] = event.lines.map((line) => {
    if (line.isCut) cut++;
    return lineValue(line);
  });
  if (cut > 0) attributes[LAST_LINES_CUT_ATTRIBUTE] = cut;
  return {
    hrTime: msToHr(key.timeMs),
    hrTimeObserved: msToHr(options.nowMs),
    body: d.message !== "" ? d.message : `${d.reason}: ${d.namespace}/${d.podName}`,
    attributes,
    droppedAttributesCount: 0,
    resource: { attributes: podResource(event, options.nodeName ?? "") },
    instrumentationScope: options.scope,
    severityNumber: SEVERITY_WARN,
    severityText: "WARN",
    eventName: d.eventName,
  };
}

function lineValue(line: RememberedLine): AttrValue {
  const value: Record<string, AttrValue> = {
    "k8s.container.name": line.containerName,
    "k8s.container.restart_count": line.restartCount,
    time: rfc3339Nano(line.hrTime),
  };
  if (line.stream !== null) value["log.iostream"] = line.stream;
  // Text bodies go as strings (invalid UTF-8 replaced); a structured body (kvlist) goes as it is.
  value.body = line.body instanceof Uint8Array ? utf8.decode(line.body) : line.body;
  return value;
}

/** The pod's resource: its latest record's without the container keys, or its identity alone. */
function podResource(event: EvictionEvent, nodeName: string): Attributes {
  const d = event.disruption;
  const from = event.context?.resource.attributes;
  if (from !== undefined) {
    const out: Attributes = {};
    for (const [k, v] of Object.entries(from)) {
      if (!k.startsWith("k8s.container.") && !k.startsWith("container.")) out[k] = v;
    }
    return out;
  }
  const out: Attributes = { "k8s.pod.uid": d.podUid };
  if (d.namespace !== "") out["k8s.namespace.name"] = d.namespace;
  if (d.podName !== "") out["k8s.pod.name"] = d.podName;
  if (nodeName !== "") out["k8s.node.name"] = nodeName;
  return out;
}

function rfc3339Nano(hr: HrTime): string {
  const iso = new Date(hr[0] * 1000).toISOString(); // 2026-01-02T03:04:05.000Z
  return `${iso.slice(0, 19)}.${String(hr[1]).padStart(9, "0")}Z`;
}
