/**
 * The tailer: finds files (discovery), reads them in chunks through one reused buffer, follows rename
 * rotation and truncation, pauses under backpressure, and commits per-file cursors that never pass a
 * byte whose record is not yet done. See README.md in this folder for the cycle and its guarantees.
 *
 * @module
 */

import type { AckTracker } from "../ack/mod.ts";
import type { CursorStore, CursorValue } from "../cursor/mod.ts";
import { type Discovery, type FoundFile, parsePodLogPath } from "../discovery/mod.ts";
import { abortableDelay } from "../lifecycle/mod.ts";
import type { Enricher } from "../enrich/mod.ts";
import type { Batcher } from "../export/batcher.ts";
import type { Component, ComponentHealth } from "../lifecycle/component.ts";
import type { InstrumentationScope, ResourceRef } from "../record.ts";
import { Stitcher } from "../stitch/mod.ts";
import type { AgentMetrics } from "../telemetry/agent_metrics.ts";
import type { KindTracker } from "../telemetry/kinds.ts";
import { type Logger, toError } from "../telemetry/log.ts";
import { type Fingerprint, fingerprintOf, guardHashAt } from "./file_identity.ts";
import { CursorSync, cursorValueOf, findByIdentity, hasHead } from "./cursor_sync.ts";
import { type ChunkContext, type ChunkCounts, msToHr, type RecordSink, TailedFile } from "./tailed_file.ts";

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
  #byKey = new Map<string, TailedFile>();
  #byPath = new Map<string, TailedFile>();
  /** Identities read to their end and closed, with the directory they live in. */
  #drained = new Map<string, { dir: string; cursor: CursorValue }>();
  #dirLastSeenMs = new Map<string, number>();
  /** When the previous scan ran (null before the first one). */
  #lastScanMs: number | null = null;
  /** The newest cursor update found at start: when the previous run last committed (null on a first start). */
  #lastRunMs: number | null = null;
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
  #isFirstStart = false;
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
    this.#cursors = new CursorSync({
      cursorStore: options.cursorStore,
      ack: options.ack,
      fingerprintBytes: options.fingerprintBytes,
      metrics: options.metrics,
      kinds: options.kinds,
      logger: options.logger,
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
    this.#isFirstStart = cursors.size === 0;
    this.#resumeFromCursors(cursors);
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
    for (const tf of this.#byKey.values()) {
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
    for (const tf of this.#byKey.values()) this.#closeFd(tf);
  }

  health(): ComponentHealth {
    const isPaused = this.#pausedSinceMs !== null;
    const detail = `${this.#byKey.size} files tracked${isPaused ? ", paused for backpressure" : ""}` +
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
    for (const tf of this.#byKey.values()) {
      if (tf.state !== "active") continue;
      if (tf.stitcher.pendingStartOffset() !== Infinity) {
        wait = Math.min(wait, this.#o.partialFlushTimeoutMs / 2);
      }
      if (tf.isRotated) wait = Math.min(wait, 250);
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
      const tf = this.#byPath.get(path);
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
    for (const tf of this.#byKey.values()) {
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
      attribute: (path, body, attributes) => this.#o.enricher.attribute(path, body, attributes),
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
    const found = this.#o.discovery.scan();
    const seen = new Set<string>();
    const rotatedDirs = new Set<string>();
    for (const f of found) {
      seen.add(f.path);
      const tf = this.#byPath.get(f.path);
      if (tf !== undefined && tf.dev === f.dev && tf.ino === f.ino) {
        this.#observeSize(tf, f.sizeBytes);
        continue;
      }
      if (tf !== undefined) {
        this.#markRotated(tf, now);
        rotatedDirs.add(dirOf(f.path));
      }
      this.#dropReusedIdentity(`${f.dev}:${f.ino}`, f.path);
      const known = this.#byKey.get(`${f.dev}:${f.ino}`);
      if (known !== undefined) {
        // A tracked identity now lives under an included name: follow it.
        this.#byPath.set(f.path, known);
        known.currentPath = f.path;
        this.#observeSize(known, f.sizeBytes);
        continue;
      }
      if (this.#drained.has(`${f.dev}:${f.ino}`)) continue;
      const offset = isInitial && this.#isFirstStart && this.#o.startAt === "end" ? f.sizeBytes : 0;
      this.#track(f, offset, now);
    }
    for (const [path, tf] of this.#byPath) {
      if (seen.has(path)) continue;
      this.#markRotated(tf, now);
      rotatedDirs.add(dirOf(path));
    }
    for (const [dir, sinceMs] of this.#unseenRotationBounds(rotatedDirs, found, isInitial)) {
      this.#adoptMissedRotations(dir, sinceMs, now);
    }
    for (const f of found) this.#dirLastSeenMs.set(dirOf(f.path), now);
    this.#lastScanMs = now;
    this.#openWaiting();
    this.#o.metrics.filesTracked.set(this.#byKey.size);
    if (this.#byKey.size > this.#o.maxTrackedFiles) {
      this.#o.kinds.raise(
        "FingerprintCardinality",
        `${this.#byKey.size} file identities tracked, ceiling ${this.#o.maxTrackedFiles}`,
      );
    } else this.#o.kinds.clear("FingerprintCardinality");
  }

  #observeSize(tf: TailedFile, sizeBytes: number): void {
    if (tf.state === "active" && sizeBytes < tf.readPosition) this.#restartTruncated(tf, "size_shrank");
    tf.lastSizeBytes = sizeBytes;
    if (sizeBytes > tf.readPosition) tf.wantsRead = true;
  }

  #track(f: FoundFile, offset: number, now: number): TailedFile {
    const parsed = parsePodLogPath(f.path);
    const tf = new TailedFile({
      dev: f.dev,
      ino: f.ino,
      path: f.path,
      podPath: parsed.ok ? parsed.value : null,
      offset,
      sizeBytes: f.sizeBytes,
      stitcher: new Stitcher({
        maxLogSizeBytes: this.#o.maxLogSizeBytes,
        partialFlushTimeoutMs: this.#o.partialFlushTimeoutMs,
      }),
    });
    tf.lastDataMs = now;
    this.#byKey.set(tf.key, tf);
    this.#byPath.set(f.path, tf);
    this.#o.metrics.filesDiscovered.inc();
    if (tf.podPath !== null) this.#o.enricher.fileOpened(tf.podPath);
    return tf;
  }

  #openWaiting(): void {
    let open = 0;
    for (const tf of this.#byKey.values()) if (tf.state === "active") open++;
    for (const tf of this.#byKey.values()) {
      if (tf.state !== "waiting") continue;
      if (open >= this.#o.maxOpenFiles) break;
      if (this.#open(tf)) open++;
    }
  }

  /** Opens a waiting file at its offset; a vanished file is a counted loss. */
  #open(tf: TailedFile): boolean {
    try {
      const file = Deno.openSync(tf.currentPath, { read: true });
      const info = file.statSync();
      if (info.ino !== tf.ino || info.dev !== tf.dev) {
        file.close();
        this.#forget(tf);
        this.#isScanRequested = true;
        return false;
      }
      tf.file = file;
      this.#o.metrics.filesOpen.labels().value++;
      tf.state = "active";
      tf.fingerprint = fingerprintOf(file, this.#o.fingerprintBytes, tf.readPosition);
      file.seekSync(tf.readPosition, Deno.SeekMode.Start);
      tf.wantsRead = true;
      return true;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        this.#countLoss(tf, tf.unreadBytes(), "vanished_before_open", "RotationStalled");
        this.#forget(tf);
        return false;
      }
      this.#countReadError(tf, err);
      return false;
    }
  }

  #markRotated(tf: TailedFile, now: number): void {
    if (this.#byPath.get(tf.currentPath) === tf) this.#byPath.delete(tf.currentPath);
    if (tf.isRotated) return;
    tf.isRotated = true;
    tf.rotatedAtMs = now;
    tf.wantsRead = true;
    this.#o.metrics.rotations.inc();
    if (tf.state === "waiting") this.#open(tf);
  }

  /**
   * Directories that may hold rotated files no scan saw, each with the time after which such a file is
   * unseen: a directory where this scan saw a rotation (since we last looked at it); a directory new since
   * the previous scan (its first file was created and rotated in between); and at start, every directory
   * (rotations while we were down, twice or in a directory that appeared meanwhile). A first start reads
   * only the included names, as before.
   */
  #unseenRotationBounds(
    rotatedDirs: Set<string>,
    found: FoundFile[],
    isInitial: boolean,
  ): Map<string, number> {
    const bounds = new Map<string, number>();
    for (const dir of rotatedDirs) {
      const lastSeen = this.#dirLastSeenMs.get(dir);
      if (lastSeen !== undefined) bounds.set(dir, lastSeen);
    }
    const unseenSinceMs = isInitial ? this.#lastRunMs : this.#lastScanMs;
    if (unseenSinceMs === null) return bounds;
    if (isInitial) {
      for (const [dir, lastSeen] of this.#dirLastSeenMs) if (!bounds.has(dir)) bounds.set(dir, lastSeen);
    }
    for (const f of found) {
      const dir = dirOf(f.path);
      if (!bounds.has(dir) && !this.#dirLastSeenMs.has(dir)) bounds.set(dir, unseenSinceMs);
    }
    return bounds;
  }

  /**
   * Kubelet may rotate twice between two scans. A rotated sibling (`N.log.<ts>`) we never saw, modified
   * after `sinceMs`, holds lines nobody read: tail it from 0.
   */
  #adoptMissedRotations(dir: string, sinceMs: number, now: number): void {
    const siblings = this.#o.discovery.rotatedSiblings(dir);
    for (const f of siblings) {
      const key = `${f.dev}:${f.ino}`;
      this.#dropReusedIdentity(key, f.path);
      const tf = this.#byKey.get(key);
      if (tf !== undefined) {
        tf.currentPath = f.path;
        continue;
      }
      // File times come from the kernel's coarse clock, up to a tick behind Date.now() (5 ms measured on
      // ext4), and some filesystems keep whole seconds: a file written just after a scan can look older.
      if (this.#drained.has(key) || f.mtimeMs < sinceMs - MTIME_SLACK_MS) continue;
      const adopted = this.#track({ ...f, path: f.path }, 0, now);
      this.#byPath.delete(f.path);
      adopted.isRotated = true;
      adopted.rotatedAtMs = now;
      this.#o.metrics.rotations.inc();
      this.#open(adopted);
    }
  }

  /**
   * A deleted file's inode number goes to a later file (ext4 reuses it at once), so a new log file can
   * carry the identity of a rotated file we finished with (kubelet deletes it after compressing it). The
   * head fingerprint tells them apart; a file we still hold open cannot have been freed. The old identity
   * is dropped so the new file is tracked from 0 instead of being taken for the finished one.
   */
  #dropReusedIdentity(key: string, path: string): void {
    const tf = this.#byKey.get(key);
    const drained = this.#drained.get(key);
    let head: Fingerprint;
    if (tf !== undefined) {
      if (tf.file !== null || tf.state !== "closed") return;
      head = tf.fingerprint;
    } else if (drained !== undefined) {
      head = { length: drained.cursor.fingerprintLength, hash: drained.cursor.fingerprintHash };
    } else return;
    if (hasHead(path, head, true)) return; // unreadable: vanished since the scan, nothing new to track
    if (tf !== undefined) this.#retire(tf);
    this.#drained.delete(key);
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
    for (const tf of this.#byKey.values()) {
      if (tf.state === "closed") {
        if (!this.#o.ack.hasOutstanding(tf) && tf.committedOffset === tf.consumedOffset) this.#retire(tf);
        continue;
      }
      if (tf.state !== "active") continue;
      if (tf.isAtEof && !tf.wantsRead) {
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
          const unread = Math.max(0, fileSize(tf) - tf.readPosition) + (tf.carry?.length ?? 0);
          this.#countLoss(
            tf,
            unread,
            isPaused ? "deleted_while_paused" : "drain_deadline",
            isPaused ? "BackpressureDrop" : "RotationStalled",
          );
          this.#setResource(ctx, tf);
          tf.flushPending("deleted_eof", ctx);
          tf.consumedOffset = tf.readPosition = fileSize(tf);
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
    reason: string,
    kind: "RotationStalled" | "BackpressureDrop",
  ): void {
    this.#o.metrics.bytesLost.inc(bytes, reason);
    this.#o.metrics.filesLost.inc(1, reason);
    this.#lastLossMs.set(kind, this.#now());
    this.#o.kinds.raise(kind, `${bytes} bytes of ${tf.originalPath} lost: ${reason}`);
    this.#o.logger.warn("Log bytes lost", { path: tf.currentPath, bytes, reason });
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

  /** A closed file whose records are all done and whose final cursor is committed: remember it as drained. */
  #retire(tf: TailedFile): void {
    this.#byKey.delete(tf.key);
    if (this.#byPath.get(tf.currentPath) === tf) this.#byPath.delete(tf.currentPath);
    this.#drained.set(tf.key, { dir: dirOf(tf.originalPath), cursor: cursorValueOf(tf, true, this.#now()) });
    if (tf.podPath !== null) this.#o.enricher.fileClosed(tf.podPath);
  }

  #forget(tf: TailedFile): void {
    this.#byKey.delete(tf.key);
    if (this.#byPath.get(tf.currentPath) === tf) this.#byPath.delete(tf.currentPath);
    this.#cursors.forget(tf.key);
    if (tf.podPath !== null) this.#o.enricher.fileClosed(tf.podPath);
  }

  // ---- cursors ---------------------------------------------------------------------------------

  async #commitCursors(now: number): Promise<void> {
    const outcome = await this.#cursors.commit(
      this.#byKey.values(),
      this.#byKey.size + this.#drained.size,
      now,
    );
    if (outcome !== "unchanged") this.#isDirty = true;
  }

  /**
   * Matches stored cursors to files by identity, including files kubelet renamed while the agent was
   * down (`0.log` -> `0.log.<ts>`): the include glob no longer names them, but their tails are ours.
   */
  #resumeFromCursors(cursors: Map<string, CursorValue>): void {
    const now = this.#now();
    for (const [key, cursor] of cursors) {
      const dir = dirOf(cursor.path);
      this.#dirLastSeenMs.set(dir, Math.max(this.#dirLastSeenMs.get(dir) ?? 0, cursor.updatedAtMs));
      this.#lastRunMs = Math.max(this.#lastRunMs ?? 0, cursor.updatedAtMs);
      const found = findByIdentity(cursor, [
        cursor.path,
        ...this.#o.discovery.rotatedSiblings(dir).map((f) => f.path),
      ]);
      if (cursor.isDrained) {
        if (found === null) this.#cursors.forget(key);
        else this.#drained.set(key, { dir, cursor });
        continue;
      }
      if (found === null) {
        const unread = Math.max(0, cursor.sizeBytes - cursor.offset);
        if (unread > 0) {
          this.#o.metrics.bytesLost.inc(unread, "gone_while_down");
          this.#o.metrics.filesLost.inc(1, "gone_while_down");
          this.#lastLossMs.set("RotationStalled", now);
          this.#o.kinds.raise("RotationStalled", `${unread} bytes of ${cursor.path} lost: gone_while_down`);
          this.#o.logger.warn("Log file vanished while the agent was down", { path: cursor.path, unread });
        }
        this.#cursors.forget(key);
        continue;
      }
      this.#resumeOne(cursor, found, now);
    }
  }

  #resumeOne(cursor: CursorValue, found: FoundFile, now: number): void {
    const tf = this.#track(found, cursor.offset, now);
    tf.committedOffset = cursor.offset;
    tf.committedFingerprintLength = cursor.fingerprintLength;
    tf.committedGuardHash = cursor.guardHash;
    const isIncluded = this.#o.discovery.isWanted(found.path) && !/\.log\.\d/.test(found.path);
    if (!isIncluded) {
      // Renamed while we were down: drain it and let it go.
      this.#byPath.delete(found.path);
      tf.isRotated = true;
      tf.rotatedAtMs = now;
      this.#o.metrics.rotations.inc();
    }
    if (!this.#open(tf)) return;
    const guard = guardHashAt(tf.file!, cursor.offset, cursor.offset);
    if (found.sizeBytes < cursor.offset) this.#restartTruncated(tf, "size_shrank");
    else if (guard !== cursor.guardHash) this.#restartTruncated(tf, "guard_mismatch");
  }
}

const EMPTY_RESOURCE: ResourceRef = { attributes: {} };
const FOLLOW_UP_SCAN_DELAYS_MS = [250, 1000, 3000];
const MIN_IDLE_ROUND_GAP_MS = 100;
const ROTATED_POLL_MS = 250;

/** Margin when comparing file modification times with our clock (see #adoptMissedRotations). */
const MTIME_SLACK_MS = 1000;

function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

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
