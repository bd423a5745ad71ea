/**
 * Posts the training-signal metrics as OTLP/HTTP protobuf to `<endpoint>/v1/metrics` on an interval
 * (`exporter.metrics: true`). The serializer module is imported when the component starts, so an agent
 * without metrics export never loads it. Values are cumulative, so a failed post loses nothing: the
 * next one carries the totals; there is no retry queue.
 *
 * @module
 */

import type { Config } from "../config/mod.ts";
import { compressLevel1 } from "../export/mod.ts";
import type { ComponentHealth } from "../lifecycle/mod.ts";
import type { Component } from "../lifecycle/mod.ts";
import type { Attributes, InstrumentationScope } from "../record.ts";
import type { AgentMetrics } from "../telemetry/agent_metrics.ts";
import type { Logger } from "../telemetry/log.ts";
import { buildMetricsRequest, type MetricsSnapshot, type ResourceMetricsInput } from "./metrics_request.ts";

/** Options for {@linkcode OtlpMetricsExporter}. */
export interface OtlpMetricsExporterOptions {
  /** OTLP/HTTP base URL; metrics go to `<endpoint>/v1/metrics`. */
  endpoint: string;
  headers: Readonly<Record<string, string>>;
  compression: Config["exporter"]["compression"];
  timeoutMs: number;
  /** Time between two posts. */
  intervalMs: number;
  /** Reads the signals at `nowMs`. */
  snapshot: (nowMs: number) => MetricsSnapshot;
  resourceAttributes: Attributes;
  scope: InstrumentationScope;
  metrics: Pick<AgentMetrics, "metricsExportRequests">;
  logger: Logger;
  /** Wall clock, ms since the epoch. @default Date.now */
  now?: () => number;
}

type Outcome = "ok" | "http_error" | "network_error";

/** The longest the last export at stop may take. */
const FINAL_EXPORT_TIMEOUT_MS = 2_000;

/** The component that exports the signal metrics. */
export class OtlpMetricsExporter implements Component {
  readonly name = "metrics_exporter";
  #o: OtlpMetricsExporterOptions;
  #url: string;
  #headers: Record<string, string>;
  #now: () => number;
  #startMs: number;
  #serialize: ((request: ResourceMetricsInput) => Uint8Array | undefined) | null = null;
  #timer: ReturnType<typeof setInterval> | null = null;
  #inFlight: Promise<Outcome> | null = null;
  #last: Outcome | null = null;
  #stopping: Promise<void> | null = null;

  constructor(options: OtlpMetricsExporterOptions) {
    this.#o = options;
    this.#url = `${options.endpoint.replace(/\/+$/, "")}/v1/metrics`;
    this.#headers = {
      ...options.headers,
      "content-type": "application/x-protobuf",
      ...(options.compression === "none" ? {} : { "content-encoding": options.compression }),
    };
    this.#now = options.now ?? Date.now;
    this.#startMs = this.#now();
  }

  async start(_signal: AbortSignal): Promise<void> {
    const { ProtobufMetricsSerializer } = await import("@opentelemetry/otlp-transformer");
    this.#serialize = (request) => ProtobufMetricsSerializer.serializeRequest(request);
    this.#timer = setInterval(() => {
      if (this.#inFlight === null) void this.exportNow();
    }, this.#o.intervalMs);
  }

  /** Posts the current values once (also the last act of `stop`), within `timeoutMs`. Never throws. */
  exportNow(timeoutMs = this.#o.timeoutMs): Promise<Outcome> {
    const run = this.#post(timeoutMs).finally(() => {
      if (this.#inFlight === run) this.#inFlight = null;
    });
    this.#inFlight = run;
    return run;
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      if (this.#timer !== null) clearInterval(this.#timer);
      this.#timer = null;
      await this.#inFlight;
      // Bounded so a down endpoint cannot hold shutdown for a whole exporter.timeout.
      if (this.#serialize !== null) {
        await this.exportNow(Math.min(this.#o.timeoutMs, FINAL_EXPORT_TIMEOUT_MS));
      }
    })();
    return this.#stopping;
  }

  health(): ComponentHealth {
    const last = this.#last;
    return { isHealthy: true, detail: last === null ? "no export yet" : `last export: ${last}` };
  }

  async #post(timeoutMs: number): Promise<Outcome> {
    const outcome = await this.#send(timeoutMs);
    this.#last = outcome;
    this.#o.metrics.metricsExportRequests.inc(1, outcome);
    if (outcome !== "ok") {
      this.#o.logger.limited("warn", `metrics_export_${outcome}`, "OTLP metrics export failed", {
        outcome,
        url: this.#url,
      });
    }
    return outcome;
  }

  async #send(timeoutMs: number): Promise<Outcome> {
    if (this.#serialize === null) return "network_error";
    const nowMs = this.#now();
    const request = buildMetricsRequest(this.#o.snapshot(nowMs), {
      resource: { attributes: this.#o.resourceAttributes },
      scope: this.#o.scope,
      startMs: this.#startMs,
      nowMs,
    });
    const plain = this.#serialize(request);
    if (plain === undefined) return "network_error";
    const compression = this.#o.compression;
    const body = compression === "none" ? plain : compressLevel1(compression, plain);
    try {
      const response = await fetch(this.#url, {
        method: "POST",
        headers: this.#headers,
        body: body as Uint8Array<ArrayBuffer>,
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.body?.cancel();
      return response.ok ? "ok" : "http_error";
    } catch {
      // Counted in metrics_export_requests_total{outcome="network_error"} and logged (rate limited).
      return "network_error";
    }
  }
}
