/**
 * A fake OTLP/HTTP logs receiver on 127.0.0.1 for tests and benches: decodes every request, keeps the
 * records of requests it answered 2xx, and answers as scripted while it runs (success, partial success,
 * 429/503 with Retry-After, 4xx, or a hang).
 *
 * @example
 * ```ts
 * await using sink = await startOtlpSink();
 * sink.respondWith({ status: 503, retryAfterSeconds: 1 });
 * // ... point an exporter at sink.url ...
 * sink.respondWith({ status: 200 });
 * await sink.waitForRecords(10, { timeoutMs: 5_000 });
 * ```
 *
 * @module
 */

import {
  decodeContentEncoding,
  type DecodedRecord,
  decodeLogsRequest,
  encodeLogsResponse,
} from "./otlp_decode.ts";
import { type DecodedResourceMetrics, decodeMetricsRequest } from "./otlp_metrics_decode.ts";

/** How the sink answers one request. */
export type SinkAnswer =
  | {
    /** HTTP status; 2xx stores the request's records. */
    status: number;
    /** Partial success: rejected record count in the 2xx response body. @default 0 */
    rejected?: number;
    /** Partial success error message. @default "" */
    message?: string;
    /** Sets `Retry-After: <n>` (seconds). */
    retryAfterSeconds?: number;
    /** A text body for non-2xx answers. @default "" */
    body?: string;
    /** Extra response headers (e.g. a `retry-after` HTTP date). @default {} */
    headers?: Record<string, string>;
  }
  | {
    /** Never answer until the sink closes (then 503). */
    hang: true;
  };

/** A fixed answer, or one chosen per request from its index (0-based, in arrival order). */
export type SinkMode = SinkAnswer | ((requestIndex: number) => SinkAnswer);

/** One record the sink stored, with the resource it came with. */
export interface SinkRecord {
  resource: Record<string, unknown>;
  record: DecodedRecord;
  requestIndex: number;
}

/** One request the sink received on POST /v1/logs, whatever it answered. */
export interface SinkRequest {
  /** 0-based, in arrival order. */
  index: number;
  /** The status answered; 0 for a request that was hung (never answered). */
  status: number;
  /** Records decoded from the request (stored only when `status` is 2xx). */
  recordCount: number;
  /** Body bytes as received (compressed when `encoding` is set). */
  bytes: number;
  /** The request's `Content-Encoding` (`gzip`, `zstd`), or null for none. */
  encoding: string | null;
  /** `encoding === "gzip"`. */
  isGzip: boolean;
  /** Why the request was refused before the scripted answer applied (bad content type, bad body). */
  error?: string;
}

/** Options for {@linkcode startOtlpSink}. */
export interface OtlpSinkOptions {
  /** Loopback address to listen on (any of 127.0.0.0/8). @default "127.0.0.1" */
  hostname?: string;
  /** Port to listen on. @default 0 (any free port) */
  port?: number;
  /** The answer until `respondWith` changes it. @default { status: 200 } */
  mode?: SinkMode;
}

/** Options for the sink's `waitFor*` helpers. */
export interface WaitOptions {
  /** How long to wait before rejecting. @default 10000 */
  timeoutMs?: number;
}

/** A running fake OTLP sink; close it with `await using` or `close()`. */
export interface OtlpSink extends AsyncDisposable {
  /** Base URL, e.g. `http://127.0.0.1:40123` (requests go to `${url}/v1/logs`). */
  readonly url: string;
  readonly port: number;
  /** Every stored record, flattened, in arrival order. */
  readonly records: readonly SinkRecord[];
  /** Every request received, in arrival order. */
  readonly requests: readonly SinkRequest[];
  /** The plain (decompressed) protobuf of every /v1/logs request answered 2xx, for typed decoding. */
  readonly logsRequestBodies: readonly Uint8Array[];
  /** Every request decoded on POST /v1/metrics (always answered 200), in arrival order. */
  readonly metricsRequests: readonly DecodedResourceMetrics[][];
  /** Changes how the following requests are answered (on /v1/logs). */
  respondWith(mode: SinkMode): void;
  /** Resolves once a metrics request satisfies `isDone`; rejects after the timeout. */
  waitForMetrics(
    isDone: (request: DecodedResourceMetrics[]) => boolean,
    options?: WaitOptions,
  ): Promise<void>;
  /** Resolves once at least `count` records are stored; rejects after the timeout saying how many came. */
  waitForRecords(count: number, options?: WaitOptions): Promise<void>;
  /**
   * Resolves once at least `count` requests were answered (a hung one counts on arrival); rejects after
   * the timeout.
   */
  waitForRequests(count: number, options?: WaitOptions): Promise<void>;
  /** Stops listening, releases hung requests and rejects pending waits. Idempotent. */
  close(): Promise<void>;
}

