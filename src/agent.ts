/**
 * Builds the agent's components from a validated config and owns their life: the only place that
 * wires stages together (main.ts parses flags and signals; this file connects the parts).
 *
 * @module
 */

import process from "node:process";
import denoJson from "../deno.json" with { type: "json" };
import { AckTracker } from "./ack/mod.ts";
import type { Config } from "./config/mod.ts";
import { CursorStore } from "./cursor/mod.ts";
import { Discovery } from "./discovery/mod.ts";
import { buildEnrichment } from "./enrich/mod.ts";
import { Batcher } from "./export/batcher.ts";
import { OtlpExporter } from "./export/mod.ts";
import { type Component, Registry } from "./lifecycle/mod.ts";
import type { InstrumentationScope } from "./record.ts";
import { Tailer } from "./tailer/mod.ts";
import type { TailedFile } from "./tailer/mod.ts";
import { type AgentMetrics, createAgentMetrics } from "./telemetry/agent_metrics.ts";
import { TelemetryServer } from "./telemetry/http.ts";
import { KindTracker } from "./telemetry/kinds.ts";
import type { Logger } from "./telemetry/log.ts";
import { MetricsRegistry } from "./telemetry/metrics.ts";

/** The agent's version, from deno.json. */
export const VERSION: string = denoJson.version;

/** Options for {@linkcode startAgent}. */
export interface AgentOptions {
  config: Config;
  logger: Logger;
  /** Reads an environment variable (only what Kubernetes injects). */
  env: (name: string) => string | undefined;
  /** An open cursor KV to use instead of opening `cursor.path` (the caller keeps ownership). */
  kv?: Deno.Kv;
  /** Called with the telemetry listener's bound address. */
  onTelemetryListen?: (address: { hostname: string; port: number }) => void;
}

/** A running agent. */
export interface RunningAgent {
  readonly registry: Registry;
  readonly metrics: AgentMetrics;
  /** Flushes, drains exports up to `shutdown_timeout`, commits cursors, closes everything. Idempotent. */
  stop(): Promise<void>;
}

/** Error raised when a resource the agent needs cannot be opened at startup. */
export class StartupError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StartupError";
  }
}

