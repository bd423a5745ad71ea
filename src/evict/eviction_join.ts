/**
 * The eviction join: pod evictions, preemptions and OOM kills (from the pod informer or Events) joined
 * with the last records each container of the pod wrote. Pure: no I/O, time is a parameter.
 *
 * The cycle:
 * 1. Every record of a pod log file is remembered in its container's ring ({@linkcode LastLines}).
 * 2. A detection opens a window `[t - match_window, t + precision)` around the Kubernetes time `t` (the
 *    detection time when Kubernetes gives none) and waits, pending, for up to `max_wait`: the lines may
 *    still be unread (the informer can be ahead of the reader). It becomes due earlier once every file of
 *    the pod that wrote inside the window has been read past its end.
 * 3. A due detection becomes one {@linkcode EvictionEvent}: the ring lines inside the window. Its key
 *    (pod UID + event name, + container and instance for an OOM kill) is kept, so the same disruption
 *    seen again (the next pod update, a relist, the matching Event, or after a restart once the caller
 *    restored the persisted keys) is a duplicate.
 * 4. While a key is known, records of that pod whose CRI time falls inside its window are tagged with
 *    its reason, so the last words read after the event still say what ended the pod.
 *
 * @module
 */

import type { Disruption, DisruptionEventName } from "../k8s/mod.ts";
import type { PodLogPath } from "../record.ts";
import {
  LastLines,
  type LastLinesOptions,
  type RememberedLine,
  type RingContext,
  type RingRecord,
} from "./last_lines.ts";

/** Options for {@linkcode EvictionJoin}. */
export interface EvictionJoinOptions extends LastLinesOptions {
  /** How far before the disruption a line may be written to belong to it. @default 30000 */
  matchWindowMs: number;
  /** Longest a detection waits for the pod's lines to be read. @default 5000 */
  maxWaitMs: number;
  /** How long a disruption key is remembered (and a detection older than this ignored). @default 86400000 */
  dedupTtlMs: number;
  /** Most disruption keys held; the oldest emitted one is forgotten beyond it. @default 10000 */
  maxKeys?: number;
}

/** A disruption that was (or is being) emitted: what is persisted to deduplicate across restarts. */
export interface JoinedKey {
  /** `<pod uid>|<event name>[|<container>|<instance>]`. */
  readonly key: string;
  readonly podUid: string;
  readonly eventName: DisruptionEventName;
  readonly reason: string;
  readonly containerName: string | null;
  readonly restartCount: number | null;
  /** The disruption time the window is built around. */
  readonly timeMs: number;
  readonly windowStartMs: number;
  /** Exclusive end of the window. */
  readonly windowEndMs: number;
  /** When it was detected (emitted keys: when emitted). */
  readonly atMs: number;
}

/** One event record to emit: the disruption and the last lines joined to it. */
export interface EvictionEvent {
  readonly key: JoinedKey;
  readonly disruption: Disruption;
  /** The lines inside the window, oldest first. */
  readonly lines: readonly RememberedLine[];
  /** The pod's latest resource and attributes seen with its records, if any were read. */
  readonly context: RingContext | null;
}

/** What {@linkcode EvictionJoin.detect} did with a detection. */
export type DetectOutcome = "pending" | "duplicate" | "merged" | "stale";

/** The slice of a record the join reads. */
export type JoinedRecord = RingRecord;

interface Pending {
  key: JoinedKey;
  disruption: Disruption;
  deadlineMs: number;
  /** `<container>/<instance>` of files read past the window end. */
  caughtUp: Set<string>;
}

/** Joins disruptions with the last lines of the pod's containers; see the module doc for the cycle. */
export class EvictionJoin {
  #o: EvictionJoinOptions & { maxKeys: number };
  #lines: LastLines;
  /** Every known key, pending or emitted, oldest first. */
  #keys = new Map<string, JoinedKey>();
  #pending = new Map<string, Pending>();
  /** Known keys by pod UID (what tags records). */
  #byPod = new Map<string, JoinedKey[]>();
  /** A pending detection's file was read past its window since the last {@linkcode takeDue}. */
  #hasNewCatchUp = false;

  constructor(options: EvictionJoinOptions) {
    this.#o = { maxKeys: 10_000, ...options };
    this.#lines = new LastLines(options);
  }

