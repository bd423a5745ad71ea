/**
 * Sends batches of log records to an OTLP/HTTP endpoint as protobuf (optionally gzip), retrying what
 * the OTLP/HTTP spec calls retryable until the batch is delivered, deliberately dropped, or the caller
 * aborts. The outcome tells the caller whether the batch's bytes count as done (at-least-once: only
 * "delivered" and "dropped" do; "aborted" does not).
 *
 * Retry policy (OTLP/HTTP spec, "Failures"):
 * - Retried: network errors, per-request timeouts, 429, 502, 503, 504.
 * - Permanent (dropped, counted, logged once per status per interval): every other non-2xx status,
 *   500 included, as the spec lists only 429/502/503/504 as retryable.
 * - Delay before retry n (0-based): uniform in [initial, min(max, initial * 2^n)] (full jitter above a
 *   floor of the initial interval, so a fast-failing endpoint is never hammered).
 * - `Retry-After` (seconds or HTTP date) is a lower bound on that delay, capped at 5 minutes so a bad
 *   header cannot park the exporter for hours.
 * - With `retryMaxElapsedMs > 0`, a retry whose delay would end past that budget (counted from the first
 *   attempt) is not made: the batch is dropped as `retry_exhausted`.
 *
 * @module
 */

import type { LogRecord } from "../record.ts";
import type { Config } from "../config/mod.ts";
import type { AgentMetrics } from "../telemetry/agent_metrics.ts";
import type { Logger } from "../telemetry/log.ts";
import { decodeLogsResponse, type EncodedLogsRequest, LogsRequestEncoder } from "./otlp_encode.ts";
import { abortableDelay } from "../lifecycle/abortable_delay.ts";
import { BodySlabs } from "./body_slabs.ts";
import { BodyCompressor } from "./compress.ts";

/** What became of one batch. */
export type ExportOutcome =
  /** Answered 2xx; `rejectedRecords` from a partial success (metered, not retried). */
  | { kind: "delivered"; rejectedRecords: number }
  /** Deliberately dropped and counted: a permanent status, or the retry budget ran out. */
  | { kind: "dropped"; reason: ExportDropReason; status?: number }
  /** The caller's signal fired first: the batch is NOT acknowledged. */
  | { kind: "aborted" };

/** An encoded (and compressed) request body, ready to send and resend. */
export interface PreparedRequest {
  readonly body: Uint8Array<ArrayBuffer>;
  readonly recordCount: number;
}

/** Why a batch was deliberately dropped. */
export type ExportDropReason = "permanent_status" | "retry_exhausted";

/** Outcome label of `containerstdout_export_requests_total`, one per HTTP attempt. */
export type ExportRequestOutcome =
  | "success"
  | "partial"
  | "retryable_status"
  | "permanent_status"
  | "network_error"
  | "timeout";

/** Reason label of `containerstdout_export_retries_total`. */
export type ExportRetryReason = "retryable_status" | "network_error" | "timeout";

/** Options for {@linkcode OtlpExporter}. */
/**
 * Options for {@linkcode OtlpExporter}: the `exporter` config section as it is (each key is declared once,
 * with its unit, default and doc, in config/schema.ts; `retryMaxElapsedMs` 0 retries until delivered or
 * aborted, backpressure then holding the data in the files), plus collaborators.
 */
export interface OtlpExporterOptions extends Omit<Config["exporter"], "maxConcurrentRequests"> {
  metrics: AgentMetrics;
  logger: Logger;
  /** Jitter source in [0, 1). @default Math.random */
  random?: () => number;
  /** Waits `ms`, settling early when `signal` aborts. @default a timer that resolves on abort */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Wall clock in ms (elapsed budget, request seconds, Retry-After dates). @default Date.now */
  now?: () => number;
}

/** The longest `Retry-After` honoured. */
const MAX_RETRY_AFTER_MS = 5 * 60_000;

/** Statuses the OTLP/HTTP spec says to retry. */
const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);

/** Response bytes read at most: a partial-success message or an error excerpt. */
const MAX_RESPONSE_BYTES = 64 * 1024;
const BODY_EXCERPT_CHARS = 512;
const EMPTY = new Uint8Array(0);

