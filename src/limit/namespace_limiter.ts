/**
 * Egress budgets per namespace (issue 11): one token bucket pair (records, optional bytes) per namespace
 * that has a budget, held in an LRU bounded by `max_keys`, and a decision per record: admit, drop, or
 * delay. Pure: time is a parameter, no timers, no I/O; the stage around it acts on the decision.
 *
 * `delay` never holds a record. A record over a delay budget has already been read, so it goes on with
 * its tokens borrowed (the bucket goes into debt), and the namespace's files are not read again until the
 * refill has paid the debt back ({@linkcode NamespaceLimiter.msUntilReadable}, the read loop's `readGate`).
 * The long-run rate is exactly the budget; the excess over the burst is at most what one read round had
 * already read from the namespace's files. The alternative, holding records in memory until tokens
 * return, would let paused namespaces fill `memory_limit` and stall every other namespace with them.
 *
 * @module
 */

import { LRUCache } from "lru-cache";
import type { RateBudget } from "../config/mod.ts";
import type { Counter, Gauge, Series } from "../telemetry/metrics.ts";
import { TokenBucket } from "./token_bucket.ts";

/** The record may go on now; its tokens are taken. */
export const ADMIT = 0;
/** The namespace is over its `drop` budget: drop the record (counted here, per namespace). */
export const DROP = 1;
/**
 * The namespace is over its `delay` budget: the record goes on (its tokens borrowed), and the namespace's
 * files must not be read until {@linkcode NamespaceLimiter.msUntilReadable} is 0.
 */
export const DELAY = 2;

/** What {@linkcode NamespaceLimiter.decide} says about one record. */
export type LimitDecision = typeof ADMIT | typeof DROP | typeof DELAY;

/** The metric label of namespaces beyond the labelled ones. */
export const OTHER_NAMESPACES_LABEL = "_other";

/** The label value set is bounded: this many namespaces get their own series, the rest share `_other`. */
export const DEFAULT_MAX_NAMESPACE_LABELS = 20;

/** Quiet time after the last limited-key eviction before `RateLimitCardinality` clears. */
export const CARDINALITY_CLEAR_MS = 5 * 60_000;

/** The limiter's series in the agent's metric catalogue (src/telemetry/agent_metrics.ts). */
export interface LimiterMetrics {
  droppedRecords: Counter;
  droppedBytes: Counter;
  delayedSeconds: Counter;
  limitedNamespaces: Gauge;
  keys: Gauge;
  keyEvictions: Counter;
}

/** The state of `RateLimitCardinality` as the limiter sees it. */
export interface CardinalityState {
  isOver: boolean;
  reason: string;
}

/** Options for {@linkcode NamespaceLimiter}. */
export interface NamespaceLimiterOptions {
  /** The budget of namespaces without their own; null: they are not limited. @default null */
  defaultBudget?: RateBudget | null;
  /** Budgets by namespace name. @default {} */
  namespaceBudgets?: Readonly<Record<string, RateBudget>>;
  /** Most namespaces with a bucket; the least recently used is evicted beyond it. */
  maxKeys: number;
  /** Where drops, delays, keys and evictions are counted. @default not counted */
  metrics?: LimiterMetrics;
  /** Namespaces with their own metric series before the rest share `_other`. @default 20 */
  maxNamespaceLabels?: number;
  /** Called when `RateLimitCardinality` should be raised or cleared. */
  onCardinality?: (state: CardinalityState) => void;
}

interface NamespaceKey {
  namespace: string;
  budget: RateBudget;
  records: TokenBucket;
  bytes: TokenBucket | null;
  /** The last decision for this namespace was DROP or DELAY. */
  isLimited: boolean;
  /** When the namespace's files were paused for its delay budget (null: not paused). */
  delayedSinceMs: number | null;
  // Series resolved at the key's first drop, so counting a drop is two property adds.
  droppedRecords: Series | null;
  droppedBytes: Series | null;
}

