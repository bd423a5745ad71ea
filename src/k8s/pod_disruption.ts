/**
 * Recognises the end of a pod or container that a training team needs to see next to its last lines:
 * an eviction (kubelet node pressure, the Eviction API, taint manager), a preemption (scheduler or
 * kubelet), or an OOM kill of a container. Pure: wire objects in (a Pod or a core/v1 Event), a list of
 * {@linkcode Disruption}s out. No I/O and no clock.
 *
 * @module
 */

/** The OTLP `event_name` of the record emitted for a disruption. */
export type DisruptionEventName = "k8s.pod.evicted" | "k8s.pod.preempted" | "k8s.container.oom_killed";

/** Which part of which object said so. */
export type DisruptionSource = "pod_status" | "pod_condition" | "container_status" | "event";

/** One detected eviction, preemption or OOM kill. */
export interface Disruption {
  readonly eventName: DisruptionEventName;
  /**
   * The Kubernetes reason: `Evicted`, `EvictionByEvictionAPI`, `PreemptionByScheduler`,
   * `DeletionByTaintManager`, `TerminationByKubelet`, `OOMKilled`, or an Event reason (`Preempted`,
   * `Preempting`, `OOMKilling`, `Killing`).
   */
  readonly reason: string;
  /** The Kubernetes message (may be empty). */
  readonly message: string;
  readonly source: DisruptionSource;
  readonly podUid: string;
  readonly namespace: string;
  readonly podName: string;
  /** The container, for an OOM kill; null for a pod-level disruption or an OOM kill without one. */
  readonly containerName: string | null;
  /** The killed container instance (`<N>.log`), for an OOM kill when known. */
  readonly restartCount: number | null;
  /** When it happened per Kubernetes (ms since the epoch); null when the object does not say. */
  readonly timeMs: number | null;
  /** The resolution of `timeMs`: 1000 for RFC 3339 times with whole seconds, else 1. */
  readonly timePrecisionMs: number;
}

/** The reasons of core/v1 Events that are read (`events.enabled`). */
export const DISRUPTION_EVENT_REASONS: readonly string[] = [
  "Evicted",
  "Preempted",
  "Preempting",
  "OOMKilling",
  "Killing",
];

const CONDITION_EVENT: Readonly<Record<string, DisruptionEventName>> = {
  EvictionByEvictionAPI: "k8s.pod.evicted",
  PreemptionByScheduler: "k8s.pod.preempted",
  DeletionByTaintManager: "k8s.pod.evicted",
  TerminationByKubelet: "k8s.pod.evicted",
};

interface WireTerminated {
  reason?: unknown;
  message?: unknown;
  exitCode?: unknown;
  finishedAt?: unknown;
}

interface WireContainerStatus {
  name?: unknown;
  restartCount?: unknown;
  state?: { terminated?: WireTerminated };
  lastState?: { terminated?: WireTerminated };
}

interface WireStatusPod {
  metadata?: { uid?: unknown; name?: unknown; namespace?: unknown };
  status?: {
    reason?: unknown;
    message?: unknown;
    conditions?: Array<
      { type?: unknown; status?: unknown; reason?: unknown; message?: unknown; lastTransitionTime?: unknown }
    >;
    containerStatuses?: WireContainerStatus[];
    initContainerStatuses?: WireContainerStatus[];
  };
}

interface PodIdentity {
  podUid: string;
  namespace: string;
  podName: string;
}

/**
 * Every disruption a pod object shows: `status.reason: Evicted`, a `DisruptionTarget=True` condition,
 * and each container whose current or last termination is `OOMKilled`. Repeated sightings of the same
 * pod give the same disruptions; the eviction join deduplicates them.
 *
 * @example
 * ```ts
 * detectPodDisruptions({ metadata: { uid: "u", name: "p", namespace: "ns" }, status: { reason: "Evicted" } });
 * // [{ eventName: "k8s.pod.evicted", reason: "Evicted", source: "pod_status", ... }]
 * ```
 */
