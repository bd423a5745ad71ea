/**
 * The telemetry listener: `/metrics` (Prometheus text), `/healthz` (the process serves requests) and
 * `/readyz` (every component healthy; the body lists components and degraded-state Kinds).
 *
 * @module
 */

import type { Component, ComponentHealth, RegistryHealth } from "../lifecycle/mod.ts";
import type { KindTracker } from "./kinds.ts";
import type { MetricsRegistry } from "./metrics.ts";

/** Options for {@linkcode TelemetryServer}. */
export interface TelemetryServerOptions {
  /** `host:port` or `[v6]:port`; port 0 picks a free port. */
  listen: string;
  registry: MetricsRegistry;
  kinds: KindTracker;
  /** Health of the other components (read per request). */
  health: () => RegistryHealth;
  /** Called once listening, with the bound address. */
  onListen?: (address: { hostname: string; port: number }) => void;
}

/** Splits `host:port` / `[v6]:port` into its parts. */
export function parseListenAddress(listen: string): { hostname: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(listen) ?? /^([^:]*):(\d+)$/.exec(listen);
  if (m === null) throw new Error(`Invalid listen address: ${listen}`);
  return { hostname: m[1] === "" ? "0.0.0.0" : m[1], port: Number(m[2]) };
}

/** Serves the telemetry endpoints. */
export class TelemetryServer implements Component {
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
    }, (req) => this.#handle(req));
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    if (server !== null) await server.shutdown();
  }

  health(): ComponentHealth {
    return { isHealthy: this.#server !== null, detail: `listening on ${this.#address}` };
  }

  #handle(req: Request): Response {
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
    return new Response("not found\n", { status: 404 });
  }
}
