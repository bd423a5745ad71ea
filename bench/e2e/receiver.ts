/**
 * A loopback OTLP/HTTP logs receiver for the end-to-end bench. It answers each request at once, then
 * decodes it and checks every record against the {@linkcode ExpectedModel} (content, order per stream,
 * resource attributes), keeping only counters, a latency histogram and a few examples per problem:
 * nothing per record. Counters lag the answers by the checking queue; `settled()` waits for it.
 *
 * @module
 */

import type { Stream } from "../../src/record.ts";
import {
  decodeContentEncoding,
  type DecodedResourceLogs,
  decodeLogsRequest,
  encodeLogsResponse,
} from "../../tests/_fakes/otlp_decode.ts";
import type { ExpectedModel } from "./expected.ts";
import { LatencyHistogram, type LatencySummary } from "./latency_histogram.ts";

/** How the receiver answers: 200 after checking, or 503 without reading the records. */
export type ReceiverAnswer = "ok" | "unavailable";

/** Options for {@linkcode Receiver.start}. */
export interface ReceiverOptions {
  /** Port on 127.0.0.1; 0 picks a free one. @default 0 */
  port?: number;
  /** Record the latency from each record's time to its receipt. @default false */
  measureLatency?: boolean;
  /** `Retry-After` seconds sent with 503 answers; 0 sends none. @default 0 */
  retryAfterSec?: number;
  /** Clock in Unix milliseconds (fractional). @default performance.timeOrigin + performance.now() */
  nowMs?: () => number;
}

/** Kinds of problem a received record can have (one counter each). */
export type ProblemKind =
  | "duplicated"
  | "unexpected_time"
  | "content_mismatch"
  | "unknown_file"
  | "bad_stream"
  | "bad_body"
  | "resource_mismatch"
  | "out_of_order"
  | "malformed_request";

/** What the receiver has seen so far. */
export interface ReceiverCounts {
  /** POSTs to /v1/logs, whatever the answer. */
  requests: number;
  /** Requests answered 503. */
  refusedRequests: number;
  /** Records in requests answered 200. */
  received: number;
  expected: number;
  /** Distinct expected records received at least once. */
  matched: number;
  /** Expected records never received (so far): `expected - matched`. */
  lost: number;
  /** Extra receipts of an already matched record. */
  duplicated: number;
  /** Received records that match nothing expected (unknown file, time, stream or content). */
  unexpected: number;
  /** First receipts that arrived after a later record of the same (file, stream). */
  outOfOrder: number;
  /** Records whose resource attributes differ from their file's (namespace, pod, uid, container, restart). */
  resourceMismatch: number;
  /** Each problem kind separately. */
  problems: Record<ProblemKind, number>;
}

/** One example of a problem, for the report. */
export interface ProblemExample {
  kind: ProblemKind;
  path: string;
  stream: string;
  timeUnixNano: string;
  bodyPrefix: string;
}

const EXAMPLES_PER_KIND = 5;
const MAX_PENDING_BYTES = 64 * 1024 * 1024;

function emptyProblems(): Record<ProblemKind, number> {
  return {
    duplicated: 0,
    unexpected_time: 0,
    content_mismatch: 0,
    unknown_file: 0,
    bad_stream: 0,
    bad_body: 0,
    resource_mismatch: 0,
    out_of_order: 0,
    malformed_request: 0,
  };
}