  /** The rings (sizes for gauges, trim counts for counters). */
  get lines(): LastLines {
    return this.#lines;
  }

  /** Detections waiting for their lines. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  /** Whether a record seen since the last {@linkcode takeDue} may have made a detection due early. */
  get hasNewCatchUp(): boolean {
    return this.#hasNewCatchUp;
  }

  /** Keys known (pending and emitted). */
  get keyCount(): number {
    return this.#keys.size;
  }

  /**
   * Remembers a record of a pod log file. Returns the reason to tag it with (`k8s.pod.eviction.reason`)
   * when its CRI time falls inside the window of a known disruption of its pod, else null.
   */
  observe(record: JoinedRecord, path: PodLogPath, nowMs: number): string | null {
    const timeMs = this.#lines.push(path, record, nowMs);
    if (this.#byPod.size === 0) return null;
    const keys = this.#byPod.get(path.podUid);
    if (keys === undefined) return null;
    let tag: string | null = null;
    for (const key of keys) {
      if (timeMs >= key.windowEndMs) this.#caughtUp(key.key, path);
      if (tag === null && belongs(key, path.containerName, path.restartCount, timeMs)) tag = key.reason;
    }
    return tag;
  }

  /** Takes a detection in; see {@linkcode DetectOutcome}. */
  detect(d: Disruption, nowMs: number): DetectOutcome {
    const timeMs = d.timeMs ?? nowMs;
    if (nowMs - timeMs > this.#o.dedupTtlMs) return "stale";
    const id = keyOf(d);
    const known = this.#keys.get(id);
    if (known !== undefined) return this.#merge(id, d);
    const similar = this.#similar(d, timeMs);
    if (similar !== null) {
      const pending = this.#pending.get(similar.key);
      // A container-level OOM kill replaces a pending one that only knew the pod (from an Event).
      if (pending === undefined || d.containerName === null) return "duplicate";
      this.#forget(similar.key);
    }
    const precision = Math.max(1, d.timePrecisionMs);
    const key: JoinedKey = {
      key: id,
      podUid: d.podUid,
      eventName: d.eventName,
      reason: d.reason,
      containerName: d.containerName,
      restartCount: d.restartCount,
      timeMs,
      windowStartMs: timeMs - this.#o.matchWindowMs,
      windowEndMs: timeMs + precision,
      atMs: nowMs,
    };
    this.#remember(key);
    this.#pending.set(id, { key, disruption: d, deadlineMs: nowMs + this.#o.maxWaitMs, caughtUp: new Set() });
    return "pending";
  }

  /** Restores keys emitted before a restart: they deduplicate and tag, and are never emitted again. */
  restore(keys: readonly JoinedKey[], nowMs: number): void {
    for (const key of [...keys].sort((a, b) => a.atMs - b.atMs)) {
      if (nowMs - key.atMs > this.#o.dedupTtlMs || this.#keys.has(key.key)) continue;
      this.#remember(key);
    }
  }

  /** When the next pending detection falls due at the latest, or null when none is pending. */
  nextDueMs(): number | null {
    let next: number | null = null;
    for (const p of this.#pending.values()) if (next === null || p.deadlineMs < next) next = p.deadlineMs;
    return next;
  }

  /** Pending detections that are due (deadline passed or lines read past the window), as events. */
  takeDue(nowMs: number): EvictionEvent[] {
    const due: EvictionEvent[] = [];
    const checkCatchUp = this.#hasNewCatchUp;
    this.#hasNewCatchUp = false;
    for (const pending of [...this.#pending.values()]) {
      if (nowMs >= pending.deadlineMs || (checkCatchUp && this.#isCaughtUp(pending))) {
        due.push(this.#emit(pending, nowMs));
      }
    }
    return due;
  }

  /** Every pending detection as an event now (shutdown). */
  takeAll(nowMs: number): EvictionEvent[] {
    return [...this.#pending.values()].map((p) => this.#emit(p, nowMs));
  }

  /** Forgets keys older than the dedup TTL and rings that went idle. */
  sweep(nowMs: number): void {
    for (const key of [...this.#keys.values()]) {
      if (nowMs - key.atMs <= this.#o.dedupTtlMs) break;
      if (!this.#pending.has(key.key)) this.#forget(key.key);
    }
    this.#lines.sweep(nowMs);
  }

  #merge(id: string, d: Disruption): DetectOutcome {
    const pending = this.#pending.get(id);
    if (pending === undefined || pending.disruption.message !== "" || d.message === "") return "duplicate";
    pending.disruption = { ...pending.disruption, message: d.message };
    return "merged";
  }

  /** A known OOM key of the same pod that one side of this pair names without its container. */
  #similar(d: Disruption, timeMs: number): JoinedKey | null {
    if (d.eventName !== "k8s.container.oom_killed") return null;
    for (const key of this.#byPod.get(d.podUid) ?? []) {
      if (key.eventName !== d.eventName) continue;
      if ((key.containerName === null) === (d.containerName === null)) continue;
      if (Math.abs(key.timeMs - timeMs) <= this.#o.matchWindowMs) return key;
    }
    return null;
  }

  #caughtUp(id: string, path: PodLogPath): void {
    const pending = this.#pending.get(id);
    if (pending === undefined) return;
    const file = fileOf(path);
    if (pending.caughtUp.has(file)) return;
    pending.caughtUp.add(file);
    this.#hasNewCatchUp = true;
  }

  #isCaughtUp(pending: Pending): boolean {
    const { key } = pending;
    const files = new Set<string>();
    for (
      const line of this.#lines.linesOf(
        key.podUid,
        (l) => belongs(key, l.containerName, l.restartCount, l.timeMs),
      )
    ) {
      files.add(`${line.containerName}/${line.restartCount}`);
    }
    if (files.size === 0) return false;
    for (const file of files) if (!pending.caughtUp.has(file)) return false;
    return true;
  }

  #emit(pending: Pending, nowMs: number): EvictionEvent {
    this.#pending.delete(pending.key.key);
    const key = { ...pending.key, atMs: nowMs };
    this.#replace(key);
    const lines = this.#lines
      .linesOf(key.podUid, (l) => belongs(key, l.containerName, l.restartCount, l.timeMs))
      .sort((a, b) => a.timeMs - b.timeMs);
    const context = this.#lines.contextOf(key.podUid, key.containerName);
    return { key, disruption: pending.disruption, lines, context };
  }

  #remember(key: JoinedKey): void {
    this.#keys.set(key.key, key);
    let list = this.#byPod.get(key.podUid);
    if (list === undefined) this.#byPod.set(key.podUid, list = []);
    list.push(key);
    if (this.#keys.size <= this.#o.maxKeys) return;
    for (const oldest of this.#keys.keys()) {
      if (this.#pending.has(oldest)) continue;
      this.#forget(oldest);
      return;
    }
  }

  /** Replaces a key by an updated copy, keeping its place in the pod's list. */
  #replace(key: JoinedKey): void {
    this.#keys.delete(key.key);
    this.#keys.set(key.key, key);
    const list = this.#byPod.get(key.podUid);
    if (list === undefined) return;
    const i = list.findIndex((k) => k.key === key.key);
    if (i >= 0) list[i] = key;
  }

  #forget(id: string): void {
    const key = this.#keys.get(id);
    if (key === undefined) return;
    this.#keys.delete(id);
    this.#pending.delete(id);
    const list = this.#byPod.get(key.podUid);
    if (list === undefined) return;
    const rest = list.filter((k) => k.key !== id);
    if (rest.length === 0) this.#byPod.delete(key.podUid);
    else this.#byPod.set(key.podUid, rest);
  }
}

/** The dedup key of a disruption. */
export function keyOf(d: Disruption): string {
  const base = `${d.podUid}|${d.eventName}`;
  if (d.containerName === null) return base;
  return `${base}|${d.containerName}|${d.restartCount ?? ""}`;
}

/** Whether a line of `container` instance `restart` at `timeMs` belongs to the disruption of `key`. */
function belongs(key: JoinedKey, container: string, restart: number, timeMs: number): boolean {
  if (timeMs < key.windowStartMs || timeMs >= key.windowEndMs) return false;
  // An OOM kill's own container contributes only the killed instance; the other containers all count.
  if (key.containerName === null || key.containerName !== container) return true;
  return key.restartCount === null || key.restartCount === restart;
}

function fileOf(path: PodLogPath): string {
  return `${path.containerName}/${path.restartCount}`;
}
