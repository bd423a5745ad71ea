/**
 * The tailer: finds files (discovery), reads them in chunks through one reused buffer, follows rename
 * rotation and truncation, pauses under backpressure, and commits per-file cursors that never pass a
 * byte whose record is not yet done. See README.md in this folder for the cycle and its guarantees.
 *
 * @module
 */

import type { Assembler } from "../assemble/mod.ts";
import type { Config } from "../config/mod.ts";
import type { CursorStore } from "../cursor/mod.ts";
import type { Discovery } from "../discovery/mod.ts";
import type { Enricher } from "../enrich/mod.ts";
import type { LossLedger } from "../ledger/mod.ts";
import { abortableDelay, type Component, type ComponentHealth } from "../lifecycle/mod.ts";
import type { Progress } from "../progress/mod.ts";
import { type FileStatus, type PodLogPath, ReadTurns } from "../record.ts";
import type { AgentMetrics } from "../telemetry/agent_metrics.ts";
import type { KindTracker } from "../telemetry/kinds.ts";
import { type Logger, toError } from "../telemetry/log.ts";
import { CursorSync } from "./cursor_sync.ts";
import { fingerprintOf } from "./file_identity.ts";
import { type FileEvent, FileTable } from "./file_table.ts";
import type { LineSink } from "./line_splitter.ts";
import type { TailedFile } from "./tailed_file.ts";

/** What the read loop needs from the export side: the bytes it holds, and draining at shutdown. */
export interface ExportQueue {
  /** Bytes of records pushed and not yet settled (queued records, sealed batches, requests in flight). */
  inflightBytes(): number;
  pendingBatches(): number;
  drain(timeoutMs: number): Promise<boolean>;
  abort(): Promise<void>;
}

/**
 * Per-file pause (the limiter's delay mode, issue 11): 0 when the file may be read now, else the
 * milliseconds until it may be asked again. Gated files keep their bytes in the file.
 */
export type ReadGate = (origin: { fileKey: string; podPath: PodLogPath | null }, nowMs: number) => number;

/** Options for {@linkcode Tailer}. */
export interface TailerOptions {
  /** The config sections the read side uses (each option declared once, in the schema). */
  config: Pick<
    Config,
    | "startAt"
    | "maxLogSizeBytes"
    | "memoryLimitBytes"
    | "shutdownTimeoutMs"
    | "tail"
    | "cursor"
  >;
  discovery: Discovery;
  cursorStore: CursorStore;
  /** Turns lines into records and pushes them down the record chain (the seam for quarantine tests). */
  assembler: Assembler;
  exportQueue: ExportQueue;
  progress: Progress;
  ledger: LossLedger;
  enricher: Enricher;
  metrics: AgentMetrics;
  kinds: KindTracker;
  logger: Logger;
  readGate?: ReadGate;
  /** Counted on each reuse of the read buffer (see {@linkcode ReadTurns}). @default a counter of its own */
  readTurns?: ReadTurns;
  now?: () => number;
}

/** Reads every wanted log file into the record chain and keeps the cursors. */
export class Tailer implements Component {
  readonly name = "tailer";
  #o: TailerOptions;
  #tail: Config["tail"];
  #now: () => number;
  #readTurns: ReadTurns;
  /** Where reads land; see {@linkcode ReadArena}. */
  #arena: ReadArena;
  #cursors: CursorSync;
  #files: FileTable;
  #abort = new AbortController();
  #loop: Promise<void> | null = null;
  #watch: Promise<void> | null = null;
  #wakeResolve: (() => void) | null = null;
  #isWakePending = false;
  #isScanRequested = true;
  /** Extra scans after an event for an unknown path: a file created right after `mkdir -p` of its
   * directory is often not reported by the watcher, so the directory's event is followed up. */
  #followUpScanMs: number[] = [];
  #nextScanMs = 0;
  #hookedSettle: Promise<void> | null = null;
  #nextPollMs = 0;
  /** Reading moved a frontier since the last commit. */
  #isDirty = true;
  #commit: Promise<void> | null = null;
  #pausedSinceMs: number | null = null;
  #isStopped = false;
  #lastError = "";

