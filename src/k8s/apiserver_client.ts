/**
 * Pod list and watch against the Kubernetes API server over Deno's `fetch`. Every request carries an
 * idle deadline: a connection that sends nothing for `idleTimeoutMs` (no bytes while listing, no event
 * or bookmark while watching) is aborted, because a dropped or hung TCP connection may otherwise never
 * end (that is what goes wrong with `@kubernetes/client-node`'s Watch under Deno; see
 * docs/kubernetes.md).
 *
 * @module
 */

import { toError } from "../telemetry/log.ts";
import { type JsonLineResult, JsonLinesDecoder } from "./json_lines.ts";
import { TokenReadError, type TokenSource } from "./token_source.ts";

/** Why a request to the API server failed. */
export type ApiServerErrorReason =
  | "unauthorized"
  | "gone"
  | "http_status"
  | "network"
  | "idle_timeout"
  | "malformed_response"
  | "watch_error"
  | "token_unreadable";

/** A failed list or watch, with a closed `reason` (also the `reason` label of the restart counter). */
export class ApiServerError extends Error {
  override name = "ApiServerError";
  readonly reason: ApiServerErrorReason;
  /** The HTTP status (or the watch ERROR event's code), when there was one. */
  readonly status: number | null;

  constructor(
    reason: ApiServerErrorReason,
    message: string,
    options: { status?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.reason = reason;
    this.status = options.status ?? null;
  }
}

/** A pod list response. */
export interface PodList {
  readonly resourceVersion: string;
  /** Wire pods; validated by the caller ({@linkcode toPodInfo}). */
  readonly items: readonly unknown[];
}

/** One watch event; ERROR events are turned into {@linkcode ApiServerError}s instead. */
export interface WatchEvent {
  readonly type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK";
  readonly object: unknown;
  /** `object.metadata.resourceVersion`, when present. */
  readonly resourceVersion: string | null;
}

/** Options for {@linkcode ApiServerClient}. */
export interface ApiServerClientOptions {
  /** Base URL of the API server, e.g. `https://10.96.0.1:443` or `https://kubernetes.default.svc`. */
  baseUrl: string;
  /** Bearer token source; null sends no Authorization header. @default null */
  token?: TokenSource | null;
  /** TLS settings (CA bundle, client certificate); closed by {@linkcode ApiServerClient.close}. @default null */
  httpClient?: Deno.HttpClient | null;
  /** Abort a request that receives nothing for this long. */
  idleTimeoutMs: number;
  /** Largest list response accepted. @default 268435456 */
  maxListBytes?: number;
}

/** Options for {@linkcode ApiServerClient.listPods}. */
export interface ListPodsOptions {
  /** e.g. `spec.nodeName=node-a`. @default "" */
  fieldSelector?: string;
  /** `0` serves the list from the API server's watch cache; empty asks for the latest state. @default "0" */
  resourceVersion?: string;
  signal: AbortSignal;
}

/** Options for {@linkcode ApiServerClient.watchPods}. */
export interface WatchPodsOptions {
  /** @default "" */
  fieldSelector?: string;
  /** Watch changes after this resourceVersion. */
  resourceVersion: string;
  /** Ask the server to end the watch after this long (it then ends normally). */
  timeoutSeconds: number;
  signal: AbortSignal;
  /** Called once the server accepted the watch (2xx headers received). */
  onConnected?: () => void;
}

/** Lists and watches pods; one instance per API server. */
export class ApiServerClient implements Disposable {
  #baseUrl: string;
  #token: TokenSource | null;
  #httpClient: Deno.HttpClient | null;
  #idleTimeoutMs: number;
  #maxListBytes: number;

  constructor(options: ApiServerClientOptions) {
    this.#baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.#token = options.token ?? null;
    this.#httpClient = options.httpClient ?? null;
    this.#idleTimeoutMs = options.idleTimeoutMs;
    this.#maxListBytes = options.maxListBytes ?? 256 * 1024 * 1024;
  }

  /**
   * Lists pods. @throws {ApiServerError} on any failure; rethrows the signal's reason when aborted
   */
  listPods(options: ListPodsOptions): Promise<PodList> {
    return this.#list("/api/v1/pods", options);
  }

  /**
   * Watches pods from `resourceVersion`. The generator ends when the server ends the watch.
   * @throws {ApiServerError} `gone` when the resourceVersion is too old (relist), others on failure
   */
  watchPods(options: WatchPodsOptions): AsyncGenerator<WatchEvent, void, undefined> {
    return this.#watch("/api/v1/pods", options);
  }

