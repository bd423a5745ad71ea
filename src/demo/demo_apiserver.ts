/**
 * The demo's loopback Kubernetes API server: pod list and JSON-lines pod watch over plain HTTP with a
 * bearer token, holding the demo's pods. `updatePod` sends a MODIFIED event (how the demo evicts a
 * rank). Deliberately small: the test suite's fake (tests/_fakes/apiserver.ts) adds TLS and failure
 * injection, which the demo must not depend on.
 *
 * @module
 */

const encoder = new TextEncoder();

/** A pod in wire JSON. */
export type DemoPod = {
  metadata: { uid: string; name: string; namespace: string; [key: string]: unknown };
  spec: Record<string, unknown>;
  status: Record<string, unknown>;
  [key: string]: unknown;
};

interface Watcher {
  controller: ReadableStreamDefaultController<Uint8Array>;
  timer: ReturnType<typeof setInterval>;
  deadline: ReturnType<typeof setTimeout>;
}

/** The running server; close it with `await using`. */
export class DemoApiServer implements AsyncDisposable {
  #pods = new Map<string, DemoPod>();
  #resourceVersion = 1;
  #watchers = new Set<Watcher>();
  #token: string;
  #server: Deno.HttpServer<Deno.NetAddr>;

  constructor(token: string) {
    this.#token = token;
    this.#server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (r) => this.#handle(r));
  }

  /** Base URL for `k8s.api_server`. */
  get url(): string {
    return `http://127.0.0.1:${this.#server.addr.port}`;
  }

  /** Adds a pod (ADDED) or replaces it (MODIFIED), stamping a new resourceVersion. */
  updatePod(pod: DemoPod): void {
    const type = this.#pods.has(pod.metadata.uid) ? "MODIFIED" : "ADDED";
    pod.metadata.resourceVersion = String(++this.#resourceVersion);
    this.#pods.set(pod.metadata.uid, pod);
    this.#broadcast({ type, object: pod });
  }

  #broadcast(event: unknown): void {
    const line = encoder.encode(JSON.stringify(event) + "\n");
    for (const w of this.#watchers) w.controller.enqueue(line);
  }

  #handle(request: Request): Response {
    const url = new URL(request.url);
    if (request.headers.get("authorization") !== `Bearer ${this.#token}`) {
      return new Response('{"kind":"Status","code":401}', { status: 401 });
    }
    if (url.pathname !== "/api/v1/pods") return new Response('{"kind":"Status","code":404}', { status: 404 });
    if (url.searchParams.get("watch") !== "1") {
      const list = {
        kind: "PodList",
        apiVersion: "v1",
        metadata: { resourceVersion: String(this.#resourceVersion) },
        items: [...this.#pods.values()],
      };
      return Response.json(list);
    }
    return this.#watch(Number(url.searchParams.get("timeoutSeconds") ?? 300));
  }

  #watch(timeoutSeconds: number): Response {
    let watcher: Watcher | null = null;
    const end = (): void => {
      if (watcher === null) return;
      clearInterval(watcher.timer);
      clearTimeout(watcher.deadline);
      this.#watchers.delete(watcher);
      try {
        watcher.controller.close();
      } catch {
        // Already closed by the client going away.
      }
      watcher = null;
    };
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        const bookmark = (): void => {
          const object = { kind: "Pod", metadata: { resourceVersion: String(this.#resourceVersion) } };
          controller.enqueue(encoder.encode(JSON.stringify({ type: "BOOKMARK", object }) + "\n"));
        };
        // A bookmark now and then keeps the informer's idle timeout quiet; the watch ends when asked.
        watcher = {
          controller,
          timer: setInterval(bookmark, 5_000),
          deadline: setTimeout(end, timeoutSeconds * 1000),
        };
        this.#watchers.add(watcher);
      },
      cancel: end,
    });
    return new Response(stream, { headers: { "content-type": "application/json" } });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const w of [...this.#watchers]) {
      clearInterval(w.timer);
      clearTimeout(w.deadline);
      this.#watchers.delete(w);
      try {
        w.controller.close();
      } catch {
        // Already closed.
      }
    }
    await this.#server.shutdown();
  }
}
