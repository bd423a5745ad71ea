/**
 * The telemetry listener: `/metrics` (Prometheus text), `/healthz` (the process serves requests),
 * `/readyz` (every component healthy; the body lists components and degraded-state Kinds) and `/status`
 * (what the agent is doing right now: tracked files, limiter state, raised Kinds).
 *
 * `/status` names pods and file paths, so it answers loopback clients only (`kubectl port-forward` reaches
 * the pod's loopback) unless `telemetry.status_allow_remote` is on: the chart listens on every address so
 * Prometheus can scrape `/metrics`, and that address must not hand out the node's file table.
 *
 * This folder imports nothing from `lifecycle/` (lifecycle logs through `telemetry/log.ts`, so the other
 * direction would be a cycle); the health shapes below are structural copies of the lifecycle types.
 *
 * @module
 */

import type { KindState, KindTracker } from "./kinds.ts";
import type { MetricsRegistry } from "./metrics.ts";

/** Health of one component as `/readyz` shows it (structurally the lifecycle `ComponentHealth`). */
export interface TelemetryComponentHealth {
  readonly isHealthy: boolean;
  readonly detail: string;
}

/** Health of every component (structurally the lifecycle `RegistryHealth`). */
export interface TelemetryHealth {
  readonly isHealthy: boolean;
  readonly components: Readonly<Record<string, TelemetryComponentHealth>>;
}

/** The body of `GET /status`. */
export interface StatusBody {
  /** Milliseconds since the epoch when the answer was built. */
  readonly nowMs: number;
  /** Composite degraded state (the OR of every Kind). */
  readonly degraded: boolean;
  /** Raised Kinds with their reasons. */
  readonly kinds: readonly KindState[];
  /**
   * What the pipeline's providers report (tracked files, per-namespace limiter state, ...), each under
   * the name it was given in {@linkcode TelemetryServerOptions.status}.
   */
  readonly [section: string]: unknown;
}

/** Options for {@linkcode TelemetryServer}. */
export interface TelemetryServerOptions {
  /** `host:port` or `[v6]:port`; port 0 picks a free port. */
  listen: string;
  registry: MetricsRegistry;
  kinds: KindTracker;
  /** Health of the other components (read per request). */
  health: () => TelemetryHealth;
  /**
   * Sections of `/status`, each read per request: e.g. `{ files: () => table.snapshot(), limiter: () =>
   * limiter.snapshot() }`. A provider that throws turns into `{ error: message }` for its section.
   * @default {} (the answer holds the Kinds only)
   */
  status?: Readonly<Record<string, () => unknown>>;
  /** Whether `/status` answers clients other than loopback (`telemetry.status_allow_remote`). @default false */
  isStatusRemoteAllowed?: boolean;
  /** Clock for `nowMs`. @default Date.now */
  now?: () => number;
  /** Called once listening, with the bound address. */
  onListen?: (address: { hostname: string; port: number }) => void;
}

/** Splits `host:port` / `[v6]:port` into its parts. */
export function parseListenAddress(listen: string): { hostname: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(listen) ?? /^([^:]*):(\d+)$/.exec(listen);
  if (m === null) throw new Error(`Invalid listen address: ${listen}`);
  return { hostname: m[1] === "" ? "0.0.0.0" : m[1], port: Number(m[2]) };
}

/**
 * Whether a client address is this host's loopback: 127.0.0.0/8, ::1, or an IPv4-mapped 127.x address.
 *
 * @example
 * ```ts
 * isLoopbackAddress("127.0.0.1"); // true
 * isLoopbackAddress("::ffff:127.0.0.1"); // true
 * isLoopbackAddress("10.0.0.7"); // false
 * ```
 */
export function isLoopbackAddress(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (host === "::1" || host === "0:0:0:0:0:0:0:1") return true;
  const v4 = host.startsWith("::ffff:") ? host.slice("::ffff:".length) : host;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/**
 * Decides whether `/status` answers a client: loopback always, any other address only when allowed.
 * A transport without an IP address (a Unix socket) counts as local.
 */
export function isStatusClientAllowed(remote: Deno.Addr, isRemoteAllowed: boolean): boolean {
  if (isRemoteAllowed) return true;
  if (remote.transport !== "tcp" && remote.transport !== "udp") return true;
  return isLoopbackAddress(remote.hostname);
}

/** Serves the telemetry endpoints. */
export class TelemetryServer {
  readonly name = "telemetry";
  #o: TelemetryServerOptions;
  #server: Deno.HttpServer | null = null;
  #address = "";

  constructor(options: TelemetryServerOptions) {
    this.#o = options;
  }

  /** Starts listening; a no-op when already listening (the agent starts it early, see agent.ts). */
  start(_signal: AbortSignal): Promise<void> {
    if (this.#server !== null) return Promise.resolve();
    const { hostname, port } = parseListenAddress(this.#o.listen);
    this.#server = Deno.serve({
      hostname,
      port,
      onListen: (addr) => {
        this.#address = `${addr.hostname}:${addr.port}`;
        this.#o.onListen?.(addr);
      },
    }, (req, info) => this.#handle(req, info.remoteAddr));
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    if (server !== null) await server.shutdown();
  }

  health(): TelemetryComponentHealth {
    return { isHealthy: this.#server !== null, detail: `listening on ${this.#address}` };
  }

  #handle(req: Request, remote: Deno.Addr): Response {
    const path = new URL(req.url).pathname;
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response("method not allowed\n", { status: 405 });
    }
    if (path === "/metrics") {
      return new Response(this.#o.registry.render(), {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
      });
    }
    if (path === "/healthz") return new Response("ok\n");
    if (path === "/readyz") {
      const health = this.#o.health();
      const body = {
        ready: health.isHealthy,
        degraded: this.#o.kinds.isDegraded(),
        components: health.components,
        kinds: this.#o.kinds.states().filter((s) => s.isRaised),
      };
      return Response.json(body, { status: health.isHealthy ? 200 : 503 });
    }
    if (path === "/status") {
      if (!isStatusClientAllowed(remote, this.#o.isStatusRemoteAllowed ?? false)) {
        return new Response(
          "/status answers loopback clients only (kubectl port-forward); set telemetry.status_allow_remote " +
            "to serve it on every address\n",
          { status: 403 },
        );
      }
      return Response.json(this.#status());
    }
    return new Response("not found\n", { status: 404 });
  }

  #status(): StatusBody {
    const sections: Record<string, unknown> = {};
    for (const [name, provider] of Object.entries(this.#o.status ?? {})) {
      try {
        sections[name] = provider();
      } catch (thrown) {
        // One broken provider must not hide the others (or the Kinds) from an operator diagnosing.
        sections[name] = { error: thrown instanceof Error ? thrown.message : String(thrown) };
      }
    }
    return {
      ...sections,
      nowMs: (this.#o.now ?? Date.now)(),
      degraded: this.#o.kinds.isDegraded(),
      kinds: this.#o.kinds.states().filter((s) => s.isRaised),
    };
  }
}
