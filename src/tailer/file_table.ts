/**
 * The table of tailed files: which identities are tracked, under which paths, and which were drained.
 * It turns scans into tracking decisions (new file, rename rotation, missed rotations, inode reuse),
 * gives descriptors out within `tail.max_open_files`, and matches stored cursors to files at start. It
 * calls nobody back: `scan`, `resume` and `balanceDescriptors` return {@linkcode FileEvent}s that the
 * read loop (tailer.ts) acts on; losses and refusals go to the ledger.
 *
 * @module
 */

import { type Assembler, MAX_CRI_HEADER_BYTES } from "../assemble/mod.ts";
import type { Config } from "../config/mod.ts";
import type { CursorValue } from "../cursor/mod.ts";
import { type Discovery, type FoundFile, parsePodLogPath } from "../discovery/mod.ts";
import type { Enricher } from "../enrich/mod.ts";
import type { LossLedger } from "../ledger/mod.ts";
import type { AgentMetrics } from "../telemetry/agent_metrics.ts";
import type { KindTracker } from "../telemetry/kinds.ts";
import { type CursorSync, cursorValueOf, findByIdentity, hasHead } from "./cursor_sync.ts";
import { type Fingerprint, fingerprintOf, guardHashAt, identityKey } from "./file_identity.ts";
import { TailedFile } from "./tailed_file.ts";

/** What a scan (or a resume, or a descriptor round) found; the read loop acts on these. */
export type FileEvent =
  | { kind: "new"; file: TailedFile }
  | { kind: "rotated"; file: TailedFile }
  | { kind: "truncated"; file: TailedFile; reason: "size_shrank" | "guard_mismatch" }
  | { kind: "gone"; file: TailedFile }
  | { kind: "refused"; path: string; target: string; reason: "symlink_outside_roots" }
  | { kind: "read_error"; file: TailedFile; error: unknown }
  | { kind: "rescan" };

/** Options for {@linkcode FileTable}. */
export interface FileTableOptions {
  discovery: Discovery;
  enricher: Enricher;
  assembler: Assembler;
  cursors: CursorSync;
  ledger: LossLedger;
  metrics: AgentMetrics;
  kinds: KindTracker;
  startAt: "beginning" | "end";
  /** Config `max_log_size`: the head kept of a line longer than the read buffer is this plus a header. */
  maxLogSizeBytes: number;
  tail: Config["tail"];
  now: () => number;
}

/** A live file holds its descriptor at least this long before another waiting file may take it. */
const DESCRIPTOR_SLICE_MS = 1000;

/** Margin when comparing file modification times with our clock (see #adoptMissedRotations). */
const MTIME_SLACK_MS = 1000;

/** Tracked files by identity and by path, drained identities, and the scan bookkeeping. */
export class FileTable {
  readonly byKey = new Map<string, TailedFile>();
  readonly byPath = new Map<string, TailedFile>();
  /** Identities read to their end and closed, with the directory they live in. */
  readonly drained = new Map<string, { dir: string; cursor: CursorValue }>();
  /** Files refused (symlink target outside the allowed roots), by path. */
  readonly refused = new Map<string, { path: string; identity: string }>();
  /** True when the cursor store was empty at start: `start_at` applies to the files found then. */
  isFirstStart = false;
  #o: FileTableOptions;
  #now: () => number;
  #events: FileEvent[] = [];
  #dirLastSeenMs = new Map<string, number>();
  /** When the previous scan ran (null before the first one). */
  #lastScanMs: number | null = null;
  /** The newest cursor update found at start: when the previous run last committed (null on a first start). */
  #lastRunMs: number | null = null;

  constructor(options: FileTableOptions) {
    this.#o = options;
    this.#now = options.now;
  }

