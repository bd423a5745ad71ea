/**
 * The eviction join as a record stage: every record passes through `push` (remembered in its
 * container's ring, tagged with `k8s.pod.eviction.reason` when it falls inside a known disruption's
 * window, forwarded unchanged otherwise); detections come in through `detected` (from the pod informer
 * and the Event watch), and their event records go out into the same next sink.
 *
 * An event record covers no file bytes: it is pushed with an origin whose `fileKey` is `""`
 * ({@linkcode EVENT_RECORD_ORIGIN_FILE_KEY}), offsets 0 and `podPath` null. Progress has nothing to
 * acknowledge for it and no cursor moves because of it. Its key is stored in the KV when it is handed to
 * the next sink, so it is sent at most once per pod UID and reason across restarts: a kill -9 in the
 * window between that hand-off and the export (the batch delay plus the request) loses it, where
 * keeping the key only after delivery would risk a double event on every restart in that window.
 *
 * @module
 */

import type { Disruption } from "../k8s/mod.ts";
import type { Component, ComponentHealth } from "../lifecycle/component.ts";
import type { InstrumentationScope, LogRecord, RecordOrigin, RecordSink, RecordStage } from "../record.ts";
import type { AgentMetrics } from "../telemetry/agent_metrics.ts";
import { type Logger, toError } from "../telemetry/log.ts";
import type { EmittedKeyStore } from "./emitted_keys.ts";
import type { EvictionEvent, EvictionJoin, JoinedKey } from "./eviction_join.ts";
import { buildEventRecord, EVICTION_REASON_ATTRIBUTE } from "./event_record.ts";

/** The `fileKey` of the origin an event record is pushed with: it covers no file bytes. */
export const EVENT_RECORD_ORIGIN_FILE_KEY = "";

/** Options for {@linkcode EvictionStage}. */
export interface EvictionStageOptions {
  /** The next stage (or the batcher). */
  next: RecordSink;
  join: EvictionJoin;
  /** Where emitted keys persist across restarts; null keeps them in memory only. @default null */
  keys?: EmittedKeyStore | null;
  scope: InstrumentationScope;
  /** `k8s.node.name` of event records whose pod had no record read. @default "" */
  nodeName?: string;
  metrics: Pick<
    AgentMetrics,
    | "evictionDetections"
    | "evictionEventRecords"
    | "evictionTaggedRecords"
    | "evictionRingBytes"
    | "evictionRingContainers"
    | "evictionRingTrimmedLines"
    | "evictionKeyStoreFailures"
  >;
  logger: Logger;
  /** Clock. @default Date.now */
  now?: () => number;
  /** Period of the sweep of idle rings and expired keys (and of the gauges). @default 10000 */
  sweepIntervalMs?: number;
}

/** Remembers, tags and forwards records; emits one event record per disruption. */
export class EvictionStage implements RecordStage, Component {
  readonly name = "eviction_join";
  #o: EvictionStageOptions;
  #join: EvictionJoin;
  #next: RecordSink;
  #now: () => number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAtMs = Infinity;
  #sweepTimer: ReturnType<typeof setInterval> | undefined;
  #saves = new Set<Promise<void>>();
  #isStarted = false;
  #isRestored = false;
  #isStopped = false;
  #lastError: string | null = null;

  constructor(options: EvictionStageOptions) {
    this.#o = options;
    this.#join = options.join;
    this.#next = options.next;
    this.#now = options.now ?? Date.now;
  }

  /** RecordStage: remembers the record, tags it when it is inside a disruption's window, forwards it. */
  push(record: LogRecord, origin: RecordOrigin): void {
    const path = origin.podPath;
    // Static pods' directories hold a config hash, not the UID a detection names: they are not joined.
    if (path !== null && !path.isStaticPod) {
      const nowMs = origin.readAtMs ?? this.#now();
      const tag = this.#join.observe(record, path, nowMs);
      if (tag !== null) {
        record.attributes[EVICTION_REASON_ATTRIBUTE] = tag;
        this.#o.metrics.evictionTaggedRecords.inc();
      }
      if (this.#join.hasNewCatchUp) {
        // Forward this record first: it may be one of the lines the due event carries.
        this.#next.push(record, origin);
        this.#emit(this.#join.takeDue(nowMs), nowMs);
        return;
      }
    }
    this.#next.push(record, origin);
  }