export function detectPodDisruptions(wire: unknown): Disruption[] {
  if (typeof wire !== "object" || wire === null) return [];
  const pod = wire as WireStatusPod;
  const meta = pod.metadata ?? {};
  if (!isText(meta.uid) || !isText(meta.name) || !isText(meta.namespace)) return [];
  const status = pod.status;
  if (typeof status !== "object" || status === null) return [];
  const id: PodIdentity = { podUid: meta.uid, namespace: meta.namespace, podName: meta.name };
  const found: Disruption[] = [];
  const condition = disruptionCondition(status.conditions);
  if (condition !== null) {
    const eventName = CONDITION_EVENT[condition.reason] ?? "k8s.pod.evicted";
    const time = parseTime(condition.lastTransitionTime);
    found.push(podLevel(id, eventName, condition.reason, text(condition.message), "pod_condition", time));
  }
  if (status.reason === "Evicted") {
    const time = condition === null ? latestFinish(status.containerStatuses) : null;
    found.push(podLevel(id, "k8s.pod.evicted", "Evicted", text(status.message), "pod_status", time));
  }
  for (const list of [status.containerStatuses, status.initContainerStatuses]) {
    if (!Array.isArray(list)) continue;
    for (const c of list) found.push(...oomKills(id, c));
  }
  return found;
}

function disruptionCondition(
  conditions: NonNullable<WireStatusPod["status"]>["conditions"],
): { reason: string; message: unknown; lastTransitionTime: unknown } | null {
  if (!Array.isArray(conditions)) return null;
  for (const c of conditions) {
    if (typeof c !== "object" || c === null) continue;
    if (c.type === "DisruptionTarget" && c.status === "True") {
      const reason = isText(c.reason) ? c.reason : "DisruptionTarget";
      return { reason, message: c.message, lastTransitionTime: c.lastTransitionTime };
    }
  }
  return null;
}

function oomKills(id: PodIdentity, c: WireContainerStatus): Disruption[] {
  if (typeof c !== "object" || c === null || !isText(c.name)) return [];
  const restarts = typeof c.restartCount === "number" && c.restartCount >= 0 ? c.restartCount : null;
  const out: Disruption[] = [];
  // lastState is the previous instance: `<restartCount - 1>.log`; state is the current one.
  const last = c.lastState?.terminated;
  if (isOom(last)) out.push(oom(id, c.name, restarts === null ? null : Math.max(0, restarts - 1), last));
  const current = c.state?.terminated;
  if (isOom(current)) out.push(oom(id, c.name, restarts, current));
  return out;
}

function isOom(t: WireTerminated | undefined): t is WireTerminated {
  return typeof t === "object" && t !== null && t.reason === "OOMKilled";
}

function oom(id: PodIdentity, container: string, instance: number | null, t: WireTerminated): Disruption {
  const code = typeof t.exitCode === "number" ? ` (exit code ${t.exitCode})` : "";
  const message = text(t.message) !== "" ? text(t.message) : `Container ${container} was OOM-killed${code}`;
  const time = parseTime(t.finishedAt);
  return {
    eventName: "k8s.container.oom_killed",
    reason: "OOMKilled",
    message,
    source: "container_status",
    ...id,
    containerName: container,
    restartCount: instance,
    timeMs: time?.ms ?? null,
    timePrecisionMs: time?.precisionMs ?? 1,
  };
}

function podLevel(
  id: PodIdentity,
  eventName: DisruptionEventName,
  reason: string,
  message: string,
  source: DisruptionSource,
  time: ParsedTime | null,
): Disruption {
  return {
    eventName,
    reason,
    message,
    source,
    ...id,
    containerName: null,
    restartCount: null,
    timeMs: time?.ms ?? null,
    timePrecisionMs: time?.precisionMs ?? 1,
  };
}

function latestFinish(list: WireContainerStatus[] | undefined): ParsedTime | null {
  if (!Array.isArray(list)) return null;
  let latest: ParsedTime | null = null;
  for (const c of list) {
    const t = parseTime(c?.state?.terminated?.finishedAt);
    if (t !== null && (latest === null || t.ms > latest.ms)) latest = t;
  }
  return latest;
}

