/**
 * The pods of this node, by UID (and by namespace/name for static pods), bounded by an LRU. A deleted
 * pod stays as a tombstone until every one of its log files has been drained and closed, plus a grace
 * period, so that the last lines of a deleted pod still find their metadata.
 *
 * @module
 */

import { LRUCache } from "lru-cache";
import type { PodLogPath } from "../record.ts";
import type { AgentMetrics } from "../telemetry/agent_metrics.ts";
import type { KindTracker } from "../telemetry/kinds.ts";
import type { PodInfo } from "./pod_info.ts";

/** Options for {@linkcode PodStore}. */
export interface PodStoreOptions {
  /** Most pods held (live and tombstones); beyond it the least recently used is evicted. */
  maxPods: number;
  /** How long a deleted pod stays after its last file closed. */
  deletedPodGraceMs: number;
  metrics: Pick<AgentMetrics, "podsCached" | "podCacheEvictions">;
  /** Raises `AttributionCardinality` on evictions. */
  kinds: KindTracker;
  /** Clock. @default Date.now */
  now?: () => number;
}

interface PodEntry {
  readonly pod: PodInfo;
  deletedAtMs: number | null;
  /** When the pod's last open file closed (0 when none was ever open after deletion). */
  drainedAtMs: number;
}

/** Pods by UID with tombstones that outlive deletion until the pod's files are drained. */
export class PodStore {
  #cache: LRUCache<string, PodEntry>;
  #byName = new Map<string, string>();
  #openFiles = new Map<string, number>();
  #tombstones = new Set<string>();
  #version = 0;
  #maxPods: number;
  #graceMs: number;
  #metrics: PodStoreOptions["metrics"];
  #kinds: KindTracker;
  #now: () => number;