/** One namespace holding a token bucket, as `/status` shows it (issue 12). */
export interface NamespaceStatus {
  readonly namespace: string;
  readonly onLimit: "drop" | "delay";
  readonly recordsPerSecond: number;
  readonly bytesPerSecond: number | null;
  /** Record tokens available now (negative while a delay budget is in debt). */
  readonly recordTokens: number;
  /** Byte tokens available now; null without a byte limit. */
  readonly byteTokens: number | null;
  /** Over its budget now. */
  readonly isLimited: boolean;
  /** Milliseconds until a delayed namespace's files are read again (0: not paused). */
  readonly pausedForMs: number;
}

/**
 * Decides per record whether its namespace's budget lets it through.
 *
 * - A namespace with an entry in `namespaceBudgets` uses it; any other uses `defaultBudget`; with neither
 *   it is not limited and takes no key.
 * - A record passes when the namespace's record bucket holds one token and (with `bytes_per_second`) its
 *   byte bucket holds the record's size (capped at `burst_bytes`, so an oversized record waits for a full
 *   bucket instead of forever).
 * - Over budget: `on_limit: drop` drops (counted in records and bytes per namespace); `on_limit: delay`
 *   lets the record go on in debt and pauses the namespace's files until {@linkcode msUntilReadable} is 0.
 * - Keys live in an LRU of `maxKeys`. Evicting an idle key loses nothing (a new one starts full, as the old
 *   one was); evicting one still limited lets that namespace burst again, so it raises
 *   `RateLimitCardinality` until no such eviction happened for {@linkcode CARDINALITY_CLEAR_MS}.
 */
export class NamespaceLimiter {
  #defaultBudget: RateBudget | null;
  #budgets: Map<string, RateBudget>;
  #keys: LRUCache<string, NamespaceKey>;
  #metrics: LimiterMetrics | null;
  #labels = new Map<string, string>();
  #maxLabels: number;
  #onCardinality?: (state: CardinalityState) => void;
  #nowMs = 0;
  #lastLimitedEvictionMs: number | null = null;
  #isCardinalityRaised = false;
  // The last namespace decided and its key: records come in runs from one file, and the most recently used
  // key stays the most recently used, so skipping the LRU lookup for it keeps the LRU order exact.
  #lastNamespace: string | null = null;
  #lastKey: NamespaceKey | null = null;