  /** Walks the include globs once: tracks new files, follows rotations, adopts missed ones. */
  scan(isInitial: boolean, now: number): FileEvent[] {
    const { found, refused } = this.#o.discovery.scanWithRefusals();
    this.refused.clear();
    for (const r of refused) {
      this.refused.set(r.path, { path: r.path, identity: r.target });
      this.#o.ledger.refused(r.path, r.target, r.reason, `target ${r.target}`);
      this.#events.push({ kind: "refused", path: r.path, target: r.target, reason: r.reason });
    }
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
      const key = identityKey(f.dev, f.ino);
      this.#dropReusedIdentity(key, f.path, f.sizeBytes);
      const known = this.byKey.get(key);
      if (known !== undefined) {
        // A tracked identity now lives under an included name: follow it.
        this.byPath.set(f.path, known);
        known.movedTo(f.path);
        this.#observeSize(known, f.sizeBytes);
        continue;
      }
      if (this.drained.has(key)) continue;
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
    this.#balance(now);
    this.#o.metrics.filesTracked.set(this.byKey.size);
    if (this.byKey.size > this.#o.tail.maxTrackedFiles) {
      this.#o.kinds.raise(
        "FingerprintCardinality",
        `${this.byKey.size} file identities tracked, ceiling ${this.#o.tail.maxTrackedFiles}`,
      );
    } else this.#o.kinds.clear("FingerprintCardinality");
    return this.#takeEvents();
  }

  #takeEvents(): FileEvent[] {
    const events = this.#events;
    this.#events = [];
    return events;
  }

  #observeSize(tf: TailedFile, sizeBytes: number): void {
    if (tf.state === "active" && sizeBytes < tf.readPosition) {
      this.#events.push({ kind: "truncated", file: tf, reason: "size_shrank" });
    }
    tf.observedSize(sizeBytes, this.#now());
  }

  #track(f: FoundFile, offset: number, now: number): TailedFile {
    const parsed = parsePodLogPath(f.path);
    const podPath = parsed.ok ? parsed.value : null;
    const tf = new TailedFile({
      dev: f.dev,
      ino: f.ino,
      path: f.path,
      podPath,
      offset,
      sizeBytes: f.sizeBytes,
      assembly: this.#o.assembler.open({ key: identityKey(f.dev, f.ino), path: f.path, podPath }),
      maxLineHeadBytes: this.#o.maxLogSizeBytes + MAX_CRI_HEADER_BYTES,
      nowMs: now,
    });
    this.byKey.set(tf.key, tf);
    this.byPath.set(f.path, tf);
    this.#o.metrics.filesDiscovered.inc();
    this.#events.push({ kind: "new", file: tf });
    if (tf.podPath !== null) this.#o.enricher.fileOpened(tf.podPath);
    return tf;
  }

  /**
   * Gives every file that wants reading a descriptor in the end (issue 8 defect 1): rotated files first
   * (they hold theirs until drained); at `tail.max_open_files`, caught-up live files give theirs up (and
   * are reopened from their offset when they grow), then live files that held one for a time slice.
   * Caught-up live files idle for `tail.close_inactive` close too.
   */
  balanceDescriptors(now: number): FileEvent[] {
    this.#balance(now);
    return this.#takeEvents();
  }

  #balance(now: number): void {
    let open = 0;
    let waiting = 0;
    for (const tf of this.byKey.values()) {
      tf.startWaiting(now);
      if (tf.state === "active") {
        if (!tf.isRotated && tf.isCaughtUp() && now - tf.lastDataMs >= this.#o.tail.closeInactiveMs) {
          this.#release(tf, "close_inactive");
          this.#o.metrics.filesIdleClosed.inc();
        } else open++;
      } else if (tf.state === "waiting" && tf.waitingSinceMs !== null) waiting++;
    }
    const max = this.#o.tail.maxOpenFiles;
    if (waiting > 0 && open >= max) open -= this.#releaseForWaiting(waiting - (max - open), now);
    for (const pass of [true, false]) {
      for (const tf of this.byKey.values()) {
        if (tf.state !== "waiting" || tf.isRotated !== pass || tf.waitingSinceMs === null) continue;
        if (open >= max && !tf.isRotated) break;
        if (this.#open(tf)) open++;
      }
    }
    const { count, oldestMs } = this.#descriptorWaits(now);
    this.#o.metrics.filesWaitingForDescriptor.set(count);
    this.#o.metrics.descriptorWaitOldestSeconds.set(oldestMs / 1000);
  }

  /** How long the file waiting longest for a descriptor has waited (0 when none waits). */
  oldestDescriptorWaitMs(now: number): number {
    return this.#descriptorWaits(now).oldestMs;
  }

  /** Files waiting for a descriptor, and the longest wait among them (one pass). */
  #descriptorWaits(now: number): { count: number; oldestMs: number } {
    let count = 0;
    let oldest = now;
    for (const tf of this.byKey.values()) {
      if (tf.state !== "waiting" || tf.waitingSinceMs === null) continue;
      count++;
      if (tf.waitingSinceMs < oldest) oldest = tf.waitingSinceMs;
    }
    return { count, oldestMs: now - oldest };
  }

  /** Releases up to `wanted` live descriptors: caught-up files first, then those past their time slice. */
  #releaseForWaiting(wanted: number, now: number): number {
    let released = 0;
    for (const isSliceOver of [false, true]) {
      for (const tf of this.byKey.values()) {
        if (released >= wanted) return released;
        if (tf.state !== "active" || tf.isRotated) continue;
        const isCandidate = isSliceOver ? now - tf.openedAtMs >= DESCRIPTOR_SLICE_MS : tf.isCaughtUp();
        if (!isCandidate) continue;
        this.#release(tf, "max_open_files");
        released++;
      }
    }
    return released;
  }

  /** Closes a live file's descriptor; it waits (from its offset) until it has bytes to read again. */
  #release(tf: TailedFile, reason: "max_open_files" | "close_inactive"): void {
    this.closeFd(tf);
    tf.released(this.#now());
    this.#o.metrics.descriptorsReleased.inc(1, reason);
  }

  /** Closes `tf`'s descriptor if it has one. */
  closeFd(tf: TailedFile): void {
    if (tf.closeDescriptor()) this.#o.metrics.filesOpen.labels().value--;
  }

  /** Opens a waiting file at its offset; a vanished file is a counted loss. */
  #open(tf: TailedFile): boolean {
    try {
      const file = Deno.openSync(tf.currentPath, { read: true });
      const info = file.statSync();
      if (info.ino !== tf.ino || info.dev !== tf.dev) {
        file.close();
        if (tf.wasOpened) {
          // A released file renamed since: the next scan finds it under its rotated name.
          this.#events.push({ kind: "rescan" });
          return false;
        }
        this.#forget(tf);
        this.#events.push({ kind: "rescan" });
        return false;
      }
      const fingerprint = fingerprintOf(file, this.#o.tail.fingerprintBytes, tf.readPosition);
      // Re-identified on reopen: when the inode now holds another file's head, it is read as new, from 0.
      const isNewHead = tf.wasOpened && !sameHead(tf.fingerprint, fingerprint);
      tf.opened(file, fingerprint, isNewHead, this.#now());
      this.#o.metrics.filesOpen.labels().value++;
      return true;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        if (tf.wasOpened && !tf.isRotated) {
          this.#events.push({ kind: "rescan" });
          return false;
        }
        this.#o.ledger.lost(tf.currentPath, tf.unreadBytes(), "vanished_before_open");
        this.#forget(tf);
        return false;
      }
      this.#events.push({ kind: "read_error", file: tf, error: err });
      return false;
    }
  }

  #markRotated(tf: TailedFile, now: number): void {
    if (this.byPath.get(tf.currentPath) === tf) this.byPath.delete(tf.currentPath);
    if (!tf.rotated(now)) return;
    this.#o.metrics.rotations.inc();
    this.#events.push({ kind: "rotated", file: tf });
    if (tf.state === "waiting") {
      // A file that held a descriptor before is found again under its rotated name by the adoption
      // below; opening it by its old path now would open the new file.
      if (!tf.wasOpened) this.#open(tf);
    }
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
      const key = identityKey(f.dev, f.ino);
      this.#dropReusedIdentity(key, f.path, f.sizeBytes);
      const tf = this.byKey.get(key);
      if (tf !== undefined) {
        tf.movedTo(f.path);
        continue;
      }
      // File times come from the kernel's coarse clock, up to a tick behind Date.now() (5 ms measured on
      // ext4), and some filesystems keep whole seconds: a file written just after a scan can look older.
      if (this.drained.has(key) || f.mtimeMs < sinceMs - MTIME_SLACK_MS) continue;
      const adopted = this.#track({ ...f, path: f.path }, 0, now);
      this.byPath.delete(f.path);
      adopted.rotated(now);
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
  #dropReusedIdentity(key: string, path: string, sizeBytes: number): void {
    const tf = this.byKey.get(key);
    const drained = this.drained.get(key);
    let head: Fingerprint;
    if (tf !== undefined) {
      if (tf.file !== null || tf.state !== "closed") return;
      head = tf.fingerprint;
    } else if (drained !== undefined) {
      head = { length: drained.cursor.fingerprintLength, hash: drained.cursor.fingerprintHash };
    } else return;
    // An empty head proves nothing: an identity drained (or closed) while empty whose inode now holds bytes
    // is a new file on a reused inode, or the same file grown, and both are read from 0 (an empty head means
    // offset 0). Treating it as the old identity skipped a new file's records.
    if (head.length === 0 ? sizeBytes === 0 : hasHead(path, head, true)) return; // unreadable: vanished
    if (tf !== undefined) this.retire(tf);
    this.drained.delete(key);
  }

  /** A closed file whose records are all done and whose final cursor is committed: remember it as drained. */
  retire(tf: TailedFile): void {
    this.byKey.delete(tf.key);
    if (this.byPath.get(tf.currentPath) === tf) this.byPath.delete(tf.currentPath);
    this.drained.set(tf.key, { dir: dirOf(tf.originalPath), cursor: cursorValueOf(tf, true, this.#now()) });
    if (tf.podPath !== null) this.#o.enricher.fileClosed(tf.podPath);
  }

  #forget(tf: TailedFile): void {
    this.#events.push({ kind: "gone", file: tf });
    this.byKey.delete(tf.key);
    if (this.byPath.get(tf.currentPath) === tf) this.byPath.delete(tf.currentPath);
    this.#o.cursors.forget(tf.key);
    if (tf.podPath !== null) this.#o.enricher.fileClosed(tf.podPath);
  }

  /**
   * Matches stored cursors to files by identity, including files kubelet renamed while the agent was
   * down (`0.log` -> `0.log.<ts>`): the include glob no longer names them, but their tails are ours.
   */
  resume(cursors: Map<string, CursorValue>): FileEvent[] {
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
        if (found === null) this.#o.cursors.forget(key);
        else this.drained.set(key, { dir, cursor });
        continue;
      }
      if (found === null) {
        const unread = Math.max(0, cursor.sizeBytes - cursor.offset);
        if (unread > 0) this.#o.ledger.lost(cursor.path, unread, "gone_while_down");
        this.#o.cursors.forget(key);
        continue;
      }
      this.#resumeOne(cursor, found, now);
    }
    return this.#takeEvents();
  }

  #resumeOne(cursor: CursorValue, found: FoundFile, now: number): void {
    const tf = this.#track(found, cursor.offset, now);
    tf.resumedAt(cursor);
    const isIncluded = this.#o.discovery.isWanted(found.path) && !/\.log\.\d/.test(found.path);
    if (!isIncluded) {
      // Renamed while we were down: drain it and let it go.
      this.byPath.delete(found.path);
      tf.rotated(now);
      this.#o.metrics.rotations.inc();
    }
    if (!this.#open(tf)) return;
    const guard = guardHashAt(tf.file!, cursor.offset, cursor.offset);
    if (found.sizeBytes < cursor.offset) {
      this.#events.push({ kind: "truncated", file: tf, reason: "size_shrank" });
    } else if (guard !== cursor.guardHash) {
      this.#events.push({ kind: "truncated", file: tf, reason: "guard_mismatch" });
    }
  }
}

/** Whether two head fingerprints of equal length differ (a grown head is the same file). */
function sameHead(a: Fingerprint, b: Fingerprint): boolean {
  return a.length !== b.length || a.hash === b.hash;
}

/** The directory part of a path. */
export function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}
