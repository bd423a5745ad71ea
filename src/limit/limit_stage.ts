/**
 * The limiter as a record stage between the assembler and the batcher (issue 11). Per record it asks the
 * {@linkcode NamespaceLimiter} about the record's namespace and either forwards it, or drops it and
 * reports its bytes done; for `delay` budgets it also answers the read loop's `readGate`.
 *
 * @module
 */

import type { PodLogPath } from "../record.ts";
import { DROP, type NamespaceLimiter } from "./namespace_limiter.ts";

/** What the stage needs to know about where a record came from (a subset of `RecordOrigin`). */
export interface LimitOrigin {
  readonly sizeBytes: number;
  readonly podPath: PodLogPath | null;
  /** When the record was read (epoch ms); the stage's clock is read when absent. */
  readonly readAtMs?: number;
}

/** The next stage. */
export interface LimitSink<R, O> {
  push(record: R, origin: O): void;
}

/** Options for {@linkcode LimitStage}. */
export interface LimitStageOptions<R, O extends LimitOrigin> {
  limiter: NamespaceLimiter;
  /** The next stage (the batcher side). */
  next: LimitSink<R, O>;
  /**
   * Reports a record dropped over its budget: its bytes are done for the cursor (so it is never read again
   * after a restart) and the drop is counted. The limiter has already counted it per namespace.
   */
  onDropped: (record: R, origin: O) => void;
  /** Clock in milliseconds. @default Date.now */
  now?: () => number;
}

/**
 * Forwards, or drops and reports done, each record by its namespace's budget. Records of files outside
 * the kubelet layout (no pod path, so no namespace) are not limited.
 */
export class LimitStage<R, O extends LimitOrigin> {
  #limiter: NamespaceLimiter;
  #next: LimitSink<R, O>;
  #onDropped: (record: R, origin: O) => void;
  #now: () => number;

  constructor(options: LimitStageOptions<R, O>) {
    this.#limiter = options.limiter;
    this.#next = options.next;
    this.#onDropped = options.onDropped;
    this.#now = options.now ?? Date.now;
  }

  /** Decides one record; never throws for a record's content. */
  push(record: R, origin: O): void {
    const podPath = origin.podPath;
    if (
      podPath !== null &&
      this.#limiter.decide(podPath.namespace, origin.sizeBytes, origin.readAtMs ?? this.#now()) === DROP
    ) {
      this.#onDropped(record, origin);
      return;
    }
    this.#next.push(record, origin);
  }

  /**
   * The read loop's `readGate`: 0 when the file may be read now, else the milliseconds until its namespace's
   * delay budget has paid back what it borrowed. Files of other namespaces are never held back.
   */
  readonly readGate = (origin: { podPath: PodLogPath | null }, nowMs: number): number =>
    origin.podPath === null ? 0 : this.#limiter.msUntilReadable(origin.podPath.namespace, nowMs);
}