async function openCursorKv(path: string): Promise<Deno.Kv> {
  const dir = path.slice(0, Math.max(1, path.lastIndexOf("/")));
  try {
    await Deno.mkdir(dir, { recursive: true });
    return await Deno.openKv(path);
  } catch (err) {
    throw new StartupError(`Cannot open cursor store: path ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/**
 * Builds and starts every component in dependency order: telemetry, pod metadata, then the pipeline
 * (tailer -> batcher -> exporter, cursors).
 *
 * @throws {StartupError} when the cursor store or the telemetry listener cannot be opened
 */
export async function startAgent(options: AgentOptions): Promise<RunningAgent> {
  const { config, logger } = options;
  const registryMetrics = new MetricsRegistry();
  const metrics = createAgentMetrics(registryMetrics);
  metrics.buildInfo.set(1, VERSION);
  let cpuSeenUs = { user: 0, system: 0 };
  registryMetrics.onCollect(() => {
    const cpu = process.cpuUsage();
    metrics.processCpuSeconds.inc(Math.max(0, cpu.user - cpuSeenUs.user) / 1e6, "user");
    metrics.processCpuSeconds.inc(Math.max(0, cpu.system - cpuSeenUs.system) / 1e6, "system");
    cpuSeenUs = cpu;
    const usage = Deno.memoryUsage();
    metrics.processResidentBytes.set(usage.rss);
    metrics.processHeapBytes.set(usage.heapUsed, "used");
    metrics.processHeapBytes.set(usage.heapTotal, "total");
    metrics.processHeapBytes.set(usage.external, "external");
  });
  const kinds = new KindTracker({
    registry: registryMetrics,
    onChange: (s) =>
      logger.log(
        s.isRaised ? "warn" : "info",
        s.isRaised ? "Degraded state raised" : "Degraded state cleared",
        {
          kind: s.kind,
          reason: s.reason,
        },
      ),
  });
  const registry = new Registry({ logger });
  const ownsKv = options.kv === undefined;
  const kv = options.kv ?? await openCursorKv(config.cursor.path);
  const closeKv = (): void => {
    if (ownsKv) kv.close();
  };
  const scope: InstrumentationScope = { name: "containerstdout", version: VERSION };

  if (config.telemetry.listen !== "") {
    registry.add(
      new TelemetryServer({
        listen: config.telemetry.listen,
        registry: registryMetrics,
        kinds,
        health: () => registry.health(),
        status: { files: () => tailer?.snapshot() ?? [] },
        isStatusRemoteAllowed: config.telemetry.isStatusRemoteAllowed,
        onListen: options.onTelemetryListen,
      }),
    );
  }
  let enrichment;
  try {
    enrichment = await buildEnrichment({ config, metrics, kinds, logger, env: options.env });
  } catch (err) {
    closeKv();
    throw new StartupError((err as Error).message, { cause: err });
  }
  const { enricher, informer } = enrichment;
  if (informer !== null) registry.add(informer);
  const ack = new AckTracker<TailedFile>();
  const exporter = new OtlpExporter({
    endpoint: config.exporter.endpoint,
    headers: config.exporter.headers,
    compression: config.exporter.compression,
    timeoutMs: config.exporter.timeoutMs,
    retryInitialIntervalMs: config.exporter.retryInitialIntervalMs,
    retryMaxIntervalMs: config.exporter.retryMaxIntervalMs,
    retryMaxElapsedMs: config.exporter.retryMaxElapsedMs,
    metrics,
    logger,
  });
  let tailer: Tailer | null = null;
  const batcher = new Batcher<TailedFile>({
    maxRecords: config.batch.maxRecords,
    maxBytes: config.batch.maxBytes,
    maxDelayMs: config.batch.maxDelayMs,
    maxConcurrentRequests: config.exporter.maxConcurrentRequests,
    exporter,
    ack,
    metrics,
    onSettled: () => tailer?.wake(),
  });
  tailer = new Tailer({
    discovery: new Discovery({
      include: config.include,
      exclude: config.exclude,
      namespacesInclude: config.namespaces.include,
      namespacesExclude: config.namespaces.exclude,
      metrics,
      logger,
    }),
    cursorStore: new CursorStore({ kv }),
    batcher,
    ack,
    enricher,
    metrics,
    kinds,
    logger,
    scope,
    startAt: config.startAt,
    maxLogSizeBytes: config.maxLogSizeBytes,
    includeFilePath: config.includeFilePath,
    partialFlushTimeoutMs: config.partialFlushTimeoutMs,
    memoryLimitBytes: config.memoryLimitBytes,
    rescanIntervalMs: config.tail.rescanIntervalMs,
    watchRescanIntervalMs: config.tail.watchRescanIntervalMs,
    maxOpenFiles: config.tail.maxOpenFiles,
    maxTrackedFiles: config.tail.maxTrackedFiles,
    rotateWaitMs: config.tail.rotateWaitMs,
    drainDeadlineMs: config.tail.drainDeadlineMs,
    readBufferBytes: config.tail.readBufferBytes,
    fingerprintBytes: config.tail.fingerprintBytes,
    cursorFlushIntervalMs: config.cursor.flushIntervalMs,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
  });
  registry.add(tailer as Component);
  registryMetrics.onCollect(() => {
    let behind = 0;
    for (const file of tailer?.snapshot() ?? []) behind += file.bytesBehind;
    metrics.readLagBytes.set(behind);
  });
  try {
    await registry.start();
  } catch (err) {
    closeKv();
    throw new StartupError((err as Error).message, { cause: err });
  }
  let stopping: Promise<void> | null = null;
  return {
    registry,
    metrics,
    stop: () => {
      stopping ??= registry.stop().finally(closeKv);
      return stopping;
    },
  };
}
