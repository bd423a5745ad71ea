/**
 * A fake Kubernetes API server for tests: a real HTTP(S) server on loopback that speaks pod list and
 * chunked JSON-lines watch, checks a bearer token, and can be told to misbehave (410 Gone, dropped or
 * silent connections, being down).
 *
 * @module
 */

import { type TestCerts, testCerts } from "./certs/test_certs.ts";

export { type TestCerts, testCerts };

const encoder = new TextEncoder();

/** A pod as the fake server stores and sends it (wire JSON). */
export type FakePod = Record<string, unknown> & {
  metadata: Record<string, unknown> & { uid: string; name: string; namespace: string };
  spec: Record<string, unknown> & { nodeName?: string };
};

/** What {@linkcode makePod} builds a pod from. */
export interface MakePodOptions {
  name: string;
  /** @default "default" */
  namespace?: string;
  /** @default a random UUID */
  uid?: string;
  /** @default "node-a" */
  nodeName?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: Array<{ kind: string; name: string; controller?: boolean }>;
  /** @default [{ name: "main", image: "registry.example/app:1.0" }] */
  containers?: Array<Record<string, unknown>>;
  initContainers?: Array<Record<string, unknown>>;
  ephemeralContainers?: Array<Record<string, unknown>>;
}

/** A pod object in wire format, with the fields the agent reads plus typical noise. */
export function makePod(options: MakePodOptions): FakePod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      uid: options.uid ?? crypto.randomUUID(),
      name: options.name,
      namespace: options.namespace ?? "default",
      labels: options.labels ?? {},
      annotations: options.annotations ?? {},
      ownerReferences: (options.ownerReferences ?? []).map((o) => ({
        apiVersion: "apps/v1",
        kind: o.kind,
        name: o.name,
        uid: crypto.randomUUID(),
        controller: o.controller ?? true,
      })),
      managedFields: [{ manager: "kubelet", operation: "Update", fieldsV1: { "f:status": {} } }],
    },
    spec: {
      nodeName: options.nodeName ?? "node-a",
      containers: options.containers ?? [{ name: "main", image: "registry.example/app:1.0" }],
      ...(options.initContainers ? { initContainers: options.initContainers } : {}),
      ...(options.ephemeralContainers ? { ephemeralContainers: options.ephemeralContainers } : {}),
    },
    status: { phase: "Running" },
  };
}

/** Options for {@linkcode FakeApiServer.start}. */
export interface FakeApiServerOptions {
  /** Serve HTTPS with the {@linkcode testCerts} server certificate. @default false */
  tls?: boolean;
  /** The bearer token required; null accepts any request. @default null */
  token?: string | null;
  /** Reserve the port but do not listen until {@linkcode FakeApiServer.up}. @default false */
  startDown?: boolean;
  /** Write each watch event in pieces, so objects straddle chunks. @default false */
  splitEvents?: boolean;
}

interface Watcher {
  controller: ReadableStreamDefaultController<Uint8Array>;
  resource: Resource;
  /** Whether an object passes the watch's field selector. */
  matches: (object: Record<string, unknown>) => boolean;
  bookmarks: boolean;
  isSilent: boolean;
  timer: ReturnType<typeof setTimeout> | null;
}

type Resource = "pods" | "events";

interface HistoryEvent {
  rv: number;
  type: "ADDED" | "MODIFIED" | "DELETED";
  resource: Resource;
  object: Record<string, unknown>;
}

/** A core/v1 Event as the fake server stores and sends it (wire JSON). */
export type FakeEvent = Record<string, unknown> & {
  metadata: Record<string, unknown> & { uid: string; name: string; namespace: string };
  reason: string;
  involvedObject: Record<string, unknown>;
};

/** What {@linkcode makeEvent} builds an Event from. */
export interface MakeEventOptions {
  reason: string;
  message?: string;
  /** The pod the Event is about (kind Pod); or give `node` for a Node Event. */
  pod?: FakePod;
  node?: string;
  /** RFC 3339. @default now */
  lastTimestamp?: string;
  /** @default "Warning" */
  type?: "Normal" | "Warning";
  /** `source.host`. @default none */
  host?: string;
}