  /** A detection from the pod informer or the Event watch. */
  detected(d: Disruption): void {
    const nowMs = this.#now();
    const outcome = this.#join.detect(d, nowMs);
    this.#o.metrics.evictionDetections.inc(1, d.eventName, d.source, outcome);
    if (outcome === "pending") {
      this.#o.logger.debug("Pod disruption detected", {
        uid: d.podUid,
        event: d.eventName,
        reason: d.reason,
      });
    }
    if (this.#isStarted && !this.#isStopped) this.#arm();
  }

  /**
   * Loads the keys emitted before a restart (once). Call it before records flow, so records read at once
   * after a restart are tagged too; {@linkcode start} calls it when it was not called.
   */
  async restoreKeys(): Promise<void> {
    if (this.#isRestored) return;
    this.#isRestored = true;
    const keys = this.#o.keys ?? null;
    if (keys === null) return;
    try {
      this.#join.restore(await keys.loadAll(this.#now()), this.#now());
    } catch (thrown) {
      // Without them a restart may emit a disruption twice; the records themselves are unaffected.
      this.#o.metrics.evictionKeyStoreFailures.inc(1, "load");
      this.#lastError = `Cannot load emitted eviction keys: ${toError(thrown).message}`;
      this.#o.logger.warn(this.#lastError);
    }
  }

  /** Restores the keys if needed, then starts the timers. */
  async start(_signal: AbortSignal): Promise<void> {
    if (this.#isStarted || this.#isStopped) return;
    await this.restoreKeys();
    this.#isStarted = true;
    this.#sweepTimer = setInterval(() => this.#sweep(), this.#o.sweepIntervalMs ?? 10_000);
    this.#arm();
  }

  /** Emits every pending detection now (their lines are whatever was read) and waits for key saves. */
  async stop(): Promise<void> {
    if (this.#isStopped) return;
    this.#isStopped = true;
    clearTimeout(this.#timer);
    clearInterval(this.#sweepTimer);
    const nowMs = this.#now();
    this.#emit(this.#join.takeAll(nowMs), nowMs);
    while (this.#saves.size > 0) await Promise.all([...this.#saves]);
  }

  health(): ComponentHealth {
    const detail = `${this.#join.pendingCount} pending, ${this.#join.keyCount} keys, ` +
      `${this.#join.lines.containers} rings (${this.#join.lines.totalBytes} bytes)`;
    if (this.#lastError !== null) return { isHealthy: true, detail: `${detail}; ${this.#lastError}` };
    return { isHealthy: true, detail };
  }

  #emit(events: readonly EvictionEvent[], nowMs: number): void {
    if (events.length === 0) return;
    const keys: JoinedKey[] = [];
    for (const event of events) {
      const record = buildEventRecord(event, { scope: this.#o.scope, nowMs, nodeName: this.#o.nodeName });
      keys.push(event.key);
      this.#o.metrics.evictionEventRecords.inc(1, event.key.eventName);
      this.#next.push(record, {
        fileKey: EVENT_RECORD_ORIGIN_FILE_KEY,
        startOffset: 0,
        endOffset: 0,
        sizeBytes: estimateBytes(record, event),
        podPath: null,
      });
    }
    this.#save(keys);
  }

  #save(keys: JoinedKey[]): void {
    const store = this.#o.keys ?? null;
    if (store === null) return;
    const saving = store.save(keys).catch((thrown) => {
      this.#o.metrics.evictionKeyStoreFailures.inc(1, "save");
      this.#lastError = `Cannot save emitted eviction keys: ${toError(thrown).message}`;
      this.#o.logger.limited("warn", "eviction_key_save", "Cannot save emitted eviction keys", {
        error: toError(thrown).message,
      });
    }).finally(() => this.#saves.delete(saving));
    this.#saves.add(saving);
  }

  /** Sets the timer to the earliest pending deadline. */
  #arm(): void {
    const dueMs = this.#join.nextDueMs();
    if (dueMs === null || dueMs >= this.#timerAtMs) return;
    clearTimeout(this.#timer);
    this.#timerAtMs = dueMs;
    this.#timer = setTimeout(() => this.#onTimer(), Math.max(0, dueMs - this.#now()));
  }

  #onTimer(): void {
    this.#timerAtMs = Infinity;
    if (this.#isStopped) return;
    const nowMs = this.#now();
    this.#emit(this.#join.takeDue(nowMs), nowMs);
    this.#arm();
  }

  #sweep(): void {
    const nowMs = this.#now();
    this.#join.sweep(nowMs);
    const m = this.#o.metrics;
    const trimmed = this.#join.lines.takeTrimCounts();
    for (const [reason, count] of Object.entries(trimmed)) {
      if (count > 0) m.evictionRingTrimmedLines.inc(count, reason);
    }
    m.evictionRingBytes.set(this.#join.lines.totalBytes);
    m.evictionRingContainers.set(this.#join.lines.containers);
  }
}

function estimateBytes(record: LogRecord, event: EvictionEvent): number {
  let bytes = 256 + String(record.body).length;
  for (const line of event.lines) bytes += line.sizeBytes;
  return bytes;
}
