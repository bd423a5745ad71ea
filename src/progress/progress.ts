/**
 * Progress: which bytes of each file are done (acknowledged by the endpoint, or dropped on purpose and
 * counted) and when the cursors should be committed. It owns the ack tracker the batcher settles, the
 * holds record stages take on records they keep, and the commit schedule: soon after an
 * acknowledgement (at most every `ackCommitGapMs`), else every `cursor.flush_interval` while reading
 * moves the frontier. The commit itself (fingerprints, guard hashes, KV) is CursorSync's, in the tailer.
 *
 * @module
 */

import { AckTracker } from "../ack/mod.ts";
import type { RecordOrigin } from "../record.ts";

/** Options for {@linkcode Progress}. */
export interface ProgressOptions {
  /** Config `cursor.flush_interval`: commit period while only reading moved a frontier. */
  cursorFlushIntervalMs: number;
  /** Minimum gap between commits caused by acknowledgements. @default 200 */
  ackCommitGapMs?: number;
}

/** Acks, holds and the cursor commit schedule, per file key (`dev:ino`). */
export class Progress {
  /** Settled by the batcher (delivered or dropped batches). */
  readonly ack: AckTracker<string> = new AckTracker<string>();
  readonly #o: ProgressOptions;
  readonly #holds = new Map<string, number>();
  #nextHoldId = -1;
  #lastCommitMs = -Infinity;
  #settlesAtCommit = 0;

  constructor(options: ProgressOptions) {
    this.#o = options;
  }

  /**
   * A record stage keeps the record of `origin` beyond its `push` (a delay queue): until
   * {@linkcode Progress.markDone} the cursor of its file stays before it.
   */
  hold(origin: RecordOrigin): void {
    const key = `${origin.fileKey}@${origin.startOffset}`;
    if (this.#holds.has(key)) return;
    const id = this.#nextHoldId--;
    this.#holds.set(key, id);
    this.ack.add(id, origin.fileKey, origin.startOffset);
  }

  /**
   * The record of `origin` is done without reaching the batcher (dropped on purpose, counted in the
   * ledger) or was forwarded after a hold: its bytes no longer keep the cursor back. A record that was
   * never held is done as soon as the reader consumed past it, so this is then a no-op.
   */
  markDone(origin: RecordOrigin): void {
    const key = `${origin.fileKey}@${origin.startOffset}`;
    const id = this.#holds.get(key);
    if (id === undefined) return;
    this.#holds.delete(key);
    this.ack.settle(id);
  }

  /** The lowest start offset of a record of `fileKey` not yet done (Infinity when none). */
  lowestOutstanding(fileKey: string): number {
    return this.ack.lowestOutstanding(fileKey);
  }

  /** Whether any record of `fileKey` is not yet done. */
  hasOutstanding(fileKey: string): boolean {
    return this.ack.hasOutstanding(fileKey);
  }

  /** Resolves when a batch or hold settles next. */
  nextSettle(): Promise<void> {
    return this.ack.nextSettle();
  }

  /**
   * When the next cursor commit is due, in the caller's clock: `ackCommitGapMs` after the last commit
   * when something settled since, the flush interval after it when only reading moved (`isDirty`),
   * else Infinity.
   */
  commitDueMs(isDirty: boolean): number {
    if (this.ack.settleCount() !== this.#settlesAtCommit) {
      return this.#lastCommitMs + (this.#o.ackCommitGapMs ?? 200);
    }
    return isDirty ? this.#lastCommitMs + this.#o.cursorFlushIntervalMs : Infinity;
  }

  /** Records that a commit started at `nowMs` (covering every settle so far). */
  committing(nowMs: number): void {
    this.#lastCommitMs = nowMs;
    this.#settlesAtCommit = this.ack.settleCount();
  }
}