  /**
   * Lists core/v1 Events (all namespaces). @throws {ApiServerError} on any failure
   */
  listEvents(options: ListPodsOptions): Promise<PodList> {
    return this.#list("/api/v1/events", options);
  }

  /**
   * Watches core/v1 Events from `resourceVersion`, like {@linkcode watchPods}.
   * @throws {ApiServerError} `gone` when the resourceVersion is too old (relist), others on failure
   */
  watchEvents(options: WatchPodsOptions): AsyncGenerator<WatchEvent, void, undefined> {
    return this.#watch("/api/v1/events", options);
  }

  async #list(path: string, options: ListPodsOptions): Promise<PodList> {
    const query = new URLSearchParams();
    const rv = options.resourceVersion ?? "0";
    if (rv !== "") query.set("resourceVersion", rv);
    if (options.fieldSelector) query.set("fieldSelector", options.fieldSelector);
    const idle = new IdleDeadline(options.signal, this.#idleTimeoutMs);
    try {
      const response = await this.#open(`${path}?${query}`, idle);
      const bytes = await this.#readAll(response, idle);
      return parseList(bytes);
    } finally {
      idle.dispose();
    }
  }

  async *#watch(path: string, options: WatchPodsOptions): AsyncGenerator<WatchEvent, void, undefined> {
    const query = new URLSearchParams({
      watch: "1",
      resourceVersion: options.resourceVersion,
      allowWatchBookmarks: "true",
      timeoutSeconds: String(options.timeoutSeconds),
    });
    if (options.fieldSelector) query.set("fieldSelector", options.fieldSelector);
    const idle = new IdleDeadline(options.signal, this.#idleTimeoutMs);
    try {
      const response = await this.#open(`${path}?${query}`, idle);
      options.onConnected?.();
      yield* this.#events(response, idle);
    } finally {
      idle.dispose();
    }
  }

  /** Releases the HTTP client (TLS settings and pooled connections). */
  close(): void {
    this.#httpClient?.close();
    this.#httpClient = null;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  async *#events(response: Response, idle: IdleDeadline): AsyncGenerator<WatchEvent, void, undefined> {
    const reader = response.body!.getReader();
    const decoder = new JsonLinesDecoder();
    let isFinished = false;
    try {
      while (true) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (thrown) {
          isFinished = true;
          throw idle.convert(thrown, "Watch stream broke");
        }
        const lines = chunk.done ? decoder.end() : decoder.push(chunk.value);
        for (const line of lines) {
          const event = toWatchEvent(line);
          idle.touch();
          if (event !== null) yield event;
        }
        if (chunk.done) {
          isFinished = true;
          return;
        }
      }
    } finally {
      // The consumer stopped early or an event was bad: release the connection.
      if (!isFinished) await reader.cancel();
    }
  }

  async #open(pathAndQuery: string, idle: IdleDeadline): Promise<Response> {
    const headers: Record<string, string> = { accept: "application/json", "user-agent": "containerstdout" };
    if (this.#token !== null) headers.authorization = `Bearer ${await this.#bearer()}`;
    let response: Response;
    try {
      const init: RequestInit & { client?: Deno.HttpClient } = { headers, signal: idle.signal };
      if (this.#httpClient !== null) init.client = this.#httpClient;
      response = await fetch(`${this.#baseUrl}${pathAndQuery}`, init);
    } catch (thrown) {
      throw idle.convert(thrown, `Cannot reach API server ${this.#baseUrl}`);
    }
    idle.touch();
    if (response.ok) return response;
    const detail = await statusMessage(response);
    if (response.status === 401) {
      this.#token?.invalidate();
      throw new ApiServerError("unauthorized", `API server rejected the token: HTTP 401: ${detail}`, {
        status: 401,
      });
    }
    if (response.status === 410) {
      throw new ApiServerError("gone", `Resource version expired: HTTP 410: ${detail}`, { status: 410 });
    }
    throw new ApiServerError("http_status", `API server answered HTTP ${response.status}: ${detail}`, {
      status: response.status,
    });
  }

  async #bearer(): Promise<string> {
    try {
      return await this.#token!.token();
    } catch (thrown) {
      if (thrown instanceof TokenReadError) {
        throw new ApiServerError("token_unreadable", thrown.message, { cause: thrown });
      }
      throw thrown;
    }
  }

