/**
 * Persists the keys of emitted eviction records in the cursor's Deno KV, under their own prefix, so an
 * agent restart does not emit the same disruption twice. Each entry expires (`expireIn`) after the dedup
 * TTL; loading also skips (and deletes) entries past it, and keeps at most `maxKeys`, newest first.
 *
 * @module
 */

import type { DisruptionEventName } from "../k8s/mod.ts";
import type { JoinedKey } from "./eviction_join.ts";

/** The KV prefix; apart from the cursor's `["cursor", ...]`. Versioned like the cursor keys. */
export const EMITTED_KEY_PREFIX: readonly ["evict", "v1", "emitted"] = ["evict", "v1", "emitted"];

/** Options for {@linkcode EmittedKeyStore}. */
export interface EmittedKeyStoreOptions {
  /** The open KV (owned by the caller). */
  kv: Deno.Kv;
  /** How long a key is kept. */
  ttlMs: number;
  /** Most keys loaded. @default 10000 */
  maxKeys?: number;
}

/** The KV-backed set of emitted disruption keys. */
export class EmittedKeyStore {
  #kv: Deno.Kv;
  #ttlMs: number;
  #maxKeys: number;

  constructor(options: EmittedKeyStoreOptions) {
    this.#kv = options.kv;
    this.#ttlMs = options.ttlMs;
    this.#maxKeys = options.maxKeys ?? 10_000;
  }

  /** Keys emitted within the TTL before `nowMs`, oldest first; expired entries are deleted. */
  async loadAll(nowMs: number): Promise<JoinedKey[]> {
    const kept: JoinedKey[] = [];
    const expired: Deno.KvKey[] = [];
    for await (const entry of this.#kv.list<unknown>({ prefix: [...EMITTED_KEY_PREFIX] })) {
      const key = parseKey(entry.value);
      if (key === null || nowMs - key.atMs > this.#ttlMs) expired.push(entry.key);
      else kept.push(key);
    }
    for (let i = 0; i < expired.length; i += 500) {
      const atomic = this.#kv.atomic();
      for (const k of expired.slice(i, i + 500)) atomic.delete(k);
      await atomic.commit();
    }
    kept.sort((a, b) => a.atMs - b.atMs);
    return kept.slice(Math.max(0, kept.length - this.#maxKeys));
  }

  /** Stores emitted keys (one atomic per 500). @throws the KV error when a commit fails */
  async save(keys: readonly JoinedKey[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 500) {
      const atomic = this.#kv.atomic();
      for (const key of keys.slice(i, i + 500)) {
        atomic.set([...EMITTED_KEY_PREFIX, key.key], { ...key }, { expireIn: this.#ttlMs });
      }
      const result = await atomic.commit();
      if (!result.ok) throw new Error("Cannot store emitted eviction keys: atomic commit was rejected");
    }
  }
}

const EVENT_NAMES = new Set<string>(["k8s.pod.evicted", "k8s.pod.preempted", "k8s.container.oom_killed"]);

function parseKey(value: unknown): JoinedKey | null {
  if (typeof value !== "object" || value === null) return null;
  const v = value as Record<string, unknown>;
  const isNum = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);
  const isStr = (x: unknown): x is string => typeof x === "string";
  if (!isStr(v.key) || !isStr(v.podUid) || !isStr(v.reason) || !EVENT_NAMES.has(v.eventName as string)) {
    return null;
  }
  if (!isNum(v.timeMs) || !isNum(v.windowStartMs) || !isNum(v.windowEndMs) || !isNum(v.atMs)) return null;
  return {
    key: v.key,
    podUid: v.podUid,
    eventName: v.eventName as DisruptionEventName,
    reason: v.reason,
    containerName: isStr(v.containerName) ? v.containerName : null,
    restartCount: isNum(v.restartCount) ? v.restartCount : null,
    timeMs: v.timeMs,
    windowStartMs: v.windowStartMs,
    windowEndMs: v.windowEndMs,
    atMs: v.atMs,
  };
}
