/**
 * Per file, the lowest byte offset whose record is not yet done. A record is done when the batch that
 * holds it was acknowledged by the endpoint (2xx) or dropped on purpose and counted; until then the
 * file's cursor may not pass the record's first byte.
 *
 * @module
 */

/**
 * Tracks which batches still hold records of which file, with the lowest record start offset of each
 * (file, batch) pair. Pure bookkeeping: no I/O, no clock.
 */
export class AckTracker<K> {
  #byBatch = new Map<number, Map<K, number>>();
  #byFile = new Map<K, Map<number, number>>();
  // Fast path: consecutive records of one file in one batch come with rising offsets.
  #lastBatch = -1;
  #lastFile: K | undefined;
  #lastMin = Infinity;
  #settles = 0;
  #settled: { promise: Promise<void>; resolve: () => void } | null = null;

  /** Records that batch `batchId` holds a record of `file` starting at `startOffset`. */
  add(batchId: number, file: K, startOffset: number): void {
    if (batchId === this.#lastBatch && file === this.#lastFile && startOffset >= this.#lastMin) return;
    let files = this.#byBatch.get(batchId);
    if (files === undefined) {
      files = new Map();
      this.#byBatch.set(batchId, files);
    }
    let batches = this.#byFile.get(file);
    if (batches === undefined) {
      batches = new Map();
      this.#byFile.set(file, batches);
    }
    const prev = files.get(file);
    const min = prev === undefined || startOffset < prev ? startOffset : prev;
    files.set(file, min);
    batches.set(batchId, min);
    this.#lastBatch = batchId;
    this.#lastFile = file;
    this.#lastMin = min;
  }

  /** Marks every record of batch `batchId` done (acknowledged or deliberately dropped). */
  settle(batchId: number): void {
    const files = this.#byBatch.get(batchId);
    if (files === undefined) return;
    this.#settles++;
    const settled = this.#settled;
    this.#settled = null;
    settled?.resolve();
    this.#byBatch.delete(batchId);
    for (const file of files.keys()) {
      const batches = this.#byFile.get(file);
      if (batches === undefined) continue;
      batches.delete(batchId);
      if (batches.size === 0) this.#byFile.delete(file);
    }
    if (batchId === this.#lastBatch) {
      this.#lastBatch = -1;
      this.#lastFile = undefined;
      this.#lastMin = Infinity;
    }
  }

  /** The lowest start offset of a not-yet-done record of `file`, or Infinity when none is outstanding. */
  lowestOutstanding(file: K): number {
    const batches = this.#byFile.get(file);
    if (batches === undefined) return Infinity;
    let min = Infinity;
    for (const offset of batches.values()) if (offset < min) min = offset;
    return min;
  }

  /** Whether any record of `file` is outstanding. */
  hasOutstanding(file: K): boolean {
    return this.#byFile.has(file);
  }

  /** How many batches have settled so far (a counter to tell whether anything settled since). */
  settleCount(): number {
    return this.#settles;
  }

  /**
   * Resolves at the next settle. The read loop waits on it (with its own timer) instead of being woken
   * by the batcher: the wiring stays one direction.
   */
  nextSettle(): Promise<void> {
    // One shared promise per settle; a caller that may stop waiting hooks it once per promise (the tailer).
    if (this.#settled === null) {
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#settled = { promise, resolve };
    }
    return this.#settled.promise;
  }

  /** Number of batches holding outstanding records. */
  outstandingBatches(): number {
    return this.#byBatch.size;
  }
}