  constructor(options: TailerOptions) {
    this.#o = options;
    this.#tail = options.config.tail;
    this.#now = options.now ?? Date.now;
    this.#arena = new ReadArena(this.#tail.readBufferBytes);
    this.#readTurns = options.readTurns ?? new ReadTurns();
    this.#cursors = new CursorSync({
      cursorStore: options.cursorStore,
      progress: options.progress,
      fingerprintBytes: this.#tail.fingerprintBytes,
      metrics: options.metrics,
      kinds: options.kinds,
      logger: options.logger,
    });
    this.#files = new FileTable({
      discovery: options.discovery,
      enricher: options.enricher,
      assembler: options.assembler,
      cursors: this.#cursors,
      ledger: options.ledger,
      metrics: options.metrics,
      kinds: options.kinds,
      startAt: options.config.startAt,
      maxLogSizeBytes: options.config.maxLogSizeBytes,
      tail: this.#tail,
      now: () => this.#now(),
    });
  }

  /** Wakes the read loop (a watch event). A wake while the loop is busy makes its next sleep return at once. */
  wake(): void {
    this.#isWakePending = true;
    const resolve = this.#wakeResolve;
    this.#wakeResolve = null;
    resolve?.();
  }

  /** Every tracked file as `/status` shows it. */
  snapshot(): FileStatus[] {
    const now = this.#now();
    const out: FileStatus[] = [];
    for (const tf of this.#files.byKey.values()) {
      if (tf.state === "closed") continue;
      out.push({
        path: tf.currentPath,
        identity: tf.key,
        offset: tf.readPosition,
        sizeBytes: tf.lastSizeBytes,
        bytesBehind: tf.unreadBytes(),
        state: tf.status(now),
        namespace: tf.podPath?.namespace ?? null,
        podName: tf.podPath?.podName ?? null,
      });
    }
    for (const r of this.#files.refused.values()) {
      out.push({
        path: r.path,
        identity: r.identity,
        offset: 0,
        sizeBytes: 0,
        bytesBehind: 0,
        state: "refused",
        namespace: null,
        podName: null,
      });
    }
    return out;
  }

  async start(signal: AbortSignal): Promise<void> {
    signal.addEventListener("abort", () => this.#abort.abort(), { once: true });
    const cursors = await this.#o.cursorStore.loadAll();
    this.#files.isFirstStart = cursors.size === 0;
    this.#apply(this.#files.resume(cursors));
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
    // A last scan: a rotation since the previous one is recorded (the rotated identity's cursor keeps
    // its path for the restart), rather than found again only by the next run's sibling search.
    try {
      this.#scan(false);
    } catch (err) {
      this.#countReadError(null, err);
    }
    // No shutdown flush: an unfinished P..F record of a live file stays unsent, the cursor stays before
    // its first piece, and the whole record arrives once after the restart (issue 8). Rotated and
    // deleted files flush at their end in housekeeping, as before.
    this.#flushCounts();
    const exports = this.#o.exportQueue;
    const isDrained = await exports.drain(this.#o.config.shutdownTimeoutMs);
    if (!isDrained) {
      this.#o.logger.warn("Shutdown timeout reached with exports in flight; they are resent after restart", {
        pendingBatches: exports.pendingBatches(),
      });
    }
    await exports.abort();
    await this.#commit;
    await this.#commitCursors(this.#now());
    for (const tf of this.#files.byKey.values()) this.#files.closeFd(tf);
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
        this.#pollOpenFiles(now);
        const didRead = await this.#readRound();
        this.#housekeeping(this.#now());
        if (didRead) this.#isDirty = true;
        const progress = this.#o.progress;
        if (this.#commit === null && this.#now() >= progress.commitDueMs(this.#isDirty)) {
          this.#isDirty = false;
          progress.committing(this.#now());
          this.#commit = this.#commitCursors(this.#now()).finally(() => this.#commit = null);
        }
        if (!didRead) {
          const idleSinceMs = this.#now();
          await this.#sleep(this.#idleWaitMs());
          // Coalesce wake-ups: a writer produces a watch event per write(2); reading at most every
          // MIN_IDLE_ROUND_GAP_MS turns thousands of tiny reads per second into a few larger ones, so the
          // cost follows files and bytes, not write calls (issue 9).
          // Not while paused at memory_limit: there the wake-up is a settled batch, and reading again at
          // once is what keeps a small memory_limit from capping throughput.
          const gap = MIN_IDLE_ROUND_GAP_MS - (this.#now() - idleSinceMs);
          const isPaused = this.#pausedSinceMs !== null;
          if (gap > 0 && !isPaused && !signal.aborted) await abortableDelay(gap, signal);
        }
      } catch (err) {
        // A bug outside any one file (per-file errors quarantine that file): count it, keep the loop alive.
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
    wait = Math.min(wait, Math.max(this.#o.progress.commitDueMs(this.#isDirty) - now, 20));
    if (this.#commit !== null) wait = Math.min(wait, 50);
    for (const tf of this.#files.byKey.values()) {
      if (tf.quarantinedUntilMs > now) wait = Math.min(wait, tf.quarantinedUntilMs - now);
      if (tf.gatedUntilMs > now) wait = Math.min(wait, tf.gatedUntilMs - now);
      if (tf.state === "waiting" && (tf.waitingSinceMs !== null || tf.wantsRead)) {
        wait = Math.min(wait, DESCRIPTOR_POLL_MS);
      }
      if (tf.state !== "active") continue;
      if (tf.wantsRead && tf.quarantinedUntilMs <= now && tf.gatedUntilMs <= now) wait = 0;
      // Wake just after the oldest partial record's timeout (flushExpired wants strictly past it).
      wait = Math.min(wait, tf.assembly.nextExpiryMs() + 1 - now);
      if (tf.isRotated) wait = Math.min(wait, ROTATED_POLL_MS);
    }
    if (this.#pausedSinceMs !== null) wait = Math.min(wait, 50);
    if (!this.#o.discovery.isWatchHealthy()) wait = Math.min(wait, this.#nextPollMs - now);
    return Math.max(5, wait);
  }

  /**
   * Without a watcher (too busy to be worth it, or failed), open files are read every POLL_INTERVAL_MS: a
   * read at end of file is one cheap syscall, so the cost follows the number of files, not the number of
   * writes, and new lines wait at most one interval. With a healthy watcher its events say which file grew.
   * Rotated files keep their own slower poll: marking them here would hold back their container's live file
   * (a container's rotated files are drained first) until their rotate_wait.
   */
  #pollOpenFiles(now: number): void {
    if (this.#o.discovery.isWatchHealthy() || now < this.#nextPollMs) return;
    this.#nextPollMs = now + POLL_INTERVAL_MS;
    for (const tf of this.#files.byKey.values()) {
      if (tf.state !== "active" || tf.isRotated) continue;
      tf.pollRequested();
      // A rename by kubelet's rotation leaves another file (or none) at the live path: scan now, so its
      // successor is read within one poll instead of waiting for the next periodic scan.
      if (!this.#isScanRequested && !isStillAt(tf, tf.currentPath)) this.#isScanRequested = true;
    }
  }

  /** Sleeps until `ms` passed, a watch event, or a batch settled (progress: backpressure may have eased). */
  #sleep(ms: number): Promise<void> {
    if (this.#isWakePending) {
      this.#isWakePending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      let isDone = false;
      const done = (): void => {
        if (isDone) return;
        isDone = true;
        clearTimeout(timer);
        this.#wakeResolve = null;
        this.#isWakePending = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wakeResolve = done;
      this.#hookSettle();
    });
  }

  /**
   * Wakes the loop at the next settle. One callback per settle promise, not one per sleep: a sleep that
   * ends on its timer would otherwise leave its callback on the pending promise until a batch settles.
   */
  #hookSettle(): void {
    const settle = this.#o.progress.nextSettle();
    if (settle === this.#hookedSettle) return;
    this.#hookedSettle = settle;
    settle.then(() => this.#wakeResolve?.());
  }

  #onWatchEvent(paths: string[]): void {
    let isUnknown = paths.length === 0;
    for (const path of paths) {
      const tf = this.#files.byPath.get(path);
      if (tf === undefined) isUnknown = true;
      else tf.notified();
    }
    if (isUnknown) {
      this.#isScanRequested = true;
      const now = this.#now();
      this.#followUpScanMs = FOLLOW_UP_SCAN_DELAYS_MS.map((d) => now + d);
    }
    this.wake();
  }

  // ---- reading --------------------------------------------------------------------------------

  /**
   * Everything read and not yet acknowledged: the export queue's bytes (queued records, sealed batches,
   * requests in flight) plus what files hold (carries, long-line heads, stitch pieces).
   */
  #heldBytes(): number {
    let held = 0;
    for (const tf of this.#files.byKey.values()) if (tf.state !== "closed") held += tf.heldBytes();
    return held;
  }

  /**
   * Sets the `memory_accounted_bytes` gauges to what is held now. Read rounds set them too, but none runs
   * while the files are quiet: without this, a scrape after a backlog drained would still show the
   * backlog's bytes.
   */
  refreshMemoryGauges(): void {
    this.#memoryBytes(this.#heldBytes());
  }

  /** `heldBytes` (what files hold) plus the export queue's bytes; updates the gauges. */
  #memoryBytes(heldBytes: number): number {
    const queued = this.#o.exportQueue.inflightBytes();
    this.#o.metrics.memoryBytes.set(heldBytes, "files");
    this.#o.metrics.memoryBytes.set(queued, "export");
    return heldBytes + queued;
  }

  /**
   * One round: every readable file gets one buffer's worth of bytes (its budget for the round), so a
   * file with a large backlog delays a quiet file's new lines by at most one round. A container's
   * rotated files are read before its live file (records stay in order). Reading pauses at
   * `memory_limit`; nothing is dropped for it.
   */
  async #readRound(): Promise<boolean> {
    let didRead = false;
    const now = this.#now();
    const draining = new Set<string>();
    for (const tf of this.#files.byKey.values()) {
      const isDraining = tf.state === "active" && tf.isRotated && tf.wantsRead;
      if (isDraining && tf.quarantinedUntilMs <= now) draining.add(tf.originalPath);
    }
    const gate = this.#o.readGate;
    let held = this.#heldBytes();
    // A round starts after an await: whatever kept a view of the arena past its turn (the eviction rings,
    // until their end-of-turn copy) is done with it.
    this.#newTurn();
    for (const tf of this.#files.byKey.values()) {
      if (tf.state !== "active" || !tf.wantsRead) continue;
      if (!tf.isRotated && draining.has(tf.originalPath)) continue;
      if (tf.quarantinedUntilMs > now || tf.gatedUntilMs > now) continue;
      if (gate !== undefined) {
        const waitMs = gate({ fileKey: tf.key, podPath: tf.podPath }, now);
        if (waitMs > 0) {
          tf.gatedUntil(now + waitMs);
          continue;
        }
      }
      if (this.#memoryBytes(held) >= this.#o.config.memoryLimitBytes) {
        if (this.#pausedSinceMs === null) {
          this.#pausedSinceMs = this.#now();
          this.#o.metrics.backpressurePauses.inc();
        }
        break;
      }
      this.#endPause();
      // Counted once per round, then kept up to date per read: O(files) per round, not per read.
      // Reads are synchronous (TailedFile.read). When the arena is full, give the event loop a turn (so
      // exports, acknowledgements and /metrics keep flowing through a large backlog), then reuse it.
      if (!this.#arena.hasRoom()) {
        await yieldToEventLoop();
        this.#newTurn();
        if (this.#abort.signal.aborted) break;
      }
      const before = tf.heldBytes();
      if (this.#readFileSafely(tf)) didRead = true;
      held += tf.heldBytes() - before;
      if (this.#abort.signal.aborted) break;
    }
    // Counts are flushed by housekeeping, which always follows a round.
    return didRead;
  }

  /** Reads one chunk of `tf`; an unexpected error quarantines this file only (backoff, counted, logged). */
  #readFileSafely(tf: TailedFile): boolean {
    try {
      const didRead = this.#readChunk(tf);
      tf.readSucceeded();
      return didRead;
    } catch (err) {
      tf.quarantined(this.#now(), QUARANTINE_FIRST_MS, QUARANTINE_MAX_MS);
      this.#lastError = `${tf.currentPath}: ${toError(err).message}`;
      this.#o.ledger.quarantined(tf.currentPath, "internal_error", err);
      return false;
    }
  }

  /** Reads start over at the read buffer's beginning: a new turn (see {@linkcode ReadTurns}). */
  #newTurn(): void {
    this.#arena.reset();
    this.#readTurns.next();
  }

  #endPause(): void {
    if (this.#pausedSinceMs === null) return;
    this.#o.metrics.pausedSeconds.inc((this.#now() - this.#pausedSinceMs) / 1000);
    this.#pausedSinceMs = null;
  }

  /** Reads one chunk of `tf` and assembles its whole lines; false at EOF. */
  #readChunk(tf: TailedFile): boolean {
    const buf = this.#arena.next();
    const outcome = tf.read(buf, this.#now);
    if (outcome.kind === "error") {
      this.#countReadError(tf, outcome.error);
      return false;
    }
    if (outcome.kind === "eof") {
      // A write event that brought no bytes: the file may have been truncated in place.
      if (outcome.shouldCheckTruncation && !tf.isRotated && fileSize(tf) < tf.readPosition) {
        this.#restartTruncated(tf, "size_shrank");
      }
      return false;
    }
    const { bytes, readBytes } = outcome.chunk;
    this.#o.metrics.bytesRead.inc(readBytes);
    this.#arena.used(bytes.length);
    if (tf.lines.push(buf, bytes.length, this.#lineSink(tf, this.#now()))) {
      this.#o.metrics.longLines.inc();
    }
    return true;
  }

  /** Where `tf`'s lines go: its assembly, with the clock of this read. */
  #lineSink(tf: TailedFile, nowMs: number): LineSink {
    const assembly = tf.assembly;
    return {
      lines: (buf, start, end, baseOffset) => assembly.lines(buf, start, end, baseOffset, nowMs),
      longLine: (head, lineBytes, startOffset, endOffset) =>
        assembly.longLine(head, lineBytes, startOffset, endOffset, nowMs),
    };
  }

  #flushCounts(): void {
    const c = this.#o.assembler.takeCounts();
    const m = this.#o.metrics;
    if (c.lines > 0) m.linesRead.inc(c.lines);
    if (c.records > 0) m.recordsEmitted.inc(c.records);
    if (c.truncated > 0) m.truncatedRecords.inc(c.truncated);
    for (const [reason, n] of c.malformed) m.malformedLines.inc(n, reason);
    for (const [reason, n] of c.partialFlushes) m.partialFlushes.inc(n, reason);
    m.inflightBytes.set(this.#o.exportQueue.inflightBytes());
  }

  #countReadError(tf: TailedFile | null, err: unknown): void {
    const error = toError(err);
    this.#lastError = `${tf?.currentPath ?? "scan"}: ${error.message}`;
    this.#o.metrics.readErrors.inc(1, error.name);
    this.#o.logger.limited("warn", `read:${error.name}`, "Cannot read log file", {
      path: tf?.currentPath,
      error,
    });
  }

  // ---- discovery, rotation, truncation --------------------------------------------------------

  #scan(isInitial: boolean): void {
    const now = this.#now();
    this.#isScanRequested = false;
    const discovery = this.#o.discovery;
    // Watching paused because files change too often: rotations come often too, and a scan is small next
    // to the lines being read, so scan faster (a rotated file's successor is found by the poll, see isStillAt).
    const interval = discovery.isWatchHealthy()
      ? this.#tail.watchRescanIntervalMs
      : discovery.isBusyPolling()
      ? Math.min(this.#tail.rescanIntervalMs, BUSY_RESCAN_MS)
      : this.#tail.rescanIntervalMs;
    this.#nextScanMs = Math.min(now + interval, this.#followUpScanMs.shift() ?? Infinity);
    this.#o.metrics.rescans.inc(1, isInitial ? "initial" : "periodic");
    this.#isDirty = true;
    this.#apply(this.#files.scan(isInitial, now));
  }

  /** Acts on what the file table found (it calls nobody back). */
  #apply(events: FileEvent[]): void {
    for (const e of events) {
      if (e.kind === "truncated") this.#restartTruncated(e.file, e.reason);
      else if (e.kind === "read_error") this.#countReadError(e.file, e.error);
      else if (e.kind === "rescan") this.#isScanRequested = true;
    }
  }

  #restartTruncated(tf: TailedFile, reason: "size_shrank" | "guard_mismatch"): void {
    tf.assembly.flush("truncated_file", this.#now());
    // The old head is gone: commit the new one, or after a restart the file's cursor no longer matches it
    // (taken for a reused inode: its bytes read again, its old size counted as lost).
    tf.restartedFromZero(tf.file !== null ? fingerprintOf(tf.file, this.#tail.fingerprintBytes, 0) : null);
    this.#o.metrics.truncations.inc(1, reason);
    this.#o.logger.limited("info", `truncated:${tf.key}`, "Log file truncated; reading it again from 0", {
      path: tf.currentPath,
      reason,
    });
  }

  // ---- housekeeping: timeouts, drained rotated files, deadlines, descriptors ------------------

  #housekeeping(now: number): void {
    let isStalled = false;
    for (const tf of this.#files.byKey.values()) {
      if (tf.state === "closed") {
        if (!this.#o.progress.hasOutstanding(tf.key) && tf.committedOffset === tf.consumedOffset) {
          this.#files.retire(tf);
        }
        continue;
      }
      if (tf.state !== "active") continue;
      if (tf.isAtEof && !tf.wantsRead && now > tf.assembly.nextExpiryMs()) tf.assembly.flushExpired(now);
      if (!tf.isRotated) continue;
      if (tf.isAtEof && !tf.wantsRead && now - tf.lastPollMs >= ROTATED_POLL_MS) {
        // The runtime keeps writing to the old descriptor for a moment after kubelet's rename, and no
        // watch event names our path for it any more: poll the size until the file is closed.
        tf.polled(fileSize(tf), now);
      }
      const isDrainedToEof = tf.isAtEof && !tf.wantsRead;
      if (isDrainedToEof && now - Math.max(tf.rotatedAtMs, tf.lastDataMs) >= this.#tail.rotateWaitMs) {
        this.#finishRotated(tf, isDeleted(tf) ? "deleted_eof" : "rotated_eof", now);
        continue;
      }
      if (now - tf.rotatedAtMs > this.#tail.drainDeadlineMs && !isDrainedToEof) {
        if (isDeleted(tf)) {
          // Holding a deleted file open keeps its disk space from the node; past the deadline we let go.
          const isPaused = this.#pausedSinceMs !== null;
          const size = fileSize(tf);
          const unread = Math.max(0, size - tf.readPosition) + tf.lines.pendingBytes();
          this.#o.ledger.lost(tf.currentPath, unread, isPaused ? "deleted_while_paused" : "drain_deadline");
          tf.skippedTo(size);
          this.#finishRotated(tf, "deleted_eof", now);
        } else isStalled = true;
      }
    }
    this.#apply(this.#files.balanceDescriptors(now));
    this.#flushCounts();
    this.#o.ledger.tick(isStalled, this.#files.oldestDescriptorWaitMs(now));
  }

  /** A rotated or deleted file read to its end: flush its unfinished record and last line, close it. */
  #finishRotated(tf: TailedFile, reason: "rotated_eof" | "deleted_eof", now: number): void {
    tf.assembly.flush(reason, now);
    // A last line the writer never ended with "\n" (or a long line cut by the end): ship it rather than lose it.
    tf.lines.finish(this.#lineSink(tf, now));
    this.#files.closeFd(tf);
    tf.finished();
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

const FOLLOW_UP_SCAN_DELAYS_MS = [250, 1000, 3000];
/** Bytes of reads between two turns given to the event loop (about 20-40 ms of assembling). */
const BYTES_PER_TURN = 4 * 1024 * 1024;

/**
 * One buffer that the reads of a turn of the event loop land in, one after another, and that is reused
 * from its start in the next turn. Records' bodies view it (no copy per read or per record), so whatever
 * keeps a body past the turn copies it: the eviction rings do, at the end of the turn; the stitcher and the
 * line splitter copy what they keep at once; the encoder copies every record into its request as it is
 * batched. Nothing is allocated per read, and no read leaves a buffer behind for the garbage collector.
 */
class ReadArena {
  readonly #readBytes: number;
  readonly #bytes: Uint8Array;
  #pos = 0;

  constructor(readBytes: number) {
    this.#readBytes = readBytes;
    this.#bytes = new Uint8Array(Math.max(BYTES_PER_TURN, readBytes) + readBytes);
  }

  /** Whether a whole read buffer fits after what this turn read. */
  hasRoom(): boolean {
    return this.#pos + this.#readBytes <= this.#bytes.length;
  }

  /** The next read buffer (`tail.read_buffer_size` bytes, 4-byte aligned for the newline search). */
  next(): Uint8Array {
    return this.#bytes.subarray(this.#pos, this.#pos + this.#readBytes);
  }

  /** The read just done used `n` bytes of {@linkcode next}'s buffer. */
  used(n: number): void {
    this.#pos = (this.#pos + n + 3) & ~3;
  }

  /** A new turn: reads start over at the beginning. */
  reset(): void {
    this.#pos = 0;
  }
}

/**
 * A macrotask turn, so pending I/O (export responses, the telemetry listener) is polled. A resolved
 * promise or `setImmediate` would not poll I/O; a zero timer does, for about 1 ms of idle time.
 */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
const MIN_IDLE_ROUND_GAP_MS = 100;
const POLL_INTERVAL_MS = 100;
/** Periodic scans while the watcher is paused: new pods; rotations are caught by the poll (isStillAt). */
const BUSY_RESCAN_MS = 1000;
const ROTATED_POLL_MS = 250;
const DESCRIPTOR_POLL_MS = 100;
const QUARANTINE_FIRST_MS = 1000;
const QUARANTINE_MAX_MS = 300_000;

/** Whether `path` still names `tf`'s file (same device and inode). */
function isStillAt(tf: TailedFile, path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.ino === tf.ino && info.dev === tf.dev;
  } catch {
    return false;
  }
}

function isDeleted(tf: TailedFile): boolean {
  try {
    return tf.file !== null && tf.file.statSync().nlink === 0;
  } catch {
    return false;
  }
}

function fileSize(tf: TailedFile): number {
  try {
    return tf.file?.statSync().size ?? tf.lastSizeBytes;
  } catch {
    return tf.lastSizeBytes;
  }
}
