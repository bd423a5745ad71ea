/**
 * A fixed-resolution latency histogram: 0.1 ms buckets up to 60 s (2.4 MB), so percentiles over millions
 * of records are exact to 0.1 ms and cost nothing per record but one increment.
 *
 * @module
 */

/** Latency percentiles, in milliseconds. */
export interface LatencySummary {
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

const BUCKET_MS = 0.1;
const BUCKETS = 600_000; // later values count in the last bucket; `maxMs` stays exact

const round1 = (ms: number): number => Math.round(ms * 10) / 10;

/** Collects latencies and answers percentiles. */
export class LatencyHistogram {
  #buckets: Uint32Array | undefined;
  #count = 0;
  #maxMs = 0;

  /** Adds one latency (negative values count as 0). */
  add(latencyMs: number): void {
    this.#buckets ??= new Uint32Array(BUCKETS);
    const bucket = Math.min(BUCKETS - 1, Math.max(0, Math.floor(latencyMs / BUCKET_MS)));
    this.#buckets[bucket]++;
    this.#count++;
    if (latencyMs > this.#maxMs) this.#maxMs = latencyMs;
  }

  /** p50, p99 (upper edge of their bucket) and max. */
  summary(): LatencySummary {
    return {
      count: this.#count,
      p50Ms: this.#percentile(0.5),
      p99Ms: this.#percentile(0.99),
      maxMs: round1(this.#maxMs),
    };
  }

  #percentile(q: number): number {
    const buckets = this.#buckets;
    if (buckets === undefined || this.#count === 0) return 0;
    const rank = Math.ceil(q * this.#count);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += buckets[i];
      if (seen >= rank) return round1((i + 1) * BUCKET_MS);
    }
    return round1(this.#maxMs);
  }
}