/** A core/v1 Event in wire format. */
export function makeEvent(options: MakeEventOptions): FakeEvent {
  const involvedObject = options.pod !== undefined
    ? {
      kind: "Pod",
      apiVersion: "v1",
      namespace: options.pod.metadata.namespace,
      name: options.pod.metadata.name,
      uid: options.pod.metadata.uid,
    }
    : { kind: "Node", apiVersion: "v1", name: options.node ?? "node-a", uid: options.node ?? "node-a" };
  const namespace = options.pod?.metadata.namespace ?? "default";
  const time = options.lastTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, "Z");
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: { uid: crypto.randomUUID(), name: `${involvedObject.name}.${Date.now()}`, namespace },
    involvedObject,
    reason: options.reason,
    message: options.message ?? "",
    type: options.type ?? "Warning",
    source: options.host === undefined
      ? { component: "kubelet" }
      : { component: "kubelet", host: options.host },
    firstTimestamp: time,
    lastTimestamp: time,
    count: 1,
  };
}

/** One request the fake server answered. */
export interface FakeRequest {
  kind: "list" | "watch" | "other";
  /** `pods` or `events` for a list or watch. */
  resource: Resource | null;
  status: number;
  query: Record<string, string>;
  token: string | null;
}

/** A scriptable fake API server on 127.0.0.1. */
export class FakeApiServer implements AsyncDisposable {
  /** Base URL, e.g. `https://127.0.0.1:43210`. */
  readonly url: string;
  /** The CA that signed the server certificate (TLS only). */
  readonly caPem: string | null;
  /** Every request answered, in order. */
  readonly requests: FakeRequest[] = [];

  #port: number;
  #tls: { cert: string; key: string } | null;
  #token: string | null;
  #splitEvents: boolean;
  #server: Deno.HttpServer | null = null;
  #pods = new Map<string, FakePod>();
  #events = new Map<string, FakeEvent>();
  #history: HistoryEvent[] = [];
  #rv = 100;
  #compactedRv = 0;
  #watchers = new Set<Watcher>();
  #hangNextWatches = 0;
  #goneStatusNextWatches = 0;

  private constructor(port: number, tls: TestCerts | null, options: FakeApiServerOptions) {
    this.#port = port;
    this.#tls = tls === null ? null : { cert: tls.serverCertPem, key: tls.serverKeyPem };
    this.caPem = tls?.caPem ?? null;
    this.#token = options.token ?? null;
    this.#splitEvents = options.splitEvents ?? false;
    this.url = `${tls === null ? "http" : "https"}://127.0.0.1:${port}`;
  }

  /** Starts a server on a free loopback port (or only reserves the port with `startDown`). */
  static async start(options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
    const certs = options.tls ? await testCerts() : null;
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = listener.addr.port;
    listener.close();
    const server = new FakeApiServer(port, certs, options);
    if (!options.startDown) server.up();
    return server;
  }

  /** Whether the server is listening. */
  get isUp(): boolean {
    return this.#server !== null;
  }

