/**
 * The tailer: finds files (discovery), reads them in chunks through one reused buffer, follows rename
 * rotation and truncation, pauses under backpressure, and commits per-file cursors that never pass a
 * byte whose record is not yet done. See README.md in this folder for the cycle and its guarantees.
 *
 * @module
 */

import type { AckTracker } from "../ack/mod.ts";
import type { CursorStore } from "../cursor/mod.ts";
import type { Discovery } from "../discovery/mod.ts";
import type { Enricher } from "../enrich/mod.ts";
import type { Batcher } from "../export/batcher.ts";
import { abortableDelay, type Component, type ComponentHealth } from "../lifecycle/mod.ts";
import type { InstrumentationScope, ResourceRef } from "../record.ts";
import type { AgentMetrics } from "../telemetry/agent_metrics.ts";
import type { KindTracker } from "../telemetry/kinds.ts";
import { type Logger, toError } from "../telemetry/log.ts";
import { CursorSync } from "./cursor_sync.ts";
import { fingerprintOf } from "./file_identity.ts";
import { type FileLossReason, FileTable } from "./file_table.ts";
import { type FileStatus, fileStatusOf } from "./file_status.ts";
import {
  type ChunkContext,
  type ChunkCounts,
  msToHr,
  type RecordSink,
  type TailedFile,
} from "./tailed_file.ts";

/** Options for {@linkcode Tailer}. */
export interface TailerOptions {
  discovery: Discovery;
  cursorStore: CursorStore;
  batcher: Batcher<TailedFile>;
  ack: AckTracker<TailedFile>;
  enricher: Enricher;
  metrics: AgentMetrics;
  kinds: KindTracker;
  logger: Logger;
  scope: InstrumentationScope;
  startAt: "beginning" | "end";
  maxLogSizeBytes: number;
  /** Whether records carry `log.file.path`. */
  includeFilePath: boolean;
  partialFlushTimeoutMs: number;
  memoryLimitBytes: number;
  /** Rescan period while the watcher is down or overflowed. */
  rescanIntervalMs: number;
  /** Safety rescan period while the watcher is healthy. */
  watchRescanIntervalMs: number;
  maxOpenFiles: number;
  maxTrackedFiles: number;
  rotateWaitMs: number;
  drainDeadlineMs: number;
  readBufferBytes: number;
  fingerprintBytes: number;
  cursorFlushIntervalMs: number;
  shutdownTimeoutMs: number;
  /** How long a loss keeps its Kind raised. @default 300000 */
  lossKindHoldMs?: number;
  now?: () => number;
}

