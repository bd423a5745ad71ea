/**
 * Groups records into batches bounded by count, bytes and age, runs a bounded number of export requests,
 * and settles each batch in the ack tracker when its outcome is final. A batch whose export was aborted
 * (shutdown) is never settled, so its files' cursors stay before its records and they are sent again
 * after a restart.
 *
 * @module
 */

import type { Config } from "../config/mod.ts";
import type { AckTracker } from "../ack/mod.ts";
import type { LogRecord } from "../record.ts";
import type { AgentMetrics } from "../telemetry/agent_metrics.ts";

/** The outcome of one export, as the exporter reports it. */
export type BatchOutcome =
  | { kind: "delivered"; rejectedRecords: number }
  | { kind: "dropped"; reason: string; status?: number }
  | { kind: "aborted" };

/**
 * What the batcher needs from an exporter: `add` takes each record of the open batch as it comes (the
 * OTLP exporter encodes it at once, so no batch of record objects lives on), `seal` turns what was added
 * into a request when the batch is sealed (so a batch waiting out an outage holds compressed bytes), and
 * `send` sends it until it has a final outcome. One batch is open at a time.
 */
export interface BatchExporter<P = unknown> {
  add(record: LogRecord): void;
  seal(): P;
  send(prepared: P, signal: AbortSignal): Promise<BatchOutcome>;
  /** The request has its final outcome and will not be sent again: its memory may go now. */
  release?(prepared: P): void;
}

/** Options for {@linkcode Batcher}: the `batch` config section (declared once in config/schema.ts) plus collaborators. */
export interface BatcherOptions<K> extends Readonly<Config["batch"]> {
  /** Export requests in flight at once (config `exporter.max_concurrent_requests`). */
  maxConcurrentRequests: number;
  // deno-lint-ignore no-explicit-any
  exporter: BatchExporter<any>;
  ack: AckTracker<K>;
  metrics: AgentMetrics;
  /** Called after a batch settles (delivered or dropped): backpressure may have eased. */
  onSettled?: () => void;
}

interface Batch {
  id: number;
  /** Records added to the exporter's open request. */
  count: number;
  bytes: number;
  prepared?: unknown;
}

/** Collects records and exports them in bounded batches. */
export class Batcher<K> {
  #options: BatcherOptions<K>;
  #current: Batch;
  #nextId = 1;
  #queue: Batch[] = [];
  #running = new Set<Promise<void>>();
  #inflightBytes = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #abort = new AbortController();

  constructor(options: BatcherOptions<K>) {
    this.#options = options;
    this.#current = this.#newBatch();
  }

  /** Adds one record of `file` whose first byte is at `startOffset`; `bytes` is its size estimate. */
  push(record: LogRecord, file: K, startOffset: number, bytes: number): void {
    const batch = this.#current;
    if (batch.count === 0) {
      this.#timer = setTimeout(() => this.flush(), this.#options.maxDelayMs);
    }
    this.#options.exporter.add(record);
    batch.count++;
    batch.bytes += bytes;
    this.#inflightBytes += bytes;
    this.#options.ack.add(batch.id, file, startOffset);
    if (batch.count >= this.#options.maxRecords || batch.bytes >= this.#options.maxBytes) {
      this.flush();
    }
  }

  /** Seals the current batch (if it holds records) and starts exports as slots allow. */
  flush(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#current.count === 0) return;
    const sealed = this.#current;
    sealed.prepared = this.#options.exporter.seal();
    this.#queue.push(sealed);
    this.#current = this.#newBatch();
    this.#pump();
  }

  /** Bytes of records pushed but not yet settled (the backpressure measure). */
  inflightBytes(): number {
    return this.#inflightBytes;
  }

  /** Batches queued or being exported. */
  pendingBatches(): number {
    return this.#queue.length + this.#running.size + (this.#current.count > 0 ? 1 : 0);
  }

  /** Waits until every batch has an outcome, or `timeoutMs` passes; true when all finished. */
  async drain(timeoutMs: number): Promise<boolean> {
    this.flush();
    const deadline = Date.now() + timeoutMs;
    while (this.#queue.length > 0 || this.#running.size > 0) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.race(this.#running),
        new Promise((r) => timer = setTimeout(r, Math.min(left, 50))),
      ]);
      clearTimeout(timer);
    }
    return true;
  }

  /** Aborts every export in flight (their batches stay unacknowledged) and waits for them to end. */
  async abort(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue.length = 0;
    this.#abort.abort();
    await Promise.allSettled(this.#running);
  }

  #newBatch(): Batch {
    return { id: this.#nextId++, count: 0, bytes: 0 };
  }

  #pump(): void {
    const { maxConcurrentRequests, metrics } = this.#options;
    while (
      this.#running.size < maxConcurrentRequests && this.#queue.length > 0 && !this.#abort.signal.aborted
    ) {
      const batch = this.#queue.shift()!;
      const run = this.#run(batch).finally(() => {
        this.#running.delete(run);
        this.#pump();
      });
      this.#running.add(run);
    }
    metrics.exportQueueBatches.set(this.#queue.length + this.#running.size);
  }

  async #run(batch: Batch): Promise<void> {
    let outcome: BatchOutcome;
    try {
      outcome = await this.#options.exporter.send(batch.prepared, this.#abort.signal);
    } catch {
      // The exporter reports outcomes instead of throwing; an escape is a bug. Keep the batch
      // unacknowledged (it is resent after a restart) rather than risk skipping it.
      outcome = { kind: "aborted" };
    }
    if (outcome.kind === "aborted") return;
    this.#options.exporter.release?.(batch.prepared);
    batch.prepared = undefined;
    this.#options.ack.settle(batch.id);
    this.#inflightBytes -= batch.bytes;
    this.#options.onSettled?.();
  }
}