  constructor(options: PodStoreOptions) {
    this.#maxPods = options.maxPods;
    this.#graceMs = options.deletedPodGraceMs;
    this.#metrics = options.metrics;
    this.#kinds = options.kinds;
    this.#now = options.now ?? Date.now;
    this.#cache = new LRUCache<string, PodEntry>({
      max: options.maxPods,
      dispose: (entry, uid, reason) => this.#onDispose(entry, uid, reason),
    });
  }

  /** Increases whenever a lookup could give a different answer; lets callers cache lookups. */
  get version(): number {
    return this.#version;
  }

  /** Pods held, tombstones included. */
  get size(): number {
    return this.#cache.size;
  }

  /** Adds or replaces a pod. Returns false (keeping the old object) when its kept metadata is unchanged. */
  upsert(pod: PodInfo): boolean {
    const entry = this.#cache.get(pod.uid);
    if (entry !== undefined && entry.pod.fingerprint === pod.fingerprint) {
      this.#revive(pod.uid, entry);
      return false;
    }
    this.#tombstones.delete(pod.uid);
    this.#cache.set(pod.uid, { pod, deletedAtMs: null, drainedAtMs: 0 });
    this.#byName.set(nameKey(pod.namespace, pod.name), pod.uid);
    this.#changed();
    this.#metrics.podsCached.set(this.#cache.size);
    return true;
  }

  /** Marks a pod deleted; it stays until its files are drained and the grace period passed. */
  markDeleted(uid: string): void {
    const entry = this.#cache.peek(uid);
    if (entry === undefined || entry.deletedAtMs !== null) return;
    entry.deletedAtMs = this.#now();
    this.#tombstones.add(uid);
    this.sweep();
  }

  /** Applies a full list: upserts every pod and marks deleted those held but no longer listed. */
  replaceAll(pods: readonly PodInfo[]): void {
    const listed = new Set<string>();
    for (const pod of pods) {
      listed.add(pod.uid);
      this.upsert(pod);
    }
    for (const uid of [...this.#cache.keys()]) if (!listed.has(uid)) this.markDeleted(uid);
    this.#checkCardinality();
  }

  /** The pod with this UID (tombstones included); counts as a use for the LRU. */
  get(uid: string): PodInfo | undefined {
    return this.#cache.get(uid)?.pod;
  }

  /** The pod a log file belongs to: by UID, or by namespace/name for static pods (their dir holds a hash). */
  forPath(path: PodLogPath): PodInfo | undefined {
    if (!path.isStaticPod) return this.#cache.get(path.podUid)?.pod;
    const uid = this.#byName.get(nameKey(path.namespace, path.podName));
    return uid === undefined ? undefined : this.#cache.get(uid)?.pod;
  }

  /** Whether the pod is held (tombstones included); not a use for the LRU. */
  has(uid: string): boolean {
    return this.#cache.has(uid);
  }

  /** Whether the pod is held as a tombstone. */
  isDeleted(uid: string): boolean {
    return this.#tombstones.has(uid);
  }

  /** A log file of the pod of `path` was opened: its tombstone is kept while the file is open. */
  fileOpened(path: PodLogPath): void {
    const key = fileKey(path);
    this.#openFiles.set(key, (this.#openFiles.get(key) ?? 0) + 1);
  }

  /** A log file of the pod of `path` was drained and closed. */
  fileClosed(path: PodLogPath): void {
    const key = fileKey(path);
    const count = (this.#openFiles.get(key) ?? 0) - 1;
    if (count > 0) {
      this.#openFiles.set(key, count);
      return;
    }
    this.#openFiles.delete(key);
    const uid = path.isStaticPod ? this.#byName.get(nameKey(path.namespace, path.podName)) : path.podUid;
    const entry = uid === undefined ? undefined : this.#cache.peek(uid);
    if (entry !== undefined && entry.deletedAtMs !== null) entry.drainedAtMs = this.#now();
  }

  /** Removes tombstones whose files are drained and whose grace period passed; returns how many. */
  sweep(): number {
    const now = this.#now();
    let purged = 0;
    for (const uid of [...this.#tombstones]) {
      const entry = this.#cache.peek(uid);
      if (entry === undefined || entry.deletedAtMs === null) {
        this.#tombstones.delete(uid);
        continue;
      }
      if (this.#openCount(entry.pod) > 0) continue;
      if (now < Math.max(entry.deletedAtMs, entry.drainedAtMs) + this.#graceMs) continue;
      this.#cache.delete(uid);
      purged++;
    }
    if (purged > 0) {
      this.#metrics.podsCached.set(this.#cache.size);
      this.#checkCardinality();
    }
    return purged;
  }

  #revive(uid: string, entry: PodEntry): void {
    if (entry.deletedAtMs === null) return;
    entry.deletedAtMs = null;
    this.#tombstones.delete(uid);
  }

  #openCount(pod: PodInfo): number {
    return (this.#openFiles.get(pod.uid) ?? 0) +
      (this.#openFiles.get(staticKey(pod.namespace, pod.name)) ?? 0);
  }

  #onDispose(entry: PodEntry, uid: string, reason: LRUCache.DisposeReason): void {
    if (reason === "set") return;
    this.#tombstones.delete(uid);
    const key = nameKey(entry.pod.namespace, entry.pod.name);
    if (this.#byName.get(key) === uid) this.#byName.delete(key);
    if (reason === "evict") {
      this.#metrics.podCacheEvictions.inc();
      this.#kinds.raise(
        "AttributionCardinality",
        `Pod cache full: evicted ${entry.pod.namespace}/${entry.pod.name} (max_pods ${this.#maxPods})`,
      );
    }
    this.#changed();
  }

  #changed(): void {
    this.#version++;
  }

  #checkCardinality(): void {
    if (this.#cache.size < this.#maxPods) this.#kinds.clear("AttributionCardinality");
  }
}

function nameKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function staticKey(namespace: string, name: string): string {
  return `static:${namespace}/${name}`;
}

function fileKey(path: PodLogPath): string {
  return path.isStaticPod ? staticKey(path.namespace, path.podName) : path.podUid;
}
