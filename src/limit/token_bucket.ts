/**
 * A token bucket over an injected clock: tokens refill at a fixed rate up to a capacity, and an event
 * of some cost may pass when the bucket holds that many tokens. Pure: time is a parameter, no timers.
 *
 * @module
 */

/** Options for {@linkcode TokenBucket}. */
export interface TokenBucketOptions {
  /** Tokens added per second; > 0. */
  ratePerSecond: number;
  /** Most tokens the bucket holds (the burst); >= 1. */
  capacity: number;
  /** The clock reading the bucket starts at (full). */
  nowMs: number;
}

/**
 * Refills lazily at every call from the elapsed time, so an idle bucket costs nothing.
 *
 * Invariants (tests/limit/token_bucket_test.ts checks them as properties): the tokens never exceed the
 * capacity, and never go below zero unless {@linkcode borrow} put the bucket in debt; since the start, the
 * cost charged plus the tokens held is at most the capacity plus the rate times the elapsed time. A cost
 * larger than the capacity is charged as the capacity (it passes once the bucket is full), so one
 * oversized record cannot block its key forever.
 *
 * @example
 * ```ts
 * const bucket = new TokenBucket({ ratePerSecond: 10, capacity: 20, nowMs: 0 });
 * bucket.tryTake(20, 0); // true: the burst
 * bucket.tryTake(1, 0); // false: empty
 * bucket.msUntil(1, 0); // 100
 * ```
 */
export class TokenBucket {
  /** Tokens per millisecond. */
  readonly ratePerMs: number;
  readonly capacity: number;
  #tokens: number;
  #lastMs: number;

  constructor(options: TokenBucketOptions) {
    if (!(options.ratePerSecond > 0) || !Number.isFinite(options.ratePerSecond)) {
      throw new RangeError(`Token bucket rate must be a positive number, got ${options.ratePerSecond}`);
    }
    if (!(options.capacity >= 1) || !Number.isFinite(options.capacity)) {
      throw new RangeError(`Token bucket capacity must be at least 1, got ${options.capacity}`);
    }
    this.ratePerMs = options.ratePerSecond / 1000;
    this.capacity = options.capacity;
    this.#tokens = options.capacity;
    this.#lastMs = options.nowMs;
  }

  /** Tokens held at `nowMs` (after the refill up to then). */
  tokens(nowMs: number): number {
    this.#refill(nowMs);
    return this.#tokens;
  }

  /** True when `cost` (capped at the capacity) could be taken at `nowMs`; takes nothing. */
  has(cost: number, nowMs: number): boolean {
    this.#refill(nowMs);
    return this.#tokens >= (cost < this.capacity ? cost : this.capacity);
  }

  /** Takes `cost` (capped at the capacity) without checking; call after {@linkcode has} at the same time. */
  take(cost: number): void {
    const charged = cost < this.capacity ? cost : this.capacity;
    this.#tokens = this.#tokens > charged ? this.#tokens - charged : 0;
  }

  /**
   * Takes `cost` (capped at the capacity) even when the bucket does not hold it, leaving it in debt
   * (negative): the refill pays the debt back before {@linkcode has} is true again, so the long-run rate
   * holds. For callers that cannot refuse what they already hold (the limiter's `delay` mode).
   */
  borrow(cost: number): void {
    this.#tokens -= cost < this.capacity ? cost : this.capacity;
  }

  /** Takes `cost` (capped at the capacity) when the bucket holds it; true when taken. */
  tryTake(cost: number, nowMs: number): boolean {
    if (!this.has(cost, nowMs)) return false;
    this.take(cost);
    return true;
  }

  /** Milliseconds from `nowMs` until `cost` (capped at the capacity) could be taken; 0 when it can now. */
  msUntil(cost: number, nowMs: number): number {
    this.#refill(nowMs);
    const need = cost < this.capacity ? cost : this.capacity;
    if (this.#tokens >= need) return 0;
    const ms = Math.ceil((need - this.#tokens) / this.ratePerMs);
    // The refill computes exactly this sum, so a rounding shortfall is caught here, not by a caller
    // that wakes up one millisecond too early and finds the bucket still short.
    return this.#tokens + ms * this.ratePerMs >= need ? ms : ms + 1;
  }

  #refill(nowMs: number): void {
    // A clock that steps back refills nothing and keeps the later reading, so time is never counted twice.
    const elapsedMs = nowMs - this.#lastMs;
    if (elapsedMs <= 0) return;
    this.#lastMs = nowMs;
    if (this.#tokens === this.capacity) return;
    const tokens = this.#tokens + elapsedMs * this.ratePerMs;
    this.#tokens = tokens < this.capacity ? tokens : this.capacity;
  }
}