const DEFAULT_WAIT_MS = 10_000;

interface Waiter {
  isDone: () => boolean;
  resolve: () => void;
  reject: (error: Error) => void;
}

class Sink implements OtlpSink {
  readonly records: SinkRecord[] = [];
  readonly requests: SinkRequest[] = [];
  readonly metricsRequests: DecodedResourceMetrics[][] = [];
  readonly logsRequestBodies: Uint8Array[] = [];
  #mode: SinkMode;
  #server: Deno.HttpServer<Deno.NetAddr>;
  #closing = new AbortController();
  #waiters = new Set<Waiter>();
  #requestCount = 0;
  #closed: Promise<void> | undefined;

  constructor(options: OtlpSinkOptions) {
    this.#mode = options.mode ?? { status: 200 };
    this.#server = Deno.serve(
      { hostname: options.hostname ?? "127.0.0.1", port: options.port ?? 0, onListen() {} },
      (request) => this.#handle(request),
    );
  }

  get port(): number {
    return this.#server.addr.port;
  }

  get url(): string {
    return `http://${this.#server.addr.hostname}:${this.port}`;
  }

  respondWith(mode: SinkMode): void {
    this.#mode = mode;
  }

  waitForRecords(count: number, options: WaitOptions = {}): Promise<void> {
    return this.#waitFor(() => this.records.length >= count, options, () => {
      return `Timed out waiting for OTLP records: wanted ${count}, got ${this.records.length} ` +
        `in ${this.requests.length} requests (statuses ${this.#statusSummary()})`;
    });
  }

  waitForRequests(count: number, options: WaitOptions = {}): Promise<void> {
    return this.#waitFor(() => this.requests.length >= count, options, () => {
      return `Timed out waiting for OTLP requests: wanted ${count}, got ${this.requests.length} ` +
        `(statuses ${this.#statusSummary()})`;
    });
  }

  waitForMetrics(
    isDone: (request: DecodedResourceMetrics[]) => boolean,
    options: WaitOptions = {},
  ): Promise<void> {
    return this.#waitFor(() => this.metricsRequests.some(isDone), options, () => {
      return `Timed out waiting for an OTLP metrics request: got ${this.metricsRequests.length}, none matched`;
    });
  }

  close(): Promise<void> {
    this.#closed ??= this.#shutdown();
    return this.#closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #shutdown(): Promise<void> {
    this.#closing.abort();
    for (const waiter of this.#waiters) {
      waiter.reject(new Error(`OTLP sink closed while waiting: records ${this.records.length}`));
    }
    this.#waiters.clear();
    await this.#server.shutdown();
  }

  #statusSummary(): string {
    const counts = new Map<number, number>();
    for (const r of this.requests) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
    return [...counts].map(([status, n]) => `${status}x${n}`).join(" ") || "none";
  }

  #waitFor(isDone: () => boolean, options: WaitOptions, describe: () => string): Promise<void> {
    if (isDone()) return Promise.resolve();
    if (this.#closing.signal.aborted) return Promise.reject(new Error("OTLP sink is closed"));
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const timer = setTimeout(() => {
      this.#waiters.delete(waiter);
      reject(new Error(describe()));
    }, options.timeoutMs ?? DEFAULT_WAIT_MS);
    const waiter: Waiter = {
      isDone,
      resolve: () => {
        clearTimeout(timer);
        resolve();
      },
      reject: (error) => {
        clearTimeout(timer);
        reject(error);
      },
    };
    this.#waiters.add(waiter);
    return promise;
  }

  #notify(): void {
    for (const waiter of this.#waiters) {
      if (!waiter.isDone()) continue;
      this.#waiters.delete(waiter);
      waiter.resolve();
    }
  }

  async #handle(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path === "/v1/metrics" && request.method === "POST") return await this.#handleMetrics(request);
    if (path !== "/v1/logs") return await drained(request, new Response("not found", { status: 404 }));
    if (request.method !== "POST") {
      return await drained(request, new Response("method not allowed", { status: 405 }));
    }
    const index = this.#requestCount++;
    const mode = this.#mode;
    const answer = typeof mode === "function" ? mode(index) : mode;
    let body: Uint8Array<ArrayBuffer>;
    try {
      body = new Uint8Array(await request.arrayBuffer());
    } catch (thrown) {
      // The client went away mid-body: nothing to answer, but the request still counts.
      const error = `Cannot read request body: ${thrown instanceof Error ? thrown.message : String(thrown)}`;
      const entry: SinkRequest = {
        index,
        status: 400,
        recordCount: 0,
        bytes: 0,
        encoding: null,
        isGzip: false,
        error,
      };
      return this.#answered(entry, new Response(error, { status: 400 }));
    }
    const encoding = request.headers.get("content-encoding");
    const isGzip = encoding === "gzip";
    const entry: SinkRequest = { index, status: 0, recordCount: 0, bytes: body.length, encoding, isGzip };
    const decoded = await this.#decode(request, body, encoding);
    if (typeof decoded === "string") {
      entry.status = decoded.startsWith("Unsupported content") ? 415 : 400;
      entry.error = decoded;
      return this.#answered(entry, new Response(decoded, { status: entry.status }));
    }
    entry.recordCount = decoded.length;
    if ("hang" in answer) {
      // Counted on arrival (status 0) so a test can wait for the hung request before acting. Held until
      // the sink closes, even when the client has gone: request.signal also fires after normal answers
      // in this Deno (legacy abort), so it cannot tell a gone client apart.
      this.#answered(entry, undefined);
      await this.#hang();
      return new Response("sink closed", { status: 503 });
    }
    entry.status = answer.status;
    if (answer.status >= 200 && answer.status < 300) {
      this.logsRequestBodies.push(await decodeContentEncoding(encoding, body));
      for (const record of decoded) this.records.push({ ...record, requestIndex: index });
      const payload = encodeLogsResponse(answer.rejected ?? 0, answer.message ?? "");
      const headers = { "content-type": "application/x-protobuf", ...answer.headers };
      return this.#answered(entry, new Response(payload, { status: answer.status, headers }));
    }
    const headers = new Headers(answer.headers);
    if (answer.retryAfterSeconds !== undefined) headers.set("retry-after", String(answer.retryAfterSeconds));
    return this.#answered(entry, new Response(answer.body ?? "", { status: answer.status, headers }));
  }

  async #handleMetrics(request: Request): Promise<Response> {
    try {
      const body = new Uint8Array(await request.arrayBuffer());
      const encoding = request.headers.get("content-encoding");
      this.metricsRequests.push(decodeMetricsRequest(await decodeContentEncoding(encoding, body)));
    } catch (thrown) {
      return new Response(
        `Cannot decode OTLP metrics: ${thrown instanceof Error ? thrown.message : thrown}`,
        {
          status: 400,
        },
      );
    }
    this.#notify();
    return new Response(new Uint8Array(), {
      status: 200,
      headers: { "content-type": "application/x-protobuf" },
    });
  }

  /** The request's records flattened, or why the request is refused. */
  async #decode(
    request: Request,
    body: Uint8Array<ArrayBuffer>,
    encoding: string | null,
  ): Promise<Omit<SinkRecord, "requestIndex">[] | string> {
    const contentType = request.headers.get("content-type") ?? "";
    if (contentType.split(";")[0].trim() !== "application/x-protobuf") {
      return `Unsupported content type: ${contentType}`;
    }
    if (encoding !== null && encoding !== "gzip" && encoding !== "zstd") {
      return `Unsupported content encoding: ${encoding}`;
    }
    try {
      const plain = await decodeContentEncoding(encoding, body);
      const flat: Omit<SinkRecord, "requestIndex">[] = [];
      for (const resourceLogs of decodeLogsRequest(plain)) {
        for (const scope of resourceLogs.scopes) {
          for (const record of scope.records) flat.push({ resource: resourceLogs.resource, record });
        }
      }
      return flat;
    } catch (thrown) {
      return `Cannot decode OTLP request: ${thrown instanceof Error ? thrown.message : String(thrown)}`;
    }
  }

  #hang(): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    const signal = this.#closing.signal;
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
    return promise;
  }

  #answered<T extends Response | undefined>(entry: SinkRequest, response: T): T {
    this.requests.push(entry);
    this.#notify();
    return response;
  }
}

async function drained(request: Request, response: Response): Promise<Response> {
  await request.body?.cancel();
  return response;
}

/**
 * Starts a fake OTLP/HTTP logs sink on 127.0.0.1. POST `/v1/logs` with `content-type:
 * application/x-protobuf` (optionally `content-encoding: gzip` or `zstd`) is decoded and answered per the mode;
 * other paths get 404, other methods 405, other content types 415, undecodable bodies 400.
 */
export function startOtlpSink(options: OtlpSinkOptions = {}): Promise<OtlpSink> {
  return Promise.resolve(new Sink(options));
}
