/**
 * The table of tailed files: which identities are tracked, under which paths, and which were drained.
 * It turns scans into tracking decisions (new file, rename rotation, missed rotations, inode reuse),
 * opens files within `tail.max_open_files`, and matches stored cursors to files at start. Reading,
 * loss accounting and the loop stay in tailer.ts, reached through {@linkcode FileTableHooks}.
 *
 * @module
 */

import type { CursorValue } from "../cursor/mod.ts";
import { type Discovery, type FoundFile, parsePodLogPath } from "../discovery/mod.ts";
import type { Enricher } from "../enrich/mod.ts";
import { Stitcher } from "../stitch/mod.ts";
import type { AgentMetrics } from "../telemetry/agent_metrics.ts";
import type { KindTracker } from "../telemetry/kinds.ts";
import { type CursorSync, cursorValueOf, findByIdentity, hasHead } from "./cursor_sync.ts";
import { type Fingerprint, fingerprintOf, guardHashAt } from "./file_identity.ts";
import { TailedFile } from "./tailed_file.ts";

/**
 * Why bytes of a file were lost: the `reason` label of `containerstdout_lost_bytes_total` and
 * `containerstdout_lost_files_total` (docs/FAILURE-MODES.md has one row per value).
 */
export type FileLossReason =
  | "vanished_before_open"
  | "drain_deadline"
  | "deleted_while_paused"
  | "gone_while_down";

/** What the table asks of the tailer. */
export interface FileTableHooks {
  now(): number;
  /** Reads `tf` again from 0 (truncated in place, or its guard hash no longer matches). */
  restartTruncated(tf: TailedFile, reason: "size_shrank" | "guard_mismatch"): void;
  /** Counts `bytes` of `tf` as lost for `reason` and raises `kind`. */
  countLoss(
    tf: TailedFile,
    bytes: number,
    reason: FileLossReason,
    kind: "RotationStalled" | "BackpressureDrop",
  ): void;
  /** Counts `bytes` of a file that vanished while the agent was down. */
  lostWhileDown(path: string, bytes: number): void;
  countReadError(tf: TailedFile, err: unknown): void;
  /** Asks for another scan soon. */
  requestScan(): void;
}

/** Options for {@linkcode FileTable}. */
export interface FileTableOptions {
  discovery: Discovery;
  enricher: Enricher;
  cursors: CursorSync;
  metrics: AgentMetrics;
  kinds: KindTracker;
  startAt: "beginning" | "end";
  maxLogSizeBytes: number;
  partialFlushTimeoutMs: number;
  maxOpenFiles: number;
  maxTrackedFiles: number;
  fingerprintBytes: number;
  hooks: FileTableHooks;
}

/** Margin when comparing file modification times with our clock (see #adoptMissedRotations). */
const MTIME_SLACK_MS = 1000;

/** Tracked files by identity and by path, drained identities, and the scan bookkeeping. */
export class FileTable {
  readonly byKey = new Map<string, TailedFile>();
  readonly byPath = new Map<string, TailedFile>();
  /** Identities read to their end and closed, with the directory they live in. */
  readonly drained = new Map<string, { dir: string; cursor: CursorValue }>();
  /** True when the cursor store was empty at start: `start_at` applies to the files found then. */
  isFirstStart = false;
  #o: FileTableOptions;
  #h: FileTableHooks;
  #dirLastSeenMs = new Map<string, number>();
  /** When the previous scan ran (null before the first one). */
  #lastScanMs: number | null = null;
  /** The newest cursor update found at start: when the previous run last committed (null on a first start). */
  #lastRunMs: number | null = null;

  constructor(options: FileTableOptions) {
    this.#o = options;
    this.#h = options.hooks;
  }

  /** Walks the include globs once: tracks new files, follows rotations, adopts missed ones. */
  scan(isInitial: boolean, now: number): void {
    const found = this.#o.discovery.scan();
    const seen = new Set<string>();
    const rotatedDirs = new Set<string>();
    for (const f of found) {
      seen.add(f.path);
      const tf = this.byPath.get(f.path);
      if (tf !== undefined && tf.dev === f.dev && tf.ino === f.ino) {
        this.#observeSize(tf, f.sizeBytes);
        continue;
      }
      if (tf !== undefined) {
        this.#markRotated(tf, now);
        rotatedDirs.add(dirOf(f.path));
      }
      this.#dropReusedIdentity(`${f.dev}:${f.ino}`, f.path);
      const known = this.byKey.get(`${f.dev}:${f.ino}`);
      if (known !== undefined) {
        // A tracked identity now lives under an included name: follow it.
        this.byPath.set(f.path, known);
        known.currentPath = f.path;
        this.#observeSize(known, f.sizeBytes);
        continue;
      }
      if (this.drained.has(`${f.dev}:${f.ino}`)) continue;
      const offset = isInitial && this.isFirstStart && this.#o.startAt === "end" ? f.sizeBytes : 0;
      this.#track(f, offset, now);
    }
    for (const [path, tf] of this.byPath) {
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
    this.#o.metrics.filesTracked.set(this.byKey.size);
    if (this.byKey.size > this.#o.maxTrackedFiles) {
      this.#o.kinds.raise(
        "FingerprintCardinality",
        `${this.byKey.size} file identities tracked, ceiling ${this.#o.maxTrackedFiles}`,
      );
    } else this.#o.kinds.clear("FingerprintCardinality");
  }