interface WireEvent {
  reason?: unknown;
  message?: unknown;
  action?: unknown;
  involvedObject?: { kind?: unknown; uid?: unknown; name?: unknown; namespace?: unknown };
  eventTime?: unknown;
  lastTimestamp?: unknown;
  firstTimestamp?: unknown;
  metadata?: { creationTimestamp?: unknown };
}

/** Why a core/v1 Event gave no disruption. */
export type EventIgnoredReason = "not_an_event" | "other_reason" | "no_pod" | "killing_without_cause";

/** The result of {@linkcode detectEventDisruption}. */
export type EventDisruptionResult =
  | { ok: true; value: Disruption }
  | { ok: false; reason: EventIgnoredReason };

// The memory cgroup of the killed task, as the kernel's oom-kill line names it (cgroup v1 and systemd).
const POD_CGROUP_RE = /pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})/;

/**
 * The disruption a core/v1 Event reports, if any: `Evicted` (kubelet), `Preempted` / `Preempting`
 * (scheduler, kubelet critical-pod admission), `OOMKilling` (node-problem-detector on the Node; the pod
 * is found from the memory cgroup in the kernel message, when present), and `Killing` only when its
 * message gives eviction, preemption or OOM as the cause (a plain "Stopping container" says nothing).
 */
export function detectEventDisruption(wire: unknown): EventDisruptionResult {
  if (typeof wire !== "object" || wire === null) return { ok: false, reason: "not_an_event" };
  const event = wire as WireEvent;
  const reason = text(event.reason);
  const message = text(event.message);
  const time = parseTime(event.eventTime) ?? parseTime(event.lastTimestamp) ??
    parseTime(event.firstTimestamp) ?? parseTime(event.metadata?.creationTimestamp);
  const obj = event.involvedObject ?? {};
  let eventName: DisruptionEventName;
  if (reason === "Evicted") eventName = "k8s.pod.evicted";
  else if (reason === "Preempted" || reason === "Preempting") eventName = "k8s.pod.preempted";
  else if (reason === "OOMKilling") return oomKillingEvent(message, time);
  else if (reason === "Killing") {
    const cause = /\b(evict|preempt|oom)/i.exec(message);
    if (cause === null) return { ok: false, reason: "killing_without_cause" };
    const word = cause[1].toLowerCase();
    eventName = word === "oom"
      ? "k8s.container.oom_killed"
      : word === "evict"
      ? "k8s.pod.evicted"
      : "k8s.pod.preempted";
  } else return { ok: false, reason: "other_reason" };
  if (obj.kind !== "Pod" || !isText(obj.uid) || !isText(obj.name) || !isText(obj.namespace)) {
    return { ok: false, reason: "no_pod" };
  }
  const id = { podUid: obj.uid, namespace: obj.namespace, podName: obj.name };
  return { ok: true, value: podLevel(id, eventName, reason, message, "event", time) };
}

function oomKillingEvent(message: string, time: ParsedTime | null): EventDisruptionResult {
  const m = POD_CGROUP_RE.exec(message);
  if (m === null) return { ok: false, reason: "no_pod" };
  const id = { podUid: m[1].replaceAll("_", "-"), namespace: "", podName: "" };
  return {
    ok: true,
    value: { ...podLevel(id, "k8s.container.oom_killed", "OOMKilling", message, "event", time) },
  };
}

interface ParsedTime {
  ms: number;
  precisionMs: number;
}

/** RFC 3339 (with or without fraction) -> ms; the precision says whether the fraction was there. */
function parseTime(value: unknown): ParsedTime | null {
  if (!isText(value)) return null;
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) return null;
  return { ms, precisionMs: /\.\d/.test(value) ? 1 : 1000 };
}

function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function isText(value: unknown): value is string {
  return typeof value === "string" && value !== "";
}