  /** The current resourceVersion. */
  get resourceVersion(): string {
    return String(this.#rv);
  }

  /** Number of watch streams currently open. */
  get openWatches(): number {
    return this.#watchers.size;
  }

  /** Starts listening on the reserved port. */
  up(): void {
    if (this.#server !== null) return;
    const base = { hostname: "127.0.0.1", port: this.#port, onListen: () => {} };
    const handler = (request: Request): Response => this.#handle(request);
    this.#server = this.#tls === null
      ? Deno.serve(base, handler)
      : Deno.serve({ ...base, ...this.#tls }, handler);
  }

  /** Stops listening (closing every open watch); the port stays reserved for {@linkcode up}. */
  async down(): Promise<void> {
    const server = this.#server;
    if (server === null) return;
    this.#server = null;
    for (const watcher of [...this.#watchers]) this.#close(watcher);
    await server.shutdown();
  }

  /** From now on only `token` is accepted. */
  setToken(token: string | null): void {
    this.#token = token;
  }

  /** Adds a pod (an ADDED event); returns it. */
  addPod(pod: FakePod): FakePod {
    this.#pods.set(pod.metadata.uid, pod);
    this.#record("ADDED", "pods", pod);
    return pod;
  }

  /** Replaces a pod (a MODIFIED event). */
  updatePod(pod: FakePod): void {
    this.#pods.set(pod.metadata.uid, pod);
    this.#record("MODIFIED", "pods", pod);
  }

  /** Adds a core/v1 Event (an ADDED watch event on `/api/v1/events`); returns it. */
  addEvent(event: FakeEvent): FakeEvent {
    this.#events.set(event.metadata.uid, event);
    this.#record("ADDED", "events", event);
    return event;
  }

  /**
   * Deletes a pod by UID; `silently` removes it without any event (as if the event was compacted away);
   * `lastState` is the object the DELETED event carries (a state no MODIFIED event showed).
   */
  deletePod(uid: string, options: { silently?: boolean; lastState?: FakePod } = {}): void {
    const pod = this.#pods.get(uid);
    if (pod === undefined) throw new Error(`Unknown pod: ${uid}`);
    this.#pods.delete(uid);
    if (options.silently) {
      this.#rv++;
      return;
    }
    this.#record("DELETED", "pods", options.lastState ?? pod);
  }

  /** Sends a BOOKMARK at the current resourceVersion to watches that asked for bookmarks. */
  bookmark(): void {
    const line = {
      type: "BOOKMARK",
      object: { kind: "Pod", apiVersion: "v1", metadata: { resourceVersion: this.resourceVersion } },
    };
    for (const watcher of this.#watchers) {
      if (watcher.bookmarks && !watcher.isSilent) this.#send(watcher, line);
    }
  }

  /**
   * Compacts the history to now and ends every open watch with an ERROR 410 event, like an API server
   * whose watch cache moved past the client's resourceVersion.
   */
  goneMidWatch(): void {
    this.#compactedRv = this.#rv;
    this.#history = [];
    const status = {
      kind: "Status",
      apiVersion: "v1",
      status: "Failure",
      reason: "Expired",
      code: 410,
      message: "too old resource version",
    };
    for (const watcher of [...this.#watchers]) {
      this.#send(watcher, { type: "ERROR", object: status });
      this.#close(watcher);
    }
  }

  /** The next `count` watch requests get an HTTP 410 status instead of a stream. */
  answerGoneToNextWatches(count = 1): void {
    this.#goneStatusNextWatches = count;
  }

  /** Breaks every open watch connection mid-stream (no terminating chunk). */
  dropWatches(): void {
    for (const watcher of [...this.#watchers]) {
      this.#watchers.delete(watcher);
      if (watcher.timer !== null) clearTimeout(watcher.timer);
      try {
        watcher.controller.error(new Error("fake apiserver dropped the connection"));
      } catch {
        // Already closed by the client: nothing to drop.
      }
    }
  }

  /** Every open watch stays connected but receives nothing more (a hung connection). */
  silenceWatches(): void {
    for (const watcher of this.#watchers) watcher.isSilent = true;
  }

  /** The next `count` watch requests are answered with headers and then silence. */
  hangNextWatches(count = 1): void {
    this.#hangNextWatches = count;
  }

  /** Counts answered requests of `kind`, optionally only those with `status`. */
  count(kind: FakeRequest["kind"], status?: number): number {
    return this.requests.filter((r) => r.kind === kind && (status === undefined || r.status === status))
      .length;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.down();
  }

  #record(type: HistoryEvent["type"], resource: Resource, object: FakePod | FakeEvent): void {
    this.#rv++;
    const stamped = structuredClone(object) as Record<string, unknown> & {
      metadata: Record<string, unknown>;
    };
    stamped.metadata.resourceVersion = String(this.#rv);
    const event: HistoryEvent = { rv: this.#rv, type, resource, object: stamped };
    this.#history.push(event);
    for (const watcher of this.#watchers) this.#deliver(watcher, event);
  }

  #deliver(watcher: Watcher, event: HistoryEvent): void {
    if (watcher.isSilent || watcher.resource !== event.resource || !watcher.matches(event.object)) return;
    this.#send(watcher, { type: event.type, object: event.object });
  }

  #send(watcher: Watcher, event: unknown): void {
    const bytes = encoder.encode(JSON.stringify(event) + "\n");
    try {
      if (!this.#splitEvents || bytes.length < 3) {
        watcher.controller.enqueue(bytes);
        return;
      }
      const third = Math.floor(bytes.length / 3);
      watcher.controller.enqueue(bytes.subarray(0, third));
      watcher.controller.enqueue(bytes.subarray(third, 2 * third));
      watcher.controller.enqueue(bytes.subarray(2 * third));
    } catch {
      // The client went away; the stream's cancel() removes the watcher.
    }
  }

  #close(watcher: Watcher): void {
    this.#watchers.delete(watcher);
    if (watcher.timer !== null) clearTimeout(watcher.timer);
    try {
      watcher.controller.close();
    } catch {
      // Already closed or errored.
    }
  }

  #handle(request: Request): Response {
    const url = new URL(request.url);
    const query = Object.fromEntries(url.searchParams);
    const auth = request.headers.get("authorization");
    const token = auth?.startsWith("Bearer ") ? auth.slice(7) : null;
    const resource: Resource | null = url.pathname === "/api/v1/pods"
      ? "pods"
      : url.pathname === "/api/v1/events"
      ? "events"
      : null;
    const kind = resource === null
      ? "other"
      : query.watch === "1" || query.watch === "true"
      ? "watch"
      : "list";
    const answer = (status: number, response: Response): Response => {
      this.requests.push({ kind, resource, status, query, token });
      return response;
    };
    if (this.#token !== null && token !== this.#token) {
      return answer(401, Response.json(statusObject(401, "Unauthorized"), { status: 401 }));
    }
    if (kind === "other" || resource === null) {
      return answer(404, Response.json(statusObject(404, "NotFound"), { status: 404 }));
    }
    const matches = selectorMatcher(resource, query.fieldSelector);
    if (kind === "list") return answer(200, Response.json(this.#list(resource, matches)));
    if (this.#goneStatusNextWatches > 0) {
      this.#goneStatusNextWatches--;
      return answer(410, Response.json(statusObject(410, "Expired"), { status: 410 }));
    }
    return answer(200, this.#watch(query, resource, matches));
  }

  #list(resource: Resource, matches: Watcher["matches"]): unknown {
    const all: Array<FakePod | FakeEvent> = resource === "pods"
      ? [...this.#pods.values()]
      : [...this.#events.values()];
    const items = all
      .filter((o) => matches(o))
      .map((o) => ({ ...o, metadata: { ...o.metadata, resourceVersion: this.resourceVersion } }));
    const kind = resource === "pods" ? "PodList" : "EventList";
    return { kind, apiVersion: "v1", metadata: { resourceVersion: this.resourceVersion }, items };
  }

  #watch(query: Record<string, string>, resource: Resource, matches: Watcher["matches"]): Response {
    const fromRv = Number(query.resourceVersion ?? "0");
    const isHung = this.#hangNextWatches > 0;
    if (isHung) this.#hangNextWatches--;
    let watcher: Watcher;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        watcher = {
          controller,
          resource,
          matches,
          bookmarks: query.allowWatchBookmarks === "true",
          isSilent: isHung,
          timer: null,
        };
        this.#watchers.add(watcher);
        const timeoutSeconds = Number(query.timeoutSeconds ?? "0");
        if (timeoutSeconds > 0) watcher.timer = setTimeout(() => this.#close(watcher), timeoutSeconds * 1000);
        if (isHung) return;
        if (fromRv !== 0 && fromRv < this.#compactedRv) {
          const status = statusObject(410, "Expired");
          this.#send(watcher, { type: "ERROR", object: status });
          this.#close(watcher);
          return;
        }
        for (const event of this.#history) {
          if (event.rv > fromRv) this.#deliver(watcher, event);
        }
      },
      cancel: () => {
        this.#watchers.delete(watcher);
        if (watcher.timer !== null) clearTimeout(watcher.timer);
      },
    });
    return new Response(body, { headers: { "content-type": "application/json" } });
  }
}

function statusObject(code: number, reason: string): unknown {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", reason, code, message: reason };
}

/**
 * The objects a `fieldSelector` selects: `spec.nodeName=` for pods; for Events any comma-separated
 * `field=value` terms over `reason`, `type` and `involvedObject.*` (all must hold), as the real server.
 */
function selectorMatcher(resource: Resource, selector: string | undefined): Watcher["matches"] {
  if (selector === undefined || selector === "") return () => true;
  const terms = selector.split(",").map((term) => {
    const at = term.indexOf("=");
    return { path: term.slice(0, at).split("."), value: term.slice(at + 1) };
  });
  // Pods: only spec.nodeName is honoured (the only selector the agent sends for pods).
  const used = resource === "pods" ? terms.filter((t) => t.path.join(".") === "spec.nodeName") : terms;
  return (object) =>
    used.every((t) => {
      let node: unknown = object;
      for (const part of t.path) node = (node as Record<string, unknown> | undefined)?.[part];
      return node === t.value;
    });
}

/** Polls `condition` every few milliseconds until it holds; throws naming `what` after `timeoutMs`. */
export async function waitUntil(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting: ${what} (after ${timeoutMs} ms)`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