  #observeSize(tf: TailedFile, sizeBytes: number): void {
    if (tf.state === "active" && sizeBytes < tf.readPosition) this.#h.restartTruncated(tf, "size_shrank");
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
    this.byKey.set(tf.key, tf);
    this.byPath.set(f.path, tf);
    this.#o.metrics.filesDiscovered.inc();
    if (tf.podPath !== null) this.#o.enricher.fileOpened(tf.podPath);
    return tf;
  }

  #openWaiting(): void {
    let open = 0;
    for (const tf of this.byKey.values()) if (tf.state === "active") open++;
    for (const tf of this.byKey.values()) {
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
        this.#h.requestScan();
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
        this.#h.countLoss(tf, tf.unreadBytes(), "vanished_before_open", "RotationStalled");
        this.#forget(tf);
        return false;
      }
      this.#h.countReadError(tf, err);
      return false;
    }
  }

  #markRotated(tf: TailedFile, now: number): void {
    if (this.byPath.get(tf.currentPath) === tf) this.byPath.delete(tf.currentPath);
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
      const tf = this.byKey.get(key);
      if (tf !== undefined) {
        tf.currentPath = f.path;
        continue;
      }
      // File times come from the kernel's coarse clock, up to a tick behind Date.now() (5 ms measured on
      // ext4), and some filesystems keep whole seconds: a file written just after a scan can look older.
      if (this.drained.has(key) || f.mtimeMs < sinceMs - MTIME_SLACK_MS) continue;
      const adopted = this.#track({ ...f, path: f.path }, 0, now);
      this.byPath.delete(f.path);
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
    const tf = this.byKey.get(key);
    const drained = this.drained.get(key);
    let head: Fingerprint;
    if (tf !== undefined) {
      if (tf.file !== null || tf.state !== "closed") return;
      head = tf.fingerprint;
    } else if (drained !== undefined) {
      head = { length: drained.cursor.fingerprintLength, hash: drained.cursor.fingerprintHash };
    } else return;
    if (hasHead(path, head, true)) return; // unreadable: vanished since the scan, nothing new to track
    if (tf !== undefined) this.retire(tf);
    this.drained.delete(key);
  }

  /** A closed file whose records are all done and whose final cursor is committed: remember it as drained. */
  retire(tf: TailedFile): void {
    this.byKey.delete(tf.key);
    if (this.byPath.get(tf.currentPath) === tf) this.byPath.delete(tf.currentPath);
    this.drained.set(tf.key, { dir: dirOf(tf.originalPath), cursor: cursorValueOf(tf, true, this.#h.now()) });
    if (tf.podPath !== null) this.#o.enricher.fileClosed(tf.podPath);
  }

  #forget(tf: TailedFile): void {
    this.byKey.delete(tf.key);
    if (this.byPath.get(tf.currentPath) === tf) this.byPath.delete(tf.currentPath);
    this.#o.cursors.forget(tf.key);
    if (tf.podPath !== null) this.#o.enricher.fileClosed(tf.podPath);
  }

  /**
   * Matches stored cursors to files by identity, including files kubelet renamed while the agent was
   * down (`0.log` -> `0.log.<ts>`): the include glob no longer names them, but their tails are ours.
   */
  resume(cursors: Map<string, CursorValue>): void {
    const now = this.#h.now();
    for (const [key, cursor] of cursors) {
      const dir = dirOf(cursor.path);
      this.#dirLastSeenMs.set(dir, Math.max(this.#dirLastSeenMs.get(dir) ?? 0, cursor.updatedAtMs));
      this.#lastRunMs = Math.max(this.#lastRunMs ?? 0, cursor.updatedAtMs);
      const found = findByIdentity(cursor, [
        cursor.path,
        ...this.#o.discovery.rotatedSiblings(dir).map((f) => f.path),
      ]);
      if (cursor.isDrained) {
        if (found === null) this.#o.cursors.forget(key);
        else this.drained.set(key, { dir, cursor });
        continue;
      }
      if (found === null) {
        const unread = Math.max(0, cursor.sizeBytes - cursor.offset);
        if (unread > 0) {
          this.#h.lostWhileDown(cursor.path, unread);
        }
        this.#o.cursors.forget(key);
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
      this.byPath.delete(found.path);
      tf.isRotated = true;
      tf.rotatedAtMs = now;
      this.#o.metrics.rotations.inc();
    }
    if (!this.#open(tf)) return;
    const guard = guardHashAt(tf.file!, cursor.offset, cursor.offset);
    if (found.sizeBytes < cursor.offset) this.#h.restartTruncated(tf, "size_shrank");
    else if (guard !== cursor.guardHash) this.#h.restartTruncated(tf, "guard_mismatch");
  }
}

/** The directory part of a path. */
export function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}