/** Reads every wanted log file into the batcher and keeps the cursors. */
export class Tailer implements Component, RecordSink {
  readonly name = "tailer";
  #o: TailerOptions;
  #now: () => number;
  #buf: Uint8Array;
  #cursors: CursorSync;
  /** Per-record attribution, bound once: a chunk context is built per read, not per record. */
  #attribute: ChunkContext["attribute"];
  #files: FileTable;
  #pathResources = new Map<string, ResourceRef>();
  #abort = new AbortController();
  #loop: Promise<void> | null = null;
  #watch: Promise<void> | null = null;
  #wakeResolve: (() => void) | null = null;
  #isScanRequested = true;
  /** Extra scans after an event for an unknown path: a file created right after `mkdir -p` of its
   * directory is often not reported by the watcher, so the directory's event is followed up. */
  #followUpScanMs: number[] = [];
  #nextScanMs = 0;
  #nextCommitMs = 0;
  /** Something may have moved a cursor since the last commit; when false the loop sleeps until the next scan. */
  #isDirty = true;
  #commit: Promise<void> | null = null;
  #pausedSinceMs: number | null = null;
  #isStopped = false;
  #lastLossMs = new Map<"RotationStalled" | "BackpressureDrop", number>();
  #lastError = "";
  #counts: ChunkCounts = {
    lines: 0,
    records: 0,
    truncated: 0,
    malformed: new Map(),
    partialFlushes: new Map(),
  };

  constructor(options: TailerOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#buf = new Uint8Array(options.readBufferBytes);
    this.#attribute = (path, body, attributes) => options.enricher.attribute(path, body, attributes);
    this.#cursors = new CursorSync({
      cursorStore: options.cursorStore,
      ack: options.ack,
      fingerprintBytes: options.fingerprintBytes,
      metrics: options.metrics,
      kinds: options.kinds,
      logger: options.logger,
    });
    this.#files = new FileTable({
      discovery: options.discovery,
      enricher: options.enricher,
      cursors: this.#cursors,
      metrics: options.metrics,
      kinds: options.kinds,
      startAt: options.startAt,
      maxLogSizeBytes: options.maxLogSizeBytes,
      partialFlushTimeoutMs: options.partialFlushTimeoutMs,
      maxOpenFiles: options.maxOpenFiles,
      maxTrackedFiles: options.maxTrackedFiles,
      fingerprintBytes: options.fingerprintBytes,
      hooks: {
        now: () => this.#now(),
        restartTruncated: (tf, reason) => this.#restartTruncated(tf, reason),
        countLoss: (tf, bytes, reason, kind) => this.#countLoss(tf, bytes, reason, kind),
        lostWhileDown: (path, bytes) => this.#lostWhileDown(path, bytes),
        countReadError: (tf, err) => this.#countReadError(tf, err),
        requestScan: () => {
          this.#isScanRequested = true;
        },
      },
    });
  }

  /** RecordSink: hands a record to the batcher. */
  push(
    record: Parameters<RecordSink["push"]>[0],
    file: TailedFile,
    startOffset: number,
    bytes: number,
  ): void {
    this.#o.batcher.push(record, file, startOffset, bytes);
  }

  /** Wakes the read loop (a watch event, an acknowledged batch). */
  wake(): void {
    this.#isDirty = true;
    const resolve = this.#wakeResolve;
    this.#wakeResolve = null;
    resolve?.();
  }

  async start(signal: AbortSignal): Promise<void> {
    signal.addEventListener("abort", () => this.#abort.abort(), { once: true });
    const cursors = await this.#o.cursorStore.loadAll();
    this.#files.isFirstStart = cursors.size === 0;
    this.#files.resume(cursors);
    this.#scan(true);
    this.#loop = this.#run();
    this.#watch = this.#o.discovery.watch(this.#abort.signal, (paths) => this.#onWatchEvent(paths));
  }

  async stop(): Promise<void> {
    if (this.#isStopped) return;
    this.#isStopped = true;
    this.#abort.abort();
    this.wake();
    await this.#loop;
    await this.#watch;
    const ctx = this.#context(this.#now());
    for (const tf of this.#files.byKey.values()) {
      if (tf.state === "active") {
        this.#setResource(ctx, tf);
        tf.flushPending("shutdown", ctx);
      }
    }
    this.#flushCounts();
    const isDrained = await this.#o.batcher.drain(this.#o.shutdownTimeoutMs);
    if (!isDrained) {
      this.#o.logger.warn("Shutdown timeout reached with exports in flight; they are resent after restart", {
        pendingBatches: this.#o.batcher.pendingBatches(),
      });
    }
    await this.#o.batcher.abort();
    await this.#commit;
    await this.#commitCursors(this.#now());
    for (const tf of this.#files.byKey.values()) this.#closeFd(tf);
  }

  /** Every tracked file, for `/status`. */
  snapshot(): FileStatus[] {
    return [...this.#files.byKey.values()].map(fileStatusOf);
  }

  health(): ComponentHealth {
    const isPaused = this.#pausedSinceMs !== null;
    const detail = `${this.#files.byKey.size} files tracked${isPaused ? ", paused for backpressure" : ""}` +
      (this.#lastError === "" ? "" : `, last error: ${this.#lastError}`);
    return { isHealthy: this.#loop !== null && !this.#isStopped, detail };
  }

  // ---- the loop -------------------------------------------------------------------------------

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      try {
        const now = this.#now();
        if (this.#isScanRequested || now >= this.#nextScanMs) this.#scan(false);
        const didRead = await this.#readRound();
        this.#housekeeping(this.#now());
        if (didRead) this.#isDirty = true;
        if (this.#isDirty && this.#now() >= this.#nextCommitMs && this.#commit === null) {
          this.#isDirty = false;
          this.#nextCommitMs = this.#now() + this.#o.cursorFlushIntervalMs;
          this.#commit = this.#commitCursors(this.#now()).finally(() => this.#commit = null);
        }
        if (!didRead) {
          const idleSinceMs = this.#now();
          await this.#sleep(this.#idleWaitMs());
          // Coalesce wake-ups: a busy writer produces a watch event per write; reading at most every
          // MIN_IDLE_ROUND_GAP_MS turns thousands of tiny reads per second into a few larger ones.
          const gap = MIN_IDLE_ROUND_GAP_MS - (this.#now() - idleSinceMs);
          if (gap > 0 && !signal.aborted) await abortableDelay(gap, signal);
        }
      } catch (err) {
        // A bug or an unexpected environment error: count it, keep the loop alive.
        const error = toError(err);
        this.#lastError = error.message;
        this.#o.metrics.readErrors.inc(1, "internal_error");
        this.#o.logger.limited("error", "tailer:loop", "Tailer loop error", { error, stack: error.stack });
        await this.#sleep(100);
      }
    }
  }

  #idleWaitMs(): number {
    const now = this.#now();
    let wait = this.#nextScanMs - now;
    if (this.#isDirty || this.#commit !== null || this.#o.ack.outstandingBatches() > 0) {
      wait = Math.min(wait, Math.max(this.#nextCommitMs - now, 50));
    }
    for (const tf of this.#files.byKey.values()) {
      if (tf.state !== "active") continue;
      // Wake just after the oldest partial record's timeout (flushExpired wants strictly past it).
      wait = Math.min(wait, tf.stitcher.nextExpiryMs() + 1 - now);
      if (tf.isRotated) wait = Math.min(wait, ROTATED_POLL_MS);
    }
    return Math.max(5, wait);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wakeResolve = null;
        resolve();
      }, ms);
      this.#wakeResolve = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  #onWatchEvent(paths: string[]): void {
    let isUnknown = paths.length === 0;
    for (const path of paths) {
      const tf = this.#files.byPath.get(path);
      if (tf === undefined) isUnknown = true;
      else {
        tf.wantsRead = true;
        tf.needsStat = true;
      }
    }
    if (isUnknown) {
      this.#isScanRequested = true;
      const now = this.#now();
      this.#followUpScanMs = FOLLOW_UP_SCAN_DELAYS_MS.map((d) => now + d);
    }
    this.wake();
  }

  // ---- reading --------------------------------------------------------------------------------

  #isOverMemoryLimit(): boolean {
    return this.#o.batcher.inflightBytes() >= this.#o.memoryLimitBytes;
  }

  async #readRound(): Promise<boolean> {
    let didRead = false;
    for (const tf of this.#files.byKey.values()) {
      if (tf.state !== "active" || !tf.wantsRead) continue;
      if (this.#isOverMemoryLimit()) {
        if (this.#pausedSinceMs === null) this.#pausedSinceMs = this.#now();
        break;
      }
      this.#endPause();
      if (await this.#readChunk(tf)) didRead = true;
      if (this.#abort.signal.aborted) break;
    }
    this.#flushCounts();
    return didRead;
  }

  #endPause(): void {
    if (this.#pausedSinceMs === null) return;
    this.#o.metrics.pausedSeconds.inc((this.#now() - this.#pausedSinceMs) / 1000);
    this.#pausedSinceMs = null;
  }

  /** Reads one chunk of `tf` and processes its whole lines; false at EOF. */
  async #readChunk(tf: TailedFile): Promise<boolean> {
    const buf = this.#buf;
    const carryLength = tf.carry?.length ?? 0;
    if (tf.carry !== null) buf.set(tf.carry, 0);
    let n: number | null;
    // Consume the flag before the await: a watch event that arrives while the read is in flight sets it
    // again and is not lost.
    tf.wantsRead = false;
    try {
      n = await tf.file!.read(buf.subarray(carryLength));
    } catch (err) {
      this.#countReadError(tf, err);
      return false;
    }
    const now = this.#now();
    if (n === null || n === 0) {
      tf.isAtEof = true;
      if (tf.needsStat) {
        // A write event that brought no bytes: the file may have been truncated in place.
        tf.needsStat = false;
        const size = fileSize(tf);
        if (size < tf.readPosition && !tf.isRotated) this.#restartTruncated(tf, "size_shrank");
      }
      return false;
    }
    // A short read of a regular file means we reached its end: skip the extra read that would say so.
    const isShortRead = n < buf.length - carryLength;
    tf.isAtEof = isShortRead;
    if (!isShortRead) tf.wantsRead = true;
    tf.lastDataMs = now;
    tf.readPosition += n;
    if (tf.readPosition > tf.lastSizeBytes) tf.lastSizeBytes = tf.readPosition;
    this.#o.metrics.bytesRead.inc(n);
    const total = carryLength + n;
    const ctx = this.#context(now);
    this.#setResource(ctx, tf);
    const lastNewline = buf.lastIndexOf(10, total - 1);
    if (lastNewline < 0) {
      if (total < buf.length) {
        tf.carry = buf.slice(0, total);
        return true;
      }
      // No newline in a whole buffer: not a CRI line (runtimes split at 16 KiB). Ship it raw, counted.
      this.#o.metrics.longLines.inc();
      tf.processOverlongLine(buf.subarray(0, total), ctx);
      tf.carry = null;
      return true;
    }
    tf.processLines(buf, lastNewline + 1, ctx);
    tf.carry = total > lastNewline + 1 ? buf.slice(lastNewline + 1, total) : null;
    return true;
  }

  #context(nowMs: number): ChunkContext {
    return {
      sink: this,
      resource: EMPTY_RESOURCE,
      scope: this.#o.scope,
      attribute: this.#attribute,
      maxLogSizeBytes: this.#o.maxLogSizeBytes,
      includeFilePath: this.#o.includeFilePath,
      nowMs,
      observedHr: msToHr(nowMs),
      counts: this.#counts,
    };
  }

  #setResource(ctx: ChunkContext, tf: TailedFile): void {
    if (tf.podPath !== null) {
      ctx.resource = this.#o.enricher.resourceFor(tf.podPath);
      return;
    }
    let resource = this.#pathResources.get(tf.originalPath);
    if (resource === undefined) {
      resource = { attributes: {} };
      this.#pathResources.set(tf.originalPath, resource);
    }
    ctx.resource = resource;
  }

  #flushCounts(): void {
    const c = this.#counts;
    const m = this.#o.metrics;
    if (c.lines > 0) m.linesRead.inc(c.lines);
    if (c.records > 0) m.recordsEmitted.inc(c.records);
    if (c.truncated > 0) m.truncatedRecords.inc(c.truncated);
    for (const [reason, n] of c.malformed) m.malformedLines.inc(n, reason);
    for (const [reason, n] of c.partialFlushes) m.partialFlushes.inc(n, reason);
    c.lines = c.records = c.truncated = 0;
    c.malformed.clear();
    c.partialFlushes.clear();
    m.inflightBytes.set(this.#o.batcher.inflightBytes());
  }

  #countReadError(tf: TailedFile, err: unknown): void {
    const error = toError(err);
    this.#lastError = `${tf.currentPath}: ${error.message}`;
    this.#o.metrics.readErrors.inc(1, error.name);
    this.#o.logger.limited("warn", `read:${error.name}`, "Cannot read log file", {
      path: tf.currentPath,
      error,
    });
  }

  // ---- discovery, rotation, truncation --------------------------------------------------------

  #scan(isInitial: boolean): void {
    const now = this.#now();
    this.#isScanRequested = false;
    const interval = this.#o.discovery.isWatchHealthy()
      ? this.#o.watchRescanIntervalMs
      : this.#o.rescanIntervalMs;
    this.#nextScanMs = Math.min(now + interval, this.#followUpScanMs.shift() ?? Infinity);
    this.#o.metrics.rescans.inc(1, isInitial ? "initial" : "periodic");
    this.#isDirty = true;
    this.#files.scan(isInitial, now);
  }

  #restartTruncated(tf: TailedFile, reason: "size_shrank" | "guard_mismatch"): void {
    const ctx = this.#context(this.#now());
    this.#setResource(ctx, tf);
    tf.flushPending("truncated_file", ctx);
    tf.carry = null;
    tf.consumedOffset = 0;
    tf.readPosition = 0;
    tf.isAtEof = false;
    tf.wantsRead = true;
    tf.file?.seekSync(0, Deno.SeekMode.Start);
    // The old head is gone: commit the new one, or after a restart the file's cursor no longer matches it
    // (taken for a reused inode: its bytes read again, its old size counted as lost).
    if (tf.file !== null) tf.fingerprint = fingerprintOf(tf.file, this.#o.fingerprintBytes, 0);
    tf.committedFingerprintLength = -1;
    this.#o.metrics.truncations.inc(1, reason);
    this.#o.logger.limited("info", `truncated:${tf.key}`, "Log file truncated; reading it again from 0", {
      path: tf.currentPath,
      reason,
    });
  }

  // ---- housekeeping: timeouts, drained rotated files, deadlines ------------------------------

  #housekeeping(now: number): void {
    const ctx = this.#context(now);
    let isStalled = false;
    for (const tf of this.#files.byKey.values()) {
      if (tf.state === "closed") {
        if (!this.#o.ack.hasOutstanding(tf) && tf.committedOffset === tf.consumedOffset) {
          this.#files.retire(tf);
        }
        continue;
      }
      if (tf.state !== "active") continue;
      if (tf.isAtEof && !tf.wantsRead && now > tf.stitcher.nextExpiryMs()) {
        this.#setResource(ctx, tf);
        tf.flushExpired(ctx);
      }
      if (!tf.isRotated) continue;
      if (
        tf.isAtEof && !tf.wantsRead && now - tf.lastPollMs >= ROTATED_POLL_MS &&
        pollSize(tf, now) > tf.readPosition
      ) {
        // The runtime keeps writing to the old descriptor for a moment after kubelet's rename, and no
        // watch event names our path for it any more: poll the size until the file is closed.
        tf.wantsRead = true;
        tf.isAtEof = false;
      }
      const isDrainedToEof = tf.isAtEof && !tf.wantsRead;
      if (isDrainedToEof && now - Math.max(tf.rotatedAtMs, tf.lastDataMs) >= this.#o.rotateWaitMs) {
        this.#setResource(ctx, tf);
        tf.flushPending(isDeleted(tf) ? "deleted_eof" : "rotated_eof", ctx);
        this.#closeFd(tf);
        tf.state = "closed";
        continue;
      }
      if (now - tf.rotatedAtMs > this.#o.drainDeadlineMs && !isDrainedToEof) {
        if (isDeleted(tf)) {
          // Holding a deleted file open keeps its disk space from the node; past the deadline we let go.
          const isPaused = this.#pausedSinceMs !== null;
          const size = fileSize(tf);
          const unread = Math.max(0, size - tf.readPosition) + (tf.carry?.length ?? 0);
          this.#countLoss(
            tf,
            unread,
            isPaused ? "deleted_while_paused" : "drain_deadline",
            isPaused ? "BackpressureDrop" : "RotationStalled",
          );
          this.#setResource(ctx, tf);
          tf.flushPending("deleted_eof", ctx);
          tf.consumedOffset = tf.readPosition = size;
          this.#closeFd(tf);
          tf.state = "closed";
        } else isStalled = true;
      }
    }
    this.#flushCounts();
    this.#updateLossKinds(now, isStalled);
  }

  #updateLossKinds(now: number, isStalled: boolean): void {
    const hold = this.#o.lossKindHoldMs ?? 300_000;
    const rot = this.#lastLossMs.get("RotationStalled");
    if (isStalled) {
      this.#o.kinds.raise(
        "RotationStalled",
        "a rotated file still has unread bytes after tail.drain_deadline",
      );
    } else if (rot === undefined || now - rot > hold) this.#o.kinds.clear("RotationStalled");
    const bp = this.#lastLossMs.get("BackpressureDrop");
    if (bp !== undefined && now - bp > hold) this.#o.kinds.clear("BackpressureDrop");
  }

  #countLoss(
    tf: TailedFile,
    bytes: number,
    reason: FileLossReason,
    kind: "RotationStalled" | "BackpressureDrop",
  ): void {
    this.#o.metrics.bytesLost.inc(bytes, reason);
    this.#o.metrics.filesLost.inc(1, reason);
    this.#lastLossMs.set(kind, this.#now());
    this.#o.kinds.raise(kind, `${bytes} bytes of ${tf.originalPath} lost: ${reason}`);
    this.#o.logger.warn("Log bytes lost", { path: tf.currentPath, bytes, reason });
  }

  #lostWhileDown(path: string, bytes: number): void {
    const reason: FileLossReason = "gone_while_down";
    this.#o.metrics.bytesLost.inc(bytes, reason);
    this.#o.metrics.filesLost.inc(1, reason);
    this.#lastLossMs.set("RotationStalled", this.#now());
    this.#o.kinds.raise("RotationStalled", `${bytes} bytes of ${path} lost: gone_while_down`);
    this.#o.logger.warn("Log file vanished while the agent was down", { path, unread: bytes });
  }

  #closeFd(tf: TailedFile): void {
    if (tf.file === null) return;
    try {
      tf.file.close();
    } catch {
      // Already closed.
    }
    tf.file = null;
    this.#o.metrics.filesOpen.labels().value--;
  }

  // ---- cursors ---------------------------------------------------------------------------------

  async #commitCursors(now: number): Promise<void> {
    const outcome = await this.#cursors.commit(
      this.#files.byKey.values(),
      this.#files.byKey.size + this.#files.drained.size,
      now,
    );
    if (outcome !== "unchanged") this.#isDirty = true;
  }
}

const EMPTY_RESOURCE: ResourceRef = { attributes: {} };
const FOLLOW_UP_SCAN_DELAYS_MS = [250, 1000, 3000];
const MIN_IDLE_ROUND_GAP_MS = 100;
const ROTATED_POLL_MS = 250;

function isDeleted(tf: TailedFile): boolean {
  try {
    return tf.file !== null && tf.file.statSync().nlink === 0;
  } catch {
    return false;
  }
}

function pollSize(tf: TailedFile, now: number): number {
  tf.lastPollMs = now;
  return fileSize(tf);
}

function fileSize(tf: TailedFile): number {
  try {
    return tf.file?.statSync().size ?? tf.lastSizeBytes;
  } catch {
    return tf.lastSizeBytes;
  }
}