  constructor(options: NamespaceLimiterOptions) {
    this.#defaultBudget = options.defaultBudget ?? null;
    this.#budgets = new Map(Object.entries(options.namespaceBudgets ?? {}));
    this.#metrics = options.metrics ?? null;
    this.#maxLabels = options.maxNamespaceLabels ?? DEFAULT_MAX_NAMESPACE_LABELS;
    this.#onCardinality = options.onCardinality;
    this.#keys = new LRUCache<string, NamespaceKey>({
      max: options.maxKeys,
      dispose: (value, _namespace, reason) => {
        if (reason === "evict") this.#onEvict(value);
      },
    });
  }

  /** True when any namespace has a budget (with no `egress_rate_limit` block, nothing is limited). */
  get isEnabled(): boolean {
    return this.#defaultBudget !== null || this.#budgets.size > 0;
  }

  /** Keys held now (at most `maxKeys`). */
  get keyCount(): number {
    return this.#keys.size;
  }

  /** The budget `namespace` is held to, or null when it is not limited. */
  budgetOf(namespace: string): RateBudget | null {
    return this.#budgets.get(namespace) ?? this.#defaultBudget;
  }

  /**
   * Decides one record of `sizeBytes` from `namespace` at `nowMs`: {@linkcode ADMIT} (tokens taken),
   * {@linkcode DROP} (counted) or {@linkcode DELAY} (tokens borrowed; pause the namespace's files).
   */
  decide(namespace: string, sizeBytes: number, nowMs: number): LimitDecision {
    const key = namespace === this.#lastNamespace ? this.#lastKey : this.#lookup(namespace, nowMs);
    if (key === null) return ADMIT;
    const bytes = key.bytes;
    if (key.records.has(1, nowMs) && (bytes === null || bytes.has(sizeBytes, nowMs))) {
      key.records.take(1);
      bytes?.take(sizeBytes);
      if (key.isLimited) this.#endLimit(key, nowMs);
      return ADMIT;
    }
    key.isLimited = true;
    if (key.budget.onLimit === "drop") {
      if (key.droppedRecords === null) this.#resolveDropSeries(key);
      if (key.droppedRecords !== null) key.droppedRecords.value += 1;
      if (key.droppedBytes !== null) key.droppedBytes.value += sizeBytes;
      return DROP;
    }
    key.records.borrow(1);
    bytes?.borrow(sizeBytes);
    key.delayedSinceMs ??= nowMs;
    return DELAY;
  }

  /**
   * Milliseconds from `nowMs` until the files of `namespace` may be read again; 0 when they may be now
   * (always for a namespace without a delay budget). Made for the read loop's `readGate`: the first call
   * that finds the debt paid ends the namespace's delay.
   */
  msUntilReadable(namespace: string, nowMs: number): number {
    const key = this.#keys.peek(namespace);
    if (key === undefined || key.delayedSinceMs === null) return 0;
    const ms = this.#msUntilReadable(key, nowMs);
    if (ms === 0) this.#endLimit(key, nowMs);
    return ms;
  }

  /** Whether `namespace` is over its budget at `nowMs` (its last decision was not ADMIT and it has no tokens). */
  isLimited(namespace: string, nowMs: number): boolean {
    const key = this.#keys.peek(namespace);
    return key !== undefined && this.#isLimitedNow(key, nowMs);
  }

  /** Every namespace holding a token bucket, for `/status`; reads state without changing it. */
  snapshot(nowMs: number): NamespaceStatus[] {
    const out: NamespaceStatus[] = [];
    for (const key of this.#keys.values()) {
      out.push({
        namespace: key.namespace,
        onLimit: key.budget.onLimit,
        recordsPerSecond: key.budget.recordsPerSecond,
        bytesPerSecond: key.budget.bytesPerSecond,
        recordTokens: key.records.tokens(nowMs),
        byteTokens: key.bytes === null ? null : key.bytes.tokens(nowMs),
        isLimited: this.#isLimitedNow(key, nowMs),
        pausedForMs: key.delayedSinceMs === null ? 0 : this.#msUntilReadable(key, nowMs),
      });
    }
    return out.sort((a, b) => a.namespace.localeCompare(b.namespace));
  }

  /**
   * Brings the gauges up to `nowMs` (namespaces limited now, keys held), adds the delay time so far of
   * namespaces still delayed, and clears `RateLimitCardinality` after a quiet period. Call before a scrape.
   */
  collect(nowMs: number): void {
    this.#nowMs = nowMs;
    let drop = 0;
    let delay = 0;
    for (const key of this.#keys.values()) {
      if (key.delayedSinceMs !== null) {
        if (this.#msUntilReadable(key, nowMs) === 0) this.#endLimit(key, nowMs);
        else {
          this.#addDelay(key, nowMs);
          key.delayedSinceMs = nowMs;
        }
      }
      if (!this.#isLimitedNow(key, nowMs)) continue;
      if (key.budget.onLimit === "drop") drop++;
      else delay++;
    }
    const metrics = this.#metrics;
    if (metrics !== null) {
      metrics.limitedNamespaces.set(drop, "drop");
      metrics.limitedNamespaces.set(delay, "delay");
      metrics.keys.set(this.#keys.size);
    }
    const last = this.#lastLimitedEvictionMs;
    if (this.#isCardinalityRaised && last !== null && nowMs - last >= CARDINALITY_CLEAR_MS) {
      this.#isCardinalityRaised = false;
      this.#onCardinality?.({ isOver: false, reason: "" });
    }
  }

  #lookup(namespace: string, nowMs: number): NamespaceKey | null {
    this.#nowMs = nowMs;
    let key: NamespaceKey | null | undefined = this.#keys.get(namespace);
    if (key === undefined) {
      const budget = this.budgetOf(namespace);
      key = budget === null ? null : this.#createKey(namespace, budget, nowMs);
    }
    this.#lastNamespace = namespace;
    this.#lastKey = key;
    return key;
  }

  #createKey(namespace: string, budget: RateBudget, nowMs: number): NamespaceKey {
    const key: NamespaceKey = {
      namespace,
      budget,
      records: new TokenBucket({
        ratePerSecond: budget.recordsPerSecond,
        capacity: budget.burstRecords,
        nowMs,
      }),
      bytes: budget.bytesPerSecond === null ? null : new TokenBucket({
        ratePerSecond: budget.bytesPerSecond,
        capacity: budget.burstBytes ?? budget.bytesPerSecond,
        nowMs,
      }),
      isLimited: false,
      delayedSinceMs: null,
      droppedRecords: null,
      droppedBytes: null,
    };
    this.#keys.set(namespace, key);
    return key;
  }

  // At the key's first drop: the namespace takes a label slot only once it is limited.
  #resolveDropSeries(key: NamespaceKey): void {
    const metrics = this.#metrics;
    if (metrics === null) return;
    const label = this.#labelOf(key.namespace);
    key.droppedRecords = metrics.droppedRecords.labels(label);
    key.droppedBytes = metrics.droppedBytes.labels(label);
  }

  // Sticky label slots: a namespace keeps the series it was given first, so every series only grows
  // (a namespace moving out of `_other` later would make `_other` go down, which counters cannot). Slots
  // go to namespaces in the order they are first limited (first drop, or first pause for delay).
  #labelOf(namespace: string): string {
    const label = this.#labels.get(namespace);
    if (label !== undefined) return label;
    if (this.#labels.size >= this.#maxLabels) return OTHER_NAMESPACES_LABEL;
    this.#labels.set(namespace, namespace);
    return namespace;
  }

  #endLimit(key: NamespaceKey, nowMs: number): void {
    key.isLimited = false;
    if (key.delayedSinceMs === null) return;
    this.#addDelay(key, nowMs);
    key.delayedSinceMs = null;
  }

  #addDelay(key: NamespaceKey, nowMs: number): void {
    const ms = nowMs - (key.delayedSinceMs ?? nowMs);
    if (ms > 0) this.#metrics?.delayedSeconds.inc(ms / 1000, this.#labelOf(key.namespace));
  }

  #isLimitedNow(key: NamespaceKey, nowMs: number): boolean {
    return key.isLimited && this.#msUntilReadable(key, nowMs) > 0;
  }

  // Until one record's token is back and any byte debt is paid.
  #msUntilReadable(key: NamespaceKey, nowMs: number): number {
    const recordsMs = key.records.msUntil(1, nowMs);
    const bytesMs = key.bytes === null ? 0 : key.bytes.msUntil(1, nowMs);
    return recordsMs > bytesMs ? recordsMs : bytesMs;
  }

  #onEvict(key: NamespaceKey): void {
    const nowMs = this.#nowMs;
    if (key === this.#lastKey) {
      this.#lastNamespace = null;
      this.#lastKey = null;
    }
    const isLimited = this.#isLimitedNow(key, nowMs);
    this.#metrics?.keyEvictions.inc(1, isLimited ? "limited" : "idle");
    if (!isLimited) return;
    if (key.delayedSinceMs !== null) this.#endLimit(key, nowMs);
    this.#lastLimitedEvictionMs = nowMs;
    if (this.#isCardinalityRaised) return;
    // One call per raise, with a reason that does not change per eviction: the Kind logs on every change.
    this.#isCardinalityRaised = true;
    this.#onCardinality?.({
      isOver: true,
      reason: `Rate-limit keys evicted while still limited: more limited namespaces than ` +
        `egress_rate_limit.max_keys ${this.#keys.max} (first: ${key.namespace})`,
    });
  }
}
