/**
 * The loss ledger: the one place every loss, deliberate drop, refusal and quarantine of the read side is
 * reported. It counts each by reason, logs each cause once, and raises and clears the Kinds that follow
 * from them. Components hand it events; none of them raises a loss Kind itself.
 *
 * @module
 */

import type { RecordOrigin } from "../record.ts";
import type { AgentMetrics } from "../telemetry/agent_metrics.ts";
import type { KindTracker } from "../telemetry/kinds.ts";
import { type Logger, toError } from "../telemetry/log.ts";

/** Why bytes of a file were never read. */
export type LossReason =
  | "drain_deadline"
  | "deleted_while_paused"
  | "vanished_before_open"
  | "gone_while_down";

/** Why a file was refused (never opened). */
export type RefusalReason = "symlink_outside_roots" | "not_regular";

/** Options for {@linkcode LossLedger}. */
export interface LossLedgerOptions {
  metrics: AgentMetrics;
  kinds: KindTracker;
  logger: Logger;
  /** How long a loss keeps its Kind raised. @default 300000 */
  lossKindHoldMs?: number;
  /** Descriptor wait that raises `DescriptorStarvation`. @default 60000 */
  descriptorWaitBoundMs?: number;
  now?: () => number;
}

/** Receives every loss event of the read side; counts, logs once per cause, raises Kinds. */
export class LossLedger {
  readonly #o: LossLedgerOptions;
  readonly #now: () => number;
  readonly #lastLossMs = new Map<"RotationStalled" | "BackpressureDrop", number>();
  readonly #refused = new Set<string>();

  constructor(options: LossLedgerOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** `bytes` of the file at `path` will never be read, for `reason`. */
  lost(path: string, bytes: number, reason: LossReason): void {
    const kind = reason === "deleted_while_paused" ? "BackpressureDrop" : "RotationStalled";
    this.#o.metrics.bytesLost.inc(bytes, reason);
    this.#o.metrics.filesLost.inc(1, reason);
    this.#lastLossMs.set(kind, this.#now());
    this.#o.kinds.raise(kind, `${bytes} bytes of ${path} lost: ${reason}`);
    this.#o.logger.warn("Log bytes lost", { path, bytes, reason });
  }

  /**
   * The file `identity` at `path` is refused for `reason`: counted and logged once per identity and
   * reason, however many scans see it again. Returns true the first time.
   */
  refused(path: string, identity: string, reason: RefusalReason, detail: string): boolean {
    const key = `${identity}|${reason}`;
    if (this.#refused.has(key)) return false;
    this.#refused.add(key);
    this.#o.metrics.filesRefused.inc(1, reason);
    this.#o.logger.warn("Log file refused", { path, reason, detail });
    return true;
  }

  /** A record stage dropped a record on purpose (already marked done in progress by the stage). */
  dropped(origin: RecordOrigin, reason: string): void {
    void origin;
    this.#o.metrics.recordsDropped.inc(1, reason);
  }

  /** One file is set aside after an unexpected error; logged once per path and reason. */
  quarantined(path: string, reason: string, err: unknown): void {
    const error = toError(err);
    this.#o.metrics.filesQuarantined.inc(1, reason);
    this.#o.logger.limited("error", `quarantine:${path}:${reason}`, "Log file quarantined after an error", {
      path,
      reason,
      error,
      stack: error.stack,
    });
  }

  /**
   * Called once per housekeeping round: whether a rotated file is stalled past its deadline, and how long
   * the oldest file has waited for a descriptor. Clears loss Kinds once their hold time passed.
   */
  tick(isRotationStalled: boolean, oldestDescriptorWaitMs: number): void {
    const now = this.#now();
    const hold = this.#o.lossKindHoldMs ?? 300_000;
    const kinds = this.#o.kinds;
    const rot = this.#lastLossMs.get("RotationStalled");
    if (isRotationStalled) {
      kinds.raise("RotationStalled", "a rotated file still has unread bytes after tail.drain_deadline");
    } else if (rot === undefined || now - rot > hold) kinds.clear("RotationStalled");
    const bp = this.#lastLossMs.get("BackpressureDrop");
    if (bp !== undefined && now - bp > hold) kinds.clear("BackpressureDrop");
    const bound = this.#o.descriptorWaitBoundMs ?? 60_000;
    if (oldestDescriptorWaitMs > bound) {
      kinds.raise(
        "DescriptorStarvation",
        `a file has waited ${
          Math.round(oldestDescriptorWaitMs / 1000)
        } s for a descriptor (tail.max_open_files)`,
      );
    } else kinds.clear("DescriptorStarvation");
  }
}