  async #readAll(response: Response, idle: IdleDeadline): Promise<Uint8Array> {
    const reader = response.body!.getReader();
    const chunks: Uint8Array[] = [];
    let total = 0;
    while (true) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (thrown) {
        throw idle.convert(thrown, "Pod list response broke");
      }
      if (chunk.done) break;
      idle.touch();
      total += chunk.value.length;
      if (total > this.#maxListBytes) {
        await reader.cancel();
        throw new ApiServerError(
          "malformed_response",
          `Pod list too large: over ${this.#maxListBytes} bytes`,
        );
      }
      chunks.push(chunk.value);
    }
    const bytes = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      bytes.set(c, at);
      at += c.length;
    }
    return bytes;
  }
}

/** The caller's signal plus an idle timer that aborts the request when nothing arrives in time. */
class IdleDeadline {
  readonly signal: AbortSignal;
  #outer: AbortSignal;
  #controller = new AbortController();
  #timeoutMs: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #hasFired = false;

  constructor(outer: AbortSignal, timeoutMs: number) {
    this.#outer = outer;
    this.#timeoutMs = timeoutMs;
    this.signal = AbortSignal.any([outer, this.#controller.signal]);
    this.touch();
  }

  /** Something arrived: the deadline starts again. */
  touch(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#hasFired = true;
      this.#controller.abort(
        new ApiServerError("idle_timeout", `API server sent nothing for ${this.#timeoutMs} ms`),
      );
    }, this.#timeoutMs);
  }

  dispose(): void {
    clearTimeout(this.#timer);
  }

  /** Maps a fetch or read failure to what the caller should see. */
  convert(thrown: unknown, context: string): unknown {
    if (this.#outer.aborted) return this.#outer.reason;
    if (this.#hasFired) return this.#controller.signal.reason;
    if (thrown instanceof ApiServerError) return thrown;
    const message = toError(thrown).message;
    return new ApiServerError("network", `${context}: ${message}`, { cause: thrown });
  }
}

function toWatchEvent(line: JsonLineResult): WatchEvent | null {
  if (!line.ok) throw new ApiServerError("malformed_response", `Bad watch event: ${line.reason}`);
  const event = line.value as { type?: unknown; object?: unknown } | null;
  if (
    typeof event !== "object" || event === null || typeof event.object !== "object" || event.object === null
  ) {
    throw new ApiServerError("malformed_response", "Bad watch event: not an object with an object field");
  }
  const object = event.object as {
    metadata?: { resourceVersion?: unknown };
    code?: unknown;
    message?: unknown;
  };
  if (event.type === "ERROR") {
    const code = typeof object.code === "number" ? object.code : 0;
    const message = typeof object.message === "string" ? object.message : "no message";
    if (code === 410) throw new ApiServerError("gone", `Watch expired: 410: ${message}`, { status: 410 });
    throw new ApiServerError("watch_error", `Watch ERROR event: ${code}: ${message}`, { status: code });
  }
  if (
    event.type !== "ADDED" && event.type !== "MODIFIED" && event.type !== "DELETED" &&
    event.type !== "BOOKMARK"
  ) {
    // Event types added by later API versions are skipped, not fatal.
    return null;
  }
  const rv = object.metadata?.resourceVersion;
  return { type: event.type, object, resourceVersion: typeof rv === "string" ? rv : null };
}

function parseList(bytes: Uint8Array): PodList {
  let value: { metadata?: { resourceVersion?: unknown }; items?: unknown };
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch (thrown) {
    throw new ApiServerError("malformed_response", `Pod list is not JSON: ${String(thrown)}`, {
      cause: thrown,
    });
  }
  const rv = value?.metadata?.resourceVersion;
  if (typeof rv !== "string" || rv === "" || !Array.isArray(value.items)) {
    throw new ApiServerError("malformed_response", "Pod list lacks metadata.resourceVersion or items");
  }
  return { resourceVersion: rv, items: value.items };
}

async function statusMessage(response: Response): Promise<string> {
  let text: string;
  try {
    text = (await response.text()).slice(0, 512);
  } catch {
    // The error body broke off: the status line is all the detail there is.
    return response.statusText;
  }
  try {
    const status = JSON.parse(text) as { message?: unknown };
    if (typeof status?.message === "string") return status.message;
  } catch {
    // Not a Status object: the raw text is the detail.
  }
  return text.trim() === "" ? response.statusText : text.trim();
}