/** One HTTP attempt, classified. */
type Attempt =
  | { kind: "success"; rejectedRecords: number; errorMessage: string }
  | { kind: "retry"; reason: ExportRetryReason; status?: number; retryAfterMs?: number; detail: string }
  | { kind: "permanent"; status: number; bodyExcerpt: string }
  | { kind: "aborted" };

/**
 * Sends record batches to one OTLP/HTTP logs endpoint. Keeps no state between calls, so concurrent
 * exports are safe.
 */
export class OtlpExporter {
  #url: string;
  #headers: Record<string, string>;
  /**
   * One compression stream for every request (see compress.ts: no engine state set up and freed per
   * request), or null for `compression: none`.
   */
  #compressor: BodyCompressor | null;
  /** Where sealed bodies wait for their outcome (reused buffers: see body_slabs.ts). */
  #slabs = new BodySlabs();
  #timeoutMs: number;
  #initialMs: number;
  #maxIntervalMs: number;
  #maxElapsedMs: number;
  #metrics: AgentMetrics;
  #logger: Logger;
  #random: () => number;
  #sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  #now: () => number;
  #encoder = new LogsRequestEncoder();
  /**
   * Wakes the requests sleeping in a retry backoff. Called when an attempt succeeds: the endpoint is back,
   * so a request that failed during the outage should not sleep out the rest of its backoff (up to
   * max_interval) while it holds one of the max_concurrent_requests slots.
   */
  #backoffWakers = new Set<() => void>();

  /** @throws {RangeError} when an option is out of range or the endpoint is not an http(s) URL. */
  constructor(options: OtlpExporterOptions) {
    this.#url = logsUrl(options.endpoint);
    checkPositive("timeoutMs", options.timeoutMs);
    checkPositive("retryInitialIntervalMs", options.retryInitialIntervalMs);
    checkPositive("retryMaxIntervalMs", options.retryMaxIntervalMs);
    if (options.retryMaxIntervalMs < options.retryInitialIntervalMs) {
      throw new RangeError(
        `Invalid OTLP exporter option: retryMaxIntervalMs ${options.retryMaxIntervalMs} is below ` +
          `retryInitialIntervalMs ${options.retryInitialIntervalMs}`,
      );
    }
    if (!(options.retryMaxElapsedMs >= 0)) {
      throw new RangeError(`Invalid OTLP exporter option: retryMaxElapsedMs ${options.retryMaxElapsedMs}`);
    }
    this.#headers = {
      ...options.headers,
      "content-type": "application/x-protobuf",
      ...(options.compression === "none" ? {} : { "content-encoding": options.compression }),
    };
    this.#compressor = options.compression === "none" ? null : new BodyCompressor(options.compression);
    this.#timeoutMs = options.timeoutMs;
    this.#initialMs = options.retryInitialIntervalMs;
    this.#maxIntervalMs = options.retryMaxIntervalMs;
    this.#maxElapsedMs = options.retryMaxElapsedMs;
    this.#metrics = options.metrics;
    this.#logger = options.logger;
    this.#random = options.random ?? Math.random;
    this.#sleep = options.sleep ?? abortableDelay;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Encodes, compresses and sends `records`, retrying until delivered, permanently failed, exhausted or
   * aborted.
   */
  export(records: readonly LogRecord[], signal: AbortSignal): Promise<ExportOutcome> {
    if (signal.aborted) return Promise.resolve({ kind: "aborted" });
    return this.send(this.prepare(records), signal);
  }

  /**
   * Encodes and compresses `records` into a request body, synchronously. Done once when a batch is
   * sealed, so a batch waiting for an outage to end holds only its compressed bytes, not its records.
   * gzip runs at level 1, about 4x cheaper than level 6 for output ~1.25x larger (bench/otlp_encode_bench.ts,
   * docs/encoding.md). Records whose bytes body held invalid UTF-8 are counted here.
   */
  prepare(records: readonly LogRecord[]): PreparedRequest {
    return this.#compress(this.#encoder.encode(records), records.length, false);
  }

