/**
 * Keeps the stored cursors in step with the tailed files: computes each file's cursor (the lowest byte
 * not yet done), commits the changed ones in one KV commit, and finds a stored cursor's file again by
 * identity after a restart.
 *
 * @module
 */

import type { CursorStore, CursorValue } from "../cursor/mod.ts";
import type { FoundFile } from "../discovery/mod.ts";
import type { Progress } from "../progress/mod.ts";
import type { AgentMetrics } from "../telemetry/agent_metrics.ts";
import type { KindTracker } from "../telemetry/kinds.ts";
import { type Logger, toError } from "../telemetry/log.ts";
import { type Fingerprint, fingerprintOf, guardHashAt, hashBytes, readAt } from "./file_identity.ts";
import type { TailedFile } from "./tailed_file.ts";

/** Options for {@linkcode CursorSync}. */
export interface CursorSyncOptions {
  cursorStore: CursorStore;
  progress: Progress;
  /** Fingerprints grow up to this many head bytes. */
  fingerprintBytes: number;
  metrics: AgentMetrics;
  kinds: KindTracker;
  logger: Logger;
}

/** What a commit did. */
export type CommitOutcome = "unchanged" | "committed" | "failed";

/** The cursor `tf` has committed, as stored (`isDrained` once it was read to its end and closed). */
export function cursorValueOf(tf: TailedFile, isDrained: boolean, nowMs: number): CursorValue {
  return {
    path: tf.currentPath,
    dev: tf.dev,
    ino: tf.ino,
    offset: tf.committedOffset,
    fingerprintLength: tf.fingerprint.length,
    fingerprintHash: tf.fingerprint.hash,
    guardHash: tf.committedGuardHash,
    sizeBytes: tf.lastSizeBytes,
    isDrained,
    updatedAtMs: nowMs,
  };
}

/** Commits per-file cursors that only ever cover done bytes. */
export class CursorSync {
  #o: CursorSyncOptions;
  #deleted = new Set<string>();

  constructor(options: CursorSyncOptions) {
    this.#o = options;
  }

  /** Queues the deletion of the cursor stored under `key` for the next commit. */
  forget(key: string): void {
    this.#deleted.add(key);
  }

  /** The lowest offset of `tf` whose record is not done: unread carry, pending pieces, unacknowledged batches. */
  frontier(tf: TailedFile): number {
    return Math.min(tf.localFrontier(), this.#o.progress.lowestOutstanding(tf.key));
  }

  /**
   * Commits the cursors of `files` that moved (and queued deletions) in one KV commit. A failure raises
   * `CursorWriteFailed`, is counted and logged, and leaves everything to retry at the next call.
   */
  async commit(files: Iterable<TailedFile>, trackedCount: number, nowMs: number): Promise<CommitOutcome> {
    const changes = new Map<string, CursorValue | null>();
    const updated: Array<[TailedFile, number, string, Fingerprint]> = [];
    for (const tf of files) {
      if (tf.state === "waiting") continue;
      const offset = this.frontier(tf);
      this.#growFingerprint(tf);
      if (offset === tf.committedOffset && tf.fingerprint.length === tf.committedFingerprintLength) continue;
      const guard = tf.file !== null ? guardHashAt(tf.file, offset, tf.readPosition) : tf.committedGuardHash;
      updated.push([tf, offset, guard, tf.fingerprint]);
      const value = cursorValueOf(tf, tf.state === "closed" && offset >= tf.consumedOffset, nowMs);
      value.offset = offset;
      value.guardHash = guard;
      changes.set(tf.key, value);
    }
    // A deleted identity may already name a new file (inode reuse): its cursor wins.
    for (const key of this.#deleted) if (!changes.has(key)) changes.set(key, null);
    if (changes.size === 0) return "unchanged";
    const deleted = [...this.#deleted];
    try {
      await this.#o.cursorStore.commit(changes);
    } catch (err) {
      const error = toError(err);
      this.#o.metrics.cursorCommitFailures.inc();
      this.#o.kinds.raise("CursorWriteFailed", error.message);
      this.#o.logger.limited("error", "cursor:commit", "Cursor commit failed; retrying next interval", {
        error,
      });
      return "failed";
    }
    for (const [tf, offset, guard, fingerprint] of updated) tf.committed(offset, guard, fingerprint);
    for (const key of deleted) this.#deleted.delete(key);
    this.#o.metrics.cursorCommits.inc();
    this.#o.metrics.cursorsTracked.set(trackedCount);
    this.#o.kinds.clear("CursorWriteFailed");
    return "committed";
  }

  #growFingerprint(tf: TailedFile): void {
    if (tf.file === null || tf.fingerprint.length >= this.#o.fingerprintBytes) return;
    if (tf.readPosition > tf.fingerprint.length) {
      tf.headGrew(fingerprintOf(tf.file, this.#o.fingerprintBytes, tf.readPosition));
    }
  }
}

/**
 * Finds the file a stored cursor belongs to among `candidates` (its old path and the rotated siblings in
 * its directory): same (dev, inode) and the same head bytes. Null when none is, or when the inode now
 * holds another file.
 */
export function findByIdentity(cursor: CursorValue, candidates: readonly string[]): FoundFile | null {
  for (const path of candidates) {
    try {
      const info = Deno.statSync(path);
      if (info.dev !== cursor.dev || info.ino !== cursor.ino) continue;
      if (!hasHead(path, { length: cursor.fingerprintLength, hash: cursor.fingerprintHash }, false)) {
        return null;
      }
      return {
        path,
        dev: cursor.dev,
        ino: cursor.ino,
        sizeBytes: info.size,
        mtimeMs: info.mtime?.getTime() ?? 0,
      };
    } catch {
      continue; // vanished between listing and stat
    }
  }
  return null;
}

/**
 * Whether the file at `path` starts with the bytes `head` was taken from; `ifUnreadable` when the file
 * cannot be read (vanished since it was listed).
 */
export function hasHead(path: string, head: Fingerprint, ifUnreadable: boolean): boolean {
  if (head.length === 0) return true;
  try {
    const file = Deno.openSync(path, { read: true });
    try {
      return hashBytes(readAt(file, 0, head.length, 0)) === head.hash;
    } finally {
      file.close();
    }
  } catch {
    return ifUnreadable;
  }
}