/** The bench's OTLP endpoint; close it with `await using` or `close()`. */
export class Receiver implements AsyncDisposable {
  #model: ExpectedModel;
  #options: ReceiverOptions;
  #nowMs: () => number;
  #server: Deno.HttpServer<Deno.NetAddr> | undefined;
  #port: number;
  #answer: ReceiverAnswer = "ok";
  #answerDelayMs = 0;
  #counts = { requests: 0, refusedRequests: 0, received: 0, duplicated: 0, unexpected: 0 };
  #problems = emptyProblems();
  #examples: ProblemExample[] = [];
  #latency = new LatencyHistogram();
  #baseNs: bigint;
  #lastMatchAtMs = 0;
  #firstMatchAtMs = 0;
  /** Records whose CRI time is at or before this epoch ms are the backlog of an outage. */
  #backlogCutoffMs = -Infinity;
  #lastBacklogMatchAtMs = 0;
  #pending: { raw: Uint8Array<ArrayBuffer>; encoding: string | null; receivedAtMs: number }[] = [];
  /** The model time (ns since its base) of every duplicate received: when its line was written. */
  #duplicateTimesNs: number[] = [];
  /** When (epoch ms) the first copy of every duplicate received was received. */
  #duplicateFirstReceiptsMs: number[] = [];
  #pendingBytes = 0;
  #isChecking = false;
  #drained: Promise<void> = Promise.resolve();

  private constructor(model: ExpectedModel, options: ReceiverOptions) {
    this.#model = model;
    this.#options = options;
    this.#nowMs = options.nowMs ?? (() => performance.timeOrigin + performance.now());
    this.#port = options.port ?? 0;
    this.#baseNs = BigInt(model.baseEpochSec) * 1_000_000_000n;
  }

  /** Starts listening on 127.0.0.1. */
  static async start(model: ExpectedModel, options: ReceiverOptions = {}): Promise<Receiver> {
    const receiver = new Receiver(model, options);
    await receiver.comeUp();
    return receiver;
  }

  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** Unix ms of the first and the latest first receipt of an expected record (0 before any). */
  get matchTimesMs(): { first: number; last: number } {
    return { first: this.#firstMatchAtMs, last: this.#lastMatchAtMs };
  }

  /** True while listening. */
  get isUp(): boolean {
    return this.#server !== undefined;
  }

  /** Holds every following answer for `ms` (a slow endpoint); 0 answers at once. */
  slowDown(ms: number): void {
    this.#answerDelayMs = ms;
  }

  /** Changes how the following requests are answered. */
  answerWith(answer: ReceiverAnswer): void {
    this.#answer = answer;
  }

  /** Stops listening (the endpoint is down: connections are refused). */
  async goDown(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server !== undefined) await server.shutdown();
  }

  /** Listens again, on the same port once one was chosen. */
  comeUp(): Promise<void> {
    if (this.#server !== undefined) return Promise.resolve();
    return new Promise((resolve, reject) => {
      try {
        this.#server = Deno.serve({
          hostname: "127.0.0.1",
          port: this.#port,
          onListen: (addr) => {
            this.#port = addr.port;
            resolve();
          },
        }, (request) => this.#handle(request));
      } catch (err) {
        reject(err);
      }
    });
  }