  /**
   * Batcher side: encodes one record into the request being built, at once, so the record object dies
   * young (a batch of record objects waiting for its seal would be copied by every garbage collection it
   * lives through).
   */
  add(record: LogRecord): void {
    this.#encoder.add(record);
  }

  /** Batcher side: seals the request built by {@linkcode add} into a compressed body. */
  seal(): PreparedRequest {
    const count = this.#encoder.pendingRecords;
    return this.#compress(this.#encoder.finish(), count, true);
  }

  /**
   * Batcher side: the request has its final outcome and is not sent again. A sealed body goes back to the
   * body slabs; a body of its own (from {@linkcode prepare}) is freed at once
   * (`ArrayBuffer.prototype.transfer(0)`) instead of being left to a major garbage collection: bodies
   * outlive a few young-generation collections while in flight, and settled ones would pile up as external
   * memory until V8's external limit (~64 MiB over the last collection) forced one.
   */
  release(request: PreparedRequest): void {
    this.#slabs.release(request.body);
  }

  /**
   * The request body of `encoded` (a view of the encoder's reused buffer, so it is compressed or copied
   * here). Sealed bodies go into the body slabs (body_slabs.ts), which the batcher releases; others get a
   * buffer of their own.
   */
  #compress(encoded: EncodedLogsRequest, recordCount: number, isSealed: boolean): PreparedRequest {
    if (encoded.invalidUtf8Records > 0) this.#metrics.invalidUtf8Records.inc(encoded.invalidUtf8Records);
    const plain = encoded.bytes;
    const bytes = this.#compressor === null ? plain : this.#compressor.compressView(plain);
    const body = isSealed ? this.#slabs.copy(bytes) : bytes.slice();
    return { body, recordCount };
  }

  /** Sends a prepared body, retrying until delivered, permanently failed, exhausted or aborted. */
  async send(request: PreparedRequest, signal: AbortSignal): Promise<ExportOutcome> {
    if (signal.aborted) return { kind: "aborted" };
    const count = request.recordCount;
    if (count === 0) return { kind: "delivered", rejectedRecords: 0 };
    const startedMs = this.#now();
    for (let retry = 0;; retry++) {
      const attempt = await this.#send(request.body, signal);
      if (attempt.kind === "aborted") return attempt;
      if (attempt.kind === "success") {
        this.#wakeBackoffs();
        return this.#delivered(count, attempt);
      }
      if (attempt.kind === "permanent") return this.#dropPermanent(count, attempt);
      const delayMs = this.#retryDelayMs(retry, attempt.retryAfterMs);
      if (this.#maxElapsedMs > 0 && this.#now() + delayMs - startedMs > this.#maxElapsedMs) {
        return this.#dropExhausted(count, attempt, retry + 1);
      }
      this.#metrics.exportRetries.inc(1, attempt.reason);
      this.#logger.limited("warn", `otlp_retry_${attempt.reason}`, "OTLP export failed, retrying", {
        reason: attempt.reason,
        status: attempt.status,
        detail: attempt.detail,
        delayMs: Math.round(delayMs),
      });
      if (!(await this.#wait(delayMs, signal))) return { kind: "aborted" };
    }
  }

  /** One POST, classified; every response body is read (bounded) or cancelled. */
  async #send(body: Uint8Array<ArrayBuffer>, signal: AbortSignal): Promise<Attempt> {
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const combined = AbortSignal.any([signal, timeout]);
    const startedMs = this.#now();
    try {
      const response = await fetch(this.#url, {
        method: "POST",
        headers: this.#headers,
        body,
        signal: combined,
      });
      // Counted once answered: a refused connection sent nothing.
      this.#metrics.exportBytes.inc(body.length);
      const attempt = await this.#classify(response);
      this.#countRequest(attempt);
      return attempt;
    } catch (thrown) {
      if (signal.aborted) return { kind: "aborted" };
      const reason = timeout.aborted ? "timeout" : "network_error";
      this.#metrics.exportRequests.inc(1, reason);
      const detail = timeout.aborted ? `no answer within ${this.#timeoutMs} ms` : errorDetail(thrown);
      return { kind: "retry", reason, detail };
    } finally {
      this.#metrics.exportRequestSeconds.inc(Math.max(0, this.#now() - startedMs) / 1000);
    }
  }

  async #classify(response: Response): Promise<Attempt> {
    const status = response.status;
    if (status >= 200 && status < 300) {
      // The endpoint has accepted the batch once the status is 2xx: a body that fails to arrive (abort,
      // timeout, reset) must not turn that into a resend.
      const decoded = decodeLogsResponse(await readCapped(response, MAX_RESPONSE_BYTES).catch(() => EMPTY));
      if (decoded.ok) {
        return {
          kind: "success",
          rejectedRecords: decoded.rejectedLogRecords,
          errorMessage: decoded.errorMessage,
        };
      }
      this.#logger.limited("warn", "otlp_malformed_response", "OTLP response body is not a valid response", {
        status,
        detail: decoded.detail,
      });
      return { kind: "success", rejectedRecords: 0, errorMessage: "" };
    }
    if (RETRYABLE_STATUSES.has(status)) {
      const retryAfterMs = parseRetryAfterMs(response.headers.get("retry-after"), this.#now());
      await response.body?.cancel().catch(() => undefined);
      return { kind: "retry", reason: "retryable_status", status, retryAfterMs, detail: `status ${status}` };
    }
    // The status alone decides; the excerpt is best effort.
    const excerptBytes = await readCapped(response, BODY_EXCERPT_CHARS * 4).catch(() => EMPTY);
    const excerpt = new TextDecoder().decode(excerptBytes);
    return { kind: "permanent", status, bodyExcerpt: excerpt.slice(0, BODY_EXCERPT_CHARS) };
  }

  #countRequest(attempt: Attempt): void {
    let outcome: ExportRequestOutcome;
    if (attempt.kind === "success") outcome = attempt.rejectedRecords > 0 ? "partial" : "success";
    else if (attempt.kind === "permanent") outcome = "permanent_status";
    else if (attempt.kind === "retry") outcome = attempt.reason;
    else return;
    this.#metrics.exportRequests.inc(1, outcome);
  }

  #delivered(count: number, attempt: { rejectedRecords: number; errorMessage: string }): ExportOutcome {
    // A receiver may claim more rejections than records sent; never meter more than the batch.
    const rejected = Math.min(count, attempt.rejectedRecords);
    this.#metrics.exportRecords.inc(count - rejected, "delivered");
    if (rejected > 0) {
      this.#metrics.exportRecords.inc(rejected, "rejected");
      this.#logger.limited("warn", "otlp_partial_success", "OTLP endpoint rejected some records", {
        rejected,
        records: count,
        message: attempt.errorMessage,
      });
    }
    return { kind: "delivered", rejectedRecords: attempt.rejectedRecords };
  }

  #dropPermanent(count: number, attempt: { status: number; bodyExcerpt: string }): ExportOutcome {
    this.#metrics.exportRecords.inc(count, "dropped");
    // zstd is optional for OTLP endpoints: one that lacks it refuses every request (with 415 or
    // 400). Say so next to the status rather than leave the reader to guess.
    const hint = this.#compressor?.codec === "zstd" && (attempt.status === 400 || attempt.status === 415)
      ? {
        hint:
          "exporter.compression is zstd: check that the endpoint accepts Content-Encoding: zstd, or use gzip",
      }
      : {};
    this.#logger.limited(
      "error",
      `otlp_permanent_status_${attempt.status}`,
      "OTLP endpoint refused a batch permanently; records dropped",
      { status: attempt.status, records: count, body: attempt.bodyExcerpt, ...hint },
    );
    return { kind: "dropped", reason: "permanent_status", status: attempt.status };
  }

  #dropExhausted(
    count: number,
    attempt: { status?: number; detail: string },
    attempts: number,
  ): ExportOutcome {
    this.#metrics.exportRecords.inc(count, "dropped");
    this.#logger.limited("error", "otlp_retry_exhausted", "OTLP export retries exhausted; records dropped", {
      records: count,
      attempts,
      retryMaxElapsedMs: this.#maxElapsedMs,
      lastStatus: attempt.status,
      detail: attempt.detail,
    });
    return attempt.status === undefined
      ? { kind: "dropped", reason: "retry_exhausted" }
      : { kind: "dropped", reason: "retry_exhausted", status: attempt.status };
  }

  #retryDelayMs(retry: number, retryAfterMs: number | undefined): number {
    const intervalMs = Math.min(this.#maxIntervalMs, this.#initialMs * 2 ** Math.min(retry, 52));
    const backoffMs = this.#initialMs + this.#random() * (intervalMs - this.#initialMs);
    if (retryAfterMs === undefined) return backoffMs;
    return Math.max(backoffMs, Math.min(retryAfterMs, MAX_RETRY_AFTER_MS));
  }

  /**
   * Sleeps a backoff, cut short when another request succeeds (#wakeBackoffs); false when the signal
   * fired (before or during the wait).
   */
  async #wait(ms: number, signal: AbortSignal): Promise<boolean> {
    const woken = new AbortController();
    const wake = (): void => woken.abort();
    this.#backoffWakers.add(wake);
    try {
      await this.#sleep(ms, AbortSignal.any([signal, woken.signal]));
    } catch (thrown) {
      if (!signal.aborted && !woken.signal.aborted) throw thrown;
    } finally {
      this.#backoffWakers.delete(wake);
    }
    return !signal.aborted;
  }

  #wakeBackoffs(): void {
    if (this.#backoffWakers.size === 0) return;
    for (const wake of this.#backoffWakers) wake();
    this.#backoffWakers.clear();
  }
}