  /**
   * Duplicates whose line was written before `beforeNs` (model time, ns since its base): after a kill, the
   * resent records that had been written, and so most likely acknowledged, well before it.
   */
  duplicatesWrittenBefore(beforeNs: number): number {
    let n = 0;
    for (const timeNs of this.#duplicateTimesNs) if (timeNs < beforeNs) n++;
    return n;
  }

  /**
   * When (epoch ms) the requests that carried the first copies of the duplicates were received, oldest
   * first: one entry per request (each request's records share its receipt time).
   */
  duplicatedRequestTimesMs(): number[] {
    return [...new Set(this.#duplicateFirstReceiptsMs)].sort((a, b) => a - b);
  }

  /** Expected records first received at or after `fromMs` and before `toMs` (the receiver's epoch ms). */
  firstReceivedBetween(fromMs: number, toMs: number): number {
    return this.#model.firstReceivedBetween(fromMs, toMs);
  }

  /** The counters so far. */
  counts(): ReceiverCounts {
    const expected = this.#model.expectedCount;
    const matched = this.#model.matchedCount;
    return {
      ...this.#counts,
      expected,
      matched,
      lost: expected - matched,
      outOfOrder: this.#problems.out_of_order,
      resourceMismatch: this.#problems.resource_mismatch,
      problems: { ...this.#problems },
    };
  }

  /** Up to five examples of each problem kind. */
  examples(): ProblemExample[] {
    return [...this.#examples];
  }

  /**
   * From now on, remembers when the last record written at or before `epochMs` (by its CRI time) was
   * received: with {@linkcode lastBacklogMatchAtMs}, how long an outage's backlog took to arrive in full
   * (a count of matched records cannot say: records written after recovery may arrive first).
   */
  trackBacklogUntil(epochMs: number): void {
    this.#backlogCutoffMs = epochMs;
    this.#lastBacklogMatchAtMs = 0;
  }

  /** When (epoch ms) the last record of the tracked backlog was received so far, or 0. */
  lastBacklogMatchAtMs(): number {
    return this.#lastBacklogMatchAtMs;
  }

  /** The receiver's clock (epoch ms). */
  nowMs(): number {
    return this.#nowMs();
  }

  /** Latency from each record's CRI time to its first receipt (0.1 ms resolution). */
  latency(): LatencySummary {
    return this.#latency.summary();
  }

  /** Stops listening and finishes checking what was received. Idempotent. */
  async close(): Promise<void> {
    await this.goDown();
    await this.settled();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Resolves once every request received so far has been checked (counters are then final). */
  async settled(): Promise<void> {
    while (this.#pending.length > 0 || this.#isChecking) await this.#drained;
  }

  async #handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (request.method !== "POST" || url.pathname !== "/v1/logs") {
      await request.body?.cancel();
      return new Response("not found", { status: 404 });
    }
    this.#counts.requests++;
    const receivedAtMs = this.#nowMs();
    const raw = new Uint8Array(await request.arrayBuffer());
    if (this.#answerDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.#answerDelayMs));
    if (this.#answer === "unavailable") {
      this.#counts.refusedRequests++;
      const retryAfterSec = this.#options.retryAfterSec ?? 0;
      const headers: HeadersInit = retryAfterSec > 0 ? { "retry-after": String(retryAfterSec) } : {};
      return new Response("unavailable", { status: 503, headers });
    }
    // Answer at once and check behind: a real collector acks in about a millisecond, and the bench's
    // decoding (which shares the machine's cores) must not pace the agent. Receipt times are kept.
    const encoding = request.headers.get("content-encoding");
    this.#pending.push({ raw, encoding, receivedAtMs });
    this.#pendingBytes += raw.length;
    if (!this.#isChecking) this.#drained = this.#checkPending();
    // Bounded memory: past the limit, the answer waits until the checker has caught up.
    while (this.#pendingBytes > MAX_PENDING_BYTES) await this.#drained;
    return new Response(encodeLogsResponse(0, ""), { headers: { "content-type": "application/x-protobuf" } });
  }

  async #checkPending(): Promise<void> {
    this.#isChecking = true;
    try {
      while (this.#pending.length > 0) {
        const { raw, encoding, receivedAtMs } = this.#pending.shift()!;
        this.#pendingBytes -= raw.length;
        let decoded: DecodedResourceLogs[];
        try {
          decoded = decodeLogsRequest(await decodeContentEncoding(encoding, raw));
        } catch (err) {
          this.#problem("malformed_request", "", "", 0n, err instanceof Error ? err.message : String(err));
          continue;
        }
        for (const resourceLogs of decoded) this.#checkResource(resourceLogs, receivedAtMs);
      }
    } finally {
      this.#isChecking = false;
    }
  }

  #checkResource(resourceLogs: DecodedResourceLogs, receivedAtMs: number): void {
    const r = resourceLogs.resource;
    const restart = r["k8s.container.restart_count"];
    const resourceFile = typeof restart === "number"
      ? this.#model.fileIndexOfResource(
        String(r["k8s.namespace.name"]),
        String(r["k8s.pod.name"]),
        String(r["k8s.pod.uid"]),
        String(r["k8s.container.name"]),
        restart,
      )
      : -1;
    for (const scope of resourceLogs.scopes) {
      for (const record of scope.records) {
        this.#counts.received++;
        const path = record.attributes["log.file.path"];
        const stream = record.attributes["log.iostream"];
        const pathText = typeof path === "string" ? path : "";
        const fileByPath = this.#model.fileIndexOfPath(pathText);
        const file = fileByPath >= 0 ? fileByPath : resourceFile;
        if (file < 0) {
          this.#unexpected("unknown_file", pathText, stream, record.timeUnixNano, record.body);
          continue;
        }
        if (file !== resourceFile) {
          this.#problem(
            "resource_mismatch",
            pathText,
            String(stream),
            record.timeUnixNano,
            JSON.stringify(r),
          );
        }
        if (stream !== "stdout" && stream !== "stderr") {
          this.#unexpected("bad_stream", pathText, stream, record.timeUnixNano, record.body);
          continue;
        }
        const body = bodyText(record.body);
        if (body === null) {
          this.#unexpected("bad_body", pathText, stream, record.timeUnixNano, record.body);
          continue;
        }
        this.#checkRecord(file, stream, pathText, record.timeUnixNano, body, receivedAtMs);
      }
    }
  }

  #checkRecord(
    file: number,
    stream: Stream,
    path: string,
    timeUnixNano: bigint,
    body: string,
    receivedAtMs: number,
  ): void {
    const timeNs = Number(timeUnixNano - this.#baseNs);
    const result = this.#model.match(file, stream, timeNs, body, receivedAtMs);
    switch (result.outcome) {
      case "matched":
        if (this.#firstMatchAtMs === 0) this.#firstMatchAtMs = receivedAtMs;
        this.#lastMatchAtMs = receivedAtMs;
        if (
          this.#model.baseEpochSec * 1000 + timeNs / 1e6 <= this.#backlogCutoffMs &&
          receivedAtMs > this.#lastBacklogMatchAtMs
        ) {
          this.#lastBacklogMatchAtMs = receivedAtMs;
        }
        if (result.isOutOfOrder) this.#problem("out_of_order", path, stream, timeUnixNano, body);
        if (this.#options.measureLatency === true) {
          this.#latency.add(receivedAtMs - this.#model.baseEpochSec * 1000 - timeNs / 1e6);
        }
        return;
      case "duplicate":
        this.#counts.duplicated++;
        this.#duplicateTimesNs.push(timeNs);
        this.#duplicateFirstReceiptsMs.push(result.firstReceivedAtMs);
        this.#problem("duplicated", path, stream, timeUnixNano, body);
        return;
      case "unknown_time":
        this.#unexpected("unexpected_time", path, stream, timeUnixNano, body);
        return;
      case "content_mismatch":
        this.#unexpected("content_mismatch", path, stream, timeUnixNano, body);
        return;
    }
  }

  #unexpected(kind: ProblemKind, path: string, stream: unknown, timeUnixNano: bigint, body: unknown): void {
    this.#counts.unexpected++;
    this.#problem(
      kind,
      path,
      String(stream),
      timeUnixNano,
      typeof body === "string" ? body : JSON.stringify(body),
    );
  }

  #problem(kind: ProblemKind, path: string, stream: string, timeUnixNano: bigint, detail: string): void {
    this.#problems[kind]++;
    if (this.#problems[kind] > EXAMPLES_PER_KIND) return;
    this.#examples.push({
      kind,
      path,
      stream,
      timeUnixNano: String(timeUnixNano),
      bodyPrefix: detail.slice(0, 160),
    });
  }
}

/**
 * The body as the generator wrote it: a string body as is; a JSON object body the agent splat into a map
 * (`json.mode: body`, the default) as its compact JSON text, which is the generated line (the generator
 * writes `JSON.stringify` output with no level or time keys). Null for anything else.
 */
function bodyText(body: unknown): string | null {
  if (typeof body === "string") return body;
  if (body === null || typeof body !== "object" || Array.isArray(body) || body instanceof Uint8Array) {
    return null;
  }
  try {
    return JSON.stringify(body);
  } catch {
    return null; // a bigint: not something the generator writes
  }
}