function checkPositive(name: string, value: number): void {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(`Invalid OTLP exporter option: ${name} must be a positive number, got ${value}`);
  }
}

/** `${endpoint}/v1/logs` without a double slash. */
function logsUrl(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new RangeError(`Invalid OTLP exporter option: endpoint is not a URL: ${endpoint}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new RangeError(`Invalid OTLP exporter option: endpoint must be http or https: ${endpoint}`);
  }
  return `${endpoint.replace(/\/+$/, "")}/v1/logs`;
}

/**
 * Milliseconds to wait from a `Retry-After` value (delay-seconds or an HTTP date), or undefined when
 * absent or unreadable. Dates in the past give 0.
 */
function parseRetryAfterMs(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
  // Only date-looking values: Date.parse accepts bare numbers and other odd forms.
  if (!/[a-z]/i.test(trimmed)) return undefined;
  const dateMs = Date.parse(trimmed);
  if (Number.isNaN(dateMs)) return undefined;
  return Math.max(0, dateMs - nowMs);
}

/** Reads at most `maxBytes` of the body and cancels the rest, so no body is left open. */
async function readCapped(response: Response, maxBytes: number): Promise<Uint8Array> {
  if (response.body === null) return new Uint8Array(0);
  // A body whose declared length fits is read whole: the runtime reads it into a buffer of that size,
  // where a stream reader allocates a 64 KiB chunk per response (under ingest, some 100 a second).
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (Number.isInteger(declared) && declared >= 0 && declared <= maxBytes) {
    return new Uint8Array(await response.arrayBuffer()).subarray(0, maxBytes);
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    while (total < maxBytes) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      total += value.length;
    }
  } finally {
    if (total >= maxBytes) await reader.cancel();
    reader.releaseLock();
  }
  if (chunks.length === 1) return chunks[0].subarray(0, maxBytes);
  const out = new Uint8Array(Math.min(total, maxBytes));
  let offset = 0;
  for (const chunk of chunks) {
    const n = Math.min(chunk.length, out.length - offset);
    out.set(chunk.subarray(0, n), offset);
    offset += n;
    if (offset === out.length) break;
  }
  return out;
}

function errorDetail(thrown: unknown): string {
  if (!(thrown instanceof Error)) return String(thrown);
  const cause = thrown.cause instanceof Error ? `: ${thrown.cause.message}` : "";
  return `${thrown.message}${cause}`;
}
